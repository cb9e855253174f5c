//! # 第 6.1 节 · 把坏网络装进盒子
//!
//! 回环地址上的网络是“完美”的：不丢、不慢、不乱序。真实的网络不是这样。
//! 这个程序站在客户端和服务端之间，替它们转发数据，同时故意把链路弄坏：
//! 延迟、抖动、丢包、重复、乱序、限速、把数据切碎或攒在一起、突然“拔网线”、突然重置连接。
//!
//! 所有随机的决定都来自 `--seed` 给出的种子：同一个种子、同样顺序的数据，得到同样的决定，
//! 所以一次“坏运气”可以原样重现。
//!
//! 运行（三个终端）：
//!
//! ```text
//! cargo run --bin lab-udp-server                                            # 服务端，127.0.0.1:8080
//! cargo run --bin lab-bad-link -- --udp --loss 30 --seed 7                  # 坏链路，127.0.0.1:20010
//! cargo run --bin lab-udp-client -- --addr 127.0.0.1:20010 --stdin --retries 5
//! ```
//!
//! TCP 也一样：`cargo run --bin lab-tcp-server`，`cargo run --bin lab-bad-link -- --delay 200 --split`，
//! 再 `cargo run --bin lab-tcp-client -- --addr 127.0.0.1:20010`，或者直接 `nc 127.0.0.1 20010`。

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Parser;
use fastrand::Rng;
use socket_workbook::errors::{
    bind_failed, cause, connect_failed, connect_timed_out, listen_failed,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

/// 坏链路：在客户端和服务端之间转发，按种子故意延迟、丢弃、重复、打乱、切碎数据。
#[derive(Parser)]
#[command(name = "lab-bad-link", version)]
struct Args {
    /// 坏链路监听的地址，客户端连这里；端口写 0 表示由系统挑选
    #[arg(long, default_value = "127.0.0.1:20010")]
    addr: String,

    /// 真正的服务端的地址（默认：TCP 是 127.0.0.1:20000，UDP 是 127.0.0.1:8080）
    #[arg(long, value_name = "HOST:PORT")]
    to: Option<String>,

    /// 转发 UDP 数据报（不加就是转发 TCP 连接）
    #[arg(long)]
    udp: bool,

    /// 随机数的种子：同一个种子、同样顺序的数据，得到同样的决定
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// 每块数据（TCP）或每个数据报（UDP）在路上多走这么久（毫秒）
    #[arg(long, default_value_t = 0, value_name = "毫秒", value_parser = parse_millis)]
    delay: u64,

    /// 延迟的随机波动：实际延迟在 delay ± jitter 之间（毫秒）
    #[arg(long, default_value_t = 0, value_name = "毫秒", value_parser = parse_millis)]
    jitter: u64,

    /// 丢包率（0 到 100，TCP 最多 99）。UDP：数据报真的丢掉；TCP：按一次重传等待处理（见书 6.1 节）
    #[arg(long, default_value_t = 0, value_name = "百分比", value_parser = parse_percent)]
    loss: u8,

    /// 仅 UDP：把数据报发两次的概率（0 到 100）
    #[arg(long, default_value_t = 0, value_name = "百分比", value_parser = parse_percent)]
    dup: u8,

    /// 仅 UDP：把一个数据报扣下、等下一个过去之后再发的概率（0 到 100）
    #[arg(long, default_value_t = 0, value_name = "百分比", value_parser = parse_percent)]
    reorder: u8,

    /// 仅 TCP：把每块数据在随机的位置切开，一小段一小段地写出去
    #[arg(long)]
    split: bool,

    /// 仅 TCP：把这么多毫秒之内到达的数据攒起来，一次写出去
    #[arg(long, value_name = "毫秒", value_parser = parse_millis)]
    merge: Option<u64>,

    /// 带宽上限（字节/秒），两个方向各自计算
    #[arg(long, value_name = "字节每秒", value_parser = parse_rate)]
    rate: Option<u64>,

    /// 过了这么多秒（TCP 从连接建立算起，UDP 从第一个数据报算起）就不再转发，但套接字都开着：像网线被拔掉
    #[arg(long, value_name = "秒", value_parser = parse_seconds)]
    stall_after: Option<f64>,

    /// 仅 TCP：客户端→服务端转发了这么多字节之后，重置（RST）两边的连接
    #[arg(long, value_name = "字节")]
    reset_after: Option<u64>,
}

/// 链路的毛病：从命令行参数整理出来，每个连接、每个客户端都用同一份。
#[derive(Clone, Copy)]
struct Faults {
    seed: u64,
    delay_ms: u64,
    jitter_ms: u64,
    loss: u8,
    dup: u8,
    reorder: u8,
    split: bool,
    merge: Option<Duration>,
    rate: Option<u64>,
    stall_after: Option<Duration>,
    reset_after: Option<u64>,
}

/// TCP 里“丢掉”的一块数据等多久才被重传：第一次 200 毫秒，之后每次翻倍，最多 60 秒。
const FIRST_RTO: Duration = Duration::from_millis(200);
const MAX_RTO: Duration = Duration::from_secs(60);

/// TCP 每个方向最多排队这么多块数据（每块最多 16 KiB）：队列满了就先不读，让发送方慢下来。
const TCP_QUEUE: usize = 16;
const TCP_CHUNK: usize = 16 * 1024;
/// `--merge` 一次最多攒这么多字节。
const MERGE_LIMIT: usize = 64 * 1024;
/// UDP 每个方向最多排队这么多个数据报；满了就丢掉新来的，路由器也是这么做的。
const UDP_QUEUE: usize = 64;
/// UDP 最多同时服务这么多个客户端（每个客户端占一个通向服务端的套接字）。
const MAX_CLIENTS: usize = 256;
/// 连接真正的服务端最多等几秒。
const CONNECT_LIMIT: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let faults = match check(&args) {
        Ok(faults) => faults,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let default_to = if args.udp {
        "127.0.0.1:8080"
    } else {
        "127.0.0.1:20000"
    };
    let to_text = args.to.clone().unwrap_or_else(|| default_to.to_string());
    let to = match socket_workbook::net::resolve(&to_text).await {
        Ok(addrs) => addrs[0],
        Err(reason) => {
            eprintln!("无法解析服务端的地址 {to_text}：{reason}");
            return ExitCode::FAILURE;
        }
    };
    let result = if args.udp {
        run_udp(&args.addr, to, faults).await
    } else {
        run_tcp(&args.addr, to, &to_text, faults).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- 参数和“设置”那一行

/// 检查只属于一种模式的参数，整理成 [`Faults`]。
fn check(args: &Args) -> Result<Faults, String> {
    let udp_only = [("--dup", args.dup > 0), ("--reorder", args.reorder > 0)];
    let tcp_only = [
        ("--split", args.split),
        ("--merge", args.merge.is_some()),
        ("--reset-after", args.reset_after.is_some()),
    ];
    if !args.udp
        && let Some((flag, _)) = udp_only.iter().find(|(_, used)| *used)
    {
        return Err(format!(
            "{flag} 只对 UDP 有意义：TCP 自己会去掉重复、排好顺序，程序永远看不到重复或乱序的字节。请加上 --udp"
        ));
    }
    if args.udp
        && let Some((flag, _)) = tcp_only.iter().find(|(_, used)| *used)
    {
        return Err(format!(
            "{flag} 只对 TCP 有意义：UDP 的数据报不会被切开或合并，也没有连接可以重置。请去掉 --udp"
        ));
    }
    if !args.udp && args.loss == 100 {
        return Err(
            "TCP 的丢包率最多 99%：全部丢掉时 TCP 只会一直重传，连接不会有任何进展。请把 --loss 设得小一些"
                .to_string(),
        );
    }
    if args.jitter > args.delay {
        return Err(format!(
            "抖动 {} 毫秒比延迟 {} 毫秒还大：延迟不能是负的。请把 --jitter 设得不大于 --delay",
            args.jitter, args.delay
        ));
    }
    Ok(Faults {
        seed: args.seed,
        delay_ms: args.delay,
        jitter_ms: args.jitter,
        loss: args.loss,
        dup: args.dup,
        reorder: args.reorder,
        split: args.split,
        merge: args.merge.map(Duration::from_millis),
        rate: args.rate,
        stall_after: args.stall_after.map(Duration::from_secs_f64),
        reset_after: args.reset_after,
    })
}

/// 第一行的后半：这条链路有哪些毛病（种子总是写出来，其余只写设置了的）。
fn settings_line(faults: &Faults, udp: bool) -> String {
    let mut parts = vec![format!("种子 {}", faults.seed)];
    if faults.delay_ms > 0 {
        parts.push(format!(
            "延迟 {} ms ± {} ms",
            faults.delay_ms, faults.jitter_ms
        ));
    }
    if faults.loss > 0 && udp {
        parts.push(format!("丢包 {}%", faults.loss));
    }
    if faults.loss > 0 && !udp {
        parts.push(format!(
            "丢包 {}%（TCP 会重传，程序看不到丢包：每块“丢掉”的数据按一次重传等待处理，\
             等 {} ms，再丢再翻倍，后面的字节都排在它后面）",
            faults.loss,
            FIRST_RTO.as_millis()
        ));
    }
    if faults.dup > 0 {
        parts.push(format!("重复 {}%", faults.dup));
    }
    if faults.reorder > 0 {
        parts.push(format!("乱序 {}%", faults.reorder));
    }
    if faults.split {
        parts.push("切碎".to_string());
    }
    if let Some(window) = faults.merge {
        parts.push(format!("合并 {} ms 内到达的数据", window.as_millis()));
    }
    if let Some(rate) = faults.rate {
        parts.push(format!("带宽 {rate} 字节/秒"));
    }
    if let Some(after) = faults.stall_after {
        parts.push(format!("{} 秒后停止转发", after.as_secs_f64()));
    }
    if let Some(bytes) = faults.reset_after {
        parts.push(format!("客户端发出 {bytes} 字节后重置连接"));
    }
    if parts.len() == 1 {
        parts.push("没有设置任何毛病，原样转发".to_string());
    }
    format!("坏链路：{}", parts.join(" · "))
}

// ---------------------------------------------------------------- 随机数、延迟、带宽

/// 一串独立的随机数：由种子、连接（或客户端）编号和“用途”一起决定。
/// 每个方向各用各的，所以一个方向上多了一个数据报，不会改变另一个方向上的决定。
fn rng_for(seed: u64, number: u64, stream: u64) -> Rng {
    Rng::with_seed(mix(mix(mix(seed) ^ number) ^ stream))
}

/// 把一个数搅乱（SplitMix64 的最后一步）：相邻的种子也得到毫不相干的随机数串。
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// 两个方向、两种用途（决定命运、切碎数据）各一串随机数。
const UP: u64 = 0;
const DOWN: u64 = 1;
const CUTS: u64 = 2;

/// 这一块数据（或这个数据报）在路上走多久：delay ± jitter。
fn travel_time(rng: &mut Rng, faults: &Faults) -> Duration {
    let jitter = rng.u64(0..=2 * faults.jitter_ms);
    Duration::from_millis(faults.delay_ms - faults.jitter_ms + jitter)
}

/// 带宽：一条“线”同一时刻只能传一份数据，`len` 字节要占用 len / rate 秒。
/// 返回这份数据传完的时刻：它不早于 `earliest`，也不早于上一份传完之后再过 len / rate。
struct Wire {
    rate: Option<u64>,
    free_at: Instant,
}

impl Wire {
    fn new(rate: Option<u64>) -> Wire {
        Wire {
            rate,
            free_at: Instant::now(),
        }
    }

    fn occupy(&mut self, len: usize, earliest: Instant) -> Instant {
        let Some(rate) = self.rate else {
            return earliest;
        };
        let start = earliest.max(self.free_at);
        self.free_at = start + Duration::from_secs_f64(len as f64 / rate as f64);
        self.free_at
    }
}

/// 过了“拔网线”的时刻就永远停在这里：不读也不写，但套接字都还开着。
async fn wait_if_stalled(stall_at: Option<Instant>) {
    if stall_at.is_some_and(|at| Instant::now() >= at) {
        std::future::pending::<()>().await;
    }
}

// ---------------------------------------------------------------- TCP

async fn run_tcp(addr: &str, to: SocketAddr, to_text: &str, faults: Faults) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| listen_failed(addr, &err, "lab-bad-link"))?;
    let local = listener
        .local_addr()
        .map_err(|err| format!("无法获取本地地址：{}", cause(&err)))?;
    // 第一行既写出实际监听的地址（端口写 0 时测试靠它找到端口），也写出全部设置：
    // 一份运行记录只看第一行，就知道这条坏链路是怎么坏的
    println!(
        "正在监听 {local}（TCP），转发到 {to}；{}",
        settings_line(&faults, false)
    );
    let to_text = Arc::new(to_text.to_string());
    let mut number = 0;
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                // 多半是打开的文件太多：稍等再接着接受，已有的连接不受影响
                println!("接受连接失败：{}", cause(&err));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        number += 1;
        tokio::spawn(relay(number, client, peer, to, to_text.clone(), faults));
    }
}

