//! # 第 3 章 · UDP 客户端
//!
//! 对应教程里的 UDP 客户端：把套接字“连接”到服务端的地址 → 发送 `hello world` →
//! 接收回复，打印内容、发送方地址和长度。
//!
//! 和教程不同的是，它不会永远等下去：每次最多等 `--reply-timeout` 秒，没等到就重发，
//! 最多重发 `--retries` 次；还是没有回复，就用一行中文说明可能的原因，以非零退出码结束。
//! 它只把和这一次发出的内容一样的数据报当作回复（回声服务原样发回），迟到或重复的旧回复会被跳过；
//! 地址是一个名字（例如 `localhost`）、解析出好几个 IP 时，它像 TCP 的 connect 一样依次试每一个。
//!
//! 运行（先在另一个终端启动服务端 `cargo run --bin lab-udp-server`）：
//!
//! ```text
//! cargo run --bin lab-udp-client                              # 发送 hello world
//! cargo run --bin lab-udp-client -- --message 你好            # 发送别的内容
//! printf 'one\ntwo\n' | cargo run --bin lab-udp-client -- --stdin   # 每行一个数据报
//! ```
//!
//! 不用我们的服务端也行：`nc -u -l 127.0.0.1 8080` 能收到客户端发出的数据报，
//! 在 nc 里输入一行回车，就是一个回复。

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use socket_workbook::errors::{cause, datagram_too_big, port_unreachable};
use socket_workbook::text::printable;
use socket_workbook::udp::allow_full_size_datagrams;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// 基于 IPv4 的 UDP 数据报最多能装 65,507 字节的数据（65,535 减去 IP 头 20 字节和 UDP 头 8 字节）。
const MAX_DATAGRAM: usize = 65_507;

/// UDP 客户端：发送数据报给回声服务端，并打印它的回复。
#[derive(Parser)]
#[command(name = "lab-udp-client", version)]
struct Args {
    /// 服务端的地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,

    /// 要发送的内容（一个数据报）
    #[arg(long, default_value = "hello world", conflicts_with = "stdin")]
    message: String,

    /// 改为从标准输入读：每一行作为一个数据报发送（空行就是 0 字节的数据报），读到输入结束为止
    #[arg(long)]
    stdin: bool,

    /// 接收缓冲区的大小（字节，1 到 65536）
    #[arg(long, default_value_t = 1024, value_name = "字节", value_parser = parse_buf_size)]
    buf_size: usize,

    /// 每次发送后等待回复的最长时间（秒，可以带小数，例如 0.5）
    #[arg(long, default_value = "1", value_name = "秒", value_parser = parse_seconds)]
    reply_timeout: Duration,

    /// 没等到回复时最多重发几次
    #[arg(long, default_value_t = 2, value_name = "次")]
    retries: u32,
}

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    println!("size =  {}", args.buf_size); // 和教程一样，先报告接收缓冲区的大小

    // 1. 解析服务端的地址。一个名字可能对应好几个 IP：localhost 在很多系统上先是 ::1，再是 127.0.0.1
    let servers = match resolve(&args.addr).await {
        Ok(servers) => servers,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };

    // 2. 发送数据报、接收回复。第一个数据报顺便找出哪个地址上有服务端（见 first_exchange）
    let result = if args.stdin {
        send_lines(&servers, &args).await
    } else {
        first_exchange(&servers, args.message.as_bytes(), &args)
            .await
            .map(|_socket| ())
    };

    // 3. 关闭套接字：套接字用完时被丢弃，系统随之关闭它（相当于 defer socket.Close()）
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main

// ANCHOR: dial
/// 把 HOST:PORT 解析成 IP 地址。一个名字可能解析出好几个，全部留下，按系统给的顺序。
/// 写法不对（例如 IPv6 地址没加方括号、缺少端口）或者找不到这个名字时，说清楚是哪一种（见 labs/net.rs）。
async fn resolve(addr: &str) -> Result<Vec<SocketAddr>, String> {
    socket_workbook::net::resolve(addr)
        .await
        .map_err(|reason| format!("无法解析地址 {addr}：{reason}"))
}

