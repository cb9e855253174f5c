//! 第 6.4 节：只写不读会卡死（labs/life/bulk_client.rs 和 lab-tcp-server 的 --buffer）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::deadlock;

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-bulk-client"))
}

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

#[tokio::test]
async fn naive_client_deadlocks_and_the_watchdog_says_so() {
    deadlock::naive_client_deadlocks(client(), server()).await;
}

#[tokio::test]
async fn naive_client_is_fine_with_little_data() {
    deadlock::naive_client_is_fine_with_little_data(client(), server()).await;
}

#[tokio::test]
async fn server_buffer_option_shrinks_buffers() {
    deadlock::server_buffer_option_shrinks_buffers(server()).await;
}

#[tokio::test]
async fn together_transcript() {
    deadlock::together_transcript(client(), server()).await;
}

#[tokio::test]
async fn together_echoes_1_mib_intact() {
    deadlock::together_echoes_1_mib_intact(client(), server()).await;
}

#[tokio::test]
async fn together_completes_8_mib() {
    deadlock::together_completes_8_mib(client()).await;
}

#[tokio::test]
async fn together_server_sees_every_byte() {
    deadlock::together_server_sees_every_byte(client()).await;
}

#[tokio::test]
async fn together_reports_server_closing_early() {
    deadlock::together_reports_server_closing_early(client()).await;
}
