//! # 练习 4.2：聊天室服务端：昵称规则和命令
//!
//! 这个文件是 `labs/chat/server.rs` 的练习版：写着 `todo!("练习 4.2：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 4.2 节《服务端》的实验表现得一模一样。
//!
//! - 运行你的版本：`cargo run --features exercises --bin ex-chat-nick`
//! - 检查：`cargo run --bin workbook -- check chat-nick`
//! - 提示：`cargo run --bin workbook -- hint chat-nick`
//! - 重读：book/ch04-2-chat-server.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Parser;
use socket_workbook::ctrl_c::CtrlC;
use socket_workbook::errors::{
    bind_failed, cause, ctrl_c_failed, datagram_too_big, listen_failed, port_unreachable,
};
use socket_workbook::net::reachable_lines;
use socket_workbook::text::{lookalike_key, nick_char_allowed, printable_line};
use socket2::TcpKeepalive;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

// 发现协议的格式（第 5 章）。写成 ../chat/ 是为了让练习文件（在 labs/exercises/ 里）也找得到它
#[path = "../chat/discovery.rs"]
mod discovery;

/// 全双工聊天室的服务端：把每个人说的话转给其他所有人。
#[derive(Parser)]
#[command(name = "lab-chat-server", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20004")]
    addr: String,
    /// 最多同时有几个连接；再来的人会收到“聊天室已满”，然后被关闭连接
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,
    /// 连上以后过了这么多秒还没起好昵称，就断开它
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    nick_timeout: u64,
    /// 每人每秒最多说几行（可以先一口气说 100 行）；说得更快，服务端就放慢读他的连接。0 表示不限（压测用）
    #[arg(long, default_value_t = 20)]
    max_rate: u32,
    /// 在局域网里宣布这个聊天室：回答 lab-chat-client --discover 的发现请求（UDP）
    #[arg(long)]
    announce: bool,
    /// 回答发现请求的 UDP 地址（要加 --announce）；端口写 0 表示由系统挑选
    #[arg(long, default_value = "0.0.0.0:20005")]
    announce_addr: String,
    /// 聊天室的名字，找到它的人会看到（默认是“主机名 的聊天室”）；最多 64 个看得见的字符
    #[arg(long, value_parser = room_name_arg)]
    room_name: Option<String>,
    /// TCP keepalive（第 6.3 节）：连接空闲这么多秒后，系统开始发探测包，没有回音就断开连接。0 表示不开。
    /// 最多 32767：Linux 的 TCP_KEEPIDLE 不接受更大的值
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_KEEPALIVE, value_parser = keepalive_arg)]
    keepalive: u64,
    /// 心跳的间隔秒数（第 6.3 节，1 到 3600）：每隔这么久给报了名的客户端发一行 /ping，
    /// 连续 3 个间隔没有收到它的任何一行，就断开它
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_HEARTBEAT, value_parser = heartbeat_arg)]
    heartbeat: u64,
}

/// 一行最多这么多字节（不算行尾的换行符）。更长的行不转发，并告诉发送者。
const MAX_LINE: usize = 4096;
/// 每个客户端的发送队列最多排这么多行。排满了说明它读得太慢，把它断开。
const QUEUE_LINES: usize = 1024;
/// 昵称最多几个字符。
const MAX_NICK: usize = 16;
/// 按下 Ctrl-C 之后，最多再等这么久，让写任务把队列里的消息发完。
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// 每人可以先一口气说这么多行（比如粘贴一段），之后每秒只能再说 `--max-rate` 行。
const BURST: u32 = 100;
/// 断开一个人时，最多再花这么久把最后一句（为什么断开他）写给他。
const FAREWELL_WAIT: Duration = Duration::from_secs(5);
/// 控制台的输出最多排这么多行。控制台跟不上时，多出来的行不打印，只记个数。
const CONSOLE_LINES: usize = 1024;
/// 打印线程每隔这么久把排着的行打印出来。
const PRINT_EVERY: Duration = Duration::from_millis(10);

/// `--keepalive` 的默认值：空闲 60 秒后开始探测。系统自己的默认是 2 小时（Linux、Windows、macOS 都是），
/// 对一个聊天室来说太久了；60 秒一次的探测包只有几十字节，一千个连接也不算负担。
const DEFAULT_KEEPALIVE: u64 = 60;
/// keepalive 的探测包连续这么多个没有回音，系统就断开连接（Windows 上固定是 10 个，见 keepalive_params）。
const KEEPALIVE_RETRIES: u32 = 3;
/// `--heartbeat` 的默认值：每 10 秒一次 /ping，30 秒没有消息就断开。
/// 比 keepalive 快得多，也足够让家用路由器（NAT）记住这个连接：它们通常在几分钟没有流量后忘掉连接。
const DEFAULT_HEARTBEAT: u64 = 10;
/// 连续这么多个心跳间隔没有收到报了名的客户端的任何一行，就断开它。
const HEARTBEAT_MISSES: u32 = 3;

/// 心跳协议的三行（第 6.3 节）：客户端报名，服务端问，客户端答。
const HEARTBEAT_ON: &str = "/heartbeat";
const PING: &str = "/ping";
const PONG: &str = "/pong";

/// 发给大厅的事件。读任务、控制台和 main 都只通过这个通道和大厅说话。
enum Event {
    /// 新连接：它的地址、它的发送队列、断开它用的“开关”，以及它占的座位
    Join {
        id: u64,
        addr: SocketAddr,
        queue: mpsc::Sender<Arc<str>>,
        kick: Kick,
        seat: OwnedSemaphorePermit,
    },
    /// 客户端发来了一行（已经去掉换行、转义了控制字符）
    Line { id: u64, text: String },
    /// 客户端发来的一行太长，已经丢掉
    TooLong { id: u64 },
    /// 客户端第一次说得比 `--max-rate` 快：提醒它一次
    TooFast { id: u64 },
    /// 客户端的连接结束了：`error` 是出错时的原因，`None` 是它自己关闭了发送方向（输入结束）
    Leave { id: u64, error: Option<String> },
    /// 服务端控制台输入了一行，要通知所有人
    Console(String),
    /// 按下了 Ctrl-C：通知所有人，然后关门
    Shutdown,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let settings = Settings::from(&args);