/// 相当于 Go 的 `net.DialUDP`：在本机绑定一个临时端口，再 connect 到服务端的一个地址。
/// 对 UDP 来说 connect 不发送任何东西，只是记下对方的地址：之后 send 不用再写地址，
/// 也只接收来自这个地址的数据报。
async fn dial(server: SocketAddr) -> Result<UdpSocket, String> {
    // 本机这一端用“任意地址、端口 0”，由系统挑选（Go 的 DialUDP 传 nil 也是这个意思）
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("合法的地址")
    } else {
        "[::]:0".parse().expect("合法的地址")
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|err| format!("无法创建 UDP 套接字：{}", cause(&err)))?;
    // macOS 默认只能发 9216 字节以内的数据报；调大发送缓冲区（见 labs/udp.rs）
    allow_full_size_datagrams(&socket)
        .map_err(|err| format!("无法调大 UDP 套接字的发送缓冲区：{}", cause(&err)))?;
    socket
        .connect(server)
        .await
        .map_err(|err| format!("无法把 UDP 套接字指向 {server}：{}", cause(&err)))?;
    Ok(socket)
}

/// 第一个数据报：依次试解析出的每个地址，哪个地址回复了，就返回指向它的套接字，以后一直用它。
///
/// TCP 的 connect 也是这样依次试的，握手失败就换下一个地址。UDP 的 connect 不握手，
/// 对方在不在，要等第一个数据报发出去才知道：这个地址端口不可达、没有回复，就换下一个地址重发；
/// 全都不行，报告最后一个地址的原因。
async fn first_exchange(
    servers: &[SocketAddr],
    data: &[u8],
    args: &Args,
) -> Result<UdpSocket, String> {
    if data.len() > MAX_DATAGRAM {
        return Err(too_long(data.len())); // 太长的内容换哪个地址都发不出去
    }
    let mut last_failure = String::new();
    for (i, &server) in servers.iter().enumerate() {
        if i > 0 {
            println!("{}", next_address(&args.addr, servers[i - 1], server));
        }
        let socket = match dial(server).await {
            Ok(socket) => socket,
            Err(message) => {
                last_failure = message;
                continue;
            }
        };
        match exchange(&socket, data, args).await {
            Ok(()) => return Ok(socket),
            Err(message) => last_failure = message,
        }
    }
    Err(last_failure)
}

/// `tried` 上没有回复，改试 `addr` 解析出的下一个地址 `next`。
fn next_address(addr: &str, tried: SocketAddr, next: SocketAddr) -> String {
    format!("（{tried} 上没有回复，改试 {addr} 解析出的下一个地址 {next}）")
}
// ANCHOR_END: dial

// ANCHOR: exchange
/// 发送一个数据报并等待回复；没等到就重发，最多重发 `args.retries` 次。
async fn exchange(socket: &UdpSocket, data: &[u8], args: &Args) -> Result<(), String> {
    // ANCHOR: exercise
    if data.len() > MAX_DATAGRAM {
        return Err(too_long(data.len()));
    }
    let wait = args.reply_timeout.as_secs_f64();
    let mut buf = vec![0u8; args.buf_size];
    for attempt in 0..=args.retries {
        if attempt > 0 {
            println!("{}", retrying(wait, attempt, args.retries));
        }
        // 发送：一次 send 就是一个完整的数据报，要么整个发出，要么报错
        if let Err(err) = socket.send(data).await {
            return Err(failure(&args.addr, &err, "发送"));
        }
        // 接收：最多等 reply_timeout。UDP 不会告诉我们数据报丢了，只能自己计时。
        // recv_reply 只认这一次的回声，跳过之前迟到的回复
        match timeout(args.reply_timeout, recv_reply(socket, &mut buf, data)).await {
            Ok(Ok((n, from))) => {
                report(&buf[..n], from, data);
                return Ok(());
            }
            Ok(Err(err)) => return Err(failure(&args.addr, &err, "接收")),
            Err(_) => continue, // 超时：去重发
        }
    }
    Err(no_reply(args.retries + 1, wait, &args.addr))
    // ANCHOR_END: exercise
}

// exchange 要说的话。练习 3.2 里它们已经写好：直接调用，只需要写逻辑。

