//! 测试用的小工具：启动一个实验程序、一行一行地读它的输出、替它“敲键盘”，
//! 把整个过程记成一份文字记录（transcript），最后交给 insta 和快照比对。
//!
//! 每次等待都有时限（[`WAIT`]），程序卡住时测试会在几秒内失败并打印到目前为止的记录，
//! 而不是让整个测试套件挂住。

#![allow(dead_code)] // 每个测试文件只用到其中一部分

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// 任何一次等待的上限（秒）。正常情况下每一步只需要几毫秒。
pub const WAIT_SECS: u64 = 10;
pub const WAIT: Duration = Duration::from_secs(WAIT_SECS);

/// 把收发的字节显示成一行字（不是 UTF-8 的字节显示为 �，控制字符显示成转义），给失败信息用。
pub fn shown(bytes: &[u8]) -> String {
    socket_workbook::text::printable(bytes)
}

/// 两段字节应当一样；不一样时用中文说明期望什么、实际是什么（太长的只显示开头）。
pub fn same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual != expected {
        let brief = |bytes: &[u8]| {
            let text = shown(&bytes[..bytes.len().min(200)]);
            if bytes.len() > 200 {
                format!("{text}……")
            } else {
                text
            }
        };
        panic!(
            "{what}\n期望（{} 字节）：{}\n实际（{} 字节）：{}",
            expected.len(),
            brief(expected),
            actual.len(),
            brief(actual)
        );
    }
}

/// 一个正在运行的程序，以及它到目前为止的文字记录。
pub struct Program {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    output: mpsc::UnboundedReceiver<String>,
    transcript: Vec<String>,
    /// 测试在旁边做了什么（例如“测试客户端发送了 hello”）：只出现在失败信息里，不进快照
    notes: Vec<(usize, String)>,
}

impl Program {
    /// 启动 `path` 指向的程序。`name` 是记录里显示的名字（例如 `lab-tcp-server`），
    /// 这样同一个场景换成学生的程序来跑时，记录也一样。
    pub fn start(path: &Path, name: &str, args: &[&str]) -> Program {
        Program::start_with_env(path, name, args, &[])
    }

    /// 和 [`Program::start`] 一样，另外给程序设置环境变量 `env`（名字，值）。
    pub fn start_with_env(path: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Program {
        Program::spawn(&[], path, name, args, env)
    }

    /// 和 [`Program::start`] 一样，只是让 `prefix` 这条命令来启动程序，例如
    /// `["ip", "netns", "exec", "主机的名字"]` 让它在另一台“主机”（网络命名空间）里运行。
    /// 记录里照样只显示 `name` 和参数。
    pub fn start_with_prefix(prefix: &[&str], path: &Path, name: &str, args: &[&str]) -> Program {
        Program::spawn(prefix, path, name, args, &[])
    }

    fn spawn(
        prefix: &[&str],
        path: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Program {
        load_snapshots(); // 在任何被测程序运行之前读好期望的输出
        let mut command = Command::from(command_with_prefix(prefix, path));
        isolate(command.as_std_mut());
        command.envs(env.iter().copied());
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("无法启动 {}：{err}", path.display()));
        // 标准输出和标准错误各由一个任务读，按到达的顺序汇到同一个通道里
        let (sender, output) = mpsc::unbounded_channel();
        forward_lines(child.stdout.take().expect("stdout 是管道"), sender.clone());
        forward_lines(child.stderr.take().expect("stderr 是管道"), sender);
        let stdin = child.stdin.take();
        let command = std::iter::once(name)
            .chain(args.iter().copied())
            .collect::<Vec<_>>();
        Program {
            name: name.to_string(),
            child,
            stdin,
            output,
            transcript: vec![format!("$ {}", command.join(" "))],
            notes: Vec::new(),
        }
    }

    /// 记下测试在程序之外做的一步（例如通过套接字发了什么），失败时和记录一起显示。
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push((self.transcript.len(), text.into()));
    }

    /// 失败信息里用的记录：程序的输出、输入，以及测试做过的每一步。
    fn history(&self) -> String {
        let mut lines = Vec::new();
        for (i, line) in self.transcript.iter().enumerate() {
            for (_, note) in self.notes.iter().filter(|(at, _)| *at == i) {
                lines.push(format!("    （测试：{note}）"));
            }
            lines.push(format!("    {line}"));
        }
        for (_, note) in self
            .notes
            .iter()
            .filter(|(at, _)| *at >= self.transcript.len())
        {
            lines.push(format!("    （测试：{note}）"));
        }
        lines.join("\n")
    }

    /// 等下一行输出（最多等 [`WAIT`]），记进记录里并返回。
    pub async fn next_line(&mut self) -> String {
        match timeout(WAIT, self.output.recv()).await {
            Ok(Some(line)) => {
                self.transcript.push(line.clone());
                line
            }
            Ok(None) => panic!(
                "{} 已经结束，没有更多输出了。\n到目前为止的记录：\n{}",
                self.name,
                self.history()
            ),
            Err(_) => panic!(
                "等了 {WAIT_SECS} 秒，{} 没有再输出任何一行。\n到目前为止的记录：\n{}",
                self.name,
                self.history()
            ),
        }
    }

