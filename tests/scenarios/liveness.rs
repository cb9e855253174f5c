//! 第 6.3 节（发现对方已经不在）的场景：回声服务端的空闲超时、聊天室的 TCP keepalive 和心跳。
//! 聊天室心跳的场景也给练习 6.1 评分。

use std::path::Path;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};

use crate::support::*;

const TCP_SERVER: &str = "lab-tcp-server";

// ---------------------------------------------------------------- 回声服务端：--idle-timeout

/// `--idle-timeout 1`：连上以后一言不发的客户端，1 秒后被服务端断开；
/// 服务端打印 read_failed 的那一行，说出原因，客户端读到连接结束。
pub async fn idle_client_is_dropped(server: &Path) {
    let (mut server, addr) = start_server(server, TCP_SERVER, &["--idle-timeout", "1"]).await;
    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    echo_round_trip(&mut client, b"hello").await;
    server.expect_line("收到client端发来的数据： hello").await;
    server.note("客户端不再发送任何数据");
    let quiet_since = Instant::now();
    server
        .expect_line(&format!("从客户端 {me} 读取失败：1 秒没有收到任何数据"))
        .await;
    let waited = quiet_since.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "服务端应当等满 1 秒才断开，实际只等了 {waited:?}"
    );
    expect_closed(&mut client, "服务端因为空闲超时断开了连接").await;
    assert_transcript("liveness_idle_timeout", &server.transcript());
}

/// `--idle-timeout 1`：每 300 毫秒说一句的客户端，说上 2 秒多也不会被断开：
/// 计时从最近一次收到数据算起，而不是从连上算起。
pub async fn active_client_stays(server: &Path) {
    let (mut server, addr) = start_server(server, TCP_SERVER, &["--idle-timeout", "1"]).await;
    let mut client = connect(addr).await;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(2200) {
        echo_round_trip(&mut client, format!("第 {sent} 句").as_bytes()).await;
        sent += 1;
        // 说话的节奏，不是等待什么事情发生
        sleep(Duration::from_millis(300)).await;
    }
    echo_round_trip(&mut client, b"still here").await;
    let me = client.local_addr().expect("本地地址");
    drop(client);
    server
        .wait_for_line(|line| line.contains(&me.to_string()) && line.contains("已关闭连接"))
        .await;
    let transcript = server.transcript();
    assert!(
        !transcript.contains("读取失败"),
        "一直在说话的客户端不应被断开：\n{transcript}"
    );
}

/// 不加 `--idle-timeout`：安静 1.5 秒的客户端照样连着，回声照常。
pub async fn no_idle_timeout_by_default(server: &Path) {
    let (mut server, addr) = start_server(server, TCP_SERVER, &[]).await;
    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    // 等一段什么都不该发生的时间：这不是同步，只是给“断开”留出发生的机会
    let mut buf = [0u8; 16];
    let read = timeout(
        Duration::from_millis(1500),
        tokio::io::AsyncReadExt::read(&mut client, &mut buf),
    )
    .await;
    assert!(
        read.is_err(),
        "服务端不应发来任何东西，也不应关闭连接：{read:?}"
    );
    echo_round_trip(&mut client, b"after 1.5 s").await;
    server
        .expect_line("收到client端发来的数据： after 1.5 s")
        .await;
}
