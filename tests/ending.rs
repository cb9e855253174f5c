//! 第 6.2 节：连接怎样结束（labs/life/hangup.rs）。
//!
//! 先把 lab-hangup 的整份记录和快照比对，再在测试里用自己的套接字把每一种结束方式重做一遍，
//! 逐条核对另一端的 read / write 看到什么：实验打印的说法，测试独立地验证过。
//! `ss` 的两个测试让书里出现真实的 TIME-WAIT、FIN-WAIT-2、CLOSE-WAIT；
//! 最后一个测试在两台“主机”（网络命名空间）之间让一台主机消失，看看半开的连接是什么样子。

#[path = "support/netns.rs"]
mod netns;
mod scenarios;
mod support;

use std::io::ErrorKind;
#[cfg(target_os = "linux")]
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

#[cfg(unix)]
use scenarios::tcp;
#[cfg(target_os = "linux")]
use support::assert_transcript_with_filters;
use support::{WAIT, accept, assert_transcript, connect, run_to_exit, test_listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const HANGUP: &str = "lab-hangup";

fn hangup() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-hangup"))
}

#[cfg(unix)]
fn tcp_server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

/// 每一种方式的名字，按 lab-hangup 演示的顺序。
const CASES: [&str; 7] = [
    "fin",
    "half-close",
    "unread",
    "linger0",
    "crash",
    "half-open",
    "time-wait",
];

// ---------------------------------------------------------------- 实验的记录

/// 整份记录就是书里的那一份。
#[test]
fn hangup_transcript() {
    let transcript = run_to_exit(hangup(), HANGUP, &[], "");
    assert_transcript("ending_hangup", &transcript);
}

/// `--case 名字` 只演示一种，输出和整份记录里的那一段一样。
#[test]
fn each_case_runs_alone_and_prints_its_section() {
    let full = run_to_exit(hangup(), HANGUP, &[], "");
    let body = strip_command_and_exit(&full);
    let sections: Vec<&str> = body.split("\n\n").collect();
    assert_eq!(sections.len(), CASES.len(), "整份记录：\n{full}");
    for (case, section) in CASES.iter().zip(&sections) {
        let alone = run_to_exit(hangup(), HANGUP, &["--case", case], "");
        assert!(alone.ends_with("[退出码 0]"), "{alone}");
        assert_eq!(
            strip_command_and_exit(&alone),
            *section,
            "--case {case} 的输出应当和整份记录里的那一段一样"
        );
        assert!(
            section.starts_with(&format!("== {case}：")),
            "每一段以 == 名字： 开头：{section}"
        );
    }
}

/// 去掉记录的第一行（命令）和最后一行（退出码）。
fn strip_command_and_exit(transcript: &str) -> String {
    let lines: Vec<&str> = transcript.lines().collect();
    lines[1..lines.len() - 1].join("\n")
}

// ---------------------------------------------------------------- 每一种方式，测试自己再做一遍

/// 一对连上的套接字：（客户端，服务端）。
async fn pair() -> (TcpStream, TcpStream) {
    let (listener, addr) = test_listener().await;
    let client = connect(addr).await;
    let server = accept(&listener).await;
    (client, server)
}

/// 读一次（最多等 [`WAIT`]）。
async fn read_once(conn: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = [0u8; 64];
    match timeout(WAIT, conn.read(&mut buf)).await {
        Ok(result) => result.map(|n| buf[..n].to_vec()),
        Err(_) => panic!("等了 {} 秒，read 还没有返回", WAIT.as_secs()),
    }
}

