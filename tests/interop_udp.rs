//! 第 3 章：和原教程的 Go UDP 程序、`nc -u` 互通。同样的地址、同样的字节、同样格式的输出。
//!
//! 这些测试需要额外的工具，所以默认不运行（`cargo test` 会把它们列为 ignored）。
//! `.ci/run` 会装好工具后运行它们；手动运行：
//!
//! ```text
//! sudo apt-get install golang-go netcat-openbsd
//! cargo test --test interop_udp -- --ignored
//! ```
//!
//! Go 代码取自教程原文：把教程那一页存成 Markdown 文件，用环境变量 `SEED_TUTORIAL` 指出它的位置，
//! 例如 `SEED_TUTORIAL=~/socket-programming.zh.md cargo test --test interop_udp -- --ignored`。
//! 教程里的 UDP 代码是完整的程序，测试只把端口 8080 换成测试用的端口，其余一字不改。

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use support::*;
use tokio::time::timeout;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-client"))
}

/// 把教程的一段 UDP 程序里的端口 8080 换成 `port`，编译成可执行文件。
fn build_go(marker: &str, name: &str, port: u16) -> PathBuf {
    let code = tutorial_go_code(marker);
    assert!(
        code.contains("Port: 8080,"),
        "教程的 {name} 应当使用端口 8080"
    );
    let name = format!("{name}-{port}");
    go_build(
        &name,
        &code.replace("Port: 8080,", &format!("Port: {port},")),
    )
}

/// Go 的 log 包在每行前面加上“2006/01/02 15:04:05 ”这样的日期时间，去掉它再比较。
fn strip_log_time(line: &str) -> &str {
    let stamp_len = "2006/01/02 15:04:05 ".len();
    let looks_like_stamp = line.len() > stamp_len
        && line.as_bytes()[4] == b'/'
        && line.as_bytes()[13] == b':'
        && line.as_bytes()[stamp_len - 1] == b' ';
    if looks_like_stamp {
        &line[stamp_len..]
    } else {
        line
    }
}

/// 在后台线程里运行一个会自己结束的程序，最多等 WAIT。
async fn run(program: PathBuf, args: Vec<String>, stdin: &str) -> Output {
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::new(&program)
            .args(&args)
            .write_stdin(stdin)
            .timeout(WAIT)
            .output()
            .unwrap_or_else(|err| panic!("无法运行 {}：{err}", program.display()))
    })
    .await
    .expect("后台任务")
}

