//! # 第 2.3 节 · 黏包：服务端
//!
//! 客户端（`lab-sticky-client`）连续发来 20 条 `Hello, Hello. How are you?`。
//!
//! - 不加参数时，服务端像网上常见的 Go 黏包演示那样，每读到一块就打印一块。为了让现象每次都一样，
//!   它先等客户端发完（收到客户端的 FIN）再开始读：20 条消息早已挤在接收缓冲区里，
//!   一次读取就全部拿到，黏成了一行。加 `--eager` 则一有数据就读，块数每次可能不同。
//! - `--framed`：按“4 字节长度 + 消息”的格式拆包（手写的 `proto` 模块），一条一条地打印。
//! - `--codec`：同样的格式，交给 tokio-util 的 `LengthDelimitedCodec` 去拆。
//!
//! 运行（客户端要用同样的 `--framed` / `--codec`）：
//!
//! ```text
//! cargo run --bin lab-sticky-server                 # 监听 127.0.0.1:30000
//! cargo run --bin lab-sticky-client
//! cargo run --bin lab-sticky-server -- --framed
//! cargo run --bin lab-sticky-client -- --framed
//! ```
//!
//! 也可以用 `nc` 当客户端：`printf 'ab' | nc -N 127.0.0.1 30000`（`-N`：输入完就发送 FIN）。

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use socket_workbook::errors::{cause, listen_failed};
use socket_workbook::net::reachable_lines;
use socket_workbook::text::printable;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

#[path = "proto.rs"]
mod proto;

/// 黏包演示的服务端：打印每次读到的数据，或者按长度前缀拆出的每条消息。
#[derive(Parser)]
#[command(name = "lab-sticky-server", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:30000")]
    addr: String,

    /// 按“4 字节长度（大端序）+ 消息”拆包，用手写的 proto 模块
    #[arg(long, conflicts_with = "codec")]
    framed: bool,

    /// 按同样的格式拆包，用 tokio-util 的 LengthDelimitedCodec
    #[arg(long)]
    codec: bool,

    /// 不拆包时：一有数据就读，不等客户端发完（每次运行读到的块数可能不同）
    #[arg(long, conflicts_with_all = ["framed", "codec"])]
    eager: bool,
}

/// 服务端怎样对待收到的字节。
#[derive(Clone, Copy)]
enum Mode {
    /// 不拆包，每次读到什么就打印什么；`wait` 表示先等客户端发完再读
    Raw { wait: bool },
    /// 手写的 proto 模块拆包
    Framed,
    /// LengthDelimitedCodec 拆包
    Codec,
}

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mode = match (args.framed, args.codec) {
        (true, _) => Mode::Framed,
        (_, true) => Mode::Codec,
        _ => Mode::Raw { wait: !args.eager },
    };

    let listener = match TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{}", listen_failed(&args.addr, &err, "lab-sticky-server"));
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => {
            println!("正在监听 {local}，按 Ctrl-C 停止");
            // 监听“任意地址”（0.0.0.0 或 [::]）时，再告诉用户别的机器能用哪些地址连过来。
            // [::] 是否也收 IPv4 连接，要问套接字的 IPV6_V6ONLY 选项（Linux 默认关，Windows 默认开）
            let only_v6 =
                local.is_ipv6() && socket2::SockRef::from(&listener).only_v6().unwrap_or(false);
            for line in reachable_lines(local, only_v6) {
                println!("{line}");
            }
        }
        Err(err) => println!("正在监听（无法获取本地地址：{}）", cause(&err)),
    }

    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                println!("接受连接失败：{}", cause(&err));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        println!("新连接：{peer}");
        // 每个连接一个任务：一个客户端发来坏数据，只断开它自己
        match mode {
            Mode::Raw { wait } => tokio::spawn(process_raw(conn, peer, wait)),
            Mode::Framed => tokio::spawn(process_framed(conn, peer)),
            Mode::Codec => tokio::spawn(process_codec(conn, peer)),
        };
    }
}
// ANCHOR_END: main

// ANCHOR: process_raw
/// 不拆包：和教程一样，把每次 read 读到的字节当成“一条消息”打印。这正是黏包的来源。
async fn process_raw(mut conn: TcpStream, peer: SocketAddr, wait: bool) {
    if wait {
        println!("{}", waiting_for(peer));
        if let Err(err) = wait_until_peer_done(&conn).await {
            println!("等待客户端 {peer} 失败：{}", cause(&err));
            return;
        }
    }
    let mut buf = [0u8; 1024];
    let (mut reads, mut total) = (0, 0);
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) => break, // 对方关闭了连接
            Ok(n) => n,
            Err(err) => {
                println!("从客户端 {peer} 读取失败：{}", cause(&err));
                return;
            }
        };
        reads += 1;
        total += n;
        println!("收到client端发来的数据： {}", printable(&buf[..n]));
    }
    println!("客户端 {peer} 已关闭连接：一共读了 {reads} 次，收到 {total} 字节");
}
// ANCHOR_END: process_raw

