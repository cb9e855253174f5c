//! 第 3 章：UDP 回声服务端、客户端和“数据报的边界”演示（labs/udp/）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::udp;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-client"))
}

fn bench() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-bench"))
}

fn boundaries() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-boundaries"))
}

#[tokio::test]
async fn server_transcript() {
    udp::server_transcript(server()).await;
}

#[tokio::test]
async fn server_keeps_datagram_boundaries() {
    udp::server_keeps_boundaries(server()).await;
}

#[tokio::test]
async fn server_truncates_at_buf_size() {
    udp::server_truncates_at_buf_size(server()).await;
}

#[tokio::test]
async fn server_simulates_loss() {
    udp::server_simulates_loss(server()).await;
}

#[tokio::test]
async fn server_serves_100_clients_with_100_datagrams_each() {
    udp::server_serves_concurrent_clients(server()).await;
}

#[tokio::test]
async fn server_round_trips_a_65507_byte_datagram() {
    udp::server_round_trips_max_datagram(server()).await;
}

#[tokio::test]
async fn server_survives_a_vanished_client() {
    udp::server_survives_vanished_client(server()).await;
}

#[test]
fn server_reports_port_in_use() {
    udp::server_port_in_use(server());
}

#[test]
fn server_rejects_bad_buf_size() {
    udp::server_rejects_bad_buf_size(server());
}

#[tokio::test]
async fn client_transcript() {
    udp::client_transcript(client()).await;
}

#[tokio::test]
async fn client_sends_each_stdin_line_as_a_datagram() {
    udp::client_sends_each_line(client()).await;
}

#[tokio::test]
async fn client_notices_a_truncated_reply() {
    udp::client_notices_truncation(client()).await;
}

#[tokio::test]
async fn client_retries_after_a_lost_datagram() {
    udp::client_retries_after_loss(client()).await;
}

#[tokio::test]
async fn client_matches_each_line_to_its_own_reply() {
    udp::client_matches_each_line_to_its_own_reply(client()).await;
}

#[tokio::test]
async fn client_tries_every_address_of_a_name() {
    udp::client_tries_every_address_of_a_name(client()).await;
}

#[tokio::test]
async fn client_gives_up_in_bounded_time() {
    udp::client_gives_up_without_reply(client()).await;
}

#[tokio::test]
async fn client_explains_port_unreachable() {
    udp::client_explains_port_unreachable(client()).await;
}

#[tokio::test]
async fn client_rejects_bad_input() {
    udp::client_rejects_bad_input(client()).await;
}

#[tokio::test]
async fn bench_udp_compares_two_servers() {
    udp::bench_udp_compares_two_servers(bench()).await;
}

#[tokio::test]
async fn bench_udp_explains_a_missing_server() {
    udp::bench_udp_without_server(bench()).await;
}

#[test]
fn boundaries_udp_three_receives_tcp_one_read() {
    udp::boundaries_transcript(boundaries());
}

#[tokio::test]
async fn a_65508_byte_datagram_is_refused_by_the_system() {
    udp::kernel_refuses_oversized_datagram().await;
}
