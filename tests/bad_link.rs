//! 第 6.1 节：坏链路（labs/life/bad_link.rs）。全部在回环地址上进行，每次等待都有时限。

mod support;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{
    Program, WAIT, accept, assert_transcript, assert_udp_transcript, connect, join_transcripts,
    read_exactly, run_to_exit, run_to_exit_in_background, same_bytes, start_server, test_listener,
    udp_recv, udp_socket, unused_address,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

fn bad_link() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-bad-link"))
}

const NAME: &str = "lab-bad-link";

/// 启动坏链路（监听 127.0.0.1:0），转发到 `to`；第一行除了地址，还要列出全部设置。
async fn start_link(to: SocketAddr, extra: &[&str]) -> (Program, SocketAddr) {
    let to = to.to_string();
    let mut args = vec!["--to", to.as_str()];
    args.extend_from_slice(extra);
    let (link, addr) = start_server(bad_link(), NAME, &args).await;
    let transcript = link.transcript();
    let first = transcript.lines().nth(1).unwrap_or_default(); // 第 0 行是命令
    assert!(
        first.contains("；坏链路：种子 "),
        "第一行应当列出设置：{first}"
    );
    (link, addr)
}

/// 等坏链路输出满足 `wanted` 的一行。
async fn wait_for(link: &mut Program, wanted: &str) -> String {
    link.wait_for_line(|line| line.contains(wanted)).await
}

// ---------------------------------------------------------------- UDP

/// 第 3 章的客户端隔着 30% 丢包（两个方向都丢）：每行都拿到了回声，丢掉的靠重发补上。
/// 种子 7 让一个请求（three）和一个回复（four）在路上丢了，书里的记录就是这一次。
#[tokio::test]
async fn udp_client_survives_30_percent_loss() {
    let (mut server, server_addr) = start_server(
        Path::new(env!("CARGO_BIN_EXE_lab-udp-server")),
        "lab-udp-server",
        &[],
    )
    .await;
    let (mut link, link_addr) =
        start_link(server_addr, &["--udp", "--loss", "30", "--seed", "7"]).await;
    let link_text = link_addr.to_string();
    let client = run_to_exit_in_background(
        Path::new(env!("CARGO_BIN_EXE_lab-udp-client")),
        "lab-udp-client",
        &[
            "--addr",
            &link_text,
            "--stdin",
            "--retries",
            "4",
            // 等回复的时限宽一些：机器很忙时回声也可能慢过半秒，那样多出一次重发，记录就变了
            "--reply-timeout",
            "2",
        ],
        "one\ntwo\nthree\nfour\nfive\n",
    )
    .await;
    assert!(
        client.ends_with("[退出码 0]"),
        "每行都应当拿到回声：\n{client}"
    );
    for word in ["one", "two", "three", "four", "five"] {
        assert!(
            client.contains(&format!("recv:{word} addr:")),
            "{word} 没有回声：\n{client}"
        );
    }
    let retries = client.matches("重发（第").count();
    assert!(retries > 0, "30% 丢包下应当有重发：\n{client}");
    // 客户端发出的每个数据报（5 行 + 重发）坏链路都做了决定；服务端回复每个送到的数据报，也都做了决定
    let sent = 5 + retries;
    let (mut up, mut forwarded, mut down) = (0, 0, 0);
    while up < sent || down < forwarded {
        let line = link.next_line().await;
        if line.contains(" → ") {
            up += 1;
            forwarded += usize::from(line.ends_with("：转发"));
        } else if line.contains(" ← ") {
            down += 1;
        }
    }
    assert_udp_transcript(
        "bad_link_udp_loss",
        &join_transcripts(&[client, link.transcript()]),
    );
    server.kill().await;
}

