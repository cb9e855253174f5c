//! 第 6.3 节：发现对方已经不在。回声服务端的空闲超时（labs/tcp/server.rs 的 --idle-timeout），
//! 聊天室的 TCP keepalive（--keepalive）和应用层心跳（--heartbeat）。

#[path = "support/netns.rs"]
mod netns;
mod scenarios;
mod support;

use std::path::Path;
use std::time::Duration;

use netns::{A_V4, Lan, lan_with_firewall_or_skip, on_host};
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

// ---- 写错的参数 ----

/// 超出范围的秒数：一行中文说明，退出码 2。太大的值会让计时器溢出（程序崩溃），
/// keepalive 超过 32767 秒 Linux 不接受（每个连接都会报错）。
#[test]
fn out_of_range_seconds_are_explained() {
    let runs = [
        (
            tcp_server(),
            "lab-tcp-server",
            &["--idle-timeout", "18446744073709551615"][..],
        ),
        (tcp_server(), "lab-tcp-server", &["--idle-timeout", "0"]),
        (
            chat_server(),
            "lab-chat-server",
            &["--heartbeat", "18446744073709551615"],
        ),
        (chat_server(), "lab-chat-server", &["--heartbeat", "3601"]),
        (chat_server(), "lab-chat-server", &["--keepalive", "40000"]),
    ]
    .iter()
    .map(|(path, name, args)| support::run_to_exit(path, name, args, ""))
    .collect::<Vec<_>>();
    for run in &runs {
        assert!(run.ends_with("[退出码 2]"), "{run}");
    }
    support::assert_transcript("liveness_bad_arguments", &support::join_transcripts(&runs));
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
    let Some(lan) = lan_with_firewall_or_skip() else {
        return;
    };
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

// ---- 隔着一段“卡死”的链路：心跳发现了，keepalive 发现不了 ----

fn bad_link() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-bad-link"))
}

/// 坏链路连上多少秒以后卡死。
const STALL_AFTER: &str = "6";

/// 在聊天室前面放一段坏链路（lab-bad-link），`stall` 秒后停止转发，但两头的连接都开着。
async fn stalled_link(
    to: std::net::SocketAddr,
    stall: &str,
) -> (support::Program, std::net::SocketAddr) {
    let to = to.to_string();
    // 第一行写着监听的地址和全部设置，start_server 已经读过它
    support::start_server(
        bad_link(),
        "lab-bad-link",
        &["--to", &to, "--stall-after", stall],
    )
    .await
}

/// 聊天室开着心跳（`--heartbeat 1`）和 keepalive（`--keepalive 1`）。alice 用 `lab-chat-client --heartbeat`、
/// bob 用一个普通的 TCP 连接（像 nc），各隔着一段连上 6 秒后卡死的坏链路连进来；carol 直接连进来旁听。
/// 6 秒要够两个人都进门（负载重的机器上也够）：卡死之前进门的每一步都要经过坏链路。
///
/// 链路卡死以后，服务端的心跳 3 个间隔后发现 alice 不在了。bob 却一直“在线”：
/// keepalive 的探测包只走到坏链路那里，回答它的是坏链路所在机器的系统，而那台机器好好的。
/// keepalive 只能发现消失的机器，发现不了卡住的程序或中间设备；心跳两种都能发现。
#[tokio::test]
async fn heartbeat_notices_a_stalled_link_and_keepalive_does_not() {
    let (mut server, server_addr) = support::start_server(
        chat_server(),
        "lab-chat-server",
        &["--heartbeat", "1", "--keepalive", "1"],
    )
    .await;
    server.wait_for_line(|l| l.starts_with("心跳：")).await;
    let mut carol = support::LinePeer::connect(server_addr).await;
    carol.next_line().await; // 欢迎
    carol.next_line().await; // 请输入昵称
    carol.say("carol").await;
    carol.next_line().await; // 你好，carol
    server.wait_for_line(|l| l.starts_with("carol（")).await;

    let (mut link_a, via_a) = stalled_link(server_addr, STALL_AFTER).await;
    let via_a = via_a.to_string();
    let mut alice = support::Program::start(
        chat_client(),
        "lab-chat-client",
        &["--addr", &via_a, "--heartbeat"],
    );
    alice.next_line().await; // 已连接到……
    alice.next_line().await; // 欢迎
    alice.next_line().await; // 请输入昵称
    alice.type_line("alice").await;
    alice.next_line().await; // 你好，alice
    carol.expect_line("[系统] alice 进入了聊天室").await;
    server.wait_for_line(|l| l.starts_with("alice（")).await;

    let (mut link_b, via_b) = stalled_link(server_addr, STALL_AFTER).await;
    let mut bob = support::LinePeer::connect(via_b).await;
    bob.next_line().await; // 欢迎
    bob.next_line().await; // 请输入昵称
    bob.say("bob").await;
    bob.next_line().await; // 你好，bob
    carol.expect_line("[系统] bob 进入了聊天室").await;
    server.wait_for_line(|l| l.starts_with("bob（")).await;

    // bob 进门以后 alice 才可能被断开：alice 的链路卡死之后还要 3 个心跳间隔。
    // 服务端的记录里 bob 进门的那一行已经读到，而心跳超时的那一行还没有，所以快照里的顺序是固定的
    assert!(
        !server.transcript().contains("心跳超时"),
        "bob 进门之前 alice 就被断开了：坏链路卡得太早（STALL_AFTER 太小）\n{}",
        server.transcript()
    );
    link_a.wait_for_line(|l| l.contains("停止转发")).await;
    link_b.wait_for_line(|l| l.contains("停止转发")).await;
    // 先发生的：心跳发现 alice 不在了
    carol.expect_line("[系统] alice 心跳超时，断开了连接").await;
    server.wait_for_line(|l| l.contains("心跳超时")).await;
    // keepalive 这时早该发现了（空闲 1 秒 + 3 次 × 1 秒），可 bob 的连接另一头是坏链路，它的系统照常回答探测。
    // 等 6 秒：这是一段有上限的“什么都不该发生”的等待，不是同步
    let quiet = tokio::time::timeout(Duration::from_secs(6), carol.try_next_line()).await;
    assert!(
        quiet.is_err(),
        "bob 隔着卡死的链路，keepalive 发现不了他：carol 不应再听到什么，却收到了 {quiet:?}"
    );
    carol.say("/who").await;
    carol.expect_line("[系统] 在线 2 人：carol、bob").await;
    // 先把服务端还没读的输出读完，再看里面有没有 bob 被断开的那一行
    liveness::drain(&mut server, Duration::from_millis(500)).await;
    let log = server.transcript();
    assert!(
        !log.lines()
            .any(|l| l.starts_with("bob（") && l.contains("出错")),
        "bob 不应被 keepalive 断开：\n{log}"
    );
    support::assert_transcript("liveness_stalled_link", &log);
}
