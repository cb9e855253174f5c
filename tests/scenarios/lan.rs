//! 第 5 章：走出本机（labs/lan/ 和各个服务端、客户端的地址处理）。
//!
//! 全部在本机的回环地址上进行：“一个不回应的地址”是一个接受队列已经排满的监听器，
//! 不向任何别的地址发送数据。

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::*;

/// 记录里的程序名：lab-dial 和练习 5.1 的 ex-dial 用同一份记录。
const DIAL: &str = "lab-dial";

/// 一个连得上、但不会回应新连接的地址：监听器的接受队列（backlog）只有 1，
/// 测试先用几个从不被 accept 的连接把它排满。之后 Linux 和 macOS 悄悄丢掉新来的 SYN，
/// 连接的一方只能等到超时；Windows 则可能直接拒绝（RST）。
pub struct Silent {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _queued: Vec<TcpStream>,
}

pub async fn silent_address() -> Silent {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("创建套接字");
    let local: SocketAddr = "127.0.0.1:0".parse().expect("合法的地址");
    listener.bind(&local.into()).expect("绑定 127.0.0.1:0");
    listener.listen(1).expect("listen(1)");
    let addr = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("监听器有本地地址");
    // 一直连，直到有一次连不上（超时或被拒绝）：那时队列就满了。最多 16 次
    let mut queued = Vec::new();
    for _ in 0..16 {
        match timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            _ => break,
        }
    }
    Silent {
        addr,
        _listener: listener,
        _queued: queued,
    }
}

/// 按书中的记录：第一个地址上没有程序在监听（被拒绝），换第二个地址连上。
pub async fn dial_transcript(dial: &Path) {
    let dead = unused_address().to_string();
    let (_listener, live) = test_listener().await;
    let live = live.to_string();
    let transcript =
        run_to_exit_in_background(dial, DIAL, &["--addr", &dead, "--addr", &live], "").await;
    assert_transcript("dial_transcript", &transcript);
}

/// 一个不回应的地址：等满 --connect-timeout 就跳过，接着连下一个。
pub async fn dial_skips_a_silent_address(dial: &Path) {
    let silent = silent_address().await;
    let (_listener, live) = test_listener().await;
    let (silent_text, live_text) = (silent.addr.to_string(), live.to_string());
    let started = Instant::now();
    let transcript = run_to_exit_in_background(
        dial,
        DIAL,
        &[
            "--connect-timeout",
            "1",
            "--addr",
            &silent_text,
            "--addr",
            &live_text,
        ],
        "",
    )
    .await;
    let took = started.elapsed();
    let timed_out = format!(
        "连接 {silent_text} 失败：连接超时（1 秒内没有回应）；接着试下一个地址 {live_text}"
    );
    let refused = format!("连接 {silent_text} 失败：连接被拒绝");
    let skipped = transcript.contains(&timed_out)
        // Windows 在接受队列满了时可能直接拒绝，而不是不回应
        || (cfg!(windows) && transcript.contains(&refused));
    assert!(
        skipped,
        "不回应的地址应当在 1 秒后被跳过，期望有一行：\n{timed_out}\n实际：\n{transcript}"
    );
    assert!(
        transcript.contains(&format!("已连接到 {live_text}")) && transcript.ends_with("[退出码 0]"),
        "跳过之后应当连上下一个地址 {live_text}：\n{transcript}"
    );
    assert!(
        took < Duration::from_secs(6),
        "每个地址最多等 1 秒，整个过程却用了 {took:?}：\n{transcript}"
    );
    // 也不能等得比说好的短：超时的那个地址要等满 --connect-timeout（Windows 上它可能被直接拒绝）
    if transcript.contains(&timed_out) {
        assert!(
            took >= Duration::from_millis(900),
            "--connect-timeout 1 说好每个地址等 1 秒，却只用了 {took:?} 就放弃了：\n{transcript}"
        );
    }
}

/// `[::1]` 这样的 IPv6 字面地址也能连。本机没有 IPv6 回环地址时跳过，并说明原因。
pub async fn dial_reaches_ipv6_loopback(dial: &Path) {
    // 不能监听 [::1] 时，改用 127.0.0.1 检验同一件事（一个 IP 字面地址直接连上），
    // 这样没写完的练习在这样的机器上也不会白白通过
    let (listener, family) = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(listener) => (listener, "IPv6"),
        Err(err) => {
            eprintln!("跳过 IPv6：这台机器上不能监听 [::1]（{err}），改用 127.0.0.1 检验");
            (test_listener().await.0, "IPv4")
        }
    };
    let addr = listener.local_addr().expect("监听器有本地地址").to_string();
    let transcript = run_to_exit_in_background(dial, DIAL, &["--addr", &addr], "").await;
    assert!(
        transcript.contains(&format!("  1. {addr}    {family}，来自 --addr {addr}"))
            && transcript.contains(&format!("已连接到 {addr}"))
            && transcript.ends_with("[退出码 0]"),
        "应当连上 {addr}：\n{transcript}"
    );
}

/// 全都连不上：最后一行说明原因和建议，退出码 1。
pub async fn dial_reports_when_all_fail(dial: &Path) {
    let first = unused_address().to_string();
    let second = unused_address().to_string();
    let transcript =
        run_to_exit_in_background(dial, DIAL, &["--addr", &first, "--addr", &second], "").await;
    assert_transcript("dial_all_fail", &transcript);
}

/// 每个地址的等待有上限，失败时报告的是最后一个地址的原因：先是一个不回应的地址，
/// 再是一个没有程序监听的地址，--connect-timeout 1。几秒之内结束，退出码 1，
/// 最后一行说的是第二个地址的“连接被拒绝”，而不是第一个地址的超时。
pub async fn dial_time_is_bounded(dial: &Path) {
    let silent = silent_address().await;
    let refused = unused_address();
    let (silent_text, refused_text) = (silent.addr.to_string(), refused.to_string());
    let started = Instant::now();
    let transcript = run_to_exit_in_background(
        dial,
        DIAL,
        &[
            "--connect-timeout",
            "1",
            "--addr",
            &silent_text,
            "--addr",
            &refused_text,
        ],
        "",
    )
    .await;
    let took = started.elapsed();
    assert!(
        transcript.ends_with("[退出码 1]"),
        "两个地址都连不上，退出码应当是 1：\n{transcript}"
    );
    let last = format!("无法连接到 {refused_text}：连接被拒绝");
    assert!(
        transcript.contains(&last),
        "全都失败时应当报告最后一个地址的原因，期望有一行以这些字开头：\n{last}\n实际：\n{transcript}"
    );
    if !cfg!(windows) {
        let first = format!("连接 {silent_text} 失败：连接超时（1 秒内没有回应）");
        assert!(
            transcript.contains(&first),
            "不回应的地址应当报告连接超时：\n{transcript}"
        );
        assert!(
            took >= Duration::from_millis(900),
            "--connect-timeout 1 说好每个地址等 1 秒，却只用了 {took:?} 就放弃了：\n{transcript}"
        );
    }
    assert!(
        took < Duration::from_secs(6),
        "不回应的地址最多等 1 秒，整个过程却用了 {took:?}：\n{transcript}"
    );
}