/// 启动教程的 Go 服务端。它启动时什么也不打印，所以反复发一个试探数据报，直到收到回声（最多等 WAIT）。
async fn start_go_server() -> (Program, SocketAddr) {
    let addr = unused_udp_address();
    let binary = build_go("net.ListenUDP", "udp-server", addr.port());
    let mut go_server = Program::start(&binary, "go-udp-server", &[]);
    let probe = udp_connected(addr).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = [0u8; 16];
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Go 服务端 {WAIT:?} 内没有开始接收"
        );
        // 服务端还没绑定时，这个数据报会换来“端口不可达”，忽略它再试
        let _ = probe.send(b"probe").await;
        if let Ok(Ok(n)) = timeout(Duration::from_millis(100), probe.recv(&mut buf)).await {
            assert_eq!(&buf[..n], b"probe");
            break;
        }
    }
    go_server
        .wait_for_line(|line| line.ends_with("content is probe, length = 5"))
        .await;
    (go_server, addr)
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_udp -- --ignored"]
async fn go_client_talks_to_lab_server() {
    let (mut lab_server, addr) = start_server(server(), "lab-udp-server", &[]).await;
    let go_client = build_go("net.DialUDP", "udp-client", addr.port());
    let go = run(go_client, vec![], "").await;
    assert!(go.status.success(), "{go:?}");
    let go_stdout = String::from_utf8_lossy(&go.stdout);
    let go_stderr = String::from_utf8_lossy(&go.stderr);
    assert_eq!(go_stdout, "size =  1024\n");
    let go_recv = strip_log_time(go_stderr.trim_end());
    assert_eq!(go_recv, format!("recv:hello world addr:{addr} length:11"));
    let line = lab_server.next_line().await;
    assert!(
        line.starts_with("read from 127.0.0.1:")
            && line.ends_with(" , content is hello world, length = 11"),
        "{line}"
    );

    // 我们的客户端打印的和 Go 客户端一模一样（Go 的 log 行去掉日期时间）
    let ours = run(
        client().to_path_buf(),
        vec!["--addr".into(), addr.to_string()],
        "",
    )
    .await;
    assert!(ours.status.success(), "{ours:?}");
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        format!("{go_stdout}{go_recv}\n")
    );
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_udp -- --ignored"]
async fn lab_client_talks_to_go_server() {
    let (mut go_server, addr) = start_go_server().await;
    let ours = run(
        client().to_path_buf(),
        vec!["--addr".into(), addr.to_string()],
        "",
    )
    .await;
    assert!(ours.status.success(), "{ours:?}");
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        format!("size =  1024\nrecv:hello world addr:{addr} length:11\n")
    );
    let line = go_server.next_line().await;
    assert!(
        strip_log_time(&line).ends_with(" , content is hello world, length = 11"),
        "{line}"
    );
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_udp -- --ignored"]
async fn lab_server_logs_the_same_line_as_go_server() {
    let (mut go_server, go_addr) = start_go_server().await;
    let (mut lab_server, lab_addr) = start_server(server(), "lab-udp-server", &[]).await;
    // 同一个套接字发给两个服务端：发送方地址相同，两边的日志行应当一字不差
    let socket = udp_socket().await;
    for (addr, message) in [(go_addr, "你好，UDP"), (lab_addr, "你好，UDP")] {
        socket
            .send_to(message.as_bytes(), addr)
            .await
            .expect("发送");
        let (echo, from) = udp_recv(&socket).await;
        assert_eq!((echo.as_slice(), from), (message.as_bytes(), addr));
    }
    let go_line = go_server.next_line().await;
    let lab_line = lab_server.next_line().await;
    assert_eq!(strip_log_time(&go_line), lab_line);
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_udp -- --ignored"]
async fn go_client_waits_forever_without_a_reply() {
    // 教程的客户端没有超时：服务端不回复，它就一直等。我们的客户端在同样的情况下会放弃并说明原因
    let silent = udp_socket().await;
    let addr = silent.local_addr().expect("本地地址");
    let go_client = build_go("net.DialUDP", "udp-client", addr.port());
    let mut child = tokio::process::Command::new(go_client)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("启动 Go 客户端");
    let (datagram, _) = udp_recv(&silent).await; // 它确实发出了 hello world
    assert_eq!(datagram, b"hello world");
    let still_waiting = timeout(Duration::from_secs(2), child.wait()).await.is_err();
    assert!(still_waiting, "教程的客户端本应一直等下去");
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_udp -- --ignored"]
async fn go_client_prints_refused_and_exits_zero() {
    // 没有服务端时，教程的客户端打印英文原始错误，再打印一行空的 recv，退出码却是 0
    let addr = unused_udp_address();
    let go_client = build_go("net.DialUDP", "udp-client", addr.port());
    let go = run(go_client, vec![], "").await;
    let stderr = String::from_utf8_lossy(&go.stderr);
    assert_eq!(go.status.code(), Some(0), "{go:?}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(stderr.contains("recv: addr:<nil> length:0"), "{stderr}");
}

#[tokio::test]
#[ignore = "需要 nc（netcat-openbsd）：cargo test --test interop_udp -- --ignored"]
async fn nc_u_talks_to_lab_server() {
    let (mut lab_server, addr) = start_server(server(), "lab-udp-server", &[]).await;
    // -u 用 UDP；-w 1 表示输入结束后再等 1 秒回复，然后退出
    let args = ["-u", "-w", "1", "127.0.0.1", &addr.port().to_string()].map(String::from);
    let output = run(PathBuf::from("nc"), args.to_vec(), "hello\n").await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    let line = lab_server.next_line().await;
    assert!(
        line.ends_with(" , content is hello\\n, length = 6"),
        "{line}"
    );
}
