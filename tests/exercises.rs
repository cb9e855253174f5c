//! 练习的评分测试：和实验用的是同一批场景、同一份快照，被测程序换成了练习文件编译出的程序。
//!
//! 练习没做完时它们当然通不过，所以默认不运行（cargo test 把它们列为 ignored）。
//! 请用练习册工具运行，它会先单独编译练习，再运行这里对应的测试：
//!
//! ```text
//! cargo run --bin workbook -- check tcp-server
//! ```
//!
//! 每个测试名以练习编号开头（ex_2_1_…），workbook 按这个前缀挑出一个练习的测试。
//! 只有真正检验练习里挖空部分的场景才算进练习：例如“端口被占用”只经过 main，不算。

mod scenarios;
mod support;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use scenarios::{chat, deadlock, lan, liveness, tcp, udp};

/// 每个练习测试的总时限（每一步另有 support::WAIT 的时限）。
const LIMIT: Duration = Duration::from_secs(60);

/// 练习编译出的程序：workbook 用 `cargo build --features exercises --bin …` 单独编译它，
/// 放在和本测试程序同一个 target 目录里。
fn exercise(bin: &str) -> PathBuf {
    let test_program = std::env::current_exe().expect("测试程序的路径");
    let dir = test_program
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target 目录");
    let path = dir.join(bin);
    assert!(
        path.exists(),
        "找不到 {}：请用 cargo run --bin workbook -- check 运行练习测试，它会先编译练习",
        path.display()
    );
    path
}

async fn within_limit(scenario: impl Future<Output = ()>) {
    if tokio::time::timeout(LIMIT, scenario).await.is_err() {
        panic!("这个测试超过了 {LIMIT:?} 的时限");
    }
}

