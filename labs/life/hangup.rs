//! # 第 6.2 节 · 连接怎样结束：对方的 read 和 write 会看到什么
//!
//! 一个程序同时扮演 TCP 连接的两端（都在本机回环地址上），把连接结束的几种方式
//! 挨个演示一遍，每一种都打印出另一端的 `read`（和 `write`）返回了什么：
//!
//! - `fin`：正常关闭，对方读到 `Ok(0)`；
//! - `half-close`：只关闭写方向（`shutdown(Write)`），对方读到 `Ok(0)`，却还能回话；
//! - `unread`：接收缓冲区里还有没读的数据就关闭，内核发 RST，对方读到“连接被重置”；
//! - `linger0`：设 `SO_LINGER` 为 0 再关闭，不管有没有没读的数据，都立刻发 RST；
//! - `crash`：一端的进程被强行结束，内核替它关闭套接字：看起来和正常关闭一样；
//! - `half-open`：对方的机器消失了，什么也不会到达（本机上演示不了，只作说明）；
//! - `time-wait`：先关闭的一方留下 TIME_WAIT，重新监听同一个端口时要靠 `SO_REUSEADDR`。
//!
//! 运行：
//!
//! ```text
//! cargo run --bin lab-hangup                      # 按顺序演示全部
//! cargo run --bin lab-hangup -- --case unread     # 只演示一种
//! ```
//!
//! 不用这个程序也能看到前两种：一个终端里 `nc -l 127.0.0.1 9000`，另一个终端里
//! `nc -N 127.0.0.1 9000`，输入一行再按 Ctrl-D（`-N`：标准输入结束时 shutdown 写方向）。

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use socket_workbook::errors::cause;
use socket_workbook::text::printable;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// 任何一步最多等这么久。在本机回环地址上，每一步只需要几微秒。
const WAIT: Duration = Duration::from_secs(5);

/// 演示 TCP 连接结束的几种方式，以及另一端的 read / write 看到什么。
#[derive(Parser)]
#[command(name = "lab-hangup", version)]
struct Args {
    /// 做实验用的本机地址，格式 HOST:PORT；端口 0 表示由系统挑选空闲端口
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,

    /// 只演示这一种结束方式；不给时按顺序演示全部
    #[arg(long, value_enum, value_name = "方式")]
    case: Option<Case>,

    /// 内部使用：crash 演示把这个程序再启动一次，让它在子进程里扮演客户端，连到这个地址
    #[arg(long, hide = true, value_name = "HOST:PORT")]
    crash_child: Option<String>,
}