    /// 下一行输出必须正好是 `expected`。
    pub async fn expect_line(&mut self, expected: &str) {
        let line = self.next_line().await;
        if line != expected {
            panic!(
                "{} 输出的这一行不对。\n期望：{expected}\n实际：{line}\n到目前为止的记录：\n{}",
                self.name,
                self.history()
            );
        }
    }

    /// 像用户一样输入一行并回车。记录里以 `> ` 开头的行就是输入的内容。
    pub async fn type_line(&mut self, text: &str) {
        self.transcript.push(format!("> {text}"));
        let stdin = self.stdin.as_mut().expect("标准输入已经关闭");
        let typed = format!("{text}\n");
        let written = timeout(WAIT, stdin.write_all(typed.as_bytes())).await;
        let why = match written {
            Ok(Ok(())) => return,
            Ok(Err(err)) => socket_workbook::errors::cause(&err),
            Err(_) => format!("等了 {WAIT_SECS} 秒也写不进去（程序没有读标准输入）"),
        };
        panic!(
            "无法向 {} 输入：{why}\n记录：\n{}",
            self.name,
            self.history()
        );
    }

    /// 关闭标准输入，相当于在终端里按 Ctrl-D。
    pub fn close_stdin(&mut self) {
        self.transcript.push("> ^D".to_string());
        self.stdin = None;
    }

    /// 等程序自己退出（最多等 [`WAIT`]），把剩下的输出都收进记录，返回退出状态。
    pub async fn wait_exit(&mut self) -> ExitStatus {
        self.wait_exit_for(WAIT).await
    }

    /// 等程序自己退出，最多等 `limit`（程序要先做完一件较长的事时用），把剩下的输出都收进记录，
    /// 返回退出状态。
    pub async fn wait_exit_for(&mut self, limit: Duration) -> ExitStatus {
        let status = match timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(err)) => panic!("等待 {} 退出失败：{err}", self.name),
            Err(_) => panic!(
                "等了 {limit:?}，{} 还没有退出。\n记录：\n{}",
                self.name,
                self.history()
            ),
        };
        // 进程已经退出，管道很快就会读到结尾
        while let Ok(Some(line)) = timeout(WAIT, self.output.recv()).await {
            self.transcript.push(line);
        }
        let code = status
            .code()
            .map_or("被信号终止".to_string(), |code| code.to_string());
        self.transcript.push(format!("[退出码 {code}]"));
        status
    }

    /// 等程序自己退出，退出码必须是 `code`。
    pub async fn expect_exit(&mut self, code: i32) {
        let status = self.wait_exit().await;
        if status.code() != Some(code) {
            let actual = status
                .code()
                .map_or("被信号终止".to_string(), |c| format!("退出码 {c}"));
            panic!(
                "{} 应当以退出码 {code} 结束，实际是{actual}。\n记录：\n{}",
                self.name,
                self.history()
            );
        }
    }

    /// 到目前为止的记录，一行一条。
    pub fn transcript(&self) -> String {
        self.transcript.join("\n")
    }
}

/// 把一个管道里的内容一行一行地送进通道（不是合法 UTF-8 的字节显示为 �）。
fn forward_lines(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    sender: mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line).await {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']).to_string();
            if sender.send(text).is_err() {
                break;
            }
            line.clear();
        }
    });
}

/// 启动一个服务端（监听 127.0.0.1:0），从它输出的第一行里读出实际监听的地址。
pub async fn start_server(path: &Path, name: &str, extra_args: &[&str]) -> (Program, SocketAddr) {
    let mut args = vec!["--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra_args);
    let mut server = Program::start(path, name, &args);
    let first = server.next_line().await;
    let addr = find_address(&first).unwrap_or_else(|| {
        panic!("{name} 的第一行输出应当写出实际监听的地址（127.0.0.1:端口），实际是：{first}")
    });
    (server, addr)
}

/// 在一行文字里找出 `127.0.0.1:端口`。
pub fn find_address(line: &str) -> Option<SocketAddr> {
    let start = line.find("127.0.0.1:")?;
    let rest = &line[start + "127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    format!("127.0.0.1:{digits}").parse().ok()
}

/// 一个此刻没有人监听的本机地址：先占一个端口再马上放掉。
pub fn unused_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("能在 127.0.0.1 上监听");
    listener.local_addr().expect("监听器有本地地址")
}

/// 在测试进程里开一个 TCP 监听器（127.0.0.1:0）。
pub async fn test_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("能在 127.0.0.1 上监听");
    let addr = listener.local_addr().expect("监听器有本地地址");
    (listener, addr)
}

