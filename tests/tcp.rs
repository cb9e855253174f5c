//! 第 2 章：TCP 回声服务端和客户端（labs/tcp/）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::tcp;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-client"))
}

#[tokio::test]
async fn server_transcript() {
    tcp::server_transcript(server()).await;
}

#[tokio::test]
async fn server_serves_50_concurrent_clients() {
    tcp::server_serves_concurrent_clients(server()).await;
}

#[tokio::test]
async fn server_survives_a_reset_client() {
    tcp::server_survives_reset(server()).await;
}

#[tokio::test]
async fn server_echoes_1_mib_intact() {
    tcp::server_echoes_large_payload(server()).await;
}

#[test]
fn server_reports_port_in_use() {
    tcp::server_port_in_use(server());
}

#[tokio::test]
async fn client_transcript() {
    tcp::client_transcript(client()).await;
}

#[tokio::test]
async fn client_reads_piped_input() {
    tcp::client_reads_piped_input(client()).await;
}

#[tokio::test]
async fn client_waits_for_the_whole_echo() {
    tcp::client_waits_for_whole_echo(client()).await;
}

#[tokio::test]
async fn client_reports_a_partial_echo() {
    tcp::client_reports_partial_echo(client()).await;
}

#[tokio::test]
async fn client_reports_the_server_going_away() {
    tcp::client_reports_server_gone(client()).await;
}

#[test]
fn client_reports_no_server() {
    tcp::client_without_server(client());
}