// ANCHOR: relay
/// 一个 TCP 连接：为它连上真正的服务端，两个方向同时转发，结束时说一声各转发了多少字节。
async fn relay(
    number: u64,
    mut client: TcpStream,
    peer: SocketAddr,
    to: SocketAddr,
    to_text: Arc<String>,
    faults: Faults,
) {
    println!("连接 #{number}：{peer} 连上来了");
    let mut server = match connect_upstream(to, &to_text).await {
        Ok(server) => server,
        Err(message) => {
            // client 在这里被丢弃：客户端看到连接被关闭，坏链路自己接着服务别人
            println!("连接 #{number}：{message}。关闭客户端的连接");
            return;
        }
    };
    // 关掉 Nagle 算法：什么时候合并、什么时候切碎，由坏链路说了算，不让系统再插一手
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let stall_at = faults.stall_after.map(|after| Instant::now() + after);
    match forward_both(number, &mut client, &mut server, &faults, stall_at).await {
        Outcome::Closed { up, down } => {
            println!("连接 #{number} 结束：客户端→服务端 {up} 字节，服务端→客户端 {down} 字节")
        }
        Outcome::Reset { up } => {
            reset(client);
            reset(server);
            println!(
                "连接 #{number}：客户端→服务端已转发 {up} 字节，到了 --reset-after 的上限，重置（RST）两边的连接"
            );
        }
        Outcome::Failed(message) => println!("连接 #{number}：{message}，关闭两边的连接"),
    }
}