    // 1. 监听端口，并登记 Ctrl-C。登记要赶在打印地址之前：看到地址的人可能马上按 Ctrl-C，
    //    Ctrl-C 要是在登记之前到达，进程会被系统直接结束，来不及通知任何人
    //    （CtrlC 在 Linux、macOS 上登记 SIGINT 信号，在 Windows 上登记控制台的 Ctrl-C 事件）
    let listener = match TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{}", listen_failed(&args.addr, &err, "lab-chat-server"));
            return ExitCode::FAILURE;
        }
    };
    // （第 5 章）--announce：再绑定一个 UDP 端口，回答局域网里“谁开着聊天室”的请求
    let announce = if args.announce {
        match UdpSocket::bind(&args.announce_addr).await {
            Ok(socket) => Some(socket),
            Err(err) => {
                eprintln!("{}", announce_failed(&args.announce_addr, &err));
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let mut ctrl_c = match CtrlC::register() {
        Ok(ctrl_c) => ctrl_c,
        Err(err) => {
            eprintln!("{}", ctrl_c_failed(&err));
            return ExitCode::FAILURE;
        }
    };
    // 从这里起，服务端的每一行输出都交给打印线程（见 ConsoleOut），谁也不直接 println!
    let out = ConsoleOut::start();
    match listener.local_addr() {
        Ok(local) => {
            out.print(format!("聊天室已开张：正在监听 {local}，按 Ctrl-C 停止"));
            // 监听“任意地址”（0.0.0.0 或 [::]）时，再告诉用户别的机器能用哪些地址连过来。
            // [::] 是否也收 IPv4 连接，要问套接字的 IPV6_V6ONLY 选项（Linux 默认关，Windows 默认开）
            let only_v6 =
                local.is_ipv6() && socket2::SockRef::from(&listener).only_v6().unwrap_or(false);
            for line in reachable_lines(local, only_v6) {
                out.print(line);
            }
        }
        Err(err) => out.print(format!("聊天室已开张（无法获取本地地址：{}）", cause(&err))),
    }
    // 第 6.3 节的两个设置：只在不是默认值时说一句（默认值写在 --help 里）
    if args.keepalive != DEFAULT_KEEPALIVE {
        out.print(keepalive_summary(settings.keepalive));
    }
    if args.heartbeat != DEFAULT_HEARTBEAT {
        out.print(heartbeat_summary(settings.heartbeat));
    }

    // 2. 启动大厅任务和读控制台输入的线程。大厅随时把在线人数写进 online，回答发现请求时读它
    let (events, inbox) = mpsc::channel(1024);
    let online = Arc::new(AtomicUsize::new(0));
    let hub = tokio::spawn(run_hub(inbox, out.clone(), settings, online.clone()));
    if let Some(socket) = announce {
        let room = RoomInfo::new(&args, &listener, online);
        start_announcing(socket, room, &out);
    }
    read_console(events.clone(), out.clone());

    // 3. 接受连接，直到按下 Ctrl-C
    let writers = TaskTracker::new();
    tokio::select! {
        _ = accept_loop(&listener, &events, &writers, &out, settings) => {}
        _ = ctrl_c.recv() => {}
    }

    // 4. 收尾：不再接受新连接；让大厅通知所有人，再等写任务把队列里的消息发完
    drop(listener);
    out.print("收到 Ctrl-C：通知所有客户端，发完已收下的消息后退出");
    let _ = events.send(Event::Shutdown).await;
    let _ = hub.await;
    writers.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, writers.wait())
        .await
        .is_err()
    {
        out.print(format!(
            "有客户端在 {DRAIN_TIMEOUT:?} 内没有收完消息，不再等它"
        ));
    }
    out.print("聊天室已关闭");
    out.finish(DRAIN_TIMEOUT).await;
    ExitCode::SUCCESS
}

/// 命令行上的几个上限，一起传给需要它们的地方。
#[derive(Clone, Copy)]
struct Settings {
    max_clients: u32,
    nick_timeout: Duration,
    max_rate: u32,
    /// TCP keepalive 的空闲时间；None 表示不开
    keepalive: Option<Duration>,
    /// 心跳的间隔
    heartbeat: Duration,
}

impl From<&Args> for Settings {
    fn from(args: &Args) -> Settings {
        Settings {
            max_clients: args.max_clients,
            nick_timeout: Duration::from_secs(args.nick_timeout),
            max_rate: args.max_rate,
            keepalive: (args.keepalive > 0).then(|| Duration::from_secs(args.keepalive)),
            heartbeat: Duration::from_secs(args.heartbeat),
        }
    }
}

/// 不停地接受新连接，为每个连接启动读任务和写任务。
async fn accept_loop(
    listener: &TcpListener,
    events: &mpsc::Sender<Event>,
    writers: &TaskTracker,
    out: &ConsoleOut,
    settings: Settings,
) {
    // 每个连接占一个“座位”；座位坐满了，新来的人只会收到一句“聊天室已满”
    let seats = Arc::new(Semaphore::new(settings.max_clients as usize));
    let mut next_id = 0;
    loop {
        let (conn, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                // 常见原因是打开的文件太多：稍等再试，已经连上的人不受影响
                out.print(format!("接受连接失败：{}", cause(&err)));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(seat) = seats.clone().try_acquire_owned() else {
            out.print(format!(
                "聊天室已满（{} 人），谢绝了 {addr}",
                settings.max_clients
            ));
            tokio::spawn(turn_away(conn, settings.max_clients));
            continue;
        };
        // 第 6.3 节：请系统替这个连接留意对方还在不在（见 set_keepalive）
        if let Some(idle) = settings.keepalive
            && let Err(err) = set_keepalive(&conn, idle)
        {
            out.print(format!("无法为 {addr} 打开 TCP keepalive：{}", cause(&err)));
        }
        next_id += 1;
        tokio::spawn(process(
            conn,
            addr,
            next_id,
            seat,
            settings,
            events.clone(),
            writers.clone(),
        ));
    }
}

/// 打开这个连接的 TCP keepalive：连接空闲 `idle` 之后，系统每隔一会儿发一个探测包
/// （一个不带数据、对方必须确认的 TCP 段）。对方的机器还在，它的系统就会回答，程序什么也察觉不到；
/// 连续 [`KEEPALIVE_RETRIES`] 个没有回音，系统就断开连接，读任务的 read 随之返回“操作超时”的错误
/// （Linux 的 ETIMEDOUT；按微软的文档，Windows 上是 WSAENETRESET）。
fn set_keepalive(conn: &TcpStream, idle: Duration) -> std::io::Result<()> {
    socket2::SockRef::from(conn).set_tcp_keepalive(&keepalive_params(idle))
}

/// keepalive 的三个参数：空闲多久开始探测（time），探测的间隔（interval，取 time 的六分之一，至少 1 秒），
/// 探测几次没有回音算断开（retries）。
fn keepalive_params(idle: Duration) -> TcpKeepalive {
    let interval = keepalive_interval(idle);
    with_retries(TcpKeepalive::new().with_time(idle).with_interval(interval))
}

fn keepalive_interval(idle: Duration) -> Duration {
    (idle / 6).max(Duration::from_secs(1))
}

/// 探测的次数（TCP_KEEPCNT）。Linux、macOS 和 BSD 一直可以按连接设置它。
#[cfg(not(windows))]
fn with_retries(params: TcpKeepalive) -> TcpKeepalive {
    params.with_retries(KEEPALIVE_RETRIES)
}

/// Windows：探测的次数在 Windows 10 1703 之前不能按连接设置，一律是 10 次；
/// 为了在所有 Windows 上表现一样，这里不去设置它（设了，老系统上整个调用会失败）。
#[cfg(windows)]
fn with_retries(params: TcpKeepalive) -> TcpKeepalive {
    params
}

/// 这个系统上探测几次没有回音算断开。
fn keepalive_retries() -> u32 {
    if cfg!(windows) { 10 } else { KEEPALIVE_RETRIES }
}

/// 人满时来的连接：告诉它一声，关闭发送方向，把它可能已经发来的东西读掉，然后关闭，前后最多 1 秒。
/// 不读就关的话，对方发来、我们没读的数据会让系统回一个 RST，那一句“已满”可能就被冲掉了。
async fn turn_away(mut conn: TcpStream, max_clients: u32) {
    let goodbye = async {
        conn.write_all(format!("{}\n", room_full(max_clients)).as_bytes())
            .await?;
        conn.shutdown().await?;
        let mut ignored = [0u8; 1024];
        while conn.read(&mut ignored).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
}

/// 处理一个连接：把它拆成读、写两半，写的一半交给写任务，读的一半留在这里一行一行地读。
/// `seat` 是它占的座位，交给大厅保管：大厅把它从名单里去掉时，座位随之空出来。
async fn process(
    conn: TcpStream,
    addr: SocketAddr,
    id: u64,
    seat: OwnedSemaphorePermit,
    settings: Settings,
    events: mpsc::Sender<Event>,
    writers: TaskTracker,
) {
    // 关掉 Nagle 算法（见第 2.3 节）：聊天是一行一行的小消息，开着它，写任务刚写下的一行
    // 可能要在内核里等对方确认了上一块数据才发出去，人一多，这样的等待就成了几十毫秒的延迟。
    // 设置失败也不要紧，只是慢一点，所以不处理这个错误
    let _ = conn.set_nodelay(true);
    let (reader, writer) = conn.into_split();
    let (queue, queue_out) = mpsc::channel(QUEUE_LINES);
    let kick = Kick::new();
    writers.spawn(write_until_gone(writer, queue_out, kick.clone()));

    let join = Event::Join {
        id,
        addr,
        queue,
        kick: kick.clone(),
        seat,
    };
    if events.send(join).await.is_err() {
        return; // 大厅已经关门（服务端正在退出）
    }
    // 一边读，一边留意开关：大厅把他从名单里去掉（/quit、被踢……）时不再读，直接结束
    let error = tokio::select! {
        result = read_lines(reader, id, settings.max_rate, &events) => result.err(),
        _ = kick.gone() => None,
    };
    let _ = events.send(Event::Leave { id, error }).await;
}

/// 读任务：一行一行地读，交给大厅，直到连接结束（或者大厅不再要他，见 `process`）。
async fn read_lines(
    reader: OwnedReadHalf,
    id: u64,
    max_rate: u32,
    events: &mpsc::Sender<Event>,
) -> Result<(), String> {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    // --max-rate 0 表示不限速
    let mut pace = (max_rate > 0).then(|| RateLimit::new(max_rate, BURST));
    let mut warned = false;
    loop {
        let received = read_line(&mut reader, &mut line)
            .await
            .map_err(|err| cause(&err))?;
        let event = match received {
            Received::End => return Ok(()),
            Received::TooLong => Event::TooLong { id },
            // 不是 UTF-8 的字节换成 �，控制字符显示成转义：转给别人的永远是安全的文字
            Received::Line => Event::Line {
                id,
                text: printable_line(&line),
            },
        };
        // 说得太快：先等一等再交给大厅。等的时候不读这个连接，TCP 会让发送的一方慢下来，
        // 刷屏的代价落在刷屏的人自己身上。第一次这样时提醒他一句
        let slowed = match &mut pace {
            Some(pace) => pace.wait_for_turn().await,
            None => false,
        };
        if slowed && !warned {
            warned = true;
            if events.send(Event::TooFast { id }).await.is_err() {
                return Ok(());
            }
        }
        // 大厅忙不过来时这里也会等一等：这个客户端暂时不再被读取，TCP 会让它慢下来
        if events.send(event).await.is_err() {
            return Ok(()); // 大厅已经关门
        }
    }
}

/// 读一行的结果。
enum Received {
    /// 读到了一行，放在 `line` 里（最后一行可以没有换行符）
    Line,
    /// 这一行超过了 [`MAX_LINE`]，已经读到行尾并丢掉
    TooLong,
    /// 对方关闭了连接
    End,
}

/// 读一行，但最多只把 [`MAX_LINE`] 字节（不算行尾）放进内存。
///
/// 直接用 `read_until(b'\n')` 的话，对方只要一直不发换行，我们就会一直往 `line` 里追加，
/// 内存用多少全由对方说了算。`take` 给这次读取加上了上限。
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    line: &mut Vec<u8>,
) -> std::io::Result<Received> {
    line.clear();
    // 多留 2 个字节给行尾：nc 发来的行以 \n 结尾，telnet 发来的以 \r\n 结尾
    let limit = MAX_LINE as u64 + 2;
    let n = (&mut *reader).take(limit).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(Received::End);
    }
    if line.ends_with(b"\n") || n < limit as usize {
        // 完整的一行，或者连接结束前的最后半行：去掉行尾再看长度
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        return Ok(if text.len() <= MAX_LINE {
            Received::Line
        } else {
            Received::TooLong
        });
    }
    // 读满了上限还没见到换行：这一行太长。把它剩下的部分读掉扔掉，一次最多读 limit 字节
    loop {
        line.clear();
        let n = (&mut *reader).take(limit).read_until(b'\n', line).await?;
        if n == 0 || line.ends_with(b"\n") {
            line.clear();
            return Ok(Received::TooLong);
        }
    }
}

/// 写任务：从队列里取出要发给这个客户端的行，写进连接。
/// 队列的发送端全部关闭（大厅让它离开）时，把剩下的行发完、关闭写方向再结束；
/// 被踢（`kick`）时不再发队列里剩下的行，只把被踢的原因写给它。
async fn write_lines(writer: OwnedWriteHalf, mut queue: mpsc::Receiver<Arc<str>>, kick: Kick) {
    let mut writer = BufWriter::new(writer);
    let mut batch = Vec::new();
    loop {
        // recv_many 一次取出队列里已有的多行（最多 64 行），写完再 flush 一次，减少系统调用
        let taken = queue.recv_many(&mut batch, 64).await;
        // 大厅踢人时先按下开关、再把他从名单里去掉，队列随之关闭，所以 recv_many 一定会返回
        if let Some(reason) = kick.reason() {
            let _ = writer.write_all(format!("{reason}\n").as_bytes()).await;
            let _ = writer.flush().await;
            let _ = writer.shutdown().await;
            return;
        }
        if taken == 0 {
            let _ = writer.shutdown().await; // 发送 FIN：告诉客户端“我不会再发了”
            return;
        }
        if write_batch(&mut writer, &mut batch).await.is_err() {
            return; // 连接已经断了
        }
    }
}

/// 写任务的外壳。对方一直不读时，`write` 会一直等下去；平时这没关系（队列满了大厅会踢掉他），
/// 可这个人一旦离开或被踢，就只再给写任务 FAREWELL_WAIT：写完手上这一批、说完再见或被踢的原因，
/// 写不完就放弃，连接随之关闭。写了一半的批不会被打断，所以最后一句不会接在半行后面。
async fn write_until_gone(writer: OwnedWriteHalf, queue: mpsc::Receiver<Arc<str>>, kick: Kick) {
    let writing = write_lines(writer, queue, kick.clone());
    tokio::pin!(writing);
    tokio::select! {
        _ = &mut writing => {}
        _ = kick.gone() => {
            let _ = tokio::time::timeout(FAREWELL_WAIT, writing).await;
        }
    }
}

/// 把一批行写进连接，最后只 flush 一次。
async fn write_batch(
    writer: &mut BufWriter<OwnedWriteHalf>,
    batch: &mut Vec<Arc<str>>,
) -> std::io::Result<()> {
    for line in batch.drain(..) {
        writer.write_all(line.as_bytes()).await?;
    }
    writer.flush().await
}

/// 大厅和一个连接的读、写任务之间的“开关”。大厅把一个人从名单里去掉时按下 `let_go`，
/// 读任务就不再读；踢人时按下 `kick`，还带着原因，写任务把原因写给对方，再关闭连接。
#[derive(Clone)]
struct Kick {
    /// 被踢了
    kicked: CancellationToken,
    /// 不在名单里了（离开或被踢）。它是 `kicked` 的子开关：`kicked` 按下时它也随之按下
    gone: CancellationToken,
    reason: Arc<OnceLock<String>>,
}

impl Kick {
    fn new() -> Kick {
        let kicked = CancellationToken::new();
        Kick {
            gone: kicked.child_token(),
            kicked,
            reason: Arc::default(),
        }
    }

    /// 踢掉他，并告诉他原因。
    fn kick(&self, reason: String) {
        let _ = self.reason.set(reason); // 先放好原因，再按开关：写任务醒来时一定看得到原因
        self.kicked.cancel();
    }

    /// 他正常离开了（/quit、输入结束、连接出错）：读任务不用再读。
    fn let_go(&self) {
        self.gone.cancel();
    }

    async fn gone(&self) {
        self.gone.cancelled().await;
    }

    /// 被踢的原因；没被踢时是 None。
    fn reason(&self) -> Option<&str> {
        if self.kicked.is_cancelled() {
            self.reason.get().map(String::as_str)
        } else {
            None
        }
    }
}

/// 令牌桶：每人一个。桶里最多攒 `burst` 个令牌，每秒补上 `per_second` 个，说一行用掉一个。
/// 桶空了就等到补出一个再说。平时说话、偶尔粘贴一段都碰不到它，只有一直刷屏的人会被放慢。
///
/// 它只有十几行，这里自己写出来，是为了看清楚它怎么工作；正式的项目可以用 `governor` 这样的 crate。
struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// 用掉一个令牌；桶空了就先等到补上。返回这一次有没有等。
    async fn wait_for_turn(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst) - 1.0;
        self.last = now;
        if self.tokens >= 0.0 {
            return false;
        }
        // 欠了不到一个令牌：等它补上。等的这段时间在下一次调用时算作补充，所以不会多补
        let owed = Duration::from_secs_f64(-self.tokens / self.per_second);
        tokio::time::sleep(owed).await;
        true
    }
}

