//! 第 2.3 节黏包的场景：不分帧时消息黏在一起，加上长度前缀之后一条不差。
//!
//! 每个场景的参数是服务端和客户端程序的路径；`flag` 是分帧方式：
//! `--framed`（手写的 proto 模块）或 `--codec`（LengthDelimitedCodec）。

use std::path::Path;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::*;

const SERVER: &str = "lab-sticky-server";
const CLIENT: &str = "lab-sticky-client";

/// 客户端每次发送的消息。
pub const MESSAGE: &str = "Hello, Hello. How are you?";
/// 服务端打印收到的数据时用的前缀。
const RECEIVED: &str = "收到client端发来的数据： ";

/// 服务端记录里每一次“收到”的内容（不分帧时是每次 read，分帧时是每条消息）。
fn received(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix(RECEIVED))
        .map(str::to_string)
        .collect()
}

/// 启动服务端和客户端，等客户端发完退出、服务端报告连接关闭，返回两份记录。
async fn run_pair(
    server: &Path,
    client: &Path,
    server_args: &[&str],
    client_args: &[&str],
) -> (String, String) {
    let (mut server, addr) = start_server(server, SERVER, server_args).await;
    let addr = addr.to_string();
    let mut args = vec!["--addr", addr.as_str()];
    args.extend_from_slice(client_args);
    let mut client = Program::start(client, CLIENT, &args);
    let status = client.wait_exit().await;
    assert!(
        status.success(),
        "客户端应当正常退出：\n{}",
        client.transcript()
    );
    server
        .wait_for_line(|line| line.contains("已关闭连接"))
        .await;
    (server.transcript(), client.transcript())
}

/// 不分帧：客户端写了 20 次，服务端读到的次数少于 20，但字节一个不少、顺序不变。
/// 服务端先等客户端发完再读，所以每次运行都是同样的结果：一次读到全部 520 字节。
pub async fn unframed_run(server: &Path, client: &Path) {
    let (server_log, client_log) = run_pair(server, client, &[], &[]).await;
    let reads = received(&server_log);
    assert!(
        reads.len() < 20,
        "20 条消息应当黏在一起、少于 20 次读完，实际读了 {} 次：\n{server_log}",
        reads.len()
    );
    assert_eq!(reads.concat(), MESSAGE.repeat(20), "服务端收到的字节不对");
    let server_log = if cfg!(windows) {
        as_linux_would_print(&server_log)
    } else {
        server_log
    };
    assert_transcript("sticky_run", &format!("{client_log}\n\n{server_log}"));
}

/// 快照是在 Linux 上录的：服务端等的是客户端的 FIN。Windows 在数据读走之前不报告 FIN，
/// 服务端改为等接收缓冲区不再变多（见 labs/sticky/server.rs），说的话也不同。这是书里讲的差别，
/// 所以先核对 Windows 上这句话说得对，再换成 Linux 上的说法，其余部分照样和快照逐行比对。
fn as_linux_would_print(server_log: &str) -> String {
    let windows = "发完（接收缓冲区 300ms 没有再变多）再开始读";
    assert!(
        server_log.contains(windows),
        "Windows 上服务端应当说它在等接收缓冲区不再变多：\n{server_log}"
    );
    server_log.replace(windows, "发完（收到它的 FIN）再开始读")
}

/// `--eager`：一有数据就读。读几次要看时机，每次运行可能不同，但字节一个不少、顺序不变。
pub async fn eager_run_keeps_every_byte(server: &Path, client: &Path) {
    let (server_log, _) = run_pair(server, client, &["--eager"], &[]).await;
    // 读了几次不做要求（那取决于时机），只要求字节一个不少、顺序不变
    let reads = received(&server_log);
    assert_eq!(
        reads.concat(),
        MESSAGE.repeat(20),
        "服务端收到的字节不对：\n{server_log}"
    );
}

/// 分帧：服务端一条不多、一条不少地收到 20 条完整的消息。`snapshot` 为 None 时只检查不存快照。
pub async fn framed_run(
    server: &Path,
    client: &Path,
    server_flag: &str,
    client_flag: &str,
    snapshot: Option<&str>,
) {
    let (server_log, client_log) = run_pair(server, client, &[server_flag], &[client_flag]).await;
    let messages = received(&server_log);
    assert_eq!(
        messages,
        vec![MESSAGE.to_string(); 20],
        "服务端应当正好收到 20 条完整的消息：\n{server_log}"
    );
    assert!(
        server_log.contains("已关闭连接：一共收到 20 条消息"),
        "服务端应当报告收到 20 条消息：\n{server_log}"
    );
    if let Some(name) = snapshot {
        assert_transcript(name, &format!("{client_log}\n\n{server_log}"));
    }
}

