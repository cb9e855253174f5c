//! # 第 4 章 · 量一量这台机器的“下限”
//!
//! 聊天室再快，也快不过内核：把一行送到一个人手里，服务端至少要 `write` 一次，对方至少要 `read` 一次，
//! 每一次都要走一遍完整的 TCP 发送和接收路径。这个程序不经过任何服务端，只量这笔开销：
//!
//! - 先在本机回环地址上建好 N-1 对连接（和 `lab-chat-bench` 一样，N 个人里有一个是说话的人）；
//! - 一个线程依次给每个连接写一次，每次写 B 行，重复到每个连接都收到 M 行为止；
//! - 另一个线程读出所有连接收到的数据，一个字节也不能少；
//! - 最后报告：这些读写一共花了多少 CPU 时间，平均每一次“一写一读”花多少微秒，
//!   以及据此算出的：要把一行送到 N-1 个人手里，至少要多少 CPU 时间。
//!
//! 这里没有队列、没有大厅、没有任何聊天室的逻辑，所以它量出的是**任何**聊天服务端都绕不过去的开销。
//! 用它算一算，就知道 `lab-chat-bench` 的某个目标在这台机器上做不做得到。
//!
//! ```text
//! cargo build --release --bins
//! ulimit -n 4096
//! target/release/lab-chat-floor --clients 1000 --lines 200 --batch 1
//! target/release/lab-chat-floor --clients 1000 --lines 2000 --batch 20
//! ```
//!
//! CPU 时间读自 Linux 的 `/proc/self/stat`，所以这个程序只能在 Linux 上运行。

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use socket_workbook::errors::cause;
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

/// 不经过服务端，量一量把一行通过本机 TCP 写给 N-1 个连接要花多少 CPU。
#[derive(Parser)]
#[command(name = "lab-chat-floor", version)]
struct Args {
    /// 人数 N：和 lab-chat-bench 一样，其中一个是说话的人，所以要写给 N-1 个连接
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(2..))]
    clients: u32,
    /// 每个连接一共收到多少行 M
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    lines: u32,
    /// 每次 write 带几行 B（服务端把排着的几行合成一次写入时，就相当于 B 大于 1）
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
}

/// CPU 时间只精确到 0.01 秒，至少要量这么久，误差才在 5% 以内。
const PRECISE_ENOUGH: Duration = Duration::from_millis(200);

/// 写出去的每一行都是这么长，和压测时聊天室转发的一行差不多。
const LINE: &[u8; 48] = b"<b0> BENCH 123 4567890 ........................\n";

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    // 它量的是 Linux 内核本身：CPU 时间读自 /proc/self/stat，其他系统没有这个文件。
    // 在别的系统上一开始就说清楚，而不是建好几百条连接之后才失败
    if !cfg!(target_os = "linux") {
        return Err(format!(
            "lab-chat-floor 只能在 Linux 上运行：它从 /proc/self/stat 读进程用掉的 CPU 时间，\
             {} 没有这个文件（可以在 WSL2 或 Linux 虚拟机里运行）",
            std::env::consts::OS
        ));
    }
    let receivers = args.clients as usize - 1;
    let lines = args.lines as usize;
    let batch = args.batch as usize;
    let writes_each = lines.div_ceil(batch); // 最后一次可能不满 B 行

    // 1. 建好 N-1 对连接：写的一端留给写线程，读的一端交给读线程
    let (senders, ends) = connect_pairs(receivers)?;
    println!(
        "{receivers} 个连接，每个收 {lines} 行，每次 write 带 {batch} 行：一共 {receivers} × {writes_each} = {} 次写入",
        receivers * writes_each
    );

    // 2. 主线程写、另一个线程读，量墙上时间和整个进程的 CPU 时间（两个线程的都算在里面）
    let cpu_before = process_cpu()?;
    let started = Instant::now();
    let reader = std::thread::spawn(move || read_all(ends, lines * LINE.len()));
    write_all(senders, lines, batch)?;
    let received = reader.join().map_err(|_| "读线程意外结束".to_string())??;
    let wall = started.elapsed();
    let cpu = process_cpu()? - cpu_before;

    // 3. 报告
    let expected = receivers * lines * LINE.len();
    if received != expected {
        return Err(format!(
            "应当收到 {expected} 字节，实际只收到 {received} 字节"
        ));
    }
    report(args, wall, cpu, receivers * writes_each);
    Ok(())
}