/// 等到 `conn` 的接收缓冲区里至少有 `total` 个字节（只 peek，不取走）。
async fn wait_until_buffered(conn: &TcpStream, total: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = [0u8; 64];
    loop {
        let n = tokio::time::timeout_at(deadline, conn.peek(&mut buf))
            .await
            .expect("数据在时限内到达")
            .expect("peek");
        if n >= total {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// 正常关闭：对方先读到数据，再读到 Ok(0)，之后一直是 Ok(0)。
#[tokio::test]
async fn a_normal_close_is_read_as_eof() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"hello").await.expect("发送");
    drop(client);
    let mut got = Vec::new();
    loop {
        let chunk = read_once(&mut server).await.expect("正常关闭不是错误");
        if chunk.is_empty() {
            break;
        }
        got.extend(chunk);
    }
    assert_eq!(got, b"hello");
    assert!(read_once(&mut server).await.expect("再读").is_empty());
}

/// 对方关闭以后：第一次 write 照样成功（内核分不出关闭和半关闭），对方的内核回 RST，
/// 之后的 write 出错。
#[tokio::test]
async fn writing_to_a_closed_peer_succeeds_first_then_fails() {
    let (client, mut server) = pair().await;
    drop(client);
    assert!(read_once(&mut server).await.expect("读到结尾").is_empty());
    let n = server.write(b"bye").await.expect("第一次 write 照样成功");
    assert_eq!(n, 3);
    let deadline = tokio::time::Instant::now() + WAIT;
    let err = loop {
        match tokio::time::timeout_at(deadline, server.write(b"bye")).await {
            Ok(Ok(_)) => tokio::task::yield_now().await,
            Ok(Err(err)) => break err,
            Err(_) => panic!("写了 {} 秒，write 还没有出错", WAIT.as_secs()),
        }
    };
    // Linux 上是 EPIPE（RST 到达时连接在 CLOSE_WAIT）；别的系统也可能说连接被重置或中止
    let expected: &[ErrorKind] = if cfg!(target_os = "linux") {
        &[ErrorKind::BrokenPipe]
    } else {
        &[
            ErrorKind::BrokenPipe,
            ErrorKind::ConnectionReset,
            ErrorKind::ConnectionAborted,
        ]
    };
    assert!(expected.contains(&err.kind()), "{err}");
}

/// 半关闭：对方读到 Ok(0) 以后还能回答，先关闭写方向的一方照样读得到。
#[tokio::test]
async fn after_a_half_close_the_reply_still_arrives() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"GET /").await.expect("发送");
    client.shutdown().await.expect("shutdown(Write)");
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.expect("读到结尾");
    assert_eq!(request, b"GET /");
    server
        .write_all(b"200 OK")
        .await
        .expect("半关闭之后对方照样能写");
    drop(server);
    let mut reply = Vec::new();
    timeout(WAIT, client.read_to_end(&mut reply))
        .await
        .expect("在时限内读完")
        .expect("读回答");
    assert_eq!(reply, b"200 OK");
}

/// 接收缓冲区里还有没读的数据就关闭：对方的 read 得到“连接被重置”，之后的 write 也失败。
#[tokio::test]
async fn closing_with_unread_data_resets_the_peer() {
    let (mut client, server) = pair().await;
    client.write_all(b"hello").await.expect("发送");
    wait_until_buffered(&server, 5).await;
    drop(server);
    let err = read_once(&mut client).await.expect_err("应当是 RST");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    let err = client.write(b"again").await.expect_err("RST 之后写不进去");
    // Linux 和 macOS 上是 EPIPE；Windows 上是 WSAECONNRESET 或 WSAECONNABORTED
    if cfg!(target_os = "linux") {
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    }
}

/// SO_LINGER 为 0：没有没读的数据，关闭时照样发 RST。
#[tokio::test]
async fn zero_linger_resets_the_peer() {
    let (mut client, server) = pair().await;
    socket2::SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .expect("设置 SO_LINGER");
    drop(server);
    let err = read_once(&mut client).await.expect_err("应当是 RST");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

/// 测试程序自己：被强行结束的客户端进程由它扮演（和 tests/tcp.rs 一样）。
#[cfg(unix)]
fn helper() -> std::path::PathBuf {
    std::env::current_exe().expect("测试程序的路径")
}

/// 进程崩溃看起来和正常关闭一样：第 2 章的回声服务端打印“已关闭连接”，不是读取失败。
#[cfg(unix)]
#[tokio::test]
async fn a_killed_process_looks_like_a_close_to_the_echo_server() {
    tcp::killed_client_closes_normally(tcp_server(), &helper()).await;
}

/// 被结束的进程还有没读的数据：第 2 章的回声服务端看到连接被重置（Linux 的做法）。
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_killed_process_with_unread_data_resets_the_echo_server() {
    tcp::killed_client_with_unread_data_resets(tcp_server(), &helper()).await;
}

/// 不是独立的测试：上面两个测试把测试程序再启动一次，让它在子进程里扮演被结束的客户端。
#[cfg(unix)]
#[test]
#[ignore = "由 a_killed_process_… 在子进程里运行"]
fn killed_client_helper() {
    tcp::killed_client_helper();
}

/// 用 socket2 建一个监听器，SO_REUSEADDR 设不设由参数决定。
#[cfg(target_os = "linux")]
fn listen(addr: SocketAddr, reuse: bool) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(reuse)?;
    socket.bind(&addr.into())?;
    socket.listen(16)?;
    Ok(socket.into())
}

