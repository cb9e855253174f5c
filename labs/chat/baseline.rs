//! # 第 4 章 · 对照组：按 tokio 示例 `examples/chat.rs` 的思路写的聊天服务端
//!
//! 不是课程的主角，而是压测时的基准。它的结构和 tokio 仓库里的聊天示例一样：
//!
//! - 所有人的发送端放在一张表里（`Arc<Mutex<HashMap>>`），谁说话，就锁上表，给其他每个人发一份；
//! - 每人一个**无界**通道（`unbounded_channel`）：发送永远不会失败，也永远不会等。
//!
//! 它写起来最短，在客户端都读得很快时也很快；代价是没有任何上限：一个不读数据的客户端
//! 会让它的队列无限变长，服务端的内存随之上涨，直到耗尽。`lab-chat-server` 用有界队列解决这个问题，
//! 见书中“服务端”一节。这里没有昵称校验、没有命令，输出也和 `lab-chat-server` 不同。
//!
//! 运行：`cargo run --release --bin lab-chat-baseline -- --addr 127.0.0.1:20005`

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use socket_workbook::errors::listen_failed;
use socket_workbook::text::printable_line;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// 对照用的聊天服务端（tokio 示例的写法：每人一个无界队列）。
#[derive(Parser)]
#[command(name = "lab-chat-baseline", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20005")]
    addr: String,
}

/// 在线的人：地址 → 发给他的无界通道。
type Peers = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Arc<str>>>>>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listener = match TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{}", listen_failed(&args.addr, &err, "lab-chat-baseline"));
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("对照组聊天服务端：正在监听 {local}，按 Ctrl-C 停止"),
        Err(_) => println!("对照组聊天服务端：正在监听"),
    }
    let peers = Peers::default();
    loop {
        if let Ok((conn, addr)) = listener.accept().await {
            tokio::spawn(process(conn, addr, peers.clone()));
        }
    }
}

/// 给除 `from` 以外的每个人发一行。无界通道的 send 从不等待。
fn broadcast(peers: &Peers, from: SocketAddr, text: &str) {
    let line: Arc<str> = Arc::from(format!("{text}\n"));
    let peers = peers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (addr, peer) in peers.iter() {
        if *addr != from {
            let _ = peer.send(line.clone());
        }
    }
}

/// 一个连接：先要名字，然后在“收到别人的消息就写出去”和“读到一行就广播”之间来回。
async fn process(conn: TcpStream, addr: SocketAddr, peers: Peers) {
    let (reader, mut writer) = conn.into_split();
    let mut lines = BufReader::new(reader).lines();
    if writer
        .write_all(b"Please enter your username:\n")
        .await
        .is_err()
    {
        return;
    }
    let Ok(Some(name)) = lines.next_line().await else {
        return;
    };
    let name = printable_line(name.as_bytes());
    let (sender, mut inbox) = mpsc::unbounded_channel();
    peers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(addr, sender);
    broadcast(&peers, addr, &format!("{name} has joined the chat"));
    loop {
        tokio::select! {
            Some(line) = inbox.recv() => {
                if writer.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            read = lines.next_line() => match read {
                Ok(Some(text)) => {
                    broadcast(&peers, addr, &format!("{name}: {}", printable_line(text.as_bytes())));
                }
                _ => break,
            },
        }
    }
    peers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(&addr);
    broadcast(&peers, addr, &format!("{name} has left the chat"));
}