/// 在 127.0.0.1 上建 `count` 对连接。返回（写的一端，读的一端）。
fn connect_pairs(count: usize) -> Result<(Vec<TcpStream>, Vec<TcpStream>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|err| cause(&err))?;
    let addr = listener.local_addr().map_err(|err| cause(&err))?;
    let mut senders = Vec::with_capacity(count);
    let mut ends = Vec::with_capacity(count);
    // 连接一多，最常见的失败是文件描述符不够：每对连接要占两个
    let failed = |i: usize, err: std::io::Error| {
        format!(
            "建第 {} 个连接失败：{}。连接多时请先把上限调高，例如 ulimit -n 4096",
            i + 1,
            cause(&err)
        )
    };
    for i in 0..count {
        let end = TcpStream::connect(addr).map_err(|err| failed(i, err))?;
        let (sender, _) = listener.accept().map_err(|err| failed(i, err))?;
        // 和 lab-chat-server 一样关掉 Nagle：每次 write 立刻成为一个 TCP 段
        sender.set_nodelay(true).map_err(|err| cause(&err))?;
        senders.push(sender);
        ends.push(end);
    }
    Ok((senders, ends))
}

/// 写线程（就是主线程）：一轮一轮地写，每轮给每个连接写一次，每次 `batch` 行。
fn write_all(mut senders: Vec<TcpStream>, lines: usize, batch: usize) -> Result<(), String> {
    let chunk = LINE.repeat(batch);
    let mut left = lines;
    while left > 0 {
        let this_time = left.min(batch);
        for sender in &mut senders {
            sender
                .write_all(&chunk[..this_time * LINE.len()])
                .map_err(|err| format!("写入失败：{}", cause(&err)))?;
        }
        left -= this_time;
    }
    Ok(())
}

/// 读线程：一个单线程的 tokio 运行时，每个连接一个任务，读到 `each` 字节为止。返回一共读到的字节数。
fn read_all(ends: Vec<TcpStream>, each: usize) -> Result<usize, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| cause(&err))?;
    runtime.block_on(async move {
        let mut readers = JoinSet::new();
        for end in ends {
            end.set_nonblocking(true).map_err(|err| cause(&err))?;
            let end = tokio::net::TcpStream::from_std(end).map_err(|err| cause(&err))?;
            readers.spawn(read_one(end, each));
        }
        let mut total = 0;
        while let Some(result) = readers.join_next().await {
            total += result.map_err(|err| format!("读任务出错：{err}"))??;
        }
        Ok(total)
    })
}

/// 读一个连接，直到读满 `each` 字节；10 秒内一个字节都没来就放弃，不会永远等下去。
async fn read_one(mut end: tokio::net::TcpStream, each: usize) -> Result<usize, String> {
    let mut buf = vec![0; 8192];
    let mut got = 0;
    while got < each {
        let read = tokio::time::timeout(Duration::from_secs(10), end.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => got += n,
            Ok(Err(err)) => return Err(format!("读取失败：{}", cause(&err))),
            Err(_) => return Err(format!("等了 10 秒没有新数据，只收到 {got}/{each} 字节")),
        }
    }
    Ok(got)
}

/// 整个进程到目前为止用掉的 CPU 时间（用户态加内核态，所有线程，包括已经结束的）。
///
/// 读 `/proc/self/stat` 的第 14、15 个字段，单位是 1/100 秒（Linux 对用户程序固定如此）。
fn process_cpu() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|err| {
        format!(
            "读不到 /proc/self/stat（这个程序只能在 Linux 上运行）：{}",
            cause(&err)
        )
    })?;
    // 第 2 个字段是带括号的程序名，里面可能有空格，所以从最后一个 ')' 之后数起：那里是第 3 个字段
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks =
        |index: usize| -> u64 { fields.get(index).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let (utime, stime) = (ticks(14 - 3), ticks(15 - 3));
    Ok(Duration::from_millis((utime + stime) * 10))
}

/// 打印结果，并换算成“把一行送到 N-1 个人手里”的代价。
fn report(args: &Args, wall: Duration, cpu: Duration, writes: usize) {
    let receivers = args.clients as f64 - 1.0;
    let per_write = cpu.as_secs_f64() * 1e6 / writes as f64;
    // 每次 write 带 B 行，所以一行分摊到 1/B 次写入
    let per_line_ms = per_write * receivers / f64::from(args.batch) / 1000.0;
    println!(
        "用时 {:.2} 秒，CPU 时间 {:.2} 秒（写和读加在一起）",
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
    if cpu < PRECISE_ENOUGH {
        // CPU 时间只精确到 0.01 秒：量的时间太短，下面的数字就不可信
        println!(
            "注意：CPU 时间太短，不足 {:.1} 秒，误差会很大；请加大 --lines 再量一次",
            PRECISE_ENOUGH.as_secs_f64()
        );
    }
    println!("平均每次写入（连同对方的读取）花 {per_write:.1} 微秒 CPU");
    println!(
        "据此，把一行送到 {} 个人手里至少要 {per_line_ms:.2} 毫秒 CPU；两个核一起分担，也要 {:.2} 毫秒",
        args.clients - 1,
        per_line_ms / 2.0
    );
}
