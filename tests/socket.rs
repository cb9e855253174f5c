//! 第 1 章：lab-socket（labs/socket/main.rs）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::socket;

fn program() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-socket"))
}

#[test]
fn socket_transcript() {
    socket::socket_transcript(program());
}

#[tokio::test]
async fn socket_hold_keeps_sockets_open_until_enter() {
    socket::socket_hold(program()).await;
}

#[test]
fn socket_reports_port_in_use() {
    socket::socket_port_in_use(program());
}

#[test]
fn socket_reports_a_bad_address() {
    socket::socket_bad_address(program());
}
