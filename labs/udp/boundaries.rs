//! # 第 3 章 · 数据报的边界：三次发送，三次接收
//!
//! 同一个程序里做两遍同样的事：发送方先连发三条消息，接收方再开始读。
//!
//! - 用 UDP：接收方读三次，每次正好得到一个完整的数据报，边界原样保留；
//! - 用 TCP：三条消息在接收方的缓冲区里连成了一串字节，一次 read 就全部读走，
//!   分不清哪里是一条消息的结尾。这就是第 2 章“黏包”的来历。
//!
//! 运行：
//!
//! ```text
//! cargo run --bin lab-udp-boundaries                  # 默认发送 one two three
//! cargo run --bin lab-udp-boundaries -- 你好 世界      # 换成自己的消息
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use socket_workbook::errors::cause;
use socket_workbook::text::printable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

/// 任何一步最多等这么久。在本机回环地址上，每一步只需要几微秒。
const WAIT: Duration = Duration::from_secs(5);

/// 对比 UDP 和 TCP：连发几条消息之后，接收方各要读几次。
#[derive(Parser)]
#[command(name = "lab-udp-boundaries", version)]
struct Args {
    /// 做实验用的本机地址，格式 HOST:PORT；端口 0 表示由系统挑选空闲端口
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,

    /// 要连发的消息，每条作为一次发送
    #[arg(default_values = ["one", "two", "three"], value_name = "消息")]
    messages: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = udp_demo(&args.addr, &args.messages).await {
        eprintln!("UDP 实验失败：{message}");
        return ExitCode::FAILURE;
    }
    if let Err(message) = tcp_demo(&args.addr, &args.messages).await {
        eprintln!("TCP 实验失败：{message}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

// ANCHOR: udp
/// UDP：连发几个数据报，再逐个接收。每次 recv_from 取出的正好是一个数据报。
async fn udp_demo(addr: &str, messages: &[String]) -> Result<(), String> {
    let receiver = UdpSocket::bind(addr)
        .await
        .map_err(|e| bind_failed(addr, &e))?;
    let receiver_addr = receiver.local_addr().map_err(|e| cause(&e))?;
    let sender = UdpSocket::bind(any_port(receiver_addr))
        .await
        .map_err(|e| cause(&e))?;

    // 先全部发出去，接收方这时还一次都没读
    for message in messages {
        sender
            .send_to(message.as_bytes(), receiver_addr)
            .await
            .map_err(|e| cause(&e))?;
        println!("UDP 发送：{message}（{} 字节）", message.len());
    }
    // 再读：发了几次，就读几次
    let mut buf = [0u8; 1024];
    for i in 1..=messages.len() {
        let (n, _) = timeout(WAIT, receiver.recv_from(&mut buf))
            .await
            .map_err(|_| format!("等了 {WAIT:?} 还没收到第 {i} 个数据报"))?
            .map_err(|e| cause(&e))?;
        println!("UDP 第 {i} 次接收：{}（{n} 字节）", printable(&buf[..n]));
    }
    Ok(())
}
// ANCHOR_END: udp

// ANCHOR: tcp
/// TCP：同样连写几次，等它们都到达接收方之后再读。一次 read 把它们全部读走。
async fn tcp_demo(addr: &str, messages: &[String]) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| bind_failed(addr, &e))?;
    let listener_addr = listener.local_addr().map_err(|e| cause(&e))?;
    let mut writer = TcpStream::connect(listener_addr)
        .await
        .map_err(|e| cause(&e))?;
    let (mut reader, _) = listener.accept().await.map_err(|e| cause(&e))?;

    let mut total = 0;
    for message in messages {
        writer
            .write_all(message.as_bytes())
            .await
            .map_err(|e| cause(&e))?;
        println!("TCP 发送：{message}（{} 字节）", message.len());
        total += message.len();
    }
    // 为了让这个演示每次结果都一样，先等所有字节都到达接收方的缓冲区（peek 只看不取），
    // 再开始读。真实程序里读的时机由调度和网络决定，可能读一次，也可能读两次、三次。
    if total > 0 {
        wait_until_buffered(&reader, total).await?;
    }

    let mut buf = [0u8; 1024];
    let mut got = 0;
    let mut reads = 0;
    while got < total {
        let n = reader.read(&mut buf).await.map_err(|e| cause(&e))?;
        if n == 0 {
            return Err("对方提前关闭了连接".to_string());
        }
        reads += 1;
        got += n;
        println!(
            "TCP 第 {reads} 次读取：{}（{n} 字节）",
            printable(&buf[..n])
        );
    }
    Ok(())
}
// ANCHOR_END: tcp

/// 一直“偷看”接收缓冲区，直到里面攒够 `total` 个字节（最多等 WAIT）。
async fn wait_until_buffered(reader: &TcpStream, total: usize) -> Result<(), String> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = tokio::time::timeout_at(deadline, reader.peek(&mut buf))
            .await
            .map_err(|_| format!("等了 {WAIT:?}，{total} 个字节还没有全部到达"))?
            .map_err(|e| cause(&e))?;
        if n >= total.min(buf.len()) {
            return Ok(());
        }
        tokio::task::yield_now().await; // 还没到齐：让出一下，再看
    }
}

/// 和 `addr` 同一个 IP、端口由系统挑选的地址。
fn any_port(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), 0)
}

fn bind_failed(addr: &str, err: &std::io::Error) -> String {
    format!(
        "无法绑定 {addr}：{}。请换一个地址，例如 --addr 127.0.0.1:0",
        cause(err)
    )
}
