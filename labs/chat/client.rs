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
//!
//! 第 5 章：不知道聊天室的地址时，加上 `--discover`，客户端在局域网里喊一声（IPv4 广播、IPv6 组播），
//! 列出开着 `--announce` 的聊天室，输入编号进入：
//!
//! ```text
//! cargo run --bin lab-chat-client -- --discover
//! ```
//!
//! 第 6.3 节：加上 `--heartbeat`，客户端连上后向 `lab-chat-server` 报名心跳（发一行 `/heartbeat`），
//! 之后服务端定时发来的 `/ping` 由客户端悄悄回答 `/pong`，不显示在屏幕上。
//! 这台机器悄悄消失时（断电、断网），服务端几十秒内就会发现，把它从聊天室里去掉。
//! 别的聊天服务不懂这个协议，连它们时不要加 `--heartbeat`。

use std::collections::BTreeSet;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use socket_workbook::errors::{cause, datagram_too_big, port_unreachable};
use socket_workbook::text::printable_line;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

// 发现协议的格式（第 5 章）。写成 ../chat/ 是为了让练习文件（在 labs/exercises/ 里）也找得到它
#[path = "../lan/dial.rs"]
mod dial;
#[path = "../chat/discovery.rs"]
mod discovery;

/// 全双工聊天室的客户端：一边显示别人说的话，一边把你输入的话发出去。
#[derive(Parser)]
#[command(name = "lab-chat-client", version)]
struct Args {
    /// 聊天服务端的地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:20004")]
    addr: String,
    /// 不用 --addr：在局域网里找开着 --announce 的聊天室，列出来让你挑一个
    #[arg(long)]
    discover: bool,
    /// 发现请求发往的 UDP 端口（服务端 --announce-addr 的端口）
    #[arg(long, default_value_t = discovery::DISCOVERY_PORT)]
    discover_port: u16,
    /// 只把发现请求发到这个地址（HOST:PORT，可以写多次），不发广播和组播
    #[arg(long, value_name = "HOST:PORT")]
    discover_to: Vec<String>,
    /// 等回答的秒数（1 到 10）
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10))]
    discover_wait: u64,

    /// 连接每个地址最多等几秒（名字解析出好几个地址时，一个一个地试）
    #[arg(long, default_value_t = 3, value_name = "秒", value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,

    /// 向 lab-chat-server 报名心跳（第 6.3 节）：服务端发来的 /ping 悄悄回答 /pong，不显示
    #[arg(long)]
    heartbeat: bool,
}

/// 显示一行时最多读这么多字节；服务端发来更长的行时分成几段显示，内存不会被撑爆。
const MAX_SHOWN: u64 = 64 * 1024;
/// 离开时最多再等这么久，把服务端最后说的话（例如“再见”）显示完。
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();

    // （第 5 章）--discover：先在局域网里找聊天室、让用户挑一个，再像平常一样连过去
    if args.discover {
        match choose_room(&args).await {
            Ok(addr) => args.addr = addr,
            Err(code) => return code,
        }
    }

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
    //    （第 6.3 节）加了 --heartbeat 时，连接先交给两个心跳任务（一个读、一个写），收和发都经过它们，见 start_heartbeat
    let (reader, mut writer) = if args.heartbeat {
        start_heartbeat(conn)
    } else {
        let (reader, writer) = conn.into_split();
        (Box::pin(reader) as Reader, Box::pin(writer) as Writer)
    };
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
/// 收的一半：平时是连接的读方向；加了 `--heartbeat` 时是读的那个心跳任务交出来的行（见 start_heartbeat）。
type Reader = Pin<Box<dyn AsyncRead + Send>>;
/// 发的一半：平时是连接的写方向；加了 `--heartbeat` 时是通往写的那个心跳任务的管道。
type Writer = Pin<Box<dyn AsyncWrite + Send>>;