/// 在时限内连上 `addr`。
pub async fn connect(addr: SocketAddr) -> TcpStream {
    match timeout(WAIT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => panic!("连不上 {addr}：{err}"),
        Err(_) => panic!("连接 {addr} 超时（{WAIT_SECS} 秒）"),
    }
}

/// 在时限内接受一个连接。
pub async fn accept(listener: &TcpListener) -> TcpStream {
    match timeout(WAIT, listener.accept()).await {
        Ok(Ok((stream, _))) => stream,
        Ok(Err(err)) => panic!("accept 失败：{err}"),
        Err(_) => panic!("等了 {WAIT_SECS} 秒 没有人连上来"),
    }
}

/// 发送 `data`，再在时限内读回恰好同样多的字节，要求和发出去的一模一样。
pub async fn echo_round_trip(stream: &mut TcpStream, data: &[u8]) {
    match timeout(WAIT, stream.write_all(data)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => panic!(
            "发送 {} 失败：{}",
            shown(data),
            socket_workbook::errors::cause(&err)
        ),
        Err(_) => panic!("等了 {WAIT_SECS} 秒，{} 还没有发出去", shown(data)),
    }
    let echo = read_exactly(stream, data.len()).await;
    same_bytes(&echo, data, "回声和发出的内容不一致。");
}

/// 在时限内读满 `len` 个字节；读不满时报告已经收到了什么。
pub async fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match timeout(WAIT, stream.read(&mut buf[got..])).await {
            Ok(Ok(0)) => panic!(
                "对方关闭了连接：期望 {len} 字节，只收到 {got} 字节：{}",
                shown(&buf[..got])
            ),
            Ok(Ok(n)) => got += n,
            Ok(Err(err)) => panic!(
                "读取失败（已收到 {got}/{len} 字节）：{}",
                socket_workbook::errors::cause(&err)
            ),
            Err(_) => panic!(
                "等了 {WAIT_SECS} 秒，期望 {len} 字节，只收到 {got} 字节：{}",
                shown(&buf[..got])
            ),
        }
    }
    buf
}

/// 用快照比对一份记录。记录里的端口号每次都不同，比对前统一换成 `[PORT]`。
///
/// 快照就是规格：它们放在 tests/snapshots/，书里直接引用这些文件，
/// 学生的练习也用同一份快照评分。测试从不自动改写快照（见 .cargo/config.toml）。
pub fn assert_transcript(name: &str, transcript: &str) {
    // 端口 0 不替换：它是“让系统挑端口”的意思，不是某次运行分到的端口
    check_snapshot(
        name,
        transcript,
        &[(r"127\.0\.0\.1:[1-9][0-9]*", "127.0.0.1:[PORT]")],
    );
}

/// 快照所在的目录（编译时确定，就是这份练习册的 tests/snapshots/）。
fn snapshot_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// 全部快照的内容（去掉 insta 的文件头），在第一个被测程序启动之前一次读好。
///
/// 评分时被测的是学生的程序：它运行的时候也许会去改快照文件。期望的输出在它
/// 启动之前就已经读进内存，之后文件怎么变都影响不了比对（评分工具另外会发现文件被改）。
static SNAPSHOTS: std::sync::LazyLock<std::collections::HashMap<String, String>> =
    std::sync::LazyLock::new(|| {
        let mut snapshots = std::collections::HashMap::new();
        let entries = std::fs::read_dir(snapshot_dir()).expect("读快照目录 tests/snapshots/");
        for entry in entries.flatten() {
            let path = entry.path();
            let (Some(stem), Some("snap")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|e| e.to_str()),
            ) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).expect("读快照文件");
            snapshots.insert(stem.to_string(), snapshot_body(&text));
        }
        snapshots
    });

/// 让快照在此刻就读进内存。
pub fn load_snapshots() {
    std::sync::LazyLock::force(&SNAPSHOTS);
}

/// insta 的快照文件：`---` 围起来的文件头，后面是内容。
fn snapshot_body(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let body = match text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
    {
        Some((_header, body)) => body,
        None => &text,
    };
    body.trim_end_matches('\n').to_string()
}

/// 维护者有意更新快照时（INSTA_UPDATE=always 或 new），交给 insta 写文件。
fn updating_snapshots() -> bool {
    matches!(
        std::env::var("INSTA_UPDATE").as_deref(),
        Ok("always") | Ok("new")
    )
}