// ANCHOR: wait_until_peer_done
/// 一个字节也不读，等到对方关闭发送方向（收到 FIN）为止。
/// 这段时间里到达的数据都留在操作系统的接收缓冲区里，等我们来读。
#[cfg(not(windows))]
async fn wait_until_peer_done(conn: &TcpStream) -> io::Result<()> {
    use tokio::io::Interest;
    loop {
        let ready = conn.ready(Interest::READABLE).await?;
        if ready.is_read_closed() {
            return Ok(()); // 收到了 FIN：对方说完了（FIN 总是排在它发的所有数据后面）
        }
        // 只是又来了数据。告诉 tokio“这次的动静我们看过了”，有新动静（更多数据或 FIN）时再叫醒我们。
        let _: io::Result<()> =
            conn.try_io(Interest::READABLE, || Err(io::ErrorKind::WouldBlock.into()));
    }
}

#[cfg(not(windows))]
fn waiting_for(peer: SocketAddr) -> String {
    format!("等客户端 {peer} 发完（收到它的 FIN）再开始读")
}
// ANCHOR_END: wait_until_peer_done

// ANCHOR: wait_until_peer_done_windows
/// Windows 上等不到“对方发完了”这个通知：接收缓冲区里还有没读的数据时，Windows 要等数据
/// 被读走才报告连接关闭（见 Winsock 文档对 FD_CLOSE 的说明），上面的写法会一直等下去。
/// 所以在 Windows 上换一种等法，同样一个字节也不读：用 peek 看接收缓冲区里攒了多少字节，
/// 直到 QUIET 这么久都没有再变多。
#[cfg(windows)]
async fn wait_until_peer_done(conn: &TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    // peek 看一眼缓冲区里的字节，但不取走；第一次 peek 等到至少有一个字节（或者对方关闭）
    let mut before = conn.peek(&mut buf).await?;
    loop {
        tokio::time::sleep(QUIET).await;
        let now = conn.peek(&mut buf).await?;
        if now == before {
            return Ok(());
        }
        before = now;
    }
}

/// Windows 上，接收缓冲区这么久没有变多，就当作客户端发完了。
#[cfg(windows)]
const QUIET: Duration = Duration::from_millis(300);

#[cfg(windows)]
fn waiting_for(peer: SocketAddr) -> String {
    format!("等客户端 {peer} 发完（接收缓冲区 {QUIET:?} 没有再变多）再开始读")
}
// ANCHOR_END: wait_until_peer_done_windows

// ANCHOR: process_framed
/// 用手写的解码器拆包：读到多少就交给解码器多少，再把解出的完整消息一条条取出来。
async fn process_framed(mut conn: TcpStream, peer: SocketAddr) {
    let mut decoder = proto::Decoder::new();
    let mut buf = [0u8; 1024];
    let mut count = 0;
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                println!("从客户端 {peer} 读取失败：{}", cause(&err));
                return;
            }
        };
        decoder.extend(&buf[..n]);
        // 这一次读到的字节里可能有好几条完整的消息，也可能连一条都不到
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    count += 1;
                    println!("收到client端发来的数据： {}", printable(&message));
                }
                Ok(None) => break, // 剩下的不够一条，再去读
                Err(err) => {
                    println!("客户端 {peer} 发来的数据有误：{err}。断开这个连接");
                    return;
                }
            }
        }
    }
    // 连接结束了：缓冲区里不应当还剩半条消息
    match decoder.finish() {
        Ok(()) => println!("客户端 {peer} 已关闭连接：一共收到 {count} 条消息"),
        Err(err) => println!(
            "客户端 {peer} 发来的数据不完整：{err}。丢弃这半条（在它之前收到的 {count} 条完整消息都已处理）"
        ),
    }
}
// ANCHOR_END: process_framed

// ANCHOR: process_codec
/// 同样的格式交给 tokio-util：FramedRead 负责读、缓冲和拆包，我们只管一条条地取消息。
async fn process_codec(conn: TcpStream, peer: SocketAddr) {
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(proto::HEADER_LEN) // 长度字段 4 字节
        .big_endian() // 网络字节序（这也是默认值，写出来更清楚）
        .max_frame_length(proto::MAX_FRAME_LEN) // 超过上限的帧直接报错
        .new_codec();
    let mut messages = FramedRead::new(conn, codec);
    let mut count = 0;
    while let Some(result) = messages.next().await {
        match result {
            Ok(message) => {
                count += 1;
                println!("收到client端发来的数据： {}", printable(&message));
            }
            // 连接结束时缓冲区里还有没拼完的半帧（LengthDelimitedCodec 把它报告为 Other）
            Err(err) if err.kind() == io::ErrorKind::Other => {
                println!(
                    "客户端 {peer} 发来的数据不完整：连接在一帧的中间结束了（{err}）。\
                     丢弃这半条（在它之前收到的 {count} 条完整消息都已处理）"
                );
                return;
            }
            // 声明的长度超过 max_frame_length（报告为 InvalidData）
            Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                println!(
                    "客户端 {peer} 发来的数据有误：帧的长度超过了上限 {} 字节（{err}）。断开这个连接",
                    proto::MAX_FRAME_LEN
                );
                return;
            }
            Err(err) => {
                println!("从客户端 {peer} 读取失败：{}", cause(&err));
                return;
            }
        }
    }
    println!("客户端 {peer} 已关闭连接：一共收到 {count} 条消息");
}
// ANCHOR_END: process_codec
