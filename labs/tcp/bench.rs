//! # 附录 · 回声服务的压测工具
//!
//! 不是教程里的程序，而是用来量一量回声服务端有多快、有多省内存：
//!
//! - `pingpong`：开 N 条 TCP 连接，每条连接不停地“发一条、等回声”，统计每秒往返次数和延迟分位数；
//! - `idle`：开 N 条空闲 TCP 连接并保持住，读出服务端进程的常驻内存（Linux 的 /proc/PID/status）；
//! - `udp`：第 3 章的 UDP 回声服务端的乒乓测试：N 个客户端各自“发一个数据报、等到它的回声，再发下一个”。
//!   给出 `--baseline` 时，在同一次运行里轮流测两个服务端，报告每一轮的比例和中位数。
//!
//! 服务端的每行输出都会写终端，压测时请把它的输出丢掉，并用 release 构建：
//!
//! ```text
//! cargo build --release --bins
//! target/release/lab-tcp-server > /dev/null &
//! target/release/lab-tcp-bench pingpong --conns 16 --secs 5
//! target/release/lab-tcp-bench idle --conns 10000 --pid $!
//! target/release/lab-udp-server > /dev/null &
//! target/release/lab-tcp-bench udp --clients 16 --secs 3 --rounds 8
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use socket_workbook::errors::{cause, connect_failed, port_unreachable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// 回声服务的压测工具（TCP 和 UDP）
#[derive(Parser)]
#[command(name = "lab-tcp-bench", version)]
struct Args {
    /// 回声服务端的地址（默认：pingpong 和 idle 是 127.0.0.1:20000，udp 是 127.0.0.1:8080）
    #[arg(long, global = true)]
    addr: Option<String>,

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
    /// UDP 乒乓测试：每个客户端发一个数据报、等到它的回声，再发下一个
    Udp {
        /// 同时发送的客户端数（每个客户端一个套接字）
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
        clients: u16,
        /// 每一轮、每个服务端计时的秒数（之前另有 1 秒预热，不计入结果）
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
        secs: u64,
        /// 每个数据报的字节数（8 到 1024：前 8 字节是序号，服务端默认的缓冲区是 1024 字节）
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(8..=1024))]
        size: u16,
        /// 测几轮；给出 --baseline 时，每一轮两个服务端各测一次，轮流先测
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
        rounds: u16,
        /// 作为基准的另一个回声服务端（例如原教程的 Go 服务端）：在同一次运行里轮流测，报告比例
        #[arg(long, value_name = "HOST:PORT")]
        baseline: Option<String>,
        /// （只在 Linux 上）--addr 那个服务端的进程号：再报告它每次往返用掉多少 CPU 时间
        #[arg(long)]
        pid: Option<u32>,
        /// （只在 Linux 上）基准服务端的进程号
        #[arg(long, requires = "baseline")]
        baseline_pid: Option<u32>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let tcp_addr = args.addr.as_deref().unwrap_or("127.0.0.1:20000");
    let result = match args.mode {
        Mode::Pingpong { conns, secs, size } => {
            pingpong(tcp_addr, conns, Duration::from_secs(secs), size.into()).await
        }
        Mode::Idle { conns, pid } => idle(tcp_addr, conns, pid).await,
        Mode::Udp {
            clients,
            secs,
            size,
            rounds,
            baseline,
            pid,
            baseline_pid,
        } => {
            let load = UdpLoad {
                clients: clients.into(),
                secs: Duration::from_secs(secs),
                size: size.into(),
            };
            let mut servers = vec![(args.addr.as_deref().unwrap_or("127.0.0.1:8080"), pid)];
            if let Some(baseline) = baseline.as_deref() {
                servers.push((baseline, baseline_pid));
            }
            udp(&servers, &load, rounds.into()).await
        }
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

// ---------------------------------------------------------------- UDP 乒乓

/// 等这么久还没有回声，就当这个数据报（或它的回声）丢了，发下一个。
const UDP_LOST_AFTER: Duration = Duration::from_millis(500);

/// 每个客户端在一次测量里最多做这么多次往返：即使时钟出了问题，循环也一定会结束。
const UDP_MAX_ROUND_TRIPS: u64 = 50_000_000;

/// 一次 UDP 乒乓测量的负载。
struct UdpLoad {
    clients: usize,
    secs: Duration,
    size: usize,
}

/// 一次测量的结果。
struct UdpResult {
    per_sec: f64,
    p50_us: u32,
    p99_us: u32,
    max_us: u32,
    lost: u64,
    /// 服务端平均每次往返用掉的 CPU 时间（微秒）；没有给进程号时为 None
    cpu_us: Option<f64>,
}

/// 一个要测的服务端：地址，和（可选的）进程号。
#[derive(Clone, Copy)]
struct UdpTarget {
    addr: SocketAddr,
    pid: Option<u32>,
}

/// `udp` 模式：只测一个服务端，或者和基准轮流测 `rounds` 轮，最后报告中位数和比例。
/// `servers` 是（地址，进程号）：第一个是要测的，第二个（如果有）是基准。
async fn udp(servers: &[(&str, Option<u32>)], load: &UdpLoad, rounds: usize) -> Result<(), String> {
    if servers.iter().any(|(_, pid)| pid.is_some()) && !cfg!(target_os = "linux") {
        return Err(format!(
            "--pid 只能在 Linux 上使用：服务端用掉的 CPU 时间读自 /proc/PID/stat，{} 没有这个文件。\
             去掉 --pid 和 --baseline-pid，只比较每秒往返次数",
            std::env::consts::OS
        ));
    }
    let mut targets = Vec::new();
    for &(addr, pid) in servers {
        targets.push(UdpTarget {
            addr: resolve_udp(addr).await?,
            pid,
        });
    }
    println!(
        "UDP 乒乓：{} 个客户端，数据报 {} 字节，每次计时 {} 秒（另有 1 秒预热），{} 轮{}",
        load.clients,
        load.size,
        load.secs.as_secs(),
        rounds,
        if targets.len() > 1 {
            "，每轮两个服务端各测一次，轮流先测"
        } else {
            ""
        }
    );
    // results[i] 是 targets[i] 每一轮的结果
    let mut results: Vec<Vec<UdpResult>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        // 偶数轮先测 addr，奇数轮先测 baseline：机器负载的起伏不会总落在同一个服务端上
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let result = udp_measure(targets[i], load).await?;
            results[i].push(result);
        }
        let mut line = format!("第 {} 轮：", round + 1);
        for (target, result) in targets.iter().zip(&results) {
            line.push_str(&describe(target.addr, &result[round]));
            line.push('；');
        }
        if targets.len() > 1 {
            line.push_str(&format!(
                "比例 {:.2}",
                results[0][round].per_sec / results[1][round].per_sec
            ));
        }
        println!("{}", line.trim_end_matches('；'));
    }
    for (target, result) in targets.iter().zip(&results) {
        let cpu: Vec<f64> = result.iter().filter_map(|r| r.cpu_us).collect();
        let cpu = if cpu.is_empty() {
            String::new()
        } else {
            format!("，每次往返 CPU {:.1} µs", median(cpu))
        };
        println!(
            "{} 的中位数：{:.0} 次往返/秒，p99 {:.0} µs（{} 轮的 p99 在 {} 到 {} µs 之间）{cpu}",
            target.addr,
            median(result.iter().map(|r| r.per_sec).collect()),
            median(result.iter().map(|r| r.p99_us as f64).collect()),
            result.len(),
            result.iter().map(|r| r.p99_us).min().unwrap_or(0),
            result.iter().map(|r| r.p99_us).max().unwrap_or(0),
        );
    }
    if targets.len() > 1 {
        let (a, b) = (targets[0].addr, targets[1].addr);
        let ratios: Vec<f64> = results[0]
            .iter()
            .zip(&results[1])
            .map(|(x, y)| x.per_sec / y.per_sec)
            .collect();
        println!("每秒往返次数之比 {a} / {b}：{}", spread(ratios));
        let cpu_ratios: Vec<f64> = results[0]
            .iter()
            .zip(&results[1])
            .filter_map(|(x, y)| Some(x.cpu_us? / y.cpu_us?))
            .collect();
        if !cpu_ratios.is_empty() {
            println!("每次往返的 CPU 时间之比 {a} / {b}：{}", spread(cpu_ratios));
        }
    }
    Ok(())
}