// ---- 练习 2.1：TCP 服务端的 process ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-server"]
async fn ex_2_1_server_transcript() {
    within_limit(tcp::server_transcript(&exercise("ex-tcp-server"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-server"]
async fn ex_2_1_server_serves_50_concurrent_clients() {
    within_limit(tcp::server_serves_concurrent_clients(&exercise(
        "ex-tcp-server",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-server"]
async fn ex_2_1_server_survives_a_reset_client() {
    within_limit(tcp::server_survives_reset(&exercise("ex-tcp-server"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-server"]
async fn ex_2_1_server_echoes_1_mib_intact() {
    within_limit(tcp::server_echoes_large_payload(&exercise("ex-tcp-server"))).await;
}

// ---- 练习 2.2：TCP 客户端的 talk ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_transcript() {
    within_limit(tcp::client_transcript(&exercise("ex-tcp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_reads_piped_input() {
    within_limit(tcp::client_reads_piped_input(&exercise("ex-tcp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_waits_for_the_whole_echo() {
    within_limit(tcp::client_waits_for_whole_echo(&exercise("ex-tcp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_reports_a_partial_echo() {
    within_limit(tcp::client_reports_partial_echo(&exercise("ex-tcp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_gives_up_at_the_reply_deadline() {
    within_limit(tcp::client_gives_up_at_the_reply_deadline(&exercise(
        "ex-tcp-client",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_reports_a_wrong_echo() {
    within_limit(tcp::client_reports_a_wrong_echo(&exercise("ex-tcp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check tcp-client"]
async fn ex_2_2_client_reports_the_server_going_away() {
    within_limit(tcp::client_reports_server_gone(&exercise("ex-tcp-client"))).await;
}

// ---- 练习 2.3：长度前缀的编码器和解码器（proto 模块）----
//
// 学生的模块编进驱动程序 ex-sticky-proto，在单独的进程里运行；这个测试程序只和它对话。
// 检查和 tests/sticky.rs 检验实验的是同一批（tests/framing/checks.rs），
// 测试名是 ex_2_3_proto::…

#[path = "framing/checks.rs"]
mod framing;

#[path = "framing/driver.rs"]
mod proto_driver;

mod ex_2_3_proto {
    crate::framing::framing_tests!(
        crate::proto_driver::Driver::start(&crate::exercise("ex-sticky-proto")),
        #[ignore = "练习测试：cargo run --bin workbook -- check sticky-proto"]
    );
}

// ---- 练习 3.1：UDP 服务端的 serve ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-server"]
async fn ex_3_1_server_transcript() {
    within_limit(udp::server_transcript(&exercise("ex-udp-server"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-server"]
async fn ex_3_1_server_keeps_boundaries() {
    within_limit(udp::server_keeps_boundaries(&exercise("ex-udp-server"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-server"]
async fn ex_3_1_server_truncates_at_buf_size() {
    within_limit(udp::server_truncates_at_buf_size(&exercise(
        "ex-udp-server",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-server"]
async fn ex_3_1_server_simulates_loss() {
    within_limit(udp::server_simulates_loss(&exercise("ex-udp-server"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-server"]
async fn ex_3_1_server_serves_concurrent_clients() {
    within_limit(udp::server_serves_concurrent_clients(&exercise(
        "ex-udp-server",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-server"]
async fn ex_3_1_server_round_trips_max_datagram() {
    within_limit(udp::server_round_trips_max_datagram(&exercise(
        "ex-udp-server",
    )))
    .await;
}

// ---- 练习 3.2：UDP 客户端的 exchange ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_transcript() {
    within_limit(udp::client_transcript(&exercise("ex-udp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_sends_each_line() {
    within_limit(udp::client_sends_each_line(&exercise("ex-udp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_notices_truncation() {
    within_limit(udp::client_notices_truncation(&exercise("ex-udp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_retries_after_loss() {
    within_limit(udp::client_retries_after_loss(&exercise("ex-udp-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_gives_up_without_reply() {
    within_limit(udp::client_gives_up_without_reply(&exercise(
        "ex-udp-client",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_explains_port_unreachable() {
    within_limit(udp::client_explains_port_unreachable(&exercise(
        "ex-udp-client",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check udp-client"]
async fn ex_3_2_client_matches_each_line_to_its_own_reply() {
    within_limit(udp::client_matches_each_line_to_its_own_reply(&exercise(
        "ex-udp-client",
    )))
    .await;
}

// ---- 练习 4.1：聊天室服务端的转发和控制台 ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-relay"]
async fn ex_4_1_server_three_clients() {
    within_limit(chat::server_three_clients(&exercise("ex-chat-relay"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-relay"]
async fn ex_4_1_server_relays_between_many_clients() {
    within_limit(chat::server_relays_between_many_clients(&exercise(
        "ex-chat-relay",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-relay"]
async fn ex_4_1_server_console_notice() {
    within_limit(chat::server_console_notice(&exercise("ex-chat-relay"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-relay"]
async fn ex_4_1_server_delivers_last_unterminated_line() {
    within_limit(chat::server_delivers_last_unterminated_line(&exercise(
        "ex-chat-relay",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-relay"]
async fn ex_4_1_server_survives_reset_mid_line() {
    within_limit(chat::server_survives_reset_mid_line(&exercise(
        "ex-chat-relay",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-relay"]
async fn ex_4_1_server_sanitises_text() {
    within_limit(chat::server_sanitises_text(&exercise("ex-chat-relay"))).await;
}

// ---- 练习 4.2：聊天室服务端的昵称和命令 ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-nick"]
async fn ex_4_2_server_three_clients() {
    within_limit(chat::server_three_clients(&exercise("ex-chat-nick"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-nick"]
async fn ex_4_2_server_help_and_unknown_command() {
    within_limit(chat::server_help_and_unknown_command(&exercise(
        "ex-chat-nick",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-nick"]
async fn ex_4_2_server_rejects_lookalike_and_invisible_nicks() {
    within_limit(chat::server_rejects_lookalike_and_invisible_nicks(
        &exercise("ex-chat-nick"),
    ))
    .await;
}

// ---- 练习 4.3：聊天室客户端的收和发 ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-client"]
async fn ex_4_3_client_full_duplex() {
    within_limit(chat::client_full_duplex(&exercise("ex-chat-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-client"]
async fn ex_4_3_client_leaves_cleanly() {
    within_limit(chat::client_leaves_cleanly(&exercise("ex-chat-client"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-client"]
async fn ex_4_3_client_in_real_room() {
    // 聊天室服务端用实验本身：这个练习只评客户端
    let server = std::path::Path::new(env!("CARGO_BIN_EXE_lab-chat-server"));
    within_limit(chat::client_in_real_room(
        &exercise("ex-chat-client"),
        server,
    ))
    .await;
}

// ---- 练习 5.1：依次试每一个地址（dial 模块的 connect_in_order）----
//
// 学生的模块编进 ex-dial，它的表现和 lab-dial 一样；场景和 tests/addresses.rs 检验实验的是同一批。

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check dial"]
async fn ex_5_1_dial_transcript() {
    within_limit(lan::dial_transcript(&exercise("ex-dial"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check dial"]
async fn ex_5_1_dial_skips_a_silent_address() {
    within_limit(lan::dial_skips_a_silent_address(&exercise("ex-dial"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check dial"]
async fn ex_5_1_dial_reaches_ipv6_loopback() {
    within_limit(lan::dial_reaches_ipv6_loopback(&exercise("ex-dial"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check dial"]
async fn ex_5_1_dial_reports_when_all_fail() {
    within_limit(lan::dial_reports_when_all_fail(&exercise("ex-dial"))).await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check dial"]
async fn ex_5_1_dial_time_is_bounded() {
    within_limit(lan::dial_time_is_bounded(&exercise("ex-dial"))).await;
}

// ---- 练习 6.2：一边写一边读（bulk_client 的 send_and_receive_together）----
//
// 回声服务端用实验本身（缓冲区用 --buffer 改小）：这个练习只评客户端。

fn echo_server() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check bulk-client"]
async fn ex_6_2_together_transcript() {
    within_limit(deadlock::together_transcript(
        &exercise("ex-bulk-client"),
        echo_server(),
    ))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check bulk-client"]
async fn ex_6_2_together_echoes_1_mib_intact() {
    within_limit(deadlock::together_echoes_1_mib_intact(
        &exercise("ex-bulk-client"),
        echo_server(),
    ))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check bulk-client"]
async fn ex_6_2_together_completes_8_mib() {
    within_limit(deadlock::together_completes_8_mib(&exercise(
        "ex-bulk-client",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check bulk-client"]
async fn ex_6_2_together_server_sees_every_byte() {
    within_limit(deadlock::together_server_sees_every_byte(&exercise(
        "ex-bulk-client",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check bulk-client"]
async fn ex_6_2_together_reports_server_closing_early() {
    within_limit(deadlock::together_reports_server_closing_early(&exercise(
        "ex-bulk-client",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check bulk-client"]
async fn ex_6_2_together_reports_a_corrupted_echo() {
    within_limit(deadlock::together_reports_a_corrupted_echo(&exercise(
        "ex-bulk-client",
    )))
    .await;
}

// ---- 练习 6.1：聊天室服务端的心跳看门狗 check_heartbeats ----

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-heartbeat"]
async fn ex_6_1_heartbeat_drops_a_silent_client() {
    within_limit(liveness::heartbeat_drops_a_silent_client(&exercise(
        "ex-chat-heartbeat",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-heartbeat"]
async fn ex_6_1_heartbeat_waits_for_the_limit() {
    within_limit(liveness::heartbeat_waits_for_the_limit(&exercise(
        "ex-chat-heartbeat",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-heartbeat"]
async fn ex_6_1_heartbeat_pings_every_interval() {
    within_limit(liveness::heartbeat_pings_every_interval(&exercise(
        "ex-chat-heartbeat",
    )))
    .await;
}

#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-heartbeat"]
async fn ex_6_1_heartbeat_leaves_plain_clients_alone() {
    within_limit(liveness::heartbeat_leaves_plain_clients_alone(&exercise(
        "ex-chat-heartbeat",
    )))
    .await;
}

/// 学生写的服务端，和实验的聊天客户端（加上 --heartbeat）。
#[tokio::test]
#[ignore = "练习测试：cargo run --bin workbook -- check chat-heartbeat"]
async fn ex_6_1_lab_client_answers_pings_silently() {
    let client = std::path::Path::new(env!("CARGO_BIN_EXE_lab-chat-client"));
    within_limit(liveness::lab_client_answers_pings(
        &exercise("ex-chat-heartbeat"),
        client,
    ))
    .await;
}