/// 连接结束的几种方式，按演示的顺序排列。
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Case {
    /// 正常关闭（FIN）：对方读到 Ok(0)
    Fin,
    /// 半关闭：shutdown(Write) 之后还能读对方的回答
    HalfClose,
    /// 还有没读的数据就关闭：内核发 RST
    Unread,
    /// SO_LINGER 设为 0 再关闭：立刻发 RST
    Linger0,
    /// 进程崩溃：内核替它关闭连接
    Crash,
    /// 对方的机器消失了（半开连接）：只作说明
    HalfOpen,
    /// 先关闭的一方留下 TIME_WAIT
    TimeWait,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(addr) = &args.crash_child {
        return crash_child(addr).await;
    }
    let cases = match args.case {
        Some(case) => vec![case],
        None => Case::value_variants().to_vec(),
    };
    for (i, case) in cases.iter().enumerate() {
        if i > 0 {
            println!();
        }
        if let Err(message) = run(*case, &args.addr).await {
            eprintln!("演示失败：{message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

async fn run(case: Case, addr: &str) -> Result<(), String> {
    match case {
        Case::Fin => fin(addr).await,
        Case::HalfClose => half_close(addr).await,
        Case::Unread => unread(addr).await,
        Case::Linger0 => linger0(addr).await,
        Case::Crash => crash(addr).await,
        Case::HalfOpen => {
            half_open();
            Ok(())
        }
        Case::TimeWait => time_wait(addr).await,
    }
}

// ANCHOR: fin
/// 正常关闭：客户端发完数据就关闭连接，内核替它发出 FIN。
async fn fin(addr: &str) -> Result<(), String> {
    println!("== fin：正常关闭（FIN） ==");
    let (mut client, mut server) = connected_pair(addr).await?;
    send(&mut client, "客户端", "hello").await?;
    drop(client); // 关闭连接：没有没读的数据，内核发 FIN
    println!("客户端：关闭连接");
    show_read(&mut server, "服务端").await?; // hello
    show_read(&mut server, "服务端").await?; // Ok(0)
    show_read(&mut server, "服务端").await?; // 再读还是 Ok(0)：结尾不会消失
    // FIN 只说“我不再发了”：服务端的内核分不出对方是关闭了还是半关闭，照样收下要写的数据
    show_write(&mut server, "服务端", "bye").await?;
    // 数据到了一个已经关闭的套接字，对方的内核回 RST；这之后再写就出错了
    write_until_error(&mut server, "服务端").await?;
    Ok(())
}
// ANCHOR_END: fin

// ANCHOR: half_close
/// 半关闭：客户端说完了（shutdown 写方向，发 FIN），但连接的另一个方向还开着，
/// 服务端读到 Ok(0) 之后照样可以回答，客户端照样可以读。
async fn half_close(addr: &str) -> Result<(), String> {
    println!("== half-close：只关闭写方向（shutdown(Write)） ==");
    let (mut client, mut server) = connected_pair(addr).await?;
    send(&mut client, "客户端", "GET /").await?;
    client.shutdown().await.map_err(|e| cause(&e))?; // tokio 的 shutdown 只关闭写方向
    println!("客户端：shutdown(Write)，告诉对方“我说完了”");
    show_read(&mut server, "服务端").await?; // GET /
    show_read(&mut server, "服务端").await?; // Ok(0)：请求到此为止
    send(&mut server, "服务端", "200 OK").await?;
    drop(server);
    println!("服务端：回答完毕，关闭连接");
    show_read(&mut client, "客户端").await?; // 200 OK
    show_read(&mut client, "客户端").await?; // Ok(0)
    Ok(())
}
// ANCHOR_END: half_close

// ANCHOR: unread
/// 还有没读的数据就关闭：数据已经到了服务端的接收缓冲区，服务端一个字节也没读就关闭了。
/// 内核不能假装这些数据被处理过，于是发 RST 而不是 FIN（RFC 1122 第 4.2.2.13 节）。
async fn unread(addr: &str) -> Result<(), String> {
    println!("== unread：接收缓冲区里还有没读的数据就关闭 ==");
    let (mut client, server) = connected_pair(addr).await?;
    send(&mut client, "客户端", "hello").await?;
    wait_until_buffered(&server, 5).await?;
    println!("服务端：hello 已经在接收缓冲区里，一个字节也不读，关闭连接");
    drop(server);
    show_read(&mut client, "客户端").await?; // 连接被重置
    show_write(&mut client, "客户端", "again").await?; // 连接已经不在了
    Ok(())
}
// ANCHOR_END: unread

// ANCHOR: linger0
/// SO_LINGER 设为 0：关闭时不等发送缓冲区发完，直接发 RST，连接当场作废，也不留 TIME_WAIT。
async fn linger0(addr: &str) -> Result<(), String> {
    println!("== linger0：SO_LINGER 设为 0 再关闭 ==");
    let (mut client, server) = connected_pair(addr).await?;
    // tokio 没有直接提供这个选项的稳定写法，借助 socket2 设置
    SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .map_err(|e| cause(&e))?;
    println!("服务端：设置 SO_LINGER = 0，没有没读的数据，关闭连接");
    drop(server);
    show_read(&mut client, "客户端").await?; // 连接被重置
    Ok(())
}
// ANCHOR_END: linger0

// ANCHOR: crash
/// 进程崩溃：把这个程序再启动一次当客户端，连上以后强行结束它（Unix 上是 SIGKILL，
/// Windows 上是 TerminateProcess），它来不及做任何事。它的套接字由内核关闭，
/// 和程序自己关闭一样：没有没读的数据就发 FIN，有就发 RST。
async fn crash(addr: &str) -> Result<(), String> {
    println!("== crash：一端的进程被强行结束 ==");
    for leave_unread in [false, true] {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| bind_failed(addr, &e))?;
        let listener_addr = listener.local_addr().map_err(|e| cause(&e))?;
        let mut child = start_crash_child(listener_addr)?;
        let (mut server, _) = timeout(WAIT, listener.accept())
            .await
            .map_err(|_| format!("等了 {WAIT:?}，子进程还没有连上来"))?
            .map_err(|e| cause(&e))?;
        expect_bytes(&mut server, b"ready").await?;
        if leave_unread {
            // 子进程 peek 到数据之后回 seen：数据已经在它的接收缓冲区里，它却不读
            send(&mut server, "服务端", "ping").await?;
            expect_bytes(&mut server, b"seen").await?;
            println!("子进程：ping 已经在接收缓冲区里，一个字节也不读");
        } else {
            println!("子进程：连上了，没有没读的数据");
        }
        child.kill().map_err(|e| cause(&e))?;
        child.wait().map_err(|e| cause(&e))?;
        println!("强行结束子进程（它来不及 close）");
        show_read(&mut server, "服务端").await?;
    }
    Ok(())
}
// ANCHOR_END: crash

/// 把这个程序再启动一次，让它在子进程里运行 [`crash_child`]。
fn start_crash_child(addr: SocketAddr) -> Result<std::process::Child, String> {
    let me = std::env::current_exe().map_err(|e| cause(&e))?;
    std::process::Command::new(me)
        .args(["--crash-child", &addr.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("无法启动子进程：{}", cause(&e)))
}

/// 子进程：连上去，说一声 ready；一看到有数据到达（只 peek，不读），就回一声 seen；
/// 然后等着被结束。最多等一分钟，万一父进程先没了，也不会永远留在那里。
async fn crash_child(addr: &str) -> ExitCode {
    let result = async {
        let mut conn = TcpStream::connect(addr).await.map_err(|e| cause(&e))?;
        conn.write_all(b"ready").await.map_err(|e| cause(&e))?;
        let mut buf = [0u8; 16];
        if conn.peek(&mut buf).await.map_err(|e| cause(&e))? > 0 {
            conn.write_all(b"seen").await.map_err(|e| cause(&e))?;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<(), String>(())
    };
    match timeout(Duration::from_secs(90), result).await {
        Ok(Err(message)) => {
            eprintln!("子进程出错：{message}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

// ANCHOR: half_open
/// 对方的机器消失了：本机回环地址上做不出来，只说明会看到什么。
fn half_open() {
    println!("== half-open：对方的机器消失了（半开连接） ==");
    println!(
        "本机回环地址上演示不了：两端都在这台机器上，哪一端的进程没了，内核都会替它发 FIN 或 RST。"
    );
    println!("对方的机器断电、网线被拔掉、路上的设备丢掉一切时，什么也不会到达：");
    println!("  read 一直等下去，既不返回 Ok(0)，也不返回错误；");
    println!(
        "  write 照样成功，数据只是进了本机的发送缓冲区，内核一遍遍重传，很久以后（Linux 上默认约 15 分钟）才报错。"
    );
    println!("只有读超时、TCP keepalive、TCP_USER_TIMEOUT 或者应用层的心跳能发现它。");
    println!(
        "在一台机器上亲眼看看：lab-bad-link --stall-after 秒数（第 6.1 节），两台主机之间的记录见第 6.2 节。"
    );
}
// ANCHOR_END: half_open

// ANCHOR: time_wait
/// TIME_WAIT：服务端先关闭连接，它这一头在连接结束后还要留一阵（Linux 上 60 秒）。
/// 这期间在同一个端口上重新监听，成不成功取决于 SO_REUSEADDR。
async fn time_wait(addr: &str) -> Result<(), String> {
    println!("== time-wait：先关闭的一方留下 TIME_WAIT ==");
    // Windows 上 SO_REUSEADDR 的意思不同：它允许别的程序抢占一个正在使用的端口，
    // 服务端不该设它（要防止被抢占，Windows 另有 SO_EXCLUSIVEADDRUSE）。所以只在别的系统上演示设了它的情形
    let rounds: &[bool] = if cfg!(windows) {
        &[false]
    } else {
        &[true, false]
    };
    let mut both_needed = false;
    for &old_reuse in rounds {
        let port = leave_time_wait(addr, old_reuse).await?;
        println!(
            "  新的监听器不设 SO_REUSEADDR → {}",
            try_listen(port, false)
        );
        if cfg!(windows) {
            println!("  （Windows 上不演示设了 SO_REUSEADDR 的情形：那里它的意思是允许抢占端口）");
            continue;
        }
        let result = try_listen(port, true);
        if !old_reuse && result.starts_with("失败") {
            both_needed = true;
        }
        println!("  新的监听器设了 SO_REUSEADDR → {result}");
    }
    if both_needed {
        println!("旧的和新的监听器都设了 SO_REUSEADDR，服务端才能立刻在原来的端口上重新启动。");
    }
    Ok(())
}

/// 在一个监听器（`reuse`：设不设 SO_REUSEADDR）上建立一个连接，服务端先关闭，客户端随后关闭，
/// 再关掉监听器。返回监听器用过的地址：那个端口上现在只剩一个 TIME_WAIT 状态的连接。
async fn leave_time_wait(addr: &str, reuse: bool) -> Result<SocketAddr, String> {
    let given: SocketAddr = addr
        .parse()
        .map_err(|_| format!("{addr} 不是 IP:端口 的格式，例如 127.0.0.1:0"))?;
    // 每一轮都要一个没有 TIME_WAIT 的新端口，所以只用 --addr 的 IP，端口总是让系统挑
    let wanted = SocketAddr::new(given.ip(), 0);
    let listener = listen(wanted, reuse).map_err(|e| bind_failed(addr, &e))?;
    let used = listener.local_addr().map_err(|e| cause(&e))?;
    let mut client = TcpStream::connect(used).await.map_err(|e| cause(&e))?;
    let (server, _) = listener.accept().await.map_err(|e| cause(&e))?;
    drop(server); // 服务端先关闭：TIME_WAIT 会留在服务端这一头，也就是监听的那个端口上
    let mut buf = [0u8; 16];
    let n = timeout(WAIT, client.read(&mut buf))
        .await
        .map_err(|_| format!("等了 {WAIT:?}，客户端还没有读到结尾"))?
        .map_err(|e| cause(&e))?;
    if n != 0 {
        return Err(format!("客户端应当读到结尾，却读到了 {n} 字节"));
    }
    drop(client); // 客户端随后关闭
    drop(listener);
    let setting = if reuse { "设了" } else { "没有设" };
    println!("监听器{setting} SO_REUSEADDR；服务端先关闭连接，客户端随后关闭，再关掉监听器：");
    Ok(used)
}

/// 用 socket2 一步一步建监听器，这样 SO_REUSEADDR 设不设由我们决定
/// （std 和 tokio 的 TcpListener::bind 在 Unix 上总是替我们设上它）。
fn listen(addr: SocketAddr, reuse: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(reuse)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// 试着在 `addr` 上监听，说出结果。
fn try_listen(addr: SocketAddr, reuse: bool) -> String {
    match listen(addr, reuse) {
        Ok(_) => "成功".to_string(),
        Err(err) => format!("失败：{}", cause(&err)),
    }
}
// ANCHOR_END: time_wait

// ANCHOR: show_read
/// 读一次，把 read 的结果说出来：收到几个字节、Ok(0)（读到结尾）还是出错。
async fn show_read(conn: &mut TcpStream, who: &str) -> Result<(), String> {
    let mut buf = [0u8; 64];
    let result = timeout(WAIT, conn.read(&mut buf))
        .await
        .map_err(|_| format!("等了 {WAIT:?}，{who}的 read 还没有返回"))?;
    match result {
        Ok(0) => println!("{who}：read → Ok(0)，读到结尾：对方不会再发数据了"),
        Ok(n) => println!("{who}：read → {}（{n} 字节）", printable(&buf[..n])),
        Err(err) => println!("{who}：read → 出错 {:?}：{}", err.kind(), cause(&err)),
    }
    Ok(())
}

/// 写一次，把 write 的结果说出来。
async fn show_write(conn: &mut TcpStream, who: &str, text: &str) -> Result<(), String> {
    let result = timeout(WAIT, conn.write(text.as_bytes()))
        .await
        .map_err(|_| format!("等了 {WAIT:?}，{who}的 write 还没有返回"))?;
    match result {
        Ok(n) => println!("{who}：write {text} → 成功（{n} 字节）"),
        Err(err) => println!(
            "{who}：write {text} → 出错 {:?}：{}",
            err.kind(),
            cause(&err)
        ),
    }
    Ok(())
}
// ANCHOR_END: show_read

/// 一直写，直到出错为止（最多等 WAIT），说出是什么错误。对方的 RST 什么时候到达，
/// 由调度决定，所以前面成功了几次不打印，只打印第一个错误。
async fn write_until_error(conn: &mut TcpStream, who: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let result = tokio::time::timeout_at(deadline, conn.write(b"bye"))
            .await
            .map_err(|_| format!("写了 {WAIT:?}，{who}的 write 还没有出错"))?;
        if let Err(err) = result {
            println!(
                "{who}：对方的内核回了 RST，再写 → 出错 {:?}：{}",
                err.kind(),
                cause(&err)
            );
            return Ok(());
        }
        tokio::task::yield_now().await; // RST 还没到：让出一下，再写
    }
}

/// 发送一段文字并说出来。
async fn send(conn: &mut TcpStream, who: &str, text: &str) -> Result<(), String> {
    conn.write_all(text.as_bytes())
        .await
        .map_err(|e| cause(&e))?;
    println!("{who}：发送 {text}");
    Ok(())
}

/// 读满 `expected` 那么多字节，必须和它一样（演示里两个进程之间的暗号）。
async fn expect_bytes(conn: &mut TcpStream, expected: &[u8]) -> Result<(), String> {
    let mut buf = vec![0u8; expected.len()];
    timeout(WAIT, conn.read_exact(&mut buf))
        .await
        .map_err(|_| format!("等了 {WAIT:?}，还没有收到 {}", printable(expected)))?
        .map_err(|e| cause(&e))?;
    if buf != expected {
        return Err(format!(
            "应当收到 {}，收到的是 {}",
            printable(expected),
            printable(&buf)
        ));
    }
    Ok(())
}

/// 在 `addr` 上监听，自己连上去，返回连接的两端：（客户端，服务端）。
async fn connected_pair(addr: &str) -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| bind_failed(addr, &e))?;
    let listener_addr = listener.local_addr().map_err(|e| cause(&e))?;
    let client = TcpStream::connect(listener_addr)
        .await
        .map_err(|e| cause(&e))?;
    let (server, _) = listener.accept().await.map_err(|e| cause(&e))?;
    Ok((client, server))
}

/// 一直“偷看”接收缓冲区，直到里面攒够 `total` 个字节（最多等 WAIT）。
async fn wait_until_buffered(conn: &TcpStream, total: usize) -> Result<(), String> {
    let mut buf = [0u8; 64];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = tokio::time::timeout_at(deadline, conn.peek(&mut buf))
            .await
            .map_err(|_| format!("等了 {WAIT:?}，{total} 个字节还没有全部到达"))?
            .map_err(|e| cause(&e))?;
        if n >= total {
            return Ok(());
        }
        tokio::task::yield_now().await; // 还没到齐：让出一下，再看
    }
}

fn bind_failed(addr: &str, err: &std::io::Error) -> String {
    format!(
        "无法在 {addr} 上监听：{}。请换一个地址，例如 --addr 127.0.0.1:0",
        cause(err)
    )
}