/// 一组比例的中位数、最小值和最大值。
fn spread(ratios: Vec<f64>) -> String {
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(0.0, f64::max);
    format!("中位数 {:.2}，最小 {min:.2}，最大 {max:.2}", median(ratios))
}

/// 一行结果：每秒往返次数和延迟分位数，有丢失时也写出来。
fn describe(target: SocketAddr, r: &UdpResult) -> String {
    let lost = if r.lost > 0 {
        format!("，丢失 {} 个", r.lost)
    } else {
        String::new()
    };
    let cpu = match r.cpu_us {
        Some(cpu) => format!("，每次往返 CPU {cpu:.1} µs"),
        None => String::new(),
    };
    format!(
        "{target} {:.0} 次往返/秒（p50 {} µs，p99 {} µs，最大 {} µs{lost}{cpu}）",
        r.per_sec, r.p50_us, r.p99_us, r.max_us
    )
}

/// 中位数（个数为偶数时取中间两个的平均）。
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// 把 HOST:PORT 解析成一个地址（压测只用第一个）。
async fn resolve_udp(addr: &str) -> Result<SocketAddr, String> {
    match tokio::net::lookup_host(addr)
        .await
        .map(|mut found| found.next())
    {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(format!("地址 {addr} 没有解析出任何 IP，请检查主机名")),
        Err(err) => Err(format!(
            "无法解析地址 {addr}：{}。格式是 HOST:PORT，例如 127.0.0.1:8080",
            cause(&err)
        )),
    }
}