/// 控制台：在一个普通线程里读服务端的标准输入，每一行作为通知交给大厅。
///
/// 读标准输入会阻塞线程，所以不放在 tokio 的任务里。标准输入关闭时（例如服务端在后台运行）
/// 这个线程结束，聊天室照常运行。
fn read_console(events: mpsc::Sender<Event>, out: ConsoleOut) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = printable_line(&line);
                    if !text.trim().is_empty()
                        && events.blocking_send(Event::Console(text)).is_err()
                    {
                        return; // 大厅已经关门
                    }
                }
            }
        }
        out.print("控制台的输入已结束，聊天室照常运行（按 Ctrl-C 停止）");
    });
}

/// 服务端控制台的输出：一个单独的线程负责打印，别人只是把要打印的行交给它，从不等它。
///
/// `println!` 要等终端或管道收下这一行才返回。终端被 Ctrl-S 暂停、输出接到一个没人读的管道上时，
/// 它就一直不返回：大厅要是自己 `println!`，整个聊天室就跟着停了。交给打印线程的队列有上限，
/// 排满时新的行不打印、只记个数，等打印线程跟上了，先补一句“略去了几行”。
#[derive(Clone)]
struct ConsoleOut {
    lines: std::sync::mpsc::SyncSender<Printed>,
    dropped: Arc<AtomicUsize>,
}