/// 从测试的套接字发 20 个数据报穿过坏链路（服务端只收不回），返回坏链路对它们的 20 个决定。
async fn udp_decisions(seed: &str) -> String {
    let receiver = udp_socket().await;
    let to = receiver.local_addr().expect("本地地址");
    let args = [
        "--udp",
        "--loss",
        "20",
        "--dup",
        "20",
        "--reorder",
        "20",
        "--seed",
        seed,
    ];
    let (mut link, link_addr) = start_link(to, &args).await;
    let sender = udp_socket().await;
    for i in 1..=20 {
        let data = format!("数据报 {i}");
        timeout(WAIT, sender.send_to(data.as_bytes(), link_addr))
            .await
            .expect("发送超时")
            .expect("发送");
        // 等坏链路对这一个做出决定再发下一个：顺序就是发送的顺序
        wait_for(&mut link, &format!(" → 第 {i} 个数据报")).await;
    }
    link.transcript()
}

/// 同一个种子，同样的决定；换一个种子，决定就不同。
#[tokio::test]
async fn the_same_seed_makes_the_same_decisions() {
    let first = udp_decisions("7").await;
    let again = udp_decisions("7").await;
    let other = udp_decisions("8").await;
    let decisions = |transcript: &str| -> Vec<String> {
        transcript
            .lines()
            .filter(|line| line.contains(" → "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        decisions(&first),
        decisions(&again),
        "同一个种子，决定应当一样"
    );
    assert_ne!(
        decisions(&first),
        decisions(&other),
        "种子 7 和 8 的决定不应当完全一样"
    );
    assert_udp_transcript("bad_link_udp_decisions", &first);
}

/// 丢掉、发两次、扣下再补发：测试自己当服务端，核对真正收到了什么。
#[tokio::test]
async fn udp_datagrams_arrive_as_decided() {
    let receiver = udp_socket().await;
    let to = receiver.local_addr().expect("本地地址");
    let args = [
        "--udp",
        "--loss",
        "20",
        "--dup",
        "20",
        "--reorder",
        "20",
        "--seed",
        "7",
    ];
    let (mut link, link_addr) = start_link(to, &args).await;
    let sender = udp_socket().await;
    let mut expected = Vec::new();
    let mut held = None;
    for i in 1..=20 {
        let data = format!("数据报 {i}");
        sender
            .send_to(data.as_bytes(), link_addr)
            .await
            .expect("发送");
        let line = wait_for(&mut link, &format!(" → 第 {i} 个数据报")).await;
        let decision = line
            .rsplit_once('：')
            .map(|(_, what)| what)
            .unwrap_or_default();
        if decision.starts_with("转发") {
            expected.push(data);
        } else if decision.starts_with("发两次") {
            expected.push(data.clone());
            expected.push(data);
        } else if decision.starts_with("扣下") {
            held = Some(data);
        }
        if decision.contains("随后补发") {
            expected.push(held.take().expect("先扣下了一个"));
        }
    }
    for want in &expected {
        let (got, _) = udp_recv(&receiver).await;
        same_bytes(
            &got,
            want.as_bytes(),
            "服务端收到的数据报和坏链路的决定对不上",
        );
    }
    // 决定里没有的数据报一个也不该多出来（例如多发了一次）。坏链路在说出决定之前就已经把数据报发出去了，
    // 再等 300 毫秒足够让多出来的那个也到达回环地址
    let mut buf = [0u8; 1024];
    if let Ok(extra) = timeout(Duration::from_millis(300), receiver.recv_from(&mut buf)).await {
        let (n, _) = extra.expect("接收");
        panic!(
            "按坏链路的决定收齐了 {} 个数据报，之后又多收到一个：{}",
            expected.len(),
            support::shown(&buf[..n])
        );
    }
}

// ---------------------------------------------------------------- TCP：切碎、延迟、丢包

/// 黏包一节的长度前缀协议穿过随机切碎的链路：每条消息照样完整。
#[tokio::test]
async fn framed_messages_survive_random_splits() {
    let (mut server, server_addr) = start_server(
        Path::new(env!("CARGO_BIN_EXE_lab-sticky-server")),
        "lab-sticky-server",
        &["--framed"],
    )
    .await;
    let (mut link, link_addr) = start_link(server_addr, &["--split", "--seed", "3"]).await;
    let client = run_to_exit_in_background(
        Path::new(env!("CARGO_BIN_EXE_lab-sticky-client")),
        "lab-sticky-client",
        &["--addr", &link_addr.to_string(), "--framed"],
        "",
    )
    .await;
    let closed = server
        .wait_for_line(|line| line.contains("已关闭连接"))
        .await;
    assert!(
        closed.ends_with("一共收到 20 条消息"),
        "{}",
        server.transcript()
    );
    wait_for(&mut link, "连接 #1 结束").await;
    assert_transcript(
        "bad_link_sticky_framed",
        &join_transcripts(&[client, link.transcript(), server.transcript()]),
    );
}

/// 教程里不分帧的服务端穿过同样的链路：它把每次读到的当成一条消息，总有一次读到的不是整条。
/// 切在哪里取决于每次读到多少，不能录成快照，只检查这个性质和字节总数。
#[tokio::test]
async fn unframed_messages_are_cut_by_random_splits() {
    let (mut server, server_addr) = start_server(
        Path::new(env!("CARGO_BIN_EXE_lab-sticky-server")),
        "lab-sticky-server",
        &["--eager"],
    )
    .await;
    let (_link, link_addr) = start_link(server_addr, &["--split", "--seed", "3"]).await;
    run_to_exit_in_background(
        Path::new(env!("CARGO_BIN_EXE_lab-sticky-client")),
        "lab-sticky-client",
        &["--addr", &link_addr.to_string()],
        "",
    )
    .await;
    server
        .wait_for_line(|line| line.contains("已关闭连接"))
        .await;
    let transcript = server.transcript();
    let reads: Vec<&str> = transcript
        .lines()
        .filter_map(|line| line.strip_prefix("收到client端发来的数据： "))
        .collect();
    let message = "Hello, Hello. How are you?";
    assert_eq!(
        reads.concat(),
        message.repeat(20),
        "字节一个不少、顺序不变：\n{transcript}"
    );
    assert!(
        reads.iter().any(|read| read.len() % message.len() != 0),
        "随机切碎之后，总有一次读到的不是整数条消息：\n{transcript}"
    );
}

/// 1 MiB 穿过延迟、抖动、切碎和（按重传处理的）丢包，原样、按顺序回来。
#[tokio::test]
async fn one_mib_survives_delay_splits_and_tcp_loss() {
    let (_server, server_addr) = start_server(
        Path::new(env!("CARGO_BIN_EXE_lab-tcp-server")),
        "lab-tcp-server",
        &[],
    )
    .await;
    let extra = [
        "--delay", "20", "--jitter", "10", "--split", "--loss", "5", "--seed", "2",
    ];
    let (mut link, link_addr) = start_link(server_addr, &extra).await;
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 + i / 251) as u8).collect();
    let stream = connect(link_addr).await;
    let (mut reader, mut writer) = stream.into_split();
    let sending = data.clone();
    let writing = tokio::spawn(async move {
        writer.write_all(&sending).await.expect("发送 1 MiB");
        writer.shutdown().await.expect("半关闭");
    });
    let mut echo = Vec::new();
    let read = timeout(WAIT * 3, reader.read_to_end(&mut echo)).await;
    assert!(matches!(read, Ok(Ok(_))), "没有在时限内读完回声：{read:?}");
    writing.await.expect("发送的任务");
    same_bytes(&echo, &data, "1 MiB 的回声和发出的不一样");
    link.expect_line(&format!(
        "连接 #1：{} 连上来了",
        reader.local_addr().expect("本地地址")
    ))
    .await;
    link.expect_line("连接 #1 结束：客户端→服务端 1048576 字节，服务端→客户端 1048576 字节")
        .await;
    assert_transcript("bad_link_tcp_loss", &link.transcript());
}

