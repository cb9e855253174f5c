//! # 第 2.3 节 · 黏包：客户端
//!
//! 连上 `lab-sticky-server`，连续写 20 次 `Hello, Hello. How are you?`，然后关闭连接。
//!
//! - 不加参数：原样发送，消息之间没有任何边界，服务端分不清哪里是一条消息的结尾。
//! - `--framed`：每条消息前面加 4 字节长度（大端序），用手写的 `proto` 模块编码。
//! - `--codec`：同样的格式，用 tokio-util 的 `LengthDelimitedCodec` 编码。
//! - `--nodelay`：关掉 Nagle 算法（`set_nodelay(true)`），看看黏包会不会因此消失。
//!
//! 运行（先在另一个终端启动服务端 `cargo run --bin lab-sticky-server`）：
//!
//! ```text
//! cargo run --bin lab-sticky-client
//! cargo run --bin lab-sticky-client -- --framed      # 服务端也要加 --framed
//! ```
//!
//! 不用这个客户端也行：`nc -l 127.0.0.1 30000 | xxd` 可以当服务端，看看客户端到底发了哪些字节。

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use futures_util::SinkExt;
use socket_workbook::errors::cause;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::{FramedWrite, LengthDelimitedCodec};

#[path = "../lan/dial.rs"]
mod dial;

#[path = "proto.rs"]
mod proto;

/// 每次发送的消息（网上常见的 Go 黏包演示也用这一句）。
const MESSAGE: &str = "Hello, Hello. How are you?";

/// 黏包演示的客户端：连续发送同一条消息若干次。
#[derive(Parser)]
#[command(name = "lab-sticky-client", version)]
struct Args {
    /// 服务端的地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:30000")]
    addr: String,

    /// 连接每个地址最多等几秒（名字解析出好几个地址时，一个一个地试）
    #[arg(long, default_value_t = 3, value_name = "秒", value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,

    /// 每条消息前加 4 字节长度（大端序），用手写的 proto 模块
    #[arg(long, conflicts_with = "codec")]
    framed: bool,

    /// 同样的格式，用 tokio-util 的 LengthDelimitedCodec
    #[arg(long)]
    codec: bool,

    /// 关掉 Nagle 算法（TCP_NODELAY）
    #[arg(long)]
    nodelay: bool,

    /// 发送多少条消息
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    count: u16,
}

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // 1. 建立连接
    // 一个名字可能解析出好几个地址：依次试，每个最多等 connect_timeout 秒（见 labs/lan/dial.rs）
    let connect_timeout = Duration::from_secs(args.connect_timeout);
    let mut conn = match dial::dial(&args.addr, connect_timeout, "lab-sticky-server").await {
        Ok(conn) => conn,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    // tokio 默认开着 Nagle 算法（Go 默认关掉它）；想和 Go 一样就调用 set_nodelay(true)
    if args.nodelay
        && let Err(err) = conn.set_nodelay(true)
    {
        eprintln!("设置 TCP_NODELAY 失败：{}", cause(&err));
        return ExitCode::FAILURE;
    }

    // 2. 连续发送 count 条消息
    let sent = if args.framed {
        send_framed(&mut conn, args.count).await
    } else if args.codec {
        send_codec(&mut conn, args.count).await
    } else {
        send_raw(&mut conn, args.count).await
    };

    // 3. 关闭发送方向（发出 FIN），告诉服务端“我说完了”
    let result = match sent {
        Ok(bytes) => conn.shutdown().await.map(|()| bytes),
        Err(err) => Err(err),
    };
    match result {
        Ok(bytes) => {
            println!("已发送 {} 条消息，共 {bytes} 字节，关闭连接", args.count);
            ExitCode::SUCCESS
        }
        // 消息太长，编码不了（见 proto::MAX_FRAME_LEN）
        Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
            eprintln!("无法发送：{err}。请把消息改短，或者调大 MAX_FRAME_LEN");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("发送失败：{}。服务端可能已经退出或断开了连接", cause(&err));
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main

// ANCHOR: send_raw
/// 原样发送：消息之间什么也不加。返回一共写了多少字节。
async fn send_raw(conn: &mut TcpStream, count: u16) -> std::io::Result<usize> {
    let mut total = 0;
    for _ in 0..count {
        conn.write_all(MESSAGE.as_bytes()).await?;
        total += MESSAGE.len();
    }
    Ok(total)
}
// ANCHOR_END: send_raw

// ANCHOR: send_framed
/// 每条消息先用 proto::encode 加上 4 字节长度，再发送。
async fn send_framed(conn: &mut TcpStream, count: u16) -> std::io::Result<usize> {
    let mut total = 0;
    for _ in 0..count {
        let frame = proto::encode(MESSAGE.as_bytes())
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        conn.write_all(&frame).await?;
        total += frame.len();
    }
    Ok(total)
}
// ANCHOR_END: send_framed

// ANCHOR: send_codec
/// 同样的格式交给 LengthDelimitedCodec：send 一条消息，它负责在前面加上长度再写出去。
async fn send_codec(conn: &mut TcpStream, count: u16) -> std::io::Result<usize> {
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(proto::HEADER_LEN)
        .big_endian()
        .max_frame_length(proto::MAX_FRAME_LEN)
        .new_codec();
    let mut frames = FramedWrite::new(conn, codec);
    for _ in 0..count {
        frames.send(Bytes::from_static(MESSAGE.as_bytes())).await?;
    }
    Ok(usize::from(count) * (proto::HEADER_LEN + MESSAGE.len()))
}
// ANCHOR_END: send_codec
