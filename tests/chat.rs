//! 第 4 章：全双工聊天室的服务端和客户端（labs/chat/）。

mod scenarios;
mod support;

use std::path::Path;

use scenarios::chat;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-client"))
}

#[tokio::test]
async fn server_three_client_conversation() {
    chat::server_three_clients(server()).await;
}

#[tokio::test]
async fn server_help_and_unknown_command() {
    chat::server_help_and_unknown_command(server()).await;
}

#[tokio::test]
async fn server_refuses_lines_over_4_kib() {
    chat::server_refuses_long_lines(server()).await;
}

#[tokio::test]
async fn server_sanitises_invalid_utf8_and_control_chars() {
    chat::server_sanitises_text(server()).await;
}

#[tokio::test]
async fn server_drops_a_slow_reader_and_keeps_the_others_going() {
    chat::server_drops_slow_reader(server()).await;
}

#[tokio::test]
async fn server_survives_a_reset_mid_line() {
    chat::server_survives_reset_mid_line(server()).await;
}

#[tokio::test]
async fn server_delivers_the_last_unterminated_line() {
    chat::server_delivers_last_unterminated_line(server()).await;
}

#[tokio::test]
async fn server_relays_between_20_clients_in_order() {
    chat::server_relays_between_many_clients(server()).await;
}

#[tokio::test]
async fn server_console_notice_reaches_everyone() {
    chat::server_console_notice(server()).await;
}

// Windows 上的 Ctrl-C 由 .ci/wine-smoke 检查：测试程序没法只给一个子进程发 Ctrl-C 事件
#[cfg(unix)]
#[tokio::test]
async fn server_ctrl_c_delivers_then_closes() {
    chat::server_ctrl_c(server()).await;
}

// Windows 上的 Ctrl-C 由 .ci/wine-smoke 检查：测试程序没法只给一个子进程发 Ctrl-C 事件
#[cfg(unix)]
#[tokio::test]
async fn server_ctrl_c_right_after_start() {
    chat::server_ctrl_c_at_startup(server()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_slows_down_a_flood_and_nobody_is_kicked() {
    chat::server_slows_down_a_flood(server(), client()).await;
}

#[tokio::test]
async fn server_keeps_relaying_when_its_console_is_stalled() {
    chat::server_keeps_going_with_a_stalled_console(server()).await;
}

#[tokio::test]
async fn server_turns_away_the_one_over_max_clients() {
    chat::server_turns_away_the_one_over_the_limit(server()).await;
}

#[tokio::test]
async fn server_drops_connections_that_never_choose_a_nick() {
    chat::server_drops_connections_without_a_nick(server()).await;
}

#[tokio::test]
async fn server_rejects_lookalike_and_invisible_nicks() {
    chat::server_rejects_lookalike_and_invisible_nicks(server()).await;
}

#[tokio::test]
async fn server_escapes_invisible_characters() {
    chat::server_escapes_invisible_characters(server()).await;
}

#[tokio::test]
async fn server_accepts_4096_bytes_before_crlf() {
    chat::server_accepts_4096_bytes_before_crlf(server()).await;
}

#[tokio::test]
async fn client_sees_goodbye_on_q_quit_and_end_of_input() {
    chat::client_sees_goodbye_on_every_way_out(client(), server()).await;
}

#[test]
fn server_reports_port_in_use() {
    chat::server_port_in_use(server());
}

#[tokio::test]
async fn client_is_full_duplex() {
    chat::client_full_duplex(client()).await;
}

#[tokio::test]
async fn client_leaves_cleanly() {
    chat::client_leaves_cleanly(client()).await;
}

#[tokio::test]
async fn client_in_a_real_room() {
    chat::client_in_real_room(client(), server()).await;
}

#[test]
fn client_reports_no_server() {
    chat::client_without_server(client());
}

/// 压测工具本身：3 个连接、说 50 行，其余 2 人应当各收到 50 行，一共 100 行，一行不少。
/// 这里只检查它数得对不对，不检查延迟（延迟随机器负载变化，不适合做测试）。
#[tokio::test]
async fn bench_counts_every_delivered_line() {
    let (_server, addr) = support::start_server(server(), "lab-chat-server", &[]).await;
    let bench = Path::new(env!("CARGO_BIN_EXE_lab-chat-bench"));
    let addr = addr.to_string();
    let args = [
        "--addr",
        &addr,
        "--clients",
        "3",
        "--lines",
        "50",
        "--rate",
        "1000",
        "--grace",
        "2",
    ];
    let transcript = support::run_to_exit_in_background(bench, "lab-chat-bench", &args, "").await;
    assert!(
        transcript.contains("送达 100/100（100.00%）；被服务端断开的连接：0"),
        "{transcript}"
    );
    assert!(transcript.contains("送达延迟：p50 "), "{transcript}");
    assert!(transcript.ends_with("[退出码 0]"), "{transcript}");
}

fn floor() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-floor"))
}

/// 量开销的工具：4 个连接、每个收 20 行、每次写 3 行，应当正好写 4 × 7 = 28 次，而且一个字节不少地读完
/// （少了它会报错退出）。CPU 时间随机器变化，这里只检查它报告了；量得这么短，它还应当提醒结果不可信。
#[cfg(target_os = "linux")] // lab-chat-floor 读 /proc/self/stat，只在 Linux 上运行
#[test]
fn floor_writes_and_reads_every_line() {
    let args = ["--clients", "5", "--lines", "20", "--batch", "3"];
    let transcript = support::run_to_exit(floor(), "lab-chat-floor", &args, "");
    assert!(
        transcript.contains("4 个连接，每个收 20 行，每次 write 带 3 行：一共 4 × 7 = 28 次写入"),
        "{transcript}"
    );
    assert!(transcript.contains("注意：CPU 时间太短"), "{transcript}");
    assert!(
        transcript.contains("平均每次写入（连同对方的读取）花 "),
        "{transcript}"
    );
    assert!(
        transcript.contains("把一行送到 4 个人手里至少要 "),
        "{transcript}"
    );
    assert!(transcript.ends_with("[退出码 0]"), "{transcript}");
}

/// 文件描述符不够时，说清楚是第几个连接失败、该怎么办，而不是崩溃。
#[cfg(target_os = "linux")] // 用 sh 的 ulimit 限制文件描述符；lab-chat-floor 也只在 Linux 上运行
#[test]
fn floor_explains_running_out_of_file_descriptors() {
    let script = r#"ulimit -n 40 && exec "$0" --clients 100"#;
    let args = ["-c", script, floor().to_str().expect("路径是 UTF-8")];
    let transcript = support::run_to_exit(Path::new("/bin/sh"), "sh", &args, "");
    assert!(transcript.contains("个连接失败："), "{transcript}");
    assert!(transcript.contains("ulimit -n 4096"), "{transcript}");
    assert!(transcript.ends_with("[退出码 1]"), "{transcript}");
}

/// 在 Linux 以外的系统上，lab-chat-floor 一开始就用一行中文说明它需要 Linux，退出码非零。
#[cfg(not(target_os = "linux"))]
#[test]
fn floor_says_it_needs_linux() {
    let transcript = support::run_to_exit(floor(), "lab-chat-floor", &[], "");
    assert!(
        transcript.contains("lab-chat-floor 只能在 Linux 上运行"),
        "{transcript}"
    );
    assert!(transcript.ends_with("[退出码 1]"), "{transcript}");
}
