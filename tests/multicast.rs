//! 第 5 章：组播演示 `lab-multicast`。
//!
//! 只用本机的回环网卡：两个接收者共用一个端口加入 239.255.0.1，发送者从回环网卡发一个数据报，
//! 两个接收者各收到一份。IPv6 的组播 Linux 不经过回环网卡（lo 没有 MULTICAST 标志），
//! 所以这里只测 IPv4；IPv6 组播由网络命名空间里的测试检查。

mod support;

use std::net::IpAddr;
use std::path::Path;

use support::{Program, assert_transcript_with_filters, run_to_exit};

const NAME: &str = "lab-multicast";
const GROUP: &str = "239.255.0.1";

fn program() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-multicast"))
}

/// 本机回环网卡的名字：Linux 是 lo，macOS 是 lo0，Windows 是另一个名字。
fn loopback_interface() -> String {
    socket_workbook::net::interface_addresses()
        .expect("读出网卡列表")
        .into_iter()
        .find(|a| a.ip == IpAddr::from([127, 0, 0, 1]))
        .map(|a| a.interface)
        .expect("本机有一块网卡带着 127.0.0.1")
}

/// 从接收者的第一行里读出它绑定的端口：`已在 0.0.0.0:端口 上加入组播组……`。
fn bound_port(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("已在 0.0.0.0:")?;
    rest.split(' ').next()?.parse().ok()
}

/// 只有 Linux 上一定能在回环网卡上收发 IPv4 组播；别的系统不行时说明原因，跳过这个测试。
fn skip_unless_linux(why: &str) {
    if cfg!(target_os = "linux") {
        panic!("{why}");
    }
    // 直接写进标准错误：测试框架会收起 println!、eprintln! 的输出，学生就看不到为什么跳过了
    let line = format!("跳过组播测试：这个系统不能在回环网卡上收发 IPv4 组播（{why}）\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

#[tokio::test]
async fn two_receivers_on_one_port_both_get_the_datagram() {
    let lo = loopback_interface();
    let mut first = Program::start(
        program(),
        NAME,
        &[
            "--join",
            GROUP,
            "--interface",
            &lo,
            "--port",
            "0",
            "--count",
            "1",
        ],
    );
    let line = first.next_line().await;
    let Some(port) = bound_port(&line) else {
        skip_unless_linux(&line);
        return;
    };
    let port = port.to_string();
    let mut second = Program::start(
        program(),
        NAME,
        &[
            "--join",
            GROUP,
            "--interface",
            &lo,
            "--port",
            &port,
            "--count",
            "1",
        ],
    );
    let line = second.next_line().await;
    assert!(
        bound_port(&line).is_some(),
        "第二个接收者应当能和第一个共用端口（SO_REUSEADDR）：{line}"
    );

    let sent = run_to_exit(
        program(),
        NAME,
        &[
            "--send",
            "你好，组里的各位",
            "--to",
            GROUP,
            "--port",
            &port,
            "--interface",
            &lo,
        ],
        "",
    );
    if !sent.ends_with("[退出码 0]") {
        skip_unless_linux(&sent);
        return;
    }
    for receiver in [&mut first, &mut second] {
        let line = receiver.next_line().await;
        assert!(
            line.starts_with("127.0.0.1:") && line.ends_with(" 发来 24 字节：你好，组里的各位"),
            "接收者应当显示发送者和内容：{line}"
        );
        receiver.expect_exit(0).await;
    }
    // 端口每次不同；回环网卡的名字每个系统不同（Windows 的名字里还有空格）
    let named = format!("--interface {}", regex::escape(&lo));
    let shown = format!("（网卡 {}", regex::escape(&lo));
    let filters = [
        (r"0\.0\.0\.0:[1-9][0-9]*", "0.0.0.0:[PORT]"),
        (r"239\.255\.0\.1:[1-9][0-9]*", "239.255.0.1:[PORT]"),
        (r"--port [1-9][0-9]*", "--port [PORT]"),
        (named.as_str(), "--interface [回环网卡]"),
        (shown.as_str(), "（网卡 [回环网卡]"),
    ];
    assert_transcript_with_filters("multicast_receive", &first.transcript(), &filters);
    assert_transcript_with_filters("multicast_send", &sent, &filters);
}

/// 不是组播地址：说明哪些地址才是，退出码 1。
#[test]
fn a_unicast_address_is_not_a_group() {
    let transcript = run_to_exit(program(), NAME, &["--join", "192.0.2.1"], "");
    assert_transcript_with_filters("multicast_not_a_group", &transcript, &[]);
}
