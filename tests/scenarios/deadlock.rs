//! 第 6.4 节：只写不读会卡死（labs/life/bulk_client.rs，加上 lab-tcp-server 的 --buffer）。
//!
//! 卡死要每次都发生，靠的是把两端的缓冲区都改小（`--buffer 4096`，Linux 读回来是 8192）：
//! 这时两端四个缓冲区加起来不过几十 KiB，1 MiB 远远超过它们，先写完再读的客户端一定卡死；
//! 一边写一边读的客户端不受缓冲区大小限制，一定能传完。

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::time::timeout;

use crate::support::{Program, WAIT, assert_transcript_with_filters, same_bytes, start_server};

const CLIENT: &str = "lab-bulk-client";
const SERVER: &str = "lab-tcp-server";

/// 演示用的缓冲区大小（两端一样）。
const SMALL: &str = "4096";
/// Linux 把设置的缓冲区大小翻倍（多出的一半留给内核记账），读回来是这个数。
const SMALL_ON_LINUX: &str = "8192";

/// 客户端要发送的数据：和 lab-bulk-client 的 payload 一样，每个位置上的字符由位置决定。
pub fn payload(size: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..size)
        .map(|i| ALPHABET[(i * 7 + i / 251) % ALPHABET.len()])
        .collect()
}

fn intact(size: usize) -> String {
    format!("发出 {size} 字节，收回 {size} 字节，和发出的一字不差")
}

/// 启动缓冲区改小了的回声服务端（实验本身），返回它和它的地址。
async fn small_buffer_server(server: &Path) -> (Program, std::net::SocketAddr) {
    let (mut server, addr) = start_server(server, SERVER, &["--buffer", SMALL]).await;
    server
        .wait_for_line(|line| line.starts_with("缓冲区："))
        .await;
    (server, addr)
}

/// 快照是在 Linux 上录的：读回的缓冲区大小是设置值的两倍。macOS 和 Windows 读回的就是设置的值：
/// 先核对这一点，再换成 Linux 上的样子，其余部分照样逐行比对（和第 1 章 lab-socket 的做法一样）。
fn as_linux_would_print(transcript: &str) -> String {
    if cfg!(target_os = "linux") {
        return transcript.to_string();
    }
    let set = format!("SO_SNDBUF = {SMALL} 字节，接收缓冲区 SO_RCVBUF = {SMALL} 字节");
    assert!(
        transcript.contains(&set),
        "读回的缓冲区大小应当就是设置的 {SMALL}：\n{transcript}"
    );
    // 第一行和看门狗的诊断里都有这两个数
    transcript.replace(
        &format!("= {SMALL} 字节"),
        &format!("= {SMALL_ON_LINUX} 字节"),
    )
}

/// 客户端要先传完（或者等看门狗）再退出，等它的时限比 [`WAIT`] 长；各个测试按要传的数据量给出。
/// 机器忙的时候传得慢，这些时限宽一些，只为了不让测试无限地等下去。
const NAIVE_LIMIT: Duration = Duration::from_secs(30);
const ONE_MIB_LIMIT: Duration = Duration::from_secs(30);
const EIGHT_MIB_LIMIT: Duration = Duration::from_secs(60);

/// 最后一行输出（退出码之前的那一行）。
fn last_output_line(transcript: &str) -> &str {
    let mut lines = transcript.lines().rev();
    lines.next(); // [退出码 …]
    lines.next().unwrap_or("")
}

// ---------------------------------------------------------------- 天真的做法（不是练习）

/// 两端缓冲区都很小，先写完再读：一定卡死。看门狗在 --stall-timeout 秒后说明情况，退出码 1。
/// 卡住时写出了多少字节取决于时机，快照里遮住；读回的一定是 0（还没开始读）。
pub async fn naive_client_deadlocks(client: &Path, server: &Path) {
    let (_server, addr) = small_buffer_server(server).await;
    let addr = addr.to_string();
    let started = Instant::now();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr, "--buffer", SMALL]);
    let status = client.wait_exit_for(NAIVE_LIMIT).await;
    let elapsed = started.elapsed();
    let transcript = client.transcript();
    assert_eq!(
        status.code(),
        Some(1),
        "卡死时退出码应当是 1：\n{transcript}"
    );
    // 默认 3 秒没有进展才算卡死：不能早，那是误报。上限由 NAIVE_LIMIT 把关：机器很忙时，
    // 连接和写满缓冲区本身就可能用掉好几秒，这里不再卡一个紧的上限
    assert!(
        elapsed >= Duration::from_secs(3),
        "看门狗应当在 3 秒没有进展之后才报告，实际用了 {elapsed:?}：\n{transcript}"
    );
    let written = transcript
        .lines()
        .find_map(|line| line.split_once("写出了 ")?.1.split_once('/'))
        .and_then(|(n, _)| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("诊断里应当有写出了多少字节：\n{transcript}"));
    assert!(
        written > 0 && written < 1024 * 1024,
        "卡住时应当已经写出一部分、又没写完，实际写出了 {written} 字节：\n{transcript}"
    );
    let transcript = as_linux_would_print(&transcript);
    assert_transcript_with_filters(
        "deadlock_naive",
        &transcript,
        &[(r"写出了 [0-9]+/", "写出了 [字节数]/")],
    );
}

