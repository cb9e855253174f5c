//! 第 6.4 节：只写不读会卡死（labs/life/bulk_client.rs 和 lab-tcp-server 的 --buffer）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::deadlock;

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-bulk-client"))
}

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

#[tokio::test]
async fn naive_client_deadlocks_and_the_watchdog_says_so() {
    deadlock::naive_client_deadlocks(client(), server()).await;
}

#[tokio::test]
async fn naive_client_is_fine_with_little_data() {
    deadlock::naive_client_is_fine_with_little_data(client(), server()).await;
}

#[tokio::test]
async fn server_buffer_option_shrinks_buffers() {
    deadlock::server_buffer_option_shrinks_buffers(server()).await;
}

#[tokio::test]
async fn together_transcript() {
    deadlock::together_transcript(client(), server()).await;
}

#[tokio::test]
async fn together_echoes_1_mib_intact() {
    deadlock::together_echoes_1_mib_intact(client(), server()).await;
}

#[tokio::test]
async fn together_completes_8_mib() {
    deadlock::together_completes_8_mib(client()).await;
}

#[tokio::test]
async fn together_server_sees_every_byte() {
    deadlock::together_server_sees_every_byte(client()).await;
}

#[tokio::test]
async fn together_reports_server_closing_early() {
    deadlock::together_reports_server_closing_early(client()).await;
}

#[tokio::test]
async fn together_reports_a_corrupted_echo() {
    deadlock::together_reports_a_corrupted_echo(client()).await;
}

#[tokio::test]
async fn together_stops_reading_an_echo_that_is_too_long() {
    deadlock::together_stops_reading_an_echo_that_is_too_long(client()).await;
}

#[tokio::test]
async fn together_reports_a_silent_server() {
    deadlock::together_reports_a_silent_server(client()).await;
}

#[tokio::test]
async fn naive_client_reports_a_silent_server() {
    deadlock::naive_client_reports_a_silent_server(client()).await;
}

/// --size 有上下限：太大的数会把内存用光，0 没有意义。clap 用一行说明拒绝，退出码 2。
#[test]
fn size_out_of_range_is_refused() {
    let runs: Vec<String> = [&["--size", "100000000000"][..], &["--size", "0"]]
        .iter()
        .map(|args| support::run_to_exit(client(), "lab-bulk-client", args, ""))
        .collect();
    for run in &runs {
        assert!(run.ends_with("[退出码 2]"), "{run}");
        assert!(run.contains("1..=1073741824"), "应当说出允许的范围：{run}");
    }
    support::assert_transcript("deadlock_bad_size", &support::join_transcripts(&runs));
}

// ---------------------------------------------------------------- ss -tmn：卡住时两头的缓冲区

/// ss 列出的一个套接字：队列长度（字节）和它那一行、skmem 那一行。
#[cfg(target_os = "linux")]
struct SsRow {
    recv_q: u64,
    send_q: u64,
    local_port: u16,
    line: String,
    skmem: String,
}

/// 运行 `ss -tmn`，只看端口 `server` 和 `client` 之间的那个连接（两头各一个套接字）。
/// 返回命令行、表头和各个套接字（服务端那一头在前）。
#[cfg(target_os = "linux")]
fn ss_memory(server: u16, client: u16) -> (String, String, Vec<SsRow>) {
    let filter = format!(
        "( sport = :{server} and dport = :{client} ) or ( sport = :{client} and dport = :{server} )"
    );
    let output = std::process::Command::new("ss")
        .args(["-tmn", &filter])
        .output()
        .expect("运行 ss");
    assert!(output.status.success(), "ss 失败：{output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut rows = Vec::new();
    let lines: Vec<&str> = lines.collect();
    for pair in lines.chunks(2) {
        let fields: Vec<&str> = pair[0].split_whitespace().collect();
        let skmem = pair.get(1).map_or("", |line| line.trim());
        assert!(
            fields.len() >= 5 && skmem.starts_with("skmem:("),
            "ss 的输出不是预期的样子：\n{text}"
        );
        let number = |s: &str| -> u64 {
            s.parse()
                .unwrap_or_else(|_| panic!("ss 的输出里 {s} 不是数字：\n{text}"))
        };
        let local_port = fields[3]
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("ss 的输出里没有本地端口：\n{text}"));
        rows.push(SsRow {
            recv_q: number(fields[1]),
            send_q: number(fields[2]),
            local_port,
            line: fields.join(" "),
            skmem: skmem.to_string(),
        });
    }
    rows.sort_by_key(|row| row.local_port != server);
    (format!("$ ss -tmn '{filter}'"), header, rows)
}