/// 连上服务端，发出 `bytes`（可选地再关闭发送方向），再等服务端打印出含有 `wanted` 的一行，
/// 并且关闭这条连接。
async fn send_bad(
    server: &mut Program,
    addr: std::net::SocketAddr,
    bytes: &[u8],
    then_close: bool,
    wanted: &str,
) {
    let mut stream = connect(addr).await;
    let me = stream.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    write_all(&mut stream, bytes).await;
    if then_close {
        timeout(WAIT, stream.shutdown())
            .await
            .expect("关闭发送方向超时")
            .expect("关闭发送方向");
    }
    let line = server.next_line().await;
    assert!(
        line.contains(wanted) && line.contains(&me.to_string()),
        "服务端应当报告“{wanted}”，实际是：{line}\n记录：\n{}",
        server.transcript()
    );
    expect_closed(&mut stream, "收到坏数据之后").await;
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) {
    timeout(WAIT, stream.write_all(bytes))
        .await
        .expect("发送超时")
        .expect("发送失败");
}

/// 坏数据：不分帧的客户端、声明 4 GiB 的帧、消息中途断开、长度字段中途断开。
/// 服务端逐个报告、断开那个连接，自己不崩溃，之后的客户端照常收发。
pub async fn framed_rejects_bad_input(server: &Path, flag: &str, snapshot: &str) {
    let (mut server, addr) = start_server(server, SERVER, &[flag]).await;

    // 1. 忘了加 --framed 的客户端：前 4 个字节 "Hell" 被当成长度，约 12 亿字节
    send_bad(&mut server, addr, MESSAGE.as_bytes(), false, "超过了上限").await;
    // 2. 长度字段是 ff ff ff ff（4 GiB）：立刻拒绝，不会等、也不会分配这么多内存
    send_bad(&mut server, addr, &[0xff; 4], false, "超过了上限").await;
    // 3. 声明 26 字节，只发 5 字节就关闭
    let mut truncated = 26u32.to_be_bytes().to_vec();
    truncated.extend_from_slice(b"Hello");
    send_bad(&mut server, addr, &truncated, true, "不完整").await;
    // 4. 长度字段只发了 2 个字节就关闭
    send_bad(&mut server, addr, &[0, 0], true, "不完整").await;

    // 5. 服务端还活着：一个正常的客户端照样收发
    let mut good = connect(addr).await;
    let me = good.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    let mut frame = 6u32.to_be_bytes().to_vec(); // “你好”在 UTF-8 里是 6 个字节
    frame.extend_from_slice("你好".as_bytes());
    write_all(&mut good, &frame).await;
    server.expect_line(&format!("{RECEIVED}你好")).await;
    drop(good);
    server
        .expect_line(&format!("客户端 {me} 已关闭连接：一共收到 1 条消息"))
        .await;
    assert_transcript(snapshot, &server.transcript());
}

/// 没有服务端在运行：一行中文说明原因，并给出启动服务端的命令，退出码非零。
pub fn client_without_server(client: &Path) {
    let addr = unused_address().to_string();
    let transcript = run_to_exit(client, CLIENT, &["--addr", &addr], "");
    assert_transcript("sticky_client_no_server", &transcript);
}

/// --framed 和 --codec 不能同时用：clap 给出错误，退出码非零，什么也不发送。
pub fn client_rejects_two_framings(client: &Path) {
    let addr = unused_address().to_string();
    let transcript = run_to_exit(
        client,
        CLIENT,
        &["--addr", &addr, "--framed", "--codec"],
        "",
    );
    assert!(
        transcript.contains("--framed") && transcript.contains("--codec"),
        "错误信息应当指出冲突的两个参数：\n{transcript}"
    );
    assert!(transcript.ends_with("[退出码 2]"), "{transcript}");
}

/// 端口已被占用：一行中文说明原因和办法，退出码非零。
pub fn server_port_in_use(server: &Path) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("占一个端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(server, SERVER, &["--addr", &addr], "");
    assert_transcript("sticky_server_port_in_use", &transcript);
}

/// --count 超出 1 到 1000：clap 报告允许的范围，退出码非零，什么也不发送。
pub fn client_rejects_bad_count(client: &Path) {
    let addr = unused_address().to_string();
    let transcript = run_to_exit(client, CLIENT, &["--addr", &addr, "--count", "0"], "");
    assert!(
        transcript.contains("1..=1000"),
        "错误信息应当写出允许的范围：\n{transcript}"
    );
    assert!(transcript.ends_with("[退出码 2]"), "{transcript}");
}
