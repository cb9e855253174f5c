//! # 练习 6.2：一边写一边读：大块数据不再卡死
//!
//! 这个文件是 `labs/life/bulk_client.rs` 的练习版：写着 `todo!("练习 6.2：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 6.4 节《只写不读会卡死》的实验表现得一模一样。
//!
//! - 运行你的版本：`cargo run --features exercises --bin ex-bulk-client`
//! - 检查：`cargo run --bin workbook -- check bulk-client`
//! - 提示：`cargo run --bin workbook -- hint bulk-client`
//! - 重读：book/ch06-4-deadlock.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use socket_workbook::errors::{cause, connect_failed};
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// 向回声服务端发一大块数据再全部收回来：看只写不读怎样卡死，一边写一边读怎样解决。
#[derive(Parser)]
#[command(name = "lab-bulk-client", version)]
struct Args {
    /// 回声服务端的地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:20000", value_name = "HOST:PORT")]
    addr: String,

    /// 一共发送多少字节（1 到 1 GiB：数据和收回的回声都放在内存里）
    #[arg(
        long,
        default_value_t = 1024 * 1024,
        value_name = "字节数",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_SIZE)
    )]
    size: usize,

    /// 一边写一边读（不加这个选项就是先全部写完再读）
    #[arg(long)]
    together: bool,

    /// 连接之前把本机的发送缓冲区和接收缓冲区都设成这么大（Linux 读回来是它的两倍）
    #[arg(long, value_name = "字节数")]
    buffer: Option<usize>,

    /// 两个方向都没有进展多少秒，就认定卡死了
    #[arg(long, default_value_t = 3, value_name = "秒", value_parser = clap::value_parser!(u64).range(1..=600))]
    stall_timeout: u64,

    /// 每秒打印一次写出和读回了多少字节
    #[arg(long)]
    verbose: bool,
}

/// `--size` 的上限：1 GiB。发出的数据和收回的回声都整块放在内存里，再大就可能把内存用光。
const MAX_SIZE: u64 = 1024 * 1024 * 1024;