/// 开 `load.clients` 个客户端同时做乒乓，1 秒预热之后计时 `load.secs`。
async fn udp_measure(server: UdpTarget, load: &UdpLoad) -> Result<UdpResult, String> {
    let target = server.addr;
    // 先让每个客户端都做一次往返，确认服务端在回声，再一起开始计时
    let mut sockets = Vec::with_capacity(load.clients);
    for _ in 0..load.clients {
        sockets.push(udp_client(target).await?);
    }
    let warmup_end = Instant::now() + Duration::from_secs(1);
    let end = warmup_end + load.secs;
    let mut tasks = JoinSet::new();
    for (id, socket) in sockets.into_iter().enumerate() {
        let size = load.size;
        tasks.spawn(async move { udp_pingpong(socket, id, size, warmup_end, end).await });
    }
    // 预热结束时记下服务端已经用掉的 CPU 时间，计时结束后再记一次
    let cpu_before = match server.pid {
        Some(pid) => {
            tokio::time::sleep_until(warmup_end.into()).await;
            Some(cpu_ticks(pid)?)
        }
        None => None,
    };
    let mut all = Vec::new();
    let mut lost = 0;
    while let Some(joined) = tasks.join_next().await {
        let (latencies, lost_here) =
            joined.map_err(|err| format!("客户端任务异常结束：{err}"))??;
        all.extend(latencies);
        lost += lost_here;
    }
    if all.is_empty() {
        return Err(format!("计时期间 {target} 没有完成任何一次往返"));
    }
    let cpu_us = match (server.pid, cpu_before) {
        (Some(pid), Some(before)) => {
            let ticks = cpu_ticks(pid)?.saturating_sub(before);
            Some(ticks as f64 * MICROS_PER_TICK / all.len() as f64)
        }
        _ => None,
    };
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    Ok(UdpResult {
        per_sec: all.len() as f64 / load.secs.as_secs_f64(),
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        max_us: pick(1.0),
        lost,
        cpu_us,
    })
}

/// /proc/PID/stat 里的时间以“时钟滴答”计，Linux 上一个滴答是 1/100 秒（USER_HZ）。
const MICROS_PER_TICK: f64 = 10_000.0;

