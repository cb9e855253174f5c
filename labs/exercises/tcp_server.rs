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
use socket_workbook::text::printable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// TCP 回声服务端：把每个客户端发来的数据原样发回去。
#[derive(Parser)]
#[command(name = "lab-tcp-server", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20000")]
    addr: String,
}

/// 处理一个连接：读一块数据，打印出来，再原样写回去，直到对方关闭连接或出错。
async fn process(mut conn: TcpStream, peer: SocketAddr) {
    // TODO（练习 2.1）：在循环里用 conn.read(&mut buf) 读一块数据：读到 0 字节说明客户端关闭了连接，
    // 打印“客户端 {peer} 已关闭连接”后返回；读到 n 字节就打印
    // “收到client端发来的数据： {printable(&buf[..n])}”，再用 write_all 原样写回。
    // 读或写出错时打印原因（errors::cause）并返回：只结束这一个连接。
    todo!("练习 2.1：TCP 回声服务端：处理一个连接")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // 1. 监听端口
    let listener = match TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{}", listen_failed(&args.addr, &err, "lab-tcp-server"));
            return ExitCode::FAILURE;
        }
    };
    // 端口写 0 时，要问监听器才知道系统实际分配了哪个端口
    match listener.local_addr() {
        Ok(local) => println!("正在监听 {local}，按 Ctrl-C 停止"),
        Err(err) => println!("正在监听（无法获取本地地址：{}）", cause(&err)),
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

        // 3. 为这个连接启动一个任务去处理（相当于 Go 的 go process(conn)）
        tokio::spawn(process(conn, peer));
    }
}
