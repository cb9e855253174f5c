//! 第 6.3 节：发现对方已经不在。回声服务端的空闲超时（labs/tcp/server.rs 的 --idle-timeout），
//! 聊天室的 TCP keepalive（--keepalive）和应用层心跳（--heartbeat）。

#[path = "support/netns.rs"]
#[allow(dead_code)] // 这里只用到其中一部分
mod netns;
mod scenarios;
mod support;

use std::path::Path;
use std::time::Duration;

use netns::{A_V4, Lan};
use scenarios::liveness;
use support::assert_lan_transcript;

fn tcp_server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

// ---- 空闲超时 ----

#[tokio::test]
async fn idle_client_is_dropped_after_the_timeout() {
    liveness::idle_client_is_dropped(tcp_server()).await;
}

#[tokio::test]
async fn active_client_is_not_dropped() {
    liveness::active_client_stays(tcp_server()).await;
}

#[tokio::test]
async fn no_idle_timeout_without_the_option() {
    liveness::no_idle_timeout_by_default(tcp_server()).await;
}

// ---- 心跳 ----

fn chat_server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-server"))
}

fn chat_client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-client"))
}

#[tokio::test]
async fn heartbeat_drops_a_silent_client() {
    liveness::heartbeat_drops_a_silent_client(chat_server()).await;
}

#[tokio::test]
async fn heartbeat_waits_for_the_limit() {
    liveness::heartbeat_waits_for_the_limit(chat_server()).await;
}

#[tokio::test]
async fn heartbeat_pings_every_interval() {
    liveness::heartbeat_pings_every_interval(chat_server()).await;
}

#[tokio::test]
async fn heartbeat_leaves_plain_clients_alone() {
    liveness::heartbeat_leaves_plain_clients_alone(chat_server()).await;
}

#[tokio::test]
async fn lab_client_answers_pings_silently() {
    liveness::lab_client_answers_pings(chat_server(), chat_client()).await;
}

// ---- TCP keepalive ----

#[tokio::test]
async fn keepalive_is_set_on_accepted_connections() {
    liveness::keepalive_is_set_on_accepted_connections(chat_server()).await;
}

/// 搭好两台主机的局域网；搭不起来时打印一行原因，返回 None（测试就此通过，和 tests/lan.rs 一样）。
fn lan() -> Option<Lan> {
    match Lan::new() {
        Ok(lan) => Some(lan),
        Err(reason) => {
            netns::skip(&reason);
            None
        }
    }
}

/// 记录里的命令行写出它在哪台主机上运行（和 tests/lan.rs 一样）。
fn on_host(host: &str, transcript: &str) -> String {
    transcript
        .lines()
        .map(|line| match line.strip_prefix("$ ") {
            Some(command) => format!("{host}$ {command}"),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// 等主机 A 上聊天室（端口 20004）的已连接套接字显示 `timer:(keepalive,…)`：发出的数据都已被确认，
/// 连接空闲，keepalive 的计时器在走。没有可以等的事件，每 50 毫秒问一次 ss，最多等 [`support::WAIT`]。
async fn wait_for_keepalive_timer(lan: &Lan) {
    let [ip, netns, exec, host_a] = lan.on_a();
    let deadline = tokio::time::Instant::now() + support::WAIT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        let output = std::process::Command::new(ip)
            .args([
                netns,
                exec,
                host_a,
                "ss",
                "-tnoi",
                "state",
                "established",
                "( sport = :20004 )",
            ])
            .output()
            .expect("运行 ss");
        last = String::from_utf8_lossy(&output.stdout).into_owned();
        if last.contains("timer:(keepalive,") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "等了 {} 秒，服务端的连接上还没有走起 keepalive 计时器：\n{last}",
        support::WAIT_SECS
    );
}

/// 主机 B 的防火墙：进出的数据包一律丢掉。
const VANISH: &str = "add table inet vanish; \
     add chain inet vanish in { type filter hook input priority 0; policy drop; }; \
     add chain inet vanish out { type filter hook output priority 0; policy drop; }";

/// 两台主机：聊天室开在主机 A 上（`--keepalive 1`），主机 B 上一个不报名心跳的普通客户端连进来。
/// 然后主机 B 从网络上消失（它的防火墙丢掉进出的一切）：没有 FIN，也没有 RST。
/// 聊天室那一头的连接空闲 1 秒后，系统开始探测，3 次没有回音就断开：服务端说出原因，房间里的人听到他离开。
#[tokio::test]
async fn keepalive_notices_a_host_that_vanished() {
    let Some(lan) = lan() else { return };
    if let Err(reason) = lan.nft_available() {
        netns::skip_firewall(&reason);
        return;
    }
    let mut server = lan.start_on_a(
        chat_server(),
        "lab-chat-server",
        &["--addr", "0.0.0.0:20004", "--keepalive", "1"],
    );
    server
        .wait_for_line(|l| l.starts_with("TCP keepalive："))
        .await;
    let b_addr = format!("{A_V4}:20004");
    let mut bob = lan.start_on_b(chat_client(), "lab-chat-client", &["--addr", &b_addr]);
    bob.next_line().await; // 已连接到……
    bob.expect_line("[系统] 欢迎来到聊天室！现在有 0 人在线。")
        .await;
    bob.expect_line("[系统] 请输入你的昵称：").await;
    bob.type_line("bob").await;
    bob.next_line().await; // 你好，bob！……
    server.wait_for_line(|l| l.starts_with("bob（")).await;
    // keepalive 只管空闲的连接：服务端发出的欢迎词还没被确认时，管事的是重传计时器（要重传十几分钟）。
    // 所以等服务端那一头的套接字上走起 keepalive 计时器（ss 显示 timer:(keepalive,…)），再让 B 消失
    wait_for_keepalive_timer(&lan).await;

    // 主机 B 从网络上消失：它的防火墙丢掉进出的一切（相当于拔了网线或断了电，但主机 A 的网卡照常工作）。
    // B 的系统什么也发不出去：没有 FIN，也没有 RST
    let [ip, netns, exec, host_b] = lan.on_b();
    let status = std::process::Command::new(ip)
        .args([netns, exec, host_b, "nft", VANISH])
        .status()
        .expect("运行 nft");
    assert!(status.success(), "在主机 B 上设防火墙失败");
    let cut = tokio::time::Instant::now();
    let gone = server.wait_for_line(|l| l.starts_with("bob（")).await;
    let took = cut.elapsed();
    assert!(
        gone.contains("连接出错"),
        "服务端应当因为 keepalive 探测没有回音而断开 bob：{gone}"
    );
    // 空闲 1 秒，再探测 3 次、每次隔 1 秒：不会早于 3 秒
    assert!(
        took >= Duration::from_secs(3),
        "keepalive 应当空闲 1 秒后再探测 3 次才断开，实际 {took:?}"
    );
    assert_lan_transcript(
        "liveness_keepalive_lan",
        &on_host("host-a", &server.transcript()),
    );
}