/// 读 Linux 的 /proc/PID/stat：进程（所有线程）到现在为止用掉的用户态和内核态 CPU 时间，单位是滴答。
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path)
        .map_err(|err| format!("读不到 {path}：{}（进程号写对了吗？）", cause(&err)))?;
    // 第 2 项是用括号括起来的程序名，里面可能有空格：从最后一个右括号之后开始数，
    // utime 和 stime 是整行的第 14、15 项，也就是右括号之后的第 12、13 项
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    match (fields.get(11), fields.get(12)) {
        (Some(user), Some(system)) => match (user.parse::<u64>(), system.parse::<u64>()) {
            (Ok(user), Ok(system)) => Ok(user + system),
            _ => Err(format!("{path} 的格式看不懂")),
        },
        _ => Err(format!("{path} 的格式看不懂")),
    }
}

/// 一个指向 `target` 的 UDP 套接字，已经确认服务端会回声。
async fn udp_client(target: SocketAddr) -> Result<UdpSocket, String> {
    let local: SocketAddr = if target.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|err| format!("无法创建 UDP 套接字：{}", cause(&err)))?;
    socket
        .connect(target)
        .await
        .map_err(|err| format!("无法把 UDP 套接字指向 {target}：{}", cause(&err)))?;
    let mut buf = [0u8; 16];
    // 最多试 3 次：回环地址上几乎不丢包，但服务端可能刚刚启动
    for _ in 0..3 {
        socket
            .send(b"ready?")
            .await
            .map_err(|err| udp_failed(target, &err))?;
        match timeout(UDP_LOST_AFTER, socket.recv(&mut buf)).await {
            Ok(Ok(n)) if &buf[..n] == b"ready?" => return Ok(socket),
            Ok(Ok(_)) | Err(_) => continue,
            Ok(Err(err)) => return Err(udp_failed(target, &err)),
        }
    }
    Err(format!(
        "{target} 没有回声：请先启动 UDP 回声服务端，例如 target/release/lab-udp-server --addr {target} > /dev/null"
    ))
}

/// 收发失败的一行说明；最常见的是服务端没有运行（ICMP“端口不可达”）。
fn udp_failed(target: SocketAddr, err: &std::io::Error) -> String {
    if port_unreachable(err) {
        format!(
            "{target} 上没有程序在接收 UDP 数据报（{}）：请先启动服务端，\
             例如 target/release/lab-udp-server --addr {target} > /dev/null",
            cause(err)
        )
    } else {
        format!("和 {target} 收发数据报失败：{}", cause(err))
    }
}

/// 一个客户端的乒乓循环：发一个带序号的数据报，等到序号相同的回声再发下一个。
/// 序号不同的是之前某个超时的数据报迟到的回声，跳过。返回计时期间每次往返的延迟（微秒）和丢失的个数。
async fn udp_pingpong(
    socket: UdpSocket,
    id: usize,
    size: usize,
    warmup_end: Instant,
    end: Instant,
) -> Result<(Vec<u32>, u64), String> {
    let target = socket
        .peer_addr()
        .map_err(|err| format!("客户端 {id} 的套接字没有对端地址：{}", cause(&err)))?;
    let mut message = vec![b'a'; size];
    let mut buf = vec![0u8; size + 1];
    let mut latencies_us = Vec::new();
    let mut lost = 0;
    for seq in 0..UDP_MAX_ROUND_TRIPS {
        let start = Instant::now();
        if start >= end {
            break;
        }
        message[..8].copy_from_slice(&seq.to_be_bytes());
        socket
            .send(&message)
            .await
            .map_err(|err| udp_failed(target, &err))?;
        let answered = timeout(UDP_LOST_AFTER, async {
            loop {
                let n = socket.recv(&mut buf).await?;
                if buf[..n] == message[..] {
                    return Ok::<_, std::io::Error>(());
                }
            }
        })
        .await;
        let counted = start >= warmup_end;
        match answered {
            Ok(Ok(())) if counted => latencies_us.push(start.elapsed().as_micros() as u32),
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(udp_failed(target, &err)),
            Err(_) if counted => lost += 1,
            Err(_) => {}
        }
    }
    Ok((latencies_us, lost))
}
