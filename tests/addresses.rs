//! 第 5 章：走出本机，在一台机器上能检查的部分（labs/lan/，以及服务端、客户端怎样说出和读懂地址）。
//! 两台“主机”之间的测试在 tests/lan.rs。
//!
//! 全部在本机上进行：服务端监听 0.0.0.0 或 [::] 时只检查它列出的地址，不去连那些地址；
//! 客户端只连回环地址。

mod scenarios;
mod support;

use std::net::IpAddr;
use std::path::Path;

use scenarios::lan;
use support::*;

fn dial() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-dial"))
}

// ---------------------------------------------------------------- lab-dial（练习 5.1 用同样的场景）

#[tokio::test]
async fn dial_transcript() {
    lan::dial_transcript(dial()).await;
}

#[tokio::test]
async fn dial_skips_a_silent_address() {
    lan::dial_skips_a_silent_address(dial()).await;
}

#[tokio::test]
async fn dial_reaches_ipv6_loopback() {
    lan::dial_reaches_ipv6_loopback(dial()).await;
}

#[tokio::test]
async fn dial_reports_when_all_fail() {
    lan::dial_reports_when_all_fail(dial()).await;
}

#[tokio::test]
async fn dial_time_is_bounded() {
    lan::dial_time_is_bounded(dial()).await;
}

// ---------------------------------------------------------------- 服务端：别人用哪些地址连我

/// 启动服务端，监听 `addr`（0.0.0.0:0 或 [::]:0），读出它说的地址列表，一直读到“只能在本机上使用”
/// 那一行（[::] 还有说明双栈与否的一行）。这台机器不能监听 `addr` 时返回 None。
async fn reachable_list(path: &Path, name: &str, addr: &str) -> Option<(u16, Vec<String>)> {
    let mut server = Program::start(path, name, &["--addr", addr]);
    let first = server.next_line().await;
    if first.starts_with("无法") {
        eprintln!("跳过：{name} 不能监听 {addr}：{first}");
        return None;
    }
    let port = first
        .rsplit_once("]:")
        .or_else(|| first.rsplit_once("0.0.0.0:"))
        .map(|(_, rest)| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("第一行应当写出监听的地址和端口：{first}"));
    let mut lines = Vec::new();
    loop {
        let line = server.next_line().await;
        let done = if addr.starts_with('[') {
            line.contains("IPV6_V6ONLY")
        } else {
            line.contains("只能在本机上使用")
        };
        lines.push(line);
        if done {
            break;
        }
    }
    server.kill().await;
    Some((port, lines))
}

/// 本机回环以外的 IPv4 地址。
fn lan_ipv4() -> Vec<IpAddr> {
    socket_workbook::net::interface_addresses()
        .expect("读出网卡列表")
        .into_iter()
        .map(|a| a.ip)
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
        .collect()
}

