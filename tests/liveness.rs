//! 第 6.3 节：发现对方已经不在。回声服务端的空闲超时（labs/tcp/server.rs 的 --idle-timeout），
//! 聊天室的 TCP keepalive（--keepalive）和应用层心跳（--heartbeat）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::liveness;

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