/// 收：把服务端发来的每一行显示出来，直到连接结束。返回结束的原因。
async fn show_incoming(reader: Reader) -> Result<(), String> {
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

// ANCHOR: heartbeat
/// 心跳协议的三行（和 lab-chat-server 一样，见那里的说明）：报名、服务端问、客户端答。
const HEARTBEAT_ON: &[u8] = b"/heartbeat\n";
const PING: &str = "/ping";
const PONG: &[u8] = b"/pong\n";

/// `--heartbeat`：连接交给两个心跳任务，它们站在连接和程序的其余部分之间：
///
/// - 读的任务（read_with_heartbeat）：服务端发来的行，除了 `/ping`，都原样交给 show_incoming
///   （经一个通道，读出错时连原因一起交过去）；`/ping` 它不显示，只请写的任务回答 `/pong`，
///   所以屏幕上永远看不到心跳；
/// - 写的任务（write_with_heartbeat）：main 要发的行写进一根管道（`tokio::io::duplex`），
///   它一行一行地取出来发给服务端，中间插上读的任务要的 `/pong`。只有它一个往连接里写，
///   `/pong` 就不会插进用户一行话的中间。
///
/// 分成两个任务，是为了写的一方卡在 write_all 上（服务端暂时不收）时，读的一方照样在读：
/// 服务端发来的话照常显示，`/pong` 排在写的任务那里，轮到时就发出去。
///
/// 返回的两半和不加 --heartbeat 时用法一样，main 和 show_incoming 不用知道心跳的存在。
fn start_heartbeat(conn: TcpStream) -> (Reader, Writer) {
    let (lines, shown) = mpsc::channel::<std::io::Result<Bytes>>(16);
    let (typed, to_send) = tokio::io::duplex(64 * 1024);
    // 要回答的 /pong 只需排一个：排着一个还没发出去时，再来的 /ping 不用再排
    let (pong, pongs) = mpsc::channel::<()>(1);
    let (reader, writer) = conn.into_split();
    tokio::spawn(write_with_heartbeat(writer, to_send, pongs, lines.clone()));
    tokio::spawn(read_with_heartbeat(reader, pong, lines));
    // 把通道变成一个可以读的字节流：show_incoming 照旧一行一行地读它
    let mut shown = shown;
    let stream = futures_util::stream::poll_fn(move |cx| shown.poll_recv(cx));
    let reader = tokio_util::io::StreamReader::new(stream);
    (Box::pin(reader), Box::pin(typed))
}

/// 读的任务：一行一行地读服务端，`/ping` 交给写的任务回答，其余的交给 show_incoming。
async fn read_with_heartbeat(
    reader: OwnedReadHalf,
    pong: mpsc::Sender<()>,
    lines: mpsc::Sender<std::io::Result<Bytes>>,
) {
    let mut from_server = BufReader::new(reader);
    loop {
        // 每一行最多读 MAX_SHOWN 字节。这里的 read_until 不会被打断，每一行都用一个新的上限
        let mut line = Vec::new();
        let read = (&mut from_server)
            .take(MAX_SHOWN)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) => return, // 服务端关闭了连接：丢掉 lines，show_incoming 读到结束
            Ok(_) if is_ping(&line) => {
                // 排满了（已经有一个 /pong 在等着发）或者写的任务已经结束：都不用再排
                let _ = pong.try_send(());
            }
            Ok(_) => {
                if lines.send(Ok(Bytes::from(line))).await.is_err() {
                    return; // 显示的一方已经不在了
                }
            }
            Err(err) => {
                let _ = lines.send(Err(err)).await;
                return;
            }
        }
    }
}

/// 写的任务：先报名，然后同时等两件事：main 要发出一行，或者读的任务要回答一个 `/pong`。
async fn write_with_heartbeat(
    mut writer: OwnedWriteHalf,
    to_send: DuplexStream,
    mut pongs: mpsc::Receiver<()>,
    lines: mpsc::Sender<std::io::Result<Bytes>>,
) {
    if let Err(err) = writer.write_all(HEARTBEAT_ON).await {
        let _ = lines.send(Err(err)).await;
        return;
    }
    let mut typed = BufReader::new(to_send);
    let mut outgoing = Vec::new();
    loop {
        // read_until 被 select 打断时，已经读到的字节留在 outgoing 里，下一轮接着读：
        // 所以它只在发出一整行之后才清空
        let sent = tokio::select! {
            pong = pongs.recv() => match pong {
                Some(()) => writer.write_all(PONG).await,
                // 读的任务结束了（服务端关闭了连接）：这边也结束，show_incoming 才读得到结束
                None => return,
            },
            read = typed.read_until(b'\n', &mut outgoing) => match read {
                // main 关闭了管道（要离开了）：关闭连接的发送方向；服务端最后的话由读的任务接着收
                Ok(0) => {
                    if let Err(err) = writer.shutdown().await {
                        let _ = lines.send(Err(err)).await;
                    }
                    return;
                }
                Ok(_) => {
                    let sent = writer.write_all(&outgoing).await;
                    outgoing.clear();
                    sent
                }
                Err(err) => Err(err),
            },
        };
        if let Err(err) = sent {
            let _ = lines.send(Err(err)).await;
            return;
        }
    }
}

