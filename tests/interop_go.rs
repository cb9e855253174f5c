//! 和原教程的 Go 程序互通：同样的地址、同样的字节。
//!
//! 这些测试需要额外的工具，所以默认不运行（`cargo test` 会把它们列为 ignored）。
//! `.ci/run` 会装好工具后运行它们；手动运行：
//!
//! ```text
//! sudo apt-get install golang-go netcat-openbsd
//! cargo test --test interop_go -- --ignored
//! ```
//!
//! Go 代码取自教程原文：把教程那一页存成 Markdown 文件，用环境变量 `SEED_TUTORIAL` 指出它的位置，
//! 例如 `SEED_TUTORIAL=~/socket-programming.zh.md cargo test --test interop_go -- --ignored`。
//! 教程里的 TCP 代码只有函数体，测试给它补上 `package main` 和 `import`，
//! 并把地址换成测试用的端口，其余一字不改。

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-client"))
}

/// 把教程的一段 TCP 代码补上包名和导入，换上地址，编译成可执行文件。
fn build_go(marker: &str, imports: &[&str], addr: &str) -> PathBuf {
    let name = marker.replace('/', "-").trim_end_matches(".go").to_string();
    let imports: String = imports.iter().map(|pkg| format!("\t\"{pkg}\"\n")).collect();
    let code = tutorial_go_code(marker).replace("127.0.0.1:20000", addr);
    go_build(
        &name,
        &format!("package main\n\nimport (\n{imports})\n{code}"),
    )
}

/// 启动教程的 Go 服务端。它启动时什么也不打印，所以反复尝试连接，直到连上为止（最多等 WAIT）。
async fn start_go_server() -> (Program, String) {
    let addr = unused_address().to_string();
    let binary = build_go("tcp/server/main.go", &["bufio", "fmt", "net"], &addr);
    let mut go_server = Program::start(&binary, "go-server", &[]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Go 服务端 {WAIT:?} 内没有开始监听"
        );
        tokio::time::sleep(Duration::from_millis(20)).await; // 轮询间隔，不是同步手段
    }
    // 那次试探连接关闭时，Go 服务端会打印一行 EOF
    go_server.wait_for_line(|line| line.contains("EOF")).await;
    (go_server, addr)
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_go -- --ignored"]
async fn go_client_talks_to_lab_server() {
    let (mut lab_server, addr) = start_server(server(), "lab-tcp-server", &[]).await;
    let go_client = build_go(
        "tcp/client/main.go",
        &["bufio", "fmt", "net", "os", "strings"],
        &addr.to_string(),
    );
    let output = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::new(go_client)
            .write_stdin("hello\n你好，世界\nq\n")
            .timeout(WAIT)
            .output()
            .expect("运行 Go 客户端")
    })
    .await
    .expect("Go 客户端任务");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello\n你好，世界\n"
    );
    lab_server
        .wait_for_line(|line| line.starts_with("新连接"))
        .await;
    lab_server
        .expect_line("收到client端发来的数据： hello")
        .await;
    lab_server
        .expect_line("收到client端发来的数据： 你好，世界")
        .await;
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_go -- --ignored"]
async fn lab_client_talks_to_go_server() {
    let (mut go_server, addr) = start_go_server().await;
    let transcript = run_to_exit_in_background(
        client(),
        "lab-tcp-client",
        &["--addr", &addr],
        "hello\n你好，世界\nq\n",
    )
    .await;
    // run_to_exit 先记标准输出、再记标准错误：回声在前，连接提示在后
    assert!(
        transcript.contains("\nhello\n你好，世界\n已连接到"),
        "{transcript}"
    );
    assert!(transcript.ends_with("[退出码 0]"), "{transcript}");
    // Go 服务端打印的和我们的服务端打印的是同一句话
    go_server
        .expect_line("收到client端发来的数据： hello")
        .await;
    go_server
        .expect_line("收到client端发来的数据： 你好，世界")
        .await;
}

#[tokio::test]
#[ignore = "需要 go 和教程原文：cargo test --test interop_go -- --ignored"]
async fn lab_client_notices_go_server_losing_bytes() {
    // 教程的 Go 服务端每轮新建 bufio.Reader：一次收到 300 字节时，只发回前 128 字节
    let (_go_server, addr) = start_go_server().await;
    let long_line = format!("{}\n", "0123456789".repeat(30));
    let args = ["--addr", addr.as_str(), "--reply-timeout", "1"];
    let transcript = run_to_exit_in_background(client(), "lab-tcp-client", &args, &long_line).await;
    assert!(
        transcript.contains("等了 1 秒，这条回声只收到 128/300 字节")
            && transcript.ends_with("[退出码 1]"),
        "{transcript}"
    );
}

#[tokio::test]
#[ignore = "需要 nc（netcat-openbsd）：cargo test --test interop_go -- --ignored"]
async fn nc_talks_to_lab_server() {
    let (mut lab_server, addr) = start_server(server(), "lab-tcp-server", &[]).await;
    let output = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::new("nc")
            .args(["-N", "127.0.0.1", &addr.port().to_string()])
            .write_stdin("hello\n")
            .timeout(WAIT)
            .output()
            .expect("运行 nc（装好了吗？sudo apt-get install netcat-openbsd）")
    })
    .await
    .expect("nc 任务");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    lab_server
        .wait_for_line(|line| line.starts_with("新连接"))
        .await;
    lab_server
        .expect_line("收到client端发来的数据： hello\\n")
        .await;
}
