//! # 练习 2.1：TCP 回声服务端：处理一个连接
//!
//! 这个文件是 `labs/tcp/server.rs` 的练习版：写着 `todo!("练习 2.1：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 2.1 节《TCP 服务端》的实验表现得一模一样。
//!
//! - 运行你的版本：`cargo run --features exercises --bin ex-tcp-server`
//! - 检查：`cargo run --bin workbook -- check tcp-server`
//! - 提示：`cargo run --bin workbook -- hint tcp-server`
//! - 重读：book/ch02-1-tcp-server.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use socket_workbook::errors::{cause, listen_failed};
use socket_workbook::idle::IdleTimeout;
use socket_workbook::net::reachable_lines;
use socket_workbook::text::printable;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// TCP 回声服务端：把每个客户端发来的数据原样发回去。
#[derive(Parser)]
#[command(name = "lab-tcp-server", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20000")]
    addr: String,
    /// 一个连接这么多秒没有发来任何数据，就断开它（第 6.3 节，1 到 86400，即最多一天）；不写就一直等下去
    #[arg(long, value_name = "SECS", value_parser = idle_timeout_arg)]
    idle_timeout: Option<u64>,

    /// 监听之前把发送缓冲区和接收缓冲区都设成这么大（字节），接受的连接沿用它（第 6.4 节）
    #[arg(long, value_name = "字节数")]
    buffer: Option<usize>,
}

/// `--idle-timeout` 的值：1 到 86400 秒。太大的秒数会让计时器算时间时溢出，所以设个上限。
fn idle_timeout_arg(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(secs) if (1..=86_400).contains(&secs) => Ok(secs),
        _ => Err("空闲超时要写成 1 到 86400 之间的整数（秒，最多一天），例如 30".to_string()),
    }
}

/// 处理一个连接：读一块数据，打印出来，再原样写回去，直到对方关闭连接或出错。
///
/// `conn` 可以是任何能读能写的字节流（`AsyncRead + AsyncWrite`）：通常就是 `TcpStream`；
/// 开着 `--idle-timeout` 时是包了一层空闲超时的连接（第 6.3 节）。这里的代码对它们一视同仁。
async fn process<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S, peer: SocketAddr) {
    // TODO（练习 2.1）：要打印的话都已经写好，在 process 下面：closed、received、read_failed、write_failed，
    // 用 println!("{}", …) 打印它们给出的那一行。
    // 在循环里用 conn.read(&mut buf) 读一块数据：读到 0 字节说明客户端关闭了连接，
    // 打印 closed(peer) 后返回；读到 n 字节就打印 received(&buf[..n])，再用 write_all 原样写回。
    // 读出错时打印 read_failed(peer, &err)，写出错时打印 write_failed(peer, &err)，然后返回：
    // 只结束这一个连接。
    todo!("练习 2.1：TCP 回声服务端：处理一个连接")
}

// process 要打印的话。练习 2.1 里它们已经写好：直接调用，只需要写逻辑。

/// 对方关闭了连接。
fn closed(peer: SocketAddr) -> String {
    format!("客户端 {peer} 已关闭连接")
}

/// 收到一块数据：和教程的格式一样（控制字符显示成转义）。
fn received(data: &[u8]) -> String {
    format!("收到client端发来的数据： {}", printable(data))
}

/// 读取出错：说明原因，这个连接就此结束。
fn read_failed(peer: SocketAddr, err: &std::io::Error) -> String {
    format!("从客户端 {peer} 读取失败：{}", cause(err))
}

/// 发送出错：说明原因，这个连接就此结束。
fn write_failed(peer: SocketAddr, err: &std::io::Error) -> String {
    format!("向客户端 {peer} 发送失败：{}", cause(err))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // 1. 监听端口（--buffer 是第 6.4 节用的：先改小缓冲区再监听）
    let listening = match args.buffer {
        None => TcpListener::bind(&args.addr).await,
        Some(size) => listen_with_buffers(&args.addr, size).await,
    };
    let listener = match listening {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{}", listen_failed(&args.addr, &err, "lab-tcp-server"));
            return ExitCode::FAILURE;
        }
    };
    // 端口写 0 时，要问监听器才知道系统实际分配了哪个端口
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
    if args.buffer.is_some() {
        println!("{}", buffer_sizes(&listener));
    }

    loop {
        // 2. 接受客户端的连接请求，建立连接
        let (conn, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                // 常见原因是打开的文件太多。稍等一下再继续，别让循环空转；
                // 一个失败的 accept 不影响已经连上的客户端。
                println!("接受连接失败：{}", cause(&err));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        println!("新连接：{peer}");

        // 3. 为这个连接启动一个任务去处理（相当于 Go 的 go process(conn)）。
        //    --idle-timeout 给连接包上一层空闲超时，见第 6.3 节
        match args.idle_timeout {
            Some(secs) => {
                let conn = IdleTimeout::new(conn, Duration::from_secs(secs));
                tokio::spawn(process(conn, peer));
            }
            None => {
                tokio::spawn(process(conn, peer));
            }
        }
    }
}

/// 和 TcpListener::bind 一样监听 `addr`，只是在 listen 之前把两个缓冲区设成 `size` 字节。
/// 接受的连接继承监听套接字的缓冲区大小；接收缓冲区必须在握手之前就定下来，
/// 因为窗口的放大倍数（window scale）是握手时商定的。
async fn listen_with_buffers(addr: &str, size: usize) -> std::io::Result<TcpListener> {
    let Some(local) = tokio::net::lookup_host(addr).await?.next() else {
        return Err(std::io::ErrorKind::AddrNotAvailable.into());
    };
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // TcpListener::bind 在 Unix 上会打开 SO_REUSEADDR（服务端重启时不必等旧连接的 TIME_WAIT 过去），
    // 这里照做；Windows 上这个选项的意思是“允许抢别人正在用的端口”，不开
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    socket.set_send_buffer_size(size)?;
    socket.set_recv_buffer_size(size)?;
    socket.bind(local)?;
    socket.listen(1024)
}

/// 读回监听套接字的两个缓冲区：设置的值只是请求，系统可能改动它（Linux 会翻倍）。
fn buffer_sizes(listener: &TcpListener) -> String {
    let socket = socket2::SockRef::from(listener);
    let show = |size: std::io::Result<usize>| match size {
        Ok(size) => format!("{size} 字节"),
        Err(err) => format!("读不出来（{}）", cause(&err)),
    };
    format!(
        "缓冲区：SO_SNDBUF = {}，SO_RCVBUF = {}（接受的连接沿用这两个大小）",
        show(socket.send_buffer_size()),
        show(socket.recv_buffer_size())
    )
}