/// 这一行是不是服务端的 `/ping`（nc 风格的 \n 或 telnet 风格的 \r\n 结尾都算）。
fn is_ping(line: &[u8]) -> bool {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    text == PING.as_bytes()
}
// ANCHOR_END: heartbeat

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

// ANCHOR: choose_room
/// 找到的一个聊天室：连它用的地址（回答的来源 IP + 回答里的端口）和它说的房间信息。
struct Found {
    addr: SocketAddr,
    room: discovery::Room,
}

/// `--discover`：发出发现请求，列出回答的聊天室，读用户输入的编号，返回要连的地址。
/// 找不到、用户不进了，返回要用的退出码。
///
/// 这一部分的输出都写到标准错误，和“已连接到……”一样：都是给人看的提示，
/// 走同一条输出流，先后顺序也就不会乱。
async fn choose_room(args: &Args) -> Result<String, ExitCode> {
    let targets = discovery_targets(args).await;
    eprintln!(
        "正在找聊天室：向 {} 个地址发出发现请求，等 {} 秒……",
        targets.len(),
        args.discover_wait
    );
    let wait = Duration::from_secs(args.discover_wait);
    let found = find_rooms(&targets, wait).await;
    if found.is_empty() {
        eprintln!("{}", no_room_found(args.discover_port));
        return Err(ExitCode::FAILURE);
    }
    eprintln!("找到 {} 个聊天室：", found.len());
    for (i, one) in found.iter().enumerate() {
        eprintln!(
            "  {}. {}（{}，{} 人在线）",
            i + 1,
            one.room.name,
            one.addr,
            one.room.online
        );
    }
    match pick_number(found.len()) {
        Ok(Some(i)) => Ok(found[i].addr.to_string()),
        Ok(None) => Err(ExitCode::SUCCESS), // 用户自己不进了
        Err(()) => Err(ExitCode::FAILURE),
    }
}

/// 找不到聊天室时的一行说明：常见的原因和该怎么办。
fn no_room_found(port: u16) -> String {
    format!(
        "没有找到聊天室。请检查：服务端有没有加 --announce（例如 cargo run --bin lab-chat-server -- \
         --addr 0.0.0.0:20004 --announce）；两台机器在不在同一个局域网；防火墙有没有放行 UDP 端口 {port}；\
         WSL2 和 Docker 容器在 NAT 后面，收不到局域网的广播，请在宿主机上运行，或者用 --addr 直接连"
    )
}

/// 读用户输入的编号（从 1 数起），返回下标。直接回车、输入 q 或输入结束表示不进了（`None`）；
/// 输错了再问，最多问 3 次，都错了返回 `Err`。
fn pick_number(count: usize) -> Result<Option<usize>, ()> {
    // 和后面读键盘的线程读的是同一个标准输入：多输入的行留在它的缓冲区里，不会丢
    let mut stdin = std::io::stdin().lock();
    for _ in 0..3 {
        eprintln!("输入编号进入聊天室（直接回车或输入 q 退出）：");
        let mut line = String::new();
        if stdin.read_line(&mut line).unwrap_or(0) == 0 {
            return Ok(None); // 输入结束
        }
        let typed = line.trim();
        if typed.is_empty() || typed.eq_ignore_ascii_case("q") {
            return Ok(None);
        }
        match typed.parse::<usize>() {
            Ok(n) if (1..=count).contains(&n) => return Ok(Some(n - 1)),
            _ => eprintln!("没有这个编号，请输入 1 到 {count} 之间的数字"),
        }
    }
    eprintln!("输错了 3 次，不进入聊天室。");
    Err(())
}
// ANCHOR_END: choose_room