/// `--rate`：400,000 字节在每秒 400,000 字节的链路上至少要走 1 秒（只检查下限）。
#[tokio::test]
async fn rate_limits_the_transfer() {
    let (_server, server_addr) = start_server(
        Path::new(env!("CARGO_BIN_EXE_lab-tcp-server")),
        "lab-tcp-server",
        &[],
    )
    .await;
    let (_link, link_addr) = start_link(server_addr, &["--rate", "400000"]).await;
    let data = vec![b'x'; 400_000];
    let mut stream = connect(link_addr).await;
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let (written, echo) = tokio::join!(
        timeout(WAIT, writer.write_all(&data)),
        timeout(WAIT, async {
            let mut echo = vec![0u8; data.len()];
            reader.read_exact(&mut echo).await.map(|_| echo)
        })
    );
    written.expect("发送超时").expect("发送");
    let echo = echo.expect("回声超时").expect("读回声");
    let elapsed = started.elapsed();
    same_bytes(&echo, &data, "限速之后的回声和发出的不一样");
    assert!(
        elapsed >= Duration::from_secs(1),
        "400,000 字节以每秒 400,000 字节的速度至少要 1 秒，实际只用了 {elapsed:?}"
    );
}

// ---------------------------------------------------------------- 拔网线、重置、服务端不在

