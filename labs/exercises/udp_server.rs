//! # 练习 3.1：UDP 回声服务端：收一个数据报、回一个数据报
//!
//! 这个文件是 `labs/udp/server.rs` 的练习版：写着 `todo!("练习 3.1：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 3.1 节《UDP 服务端》的实验表现得一模一样。
//!
//! - 运行你的版本：`cargo run --features exercises --bin ex-udp-server`
//! - 检查：`cargo run --bin workbook -- check udp-server`
//! - 提示：`cargo run --bin workbook -- hint udp-server`
//! - 重读：book/ch03-1-udp-server.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use socket_workbook::errors::{bind_failed, cause, datagram_too_big};
use socket_workbook::net::reachable_lines;
use socket_workbook::text::printable;
use socket_workbook::udp::allow_full_size_datagrams;
use tokio::net::UdpSocket;

/// UDP 回声服务端：把收到的每个数据报原样发回给发送方。
#[derive(Parser)]
#[command(name = "lab-udp-server", version)]
struct Args {
    /// 绑定的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,

    /// 接收缓冲区的大小（字节，1 到 65536）。比数据报小时，数据报多出的部分会被悄悄丢掉
    #[arg(long, default_value_t = 1024, value_name = "字节", value_parser = parse_buf_size)]
    buf_size: usize,

    /// 仅用于演示：把最先到达的这么多个数据报当作“在路上丢了”，既不打印内容也不回复
    #[arg(long, default_value_t = 0, value_name = "个")]
    drop: u32,
}

// 单线程的运行时：一个套接字、一个循环，同一时刻只有一件事可做，多开线程也帮不上忙。
// 多线程的运行时反而要在线程之间互相唤醒，每个数据报都多付一笔开销（见附录 A）
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();

    // 1. 绑定地址。UDP 不需要 listen/accept：绑定之后，发到这个地址的数据报就归这个套接字收
    let socket = match UdpSocket::bind(&args.addr).await {
        Ok(socket) => socket,
        Err(err) => {
            eprintln!("{}", bind_failed(&args.addr, &err, "lab-udp-server"));
            return ExitCode::FAILURE;
        }
    };
    // macOS 默认只能发 9216 字节以内的数据报，回声发不出去；调大发送缓冲区（见 labs/udp.rs）
    if let Err(err) = allow_full_size_datagrams(&socket) {
        eprintln!("无法调大 UDP 套接字的发送缓冲区：{}", cause(&err));
        return ExitCode::FAILURE;
    }
    // 端口写 0 时，要问套接字才知道系统实际分配了哪个端口
    match socket.local_addr() {
        Ok(local) => {
            println!("正在 {local} 上接收 UDP 数据报，按 Ctrl-C 停止");
            // 绑定“任意地址”（0.0.0.0 或 [::]）时，再告诉用户别的机器能把数据报发到哪些地址。
            // [::] 是否也收 IPv4 数据报，要问套接字的 IPV6_V6ONLY 选项（Linux 默认关，Windows 默认开）
            let only_v6 =
                local.is_ipv6() && socket2::SockRef::from(&socket).only_v6().unwrap_or(false);
            for line in reachable_lines(local, only_v6) {
                println!("{line}");
            }
        }
        Err(err) => println!("正在接收 UDP 数据报（无法获取本地地址：{}）", cause(&err)),
    }

    // 2. 一个套接字服务所有客户端：收一个、回一个，循环往复
    serve(&socket, args.buf_size, args.drop).await
}

/// 接收数据报、打印、原样发回给发送方。一次收发失败只报告，不退出。
async fn serve(socket: &UdpSocket, buf_size: usize, mut to_drop: u32) -> ExitCode {
    // TODO（练习 3.1）：要打印的话都已经写好，在 serve 下面：recv_failed、dropped、received、send_failed，
    // 用 println!("{}", …) 打印它们给出的那一行。
    // 先分配 buf_size 字节的缓冲区，然后循环：socket.recv_from(&mut buf) 得到 (n, peer)；
    // 接收出错时打印 recv_failed(&err) 并继续（不要像教程那样退出）。to_drop 大于 0 时，
    // 把这个数据报当作丢了：减一，打印 dropped(peer, n, to_drop) 后 continue。
    // 否则打印 received(peer, data)（data 是 &buf[..n]），再用 socket.send_to(data, peer)
    // 发回给发送方；发送出错时打印 send_failed(peer, &err)，继续。
    todo!("练习 3.1：UDP 回声服务端：收一个数据报、回一个数据报")
}

// serve 要打印的话。练习 3.1 里它们已经写好：直接调用，只需要写逻辑。

/// 接收出错：报告原因，接着收下一个。
fn recv_failed(err: &std::io::Error) -> String {
    if datagram_too_big(err) {
        // 只在 Windows 上发生：Linux 和 macOS 会把放得下的部分交给我们（截断），不报错
        return format!(
            "收到一个比缓冲区大的数据报：Windows 把它报告为错误（{}），这个数据报收不下，丢掉了。\
             想收下它，请调大 --buf-size。继续接收下一个",
            cause(err)
        );
    }
    format!("接收数据报失败：{}，继续接收下一个", cause(err))
}

/// 演示丢包：假装来自 `peer` 的 `n` 字节在路上丢了，后面还要再丢 `left` 个。
fn dropped(peer: SocketAddr, n: usize, left: u32) -> String {
    format!("（演示丢包）丢掉来自 {peer} 的 {n} 字节，不打印也不回复，还要再丢 {left} 个")
}

/// 收到一个数据报：和教程的格式一样，内容、发送方、长度。
fn received(peer: SocketAddr, data: &[u8]) -> String {
    format!(
        "read from {peer} , content is {}, length = {}",
        printable(data),
        data.len()
    )
}

/// 发回给 `peer` 时出错：报告原因，接着收下一个。
fn send_failed(peer: SocketAddr, err: &std::io::Error) -> String {
    format!("向 {peer} 发送失败：{}，继续接收下一个", cause(err))
}

/// 检查 `--buf-size`：至少 1 字节；一个 UDP 数据报最多 65,507 字节的数据，65536 已经足够。
fn parse_buf_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(size @ 1..=65536) => Ok(size),
        Ok(_) => Err("缓冲区大小要在 1 到 65536 字节之间".to_string()),
        Err(_) => Err("缓冲区大小要写成一个整数，例如 1024".to_string()),
    }
}
