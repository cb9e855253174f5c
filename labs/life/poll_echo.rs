//! # 第 6.5 节 · 不用 tokio 的回声服务：非阻塞套接字 + 就绪通知
//!
//! 和第 2 章的 `lab-tcp-server` 做同一件事、打印同样的话，但不用 async、不用 tokio，
//! 只有一个线程：把套接字设成非阻塞，再用 [mio](https://docs.rs/mio) 向操作系统登记
//! “哪个套接字可以读了、可以写了请告诉我”（Linux 上是 epoll，macOS 上是 kqueue，
//! Windows 上 mio 借 AFD 在 IOCP 之上模拟出同样的通知）。tokio 的底层正是 mio，
//! 这个程序就是把 tokio 替我们做的事亲手做一遍。
//!
//! 运行：
//!
//! ```text
//! cargo run --bin lab-poll-echo                          # 监听 127.0.0.1:20000
//! cargo run --bin lab-poll-echo -- --addr 127.0.0.1:0    # 端口 0：由系统挑一个空闲端口
//! cargo run --bin lab-poll-echo -- --max-conns 2         # 最多同时服务 2 个客户端
//! ```
//!
//! 再开几个终端当客户端：`cargo run --bin lab-tcp-client`，或者 `nc 127.0.0.1 20000`。
//! 在 Linux 上还可以看它向系统发出的调用：
//! `strace -e trace=epoll_wait,accept4,recvfrom,sendto,write ./target/debug/lab-poll-echo`。

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket_workbook::errors::{cause, listen_failed};
use socket_workbook::net::reachable_lines;
use socket_workbook::text::printable;

/// 单线程的回声服务端：非阻塞套接字加上就绪通知（mio），不用 tokio。
#[derive(Parser)]
#[command(name = "lab-poll-echo", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20000")]
    addr: String,

    /// 最多同时服务多少个客户端；再有人连上来，接受后立即关闭，并打印一行说明
    #[arg(long, default_value_t = 1000)]
    max_conns: usize,
}

// ANCHOR: state
/// 监听套接字的记号。每个登记在 Poll 里的套接字都有一个记号（Token），
/// 通知到来时，凭记号认出是哪一个套接字。连接从 1 开始编号。
const LISTENER: Token = Token(0);

/// 每个连接最多积压多少字节还没发出去的回声。到了这个数就先不读它的数据，
/// 等对方读走一些再读：字节一个也不丢，内存也不会被一个读得慢的客户端撑爆。
const MAX_PENDING: usize = 64 * 1024;

/// 一个连接：套接字、对方的地址，以及已经收到、还没能发出去的回声。
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// 等着发出去的字节。对方读得慢时，写会遇到 WouldBlock，剩下的先留在这里
    pending: Vec<u8>,
    /// 对方已经关闭了它那一头（读到了 0 字节），发完 pending 就可以关闭连接
    peer_done: bool,
    /// 现在向 Poll 登记的是哪些事件，避免重复登记
    interest: Interest,
    /// 因为积压太多，暂时不读它发来的数据（只用来决定要不要打印那一行说明）
    paused: bool,
}
// ANCHOR_END: state

/// 处理完一次通知之后，这个连接是留着还是关掉。
enum After {
    Keep,
    Close,
}

// ANCHOR: main
fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    // 1. 监听端口：先用标准库监听，再把它设成非阻塞，交给 mio
    let std_listener = std::net::TcpListener::bind(&args.addr)
        .map_err(|err| listen_failed(&args.addr, &err, "lab-poll-echo"))?;
    let local = std_listener
        .local_addr()
        .map_err(|err| format!("无法获取监听地址：{}", cause(&err)))?;
    let only_v6 = local.is_ipv6()
        && socket2::SockRef::from(&std_listener)
            .only_v6()
            .unwrap_or(false);
    // 非阻塞：accept、read、write 不再“等到能做为止”，做不了就立即返回 WouldBlock
    std_listener
        .set_nonblocking(true)
        .map_err(|err| format!("无法把监听套接字设成非阻塞：{}", cause(&err)))?;
    let mut listener = TcpListener::from_std(std_listener);

    // 2. Poll：向操作系统登记“这个套接字可读了就告诉我”
    let mut poll = Poll::new().map_err(|err| format!("无法创建 Poll：{}", cause(&err)))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|err| format!("无法登记监听套接字：{}", cause(&err)))?;

    println!("正在监听 {local}，按 Ctrl-C 停止");
    for line in reachable_lines(local, only_v6) {
        println!("{line}");
    }

    // 3. 事件循环：唯一的线程在这里睡着，直到有套接字就绪
    let mut events = Events::with_capacity(1024);
    let mut connections: HashMap<Token, Connection> = HashMap::new();
    let mut next_token = 1;
    loop {
        if let Err(err) = poll.poll(&mut events, None) {
            if err.kind() == ErrorKind::Interrupted {
                continue; // 被信号打断（例如调试器），再等一次
            }
            return Err(format!("等待事件失败：{}", cause(&err)));
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(
                    &listener,
                    &poll,
                    &mut connections,
                    &mut next_token,
                    args.max_conns,
                );
                continue;
            }
            let token = event.token();
            let Some(conn) = connections.get_mut(&token) else {
                continue; // 同一批通知里，这个连接已经被关掉了
            };
            if let After::Close = serve(conn, &poll, token) {
                // 先从 Poll 里注销，再丢掉套接字（丢掉就是关闭）
                if let Some(mut conn) = connections.remove(&token) {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
            }
        }
    }
}
// ANCHOR_END: main

