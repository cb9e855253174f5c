//! 第 1 章 `lab-socket` 的场景：打印本机上几个真实套接字的类型、地址和选项。

use std::net::SocketAddr;
use std::path::Path;

use crate::support::*;

const NAME: &str = "lab-socket";

/// 操作系统会按自己的设置和连接情况调整默认的缓冲区大小，每台机器都可能不同，快照里遮住它们。
/// （⑤ 里我们亲手设置之后读回的值是确定的，不遮。）
const BUFFER_FILTERS: &[(&str, &str)] = &[(r"(SO_(SND|RCV)BUF)：\d+ 字节", "$1：[字节数]")];

/// 记录里 `label`（例如 `本地地址`）后面的第 `nth` 个地址（从 0 数起；写着“无”的不算）。
fn address_after(transcript: &str, label: &str, nth: usize) -> SocketAddr {
    let prefix = format!("{label}：");
    transcript
        .lines()
        .filter_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .filter_map(|rest| rest.parse().ok())
        .nth(nth)
        .unwrap_or_else(|| panic!("记录里找不到第 {} 个{label}：\n{transcript}", nth + 1))
}

/// 一次完整的运行：四个套接字的信息，以及修改选项之后读回的值。
pub fn socket_transcript(program: &Path) {
    let transcript = run_to_exit(program, NAME, &["--addr", "127.0.0.1:0"], "");
    // 一条 TCP 连接的两端互为对方：② 的本地地址就是 ③ 的对方地址，反过来也一样；
    // ③ 和监听套接字 ① 用的是同一个本地地址。
    let listener = address_after(&transcript, "本地地址", 0);
    let client = address_after(&transcript, "本地地址", 1);
    let accepted = address_after(&transcript, "本地地址", 2);
    assert_eq!(
        address_after(&transcript, "对方地址", 0),
        listener,
        "② 的对方应当是监听地址"
    );
    assert_eq!(
        address_after(&transcript, "对方地址", 1),
        client,
        "③ 的对方应当是 ②"
    );
    assert_eq!(accepted, listener, "③ 的本地地址应当和监听地址相同");
    assert_ne!(client.port(), listener.port(), "客户端应当有自己的临时端口");
    let transcript = if cfg!(target_os = "linux") {
        transcript
    } else {
        as_linux_would_print(&transcript)
    };
    assert_transcript_with_filters("socket_run", &transcript, BUFFER_FILTERS);
}

/// 快照是在 Linux 上录的。SO_REUSEADDR 和读回的接收缓冲区大小正是各个系统不同的地方
/// （书第 1 章讲），不能用过滤器抹平：在 macOS 和 Windows 上先逐条核对这两处是不是
/// 这个系统该有的样子，再把它们换成 Linux 上的样子，其余部分照样和快照逐行比对。
fn as_linux_would_print(transcript: &str) -> String {
    // tokio 只在 Unix 上给监听套接字打开 SO_REUSEADDR（accept 出来的套接字跟着监听套接字）；
    // Windows 上这个选项的意思是“允许绑定别人正在用的端口”，tokio 不开
    let listener = if cfg!(windows) { "否" } else { "是" };
    let reuse: Vec<&str> = transcript
        .lines()
        .filter_map(|line| line.trim().strip_prefix("SO_REUSEADDR："))
        .collect();
    assert_eq!(
        reuse,
        [listener, "否", listener, "否"],
        "①②③④ 的 SO_REUSEADDR 不对：\n{transcript}"
    );
    // Linux 会把设置的值翻倍（多出的一半留给内核记账），macOS 和 Windows 读回的就是设置的值
    let readback = "set_recv_buffer_size(65536) 之后，SO_RCVBUF = ";
    assert!(
        transcript.contains(&format!("{readback}65536 字节")),
        "读回的 SO_RCVBUF 应当就是设置的 65536：\n{transcript}"
    );
    let mut reuse_lines = 0;
    transcript
        .lines()
        .map(|line| {
            if line.trim().starts_with("SO_REUSEADDR：") {
                reuse_lines += 1;
                // ① 和 ③ 在 Linux 上是“是”（在 macOS 上本来就是）
                if reuse_lines == 1 || reuse_lines == 3 {
                    return line.replace("SO_REUSEADDR：否", "SO_REUSEADDR：是");
                }
                return line.to_string();
            }
            line.replace(
                &format!("{readback}65536 字节"),
                &format!("{readback}131072 字节"),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--hold`：打印完套接字还开着（还能连上监听地址），按回车才退出。
pub async fn socket_hold(program: &Path) {
    let mut program = Program::start(program, NAME, &["--addr", "127.0.0.1:0", "--hold"]);
    program
        .wait_for_line(|line| line.contains("按回车退出"))
        .await;
    let listener = address_after(&program.transcript(), "本地地址", 0);
    // 监听套接字还开着，所以这次连接能成功（连接在它的等待队列里，没人 accept 也没关系）
    let _still_open = connect(listener).await;
    program.type_line("").await;
    let status = program.wait_exit().await;
    assert!(
        status.success(),
        "按回车应当正常退出：\n{}",
        program.transcript()
    );
}

/// 地址已被占用：一行中文说明原因和办法，退出码非零。
pub fn socket_port_in_use(program: &Path) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("占一个端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(program, NAME, &["--addr", &addr], "");
    assert_transcript("socket_port_in_use", &transcript);
}

/// 地址写错了：一行中文说明，退出码非零。
pub fn socket_bad_address(program: &Path) {
    let transcript = run_to_exit(program, NAME, &["--addr", "localhost-20000"], "");
    assert_transcript("socket_bad_address", &transcript);
}
