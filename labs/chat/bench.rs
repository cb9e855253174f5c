//! # 第 4 章 · 聊天室的压测工具
//!
//! 开 N 个连接进入聊天室，让其中一个以固定的速率发 M 行，其余 N-1 个人都应当收到每一行。
//! 每一行里写着它的编号和发出的时刻，收到时算出它在路上花了多久（送达延迟），最后报告：
//! 送达了多少行（应当是 (N-1)×M）、延迟的 p50 / p99 / 最大值。
//!
//! 它不认识具体的协议：进门时发一行昵称，之后只认带 `BENCH` 记号的行，
//! 所以 `lab-chat-server` 和对照组 `lab-chat-baseline` 都能测。请用 release 构建，把服务端的输出丢掉：
//!
//! ```text
//! cargo build --release --bins
//! ulimit -n 4096                                   # 1000 个连接需要 1000 多个文件描述符
//! target/release/lab-chat-server --max-rate 0 > /dev/null &   # 压测时一个人每秒说几千行：0 表示不限速
//! target/release/lab-chat-bench --clients 1000 --lines 1000 --rate 2000
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use socket_workbook::errors::{cause, connect_failed};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// 聊天室的压测工具：一个人说，N-1 个人听，统计送达率和送达延迟。
#[derive(Parser)]
#[command(name = "lab-chat-bench", version)]
struct Args {
    /// 聊天服务端的地址
    #[arg(long, default_value = "127.0.0.1:20004")]
    addr: String,
    /// 连接数 N（其中一个负责说话）
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(2..))]
    clients: u32,
    /// 说多少行 M
    #[arg(long, default_value_t = 1000)]
    lines: u32,
    /// 每秒说多少行
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// 说完以后最多再等几秒，让还在路上的行送到
    #[arg(long, default_value_t = 10)]
    grace: u64,
}

/// 所有人共用的计时起点和计数。
struct Shared {
    start: Instant,
    /// 已经收到过“预热”行的人数：等于 N-1 时说明所有人都已进门
    ready: AtomicUsize,
    /// 已经收齐全部 M 行计时行的人数：等于 N-1 时不必再等
    finished: AtomicUsize,
    /// 每人应当收到的计时行数 M
    lines: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let shared = Arc::new(Shared {
        start: Instant::now(),
        ready: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        lines: args.lines as usize,
    });
    let stop = CancellationToken::new();
    let listeners = args.clients as usize - 1;
    let expected = listeners * args.lines as usize;

    // 1. 所有人进门：连接，发昵称；每人一个任务负责听。
    //    写的一半都留着：OwnedWriteHalf 被丢掉时会关闭写方向，服务端会以为这个人走了。
    let mut writers = Vec::new();
    let mut ears = JoinSet::new();
    for id in 0..args.clients {
        let conn = TcpStream::connect(&args.addr)
            .await
            .map_err(|err| connect_failed(&args.addr, &err, "lab-chat-server"))?;
        conn.set_nodelay(true).map_err(|err| cause(&err))?;
        let (reader, mut writer) = conn.into_split();
        writer
            .write_all(format!("b{id}\n").as_bytes())
            .await
            .map_err(|err| format!("第 {id} 个连接发送昵称失败：{}", cause(&err)))?;
        ears.spawn(listen(reader, id == 0, shared.clone(), stop.clone()));
        writers.push(writer);
    }
    let speaker = &mut writers[0];