// ANCHOR: accept
/// 监听套接字就绪：把排队的连接全部接受下来，直到 WouldBlock（队列空了）。
fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    connections: &mut HashMap<Token, Connection>,
    next_token: &mut usize,
    max_conns: usize,
) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            // 没有更多排队的连接了：回到 poll 去等下一次通知
            Err(err) if err.kind() == ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                // 常见原因是打开的文件太多。这一轮先不接了，已经连上的客户端不受影响
                println!("接受连接失败：{}", cause(&err));
                return;
            }
        };
        if connections.len() >= max_conns {
            // 丢掉 stream 就关闭了这个连接：对方会读到连接结束
            println!("连接数已达上限（{max_conns}），关闭新连接：{peer}");
            continue;
        }
        let token = Token(*next_token);
        *next_token += 1;
        if let Err(err) = poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
        {
            println!("无法登记连接 {peer}：{}", cause(&err));
            continue;
        }
        println!("新连接：{peer}");
        let conn = Connection {
            stream,
            peer,
            pending: Vec::new(),
            peer_done: false,
            interest: Interest::READABLE,
            paused: false,
        };
        connections.insert(token, conn);
    }
}
// ANCHOR_END: accept

// ANCHOR: serve
/// 一个连接就绪（可读、可写或两者）：能做多少做多少，直到遇到 WouldBlock。
///
/// mio 的通知是“边沿触发”的：它只在状态变化时通知一次。所以每次都要读到（或写到）
/// WouldBlock 为止，否则剩下的数据不会再有通知提醒我们。
fn serve(conn: &mut Connection, poll: &Poll, token: Token) -> After {
    // 一次最多读 128 字节，和第 2 章的服务端一样
    let mut buf = [0u8; 128];
    loop {
        // 先把积压的回声发出去
        if let Err(err) = flush(conn) {
            println!("{}", write_failed(conn.peer, &err));
            return After::Close;
        }
        if conn.peer_done {
            if conn.pending.is_empty() {
                return After::Close; // 回声都发完了，关闭连接
            }
            break; // 还有没发完的：等“可写”的通知
        }
        if conn.pending.len() >= MAX_PENDING {
            // 积压太多：先不读它发来的数据，等对方读走一些（“可写”的通知）再说。
            // 我们不读，内核的接收缓冲区就会满，TCP 的流量控制会让对方的发送慢下来
            if !conn.paused {
                println!("{}", paused(conn.peer));
                conn.paused = true;
            }
            break;
        }
        conn.paused = false;
        match conn.stream.read(&mut buf) {
            Ok(0) => {
                // 对方关闭了它那一头。已经收到的回声还是要发完
                println!("{}", closed(conn.peer));
                conn.peer_done = true;
            }
            Ok(n) => {
                println!("{}", received(&buf[..n]));
                conn.pending.extend_from_slice(&buf[..n]);
            }
            // 现在没有数据可读：回到 poll 去等
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                println!("{}", read_failed(conn.peer, &err));
                return After::Close;
            }
        }
    }
    // 有积压的回声时还要等“可写”，没有时只等“可读”（不然套接字一直可写，会不停地通知）
    let wanted = match (conn.pending.is_empty(), conn.peer_done) {
        (true, _) => Interest::READABLE,
        (false, false) => Interest::READABLE | Interest::WRITABLE,
        (false, true) => Interest::WRITABLE,
    };
    if wanted != conn.interest {
        if let Err(err) = poll.registry().reregister(&mut conn.stream, token, wanted) {
            println!("无法重新登记连接 {}：{}", conn.peer, cause(&err));
            return After::Close;
        }
        conn.interest = wanted;
    }
    After::Keep
}

/// 把积压的回声尽量发出去：写到全部发完，或者遇到 WouldBlock（对方的接收窗口满了）。
fn flush(conn: &mut Connection) -> std::io::Result<()> {
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            // 对方的窗口不可能让一次写“成功地写出 0 字节”：真遇到了就当作出错，免得原地打转
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            // 写出了前 n 个字节，剩下的留着下次再写
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
// ANCHOR_END: serve

// 要打印的话，和第 2 章的 lab-tcp-server 一字不差。

/// 对方关闭了连接。
fn closed(peer: SocketAddr) -> String {
    format!("客户端 {peer} 已关闭连接")
}

/// 收到一块数据：控制字符显示成转义。
fn received(data: &[u8]) -> String {
    format!("收到client端发来的数据： {}", printable(data))
}

/// 对方读得太慢，回声积压到了上限：暂停读它发来的数据。
fn paused(peer: SocketAddr) -> String {
    format!(
        "客户端 {peer} 读得太慢：积压的回声满 {} KiB 了，先不读它发来的数据",
        MAX_PENDING / 1024
    )
}

/// 读取出错：说明原因，这个连接就此结束。
fn read_failed(peer: SocketAddr, err: &std::io::Error) -> String {
    format!("从客户端 {peer} 读取失败：{}", cause(err))
}

/// 发送出错：说明原因，这个连接就此结束。
fn write_failed(peer: SocketAddr, err: &std::io::Error) -> String {
    format!("向客户端 {peer} 发送失败：{}", cause(err))
}
