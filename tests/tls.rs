//! 第 6.6 节：TLS 上的长度前缀分帧（labs/tls/，一个单独的小包）。
//!
//! 这个包不在主包里（它的加密库要为目标系统编译 C 代码，主包替 macOS 做的交叉检查编译不了它），
//! 所以这里的测试先用 cargo 把它编译出来（放在 target/tls/），再像别的实验一样运行它。
//! 第一次编译要联网下载依赖、花一两分钟，所以平时的 cargo test 不运行它们：
//!
//! ```text
//! cargo test --test tls -- --ignored
//! ```
//!
//! 编译不了时（例如离线）打印一行原因就跳过；CI 设置了 SOCKET_WORKBOOK_REQUIRE_LAN，那里必须真的运行。

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::*;

/// 编译好的两个程序：服务端和客户端。编译不了时返回 None（已经打印了原因）。
fn programs() -> Option<&'static (PathBuf, PathBuf)> {
    static BUILT: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    BUILT.get_or_init(build).as_ref()
}

/// 编译 labs/tls 最多等这么久：第一次要下载依赖、编译加密库，机器慢时也够了；网络卡住时不会无限地等。
const BUILD_LIMIT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

fn build() -> Option<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target").join("tls");
    let why = match run_cargo_build(root, &target) {
        Ok(()) => {
            let bin = |name: &str| {
                target
                    .join("debug")
                    .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
            };
            return Some((bin("lab-tls-server"), bin("lab-tls-client")));
        }
        Err(why) => why,
    };
    skip_or_fail(&format!(
        "跳过 TLS 的测试：编译 labs/tls 失败（离线时下载不了依赖？）：{why}"
    ));
    None
}

/// 在 `target` 里编译 labs/tls，最多等 [`BUILD_LIMIT`]，到时还没编译完就结束 cargo。
/// cargo 的输出写进 `target/build.log`（写进管道的话，没人读时管道会满，cargo 就停住了）。
/// 失败时返回一行原因：cargo 输出的最后一行，或者超时。
fn run_cargo_build(root: &Path, target: &Path) -> Result<(), String> {
    std::fs::create_dir_all(target)
        .map_err(|err| format!("无法建目录 {}：{err}", target.display()))?;
    let log_path = target.join("build.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|err| format!("无法建日志文件 {}：{err}", log_path.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = std::process::Command::new(cargo)
        .args(["build", "--locked", "--manifest-path"])
        .arg(root.join("labs/tls/Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|err| format!("无法运行 cargo：{err}"))?;
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= BUILD_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "等了 {} 分钟还没有编译完，已经结束 cargo（输出在 {}）",
                    BUILD_LIMIT.as_secs() / 60,
                    log_path.display()
                ));
            }
            // 编译要几十秒到几分钟，每半秒看一次它结束了没有
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(500)),
            Err(err) => return Err(format!("等待 cargo 失败：{err}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let last = text.lines().rev().find(|line| !line.trim().is_empty());
    Err(last.unwrap_or_default().trim().to_string())
}

/// 这个测试自己的目录（放证书文件），以及把记录里的这个目录遮住的办法。
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("swb-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("建临时目录");
        Dir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// 记录里的证书文件只显示文件名：目录每次都不一样。
    fn hide(&self, transcript: &str) -> String {
        let prefix = format!("{}{}", self.0.display(), std::path::MAIN_SEPARATOR);
        transcript.replace(&prefix, "")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 启动 TLS 服务端，读出它的地址（第二行是证书写在哪里）。
async fn start_tls_server(server: &Path, cert: &str) -> (Program, std::net::SocketAddr) {
    let (mut server, addr) = start_server(server, "lab-tls-server", &["--cert-out", cert]).await;
    server
        .wait_for_line(|line| line.starts_with("证书写在 "))
        .await;
    (server, addr)
}

/// 客户端只信任服务端写出的证书，发两行，收到两行回声，输入 q 退出；服务端一条条地收到它们。
#[tokio::test]
#[ignore = "要编译 labs/tls/ 这个单独的包（第一次要联网下载依赖）：cargo test --test tls -- --ignored"]
async fn tls_transcript() {
    let Some((server, client)) = programs() else {
        return;
    };
    let dir = Dir::new("run");
    let cert = dir.file("lab-tls-cert.pem");
    let (mut server, addr) = start_tls_server(server, &cert).await;
    let addr = addr.to_string();
    let mut client = Program::start(
        client,
        "lab-tls-client",
        &["--addr", &addr, "--cert", &cert],
    );
    client
        .wait_for_line(|line| line.starts_with("已通过 TLS 连接到"))
        .await;
    let me = server
        .wait_for_line(|line| line.starts_with("新连接："))
        .await["新连接：".len()..]
        .to_string();
    server
        .expect_line(&format!("和客户端 {me} 握手完成：TLS 1.3"))
        .await;
    for line in ["hello", "你好，TLS"] {
        client.type_line(line).await;
        client.expect_line(line).await;
        server
            .expect_line(&format!("收到client端发来的数据： {line}"))
            .await;
    }
    client.type_line("q").await;
    client.expect_exit(0).await;
    server.expect_line(&format!("客户端 {me} 已关闭连接")).await;
    let transcript = join_transcripts(&[server.transcript(), client.transcript()]);
    assert_transcript("tls_run", &dir.hide(&transcript));
}

/// 出错的三种情形：证书上没有客户端要的名字；客户端信任的是另一张证书；对方根本不是 TLS
/// （第 2 章的回声服务端 lab-tcp-server，它把 ClientHello 原样发回来）。
/// 每次客户端都说明原因、退出码非零，TLS 服务端报告握手失败。
#[tokio::test]
#[ignore = "要编译 labs/tls/ 这个单独的包（第一次要联网下载依赖）：cargo test --test tls -- --ignored"]
async fn tls_handshake_failures() {
    let Some((server, client)) = programs() else {
        return;
    };
    let dir = Dir::new("errors");
    let cert = dir.file("lab-tls-cert.pem");
    let other = dir.file("other-cert.pem");
    let (mut server, addr) = start_tls_server(server, &cert).await;
    // 另一个服务端，只是为了得到另一张证书
    let (_other_server, _) =
        start_tls_server(Path::new(&programs().expect("已编译").0), &other).await;
    let addr = addr.to_string();

    let wrong_name = run_to_exit_in_background(
        client,
        "lab-tls-client",
        &["--addr", &addr, "--cert", &cert, "--name", "example.com"],
        "",
    )
    .await;
    server.wait_for_line(|line| line.contains("握手失败")).await;
    let wrong_cert = run_to_exit_in_background(
        client,
        "lab-tls-client",
        &["--addr", &addr, "--cert", &other],
        "",
    )
    .await;
    server.wait_for_line(|line| line.contains("握手失败")).await;
    // 回声服务端打印它收到的 ClientHello（一串随机的字节），不放进记录，只要客户端的那一份
    let (_plain, plain_addr) = start_server(
        Path::new(env!("CARGO_BIN_EXE_lab-tcp-server")),
        "lab-tcp-server",
        &[],
    )
    .await;
    let plain_addr = plain_addr.to_string();
    let not_tls = run_to_exit_in_background(
        client,
        "lab-tls-client",
        &["--addr", &plain_addr, "--cert", &cert],
        "",
    )
    .await;
    assert!(
        !not_tls.ends_with("[退出码 0]"),
        "对方不是 TLS，客户端应当失败：\n{not_tls}"
    );
    let transcript = join_transcripts(&[wrong_name, wrong_cert, not_tls, server.transcript()]);
    assert_transcript("tls_handshake_failures", &dir.hide(&transcript));
}