/// 交给打印线程的东西：要打印的一行，或者“打印完排着的行就告诉我”。
enum Printed {
    Line(String),
    Finish(oneshot::Sender<()>),
}

impl ConsoleOut {
    fn start() -> ConsoleOut {
        let (lines, to_print) = std::sync::mpsc::sync_channel(CONSOLE_LINES);
        std::thread::spawn(move || print_lines(to_print));
        ConsoleOut {
            lines,
            dropped: Arc::default(),
        }
    }

    /// 打印一行，从不等待：队列满了就只记个数。
    fn print(&self, line: impl Into<String>) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let note = Printed::Line(lines_dropped(dropped));
            if self.lines.try_send(note).is_err() {
                self.dropped.fetch_add(dropped + 1, Ordering::Relaxed);
                return;
            }
        }
        if self.lines.try_send(Printed::Line(line.into())).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// 退出前：等打印线程把排着的行都打印出来，最多等 `wait`。
    async fn finish(&self, wait: Duration) {
        let (done, printed) = oneshot::channel();
        let lines = self.lines.clone();
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        // 队列满着时 send 要等，所以放在一个普通线程里：控制台卡死了，退出也不会被卡住
        std::thread::spawn(move || {
            if dropped > 0 {
                let _ = lines.send(Printed::Line(lines_dropped(dropped)));
            }
            let _ = lines.send(Printed::Finish(done));
        });
        let _ = tokio::time::timeout(wait, printed).await;
    }
}

