//! # 练习 4.3：聊天室客户端：同时收和发
//!
//! 这个文件是 `labs/chat/client.rs` 的练习版：写着 `todo!("练习 4.3：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 4.3 节《客户端》的实验表现得一模一样。
//!
//! - 运行你的版本：`cargo run --features exercises --bin ex-chat-client`
//! - 检查：`cargo run --bin workbook -- check chat-client`
//! - 提示：`cargo run --bin workbook -- hint chat-client`
//! - 重读：book/ch04-3-chat-client.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use socket_workbook::errors::cause;
use socket_workbook::text::printable_line;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;

#[path = "../lan/dial.rs"]
mod dial;

/// 全双工聊天室的客户端：一边显示别人说的话，一边把你输入的话发出去。
#[derive(Parser)]
#[command(name = "lab-chat-client", version)]
struct Args {
    /// 聊天服务端的地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:20004")]
    addr: String,

    /// 连接每个地址最多等几秒（名字解析出好几个地址时，一个一个地试）
    #[arg(long, default_value_t = 3, value_name = "秒", value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,
}

/// 显示一行时最多读这么多字节；服务端发来更长的行时分成几段显示，内存不会被撑爆。
const MAX_SHOWN: u64 = 64 * 1024;
/// 离开时最多再等这么久，把服务端最后说的话（例如“再见”）显示完。
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // 1. 建立与服务端的连接
    // 一个名字可能解析出好几个地址：依次试，每个最多等 connect_timeout 秒（见 labs/lan/dial.rs）
    let connect_timeout = Duration::from_secs(args.connect_timeout);
    let conn = match dial::dial(&args.addr, connect_timeout, "lab-chat-server").await {
        Ok(conn) => conn,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "已连接到 {}。输入一行回车发送，输入 /quit 或 Q 离开。",
        args.addr
    );

    // 2. 收、发两个方向各走各的：收的一半交给一个任务，键盘交给一个线程
    let (reader, mut writer) = conn.into_split();
    let mut incoming = tokio::spawn(show_incoming(reader));
    let mut keyboard = read_keyboard();

    // TODO（练习 4.3）：main：用 tokio::select! 同时等两件事：键盘的下一行（keyboard.recv()），和接收任务结束（&mut incoming）。
    // 键盘：None 或 q/Q 就离开；空行跳过；其余加上 \n 发出去，发的是 /quit 就发完再离开。
    // 发送失败：eprintln!("{}", send_failed(&err)) 后返回 ExitCode::FAILURE（要说的话已经写好）。
    // 接收任务先结束，说明服务端走了：return server_ended(ended)。
    // 离开时先 shutdown 发送方向，再最多等 GOODBYE_WAIT 让接收任务把“再见”显示完。
    // show_incoming：用 take(MAX_SHOWN).read_until(b'\n', …) 一行一行地读，读到 0 字节返回 Ok(())，
    // 每一行用 printable_line 显示。
    todo!("练习 4.3：聊天室客户端：同时收和发")
}

/// 发送失败时要说的话。练习 4.3 里它已经写好：直接调用，只需要写逻辑。
fn send_failed(err: &std::io::Error) -> String {
    format!("发送失败：{}。服务端可能已经退出", cause(err))
}

/// 收：把服务端发来的每一行显示出来，直到连接结束。返回结束的原因。
async fn show_incoming(reader: OwnedReadHalf) -> Result<(), String> {
    // TODO（练习 4.3）：提示见本文件第一个 TODO
    todo!("练习 4.3：聊天室客户端：同时收和发")
}

/// 服务端先结束了连接：说明情况，以非零退出码结束。
fn server_ended(ended: Result<Result<(), String>, tokio::task::JoinError>) -> ExitCode {
    match ended {
        Ok(Ok(())) => eprintln!("服务端关闭了连接，聊天结束。"),
        Ok(Err(reason)) => eprintln!("和服务端的连接断了：{reason}"),
        Err(err) => eprintln!("接收任务意外结束：{err}"),
    }
    ExitCode::FAILURE
}

/// 发：在一个普通线程里一行一行地读键盘，通过通道交给 main。输入结束时通道随之关闭。
///
/// 为什么不用 tokio 的 stdin？它在后台线程里阻塞地读，而阻塞的读没法取消：
/// 程序想退出时（比如服务端走了），运行时会一直等那次读取返回，也就是等用户再按一次回车。
/// 用自己的线程，main 返回时进程直接结束，不用等它。
fn read_keyboard() -> mpsc::Receiver<Vec<u8>> {
    let (lines, keyboard) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return, // 输入结束：lines 被丢掉，main 收到 None
                Ok(_) => {
                    if lines.blocking_send(line).is_err() {
                        return; // main 已经不再需要输入
                    }
                }
            }
        }
    });
    keyboard
}