/// `--stall-after`：到点之后什么也过不去，但连接还开着（读不到 FIN，也没有 RST）。
#[tokio::test]
async fn stall_keeps_the_connection_open_but_silent() {
    let (listener, upstream_addr) = test_listener().await;
    // 坏链路从接受连接起计时，停下之前的一来一回必须在这段时间里做完
    let stall_after = Duration::from_secs(5);
    let (mut link, link_addr) = start_link(upstream_addr, &["--stall-after", "5"]).await;
    let mut client = connect(link_addr).await;
    let mut upstream = accept(&listener).await;
    // 停下之前，两个方向都通。要是机器忙到 5 秒内做不完这一来一回，坏链路已经停了，明说出来
    let exchange = async {
        client.write_all(b"before").await.expect("发送");
        same_bytes(
            &read_exactly(&mut upstream, 6).await,
            b"before",
            "停下之前应当转发",
        );
        upstream.write_all(b"reply").await.expect("发送");
        same_bytes(
            &read_exactly(&mut client, 5).await,
            b"reply",
            "停下之前应当转发",
        );
    };
    if timeout(stall_after, exchange).await.is_err() {
        panic!(
            "{stall_after:?} 内没能做完停下之前的一来一回（机器太忙？），坏链路已经到点停止转发了。\n记录：\n{}",
            link.transcript()
        );
    }
    wait_for(&mut link, "停止转发").await;
    // 停下之后：两边发的都过不去，也没有谁看到连接结束
    client
        .write_all(b"after")
        .await
        .expect("连接还开着，发送照样成功");
    upstream
        .write_all(b"after")
        .await
        .expect("连接还开着，发送照样成功");
    let mut buf = [0u8; 16];
    for (who, stream) in [("客户端", &mut client), ("服务端", &mut upstream)] {
        match timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Err(_) => {} // 等满 1 秒什么也没有：这正是“拔了网线”的样子
            Ok(Ok(0)) => panic!("{who}读到了连接结束（FIN），连接应当还开着"),
            Ok(Ok(n)) => panic!("{who}在停止转发之后还收到了 {n} 字节"),
            Ok(Err(err)) => panic!("{who}的连接出错了（{err}），应当还开着"),
        }
    }
}