/// 连上真正的服务端，最多等 [`CONNECT_LIMIT`]。连不上时给出和 lab-tcp-client 一样的说明。
async fn connect_upstream(to: SocketAddr, to_text: &str) -> Result<TcpStream, String> {
    match timeout(CONNECT_LIMIT, TcpStream::connect(to)).await {
        Ok(Ok(server)) => Ok(server),
        Ok(Err(err)) => Err(connect_failed(to_text, &err, "lab-tcp-server")),
        Err(_) => Err(connect_failed(
            to_text,
            &connect_timed_out(CONNECT_LIMIT),
            "lab-tcp-server",
        )),
    }
}

/// 用 RST 而不是 FIN 结束连接：SO_LINGER 设为 0 再关闭，系统丢掉没发出的数据，立刻发 RST。
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}
// ANCHOR_END: relay

/// 一个连接怎样结束。
enum Outcome {
    /// 两个方向都正常结束（各自收到了 FIN 并转了过去）
    Closed { up: u64, down: u64 },
    /// 客户端→服务端到了 `--reset-after` 的上限
    Reset { up: u64 },
    /// 某一边读写出错
    Failed(String),
}

/// 一个方向怎样结束：对方关闭了（转发了多少字节），或者到了重置的上限。
enum Ended {
    Closed(u64),
    Limit(u64),
}