/// 用 `filters`（正则表达式，替换成的文字）遮住每次运行都不同的内容，再和快照比对。
/// 不一致时给出一份中文的逐行对照，而不是 insta 的英文报告。
fn check_snapshot(name: &str, transcript: &str, filters: &[(&str, &str)]) {
    let mut actual = transcript.replace("\r\n", "\n");
    for (pattern, replacement) in filters {
        let regex = regex::Regex::new(pattern).expect("合法的正则表达式");
        actual = regex.replace_all(&actual, *replacement).into_owned();
    }
    let actual = actual.trim_end_matches('\n');
    let expected = SNAPSHOTS.get(name);
    if expected.is_some_and(|expected| same_on_every_system(expected, actual)) {
        return;
    }
    if updating_snapshots() {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(name, actual));
        return;
    }
    let Some(expected) = expected else {
        panic!(
            "找不到快照 tests/snapshots/{name}.snap。\n这次运行的记录：\n{}",
            indent(actual)
        );
    };
    panic!(
        "输出和书中的记录（tests/snapshots/{name}.snap）不一致。\n\
         以“-”开头的行是应当出现、却没有出现（或者写得不一样）的；以“+”开头的行是实际输出的：\n{}",
        if testing_linux_programs() {
            line_diff(expected, actual)
        } else {
            line_diff(&incidental_removed(expected), &incidental_removed(actual))
        }
    );
}

/// 快照是在 Linux 上录的，书里给读者看的就是它。在 Windows、macOS 上运行同一个程序，
/// 有些地方不同，却和课程无关，比对前把两边的这些地方都换成同样的记号：
///
/// - 系统给的错误原文和错误号：Linux 说 `Connection refused (os error 111)`，macOS 是
///   `os error 61`，Windows 是另一句话和 `os error 10061`（中文版 Windows 还是中文）。
///   我们自己写的中文原因（“连接被拒绝”）在括号外面，照样逐字比对；
/// - Windows 上程序名后面的 `.exe`（clap 的 Usage 一行用的是启动时的文件名）。
///
/// 和课程有关的不同（SO_REUSEADDR、缓冲区大小、UDP 截断还是报错 10040、黏包演示怎样等客户端发完）
/// 不在这里抹平：那些测试先逐条核对这个系统该有的样子，见各测试上的说明。
fn incidental_removed(text: &str) -> String {
    static RULES: std::sync::LazyLock<[(regex::Regex, &str); 2]> = std::sync::LazyLock::new(|| {
        [
            (
                regex::Regex::new(r"（[^（）\n]*\(os error [0-9]+\)）").expect("正则"),
                "（[系统的错误原文]）",
            ),
            (
                regex::Regex::new(r"\b((?:lab|ex)-[a-z-]+|workbook)\.exe\b").expect("正则"),
                "$1",
            ),
        ]
    });
    let mut text = text.to_string();
    for (regex, replacement) in RULES.iter() {
        text = regex.replace_all(&text, *replacement).into_owned();
    }
    text
}

/// 两份记录是否一样。快照就是在 Linux 上录的，所以被测程序是 Linux 程序时逐字比对；
/// 否则先去掉与课程无关的系统差异（见 [`incidental_removed`]）。
fn same_on_every_system(expected: &str, actual: &str) -> bool {
    expected == actual
        || (!testing_linux_programs() && incidental_removed(expected) == incidental_removed(actual))
}

/// 被测的是不是 Linux 程序。通常被测程序和测试程序在同一个系统上；只有 Wine 冒烟测试
/// （tests/wine_smoke.rs，由 .ci/wine-smoke 设置 WINE_SMOKE_DIR）是在 Linux 上检验 Windows 程序。
fn testing_linux_programs() -> bool {
    cfg!(target_os = "linux") && std::env::var_os("WINE_SMOKE_DIR").is_none()
}

/// 逐行对照：相同的行前面空两格，期望的行前面是“- ”，实际的行前面是“+ ”。
pub fn line_diff(expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut lines = Vec::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Equal => "  ",
            similar::ChangeTag::Delete => "- ",
            similar::ChangeTag::Insert => "+ ",
        };
        lines.push(format!(
            "    {sign}{}",
            change.value().trim_end_matches('\n')
        ));
    }
    lines.join("\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// 被测程序的工作目录：评分工具用 WORKBOOK_SCRATCH 指定一个练习册以外的临时目录，
/// 平时用系统的临时目录。被测程序从工作目录出发找不到练习册的文件。
fn scratch_dir() -> std::path::PathBuf {
    std::env::var_os("WORKBOOK_SCRATCH")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// 运行 `path` 的命令；`prefix` 不空时，由它来运行：`prefix[0] prefix[1..] path`。
fn command_with_prefix(prefix: &[&str], path: &Path) -> std::process::Command {
    match prefix.split_first() {
        None => std::process::Command::new(path),
        Some((first, rest)) => {
            let mut command = std::process::Command::new(first);
            command.args(rest).arg(path);
            command
        }
    }
}

/// 被测程序在练习册之外的目录里运行，也看不到 cargo 和评分工具的环境变量
/// （例如 CARGO_MANIFEST_DIR 会说出练习册在哪里）。
fn isolate(command: &mut std::process::Command) {
    command.current_dir(scratch_dir());
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if ["CARGO", "WORKBOOK", "INSTA", "RUST_"]
            .iter()
            .any(|prefix| key_text.starts_with(prefix))
        {
            command.env_remove(&key);
        }
    }
}

impl Program {
    /// 一直读输出，直到出现满足 `wanted` 的一行（总共最多等 [`WAIT`]），返回这一行。
    pub async fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.output.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => panic!(
                    "{} 已经结束，没有等到想要的那一行。\n记录：\n{}",
                    self.name,
                    self.history()
                ),
                Err(_) => panic!(
                    "等了 {WAIT_SECS} 秒，{} 没有输出想要的那一行。\n记录：\n{}",
                    self.name,
                    self.history()
                ),
            };
            self.transcript.push(line.clone());
            if wanted(&line) {
                return line;
            }
        }
    }
}