/// 服务端先关闭、客户端随后关闭，再关掉监听器：监听的端口上只剩一个 TIME_WAIT 连接。
/// 返回（监听过的地址，客户端的地址）。
#[cfg(target_os = "linux")]
fn leave_time_wait(reuse: bool) -> (SocketAddr, SocketAddr) {
    use std::io::Read;
    let listener = listen("127.0.0.1:0".parse().expect("地址"), reuse).expect("监听");
    let addr = listener.local_addr().expect("本地地址");
    let mut client = std::net::TcpStream::connect(addr).expect("连接");
    let client_addr = client.local_addr().expect("客户端地址");
    let (server, _) = listener.accept().expect("accept");
    drop(server);
    client.set_read_timeout(Some(WAIT)).expect("读取时限");
    assert_eq!(client.read(&mut [0u8; 8]).expect("读到结尾"), 0);
    drop(client);
    drop(listener);
    (addr, client_addr)
}

/// Linux 上的 TIME_WAIT 和 SO_REUSEADDR：新监听器不设它就失败；设了，还要旧的监听器也设过才成功。
#[cfg(target_os = "linux")]
#[test]
fn time_wait_needs_reuseaddr_on_both_listeners_on_linux() {
    let (port, _) = leave_time_wait(true);
    let err = listen(port, false).expect_err("TIME_WAIT 还在，不设 SO_REUSEADDR 应当失败");
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    listen(port, true).expect("两边都设了 SO_REUSEADDR，应当成功");

    let (port, _) = leave_time_wait(false);
    for reuse in [false, true] {
        let err = listen(port, reuse).expect_err("旧监听器没设 SO_REUSEADDR，应当失败");
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    }
}

/// std 和 tokio 的 TcpListener::bind 在 Unix 上都替我们设了 SO_REUSEADDR（实验和书里这样说）。
#[cfg(unix)]
#[tokio::test]
async fn std_bind_sets_reuseaddr_on_unix() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("监听");
    let reuse = socket2::SockRef::from(&listener)
        .reuse_address()
        .expect("读 SO_REUSEADDR");
    assert!(reuse, "std 的 TcpListener::bind 应当设了 SO_REUSEADDR");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("监听");
    let reuse = socket2::SockRef::from(&listener)
        .reuse_address()
        .expect("读 SO_REUSEADDR");
    assert!(reuse, "tokio 的 TcpListener::bind 应当设了 SO_REUSEADDR");
}

// ---------------------------------------------------------------- ss -tan：真实的连接状态

/// 和快照比对 ss 的记录：服务端的端口换成 `[服务端]`，客户端的端口换成 `[客户端]`，
/// 读者一眼看出哪一行是哪一头。
#[cfg(target_os = "linux")]
fn assert_ss_transcript(name: &str, transcript: &str, server: SocketAddr, client: SocketAddr) {
    let server_port = format!(r":{}\b", server.port());
    let client_port = format!(r":{}\b", client.port());
    let filters = [
        (server_port.as_str(), ":[服务端]"),
        (client_port.as_str(), ":[客户端]"),
    ];
    assert_transcript_with_filters(name, transcript, &filters);
}