// ANCHOR: forward_both
/// 两个方向同时转发，直到都结束；到了“拔网线”的时刻说一声。
async fn forward_both(
    number: u64,
    client: &mut TcpStream,
    server: &mut TcpStream,
    faults: &Faults,
    stall_at: Option<Instant>,
) -> Outcome {
    let (from_client, to_client) = client.split();
    let (from_server, to_server) = server.split();
    let up = forward(
        from_client,
        to_server,
        faults,
        number,
        UP,
        stall_at,
        faults.reset_after,
    );
    let down = forward(from_server, to_client, faults, number, DOWN, stall_at, None);
    tokio::pin!(up, down);
    // 没有设置 --stall-after 时，这个计时器永远不会响（一年以后）
    let far_away = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let stall = sleep_until(stall_at.unwrap_or(far_away));
    tokio::pin!(stall);
    let (mut up_total, mut down_total, mut stalled) = (None, None, false);
    loop {
        tokio::select! {
            ended = &mut up, if up_total.is_none() => match ended {
                Ok(Ended::Closed(bytes)) => up_total = Some(bytes),
                Ok(Ended::Limit(bytes)) => return Outcome::Reset { up: bytes },
                Err(message) => return Outcome::Failed(message),
            },
            ended = &mut down, if down_total.is_none() => match ended {
                Ok(Ended::Closed(bytes) | Ended::Limit(bytes)) => down_total = Some(bytes),
                Err(message) => return Outcome::Failed(message),
            },
            () = &mut stall, if !stalled => {
                stalled = true;
                println!("连接 #{number}：停止转发，两边的连接都还开着（像网线被拔掉，或者对方的机器突然没了）");
            }
        }
        if let (Some(up), Some(down)) = (up_total, down_total) {
            return Outcome::Closed { up, down };
        }
    }
}
// ANCHOR_END: forward_both

/// 路上的一块数据：什么时候可以交出去，以及它的内容。
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
}

