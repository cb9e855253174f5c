//! # 第 1 章 · socket 图解：看一看本机上真实的套接字
//!
//! 套接字是操作系统交给程序的“插口”。这个程序在本机回环地址上开四个套接字：
//! 一个 TCP 监听套接字、连上它的 TCP 客户端套接字、监听套接字为这条连接新建的套接字，
//! 以及一个 UDP 套接字；然后逐个打印它们的类型（流式还是数据报）、本地地址、对方地址，
//! 以及后面几章会讲到的几个选项：TCP_NODELAY、SO_REUSEADDR、收发缓冲区的大小。
//!
//! 运行：
//!
//! ```text
//! cargo run --bin lab-socket
//! cargo run --bin lab-socket -- --hold    # 打印完不退出，另开终端用 ss -tanp / ss -uanp 找到它们
//! ```
//!
//! 运行时加上 `--hold`，再在另一个终端里运行 `ss -tanp | grep lab-socket`，
//! 就能看到同样的地址出现在操作系统的套接字表里。

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use socket_workbook::errors::{bind_failed, cause, listen_failed};
use socket2::{SockRef, Type};
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// 在本机开几个 TCP 和 UDP 套接字，打印它们的类型、地址和常用选项。
#[derive(Parser)]
#[command(name = "lab-socket", version)]
struct Args {
    /// 监听和绑定用的地址，格式 HOST:PORT；端口写 0 表示由系统挑选空闲端口
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,

    /// 打印完先不退出、让套接字一直开着，方便用 ss 查看；按回车退出
    #[arg(long)]
    hold: bool,
}

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    // 1. TCP：先监听，再自己连自己。一条连接的两端各有一个套接字。
    let listener = TcpListener::bind(&args.addr)
        .await
        .map_err(|err| listen_failed(&args.addr, &err, "lab-socket"))?;
    let listen_addr = listener
        .local_addr()
        .map_err(|err| failed("读取监听地址", &err))?;
    let client = TcpStream::connect(listen_addr)
        .await
        .map_err(|err| failed(&format!("连接 {listen_addr}"), &err))?;
    let (accepted, _) = listener
        .accept()
        .await
        .map_err(|err| failed("接受连接", &err))?;

    // 2. UDP：绑定一个地址就能收发，不需要连接
    let udp = UdpSocket::bind(&args.addr)
        .await
        .map_err(|err| bind_failed(&args.addr, &err, "lab-socket"))?;

    // 3. 逐个打印
    show(
        "① TCP 监听套接字（TcpListener::bind）",
        SockRef::from(&listener),
    );
    show(
        "② TCP 客户端套接字（TcpStream::connect）",
        SockRef::from(&client),
    );
    show(
        "③ 服务端为这条连接新建的套接字（listener.accept）",
        SockRef::from(&accepted),
    );
    show("④ UDP 套接字（UdpSocket::bind）", SockRef::from(&udp));

    // 4. 改两个选项，再读回来
    change_options(&client)?;

    if args.hold {
        hold().await;
    }
    Ok(())
}
// ANCHOR_END: main

// ANCHOR: show
/// 打印一个套接字的类型、两端地址和几个常用选项。
fn show(title: &str, socket: SockRef<'_>) {
    println!("{title}");
    let kind = match socket.r#type() {
        Ok(Type::STREAM) => "流式套接字（SOCK_STREAM），用于 TCP".to_string(),
        Ok(Type::DGRAM) => "数据报套接字（SOCK_DGRAM），用于 UDP".to_string(),
        Ok(other) => format!("其他类型（{other:?}）"),
        Err(err) => format!("读不出来：{}", cause(&err)),
    };
    println!("    类型：{kind}");
    println!("    本地地址：{}", address(socket.local_addr()));
    // 监听套接字和没有 connect 过的 UDP 套接字都没有“对方”：getpeername 会失败
    let peer = match socket.peer_addr() {
        Ok(peer) => address(Ok(peer)),
        Err(_) => "无（还没有和任何一方连接）".to_string(),
    };
    println!("    对方地址：{peer}");
    if socket.r#type().is_ok_and(|kind| kind == Type::STREAM) {
        // TCP_NODELAY 是 TCP 才有的选项
        println!("    TCP_NODELAY：{}", yes_no(socket.tcp_nodelay()));
    }
    println!("    SO_REUSEADDR：{}", yes_no(socket.reuse_address()));
    println!("    SO_SNDBUF：{}", bytes(socket.send_buffer_size()));
    println!("    SO_RCVBUF：{}", bytes(socket.recv_buffer_size()));
}
// ANCHOR_END: show

// ANCHOR: change_options
/// ⑤ 里给接收缓冲区设置的大小（字节）。
const RECV_BUFFER: usize = 64 * 1024;

/// 改两个选项再读回来：关掉 Nagle 算法，把接收缓冲区设成 RECV_BUFFER 字节。
fn change_options(client: &TcpStream) -> Result<(), String> {
    println!("⑤ 修改 ② 的两个选项，再读回来");
    // tokio 的 TcpStream 自己就能设置 TCP_NODELAY（第 2.3 节黏包会讲它）
    client
        .set_nodelay(true)
        .map_err(|err| failed("设置 TCP_NODELAY", &err))?;
    println!(
        "    set_nodelay(true) 之后，TCP_NODELAY：{}",
        yes_no(client.nodelay())
    );
    // 缓冲区大小 tokio 没有直接提供，借助 socket2 设置
    let socket = SockRef::from(client);
    socket
        .set_recv_buffer_size(RECV_BUFFER)
        .map_err(|err| failed("设置 SO_RCVBUF", &err))?;
    println!(
        "    set_recv_buffer_size({RECV_BUFFER}) 之后，SO_RCVBUF = {}",
        bytes(socket.recv_buffer_size())
    );
    Ok(())
}
// ANCHOR_END: change_options

/// 打印完先不退出，等用户按回车（或者输入结束）。
async fn hold() {
    println!("套接字都还开着：另开一个终端运行 ss -tanp 和 ss -uanp 找到它们。按回车退出。");
    let mut line = String::new();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    // 读失败也只是提前退出，没什么可补救的
    let _ = stdin.read_line(&mut line).await;
}

fn address(addr: io::Result<socket2::SockAddr>) -> String {
    match addr.map(|addr| addr.as_socket()) {
        Ok(Some(addr)) => SocketAddr::to_string(&addr),
        Ok(None) => "不是 IP 地址".to_string(),
        Err(err) => format!("读不出来：{}", cause(&err)),
    }
}

fn yes_no(value: io::Result<bool>) -> String {
    match value {
        Ok(true) => "是".to_string(),
        Ok(false) => "否".to_string(),
        Err(err) => format!("读不出来：{}", cause(&err)),
    }
}

fn bytes(value: io::Result<usize>) -> String {
    match value {
        Ok(size) => format!("{size} 字节"),
        Err(err) => format!("读不出来：{}", cause(&err)),
    }
}

/// 一行中文错误：哪一步失败了、为什么、该怎么办。
fn failed(step: &str, err: &io::Error) -> String {
    format!(
        "{step}失败：{}。请确认本机的回环网卡可用，地址写成 HOST:PORT，例如 --addr 127.0.0.1:0",
        cause(err)
    )
}
