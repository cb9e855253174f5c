//! # 第 4 章 · 全双工聊天室：客户端
//!
//! 全双工的意思是两个方向同时进行：别人说的话随时出现在屏幕上，不必等你按回车；
//! 你输入的每一行也随时发出去，不必等别人说话。所以客户端同时做两件互不等待的事：
//!
//! - **收**：一个任务不停地读服务端发来的行，读到就打印；
//! - **发**：一个普通线程不停地读键盘（标准输入），`main` 把读到的每一行发给服务端。
//!
//! 输入 `/quit`、`Q`，或者输入结束（Ctrl-D）就离开；服务端关闭连接时，客户端说明情况并退出。
//!
//! 运行（先在另一个终端启动服务端 `cargo run --bin lab-chat-server`）：
//!
//! ```text
//! cargo run --bin lab-chat-client
//! cargo run --bin lab-chat-client -- --addr 127.0.0.1:20004
//! ```
//!
//! 它也能连别人写的聊天服务，例如 `ncat -l 127.0.0.1 20004 --chat -k`。

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

// ANCHOR: main
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

    // ANCHOR: exercise
    // 3. main 只管发：等键盘的下一行，或者等服务端那边结束，哪个先来处理哪个
    loop {
        tokio::select! {
            typed = keyboard.recv() => {
                let Some(line) = typed else { break }; // 输入结束（Ctrl-D）
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                if text.eq_ignore_ascii_case("q") {
                    break;
                }
                if text.is_empty() {
                    continue;
                }
                if let Err(err) = writer.write_all(format!("{text}\n").as_bytes()).await {
                    eprintln!("{}", send_failed(&err));
                    return ExitCode::FAILURE;
                }
                if text == "/quit" {
                    break; // 已经告诉服务端要走了，下面等它说完“再见”
                }
            }
            ended = &mut incoming => return server_ended(ended),
        }
    }

    // 4. 离开：关闭发送方向（对方会读到连接结束），再把服务端最后说的话显示完
    let _ = writer.shutdown().await;
    let _ = tokio::time::timeout(GOODBYE_WAIT, incoming).await;
    // 从 main 返回就结束整个进程：读键盘的线程也许还卡在等回车，但不必等它
    ExitCode::SUCCESS
    // ANCHOR_END: exercise
}

/// 发送失败时要说的话。练习 4.3 里它已经写好：直接调用，只需要写逻辑。
fn send_failed(err: &std::io::Error) -> String {
    format!("发送失败：{}。服务端可能已经退出", cause(err))
}
// ANCHOR_END: main

// ANCHOR: show_incoming
/// 收：把服务端发来的每一行显示出来，直到连接结束。返回结束的原因。
async fn show_incoming(reader: OwnedReadHalf) -> Result<(), String> {
    // ANCHOR: exercise
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        // take 给一次读取加上限：服务端就算一直不发换行，我们也只攒 MAX_SHOWN 字节就先显示出来
        let n = (&mut reader)
            .take(MAX_SHOWN)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|err| cause(&err))?;
        if n == 0 {
            return Ok(());
        }
        // 控制字符显示成转义：别人发来的 ESC 序列动不了我们的终端
        println!("{}", printable_line(&line));
    }
    // ANCHOR_END: exercise
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
// ANCHOR_END: show_incoming

// ANCHOR: read_keyboard
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
// ANCHOR_END: read_keyboard