/// 一个方向：一边读、一边写，中间是一个有上限的队列（满了就先不读）。
async fn forward(
    from: impl AsyncRead + Unpin,
    to: impl AsyncWrite + Unpin,
    faults: &Faults,
    number: u64,
    direction: u64,
    stall_at: Option<Instant>,
    limit: Option<u64>,
) -> Result<Ended, String> {
    let (source, target) = if direction == UP {
        ("客户端", "服务端")
    } else {
        ("服务端", "客户端")
    };
    let (queue, arrivals) = mpsc::channel(TCP_QUEUE);
    let fate = rng_for(faults.seed, number, direction);
    let cuts = rng_for(faults.seed, number, direction + CUTS);
    let reading = async {
        read_side(from, queue, faults, fate, stall_at)
            .await
            .map_err(|err| format!("从{source}读取失败：{}", cause(&err)))
    };
    let writing = async {
        write_side(to, arrivals, faults, cuts, stall_at, limit)
            .await
            .map_err(|err| format!("向{target}发送失败：{}", cause(&err)))
    };
    // 写的一边说了算：正常时读的一边先读到结尾，写的一边再写完队列里的数据、转过去 FIN；
    // 写的一边先结束（出错，或者到了重置的上限）就不再等读的一边，它可能还在等对方的数据
    tokio::pin!(writing);
    tokio::select! {
        read = reading => {
            read?;
            writing.await
        }
        ended = &mut writing => ended,
    }
}

// ANCHOR: read_side
/// 读：每读到一块数据，就决定它什么时候可以交出去（延迟 ± 抖动，“丢了”就再加一次重传等待）。
/// 交出的时刻不早于前一块：TCP 的字节永远按顺序到达，后面的数据不能超过前面的。
async fn read_side(
    mut from: impl AsyncRead + Unpin,
    queue: mpsc::Sender<Chunk>,
    faults: &Faults,
    mut rng: Rng,
    stall_at: Option<Instant>,
) -> io::Result<()> {
    let mut buf = vec![0u8; TCP_CHUNK];
    let mut previous_due = Instant::now();
    loop {
        wait_if_stalled(stall_at).await;
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // 对方发完了（FIN）：丢掉 queue，写的一边写完剩下的就会把 FIN 转过去
        }
        wait_if_stalled(stall_at).await; // 读到的时候已经“拔了网线”：这块数据再也到不了
        let due = (Instant::now()
            + travel_time(&mut rng, faults)
            + retransmissions(&mut rng, faults.loss))
        .max(previous_due);
        previous_due = due;
        let chunk = Chunk {
            due,
            bytes: buf[..n].to_vec(),
        };
        // 队列满了，send 就在这里等：我们不再读，对方的发送缓冲区渐渐填满，它也就慢下来了
        if queue.send(chunk).await.is_err() {
            return Ok(()); // 写的一边已经结束（到了重置的上限）
        }
    }
}

/// TCP 的“丢包”：这块数据每丢一次，就多等一个重传超时（RTO），RTO 从 200 毫秒起每次翻倍。
/// 程序读到的字节一个不少、顺序不变，只是来得晚了。
fn retransmissions(rng: &mut Rng, loss: u8) -> Duration {
    let (mut wait, mut rto) = (Duration::ZERO, FIRST_RTO);
    while loss > 0 && rng.u8(0..100) < loss {
        wait += rto;
        rto = (rto * 2).min(MAX_RTO);
    }
    wait
}
// ANCHOR_END: read_side

// ANCHOR: write_side
/// 写：到了时刻才交出去；`--merge` 把窗口里到达的几块攒成一次写，`--split` 把一块切成几次写，
/// `--rate` 让每次写都等“线”空出来。写到 `limit` 字节就停下，让调用者去重置连接。
async fn write_side(
    mut to: impl AsyncWrite + Unpin,
    mut arrivals: mpsc::Receiver<Chunk>,
    faults: &Faults,
    mut rng: Rng,
    stall_at: Option<Instant>,
    limit: Option<u64>,
) -> io::Result<Ended> {
    let mut wire = Wire::new(faults.rate);
    let mut total = 0u64;
    while let Some(chunk) = arrivals.recv().await {
        sleep_until(chunk.due).await;
        let mut bytes = chunk.bytes;
        if let Some(window) = faults.merge {
            gather(&mut arrivals, &mut bytes, window).await;
        }
        for piece in pieces(&bytes, faults.split, &mut rng) {
            wait_if_stalled(stall_at).await;
            let left = limit.map_or(u64::MAX, |limit| limit - total);
            let piece = &piece[..piece.len().min(left as usize)];
            sleep_until(wire.occupy(piece.len(), Instant::now())).await;
            to.write_all(piece).await?;
            to.flush().await?;
            total += piece.len() as u64;
            if limit == Some(total) {
                return Ok(Ended::Limit(total));
            }
        }
    }
    // 读的一边读到了结尾：把 FIN 转过去（半关闭），另一个方向照常继续
    to.shutdown().await?;
    Ok(Ended::Closed(total))
}