/// `--reset-after 1000`：服务端正好收到 1000 字节，然后两边都被重置。
#[tokio::test]
async fn reset_after_resets_both_sides() {
    let (listener, upstream_addr) = test_listener().await;
    let (mut link, link_addr) = start_link(upstream_addr, &["--reset-after", "1000"]).await;
    let mut client = connect(link_addr).await;
    let mut upstream = accept(&listener).await;
    client.write_all(&[b'a'; 3000]).await.expect("发送");
    // 服务端：收到的字节，直到连接结束
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let upstream_end = loop {
        match timeout(WAIT, upstream.read(&mut buf))
            .await
            .expect("服务端等连接结束超时")
        {
            Ok(0) => break None,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err) => break Some(err.kind()),
        }
    };
    // Linux 先交出已经收到的数据，再报告 RST；别的系统可能丢掉没读的数据，所以那里只要求不多于 1000 字节
    if cfg!(target_os = "linux") {
        assert_eq!(received.len(), 1000, "服务端应当正好收到 1000 字节");
    }
    assert!(received.len() <= 1000 && received.iter().all(|b| *b == b'a'));
    assert_eq!(
        upstream_end,
        Some(ErrorKind::ConnectionReset),
        "服务端应当看到连接被重置"
    );
    let client_end = timeout(WAIT, client.read(&mut buf))
        .await
        .expect("客户端等连接结束超时");
    assert!(
        matches!(&client_end, Err(err) if err.kind() == ErrorKind::ConnectionReset),
        "客户端应当看到连接被重置，实际是 {client_end:?}"
    );
    wait_for(&mut link, "重置（RST）两边的连接").await;
    assert_transcript("bad_link_reset", &link.transcript());
}

/// 服务端没在运行：每个连接说一行原因、关掉客户端的连接，坏链路自己接着运行。
#[tokio::test]
async fn missing_upstream_is_reported_per_connection() {
    let (mut link, link_addr) = start_link(unused_address(), &[]).await;
    for number in 1..=2 {
        let mut client = connect(link_addr).await;
        support::expect_closed(&mut client, "服务端不在，坏链路应当关掉客户端的连接").await;
        wait_for(&mut link, &format!("连接 #{number}：无法连接到")).await;
    }
    assert_transcript("bad_link_no_upstream", &link.transcript());
}

/// 写错的参数：一行中文说明，退出码 2。
#[test]
fn bad_arguments_are_explained() {
    let runs: Vec<String> = [
        &["--loss", "150"][..],
        &["--rate", "0"],
        &["--dup", "10"],
        &["--udp", "--split"],
        &["--loss", "100"],
        &["--delay", "10", "--jitter", "50"],
    ]
    .iter()
    .map(|args| run_to_exit(bad_link(), NAME, args, ""))
    .collect();
    for run in &runs {
        assert!(run.ends_with("[退出码 2]"), "{run}");
    }
    assert_transcript("bad_link_bad_arguments", &join_transcripts(&runs));
}

// ---------------------------------------------------------------- 真的丢包：两台主机之间

#[path = "support/netns.rs"]
mod netns;

/// 告诉子进程（在主机 B 里运行的测试程序自己）去连哪里。
const LOSSY_CLIENT: &str = "SOCKET_WORKBOOK_LOSSY_CLIENT";
/// 子进程收完回声后打印的一行（后面跟着主机 B 一共重传了多少个 TCP 报文段）。
const LOSSY_DONE: &str = "1 MiB 的回声完整无误，主机 B 重传的 TCP 报文段：";