// ANCHOR: discovery_targets
/// 发现请求发往哪里，以及为什么发往那里（显示给用户看）。
///
/// - 每块网卡的 IPv4 广播地址（例如 192.0.2.255）：那个网段上的每台机器都会收到。
///   不用 255.255.255.255：没有默认路由的机器（比如一个只有局域网的网络命名空间）发不出去；
/// - 127.0.0.1：本机上的聊天室。回环网卡没有广播地址；
/// - 每块有 IPv6 地址的网卡上的组播组 [`discovery::MULTICAST_V6`]：IPv6 没有广播。
///   链路本地的组播地址要带上网卡编号（`%2` 这样的 scope id），系统才知道从哪块网卡发出去。
///
/// `--discover-to` 给出的地址取代上面这些。
async fn discovery_targets(args: &Args) -> Vec<(SocketAddr, String)> {
    let port = args.discover_port;
    let mut targets: Vec<(SocketAddr, String)> = Vec::new();
    if !args.discover_to.is_empty() {
        for given in &args.discover_to {
            match tokio::net::lookup_host(given.as_str()).await {
                Ok(addrs) => targets.extend(addrs.map(|addr| (addr, "--discover-to".to_string()))),
                Err(err) => eprintln!("无法解析 --discover-to {given}：{}，跳过它", cause(&err)),
            }
        }
        return targets;
    }
    let interfaces = socket_workbook::net::interface_addresses().unwrap_or_else(|err| {
        eprintln!("无法列出本机的网卡：{}，只在本机上找", cause(&err));
        Vec::new()
    });
    for iface in &interfaces {
        if let Some(broadcast) = iface.broadcast {
            let addr = SocketAddr::from((broadcast, port));
            let why = format!("{} 的广播地址", iface.interface);
            if !targets.iter().any(|(a, _)| *a == addr) {
                targets.push((addr, why));
            }
        }
    }
    targets.push((
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        "本机".to_string(),
    ));
    let mut seen_v6 = BTreeSet::new();
    for iface in &interfaces {
        let loopback = interfaces
            .iter()
            .any(|a| a.interface == iface.interface && a.ip.is_loopback());
        // 回环网卡不发：本机的聊天室经 127.0.0.1 就找得到
        if iface.ip.is_ipv6() && !loopback && seen_v6.insert(iface.scope_id) {
            let group = SocketAddrV6::new(discovery::MULTICAST_V6, port, 0, iface.scope_id);
            let why = format!("{} 上的 IPv6 组播组", iface.interface);
            targets.push((SocketAddr::V6(group), why));
        }
    }
    targets
}
// ANCHOR_END: discovery_targets

// ANCHOR: find_rooms
/// 一次最多列出这么多个聊天室。
const MAX_ROOMS: usize = 50;
/// 同一台机器（同一个来源 IP）最多列出这么多个聊天室。
const MAX_ROOMS_PER_HOST: usize = 4;
/// 收到的无效回答最多逐个说明这么多个，其余的只在最后说个总数。
const MAX_NOTES: usize = 5;