/// `--merge`：从现在起 `window` 之内到达的数据块都接到 `bytes` 后面，一次写出去。
async fn gather(arrivals: &mut mpsc::Receiver<Chunk>, bytes: &mut Vec<u8>, window: Duration) {
    let deadline = Instant::now() + window;
    while bytes.len() < MERGE_LIMIT {
        match timeout_at(deadline, arrivals.recv()).await {
            Ok(Some(next)) => {
                sleep_until(next.due).await; // 延迟照样算：攒起来不等于提前送到
                bytes.extend_from_slice(&next.bytes);
            }
            _ => return, // 窗口到了，或者对方已经发完
        }
    }
}

/// `--split`：在随机的位置把数据切成几段（每段至少 1 字节）；不切就是整块一段。
fn pieces<'a>(bytes: &'a [u8], split: bool, rng: &mut Rng) -> Vec<&'a [u8]> {
    if !split {
        return vec![bytes];
    }
    let mut pieces = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (piece, after) = rest.split_at(rng.usize(1..=rest.len()));
        pieces.push(piece);
        rest = after;
    }
    pieces
}
// ANCHOR_END: write_side

// ---------------------------------------------------------------- UDP

/// 一个数据报的命运。
enum Fate {
    Forward,
    Drop,
    Duplicate,
    HoldBack,
    Stalled,
}

// ANCHOR: decide
/// 替一个数据报抽签。不管设置是多少，每个数据报都抽同样的三次签：
/// 这样决定的顺序只取决于种子和数据报的顺序。
fn decide(rng: &mut Rng, faults: &Faults) -> Fate {
    let (lose, twice, hold) = (rng.u8(0..100), rng.u8(0..100), rng.u8(0..100));
    if lose < faults.loss {
        Fate::Drop
    } else if twice < faults.dup {
        Fate::Duplicate
    } else if hold < faults.reorder {
        Fate::HoldBack
    } else {
        Fate::Forward
    }
}
// ANCHOR_END: decide

/// 要发出去的一个数据报，以及什么时候发。
struct Datagram {
    due: Instant,
    bytes: Vec<u8>,
}

/// UDP 的一个方向（某个客户端→服务端，或者服务端→这个客户端）：抽签用的随机数、
/// 数过了几个数据报、扣下来的那一个、带宽，以及“拔网线”的时刻从哪里算起。
struct Link {
    label: String,
    faults: Faults,
    rng: Rng,
    count: u64,
    held: Option<(u64, Vec<u8>)>,
    previous_due: Instant,
    wire: Wire,
    first_datagram: Arc<OnceLock<Instant>>,
    queue: mpsc::Sender<Datagram>,
}

// ANCHOR: pass
impl Link {
    /// 一个数据报到了：抽签、打印决定，把要发的（零个、一个或两个）放进发送队列。
    fn pass(&mut self, bytes: &[u8]) {
        self.count += 1;
        let mut fate = decide(&mut self.rng, &self.faults);
        let travel = travel_time(&mut self.rng, &self.faults);
        if self.stalled() {
            fate = Fate::Stalled;
        }
        if matches!(fate, Fate::HoldBack) && self.held.is_some() {
            fate = Fate::Forward; // 一次只扣一个
        }
        let (mut what, copies) = match fate {
            Fate::Forward => ("转发".to_string(), 1),
            Fate::Drop => ("丢掉".to_string(), 0),
            Fate::Duplicate => ("发两次".to_string(), 2),
            Fate::Stalled => ("链路已断，丢掉".to_string(), 0),
            Fate::HoldBack => {
                self.held = Some((self.count, bytes.to_vec()));
                ("扣下，等下一个数据报过去之后再发".to_string(), 0)
            }
        };
        let mut outgoing = vec![bytes.to_vec(); copies];
        // 扣下的那一个，跟在下一个数据报后面发出去（下一个被丢掉也一样）
        if !matches!(fate, Fate::HoldBack | Fate::Stalled)
            && let Some((number, held)) = self.held.take()
        {
            what.push_str(&format!("（随后补发扣下的第 {number} 个）"));
            outgoing.push(held);
        }
        println!(
            "{} 第 {} 个数据报（{} 字节）：{what}",
            self.label,
            self.count,
            bytes.len()
        );
        for bytes in outgoing {
            self.send_later(bytes, travel);
        }
    }