/// 只留下每次都一样的部分：队列长度换成 `[接收队列]`、`[发送队列]`，skmem 里只留 rb、tb
/// （两端都用 `--buffer 4096` 时它们是定值），其余的数换成 `[…]`。
#[cfg(target_os = "linux")]
fn deterministic(row: &SsRow) -> String {
    let mut fields: Vec<&str> = row.line.split(' ').collect();
    fields[1] = "[接收队列]";
    fields[2] = "[发送队列]";
    let inner = row
        .skmem
        .trim_start_matches("skmem:(")
        .trim_end_matches(')');
    let kept: Vec<String> = inner
        .split(',')
        .map(|field| {
            let name: String = field.chars().take_while(char::is_ascii_lowercase).collect();
            if name == "rb" || name == "tb" {
                field.to_string()
            } else {
                format!("{name}[…]")
            }
        })
        .collect();
    format!("{}\n\tskmem:({})", fields.join(" "), kept.join(","))
}

/// 先写完再读的客户端卡住时，用 ss 看两头的套接字：四个队列加上服务端手里那 128 字节，
/// 正好是客户端写出去的字节数。快照里只留每次都一样的部分（书里的记录）。
#[cfg(target_os = "linux")]
#[tokio::test]
async fn ss_shows_the_four_full_buffers_of_a_deadlock() {
    use std::time::{Duration, Instant};
    use support::{Program, assert_transcript_with_filters, find_address, start_server};

    if !support::ss_available("看卡住时的缓冲区") {
        return;
    }
    let (mut server, addr) = start_server(server(), "lab-tcp-server", &["--buffer", "4096"]).await;
    let addr_text = addr.to_string();
    // 看门狗等 5 秒：足够在卡住以后用 ss 看几次
    let mut client = Program::start(
        client(),
        "lab-bulk-client",
        &[
            "--addr",
            &addr_text,
            "--buffer",
            "4096",
            "--stall-timeout",
            "5",
        ],
    );
    let accepted = server
        .wait_for_line(|line| line.starts_with("新连接："))
        .await;
    let client_port = find_address(&accepted)
        .unwrap_or_else(|| panic!("新连接那一行里没有客户端的地址：{accepted}"))
        .port();
    // 卡住以后，队列长度就不再变了：连续 10 次（半秒）看到一样的数，才算卡住
    let deadline = Instant::now() + Duration::from_secs(4);
    let (mut last, mut same) = (Vec::new(), 0);
    let (command, header, rows) = loop {
        let (command, header, rows) = ss_memory(addr.port(), client_port);
        let queues: Vec<(u64, u64)> = rows.iter().map(|row| (row.recv_q, row.send_q)).collect();
        if rows.len() == 2 && queues == last {
            same += 1;
            if same >= 10 {
                break (command, header, rows);
            }
        } else {
            same = 0;
            last = queues;
        }
        assert!(
            Instant::now() < deadline,
            "4 秒内队列长度还在变（或者连接不见了）：客户端应当早就卡住了。\n{header}\n{}",
            rows.iter()
                .map(|row| format!("{}\n\t{}", row.line, row.skmem))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = client.wait_exit_for(Duration::from_secs(30)).await;
    let transcript = client.transcript();
    assert_eq!(status.code(), Some(1), "客户端应当卡死：\n{transcript}");
    let written: u64 = transcript
        .lines()
        .find_map(|line| line.split_once("写出了 ")?.1.split_once('/'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("诊断里应当有写出了多少字节：\n{transcript}"));
    let queued: u64 = rows.iter().map(|row| row.recv_q + row.send_q).sum();
    assert_eq!(
        queued + 128,
        written,
        "客户端写出的字节应当正好是两头四个队列里的，加上服务端读进来还没写出去的 128 字节：\n{}",
        rows.iter()
            .map(|row| row.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let record = std::iter::once(command)
        .chain(std::iter::once(header))
        .chain(rows.iter().map(deterministic))
        .collect::<Vec<_>>()
        .join("\n");
    let server_port = format!(r":{}\b", addr.port());
    let client_port = format!(r":{client_port}\b");
    assert_transcript_with_filters(
        "deadlock_ss",
        &record,
        &[
            (server_port.as_str(), ":[服务端]"),
            (client_port.as_str(), ":[客户端]"),
        ],
    );
}