    // 2. 预热：每 50 毫秒说一句预热行，直到其余每个人都至少听到一句（说明都已进门）
    let warmup_deadline = Instant::now() + Duration::from_secs(30);
    while shared.ready.load(Ordering::Relaxed) < listeners {
        if Instant::now() > warmup_deadline {
            return Err(format!(
                "30 秒内只有 {}/{listeners} 个连接收到了预热行，服务端是否正常？",
                shared.ready.load(Ordering::Relaxed)
            ));
        }
        speak(speaker, "BENCH warmup 0").await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // 让最后几句预热行走完

    // 3. 按固定速率说 M 行；每一行写上编号和发出的时刻（从 start 起的微秒数）
    println!(
        "{} 个连接，1 个说话，以每秒 {} 行的速率说 {} 行……",
        args.clients, args.rate, args.lines
    );
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let begin = tokio::time::Instant::now();
    for seq in 0..args.lines {
        tokio::time::sleep_until(begin + period * seq).await;
        let sent_at = shared.start.elapsed().as_micros();
        speak(speaker, &format!("BENCH {seq} {sent_at}")).await?;
    }
    let sending = begin.elapsed();

    // 4. 等还在路上的行送到：全部送达，或者 grace 秒内没有全部送达
    let grace_deadline = Instant::now() + Duration::from_secs(args.grace);
    while shared.finished.load(Ordering::Relaxed) < listeners && Instant::now() < grace_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    let mut latencies = Vec::with_capacity(expected);
    let mut closed = 0;
    while let Some(result) = ears.join_next().await {
        let (mut heard, was_closed) = result.map_err(|err| format!("接收任务出错：{err}"))?;
        latencies.append(&mut heard);
        closed += usize::from(was_closed);
    }
    drop(writers);

    // 5. 报告
    latencies.sort_unstable();
    let delivered = latencies.len();
    println!(
        "发送用时 {:.2} 秒；送达 {delivered}/{expected}（{:.2}%）；被服务端断开的连接：{closed}",
        sending.as_secs_f64(),
        100.0 * delivered as f64 / expected.max(1) as f64
    );
    if delivered > 0 {
        println!(
            "送达延迟：p50 {} ms，p99 {} ms，最大 {} ms",
            millis(percentile(&latencies, 50.0)),
            millis(percentile(&latencies, 99.0)),
            millis(*latencies.last().unwrap_or(&0))
        );
    }
    Ok(())
}

/// 说一行。
async fn speak(speaker: &mut OwnedWriteHalf, text: &str) -> Result<(), String> {
    speaker
        .write_all(format!("{text}\n").as_bytes())
        .await
        .map_err(|err| format!("发送失败：{}", cause(&err)))
}

/// 听：读到的每一行里找 `BENCH 编号 时刻`，算出延迟（微秒）。返回所有延迟，以及连接是否被对方关闭。
///
/// 压测工具和服务端在同一台机器上抢 CPU，所以这里每行做的事越少，量出来的越接近服务端本身：
/// 读进一块反复使用的缓冲区（不为每行分配 String），不碰别人也在改的计数器，
/// “停下”的信号只登记一次（而不是每读一行都重新登记一次）。
async fn listen(
    reader: OwnedReadHalf,
    is_speaker: bool,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> (Vec<u64>, bool) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut heard = Vec::with_capacity(shared.lines);
    let mut warmed_up = false;
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        line.clear();
        let read = tokio::select! {
            read = reader.read_until(b'\n', &mut line) => read,
            _ = &mut stopped => return (heard, false),
        };
        if !matches!(read, Ok(n) if n > 0) {
            return (heard, true);
        }
        if is_speaker {
            continue; // 说话的人只是把发给自己的行读掉
        }
        match parse_bench_line(&line) {
            Some(Timed::Warmup) if !warmed_up => {
                warmed_up = true;
                shared.ready.fetch_add(1, Ordering::Relaxed);
            }
            Some(Timed::Sent(sent_at)) => {
                let now = shared.start.elapsed().as_micros() as u64;
                heard.push(now.saturating_sub(sent_at));
                if heard.len() == shared.lines {
                    shared.finished.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

/// 一行 `... BENCH 编号 时刻` 的内容。
enum Timed {
    Warmup,
    /// 发出的时刻（从 start 起的微秒数）
    Sent(u64),
}

/// 在一行里找 `BENCH ` 记号，取出它后面的内容；不是压测行的返回 None。
fn parse_bench_line(line: &[u8]) -> Option<Timed> {
    let at = line.windows(6).position(|w| w == b"BENCH ")?;
    let fields = line[at + 6..].trim_ascii_end();
    if fields.starts_with(b"warmup") {
        return Some(Timed::Warmup);
    }
    // 最后一个字段是发出的时刻
    let space = fields.iter().rposition(|&b| b == b' ')?;
    let sent_at = std::str::from_utf8(&fields[space + 1..]).ok()?;
    sent_at.parse().ok().map(Timed::Sent)
}

/// 排好序的数据的第 `p` 百分位。
fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// 微秒 → 毫秒，保留两位小数。
fn millis(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}
