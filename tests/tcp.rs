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

/// 测试程序自己：被强行结束的客户端进程由它扮演（见下面的 killed_client_helper）。
#[cfg(unix)]
fn helper() -> std::path::PathBuf {
    std::env::current_exe().expect("测试程序的路径")
}

/// 进程崩溃不等于发 RST：没有没读的数据时，操作系统替被结束的进程发 FIN。
/// 只在 Unix 上检查：Windows 结束进程时怎样关闭它的连接，这里没有检验。
#[cfg(unix)]
#[tokio::test]
async fn server_sees_a_killed_client_close_normally() {
    tcp::killed_client_closes_normally(server(), &helper()).await;
}

/// 被结束的进程还有没读的数据时，它的连接以 RST 结束。RFC 1122 只说“应当”这样做，
/// Linux 照做；其他系统的做法不一定相同，所以只在 Linux 上检查。
#[cfg(target_os = "linux")]
#[tokio::test]
async fn server_sees_a_reset_from_a_killed_client_with_unread_data() {
    tcp::killed_client_with_unread_data_resets(server(), &helper()).await;
}

/// 不是独立的测试：上面两个测试把测试程序再启动一次，让它在子进程里扮演被结束的客户端。
/// 平常运行时（没有设置环境变量）它什么也不做。
#[cfg(unix)]
#[test]
#[ignore = "由 server_sees_a_killed_client_… 在子进程里运行"]
fn killed_client_helper() {
    tcp::killed_client_helper();
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
async fn client_gives_up_at_the_reply_deadline() {
    tcp::client_gives_up_at_the_reply_deadline(client()).await;
}

#[tokio::test]
async fn client_reports_a_wrong_echo() {
    tcp::client_reports_a_wrong_echo(client()).await;
}

#[tokio::test]
async fn client_reports_the_server_going_away() {
    tcp::client_reports_server_gone(client()).await;
}

#[test]
fn client_reports_no_server() {
    tcp::client_without_server(client());
}

fn bench() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-bench"))
}

/// `lab-tcp-bench idle` 开几条空闲连接，读出服务端的常驻内存（Linux 的 /proc/PID/status）。
#[cfg(target_os = "linux")] // 其他系统上它只说明需要 Linux，见下一个测试
#[tokio::test]
async fn bench_idle_reads_the_servers_memory() {
    let (server, addr) = support::start_server(server(), "lab-tcp-server", &[]).await;
    let (addr, pid) = (addr.to_string(), server.pid().to_string());
    let args = ["--addr", &addr, "idle", "--conns", "5", "--pid", &pid];
    let transcript = support::run_to_exit_in_background(bench(), "lab-tcp-bench", &args, "").await;
    assert!(
        transcript.contains("空闲连接 5：服务端常驻内存 "),
        "{transcript}"
    );
    assert!(transcript.ends_with("[退出码 0]"), "{transcript}");
}

/// 在 Linux 以外的系统上，`idle` 用一行中文说明它需要 Linux，退出码非零。
#[cfg(not(target_os = "linux"))]
#[test]
fn bench_idle_says_it_needs_linux() {
    let args = ["idle", "--conns", "5", "--pid", "1"];
    let transcript = support::run_to_exit(bench(), "lab-tcp-bench", &args, "");
    assert!(
        transcript.contains("lab-tcp-bench idle 只能在 Linux 上运行"),
        "{transcript}"
    );
    assert!(transcript.ends_with("[退出码 1]"), "{transcript}");
}