/// 数据少到两端的缓冲区装得下时，先写完再读也没事：卡死要看数据量和缓冲区谁大。
pub async fn naive_client_is_fine_with_little_data(client: &Path, server: &Path) {
    let (_server, addr) = small_buffer_server(server).await;
    let addr = addr.to_string();
    let mut client = Program::start(
        client,
        CLIENT,
        &["--addr", &addr, "--buffer", SMALL, "--size", "2000"],
    );
    let status = client.wait_exit().await;
    let transcript = client.transcript();
    assert!(status.success(), "2000 字节不会卡死：\n{transcript}");
    assert_eq!(last_output_line(&transcript), intact(2000), "{transcript}");
}

/// lab-tcp-server 的 --buffer：监听之前改小缓冲区，第二行读回它们；接受的连接沿用同样的大小
/// （Linux 上用 ss 看服务端那一头的套接字）。
pub async fn server_buffer_option_shrinks_buffers(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &["--buffer", SMALL]).await;
    let expected = if cfg!(target_os = "linux") {
        SMALL_ON_LINUX
    } else {
        SMALL
    };
    server
        .expect_line(&format!(
            "缓冲区：SO_SNDBUF = {expected} 字节，SO_RCVBUF = {expected} 字节（接受的连接沿用这两个大小）"
        ))
        .await;
    let conn = crate::support::connect(addr).await;
    let me = conn.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    if cfg!(target_os = "linux") {
        let (rb, tb) = accepted_buffers_on_linux(addr.port(), me.port());
        assert_eq!(
            (rb, tb),
            (8192, 8192),
            "服务端接受的连接应当沿用监听套接字的缓冲区大小（ss 里的 rb、tb）"
        );
    }
}

/// 用 ss 读出服务端那一头（本地端口 `server_port`、对方端口 `client_port`）的接收、发送缓冲区大小。
fn accepted_buffers_on_linux(server_port: u16, client_port: u16) -> (u64, u64) {
    let filter = format!("( sport = :{server_port} and dport = :{client_port} )");
    let output = std::process::Command::new("ss")
        .args(["-tmnH", "state", "established", &filter])
        .output()
        .expect("运行 ss（iproute2）：Linux 上读另一个进程的套接字选项要用它");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> u64 {
        let start = text
            .find(&format!(",{name}"))
            .or_else(|| text.find(&format!("({name}")))
            .unwrap_or_else(|| panic!("ss 的输出里没有 {name}：{text}"))
            + 1
            + name.len();
        text[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("ss 的输出里 {name} 不是数字：{text}"))
    };
    (field("rb"), field("tb"))
}

// ---------------------------------------------------------------- 一边写一边读（练习 6.2）

/// 两端缓冲区都很小，一边写一边读：1 MiB 一字不差地传完。书里的记录。
pub async fn together_transcript(client: &Path, server: &Path) {
    let (_server, addr) = small_buffer_server(server).await;
    let addr = addr.to_string();
    let mut client = Program::start(
        client,
        CLIENT,
        &["--addr", &addr, "--buffer", SMALL, "--together"],
    );
    client.wait_exit_for(ONE_MIB_LIMIT).await;
    let transcript = as_linux_would_print(&client.transcript());
    assert_transcript_with_filters("deadlock_together", &transcript, &[]);
}

/// 默认的缓冲区，1 MiB：收回来的和发出去的一字不差（客户端自己逐字节核对）。
pub async fn together_echoes_1_mib_intact(client: &Path, server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr, "--together"]);
    let status = client.wait_exit_for(ONE_MIB_LIMIT).await;
    let transcript = client.transcript();
    assert_eq!(
        last_output_line(&transcript),
        intact(1024 * 1024),
        "1 MiB 应当一字不差地收回来：\n{transcript}"
    );
    assert!(status.success(), "{transcript}");
}

/// 测试里的回声服务端怎样回声。
#[derive(Clone, Copy)]
enum Echo {
    /// 收到什么就回什么。
    Faithful,
    /// 照样回声，只是把整个连接里第 n 个字节（从 0 数）翻转一位：模拟一个出了错的服务端。
    FlipByteAt(usize),
    /// 照样回声，对方关闭写的方向以后，再把收到的全部字节回一遍：回声比发出的多一倍。
    Twice,
}