/// 和 [`run_to_exit`] 一样，但在后台线程里等：测试自己的任务（例如测试里的服务端）可以照常运行。
pub async fn run_to_exit_in_background(
    path: &Path,
    name: &str,
    args: &[&str],
    stdin: &str,
) -> String {
    let (path, name, stdin) = (path.to_path_buf(), name.to_string(), stdin.to_string());
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_to_exit(&path, &name, &args, &stdin)
    })
    .await
    .expect("运行程序的后台线程")
}

/// 运行一个很快就会自己结束的程序（例如报错退出），把标准输入 `stdin` 喂给它，
/// 返回记录：命令行、它的输出、退出码。最多等 [`WAIT`]。
pub fn run_to_exit(path: &Path, name: &str, args: &[&str], stdin: &str) -> String {
    run_to_exit_with_prefix(&[], path, name, args, stdin)
}

/// 和 [`run_to_exit`] 一样，只是让 `prefix` 这条命令来启动程序（见 [`Program::start_with_prefix`]）。
pub fn run_to_exit_with_prefix(
    prefix: &[&str],
    path: &Path,
    name: &str,
    args: &[&str],
    stdin: &str,
) -> String {
    load_snapshots(); // 在任何被测程序运行之前读好期望的输出
    let mut command = command_with_prefix(prefix, path);
    isolate(&mut command);
    let started = std::time::Instant::now();
    let output = assert_cmd::Command::from_std(command)
        .args(args)
        .write_stdin(stdin)
        .timeout(WAIT)
        .output()
        .unwrap_or_else(|err| panic!("无法运行 {name}：{err}"));
    // 超时的程序被结束。在 Unix 上它是被信号结束的，没有退出码；在 Windows 上被结束的程序
    // 退出码是 1，和“报错退出”分不出来，所以还要看用了多久
    let timed_out = started.elapsed() >= WAIT;
    let (Some(code), false) = (output.status.code(), timed_out) else {
        let mut partial = vec![format!("$ {name} {}", args.join(" "))];
        for stream in [&output.stdout, &output.stderr] {
            partial.extend(String::from_utf8_lossy(stream).lines().map(str::to_string));
        }
        panic!(
            "{name} 在 {WAIT_SECS} 秒内没有退出（或者被信号终止了）。到那时为止的记录：\n{}",
            indent(&partial.join("\n"))
        );
    };
    let mut transcript = vec![format!("$ {name} {}", args.join(" "))];
    for stream in [&output.stdout, &output.stderr] {
        transcript.extend(String::from_utf8_lossy(stream).lines().map(str::to_string));
    }
    transcript.push(format!("[退出码 {code}]"));
    transcript.join("\n")
}

// ---------------------------------------------------------------- UDP（第 3 章）

/// 一个 UDP 数据报最多能装的数据：65,535 − 20（IPv4 头）− 8（UDP 头）。
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// 在 127.0.0.1:0 上绑定一个 UDP 套接字。
pub async fn udp_socket() -> tokio::net::UdpSocket {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("能在 127.0.0.1 上绑定 UDP 套接字");
    // 和实验一样：macOS 默认只能发 9216 字节以内的数据报，测试要发最大的 65,507 字节
    socket_workbook::udp::allow_full_size_datagrams(&socket).expect("调大发送缓冲区");
    socket
}

/// 绑定一个 UDP 套接字并 connect 到 `addr`：之后只收得到来自 `addr` 的数据报。
pub async fn udp_connected(addr: SocketAddr) -> tokio::net::UdpSocket {
    let socket = udp_socket().await;
    socket.connect(addr).await.expect("UDP connect");
    socket
}

/// 一个此刻没有人接收的本机 UDP 地址：先绑定一个端口再马上放掉。
pub fn unused_udp_address() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("能绑定 UDP 套接字");
    socket.local_addr().expect("套接字有本地地址")
}

/// 在时限内收一个数据报，返回它的内容和发送方。
pub async fn udp_recv(socket: &tokio::net::UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    match timeout(WAIT, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => (buf[..n].to_vec(), from),
        Ok(Err(err)) => panic!("接收数据报失败：{err}"),
        Err(_) => panic!("等了 {WAIT_SECS} 秒 没有收到数据报"),
    }
}

