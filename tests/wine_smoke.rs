//! Windows 版的实验程序在 Wine 里运行，Linux 这边用和平时一样的场景和快照去检验它们：
//! TCP 回声、UDP 回声、聊天室（两个人对话，再按 Ctrl-C 关门），以及客户端连不上时的中文说明。
//!
//! 需要 Wine 和交叉编译好的 .exe，所以默认不运行。`.ci/wine-smoke` 装好 Wine、编译
//! `--target x86_64-pc-windows-gnu`、为每个程序写一个 `exec wine 程序.exe "$@"` 的小脚本，
//! 再用环境变量 `WINE_SMOKE_DIR` 指向这些脚本运行：
//!
//! ```text
//! bash .ci/wine-smoke
//! ```
//!
//! 小脚本用 exec 启动 Wine，Wine 又会变成那个 Windows 程序本身，所以测试拿到的进程号就是它的：
//! 给它发 SIGINT，Wine 把它变成 Windows 控制台的 Ctrl-C 事件，走的正是程序在 Windows 上的那条路。
#![cfg(unix)]

mod scenarios;
mod support;

use std::path::PathBuf;

use scenarios::{chat, tcp, udp};

/// `.ci/wine-smoke` 写好的小脚本：运行 Wine 里的 `name.exe`。
fn under_wine(name: &str) -> PathBuf {
    let dir = std::env::var_os("WINE_SMOKE_DIR")
        .expect("WINE_SMOKE_DIR 没有设置：这些测试由 .ci/wine-smoke 运行");
    let script = PathBuf::from(dir).join(name);
    assert!(script.is_file(), "找不到 {}", script.display());
    script
}

/// 先确认测的真是 Windows 程序：clap 在 Usage 里写的是启动时的文件名，Windows 上带 `.exe`。
#[test]
#[ignore = "需要 Wine：bash .ci/wine-smoke"]
fn the_programs_under_test_are_windows_programs() {
    for name in [
        "lab-tcp-server",
        "lab-tcp-client",
        "lab-udp-server",
        "lab-chat-server",
    ] {
        let transcript = support::run_to_exit(&under_wine(name), name, &["--help"], "");
        assert!(
            transcript.contains(&format!("Usage: {name}.exe")),
            "{transcript}"
        );
    }
}

#[tokio::test]
#[ignore = "需要 Wine：bash .ci/wine-smoke"]
async fn windows_tcp_server_echoes() {
    tcp::server_transcript(&under_wine("lab-tcp-server")).await;
}

#[test]
#[ignore = "需要 Wine：bash .ci/wine-smoke"]
fn windows_tcp_client_explains_that_no_server_is_running() {
    tcp::client_without_server(&under_wine("lab-tcp-client"));
}

#[tokio::test]
#[ignore = "需要 Wine：bash .ci/wine-smoke"]
async fn windows_udp_server_echoes() {
    udp::server_transcript(&under_wine("lab-udp-server")).await;
}

#[tokio::test]
#[ignore = "需要 Wine：bash .ci/wine-smoke"]
async fn windows_chat_server_relays_between_clients() {
    chat::server_three_clients(&under_wine("lab-chat-server")).await;
}

#[tokio::test]
#[ignore = "需要 Wine：bash .ci/wine-smoke"]
async fn windows_chat_server_stops_on_ctrl_c() {
    chat::server_ctrl_c(&under_wine("lab-chat-server")).await;
}