/// 测试里的回声服务端：监听之前把缓冲区改小，每个连接收到什么就回什么，直到对方关闭写的方向，
/// 然后关闭连接。返回它的地址，以及每个连接结束时收到的全部字节。
async fn recording_echo_server(
    buffer: Option<u32>,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    echo_server(buffer, Echo::Faithful).await
}

/// 同上，回声的方式由 `echo` 决定。
async fn echo_server(
    buffer: Option<u32>,
    echo: Echo,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let socket = TcpSocket::new_v4().expect("新建套接字");
    if let Some(size) = buffer {
        socket.set_send_buffer_size(size).expect("设置 SO_SNDBUF");
        socket.set_recv_buffer_size(size).expect("设置 SO_RCVBUF");
    }
    socket
        .bind("127.0.0.1:0".parse().expect("地址"))
        .expect("绑定 127.0.0.1:0");
    let listener: TcpListener = socket.listen(16).expect("监听");
    let addr = listener.local_addr().expect("本地地址");
    let (done, records) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let done = done.clone();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match timeout(WAIT, stream.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                        Ok(Ok(n)) => {
                            let offset = received.len();
                            received.extend_from_slice(&buf[..n]);
                            let mut reply = buf[..n].to_vec();
                            match echo {
                                Echo::Faithful => {}
                                Echo::FlipByteAt(at) => {
                                    if (offset..offset + n).contains(&at) {
                                        reply[at - offset] ^= 0x01;
                                    }
                                }
                                Echo::Twice => {}
                            }
                            if stream.write_all(&reply).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                if let Echo::Twice = echo {
                    let _ = timeout(WAIT, stream.write_all(&received)).await;
                }
                let _ = done.send(received);
            });
        }
    });
    (addr, records)
}

/// 比所有缓冲区加起来大得多的数据（8 MiB，两端的缓冲区各 8 KiB）照样传完，看门狗一次也没叫。
pub async fn together_completes_8_mib(client: &Path) {
    let (addr, _records) = recording_echo_server(Some(4096)).await;
    let addr = addr.to_string();
    let size = (8 * 1024 * 1024).to_string();
    let mut client = Program::start(
        client,
        CLIENT,
        &[
            "--addr",
            &addr,
            "--buffer",
            SMALL,
            "--together",
            "--size",
            &size,
        ],
    );
    let status = client.wait_exit_for(EIGHT_MIB_LIMIT).await;
    let transcript = client.transcript();
    assert!(
        !transcript.contains("死锁"),
        "一边写一边读不应当卡死：\n{transcript}"
    );
    assert_eq!(
        last_output_line(&transcript),
        intact(8 * 1024 * 1024),
        "8 MiB 应当全部收回来：\n{transcript}"
    );
    assert!(status.success(), "{transcript}");
}

/// 服务端收到的正是客户端要发的全部字节，而且客户端发完后关闭了写的方向（服务端读到了结尾）：
/// 客户端没有半路停下，也没有等到进程退出才算发完。
pub async fn together_server_sees_every_byte(client: &Path) {
    let (addr, mut records) = recording_echo_server(None).await;
    let addr = addr.to_string();
    let size = 1024 * 1024;
    let mut client = Program::start(client, CLIENT, &["--addr", &addr, "--together"]);
    // 服务端读到结尾（客户端半关闭）就交出记录。这时客户端还在等最后的回声，不会先退出
    let received = timeout(ONE_MIB_LIMIT, records.recv())
        .await
        .unwrap_or_else(|_| {
            panic!("等了 {ONE_MIB_LIMIT:?}，服务端还没有读到结尾：客户端应当发完后关闭写的方向")
        })
        .expect("服务端的记录");
    same_bytes(
        &received,
        &payload(size),
        "服务端收到的字节应当正是客户端要发的 1 MiB。",
    );
    let status = client.wait_exit_for(ONE_MIB_LIMIT).await;
    let transcript = client.transcript();
    assert_eq!(last_output_line(&transcript), intact(size), "{transcript}");
    assert!(status.success(), "{transcript}");
}