/// 用已经 connect 过的套接字发一个数据报，再收回一个，要求和发出去的一模一样。
pub async fn udp_round_trip(socket: &tokio::net::UdpSocket, data: &[u8]) {
    timeout(WAIT, socket.send(data))
        .await
        .expect("发送超时")
        .expect("发送数据报");
    let (echo, _) = udp_recv(socket).await;
    assert!(
        echo == data,
        "回声和发出的数据报不一致。\n发出 {} 字节：{}\n收到 {} 字节：{}",
        data.len(),
        shown(data),
        echo.len(),
        shown(&echo)
    );
}

/// 几次一次性运行的记录连在一起，中间空一行（用于“一组错误输入”这样的快照）。
pub fn join_transcripts(transcripts: &[String]) -> String {
    transcripts.join("\n\n")
}

/// 和 [`assert_transcript`] 一样，只是保留 `127.0.0.1:8080`：它是第 3 章的默认地址，
/// 会出现在给用户的提示里，不是某次运行分到的端口。（系统分配的临时端口在
/// Linux、macOS、Windows 上默认都是五位数，永远不会是 8080。）
pub fn assert_udp_transcript(name: &str, transcript: &str) {
    // 除 8080 以外的端口号都换成 [PORT]。末尾的 \b（只按 ASCII 判断，汉字不算单词字符）
    // 保证整个端口号一起匹配，不会只换掉 8080 的前三位。端口 0 同样保留（它是“让系统挑端口”的意思）。
    check_snapshot(
        name,
        transcript,
        &[(
            r"127\.0\.0\.1:(?:[1-9][0-9]{4}|[1-79][0-9]{3}|8[1-9][0-9]{2}|80[0-79][0-9]|808[1-9]|[1-9][0-9]{0,2})(?-u:\b)",
            "127.0.0.1:[PORT]",
        )],
    );
}

// ---------------------------------------------------------------- 第 1 章与第 2.3 节用到的工具

/// 和 [`assert_transcript`] 一样，另外用 `filters`（正则表达式，替换成的文字）遮住
/// 每台机器上都可能不同的内容，例如操作系统自动调整的缓冲区大小。
/// 和 [`assert_transcript`] 一样比对快照，但不遮住端口：记录里只有固定的端口（例如书里用来举例的
/// 20000），遮住了读者反而看不懂。`filters` 是另外要遮住的部分。
pub fn assert_fixed_port_transcript(name: &str, transcript: &str, filters: &[(&str, &str)]) {
    check_snapshot(name, transcript, filters);
}

pub fn assert_transcript_with_filters(name: &str, transcript: &str, filters: &[(&str, &str)]) {
    let mut all = filters.to_vec();
    all.push((r"127\.0\.0\.1:[1-9][0-9]*", "127.0.0.1:[PORT]"));
    check_snapshot(name, transcript, &all);
}

/// 等对方关闭连接（读到结尾或者连接被重置），最多等 [`WAIT`]；对方又发来数据就失败。
pub async fn expect_closed(stream: &mut TcpStream, why: &str) {
    let mut buf = [0u8; 64];
    match timeout(WAIT, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!(
            "{why}：对方应当关闭连接，却发来了 {n} 字节：{}",
            shown(&buf[..n])
        ),
        Err(_) => panic!("{why}：等了 {WAIT_SECS} 秒，对方还没有关闭连接"),
    }
}

// ---------------------------------------------------------------- 教程的 Go 程序（互通测试用）

/// 教程原文（存成 Markdown 的那一页）的位置，由环境变量 `SEED_TUTORIAL` 给出。
pub fn tutorial_path() -> std::path::PathBuf {
    match std::env::var_os("SEED_TUTORIAL") {
        Some(path) => std::path::PathBuf::from(path),
        None => panic!(
            "请用环境变量 SEED_TUTORIAL 指出教程原文（Markdown）的位置，\
             例如 SEED_TUTORIAL=~/socket-programming.zh.md cargo test --test interop_go -- --ignored"
        ),
    }
}

/// 从教程里取出含有 `marker`（例如 `tcp/server/main.go` 或 `net.ListenUDP`）的那段 Go 代码。
pub fn tutorial_go_code(marker: &str) -> String {
    let path = tutorial_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "读不到教程原文 {}：{err}（可以用 SEED_TUTORIAL 指定位置）",
            path.display()
        )
    });
    text.split("```go")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|code| code.contains(marker))
        .unwrap_or_else(|| panic!("教程里找不到含有 {marker} 的代码"))
        .to_string()
}