/// 向每个目标发一个发现请求，在 `wait` 之内收集回答。
async fn find_rooms(targets: &[(SocketAddr, String)], wait: Duration) -> Vec<Found> {
    // IPv4 和 IPv6 各用一个套接字；允许广播（SO_BROADCAST），否则发往广播地址会被系统拒绝
    let v4 = open_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), targets).await;
    let v6 = open_socket(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)), targets).await;
    let request = discovery::encode(&discovery::Message::Discover).unwrap_or_default();
    for (target, why) in targets {
        let socket = if target.is_ipv4() { &v4 } else { &v6 };
        let Some(socket) = socket else { continue };
        match socket.send_to(&request, target).await {
            Ok(_) => eprintln!("  已发往 {target}（{why}）"),
            // 发往一个地址失败（没有权限广播、网络不可达……）只是少找一处，不影响别的
            Err(err) => eprintln!("  发往 {target}（{why}）失败：{}，跳过它", cause(&err)),
        }
    }

    let mut found: Vec<Found> = Vec::new();
    let mut invalid = 0;
    let deadline = tokio::time::Instant::now() + wait;
    // 缓冲区按最大的 UDP 数据报准备：太大的回答也整个收下，知道是谁发的，再由 parse 拒绝
    let (mut buf4, mut buf6) = (vec![0u8; 65_536], vec![0u8; 65_536]);
    let (mut v4, mut v6) = (v4, v6);
    while found.len() < MAX_ROOMS {
        let (received, which) = tokio::select! {
            received = recv(&v4, &mut buf4) => (received, 4),
            received = recv(&v6, &mut buf6) => (received, 6),
            _ = tokio::time::sleep_until(deadline) => break,
        };
        let (datagram, from) = match received {
            Ok((n, from)) => (if which == 4 { &buf4[..n] } else { &buf6[..n] }, from),
            // 某个目标上没有服务端，对方回了 ICMP“端口不可达”（Windows 会报在这里）：不算错
            Err(err) if port_unreachable(&err) => continue,
            Err(err) if datagram_too_big(&err) => {
                note_invalid(&mut invalid, "不理一个回答：超过 512 字节".to_string());
                continue;
            }
            Err(err) => {
                eprintln!("接收回答失败：{}，这个套接字不再用", cause(&err));
                if which == 4 {
                    v4 = None
                } else {
                    v6 = None
                }
                continue;
            }
        };
        match discovery::parse(datagram) {
            Ok(discovery::Message::Room(room)) => {
                let addr = room_address(from, room.port);
                // 同一个聊天室的回答可能收到好几份（例如同时收到广播和组播），只留一份。
                // 但经两个地址回答的同一个聊天室（127.0.0.1 和 192.0.2.1）会列两次：
                // 从外面看不出它们是同一个，而且两个地址都连得上
                let same_host = found.iter().filter(|f| f.addr.ip() == addr.ip()).count();
                if found.iter().any(|f| f.addr == addr) {
                    // 已经有了
                } else if same_host >= MAX_ROOMS_PER_HOST {
                    // 一台机器用不同的端口号回答几十次，别的机器上真正的聊天室就挤不进列表了
                    let why = format!("同一台机器最多列出 {MAX_ROOMS_PER_HOST} 个聊天室");
                    note_invalid(&mut invalid, format!("不理 {from} 发来的回答：{why}"));
                } else {
                    found.push(Found { addr, room });
                }
            }
            // 别的客户端发出的请求（同一个网段上广播）也可能被我们收到，不必理会
            Ok(discovery::Message::Discover) => {}
            Err(why) => note_invalid(&mut invalid, format!("不理 {from} 发来的回答：{why}")),
        }
    }
    if invalid > MAX_NOTES {
        eprintln!("另有 {} 个无效的回答没有逐个显示", invalid - MAX_NOTES);
    }
    found.sort_by_key(|f| f.addr);
    found
}

/// 说明一个不理的回答。只说前 [`MAX_NOTES`] 个：谁也别想用一堆垃圾数据报刷我们的屏。
fn note_invalid(count: &mut usize, line: String) {
    *count += 1;
    if *count <= MAX_NOTES {
        eprintln!("{line}");
    }
}

/// 要连的地址：回答的**来源 IP**，加上回答里写的端口。IPv6 链路本地地址保留来源的网卡编号。
fn room_address(from: SocketAddr, port: u16) -> SocketAddr {
    match from {
        SocketAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), port, 0, v6.scope_id())),
        SocketAddr::V4(_) => SocketAddr::new(from.ip(), port),
    }
}

/// 打开一个发送发现请求的套接字（IPv4 或 IPv6）。用不到这一种时不打开。
async fn open_socket(local: SocketAddr, targets: &[(SocketAddr, String)]) -> Option<UdpSocket> {
    if !targets.iter().any(|(t, _)| t.is_ipv4() == local.is_ipv4()) {
        return None;
    }
    let kind = if local.is_ipv4() { "IPv4" } else { "IPv6" };
    let socket = match UdpSocket::bind(local).await {
        Ok(socket) => socket,
        Err(err) => {
            eprintln!(
                "无法打开 {kind} 的 UDP 套接字：{}，不发 {kind} 的发现请求",
                cause(&err)
            );
            return None;
        }
    };
    if let IpAddr::V4(_) = local.ip()
        && let Err(err) = socket.set_broadcast(true)
    {
        eprintln!("无法允许广播：{}，发往广播地址可能会失败", cause(&err));
    }
    Some(socket)
}

/// 从一个可能没有打开的套接字收一个数据报；没有套接字就永远等下去（交给 select 的另一条路）。
async fn recv(socket: &Option<UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}
// ANCHOR_END: find_rooms