/// 内容太长，装不进一个数据报。
fn too_long(len: usize) -> String {
    format!(
        "要发送的内容有 {len} 字节，超过了一个 UDP 数据报的上限 {MAX_DATAGRAM} 字节。\
         请缩短内容，或者分成几个数据报发送"
    )
}

/// 等了 `wait` 秒没有回复，开始第 `attempt` 次重发。
fn retrying(wait: f64, attempt: u32, retries: u32) -> String {
    format!("等了 {wait} 秒没有收到回复，重发（第 {attempt} 次，最多 {retries} 次）")
}

/// 发了 `attempts` 次、每次等 `wait` 秒，都没有回复：说明原因和下一步。
fn no_reply(attempts: u32, wait: f64, addr: &str) -> String {
    format!(
        "发了 {attempts} 次、每次等 {wait} 秒，{addr} 都没有回复。UDP 不建立连接，也不确认送达：\
         服务端没有运行或卡住了、数据报或回复在路上丢了，发送方都不会收到任何通知。\
         请确认服务端正在运行（cargo run --bin lab-udp-server -- --addr {addr}），\
         或者用 --reply-timeout、--retries 多等一会儿"
    )
}
// ANCHOR_END: exchange

// ANCHOR: recv_reply
/// 接收这一次发送的回复。回声服务原样发回，所以和 `sent` 对不上的数据报不是这一次的回复：
/// 多半是之前某个数据报迟到或重复的回复（比如重发之后，原来那个数据报的回复也到了）。
/// 说明一下、跳过它，接着等。只看“第一个到达的”就会像教程那样，从此每次都拿到上一次的回复。
async fn recv_reply(
    socket: &UdpSocket,
    buf: &mut [u8],
    sent: &[u8],
) -> io::Result<(usize, SocketAddr)> {
    loop {
        let (n, from) = socket.recv_from(buf).await?;
        if is_echo_of(&buf[..n], sent) {
            return Ok((n, from));
        }
        println!("{}", stale(&buf[..n]));
    }
}

/// `reply` 是不是 `sent` 的回声：一模一样，或者是被截断的一段开头（数据报比某一方的缓冲区大）。
/// 空的回复不算截断：缓冲区至少有 1 字节，截不出 0 字节。
fn is_echo_of(reply: &[u8], sent: &[u8]) -> bool {
    reply == sent || (!reply.is_empty() && sent.starts_with(reply))
}

/// 收到了一个不是这一次回声的数据报。
fn stale(reply: &[u8]) -> String {
    format!(
        "（收到“{}”，{} 字节，和这一次发出的内容对不上：多半是之前某个数据报迟到或重复的回复，跳过它，接着等）",
        printable(reply),
        reply.len()
    )
}
// ANCHOR_END: recv_reply

// ANCHOR: report
/// 打印一个回复，格式和教程一样；回复被截断时，再补一行说明。
fn report(reply: &[u8], from: SocketAddr, sent: &[u8]) {
    println!(
        "recv:{} addr:{from} length:{}",
        printable(reply),
        reply.len()
    );
    if reply.len() < sent.len() {
        println!(
            "（回复只有 {} 字节，发出的是 {} 字节：数据报比某一方的接收缓冲区大，多出的部分被悄悄丢掉了）",
            reply.len(),
            sent.len()
        );
    }
}
// ANCHOR_END: report

// ANCHOR: failure
/// 把收发失败变成一行说明。最值得解释的是“连接被拒绝”：UDP 明明没有连接，为什么会被拒绝？
fn failure(addr: &str, err: &std::io::Error, action: &str) -> String {
    if port_unreachable(err) {
        // 数据报到了对方的机器，但那个端口上没有程序在收，对方的系统就回一个
        // ICMP“端口不可达”。套接字 connect 过，系统才能把这个通知交给我们，
        // 在下一次收发时报告成“连接被拒绝”（Windows 上是“连接被重置”，错误 10054）。
        format!(
            "{addr} 上没有程序在接收 UDP 数据报：对方的系统回了一个 ICMP“端口不可达”\
             （系统把它报告为“{}”，但 UDP 其实没有连接）。服务端大概还没启动，\
             请先在另一个终端运行：cargo run --bin lab-udp-server -- --addr {addr}",
            cause(err)
        )
    } else if datagram_too_big(err) {
        // 只在 Windows 上发生：Linux 和 macOS 把放得下的部分交给我们（见 report），不报错
        format!(
            "回复比接收缓冲区大：Windows 把它报告为错误（{}），程序拿不到这个回复。\
             请用 --buf-size 把缓冲区调大再试",
            cause(err)
        )
    } else {
        format!("{action}失败：{}", cause(err))
    }
}
// ANCHOR_END: failure