/// 把一段 Go 源码写进临时目录，用 `go build` 编译成名叫 `name` 的可执行文件。
pub fn go_build(name: &str, source: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("socket-workbook-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("创建临时目录");
    let file = dir.join(format!("{name}.go"));
    std::fs::write(&file, source).expect("写入 Go 源文件");
    let binary = dir.join(name);
    let built = std::process::Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(&file)
        .output()
        .expect("运行 go build（装好 Go 了吗？sudo apt-get install golang-go）");
    assert!(
        built.status.success(),
        "编译教程的 Go 代码失败：\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    binary
}

// ---------------------------------------------------------------- 第 4 章：聊天室

impl Program {
    /// 强行结束程序，就像它崩溃了一样（Unix 上是 SIGKILL，Windows 上是 TerminateProcess）：
    /// 它来不及做任何收尾，还开着的文件和套接字由操作系统替它关闭。
    pub async fn kill(&mut self) {
        self.transcript.push("[强行结束]".to_string());
        match timeout(WAIT, self.child.kill()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => panic!("无法结束 {}：{err}", self.name),
            Err(_) => panic!("等了 {WAIT_SECS} 秒，{} 还没有被结束", self.name),
        }
    }

    /// 程序的进程号。
    pub fn pid(&self) -> u32 {
        self.child.id().expect("程序还在运行")
    }

    /// 给程序发 SIGINT，相当于在它的终端里按 Ctrl-C。
    ///
    /// 只在 Unix 上有：Windows 没有信号，Ctrl-C 是控制台事件，GenerateConsoleCtrlEvent
    /// 会把它发给同一个控制台上的所有进程（测试程序自己也在内），没法只发给被测的那一个。
    /// Windows 上的 Ctrl-C 由 .ci/wine-smoke 在 Wine 里检查。
    #[cfg(unix)]
    pub fn interrupt(&mut self) {
        self.transcript.push("[Ctrl-C]".to_string());
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("运行 kill");
        assert!(status.success(), "kill -INT 失败");
    }
}

/// 进程此刻的常驻内存（KiB）。每个系统问法不同，所以分开写：
/// Linux 读 /proc/PID/status 的 VmRSS，macOS（没有 /proc）问 `ps`，
/// Windows 调用 GetProcessMemoryInfo 读“工作集”（Windows 对常驻内存的叫法）。
#[cfg(target_os = "linux")]
pub fn resident_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("读 /proc/PID/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("/proc/PID/status 里有 VmRSS")
}

#[cfg(all(unix, not(target_os = "linux")))]
pub fn resident_kib(pid: u32) -> u64 {
    let output = std::process::Command::new("ps")
        .args(["-o", "rss=", "-p", &pid.to_string()])
        .output()
        .expect("运行 ps");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ps 没有给出进程 {pid} 的常驻内存：{text:?}"))
}

#[cfg(windows)]
pub fn resident_kib(pid: u32) -> u64 {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::ProcessStatus::{
        K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::{
        OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ,
    };
    // SAFETY: 句柄用完就关；counters 是一块大小写对了的、可写的内存
    unsafe {
        // GetProcessMemoryInfo 要求句柄带着这两种权限
        let access = PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ;
        let process = OpenProcess(access, 0, pid);
        assert!(!process.is_null(), "打不开进程 {pid}");
        let mut counters: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
        let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
        let ok = K32GetProcessMemoryInfo(process, &mut counters, size);
        CloseHandle(process);
        assert!(ok != 0, "读不到进程 {pid} 的内存用量");
        (counters.WorkingSetSize / 1024) as u64
    }
}

/// 一个按行收发的 TCP 对端：测试用它扮演 `nc`，一行一行地说和听。
pub struct LinePeer {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    local: SocketAddr,
    /// 已经读到、但还不成一行的字节。放在这里而不是局部变量里，读一行的 future 被 select! 丢掉时
    /// （例如同时在等一个计时器）也不丢字节：下一次读接着拼
    pending: Vec<u8>,
}

impl LinePeer {
    /// 连上 `addr`。
    pub async fn connect(addr: SocketAddr) -> LinePeer {
        LinePeer::from_stream(connect(addr).await)
    }

    /// 用接收缓冲区很小的套接字连上 `addr`：连上以后不读，它很快就会“塞住”。
    pub async fn connect_with_small_buffer(addr: SocketAddr) -> LinePeer {
        let socket = tokio::net::TcpSocket::new_v4().expect("创建套接字");
        socket.set_recv_buffer_size(4096).expect("设置 SO_RCVBUF");
        let stream = timeout(WAIT, socket.connect(addr))
            .await
            .expect("连接超时")
            .expect("连接失败");
        LinePeer::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> LinePeer {
        let local = stream.local_addr().expect("本地地址");
        let (reader, writer) = stream.into_split();
        LinePeer {
            reader: BufReader::new(reader),
            writer,
            local,
            pending: Vec::new(),
        }
    }

    /// 本端的地址（服务端看到的“对方地址”）。
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// 原样发送一些字节。
    pub async fn send(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.writer.write_all(bytes))
            .await
            .expect("发送超时")
            .expect("发送失败");
    }

    /// 在 `limit` 之内尽量发送这些字节；对方不读、缓冲区满了发不完时返回 false。
    pub async fn send_within(&mut self, bytes: &[u8], limit: Duration) -> bool {
        matches!(
            timeout(limit, self.writer.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// 发送一行（自动加上 `\n`）。
    pub async fn say(&mut self, text: &str) {
        self.send(format!("{text}\n").as_bytes()).await;
    }

    /// 读下一行（去掉行尾的换行），连接结束时返回 None。最多等 [`WAIT`]。
    pub async fn try_next_line(&mut self) -> Option<String> {
        match timeout(WAIT, self.reader.read_until(b'\n', &mut self.pending)).await {
            Ok(Ok(0)) if self.pending.is_empty() => None,
            Ok(Ok(_)) => {
                let line = std::mem::take(&mut self.pending);
                Some(
                    String::from_utf8_lossy(&line)
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                )
            }
            Ok(Err(err)) => panic!(
                "{} 读取失败：{}",
                self.local,
                socket_workbook::errors::cause(&err)
            ),
            Err(_) => panic!("等了 {WAIT_SECS} 秒，{} 没有收到下一行", self.local),
        }
    }

    /// 读下一行；连接结束时测试失败。
    pub async fn next_line(&mut self) -> String {
        match self.try_next_line().await {
            Some(line) => line,
            None => panic!("{} 的连接已经结束，没有收到下一行", self.local),
        }
    }

    /// 下一行必须正好是 `expected`。
    pub async fn expect_line(&mut self, expected: &str) {
        let line = self.next_line().await;
        if line != expected {
            panic!(
                "{} 收到的这一行不对。\n期望：{expected}\n实际：{line}",
                self.local
            );
        }
    }

    /// 一直读，直到出现满足 `wanted` 的一行，返回之前（不含）读到的所有行和这一行。
    pub async fn read_until_line(
        &mut self,
        wanted: impl Fn(&str) -> bool,
    ) -> (Vec<String>, String) {
        let mut before = Vec::new();
        loop {
            let line = self.next_line().await;
            if wanted(&line) {
                return (before, line);
            }
            before.push(line);
        }
    }

    /// 对方应当关闭连接：读到结束为止，返回结束前收到的行（读出错也算结束）。
    pub async fn expect_closed(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        loop {
            let mut line = Vec::new();
            match timeout(WAIT, self.reader.read_until(b'\n', &mut line)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return rest,
                Ok(Ok(_)) => rest.push(
                    String::from_utf8_lossy(&line)
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                ),
                Err(_) => panic!(
                    "等了 {WAIT_SECS} 秒，{} 的连接还没有结束；收到了：\n{}",
                    self.local,
                    rest.join("\n")
                ),
            }
        }
    }

    /// 关闭发送方向（半关闭），对方会读到连接结束。
    pub async fn shutdown(&mut self) {
        let _ = self.writer.shutdown().await;
    }

    /// 突然重置连接（SO_LINGER = 0 再关闭，内核发 RST 而不是 FIN）。
    pub fn reset(self) {
        let stream = self
            .reader
            .into_inner()
            .reunite(self.writer)
            .expect("两半属于同一个连接");
        stream.set_zero_linger().expect("设置 SO_LINGER");
        drop(stream);
    }
}

// ---------------------------------------------------------------- 第 5 章：两台“主机”

/// 两台“主机”（网络命名空间，见 tests/support/netns.rs）之间的记录。每台主机有自己的一套端口，
/// 服务端用的是固定端口（20004、20000、8080），照原样保留，书里看到的就是这些数字；
/// 只把系统分给客户端的临时端口（Linux 默认 32768–60999）换成 `[PORT]`，不管前面是哪个地址。
pub fn assert_lan_transcript(name: &str, transcript: &str) {
    check_snapshot(name, transcript, &[(r":[3-6][0-9]{4}(?-u:\b)", ":[PORT]")]);
}

/// 测试要用的外部工具（ss、strace、编译好的 TLS 示例）不在时：打印一行原因，测试就此通过。
/// CI（.ci/run）设了 SOCKET_WORKBOOK_REQUIRE_LAN：那里工具都装好了，缺了就是配置出错，
/// 测试失败而不是悄悄通过（两台主机的测试用同一个变量，见 tests/support/netns.rs）。
pub fn skip_or_fail(line: &str) {
    if std::env::var_os("SOCKET_WORKBOOK_REQUIRE_LAN").is_some() {
        panic!("{line}（设置了 SOCKET_WORKBOOK_REQUIRE_LAN：这里不许跳过）");
    }
    // 直接写标准错误：测试框架截获 eprintln!，测试通过时就看不到这一行了
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// `ss`（iproute2）能不能用；不能用时按 [`skip_or_fail`] 处理。`purpose` 说这个测试要用它看什么。
pub fn ss_available(purpose: &str) -> bool {
    let found = std::process::Command::new("ss")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        skip_or_fail(&format!(
            "跳过：这个测试要用 ss（iproute2）{purpose}，这台机器上找不到它"
        ));
    }
    found
}