/// 运行 `ss -tan`，只看端口 `a` 和端口 `b` 之间的那个连接（两个方向各一行）。只按一个端口过滤不够：
/// 端口号会被别的连接重新用上，之前用过它的连接也许还在 TIME-WAIT 里。
/// 表头之后的各行排好序（ss 按哈希表的顺序列出），每行去掉行尾的空格。返回（命令行，输出）。
#[cfg(target_os = "linux")]
fn ss(a: u16, b: u16) -> (String, String) {
    let filter = format!("( sport = :{a} and dport = :{b} ) or ( sport = :{b} and dport = :{a} )");
    let output = std::process::Command::new("ss")
        .args(["-tan", &filter])
        .output()
        .expect("运行 ss");
    assert!(output.status.success(), "ss 失败：{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines().map(str::trim_end);
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows: Vec<String> = lines.map(str::to_string).collect();
    rows.sort();
    let command = format!("$ ss -tan '{filter}'");
    (
        command,
        std::iter::once(header)
            .chain(rows)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// 一直运行 ss，直到输出满足 `done`（每 20 毫秒看一次，最多看 [`WAIT`]）。内核改变连接状态
/// 不会通知别的进程，只好反复看；在回环地址上通常第一次就对了。
#[cfg(target_os = "linux")]
fn ss_until(a: SocketAddr, b: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (command, output) = ss(a.port(), b.port());
        if done(&output) {
            return format!("{command}\n{output}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "等了 {} 秒，ss 的输出还不是想要的样子：\n{output}",
            WAIT.as_secs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// 服务端先关闭：ss 列出服务端这一头的 TIME-WAIT，客户端那一头已经不见了。
#[cfg(target_os = "linux")]
#[test]
fn ss_shows_time_wait_on_the_side_that_closed_first() {
    if !support::ss_available("看连接的状态") {
        return;
    }
    let (addr, client_addr) = leave_time_wait(true);
    let port = addr.port();
    let transcript = ss_until(addr, client_addr, |out| {
        out.lines().count() == 2 && out.contains("TIME-WAIT")
    });
    let local = format!("127.0.0.1:{port} ");
    let row = transcript.lines().last().expect("一行");
    assert!(
        row.starts_with("TIME-WAIT") && row.contains(&local),
        "TIME-WAIT 应当在服务端（本地端口 {port}）这一头：\n{transcript}"
    );
    assert_ss_transcript("ending_ss_time_wait", &transcript, addr, client_addr);
}

/// 半关闭：先 shutdown 写方向的一方在 FIN-WAIT-2，读到 Ok(0) 还没关闭的一方在 CLOSE-WAIT。
#[cfg(target_os = "linux")]
#[tokio::test]
async fn ss_shows_fin_wait_2_and_close_wait_during_a_half_close() {
    if !support::ss_available("看连接的状态") {
        return;
    }
    let (listener, addr) = test_listener().await;
    let mut client = connect(addr).await;
    let mut server = accept(&listener).await;
    drop(listener);
    client.shutdown().await.expect("shutdown(Write)");
    assert!(read_once(&mut server).await.expect("读").is_empty());
    let port = addr.port();
    let client_addr = client.local_addr().expect("客户端地址");
    let transcript = tokio::task::spawn_blocking(move || {
        ss_until(addr, client_addr, |out| {
            out.lines().count() == 3 && out.contains("FIN-WAIT-2") && out.contains("CLOSE-WAIT")
        })
    })
    .await
    .expect("ss 线程");
    let local = format!("127.0.0.1:{port} ");
    let close_wait = transcript
        .lines()
        .find(|line| line.starts_with("CLOSE-WAIT"))
        .expect("有 CLOSE-WAIT");
    assert!(
        close_wait.contains(&local),
        "CLOSE-WAIT 应当在服务端这一头：\n{transcript}"
    );
    assert_ss_transcript("ending_ss_half_close", &transcript, addr, client_addr);
    drop((client, server));
}

// ---------------------------------------------------------------- 两台主机：一台消失了

/// 主机 B 上的套接字：在一个临时线程里进入主机 B 的网络命名空间（setns），在那里连上 `addr`。
/// 套接字属于创建它的那个命名空间，线程结束以后，测试在哪里用它都一样。
#[cfg(target_os = "linux")]
fn connect_from_host(host: &str, addr: SocketAddr) -> std::net::TcpStream {
    use std::os::fd::AsRawFd;
    let path = format!("/var/run/netns/{host}");
    std::thread::spawn(move || {
        let namespace = std::fs::File::open(&path).expect("打开命名空间");
        // SAFETY: setns 只改变这个线程所在的网络命名空间；文件描述符在调用期间一直有效
        let rc = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns：{}", std::io::Error::last_os_error());
        std::net::TcpStream::connect_timeout(&addr, WAIT).expect("从主机 B 连接主机 A")
    })
    .join()
    .expect("连接线程")
}

/// 主机 A 突然消失（防火墙丢掉进出主机 A 的一切，就像它断了电）：主机 B 上的连接变成半开的。
/// read 什么也等不到，write 照样成功；设了 TCP_USER_TIMEOUT 之后，没有被确认的数据放了那么久，
/// 连接就以“操作超时”结束。主机 A 上第 2 章的回声服务端什么也不知道。
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_vanished_host_leaves_a_half_open_connection() {
    let Some(lan) = netns::lan_with_firewall_or_skip() else {
        return;
    };
    let mut server = lan.start_on_a(tcp_server(), "lab-tcp-server", &["--addr", "0.0.0.0:20000"]);
    let first = server.next_line().await;
    assert!(first.contains("0.0.0.0:20000"), "{first}");

    let mut log = Vec::new();
    let addr: SocketAddr = format!("{}:20000", netns::A_V4).parse().expect("地址");
    let std_stream = connect_from_host(lan.on_b()[3], addr);
    std_stream.set_nonblocking(true).expect("非阻塞");
    let mut stream = TcpStream::from_std(std_stream).expect("交给 tokio");
    stream.write_all(b"hello").await.expect("发送 hello");
    let echo = support::read_exactly(&mut stream, 5).await;
    assert_eq!(echo, b"hello");
    log.push("host-b：连上 192.0.2.1:20000，发送 hello，收到回声 hello".to_string());
    server
        .wait_for_line(|line| line == "收到client端发来的数据： hello")
        .await;

    lan.nft_on_a(
        "add table inet vanish; \
         add chain inet vanish input { type filter hook input priority 0; policy drop; }; \
         add chain inet vanish output { type filter hook output priority 0; policy drop; }",
    );
    log.push("host-a：防火墙丢掉进出的一切，主机 A 就像断了电".to_string());

    let quiet = Duration::from_secs(1);
    let mut buf = [0u8; 64];
    let waited = timeout(quiet, stream.read(&mut buf)).await;
    assert!(waited.is_err(), "主机 A 消失后 read 不该返回：{waited:?}");
    log.push("host-b：read 等了 1 秒：什么也没有，既不是 Ok(0)，也不是错误".to_string());

    let n = stream.write(b"anyone?").await.expect("write 照样成功");
    log.push(format!(
        "host-b：write anyone? → 成功（{n} 字节进了发送缓冲区）"
    ));
    let waited = timeout(quiet, stream.read(&mut buf)).await;
    assert!(waited.is_err(), "重传期间 read 不该返回：{waited:?}");
    log.push("host-b：read 又等了 1 秒：还是什么也没有（内核在重传，没有人回答）".to_string());

    socket2::SockRef::from(&stream)
        .set_tcp_user_timeout(Some(Duration::from_secs(1)))
        .expect("设置 TCP_USER_TIMEOUT");
    log.push("host-b：设置 TCP_USER_TIMEOUT = 1 秒（没被确认的数据最多等这么久）".to_string());
    let started = std::time::Instant::now();
    let result = timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("设了 TCP_USER_TIMEOUT，read 应当在时限内出错");
    let err = result.expect_err("连接应当超时");
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() < WAIT);
    log.push(format!(
        "host-b：read → 出错 {:?}：{}",
        err.kind(),
        socket_workbook::errors::cause(&err)
    ));
    support::assert_lan_transcript("ending_half_open", &log.join("\n"));

    // 主机 A 上的回声服务端一行也没有多打印：它不知道连接已经没了
    server.kill().await;
    let transcript = server.transcript().replacen("$ ", "host-a$ ", 1);
    support::assert_lan_transcript("ending_half_open_server", &transcript);
}