/// 服务端收了 64 KiB 就关闭连接（接收缓冲区里还有没读的数据，于是发出 RST）：
/// 客户端说明发送或接收失败，退出码 1，而不是一直等下去。
pub async fn together_reports_server_closing_early(client: &Path) {
    let (listener, addr) = crate::support::test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(
        client,
        CLIENT,
        &[
            "--addr",
            &addr,
            "--together",
            "--size",
            "8388608",
            "--stall-timeout",
            "60",
        ],
    );
    let mut stream = crate::support::accept(&listener).await;
    crate::support::read_exactly(&mut stream, 64 * 1024).await;
    client.note("测试扮演的服务端收了 64 KiB 就关闭了连接");
    drop(stream);
    let status = client.wait_exit().await;
    let transcript = client.transcript();
    let last = last_output_line(&transcript);
    assert!(
        last.starts_with("发送失败（已写出 ") || last.starts_with("接收失败（已读回 "),
        "服务端中途关闭了连接，客户端应当说明发送或接收失败，实际最后一行是：{last}\n{transcript}"
    );
    assert_eq!(status.code(), Some(1), "{transcript}");
}

/// 服务端的回声在第 300000 个字节上错了一位：客户端逐字节核对，说出第一个不同的位置，退出码 1。
/// 收回来的不核对（例如把发出的数据当成回声）就抓不到这个错。两端的缓冲区都很小：
/// 这样结果只取决于有没有一边写一边读、有没有核对，不取决于机器忙不忙（默认的缓冲区能不能装下 1 MiB，要看时机）。
pub async fn together_reports_a_corrupted_echo(client: &Path) {
    let size = 1024 * 1024;
    let at = 300_000;
    let (addr, _records) = echo_server(Some(4096), Echo::FlipByteAt(at)).await;
    let addr = addr.to_string();
    let mut client = Program::start(
        client,
        CLIENT,
        &["--addr", &addr, "--buffer", SMALL, "--together"],
    );
    let status = client.wait_exit_for(ONE_MIB_LIMIT).await;
    let transcript = client.transcript();
    assert_eq!(
        last_output_line(&transcript),
        format!("发出 {size} 字节，收回 {size} 字节：从第 {at} 个字节起和发出的不一样"),
        "回声的第 {at} 个字节被改了，客户端应当发现并说出位置：\n{transcript}"
    );
    assert_eq!(status.code(), Some(1), "{transcript}");
}

/// 服务端把全部数据回两遍：客户端收到比发出的多就不再读（内存不会无限增长），说明收回的不对，退出码 1。
pub async fn together_stops_reading_an_echo_that_is_too_long(client: &Path) {
    let size = 1024 * 1024;
    let (addr, _records) = echo_server(None, Echo::Twice).await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr, "--together"]);
    let status = client.wait_exit_for(ONE_MIB_LIMIT).await;
    let transcript = client.transcript();
    let last = last_output_line(&transcript);
    // 多读了多少取决于最后一次 read 拿到多少（最多一块 64 KiB），所以只核对范围
    let received = last
        .strip_prefix(&format!("发出 {size} 字节，收回 "))
        .and_then(|rest| rest.strip_suffix(&format!(" 字节：从第 {size} 个字节起和发出的不一样")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| {
            panic!("回声多了一倍，客户端应当说明收回的不一样，实际最后一行是：{last}\n{transcript}")
        });
    assert!(
        received > size && received <= size + 64 * 1024,
        "多出来以后应当马上停止读取，实际读了 {received} 字节：\n{transcript}"
    );
    assert_eq!(status.code(), Some(1), "{transcript}");
}

/// 服务端接受了连接，却既不读也不写。客户端一边写一边读，看门狗照样会叫，但这不是先写完再读的死锁：
/// 它说服务端没有回应，而不是让人加上 --together。
pub async fn together_reports_a_silent_server(client: &Path) {
    silent_server_case(client, &["--together"]).await;
}

/// 数据少，先写完再读，写是写完了，服务端却一直不回：同样是服务端没有回应，不是死锁。
pub async fn naive_client_reports_a_silent_server(client: &Path) {
    silent_server_case(client, &["--size", "2000"]).await;
}

async fn silent_server_case(client: &Path, extra: &[&str]) {
    let (listener, addr) = crate::support::test_listener().await;
    let addr = addr.to_string();
    let mut args = vec!["--addr", addr.as_str(), "--stall-timeout", "1"];
    args.extend_from_slice(extra);
    let mut client = Program::start(client, CLIENT, &args);
    // 接受连接，拿着它，什么也不做，直到客户端退出
    let _stream = crate::support::accept(&listener).await;
    let status = client.wait_exit_for(NAIVE_LIMIT).await;
    let transcript = client.transcript();
    assert!(
        !transcript.contains("死锁") && !transcript.contains("加上 --together 再运行"),
        "服务端只是不回应，不应当说成死锁：\n{transcript}"
    );
    assert_eq!(
        last_output_line(&transcript),
        "服务端已经 1 秒既没有读走数据，也没有发回回声：它可能卡住了，或者网络断了。\
         确认服务端还在正常运行、连得上，再试一次",
        "{transcript}"
    );
    assert_eq!(status.code(), Some(1), "{transcript}");
}