/// 坏链路只能在 TCP 之上做手脚。这里把包丢在 TCP 底下：主机 A 的防火墙随机丢掉 10% 发进来的包
/// （`numgen random mod 100 < 10 drop`），主机 B 发 1 MiB 给主机 A 上的回声服务端。
/// TCP 重传丢掉的报文段，回声照样一字不差；主机 B 的重传计数证明确实丢过包。不检查用了多久。
/// 需要 root、ip 和 nft，不满足时打印一行原因、直接通过（见 tests/support/netns.rs）。
#[tokio::test]
async fn real_loss_under_tcp_is_repaired_by_retransmission() {
    let Some(lan) = netns::lan_with_firewall_or_skip() else {
        return;
    };
    lan.nft_on_a(
        "add table inet lossy; \
         add chain inet lossy input { type filter hook input priority 0; policy accept; }; \
         add rule inet lossy input tcp dport 20000 numgen random mod 100 < 10 drop",
    );
    let server_path = Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"));
    let mut server = lan.start_on_a(server_path, "lab-tcp-server", &["--addr", "0.0.0.0:20000"]);
    server
        .wait_for_line(|line| line.starts_with("正在监听"))
        .await;
    let job = format!("{LOSSY_CLIENT}={}:20000", netns::A_V4);
    let mut prefix = lan.on_b().to_vec();
    prefix.extend(["env", job.as_str()]);
    let helper = std::env::current_exe().expect("测试程序的路径");
    let args = ["lossy_client_helper", "--exact", "--ignored", "--nocapture"];
    let mut client = Program::start_with_prefix(&prefix, &helper, "主机 B 上的客户端", &args);
    // 1 MiB 穿过 10% 丢包要靠许多次重传，机器忙时可能要几十秒：给它一个单独的、宽的时限
    client.wait_exit_for(Duration::from_secs(60)).await;
    let transcript = client.transcript();
    let Some(done) = transcript
        .lines()
        .find_map(|line| line.strip_prefix(LOSSY_DONE))
    else {
        let end = server
            .wait_for_line(|line| line.contains("已关闭连接") || line.contains("失败"))
            .await;
        panic!("主机 B 上的客户端没有收完回声。\n服务端说：{end}\n客户端的记录：\n{transcript}");
    };
    let retransmitted: u64 = done.trim().parse().expect("重传计数");
    assert!(
        retransmitted > 0,
        "丢了 10% 的包，主机 B 应当重传过：{done}"
    );
}

/// 不是独立的测试：上面的测试在主机 B 里再启动一次测试程序，让它扮演客户端。
/// 平常运行时（没有设置环境变量）它什么也不做。
#[test]
#[ignore = "由 real_loss_under_tcp_is_repaired_by_retransmission 在主机 B 里运行"]
fn lossy_client_helper() {
    use std::io::{Read, Write};
    let Ok(addr) = std::env::var(LOSSY_CLIENT) else {
        return;
    };
    let addr: SocketAddr = addr.parse().expect("地址");
    let mut conn = std::net::TcpStream::connect_timeout(&addr, WAIT).expect("连接主机 A");
    conn.set_read_timeout(Some(WAIT)).expect("设置读取时限");
    let data: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let mut writer = conn.try_clone().expect("复制套接字");
    let sending = data.clone();
    let writing = std::thread::spawn(move || {
        writer.write_all(&sending).expect("发送 1 MiB");
        writer.shutdown(std::net::Shutdown::Write).expect("半关闭");
    });
    let mut echo = Vec::new();
    conn.read_to_end(&mut echo).expect("读回声");
    writing.join().expect("发送的线程");
    same_bytes(&echo, &data, "丢包之后的回声和发出的不一样");
    println!("{LOSSY_DONE}{}", tcp_retransmissions());
}

/// 这台主机（网络命名空间）的 TCP 一共重传了多少个报文段：/proc/net/snmp 里 Tcp 那两行的 RetransSegs。
fn tcp_retransmissions() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").expect("读 /proc/net/snmp");
    let tcp: Vec<Vec<&str>> = snmp
        .lines()
        .filter(|line| line.starts_with("Tcp:"))
        .map(|line| line.split_whitespace().collect())
        .collect();
    let column = tcp[0]
        .iter()
        .position(|name| *name == "RetransSegs")
        .expect("RetransSegs 一列");
    tcp[1][column].parse().expect("重传计数是数字")
}