async fn server_lists_reachable_addresses(path: &Path, name: &str) {
    // 0.0.0.0：每个非回环的 IPv4 地址各一行，再说明 127.0.0.1 只能在本机用
    let (port, lines) = reachable_list(path, name, "0.0.0.0:0")
        .await
        .expect("每台机器都能监听 0.0.0.0");
    let text = lines.join("\n");
    assert!(
        text.contains(&format!("127.0.0.1:{port} 只能在本机上使用")),
        "{name}：\n{text}"
    );
    for ip in lan_ipv4() {
        assert!(
            text.contains(&format!("  {ip}:{port}    网卡 ")),
            "{name} 漏了 {ip}：\n{text}"
        );
    }

    // [::]：双栈时也列出 IPv4 地址；只收 IPv6 时（Windows 的默认）不列，并指出要用 0.0.0.0
    let Some((port, lines)) = reachable_list(path, name, "[::]:0").await else {
        return;
    };
    let text = lines.join("\n");
    let only_v6 = text.contains("只收 IPv6");
    assert!(
        only_v6 || text.contains("双栈"),
        "{name} 应当说明 [::] 是否也收 IPv4：\n{text}"
    );
    if only_v6 {
        assert!(
            text.contains(&format!("--addr 0.0.0.0:{port}")),
            "{name}：\n{text}"
        );
        assert!(
            text.contains(&format!("[::1]:{port} 只能在本机上使用")),
            "{name}：\n{text}"
        );
        for ip in lan_ipv4() {
            assert!(
                !text.contains(&format!("  {ip}:{port}")),
                "{name} 只收 IPv6，却列出了 {ip}：\n{text}"
            );
        }
    } else {
        assert!(
            text.contains(&format!(
                "127.0.0.1:{port} 和 [::1]:{port} 只能在本机上使用"
            )),
            "{name}：\n{text}"
        );
        for ip in lan_ipv4() {
            assert!(
                text.contains(&format!("  {ip}:{port}    网卡 ")),
                "{name} 漏了 {ip}：\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn tcp_server_lists_reachable_addresses() {
    let path = Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"));
    server_lists_reachable_addresses(path, "lab-tcp-server").await;
}

#[tokio::test]
async fn udp_server_lists_reachable_addresses() {
    let path = Path::new(env!("CARGO_BIN_EXE_lab-udp-server"));
    server_lists_reachable_addresses(path, "lab-udp-server").await;
}

#[tokio::test]
async fn sticky_server_lists_reachable_addresses() {
    let path = Path::new(env!("CARGO_BIN_EXE_lab-sticky-server"));
    server_lists_reachable_addresses(path, "lab-sticky-server").await;
}

#[tokio::test]
async fn chat_server_lists_reachable_addresses() {
    let path = Path::new(env!("CARGO_BIN_EXE_lab-chat-server"));
    server_lists_reachable_addresses(path, "lab-chat-server").await;
}

/// 监听 127.0.0.1 时什么也不多说：书和练习里的记录不变。
#[tokio::test]
async fn a_loopback_server_adds_no_lines() {
    let path = Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"));
    let (mut server, addr) = start_server(path, "lab-tcp-server", &[]).await;
    let mut client = connect(addr).await;
    echo_round_trip(&mut client, b"hi").await;
    let line = server.next_line().await;
    assert!(
        line.starts_with("新连接："),
        "第一行之后应当直接是新连接：{line}"
    );
    server.kill().await;
}

// ---------------------------------------------------------------- 客户端：名字和写错的地址

/// 名字（localhost）要解析：客户端说出最后连上的是哪个 IP。
#[tokio::test]
async fn tcp_client_says_which_address_a_name_reached() {
    let server = Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"));
    let client = Path::new(env!("CARGO_BIN_EXE_lab-tcp-client"));
    let (mut server, addr) = start_server(server, "lab-tcp-server", &[]).await;
    let by_name = format!("localhost:{}", addr.port());
    let transcript =
        run_to_exit_in_background(client, "lab-tcp-client", &["--addr", &by_name], "hello\n").await;
    assert!(
        transcript.contains(&format!("已连接到 {addr}\n")) && transcript.ends_with("[退出码 0]"),
        "localhost 解析出的地址里有 {addr}，客户端应当说出连上了它：\n{transcript}"
    );
    server.kill().await;
}

/// 写错的地址：每个 TCP 客户端都用中文说明怎么写，退出码 1，不去连接。
#[tokio::test]
async fn clients_explain_address_syntax_errors() {
    let clients = [
        (
            Path::new(env!("CARGO_BIN_EXE_lab-tcp-client")),
            "lab-tcp-client",
        ),
        (
            Path::new(env!("CARGO_BIN_EXE_lab-chat-client")),
            "lab-chat-client",
        ),
        (
            Path::new(env!("CARGO_BIN_EXE_lab-sticky-client")),
            "lab-sticky-client",
        ),
    ];
    let cases = [
        (
            "::1:20000",
            "IPv6 地址要写在方括号里，端口写在括号外面：请写成 [::1]:20000",
        ),
        ("127.0.0.1", "缺少端口"),
        ("127.0.0.1:70000", "端口 70000 超出范围"),
        (
            "[fe80::1]:20000",
            "链路本地地址 fe80::1 要带上网卡名（%网卡名）",
        ),
        (
            "[fe80::1%no-such-nic]:20000",
            "本机没有叫 no-such-nic 的网卡",
        ),
    ];
    let mut shown_in_the_book = Vec::new();
    for (path, name) in clients {
        for (addr, expected) in cases {
            let transcript = run_to_exit_in_background(path, name, &["--addr", addr], "").await;
            let line = format!("无法连接到 {addr}：{expected}");
            assert!(
                transcript.contains(&line) && transcript.ends_with("[退出码 1]"),
                "{name} --addr {addr} 应当说：{line}……\n实际：\n{transcript}"
            );
            if name == "lab-tcp-client" {
                shown_in_the_book.push(transcript);
            }
        }
    }
    // 第 5.2 节展示 lab-tcp-client 的说明；本机有哪些网卡因机器而异，遮住
    // 这里的端口都是写死的例子（20000、70000），不遮住
    assert_fixed_port_transcript(
        "address_errors",
        &join_transcripts(&shown_in_the_book),
        &[(r"本机的网卡有：[^\n]*", "本机的网卡有：[网卡列表]")],
    );
}

/// 带网卡名的链路本地地址能读懂（不去连它：只检查它没有被当成写错的地址）。
#[test]
fn a_zone_names_the_interface() {
    let nic = socket_workbook::net::interface_addresses()
        .expect("读出网卡列表")
        .into_iter()
        .next()
        .expect("至少有一块网卡");
    let text = format!("[fe80::1%{}]:20000", nic.interface);
    match socket_workbook::net::parse_target(&text) {
        Ok(socket_workbook::net::Target::Ip(std::net::SocketAddr::V6(addr))) => {
            assert_eq!(addr.scope_id(), nic.scope_id, "{text}");
        }
        other => panic!("{text} 应当读成带网卡编号的 IPv6 地址，实际：{other:?}"),
    }
}

// ---------------------------------------------------------------- lab-resolve

/// localhost 解析成了哪些地址：地址和顺序每台机器不同，快照里遮住，单独和本测试自己的解析结果比对。
#[tokio::test]
async fn resolve_transcript() {
    let path = Path::new(env!("CARGO_BIN_EXE_lab-resolve"));
    let args = [
        "--addr",
        "localhost:20000",
        "--addr",
        "127.0.0.1:20000",
        "--addr",
        "::1:20000",
    ];
    let transcript = run_to_exit_in_background(path, "lab-resolve", &args, "").await;

    // 列出的地址和顺序，就是解析器给这个测试的
    let expected: Vec<String> = tokio::net::lookup_host("localhost:20000")
        .await
        .expect("解析 localhost")
        .map(|a| a.to_string())
        .collect();
    let listed: Vec<String> = transcript
        .lines()
        .filter_map(|line| line.trim_start().split_once(". "))
        .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(
        listed, expected,
        "lab-resolve 应当按解析器给的顺序列出地址：\n{transcript}"
    );

    // 快照：遮住每台机器不同的部分（地址列表、hosts 文件里写了什么）
    let mut masked = Vec::new();
    for line in transcript.lines() {
        if line.starts_with("    ") && line.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            if !masked
                .last()
                .is_some_and(|l: &String| l.contains("[地址列表"))
            {
                masked.push("    [地址列表：序号. IP:端口    IPv4 或 IPv6]".to_string());
            }
        } else if line.starts_with("  hosts 文件（") {
            masked.push("  hosts 文件（[hosts 文件的路径]）[里有没有这个名字]".to_string());
        } else if line.starts_with("  解析器按这个顺序给出 ") {
            masked.push("  解析器按这个顺序给出 [几] 个地址：".to_string());
        } else {
            masked.push(line.to_string());
        }
    }
    // 用到的端口都是固定的 20000，不必遮住
    assert_fixed_port_transcript("resolve_transcript", &masked.join("\n"), &[]);
}