/// 打印线程：每隔 [`PRINT_EVERY`] 看一次队列，把排着的行一次写出去。
///
/// 为什么不用 `recv` 一直等着？线程在 `recv` 里睡着时，别人每交来一行都得叫醒它，叫醒一个线程
/// 要一次系统调用，还要和大厅抢 CPU；聊天室忙的时候，这笔开销就加在每一行的转发上。
/// 定时来看一眼，大厅交出一行就只是往队列里放一下。人眼看不出 10 毫秒的延迟。
/// 写不出去（比如输出被关掉了）也不要紧，聊天室照常运行。
fn print_lines(to_print: std::sync::mpsc::Receiver<Printed>) {
    let stdout = std::io::stdout();
    loop {
        std::thread::sleep(PRINT_EVERY);
        let mut batch = std::io::BufWriter::new(stdout.lock());
        loop {
            match to_print.try_recv() {
                Ok(Printed::Line(line)) => {
                    let _ = writeln!(batch, "{line}");
                }
                Ok(Printed::Finish(done)) => {
                    let _ = batch.flush();
                    let _ = done.send(());
                    return;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
            }
        }
        let _ = batch.flush();
    }
}

/// 聊天室里的一个连接。
struct Client {
    addr: SocketAddr,
    /// 还没起好昵称时是 None：这时说的话不转发，当作昵称来处理
    nick: Option<String>,
    /// 进门的时刻：过了 `--nick-timeout` 还没起好昵称，就断开它
    joined: Instant,
    /// 报名了心跳（发过 `/heartbeat`）：只有这样的客户端会收到 `/ping`，也只有它们会因为不出声被断开
    heartbeat: bool,
    /// 最近一次收到它的一行的时刻
    last_heard: Instant,
    queue: mpsc::Sender<Arc<str>>,
    kick: Kick,
    /// 它占的座位：Client 被丢掉（离开、被踢）时座位随之空出来，下一个人就能进门
    _seat: OwnedSemaphorePermit,
}

/// 聊天室的全部状态。只有大厅任务能碰它，所以不需要锁。
struct Room {
    /// 按连接的先后排序，`/who` 的名单因此总是按进门的顺序
    clients: BTreeMap<u64, Client>,
    /// 队列满了、等着被断开的客户端
    too_slow: Vec<u64>,
    out: ConsoleOut,
    settings: Settings,
    /// 起好了昵称的人数。回答发现请求的任务读它，所以放在原子变量里，只有大厅写它
    online: Arc<AtomicUsize>,
}

/// 大厅任务：一个接一个地处理事件。所有的转发都只是“放进队列”，从不等待网络，
/// 连打印也只是交给打印线程，所以一个慢吞吞的客户端、一个卡住的控制台都拖不慢大厅。
async fn run_hub(
    mut inbox: mpsc::Receiver<Event>,
    out: ConsoleOut,
    settings: Settings,
    online: Arc<AtomicUsize>,
) {
    let mut room = Room {
        clients: BTreeMap::new(),
        too_slow: Vec::new(),
        out,
        settings,
        online,
    };
    // 每秒看一次有没有进门很久还不起昵称的连接
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    // 每隔 --heartbeat 秒照看一次报了名的心跳客户端（第 6.3 节）。
    // 大厅被耽搁了（机器卡了一下）的话，错过的几次不补（Delay）：默认的做法是一口气连补好几次，
    // 而队列里排着的 /pong 还没处理，补的那几次会把明明回答了的客户端当成不出声断开
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            // biased：按写的顺序看。两个计时器很少到点，放在前面也饿不着事件；
            // 反过来把事件放在前面，源源不断的消息会让计时器永远轮不到
            biased;
            _ = clock.tick() => {
                room.drop_nameless();
                continue;
            }
            _ = heartbeat.tick() => {
                // 先处理已经排在队列里的事件（至多现在的这么多个）再判断：
                // 不然可能先断开一个人，再读到他早已发来的 /pong
                for _ in 0..inbox.len() {
                    match inbox.try_recv() {
                        Ok(event) => {
                            if !handle(&mut room, event) {
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
                room.check_heartbeats();
                room.drop_slow_clients();
                continue;
            }
            event = inbox.recv() => event,
        };
        let Some(event) = event else { return };
        if !handle(&mut room, event) {
            return;
        }
        room.drop_slow_clients();
    }
}

/// 大厅处理一个事件。返回 false 表示服务端要停了（Ctrl-C）。
fn handle(room: &mut Room, event: Event) -> bool {
    let max_rate = room.settings.max_rate;
    match event {
        Event::Join {
            id,
            addr,
            queue,
            kick,
            seat,
        } => room.join(id, addr, queue, kick, seat),
        Event::Line { id, text } => room.received(id, &text),
        Event::TooLong { id } => {
            room.heard(id);
            room.tell(
                id,
                &format!("[系统] 这一行超过了 {MAX_LINE} 字节，没有发出去。"),
            );
        }
        Event::TooFast { id } => room.tell(id, &too_fast(max_rate)),
        // 自己关闭了发送方向（比如按了 Ctrl-D）：和 /quit 一样，说声再见再让它走
        Event::Leave { id, error: None } => room.quit(id),
        Event::Leave { id, error } => room.leave(id, error),
        Event::Console(text) => room.console(&text),
        Event::Shutdown => {
            room.shutdown();
            return false;
        }
    }
    true
}

impl Room {
    /// 在服务端的控制台上显示一行。和 `println!` 一样用，但从不等待（见 [`ConsoleOut`]）。
    fn print(&self, line: impl Into<String>) {
        self.out.print(line);
    }

    /// 把一行放进某个客户端的队列。放不进去（队列满了）就记下它，稍后断开。
    fn tell(&mut self, id: u64, text: &str) {
        if let Some(client) = self.clients.get(&id) {
            let line: Arc<str> = Arc::from(format!("{text}\n"));
            if let Err(mpsc::error::TrySendError::Full(_)) = client.queue.try_send(line) {
                self.too_slow.push(id);
            }
        }
    }

    /// 把一行发给所有起好了昵称的人，`except` 除外。
    /// 这一行只在内存里存一份（`Arc`），每个队列里放的只是它的引用。
    fn broadcast(&mut self, text: &str, except: Option<u64>) {
        let line: Arc<str> = Arc::from(format!("{text}\n"));
        for (&id, client) in &self.clients {
            if Some(id) == except || client.nick.is_none() {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = client.queue.try_send(line.clone()) {
                self.too_slow.push(id);
            }
        }
    }

    /// 断开队列满了的客户端，并告诉其他人。告诉别人时又可能有人的队列满了，所以循环到没有为止。
    fn drop_slow_clients(&mut self) {
        while let Some(id) = self.too_slow.pop() {
            let Some(client) = self.clients.remove(&id) else {
                continue; // 已经处理过了
            };
            // 读、写两个任务随之结束；写任务最后告诉它为什么，然后关闭连接
            client.kick.kick(kicked_too_slow());
            if client.nick.is_some() {
                self.online.fetch_sub(1, Ordering::Relaxed);
            }
            let name = client.nick.unwrap_or_else(|| client.addr.to_string());
            self.print(format!(
                "{name}（{}）接收太慢，队列已满，断开它",
                client.addr
            ));
            if self.clients.values().any(|c| c.nick.is_some()) {
                self.broadcast(&format!("[系统] {name} 接收太慢，已被断开"), None);
            }
        }
    }

    /// 断开进门以后迟迟不起昵称的连接：它们占着座位（和服务端的文件描述符），却不参加聊天。
    fn drop_nameless(&mut self) {
        let limit = self.settings.nick_timeout;
        let late: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| c.nick.is_none() && c.joined.elapsed() >= limit)
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            if let Some(client) = self.clients.remove(&id) {
                client.kick.kick(no_nick_in_time(limit));
                self.print(format!(
                    "{}（还没有昵称）{} 秒内没有起昵称，断开它",
                    client.addr,
                    limit.as_secs()
                ));
            }
        }
    }

    /// 新连接：马上问好，再请它起个昵称。
    fn join(
        &mut self,
        id: u64,
        addr: SocketAddr,
        queue: mpsc::Sender<Arc<str>>,
        kick: Kick,
        seat: OwnedSemaphorePermit,
    ) {
        self.print(format!("新连接：{addr}"));
        let client = Client {
            addr,
            nick: None,
            joined: Instant::now(),
            heartbeat: false,
            last_heard: Instant::now(),
            queue,
            kick,
            _seat: seat,
        };
        self.clients.insert(id, client);
        let online = self.nicks().len();
        self.tell(
            id,
            &format!("[系统] 欢迎来到聊天室！现在有 {online} 人在线。"),
        );
        self.tell(id, "[系统] 请输入你的昵称：");
    }

    /// 连接结束：从名单里去掉；起过昵称的，告诉其他人它走了。
    fn leave(&mut self, id: u64, error: Option<String>) {
        let Some(client) = self.clients.remove(&id) else {
            return; // 已经因为 /quit 或太慢离开了
        };
        client.kick.let_go();
        let who = match &client.nick {
            Some(nick) => format!("{nick}（{}）", client.addr),
            None => format!("{}（还没有昵称）", client.addr),
        };
        let nick = client.nick.clone();
        if nick.is_some() {
            self.online.fetch_sub(1, Ordering::Relaxed);
        }
        drop(client); // 座位先空出来，再告诉别人他走了：听到这句的人马上就能叫朋友进门
        match error {
            Some(error) => self.print(format!("{who}的连接出错：{error}")),
            None => self.print(format!("{who}断开了连接")),
        }
        if let Some(nick) = nick {
            self.broadcast(&format!("[系统] {nick} 离开了聊天室"), None);
        }
    }

    /// 客户端发来了一行：先记下“听到了它”，心跳协议的两行（报名、回答）在这里处理掉，
    /// 其余的交给 `line`。所以 `/heartbeat` 和 `/pong` 不会被当成昵称或命令，也不会转给别人。
    fn received(&mut self, id: u64, text: &str) {
        self.heard(id);
        match text.trim() {
            HEARTBEAT_ON => self.heartbeat_on(id),
            PONG => {} // 回答本身没有内容：听到了就够了
            _ => self.line(id, text),
        }
    }

    /// 收到了这个客户端的一行（任何一行都算它还在）。
    fn heard(&mut self, id: u64) {
        if let Some(client) = self.clients.get_mut(&id) {
            client.last_heard = Instant::now();
        }
    }

    /// `/heartbeat`：这个客户端报名了心跳。
    fn heartbeat_on(&mut self, id: u64) {
        let every = self.settings.heartbeat;
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if client.heartbeat {
            return; // 报过名了
        }
        client.heartbeat = true;
        let addr = client.addr;
        self.print(heartbeat_started(addr, every));
    }

    /// 心跳的看门狗：每隔 `--heartbeat` 秒调用一次。报了名的客户端里，
    /// 已经连续 [`HEARTBEAT_MISSES`] 个间隔没有出声的，断开它（drop_silent）；其余的发一行 /ping，请它回答。
    /// 没报名的客户端（nc、telnet）不理：它们不会回答 /ping，不出声也不说明对方不在了。
    fn check_heartbeats(&mut self) {
        let limit = self.settings.heartbeat * HEARTBEAT_MISSES;
        let members: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| c.heartbeat)
            .map(|(&id, _)| id)
            .collect();
        for id in members {
            if self.clients[&id].last_heard.elapsed() >= limit {
                self.drop_silent(id, limit);
            } else {
                self.tell(id, PING);
            }
        }
    }

    /// 断开一个心跳超时的客户端：告诉它原因（它多半已经收不到了），在控制台上说一句，
    /// 起过昵称的，再告诉其他人，和别的离开一样。
    fn drop_silent(&mut self, id: u64, limit: Duration) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        client.kick.kick(heartbeat_lost(limit));
        let who = match &client.nick {
            Some(nick) => format!("{nick}（{}）", client.addr),
            None => format!("{}（还没有昵称）", client.addr),
        };
        let nick = client.nick.clone();
        if nick.is_some() {
            self.online.fetch_sub(1, Ordering::Relaxed);
        }
        drop(client); // 座位先空出来
        self.print(silent_dropped(&who, limit));
        if let Some(nick) = nick {
            self.broadcast(&heartbeat_timeout_notice(&nick), None);
        }
    }

    /// 客户端发来的一行：还没有昵称时当作昵称，以 `/` 开头的是命令，其余的转给所有人。
    fn line(&mut self, id: u64, text: &str) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        if text.trim().is_empty() {
            return; // 空行不转发
        }
        let Some(nick) = client.nick.clone() else {
            if text.trim() == "/quit" {
                self.quit(id);
            } else {
                self.choose_nick(id, text.trim());
            }
            return;
        };
        if let Some(command) = text.strip_prefix('/') {
            self.command(id, &nick, command);
            return;
        }
        // 昵称由服务端加在前面：客户端只能决定昵称后面的内容，冒充不了别人
        let message = said(&nick, text);
        self.print(&message);
        self.broadcast(&message, Some(id));
    }

    /// 处理一条命令（已经去掉了开头的 `/`）。
    fn command(&mut self, id: u64, nick: &str, command: &str) {
        // TODO（练习 4.2）：要说的话都已经写好，在文件末尾：who_list、MSG_USAGE、unknown_command、HELP、bad_nick、nick_taken、nick_looks_like。
        // command：按第一个空格分出命令名和参数；nick → rename，who → tell 对方 who_list(&self.nicks())，
        // msg → “/msg 昵称 内容”交给 private（格式不对就 tell 对方 MSG_USAGE），quit → quit，
        // help → 逐行 tell HELP，其他的 tell 对方 unknown_command(name)。
        // check_nick：1 到 MAX_NICK 个字符，每个字符都要让 nick_char_allowed 点头，否则 Err(bad_nick())；
        // 不分大小写不能和别人重复（用 find），否则 Err(nick_taken(wanted))；
        // 和在线的人看起来一样也不行（用 self.lookalike(wanted) 找），否则 Err(nick_looks_like(wanted, &那个昵称))。
        // 形似字的表已经由 socket_workbook::text 准备好，不用自己写。
        todo!("练习 4.2：聊天室服务端：昵称规则和命令")
    }

    /// 私信：只发给一个人，发送者自己也会看到一份回执。
    fn private(&mut self, id: u64, from: &str, to: &str, text: &str) {
        let Some(&target) = self.find(to).first() else {
            self.tell(
                id,
                &format!("[系统] 没有叫 {to} 的人，输入 /who 看看谁在线"),
            );
            return;
        };
        let to = self.clients[&target].nick.clone().unwrap_or_default();
        self.print(format!("[私信] {from} → {to}：{text}"));
        self.tell(target, &format!("[私信] <{from}> {text}"));
        self.tell(id, &format!("[私信→{to}] {text}"));
    }

    /// /quit：说声再见，然后让它离开。写任务会把“再见”发完再关闭连接。
    fn quit(&mut self, id: u64) {
        let nick = self.clients.get(&id).and_then(|c| c.nick.clone());
        match &nick {
            Some(nick) => self.tell(id, &format!("[系统] 再见，{nick}！")),
            None => self.tell(id, "[系统] 再见！"),
        }
        self.leave(id, None);
    }

    /// 第一次起昵称。
    fn choose_nick(&mut self, id: u64, wanted: &str) {
        if let Err(reason) = self.check_nick(wanted) {
            self.tell(id, &format!("[系统] {reason}，请重新输入："));
            return;
        }
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        client.nick = Some(wanted.to_string());
        self.online.fetch_add(1, Ordering::Relaxed);
        let entered = format!("{}（{}）进入了聊天室", wanted, client.addr);
        self.print(entered);
        self.tell(
            id,
            &format!("[系统] 你好，{wanted}！直接输入文字就是对所有人说话，输入 /help 查看命令。"),
        );
        self.broadcast(&format!("[系统] {wanted} 进入了聊天室"), Some(id));
    }

    /// /nick：改名。
    fn rename(&mut self, id: u64, old: &str, wanted: &str) {
        if wanted == old {
            self.tell(id, &format!("[系统] 你已经叫 {old} 了"));
            return;
        }
        if let Err(reason) = self.check_nick(wanted) {
            self.tell(id, &format!("[系统] {reason}，昵称没有改"));
            return;
        }
        if let Some(client) = self.clients.get_mut(&id) {
            client.nick = Some(wanted.to_string());
        }
        self.print(format!("{old} 改名为 {wanted}"));
        self.tell(id, &format!("[系统] 你现在叫 {wanted}"));
        self.broadcast(&format!("[系统] {old} 改名为 {wanted}"), Some(id));
    }

    /// 昵称的规则：1 到 16 个字符，只能是汉字、字母、数字、`_` 和 `-`（看不见的字符、全角字母不行），
    /// 不能和别人重复（不分大小写），也不能和在线的人的昵称看起来一样。
    fn check_nick(&self, wanted: &str) -> Result<(), String> {
        // TODO（练习 4.2）：提示见本文件第一个 TODO
        todo!("练习 4.2：聊天室服务端：昵称规则和命令")
    }

    /// 在线的人里，有没有谁的昵称和 `wanted` 看起来一样（例如 `alice` 和开头是西里尔字母 а 的 `аlice`）。
    /// 有就返回他的昵称。“看起来一样”由 Unicode 的形似字表决定，见 `socket_workbook::text::lookalike_key`。
    fn lookalike(&self, wanted: &str) -> Option<String> {
        let key = lookalike_key(wanted);
        self.nicks()
            .into_iter()
            .find(|nick| lookalike_key(nick) == key)
    }

    /// 按昵称找人（不分大小写）。
    fn find(&self, nick: &str) -> Vec<u64> {
        let wanted = nick.to_lowercase();
        self.clients
            .iter()
            .filter(|(_, c)| c.nick.as_ref().is_some_and(|n| n.to_lowercase() == wanted))
            .map(|(&id, _)| id)
            .collect()
    }

    /// 所有起好了昵称的人，按进门的顺序。
    fn nicks(&self) -> Vec<String> {
        self.clients
            .values()
            .filter_map(|c| c.nick.clone())
            .collect()
    }

    /// 服务端控制台说的话：发给每一个连着的人（包括还没起昵称的）。
    fn console(&mut self, text: &str) {
        let notice: Arc<str> = Arc::from(format!("{}\n", server_notice(text)));
        let ids: Vec<u64> = self.clients.keys().copied().collect();
        for id in &ids {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                self.clients[id].queue.try_send(notice.clone())
            {
                self.too_slow.push(*id);
            }
        }
        self.print(notice_sent(text, ids.len()));
    }

    /// Ctrl-C：给每个人的队列末尾放上告别的话，然后清空名单。
    /// 名单一空，队列的发送端就都被丢掉了；写任务发完队列里剩下的行，就关闭连接。
    fn shutdown(&mut self) {
        for id in self.clients.keys().copied().collect::<Vec<_>>() {
            self.tell(id, "[系统] 服务端要关闭了，再见！");
        }
        self.clients.clear();
        self.online.store(0, Ordering::Relaxed);
    }
}

