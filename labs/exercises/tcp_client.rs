//! # 练习 2.2：TCP 客户端：读一行、发送、打印回声
//!
//! 这个文件是 `labs/tcp/client.rs` 的练习版：写着 `todo!("练习 2.2：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 2.2 节《TCP 客户端》的实验表现得一模一样。
//!
//! - 运行你的版本：`cargo run --features exercises --bin ex-tcp-client`
//! - 检查：`cargo run --bin workbook -- check tcp-client`
//! - 提示：`cargo run --bin workbook -- hint tcp-client`
//! - 重读：book/ch02-2-tcp-client.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use socket_workbook::errors::cause;
use socket_workbook::text::printable;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

#[path = "../lan/dial.rs"]
mod dial;

/// TCP 客户端：把输入的每一行发给回声服务端，并打印它的回复。
#[derive(Parser)]
#[command(name = "lab-tcp-client", version)]
struct Args {
    /// 服务端的地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:20000")]
    addr: String,

    /// 连接每个地址最多等几秒（名字解析出好几个地址时，一个一个地试）
    #[arg(long, default_value_t = 3, value_name = "秒", value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,

    /// 等一条回声全部收齐的最长时间（秒）
    #[arg(long, default_value_t = 5, value_name = "秒")]
    reply_timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // 1. 建立与服务端的连接
    // 一个名字可能解析出好几个地址：依次试，每个最多等 connect_timeout 秒（见 labs/lan/dial.rs）
    let connect_timeout = Duration::from_secs(args.connect_timeout);
    let mut conn = match dial::dial(&args.addr, connect_timeout, "lab-tcp-server").await {
        Ok(conn) => conn,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    // 提示写到标准错误，标准输出只留给服务端的回复（和教程的输出一致）
    eprintln!("已连接到 {}。输入一行后回车发送，输入 Q 退出。", args.addr);

    // 2. 进行数据收发
    let result = talk(&mut conn, Duration::from_secs(args.reply_timeout)).await;

    // 3. 关闭连接：conn 在 main 结束时被丢弃，连接随之关闭（相当于 defer conn.Close()）
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// 一行一行地读输入、发送、打印回声，直到输入 Q 或者输入结束。
async fn talk(conn: &mut TcpStream, reply_timeout: Duration) -> Result<(), String> {
    // TODO（练习 2.2）：用 BufReader::new(tokio::io::stdin()) 和 read_until(b'\n', …) 一行一行地读；
    // 读到 0 字节（输入结束）或者 q/Q 就返回 Ok(())；用 trim_line_end 去掉 \r\n，空行跳过。
    // 用 write_all 发送，再用 read_echo(conn, input, reply_timeout) 收齐回声并核对，用 printable 打印出来。
    // 出错时返回的话已经写好：读输入出错返回 Err(input_failed(&err))，发送出错返回 Err(send_failed(&err))。
    todo!("练习 2.2：TCP 客户端：读一行、发送、打印回声")
}

// talk 出错时返回的话。练习 2.2 里它们已经写好：直接调用，只需要写逻辑。

/// 读键盘（标准输入）出错。
fn input_failed(err: &std::io::Error) -> String {
    format!("读取输入失败：{}", cause(err))
}

/// 发送出错。
fn send_failed(err: &std::io::Error) -> String {
    format!("发送失败：{}", cause(err))
}

/// 读回声：回声服务会把我们发出的 `sent` 原样发回来，所以要一直读到收齐同样多的字节，
/// 再核对收回的和发出的是不是一样。
/// 不能像教程那样只读一次：TCP 是字节流，一次 read 可能只拿到回声的一部分。
async fn read_echo(
    conn: &mut TcpStream,
    sent: &[u8],
    reply_timeout: Duration,
) -> Result<Vec<u8>, String> {
    let expected = sent.len();
    let mut reply = vec![0u8; expected];
    let mut got = 0;
    // 时限管的是整条回声，不是每一次 read：先算出最晚什么时候必须收齐。
    // 如果每次 read 各等 reply_timeout，服务端每隔几秒挤出一个字节，我们就会一直等下去。
    let deadline = Instant::now() + reply_timeout;
    while got < expected {
        // 只往还没填满的那部分读，绝不多读属于下一条回复的字节
        match timeout_at(deadline, conn.read(&mut reply[got..])).await {
            Ok(Ok(0)) => {
                return Err(format!(
                    "服务端关闭了连接（这条回声只收到 {got}/{expected} 字节），它可能已经退出"
                ));
            }
            Ok(Ok(n)) => got += n,
            Ok(Err(err)) => return Err(format!("接收失败：{}", cause(&err))),
            Err(_) => {
                return Err(format!(
                    "等了 {} 秒，这条回声只收到 {got}/{expected} 字节：服务端没有把数据全部发回来",
                    reply_timeout.as_secs()
                ));
            }
        }
    }
    // 长度对了，内容也要对：不一样说明对面不是回声服务，或者收发已经错位，
    // 之后的每一条回复都没法再和发出的行对上，所以不再继续
    if reply != sent {
        return Err(wrong_echo(sent, &reply));
    }
    Ok(reply)
}

/// 收回的和发出的不一样。
fn wrong_echo(sent: &[u8], reply: &[u8]) -> String {
    format!(
        "回声和发出的不一样（发出 {}，收回 {}）：对方可能不是回声服务端，\
         请确认 --addr 是 lab-tcp-server 打印的地址。后面的回复已经对不上号，客户端退出",
        printable(sent),
        printable(reply)
    )
}

/// 去掉行首行尾的 `\r` 和 `\n`（相当于 Go 的 `strings.Trim(input, "\r\n")`）。
fn trim_line_end(line: &[u8]) -> &[u8] {
    let is_line_end = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = line
        .iter()
        .position(|b| !is_line_end(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_line_end(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}