/// 写出和读回的字节数。收发的代码每前进一步就加上去，看门狗隔一会儿看一眼。
#[derive(Default)]
struct Progress {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Progress {
    fn now(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let conn = match connect(&args.addr, args.buffer).await {
        Ok(conn) => conn,
        Err(err) => {
            eprintln!("{}", connect_failed(&args.addr, &err, "lab-tcp-server"));
            return ExitCode::FAILURE;
        }
    };
    // 读回系统真正用的缓冲区大小：设置的值只是一个请求
    let buffers = Buffers::of(&conn);
    println!("{}", connected(&args.addr, &buffers));
    println!("{}", plan(args.size, args.together));

    let data = payload(args.size);
    let progress = Progress::default();
    let transfer = async {
        if args.together {
            send_and_receive_together(conn, &data, &progress).await
        } else {
            write_then_read(conn, &data, &progress).await
        }
    };
    let stall = Duration::from_secs(args.stall_timeout);
    // 收发和看门狗同时进行：哪个先结束就听哪个的。看门狗先结束，收发的 future 随之被丢弃，连接关闭
    let outcome = tokio::select! {
        outcome = transfer => outcome,
        (sent, received) = watchdog(&progress, stall, args.verbose) => {
            eprintln!("{}", stalled(args.stall_timeout, sent, received, args.size, &buffers));
            // 只有先写完再读、而且还没写完时，才是本节说的死锁：我们卡在写上，还一个字节都没读。
            // 一边写一边读时，或者已经写完在等回声时，停住说明服务端自己不动了
            if !args.together && sent < args.size as u64 {
                eprintln!("{}", DEADLOCK);
                eprintln!("{}", DEADLOCK_FIX);
            } else {
                eprintln!("{}", no_answer(args.stall_timeout));
            }
            return ExitCode::FAILURE;
        }
    };
    match outcome {
        Ok(echo) => match first_difference(&data, &echo) {
            None => {
                println!("{}", intact(data.len()));
                ExitCode::SUCCESS
            }
            Some(at) => {
                eprintln!("{}", not_intact(data.len(), echo.len(), at));
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// 连上服务端。要改缓冲区大小，必须在连接之前：TCP 在握手时就按接收缓冲区的大小商定窗口的放大倍数，
/// 所以先建一个还没连接的 TcpSocket，设好选项再 connect。
async fn connect(addr: &str, buffer: Option<usize>) -> io::Result<TcpStream> {
    let Some(size) = buffer else {
        return TcpStream::connect(addr).await;
    };
    let target = first_address(addr).await?;
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // 两个选项都是整数，tokio 的参数是 u32；太大的值交给系统去截到它的上限
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    socket.set_send_buffer_size(size)?;
    socket.set_recv_buffer_size(size)?;
    socket.connect(target).await
}

/// 把 HOST:PORT 解析成第一个地址（名字要查，数字地址直接用）。
async fn first_address(addr: &str) -> io::Result<SocketAddr> {
    let mut found = tokio::net::lookup_host(addr).await?;
    found.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} 没有解析出任何地址"),
        )
    })
}

/// 这条连接上本机的两个缓冲区有多大（字节）。
struct Buffers {
    send: Option<usize>,
    recv: Option<usize>,
}

impl Buffers {
    fn of(conn: &TcpStream) -> Buffers {
        let socket = SockRef::from(conn);
        Buffers {
            send: socket.send_buffer_size().ok(),
            recv: socket.recv_buffer_size().ok(),
        }
    }
}

/// 要发送的数据：字母和数字，每个位置上的字符由位置决定，这样收回来以后能逐字节核对，
/// 服务端打印出来的也是看得懂的字。
fn payload(size: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..size)
        .map(|i| ALPHABET[(i * 7 + i / 251) % ALPHABET.len()])
        .collect()
}

/// 天真的做法：先把数据全部写完，再读回声。
async fn write_then_read(
    mut conn: TcpStream,
    data: &[u8],
    progress: &Progress,
) -> Result<Vec<u8>, String> {
    // 回声服务端边收边回。我们这里一直在写、没有读，回声就堆在两边的缓冲区里；
    // 堆满了，服务端写不出去就不再读，我们的 write 也就永远等不到空位
    send_all(&mut conn, data, progress).await?;
    receive_all(&mut conn, data.len(), progress).await
}

/// 正确的做法：一边写一边读。
async fn send_and_receive_together(
    mut conn: TcpStream,
    data: &[u8],
    progress: &Progress,
) -> Result<Vec<u8>, String> {
    // TODO（练习 6.2）：发送和接收的两个函数都已经写好，在下面：send_all(writer, data, progress) 写完全部数据再关闭写的方向，
    // receive_all(reader, data.len(), progress) 读到服务端关闭连接为止，返回读到的全部字节；它们出错时返回的话也写好了。
    // 你要做的是让两件事同时进行：用 conn.split()（或 into_split()）把连接分成读、写两半，
    // 再用 tokio::join!(send_all(…), receive_all(…)) 同时等它们（不要用 select!：先结束的那个会把另一个丢掉）。
    // 两个都做完以后：发送出错就返回发送的错误（用 ?），否则返回接收的结果。
    todo!("练习 6.2：一边写一边读：大块数据不再卡死")
}

/// 把 `data` 全部写出去，然后关闭写的方向（半关闭）：服务端读到结尾，回完最后一块就会关闭连接。
/// 每写出一点就记进 `progress`。
async fn send_all(
    mut writer: impl AsyncWrite + Unpin,
    data: &[u8],
    progress: &Progress,
) -> Result<(), String> {
    let mut sent = 0;
    while sent < data.len() {
        // 一次 write 写出多少，由发送缓冲区里还有多少空位决定；没有空位时，它就在这里等
        let n = match writer.write(&data[sent..]).await {
            Ok(0) => {
                return Err(send_failed(
                    sent,
                    data.len(),
                    &io::ErrorKind::WriteZero.into(),
                ));
            }
            Ok(n) => n,
            Err(err) => return Err(send_failed(sent, data.len(), &err)),
        };
        sent += n;
        progress.sent.fetch_add(n as u64, Ordering::Relaxed);
    }
    if let Err(err) = writer.shutdown().await {
        return Err(send_failed(sent, data.len(), &err));
    }
    Ok(())
}

/// 读到服务端关闭连接为止，返回读到的全部字节。每读到一块就记进 `progress`。
/// 回声不会比发出的 `expected` 字节多：多出来了就不再读（否则一个乱发数据的服务端能让内存无限增长），
/// 交给调用者去发现收回的和发出的不一样。
async fn receive_all(
    mut reader: impl AsyncRead + Unpin,
    expected: usize,
    progress: &Progress,
) -> Result<Vec<u8>, String> {
    let mut echo = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if echo.len() > expected {
            return Ok(echo);
        }
        match reader.read(&mut buf).await {
            Ok(0) => return Ok(echo),
            Ok(n) => {
                echo.extend_from_slice(&buf[..n]);
                progress.received.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(err) => return Err(receive_failed(echo.len(), &err)),
        }
    }
}

/// 看门狗：每隔一会儿看一眼进度，两个方向都停了 `stall` 这么久，就返回停住时的（写出，读回）。
/// 传输正常结束时，它随 select! 一起被丢弃，永远不会返回。
async fn watchdog(progress: &Progress, stall: Duration, verbose: bool) -> (u64, u64) {
    let tick = Duration::from_millis(100);
    let mut last = progress.now();
    let mut still = Duration::ZERO;
    let mut since_report = Duration::ZERO;
    loop {
        tokio::time::sleep(tick).await;
        let now = progress.now();
        if now == last {
            still += tick;
            if still >= stall {
                return now;
            }
        } else {
            last = now;
            still = Duration::ZERO;
        }
        since_report += tick;
        if verbose && since_report >= Duration::from_secs(1) {
            since_report = Duration::ZERO;
            println!("已写出 {} 字节，已读回 {} 字节", now.0, now.1);
        }
    }
}

// 要打印的话。练习 6.2 里它们已经写好，send_all 和 receive_all 用的就是它们。

/// 连上以后的第一行：连到哪里，本机两个缓冲区的真实大小。
fn connected(addr: &str, buffers: &Buffers) -> String {
    format!(
        "已连接到 {addr}。本机的发送缓冲区 SO_SNDBUF = {}，接收缓冲区 SO_RCVBUF = {}",
        bytes(buffers.send),
        bytes(buffers.recv)
    )
}

fn bytes(size: Option<usize>) -> String {
    size.map_or("（读不出来）".to_string(), |size| {
        format!("{size} 字节")
    })
}

/// 第二行：打算怎么做。
fn plan(size: usize, together: bool) -> String {
    let how = if together {
        "一边写一边读（--together）"
    } else {
        "先全部写完，再读回声（加上 --together 就一边写一边读）"
    };
    format!("要发送 {size} 字节：{how}")
}

/// 全部收回，和发出的一样。
fn intact(size: usize) -> String {
    format!("发出 {size} 字节，收回 {size} 字节，和发出的一字不差")
}

/// 收回来的和发出去的不一样（少了、多了或者错了）。`at` 是第一个不同的位置。
fn not_intact(sent: usize, received: usize, at: usize) -> String {
    format!("发出 {sent} 字节，收回 {received} 字节：从第 {at} 个字节起和发出的不一样")
}

/// 两段字节第一个不同的位置；完全一样时是 None。
fn first_difference(sent: &[u8], echo: &[u8]) -> Option<usize> {
    let same = sent.iter().zip(echo).take_while(|(a, b)| a == b).count();
    (same < sent.len() || same < echo.len()).then_some(same)
}

/// 发送出错：通常是服务端中途关闭或者重置了连接。
fn send_failed(sent: usize, total: usize, err: &io::Error) -> String {
    format!(
        "发送失败（已写出 {sent}/{total} 字节）：{}。服务端可能中途关闭了连接",
        cause(err)
    )
}

/// 接收出错。
fn receive_failed(received: usize, err: &io::Error) -> String {
    format!(
        "接收失败（已读回 {received} 字节）：{}。服务端可能中途关闭了连接",
        cause(err)
    )
}

/// 看门狗的诊断：停住时两边的字节数，以及本机缓冲区的大小。
fn stalled(secs: u64, sent: u64, received: u64, size: usize, buffers: &Buffers) -> String {
    format!(
        "已经 {secs} 秒没有任何进展：写出了 {sent}/{size} 字节，读回了 {received} 字节\
         （本机 SO_SNDBUF = {}，SO_RCVBUF = {}）",
        bytes(buffers.send),
        bytes(buffers.recv)
    )
}

const DEADLOCK: &str = "两边都在等对方读：死锁。我们在等服务端读走数据、给发送缓冲区腾出空位；\
     服务端在等我们读走回声，可我们要写完才读";

const DEADLOCK_FIX: &str = "办法是一边写一边读：加上 --together 再运行一次";

/// 看门狗叫了，但不是先写完再读的死锁：服务端自己不读也不回了。
fn no_answer(secs: u64) -> String {
    format!(
        "服务端已经 {secs} 秒既没有读走数据，也没有发回回声：它可能卡住了，或者网络断了。\
         确认服务端还在正常运行、连得上，再试一次"
    )
}
