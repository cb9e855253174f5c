//! # 附录 · TCP 回声服务的压测工具
//!
//! 不是教程里的程序，而是用来量一量回声服务端有多快、有多省内存：
//!
//! - `pingpong`：开 N 条连接，每条连接不停地“发一条、等回声”，统计每秒往返次数和延迟分位数；
//! - `idle`：开 N 条空闲连接并保持住，读出服务端进程的常驻内存（Linux 的 /proc/PID/status）。
//!
//! 服务端的每行输出都会写终端，压测时请把它的输出丢掉，并用 release 构建：
//!
//! ```text
//! cargo build --release --bins
//! target/release/lab-tcp-server > /dev/null &
//! target/release/lab-tcp-bench pingpong --conns 16 --secs 5
//! target/release/lab-tcp-bench idle --conns 10000 --pid $!
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use socket_workbook::errors::{cause, connect_failed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// TCP 回声服务的压测工具
#[derive(Parser)]
#[command(name = "lab-tcp-bench", version)]
struct Args {
    /// 回声服务端的地址
    #[arg(long, default_value = "127.0.0.1:20000", global = true)]
    addr: String,

    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// 乒乓测试：每条连接发一条消息、等到完整的回声，再发下一条
    Pingpong {
        /// 同时使用的连接数
        #[arg(long, default_value_t = 16)]
        conns: usize,
        /// 计时的秒数（之前另有 1 秒预热，不计入结果）
        #[arg(long, default_value_t = 5)]
        secs: u64,
        /// 每条消息的字节数（不超过 128，教程的服务端一次最多读 128 字节）
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=128))]
        size: u16,
    },
    /// 空闲连接测试：开 N 条连接保持不动，读出服务端进程的常驻内存
    Idle {
        /// 连接数
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// 服务端进程号，用来读 /proc/PID/status 里的 VmRSS
        #[arg(long)]
        pid: u32,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.mode {
        Mode::Pingpong { conns, secs, size } => {
            pingpong(&args.addr, conns, Duration::from_secs(secs), size.into()).await
        }
        Mode::Idle { conns, pid } => idle(&args.addr, conns, pid).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// 开 `count` 条连接，每条都做一次往返，确认服务端已经接受并开始处理它。
/// 每批并发 100 条，免得一下子塞满服务端的监听队列。
async fn open_connections(addr: &str, count: usize) -> Result<Vec<TcpStream>, String> {
    let mut conns = Vec::with_capacity(count);
    while conns.len() < count {
        let batch = (count - conns.len()).min(100);
        let mut tasks = JoinSet::new();
        for _ in 0..batch {
            let addr = addr.to_string();
            tasks.spawn(async move {
                let mut conn = TcpStream::connect(&addr)
                    .await
                    .map_err(|err| connect_failed(&addr, &err, "lab-tcp-server"))?;
                round_trip(&mut conn, b"x").await?;
                Ok::<_, String>(conn)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let conn = joined.map_err(|err| format!("连接任务异常结束：{err}"))??;
            conns.push(conn);
        }
    }
    Ok(conns)
}

/// 发一条消息并读回同样长度的回声。
async fn round_trip(conn: &mut TcpStream, message: &[u8]) -> Result<(), String> {
    conn.write_all(message)
        .await
        .map_err(|err| format!("发送失败：{}", cause(&err)))?;
    let mut echo = vec![0u8; message.len()];
    conn.read_exact(&mut echo)
        .await
        .map_err(|err| format!("接收回声失败：{}", cause(&err)))?;
    if echo != message {
        return Err("回声和发出的内容不一致".to_string());
    }
    Ok(())
}

async fn pingpong(addr: &str, conns: usize, secs: Duration, size: usize) -> Result<(), String> {
    let connections = open_connections(addr, conns).await?;
    let warmup_end = Instant::now() + Duration::from_secs(1);
    let end = warmup_end + secs;
    let mut tasks = JoinSet::new();
    for mut conn in connections {
        tasks.spawn(async move {
            let message = vec![b'a'; size];
            let mut latencies_us = Vec::new();
            loop {
                let start = Instant::now();
                if start >= end {
                    return Ok::<_, String>(latencies_us);
                }
                round_trip(&mut conn, &message).await?;
                if start >= warmup_end {
                    latencies_us.push(start.elapsed().as_micros() as u64);
                }
            }
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.map_err(|err| format!("连接任务异常结束：{err}"))??);
    }
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    if all.is_empty() {
        return Err("计时期间没有完成任何一次往返".to_string());
    }
    println!(
        "连接数 {conns}，消息 {size} 字节：{:.0} 次往返/秒，延迟 p50 {} µs，p99 {} µs，最大 {} µs",
        all.len() as f64 / secs.as_secs_f64(),
        pick(0.50),
        pick(0.99),
        pick(1.0),
    );
    Ok(())
}

async fn idle(addr: &str, conns: usize, pid: u32) -> Result<(), String> {
    // 服务端的常驻内存读自 Linux 的 /proc/PID/status，其他系统没有这个文件：
    // 先说清楚，而不是连上一万条连接之后才失败（pingpong 不读 /proc，到处都能用）
    if !cfg!(target_os = "linux") {
        return Err(format!(
            "lab-tcp-bench idle 只能在 Linux 上运行：它从 /proc/PID/status 读服务端的常驻内存，\
             {} 没有这个文件（pingpong 模式在任何系统上都能用）",
            std::env::consts::OS
        ));
    }
    let before = resident_kib(pid)?;
    let connections = open_connections(addr, conns).await?;
    let after = resident_kib(pid)?;
    println!(
        "空闲连接 {}：服务端常驻内存 {:.1} MB（连接前 {:.1} MB，每条连接约 {:.2} KB）",
        connections.len(),
        after as f64 / 1024.0,
        before as f64 / 1024.0,
        after.saturating_sub(before) as f64 / connections.len().max(1) as f64,
    );
    Ok(())
}

/// 读 Linux 的 /proc/PID/status 里的 VmRSS（常驻内存，单位 KiB）。
fn resident_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|err| format!("读不到 {path}：{}（进程号写对了吗？）", cause(&err)))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path} 里没有 VmRSS 这一项"))
}