/// 回答发现请求时要说的：房间名、聊天用的 TCP 端口、在线人数。
struct RoomInfo {
    name: String,
    port: u16,
    online: Arc<AtomicUsize>,
    /// 聊天的 TCP 端口监听的地址
    listening: Option<SocketAddr>,
    /// TCP 端口收不收 IPv6 的连接：不收的话，用 IPv6 找到它的客户端连不上
    takes_v6: bool,
    /// TCP 端口收不收 IPv4 的连接（在 [::] 上监听时看系统：Linux、macOS 默认也收 IPv4，Windows 不收）
    takes_v4: bool,
}

impl RoomInfo {
    fn new(args: &Args, listener: &TcpListener, online: Arc<AtomicUsize>) -> RoomInfo {
        let listening = listener.local_addr().ok();
        let only_v6 = socket2::SockRef::from(listener).only_v6().unwrap_or(true);
        RoomInfo {
            name: args.room_name.clone().unwrap_or_else(default_room_name),
            // 写的是实际监听的端口：--addr 的端口是 0 时，这里是系统挑的那个
            port: listening.map_or(0, |local| local.port()),
            online,
            listening,
            takes_v6: listening.is_some_and(|l| l.is_ipv6()),
            takes_v4: listening
                .is_some_and(|l| l.is_ipv4() || (l.ip().is_unspecified() && !only_v6)),
        }
    }

    /// 此刻的回答。
    fn reply(&self) -> Option<Vec<u8>> {
        let online = self.online.load(Ordering::Relaxed);
        discovery::encode(&discovery::Message::Room(discovery::Room {
            port: self.port,
            online: u32::try_from(online).unwrap_or(u32::MAX),
            name: self.name.clone(),
        }))
    }
}