    /// 排进发送队列：在路上走 `travel` 这么久，还要等“线”空出来；不早于前一个，保持先后顺序。
    fn send_later(&mut self, bytes: Vec<u8>, travel: Duration) {
        let due = self
            .wire
            .occupy(bytes.len(), Instant::now() + travel)
            .max(self.previous_due);
        self.previous_due = due;
        if self.queue.try_send(Datagram { due, bytes }).is_err() {
            // 队列满了：像路由器一样丢掉新来的，内存不会无限增长
            println!(
                "{} 发送队列已满（{UDP_QUEUE} 个），又丢掉一个数据报",
                self.label
            );
        }
    }

    /// 从第一个数据报算起，是不是已经过了 `--stall-after`。
    fn stalled(&self) -> bool {
        match (self.faults.stall_after, self.first_datagram.get()) {
            (Some(after), Some(first)) => Instant::now() >= *first + after,
            _ => false,
        }
    }
}
// ANCHOR_END: pass

/// 发送队列的另一头：到了时刻就发出去。`send` 是“发往哪里、怎么发”。
fn spawn_sender<F, Fut>(mut queue: mpsc::Receiver<Datagram>, send: F)
where
    F: Fn(Vec<u8>) -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<usize>> + Send,
{
    tokio::spawn(async move {
        while let Some(datagram) = queue.recv().await {
            sleep_until(datagram.due).await;
            // 发送失败（例如服务端没在运行）不算坏链路的事：UDP 本来就不保证送达
            let _ = send(datagram.bytes).await;
        }
    });
}

// ANCHOR: run_udp
async fn run_udp(addr: &str, to: SocketAddr, faults: Faults) -> Result<(), String> {
    let socket = UdpSocket::bind(addr)
        .await
        .map_err(|err| bind_failed(addr, &err, "lab-bad-link"))?;
    socket_workbook::udp::allow_full_size_datagrams(&socket)
        .map_err(|err| format!("无法调大 UDP 套接字的发送缓冲区：{}", cause(&err)))?;
    let local = socket
        .local_addr()
        .map_err(|err| format!("无法获取本地地址：{}", cause(&err)))?;
    // 第一行既写出实际监听的地址（端口写 0 时测试靠它找到端口），也写出全部设置：
    // 一份运行记录只看第一行，就知道这条坏链路是怎么坏的
    println!(
        "正在监听 {local}（UDP），转发到 {to}；{}",
        settings_line(&faults, true)
    );
    let socket = Arc::new(socket);
    let first_datagram = Arc::new(OnceLock::new());
    // 每个客户端一个通向服务端的套接字：服务端的回复从哪个套接字回来，就知道该交给谁
    let mut clients: HashMap<SocketAddr, Link> = HashMap::new(); // 客户端 → 它往服务端的方向
    let mut full_noted = false;
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(pair) => pair,
            Err(err) => {
                // 例如 Windows 把上一次发送引起的“端口不可达”报告在这里：说一声，接着收
                println!("接收数据报失败：{}", cause(&err));
                continue;
            }
        };
        if first_datagram.set(Instant::now()).is_ok() {
            announce_stall(faults.stall_after);
        }
        if !clients.contains_key(&from) {
            if clients.len() >= MAX_CLIENTS {
                if !full_noted {
                    println!(
                        "客户端已经有 {MAX_CLIENTS} 个，不再接待新的客户端（{from} 的数据报被丢掉）"
                    );
                    full_noted = true;
                }
                continue;
            }
            let number = clients.len() as u64 + 1;
            match new_client(number, from, to, &socket, faults, &first_datagram).await {
                Ok(up) => clients.insert(from, up),
                Err(message) => {
                    println!("{message}");
                    continue;
                }
            };
        }
        if let Some(up) = clients.get_mut(&from) {
            up.pass(&buf[..n]);
        }
    }
}
// ANCHOR_END: run_udp