// ANCHOR: send_lines
/// `--stdin`：每读到一行，就作为一个数据报发送并等待回复，直到输入结束。
async fn send_lines(servers: &[SocketAddr], args: &Args) -> Result<(), String> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut socket = None; // 第一行找到回复的地址之后，一直用它
    loop {
        line.clear();
        let n = stdin
            .read_until(b'\n', &mut line)
            .await
            .map_err(|err| format!("读取输入失败：{}", cause(&err)))?;
        if n == 0 {
            return Ok(()); // 输入结束：Ctrl-D，或者管道里的内容读完了
        }
        // 空行也照样发送：0 字节的数据报是合法的，服务端会收到一个长度为 0 的数据报
        let data = trim_line_end(&line);
        match &socket {
            Some(socket) => exchange(socket, data, args).await?,
            None => socket = Some(first_exchange(servers, data, args).await?),
        }
    }
}
// ANCHOR_END: send_lines

/// 去掉行尾的 `\r` 和 `\n`。
fn trim_line_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| *b != b'\r' && *b != b'\n')
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// 检查 `--buf-size`：至少 1 字节，最多 65536 字节。
fn parse_buf_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(size @ 1..=65536) => Ok(size),
        Ok(_) => Err("缓冲区大小要在 1 到 65536 字节之间".to_string()),
        Err(_) => Err("缓冲区大小要写成一个整数，例如 1024".to_string()),
    }
}

/// 检查 `--reply-timeout`：大于 0、不超过一小时的秒数。
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err("等待时间要大于 0 秒、不超过 3600 秒".to_string()),
        Err(_) => Err("等待时间要写成秒数，例如 1 或 0.5".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 测试用的回声服务端：在 127.0.0.1 的空闲端口上收一个数据报、原样发回。
    async fn echo_once() -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("绑定");
        let addr = socket.local_addr().expect("本地地址");
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            if let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let _ = socket.send_to(&buf[..n], from).await;
            }
        });
        addr
    }

    /// 一个此刻没有程序在接收的地址：绑定一个端口再马上放掉。
    fn nobody_there() -> SocketAddr {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("绑定");
        socket.local_addr().expect("本地地址")
    }

    fn args() -> Args {
        Args::parse_from(["lab-udp-client", "--reply-timeout", "2", "--retries", "0"])
    }

    #[tokio::test]
    async fn first_exchange_moves_on_until_an_address_answers() {
        let answering = echo_once().await;
        let servers = [nobody_there(), nobody_there(), answering];
        let socket = first_exchange(&servers, b"hello", &args())
            .await
            .expect("第三个地址有回声");
        assert_eq!(socket.peer_addr().ok(), Some(answering));
    }

    #[tokio::test]
    async fn first_exchange_reports_the_last_address_when_none_answers() {
        let servers = [nobody_there(), nobody_there()];
        let failure = first_exchange(&servers, b"hello", &args())
            .await
            .expect_err("没有一个地址有回声");
        assert!(failure.contains("上没有程序在接收 UDP 数据报"), "{failure}");
    }

    #[test]
    fn only_this_lines_echo_counts_as_its_reply() {
        assert!(is_echo_of(b"two", b"two"));
        assert!(is_echo_of(b"hello wo", b"hello world")); // 被截断的回声
        assert!(!is_echo_of(b"one", b"two")); // 上一行迟到的回复
        assert!(!is_echo_of(b"", b"two")); // 空行迟到的回复
        assert!(!is_echo_of(b"two!", b"two"));
    }
}