/// 开始回答发现请求：`socket` 收 IPv4 的广播和单播；地址是 0.0.0.0 时，
/// 再在同一个端口上开一个 IPv6 套接字，加入组播组 [`discovery::MULTICAST_V6`]。
fn start_announcing(socket: UdpSocket, room: RoomInfo, out: &ConsoleOut) {
    let local = match socket.local_addr() {
        Ok(local) => local,
        Err(err) => {
            out.print(format!("无法获取发现端口的地址：{}", cause(&err)));
            return;
        }
    };
    out.print(format!("在 {local} 回答局域网里的发现请求（UDP）"));
    warn_if_unreachable(local, &room, out);
    let room = Arc::new(room);
    // 只有在所有地址（0.0.0.0 或 [::]）上回答时才加入 IPv6 组播组：
    // 写了具体地址（例如 127.0.0.1）就是只想在那里回答
    if local.ip().is_unspecified() {
        let loopback = room.listening.is_some_and(|l| l.ip().is_loopback());
        if loopback {
            // 上面已经说过：只监听回环地址时，别的机器不管用哪种地址都连不上
        } else if !room.takes_v6 {
            out.print(format!(
                "聊天室只收 IPv4 的连接，所以不加入 IPv6 组播组：只用 IPv6 的客户端找不到它。\
                 要让它们也能找到、连上，请用 --addr [::]:{} 启动",
                room.port
            ));
        } else if local.is_ipv6() {
            join_ipv6_group(&socket, local.port(), out);
        } else if let Some(v6) = open_ipv6(local.port(), out) {
            join_ipv6_group(&v6, local.port(), out);
            tokio::spawn(answer_requests(v6, room.clone(), out.clone()));
        }
    }
    tokio::spawn(answer_requests(socket, room, out.clone()));
}

/// 别人找得到、却连不上的几种情况，各说一句。
fn warn_if_unreachable(announce: SocketAddr, room: &RoomInfo, out: &ConsoleOut) {
    let Some(listening) = room.listening else {
        return;
    };
    if listening.ip().is_loopback() && !announce.ip().is_loopback() {
        out.print(format!(
            "注意：聊天室只监听回环地址，别的机器找得到它却连不上；要让它们连进来，\
             请用 --addr 0.0.0.0:{} 启动",
            room.port
        ));
    } else if announce.is_ipv4() && !room.takes_v4 {
        out.print(format!(
            "注意：聊天室只收 IPv6 的连接，用 IPv4 找到它的客户端连不上；\
             要收 IPv4，请用 --addr 0.0.0.0:{} 启动",
            room.port
        ));
    }
}

/// IPv6 没有广播：在 `[::]:port` 上开一个只收 IPv6 的套接字，用来收组播的发现请求。
/// 开不成只说一行，聊天室照常运行（IPv4 的客户端不受影响）。
fn open_ipv6(port: u16, out: &ConsoleOut) -> Option<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let open = || -> std::io::Result<UdpSocket> {
        let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        // 只收 IPv6：Linux 默认让 [::] 也收 IPv4，那样会和 0.0.0.0 上同一个端口冲突
        socket.set_only_v6(true)?;
        let any = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
        socket.bind(&any.into())?;
        socket.set_nonblocking(true)?;
        UdpSocket::from_std(socket.into())
    };
    match open() {
        Ok(socket) => Some(socket),
        Err(err) => {
            out.print(format!(
                "没有加入 IPv6 组播组 {}（{}）：只用 IPv6 的客户端找不到这个聊天室",
                discovery::MULTICAST_V6,
                cause(&err)
            ));
            None
        }
    }
}

/// 在每块有 IPv6 地址的网卡上加入组播组。哪块网卡上加入不了，合起来说一行。
fn join_ipv6_group(socket: &UdpSocket, port: u16, out: &ConsoleOut) {
    let group = discovery::MULTICAST_V6;
    let (mut joined, mut failed) = (Vec::new(), Vec::new());
    for (name, index) in ipv6_interfaces() {
        // 组播要说清楚在哪块网卡上收：同一个组在每条链路上都是另一个组
        match socket.join_multicast_v6(&group, index) {
            Ok(()) => joined.push(name),
            Err(err) => failed.push(format!("{name}：{}", cause(&err))),
        }
    }
    if !joined.is_empty() {
        out.print(format!(
            "在 [::]:{port} 的 IPv6 组播组 {group} 上回答发现请求（网卡 {}）",
            joined.join("、")
        ));
    }
    if !failed.is_empty() || joined.is_empty() {
        out.print(format!(
            "没能在这些网卡上加入 IPv6 组播组 {group}：{}。经过它们、只用 IPv6 的客户端找不到这个聊天室",
            if failed.is_empty() {
                "没有带 IPv6 地址的网卡".to_string()
            } else {
                failed.join("；")
            }
        ));
    }
}

/// 带 IPv6 地址、不是回环的网卡：名字和编号，每块网卡一次。
/// 回环网卡不算：本机的客户端经 127.0.0.1 就能找到聊天室。
fn ipv6_interfaces() -> Vec<(String, u32)> {
    let Ok(all) = socket_workbook::net::interface_addresses() else {
        return Vec::new();
    };
    let mut found: Vec<(String, u32)> = Vec::new();
    for addr in &all {
        let loopback = all
            .iter()
            .any(|a| a.interface == addr.interface && a.ip.is_loopback());
        if addr.ip.is_ipv6() && !loopback && !found.iter().any(|(_, i)| *i == addr.scope_id) {
            found.push((addr.interface.clone(), addr.scope_id));
        }
    }
    found
}

/// 一个发现套接字的收发循环：每收到一个合格的请求，就把此刻的房间信息回给发请求的人。
/// 别的数据报一律不理，只说一句；说明的行数有上限（见 [`Quiet`]），谁也刷不了服务端的屏。
async fn answer_requests(socket: UdpSocket, room: Arc<RoomInfo>, out: ConsoleOut) {
    // 缓冲区按最大的 UDP 数据报准备：太大的数据报也整个收下，才知道是谁发的、有多大，
    // 再由 parse 拒绝。缓冲区小了，Linux、macOS 会悄悄截断，Windows 干脆报错（见第 3 章）
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut quiet = Quiet::new();
    let mut clock = tokio::time::interval(QUIET_WINDOW);
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buf) => received,
            _ = clock.tick() => {
                if let Some(summary) = quiet.summary() {
                    out.print(summary);
                }
                continue;
            }
        };
        let note = match received {
            Ok((n, from)) => answer_one(&socket, &buf[..n], from, &room).await,
            // Windows：先前回答过的客户端已经走了，系统把 ICMP“端口不可达”报在下一次接收上
            Err(err) if port_unreachable(&err) => continue,
            // Windows 不截断太大的数据报，而是报错（见第 3 章）
            Err(err) if datagram_too_big(&err) => {
                format!("不理一个数据报：超过 {} 字节", discovery::MAX_DATAGRAM)
            }
            Err(err) => {
                // 少见：稍等再收，免得一个一直出错的套接字占满 CPU
                tokio::time::sleep(Duration::from_millis(100)).await;
                format!("接收发现请求失败：{}", cause(&err))
            }
        };
        if quiet.allow() {
            out.print(note);
        }
    }
}

/// 处理一个收到的数据报，返回要在控制台上说的一句。
async fn answer_one(
    socket: &UdpSocket,
    datagram: &[u8],
    from: SocketAddr,
    room: &RoomInfo,
) -> String {
    match discovery::parse(datagram) {
        Ok(discovery::Message::Discover) => {
            // 回给数据报的来源：客户端就在那个地址上等回答
            let Some(reply) = room.reply() else {
                return "房间名不合规则，无法回答发现请求".to_string();
            };
            match socket.send_to(&reply, from).await {
                Ok(_) => format!("{from} 在找聊天室，已回答"),
                Err(err) => format!("无法回答 {from} 的发现请求：{}", cause(&err)),
            }
        }
        Ok(discovery::Message::Room(_)) => {
            format!("不理 {from} 发来的数据报：它是回答，不是发现请求")
        }
        Err(why) => format!("不理 {from} 发来的数据报：{why}"),
    }
}

/// 收发现数据报的缓冲区：一个 UDP 数据报最大 65,535 字节。
const RECV_BUFFER: usize = 65_536;
/// 发现端口上每 [`QUIET_WINDOW`] 最多说 [`QUIET_LINES`] 句；多出来的只记个数，到时候说一句总数。
const QUIET_WINDOW: Duration = Duration::from_secs(10);
const QUIET_LINES: u32 = 10;

/// 给控制台上的说明限量。
struct Quiet {
    started: Instant,
    shown: u32,
    hidden: u64,
}

impl Quiet {
    fn new() -> Quiet {
        Quiet {
            started: Instant::now(),
            shown: 0,
            hidden: 0,
        }
    }