/// 为一个新客户端开一个通向服务端的套接字，再开两个发送任务和一个接收回复的任务；
/// 返回“这个客户端→服务端”这个方向，主循环把这个客户端的数据报交给它。
async fn new_client(
    number: u64,
    from: SocketAddr,
    to: SocketAddr,
    socket: &Arc<UdpSocket>,
    faults: Faults,
    first_datagram: &Arc<OnceLock<Instant>>,
) -> Result<Link, String> {
    let any: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let upstream = UdpSocket::bind(any)
        .await
        .map_err(|err| format!("无法为客户端 {from} 创建 UDP 套接字：{}", cause(&err)))?;
    upstream
        .connect(to)
        .await
        .map_err(|err| format!("无法把 UDP 套接字指向 {to}：{}", cause(&err)))?;
    let _ = socket_workbook::udp::allow_full_size_datagrams(&upstream);
    println!("客户端 #{number}：{from}");
    let upstream = Arc::new(upstream);
    let link = |direction: u64, arrow: &str, queue| Link {
        label: format!("#{number} {arrow}"),
        faults,
        rng: rng_for(faults.seed, number, direction),
        count: 0,
        held: None,
        previous_due: Instant::now(),
        wire: Wire::new(faults.rate),
        first_datagram: first_datagram.clone(),
        queue,
    };
    // 客户端→服务端：从 upstream 发出去
    let (up_queue, up_arrivals) = mpsc::channel(UDP_QUEUE);
    let sender = upstream.clone();
    spawn_sender(up_arrivals, move |bytes| {
        let sender = sender.clone();
        async move { sender.send(&bytes).await }
    });
    // 服务端→客户端：从监听的套接字发回给这个客户端
    let (down_queue, down_arrivals) = mpsc::channel(UDP_QUEUE);
    let sender = socket.clone();
    spawn_sender(down_arrivals, move |bytes| {
        let sender = sender.clone();
        async move { sender.send_to(&bytes, from).await }
    });
    tokio::spawn(replies(upstream, link(DOWN, "←", down_queue)));
    Ok(link(UP, "→", up_queue))
}

/// 收服务端发回的数据报，交给“服务端→客户端”这个方向去抽签。
async fn replies(upstream: Arc<UdpSocket>, mut down: Link) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match upstream.recv(&mut buf).await {
            Ok(n) => down.pass(&buf[..n]),
            // 服务端没在运行时，系统用 ICMP“端口不可达”通知我们（报告成“连接被拒绝”）。
            // 坏链路不替服务端回答：客户端自己等不到回复，就会像真的一样超时
            Err(_) => continue,
        }
    }
}

/// UDP 的 `--stall-after`：从第一个数据报起计时，到点说一声。
fn announce_stall(stall_after: Option<Duration>) {
    if let Some(after) = stall_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            println!("停止转发：之后的数据报都被丢掉，套接字都还开着（像网线被拔掉）");
        });
    }
}

// ---------------------------------------------------------------- 检查参数

/// `--loss`、`--dup`、`--reorder`：0 到 100 的整数。
fn parse_percent(text: &str) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(pct @ 0..=100) => Ok(pct),
        _ => Err("百分比要写成 0 到 100 之间的整数，例如 30".to_string()),
    }
}

/// `--delay`、`--jitter`、`--merge`：不超过 60000 的毫秒数。
fn parse_millis(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(ms @ 0..=60_000) => Ok(ms),
        _ => Err("毫秒数要写成 0 到 60000 之间的整数，例如 100".to_string()),
    }
}

/// `--rate`：至少每秒 1 字节。
fn parse_rate(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(rate) if rate > 0 => Ok(rate),
        _ => Err("带宽要写成大于 0 的整数（字节每秒），例如 100000".to_string()),
    }
}

/// `--stall-after`：0 到 86400 秒，可以带小数。
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.0..=86_400.0).contains(&secs) => Ok(secs),
        _ => Err("秒数要写成 0 到 86400 之间的数，可以带小数，例如 2 或 0.5".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_cuts_the_same_way() {
        let data = [7u8; 1000];
        let cut = |seed| {
            let mut rng = rng_for(seed, 1, UP + CUTS);
            pieces(&data, true, &mut rng)
                .iter()
                .map(|p| p.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(cut(1), cut(1));
        assert_ne!(cut(1), cut(2));
        assert_eq!(cut(1).iter().sum::<usize>(), 1000);
    }

    #[test]
    fn a_tcp_loss_becomes_a_growing_wait() {
        let mut rng = Rng::with_seed(3);
        assert_eq!(retransmissions(&mut rng, 0), Duration::ZERO);
        // 100% 丢包会永远重传下去，所以 TCP 模式不接受它（见 check）
        let wait = retransmissions(&mut Rng::with_seed(3), 99);
        assert!(wait >= FIRST_RTO, "{wait:?}");
    }
}