    /// 这一句可以说吗？
    fn allow(&mut self) -> bool {
        if self.started.elapsed() >= QUIET_WINDOW {
            self.started = Instant::now();
            self.shown = 0;
        }
        if self.shown < QUIET_LINES {
            self.shown += 1;
            true
        } else {
            self.hidden += 1;
            false
        }
    }

    /// 有没说的句子时，说一句总数。
    fn summary(&mut self) -> Option<String> {
        let hidden = std::mem::take(&mut self.hidden);
        (hidden > 0).then(|| {
            format!("（发现端口上另有 {hidden} 个数据报，{QUIET_WINDOW:?} 内最多显示 {QUIET_LINES} 句，没有逐个显示）")
        })
    }
}

/// 默认的房间名：“主机名 的聊天室”。主机名太长就截短，看不见的字符去掉，让它一定合规则。
fn default_room_name() -> String {
    const SUFFIX: &str = " 的聊天室";
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host: String = host
        .chars()
        .filter(|&c| !c.is_control() && !socket_workbook::text::is_invisible_format(c))
        .take(discovery::MAX_NAME - SUFFIX.chars().count())
        .collect();
    let host = host.trim();
    if host.is_empty() {
        "聊天室".to_string()
    } else {
        format!("{host}{SUFFIX}")
    }
}

/// `--keepalive` 的值：0 到 32767 秒。Linux 的 TCP_KEEPIDLE 最多 32767 秒，更大的值每个连接都会设置失败。
fn keepalive_arg(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(secs) if secs <= 32_767 => Ok(secs),
        _ => Err(
            "keepalive 要写成 0 到 32767 之间的整数（秒，0 表示不开；Linux 不接受更大的值），例如 60"
                .to_string(),
        ),
    }
}

/// `--heartbeat` 的值：1 到 3600 秒。太大的秒数会让计时器算时间时溢出，所以设个上限。
fn heartbeat_arg(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(secs) if (1..=3600).contains(&secs) => Ok(secs),
        _ => Err("心跳间隔要写成 1 到 3600 之间的整数（秒，最多一小时），例如 10".to_string()),
    }
}

/// 检查 --room-name：和发现协议里的房间名是同一条规则。
fn room_name_arg(name: &str) -> Result<String, String> {
    discovery::check_name(name).map_err(str::to_string)?;
    Ok(name.to_string())
}

/// 发现端口绑定失败时的一行说明。端口被占用的常见原因和 TCP 不同，所以单独给建议。
fn announce_failed(addr: &str, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "无法绑定 {addr}：{}。这台机器上可能已经有一个开着 --announce 的聊天室：先用 Ctrl-C 停掉它，\
             或者用 --announce-addr 换一个端口（找它的客户端要用 --discover-port 跟着换）",
            cause(err)
        )
    } else {
        bind_failed(addr, err, "lab-chat-server")
    }
}

// 练习 4.1、4.2 挖空的几段要说的话。练习里它们已经写好：直接调用，只需要写逻辑。

/// 转给别人的一行：昵称由服务端加在前面。
fn said(nick: &str, text: &str) -> String {
    format!("<{nick}> {text}")
}

/// 控制台的通知，每个人收到的就是这一行。
fn server_notice(text: &str) -> String {
    format!("[服务端] {text}")
}

/// 控制台的通知发出以后，服务端自己显示的一行。
fn notice_sent(text: &str, count: usize) -> String {
    format!("[服务端] {text}（已发给 {count} 人）")
}

/// `/who` 的回答：在线几个人，按进门的顺序列出昵称。
fn who_list(nicks: &[String]) -> String {
    format!("[系统] 在线 {} 人：{}", nicks.len(), nicks.join("、"))
}

/// `/msg` 的格式不对时告诉对方用法。
const MSG_USAGE: &str = "[系统] 用法：/msg 昵称 内容";

/// 没有这个命令。
fn unknown_command(name: &str) -> String {
    format!("[系统] 没有 /{name} 这个命令，输入 /help 查看可用的命令")
}

/// 昵称不合规则的原因（调用方会再加上“请重新输入”或“昵称没有改”）。
fn bad_nick() -> String {
    format!(
        "昵称只能由汉字、字母、数字、_ 和 - 组成（不能有看不见的字符和全角字母），最多 {MAX_NICK} 个字"
    )
}

/// 昵称已经有人在用（不分大小写）。
fn nick_taken(wanted: &str) -> String {
    format!("昵称 {wanted} 已经有人在用了")
}

/// 昵称和在线的某人看起来一样，别人会分不清。
fn nick_looks_like(wanted: &str, online: &str) -> String {
    format!("昵称 {wanted} 和在线的 {online} 看起来一样，别人会分不清你们")
}

/// `/help` 的内容。
const HELP: [&str; 6] = [
    "[系统] 直接输入文字：对所有人说话",
    "[系统] /nick 新昵称：改名",
    "[系统] /who：看看谁在线",
    "[系统] /msg 昵称 内容：只对一个人说（私信）",
    "[系统] /quit：离开聊天室",
    "[系统] /help：显示这份说明",
];

/// 被“接收太慢”断开的人收到的最后一句。
fn kicked_too_slow() -> String {
    format!("[系统] 你有 {QUEUE_LINES} 行消息没有读走，服务端断开了你的连接（接收太慢）")
}

/// 进门后迟迟不起昵称的人收到的最后一句。
fn no_nick_in_time(limit: Duration) -> String {
    format!(
        "[系统] {} 秒内没有起好昵称，服务端断开了你的连接",
        limit.as_secs()
    )
}

/// 说得太快的人第一次被放慢时收到的提醒。
fn too_fast(max_rate: u32) -> String {
    format!("[系统] 你说得太快了：每人每秒最多 {max_rate} 行，多出来的会慢慢发出去")
}

/// 人满时新来的人收到的一句。
fn room_full(max_clients: u32) -> String {
    format!("[系统] 聊天室已满（最多 {max_clients} 人），请稍后再来")
}

/// 控制台跟不上、略去了一些行之后补上的一句。
fn lines_dropped(count: usize) -> String {
    format!("（控制台跟不上，略去了 {count} 行输出）")
}

// 练习 6.1 要说的话。练习里它们已经写好：drop_silent 调用它们。

/// 心跳超时的人收到的最后一句（他多半已经收不到了，但万一只是慢，他能知道为什么）。
fn heartbeat_lost(limit: Duration) -> String {
    format!(
        "[系统] {} 秒没有收到你的心跳，服务端断开了你的连接",
        limit.as_secs()
    )
}

/// 心跳超时时服务端控制台上的一行。
fn silent_dropped(who: &str, limit: Duration) -> String {
    format!("{who}心跳超时（{} 秒没有消息），断开它", limit.as_secs())
}

/// 心跳超时时告诉其他人的一句。
fn heartbeat_timeout_notice(nick: &str) -> String {
    format!("[系统] {nick} 心跳超时，断开了连接")
}

/// 一个客户端报名了心跳。
fn heartbeat_started(addr: SocketAddr, every: Duration) -> String {
    format!(
        "{addr} 报名了心跳：每 {} 秒问它一次，{} 秒没有消息就断开",
        every.as_secs(),
        (every * HEARTBEAT_MISSES).as_secs()
    )
}

/// 启动时说明 keepalive 的设置（不是默认值时）。
fn keepalive_summary(idle: Option<Duration>) -> String {
    match idle {
        None => {
            "TCP keepalive 已关闭：对方的机器悄悄消失时，普通客户端的连接会一直留着".to_string()
        }
        Some(idle) => format!(
            "TCP keepalive：连接空闲 {} 秒后开始探测，每 {} 秒一次，{} 次没有回音就断开",
            idle.as_secs(),
            keepalive_interval(idle).as_secs(),
            keepalive_retries()
        ),
    }
}

/// 启动时说明心跳的设置（不是默认值时）。
fn heartbeat_summary(every: Duration) -> String {
    format!(
        "心跳：每 {} 秒问一次报了名的客户端，{} 秒没有消息就断开",
        every.as_secs(),
        (every * HEARTBEAT_MISSES).as_secs()
    )
}
