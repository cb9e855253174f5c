//! 第 3 章 UDP 回声服务端、客户端和“数据报边界”演示的场景。

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::support::*;

const SERVER: &str = "lab-udp-server";
const CLIENT: &str = "lab-udp-client";
const BOUNDARIES: &str = "lab-udp-boundaries";

// ---------------------------------------------------------------- 服务端

/// 一个客户端发几个数据报；服务端按教程的格式记下每一个，并原样发回。
pub async fn server_transcript(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let client = udp_connected(addr).await;
    let me = client.local_addr().expect("本地地址");

    udp_round_trip(&client, b"hello world").await;
    server
        .expect_line(&format!(
            "read from {me} , content is hello world, length = 11"
        ))
        .await;
    udp_round_trip(&client, "你好，世界".as_bytes()).await;
    server
        .expect_line(&format!(
            "read from {me} , content is 你好，世界, length = 15"
        ))
        .await;
    // nc -u 会把回车的换行符一起发过来
    udp_round_trip(&client, "来自 nc 的一行\n".as_bytes()).await;
    server
        .expect_line(&format!(
            "read from {me} , content is 来自 nc 的一行\\n, length = 20"
        ))
        .await;
    // 0 字节的数据报是合法的：服务端收到它、也回一个 0 字节的数据报（TCP 里读到 0 表示对方关闭）
    udp_round_trip(&client, b"").await;
    server
        .expect_line(&format!("read from {me} , content is , length = 0"))
        .await;
    // 不是 UTF-8 的字节和终端控制序列：原样发回，打印时显示成转义
    udp_round_trip(&client, b"\xff\xfe\x1b[2J").await;
    server
        .expect_line(&format!(
            "read from {me} , content is \u{fffd}\u{fffd}\\u{{1b}}[2J, length = 6"
        ))
        .await;
    assert_udp_transcript("udp_server_run", &server.transcript());
}

/// 连发三个数据报、之后才开始收：收回的仍是三个，各自完整，边界没有变。
pub async fn server_keeps_boundaries(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let client = udp_connected(addr).await;
    let me = client.local_addr().expect("本地地址");
    let messages: [&[u8]; 3] = [b"one", b"two", b"three"];
    for message in messages {
        client.send(message).await.expect("发送数据报");
    }
    for message in messages {
        let (echo, from) = udp_recv(&client).await;
        assert!(from == addr, "回复应当来自服务端 {addr}，实际来自 {from}");
        same_bytes(&echo, message, "每次接收应当正好是一个数据报，边界不变。");
    }
    for (text, len) in [("one", 3), ("two", 3), ("three", 5)] {
        server
            .expect_line(&format!(
                "read from {me} , content is {text}, length = {len}"
            ))
            .await;
    }
}

/// `--buf-size 8`：11 字节的数据报只收到前 8 字节，多出的部分悄悄丢掉；下一个数据报不受影响。
///
/// 截断是 Linux 和 macOS 的行为，快照就是在 Linux 上录的。Windows 不截断，而是报错 10040
/// （WSAEMSGSIZE）：服务端说明原因、不回复，接着收下一个。这个差别正是课程要讲的，
/// 所以不用过滤器抹平，而是分开检查。
pub async fn server_truncates_at_buf_size(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &["--buf-size", "8"]).await;
    let client = udp_connected(addr).await;
    let me = client.local_addr().expect("本地地址");

    client.send(b"hello world").await.expect("发送数据报");
    if cfg!(windows) {
        server
            .wait_for_line(|line| {
                line.starts_with("收到一个比缓冲区大的数据报：Windows 把它报告为错误")
            })
            .await;
    } else {
        let (echo, _) = udp_recv(&client).await;
        same_bytes(
            &echo,
            b"hello wo",
            "缓冲区 8 字节时，回声应当只有前 8 字节。",
        );
        server
            .expect_line(&format!("read from {me} , content is hello wo, length = 8"))
            .await;
    }
    // 被丢掉的 "rld" 不会出现在下一次接收里：每个数据报都是独立的
    udp_round_trip(&client, b"short").await;
    server
        .expect_line(&format!("read from {me} , content is short, length = 5"))
        .await;
    if !cfg!(windows) {
        assert_udp_transcript("udp_server_truncation", &server.transcript());
    }
}

/// `--drop 1`：第一个数据报被当作丢了，没有回复；第二个照常回复。
pub async fn server_simulates_loss(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &["--drop", "1"]).await;
    let client = udp_connected(addr).await;
    let me = client.local_addr().expect("本地地址");

    client.send(b"first").await.expect("发送数据报");
    server
        .expect_line(&format!(
            "（演示丢包）丢掉来自 {me} 的 5 字节，不打印也不回复，还要再丢 0 个"
        ))
        .await;
    // 服务端按顺序处理：如果 first 被回复了，它会先于 second 的回声到达
    client.send(b"second").await.expect("发送数据报");
    let (echo, _) = udp_recv(&client).await;
    same_bytes(
        &echo,
        b"second",
        "被丢掉的数据报不该有回复：先到的回声应当是 second。",
    );
    server
        .expect_line(&format!("read from {me} , content is second, length = 6"))
        .await;
    assert_udp_transcript("udp_server_drop", &server.transcript());
}

/// 100 个客户端同时各发 100 个数据报：每个客户端收到的都是自己的回声，而且只有自己的。
pub async fn server_serves_concurrent_clients(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut clients = JoinSet::new();
    for id in 0..100 {
        clients.spawn(async move {
            // 每个客户端一个套接字，只收来自服务端的数据报
            let socket = udp_connected(addr).await;
            for seq in 0..100 {
                let message = format!("客户端 {id} 的第 {seq} 个数据报");
                udp_round_trip(&socket, message.as_bytes()).await;
            }
        });
    }
    while let Some(result) = clients.join_next().await {
        if let Err(err) = result {
            std::panic::resume_unwind(err.into_panic());
        }
    }
}

/// 最大的 UDP 数据报（65,507 字节）在缓冲区足够大时原样往返。
pub async fn server_round_trips_max_datagram(server: &Path) {
    let size = MAX_UDP_PAYLOAD.to_string();
    let (mut server, addr) = start_server(server, SERVER, &["--buf-size", &size]).await;
    let client = udp_connected(addr).await;
    let payload: Vec<u8> = (0..MAX_UDP_PAYLOAD)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    udp_round_trip(&client, &payload).await;
    let line = server.wait_for_line(|line| line.contains("length =")).await;
    assert!(
        line.ends_with(", length = 65507"),
        "服务端应当收到完整的 65507 字节：{}",
        &line[line.len().saturating_sub(40)..]
    );
}

/// 一个客户端发完就走了（回复送不到）；服务端照常为下一个客户端服务。
pub async fn server_survives_vanished_client(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let gone = udp_connected(addr).await;
    let gone_addr = gone.local_addr().expect("本地地址");
    gone.send(b"bye").await.expect("发送数据报");
    drop(gone); // 回复到达时，这个端口已经没人收了，系统会回一个 ICMP“端口不可达”
    server
        .wait_for_line(|line| line.contains(&gone_addr.to_string()))
        .await;
    let steady = udp_connected(addr).await;
    udp_round_trip(&steady, b"still there?").await;
}

/// 端口已被占用：一行中文说明原因和办法，退出码非零。
pub fn server_port_in_use(server: &Path) {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("占一个端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(server, SERVER, &["--addr", &addr], "");
    assert_udp_transcript("udp_server_port_in_use", &transcript);
}

/// `--buf-size` 写错：说明合法的范围，不启动服务端。
pub fn server_rejects_bad_buf_size(server: &Path) {
    let runs: Vec<String> = ["0", "70000", "一千"]
        .iter()
        .map(|size| run_to_exit(server, SERVER, &["--buf-size", size], ""))
        .collect();
    assert_udp_transcript("udp_server_bad_buf_size", &join_transcripts(&runs));
}

// ---------------------------------------------------------------- 客户端

/// 测试里的回声服务端：缓冲区 `buf_size` 字节，把收到的每个数据报（可能被截断）发回去，
/// 并把收到的内容交给返回的通道，测试可以核对客户端到底发了什么。
async fn echo_server(buf_size: usize) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let socket = udp_socket().await;
    let addr = socket.local_addr().expect("本地地址");
    let (sender, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; buf_size];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = sender.send(buf[..n].to_vec());
            if socket.send_to(&buf[..n], from).await.is_err() {
                break;
            }
        }
    });
    (addr, received)
}

/// 服务端收到的数据报应当正好是 `expected`。
fn same_datagrams(got: Vec<String>, expected: &[&str]) {
    if got != expected {
        panic!(
            "服务端收到的数据报不对。\n期望：{}\n实际：{}",
            expected.join(" | "),
            got.join(" | ")
        );
    }
}

/// 在时限内从通道里取出 `count` 个数据报。
async fn take(received: &mut mpsc::UnboundedReceiver<Vec<u8>>, count: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..count {
        match timeout(WAIT, received.recv()).await {
            Ok(Some(datagram)) => got.push(String::from_utf8_lossy(&datagram).into_owned()),
            _ => panic!(
                "期望收到 {count} 个数据报，只收到 {} 个：{}",
                got.len(),
                got.join("、")
            ),
        }
    }
    got
}

/// 在后台线程里运行一次客户端（它会自己结束），返回记录和用时。
async fn run_client(client: &Path, args: &[&str], stdin: &str) -> (String, Duration) {
    let started = Instant::now();
    let transcript = run_to_exit_in_background(client, CLIENT, args, stdin).await;
    (transcript, started.elapsed())
}

/// 默认发送 hello world，打印回复的内容、来源和长度，正常退出。
pub async fn client_transcript(client: &Path) {
    let (addr, mut received) = echo_server(1024).await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr]);
    client.expect_line("size =  1024").await;
    client
        .expect_line(&format!("recv:hello world addr:{addr} length:11"))
        .await;
    let status = client.wait_exit().await;
    assert!(status.success(), "应当正常退出：\n{}", client.transcript());
    same_datagrams(take(&mut received, 1).await, &["hello world"]);
    assert_udp_transcript("udp_client_run", &client.transcript());
}

/// `--stdin`：每行一个数据报（去掉行尾的 \r\n），空行就是 0 字节的数据报。
pub async fn client_sends_each_line(client: &Path) {
    let (addr, mut received) = echo_server(1024).await;
    let addr = addr.to_string();
    let (transcript, _) = run_client(
        client,
        &["--addr", &addr, "--stdin"],
        "第一行\r\n\nsecond\n",
    )
    .await;
    assert_udp_transcript("udp_client_stdin", &transcript);
    same_datagrams(take(&mut received, 3).await, &["第一行", "", "second"]);
}

/// 服务端的缓冲区只有 8 字节：回复被截断，客户端指出少了多少。
///
/// Linux 和 macOS 的行为；Windows 不截断而是报错 10040，见下一个同名函数。
#[cfg(not(windows))]
pub async fn client_notices_truncation(client: &Path) {
    let (addr, mut received) = echo_server(8).await;
    let addr = addr.to_string();
    let (transcript, _) = run_client(client, &["--addr", &addr], "").await;
    assert_udp_transcript("udp_client_truncated", &transcript);
    same_datagrams(take(&mut received, 1).await, &["hello wo"]);
}

/// Windows：回复比客户端的接收缓冲区（`--buf-size 8`）大，Windows 报错 10040，
/// 客户端说明原因和办法（调大 --buf-size），退出码非零。
/// （在 Windows 上，测试自己的回声服务端也收不下比缓冲区大的数据报，所以这里缩小的是客户端的缓冲区。）
#[cfg(windows)]
pub async fn client_notices_truncation(client: &Path) {
    let (addr, mut received) = echo_server(1024).await;
    let addr = addr.to_string();
    let (transcript, _) = run_client(client, &["--addr", &addr, "--buf-size", "8"], "").await;
    assert!(
        transcript.contains("回复比接收缓冲区大：Windows 把它报告为错误"),
        "{transcript}"
    );
    assert!(transcript.ends_with("[退出码 1]"), "{transcript}");
    same_datagrams(take(&mut received, 1).await, &["hello world"]);
}

/// 第一个数据报“丢了”（测试的服务端收下但不回复）：客户端等到时限后重发，第二次收到回复。
pub async fn client_retries_after_loss(client: &Path) {
    let socket = udp_socket().await;
    let addr = socket.local_addr().expect("本地地址").to_string();
    let server = tokio::spawn(async move {
        let (first, _) = udp_recv(&socket).await; // 丢掉第一个
        let (second, from) = udp_recv(&socket).await;
        socket.send_to(&second, from).await.expect("回复");
        (first, second)
    });
    let (transcript, _) = run_client(
        client,
        &["--addr", &addr, "--reply-timeout", "1", "--retries", "2"],
        "",
    )
    .await;
    assert_udp_transcript("udp_client_retry", &transcript);
    let (first, second) = timeout(WAIT, server)
        .await
        .expect("等服务端")
        .expect("服务端");
    same_bytes(&first, b"hello world", "第一次发出的数据报不对。");
    same_bytes(&second, b"hello world", "重发的应当是同一个数据报。");
}

/// 回复迟到又重复：第一行的数据报“丢了”（测试的服务端收下不回），客户端重发后，服务端把两份回复都发了回来，
/// 其中一份已经是迟到的。客户端应当只把和这一行一样的回声当作回复，跳过迟到的那一份：
/// 每一行都收到自己的回声，而不是从第二行起每行都显示上一行的回复。
pub async fn client_matches_each_line_to_its_own_reply(client: &Path) {
    let socket = udp_socket().await;
    let addr = socket.local_addr().expect("本地地址").to_string();
    let server = tokio::spawn(async move {
        let mut received = Vec::new();
        let (first, _) = udp_recv(&socket).await; // 不回复：假装回复在路上耽搁了
        received.push(first);
        let (again, from) = udp_recv(&socket).await; // 客户端等不及，重发了同一行
        received.push(again.clone());
        // 迟到的那份回复和重发换来的回复一起到达：客户端会收到两个 one
        for _ in 0..2 {
            socket.send_to(&again, from).await.expect("回复");
        }
        for _ in 0..2 {
            let (datagram, from) = udp_recv(&socket).await;
            socket.send_to(&datagram, from).await.expect("回复");
            received.push(datagram);
        }
        received
    });
    let (transcript, _) = run_client(
        client,
        &["--addr", &addr, "--stdin", "--reply-timeout", "0.5"],
        "one\ntwo\nthree\n",
    )
    .await;
    let replies: Vec<&str> = transcript
        .lines()
        .filter_map(|line| line.strip_prefix("recv:"))
        .filter_map(|rest| rest.split(" addr:").next())
        .collect();
    assert!(
        replies == ["one", "two", "three"],
        "每一行都应当收到自己的回声（one、two、three），实际打印的回复依次是 {replies:?}：\n{transcript}"
    );
    assert_udp_transcript("udp_client_late_reply", &transcript);
    let received = timeout(WAIT, server)
        .await
        .expect("等服务端")
        .expect("服务端");
    let received: Vec<String> = received
        .iter()
        .map(|datagram| String::from_utf8_lossy(datagram).into_owned())
        .collect();
    same_datagrams(received, &["one", "one", "two", "three"]);
}

/// `--addr localhost:PORT`：一个名字可能解析出好几个地址，很多系统上 localhost 先是 ::1、再是 127.0.0.1。
/// 测试的服务端放在这台机器把 localhost 解析出的**最后一个**（能用的）地址上，不管解析的顺序如何，
/// 客户端都要像 TCP 的 connect 那样依次试每个地址，才能找到它。
/// （这台机器只解析出一个地址时，这个测试只检查那一个；依次试的逻辑另有 labs/udp/client.rs 里的单元测试。）
pub async fn client_tries_every_address_of_a_name(client: &Path) {
    let found: Vec<SocketAddr> = tokio::net::lookup_host("localhost:0")
        .await
        .expect("解析 localhost")
        .collect();
    // 从后往前找第一个能绑定的地址：有的系统把 ::1 写进了 hosts，却关掉了 IPv6
    let mut usable = None;
    for addr in found.iter().rev() {
        if let Ok(socket) = tokio::net::UdpSocket::bind((addr.ip(), 0)).await {
            usable = Some((*addr, socket));
            break;
        }
    }
    let (last, socket) = usable.expect("localhost 解析出的地址里至少有一个能绑定 UDP 套接字");
    let port = socket.local_addr().expect("本地地址").port();
    let server = tokio::spawn(async move {
        let (datagram, from) = udp_recv(&socket).await;
        socket.send_to(&datagram, from).await.expect("回复");
        datagram
    });
    let name = format!("localhost:{port}");
    let (transcript, _) = run_client(
        client,
        &["--addr", &name, "--reply-timeout", "0.5", "--retries", "1"],
        "",
    )
    .await;
    let expected = format!(
        "recv:hello world addr:{} length:11",
        SocketAddr::new(last.ip(), port)
    );
    assert!(
        transcript.lines().any(|line| line == expected) && transcript.ends_with("[退出码 0]"),
        "localhost 解析出 {found:?}，服务端在最后一个地址的 {port} 端口上；\
         客户端应当依次试每个地址，打印“{expected}”并正常退出，实际：\n{transcript}"
    );
    let datagram = timeout(WAIT, server)
        .await
        .expect("等服务端")
        .expect("服务端");
    same_bytes(&datagram, b"hello world", "服务端收到的数据报不对。");
}

/// 服务端在（端口有人占着），但从不回复：客户端发 1 + 2 次、每次等 0.2 秒，然后说明原因、非零退出。
pub async fn client_gives_up_without_reply(client: &Path) {
    let silent = udp_socket().await;
    let addr = silent.local_addr().expect("本地地址").to_string();
    let (transcript, elapsed) = run_client(
        client,
        &["--addr", &addr, "--reply-timeout", "0.2", "--retries", "2"],
        "",
    )
    .await;
    assert_udp_transcript("udp_client_no_reply", &transcript);
    assert!(
        elapsed >= Duration::from_millis(600),
        "三次、每次 0.2 秒，至少要等 0.6 秒，实际只用了 {elapsed:?}"
    );
    assert!(elapsed < WAIT, "应当在时限内放弃，实际用了 {elapsed:?}");
    for _ in 0..3 {
        let (datagram, _) = udp_recv(&silent).await;
        same_bytes(
            &datagram,
            b"hello world",
            "每次重发的都应当是同一个数据报。",
        );
    }
}

/// 那个端口上根本没有程序：对方系统回 ICMP“端口不可达”，客户端解释它，而不是干等或甩出原始错误。
pub async fn client_explains_port_unreachable(client: &Path) {
    let addr = unused_udp_address().to_string();
    let (transcript, _) = run_client(client, &["--addr", &addr], "").await;
    if cfg!(windows) {
        // Windows 把“端口不可达”报告成“连接被重置”（10054），不是快照里 Linux 的“连接被拒绝”：
        // 这个差别书里要讲，不能用过滤器抹平。说明本身和退出码各个系统都一样
        assert!(
            transcript.contains(&format!("{addr} 上没有程序在接收 UDP 数据报：对方的系统回了一个 ICMP“端口不可达”（系统把它报告为“连接被对方重置（")),
            "{transcript}"
        );
        assert!(transcript.ends_with("[退出码 1]"), "{transcript}");
    } else {
        assert_udp_transcript("udp_client_refused", &transcript);
    }
}

/// 写错的参数：每种都有一行中文说明，退出码非零，也不会发出任何数据报。
pub async fn client_rejects_bad_input(client: &Path) {
    let (addr, mut received) = echo_server(1024).await;
    let addr = addr.to_string();
    let mut runs = Vec::new();
    for args in [
        vec!["--addr", "nonsense"],
        vec!["--addr", "::1:8080"],
        vec!["--addr", &addr, "--reply-timeout", "0"],
        vec!["--addr", &addr, "--reply-timeout", "soon"],
        vec!["--addr", &addr, "--buf-size", "0"],
        vec!["--addr", &addr, "--message", "hi", "--stdin"],
    ] {
        runs.push(run_client(client, &args, "").await.0);
    }
    assert_udp_transcript("udp_client_bad_input", &join_transcripts(&runs));

    // 超过 65,507 字节的内容装不进一个数据报：事先说明，而不是让系统报一个英文错误。
    // 内容从标准输入给：Windows 的命令行最长 32,767 个字符，放不下这么长的 --message
    let too_big = "x".repeat(MAX_UDP_PAYLOAD + 1);
    let (transcript, _) = run_client(
        client,
        &["--addr", &addr, "--stdin"],
        &format!("{too_big}\n"),
    )
    .await;
    assert!(
        transcript.contains("要发送的内容有 65508 字节，超过了一个 UDP 数据报的上限 65507 字节")
            && transcript.ends_with("[退出码 1]"),
        "{}",
        &transcript[transcript.len().saturating_sub(300)..]
    );
    assert!(
        received.try_recv().is_err(),
        "参数有错时不应当发出任何数据报"
    );
}

// ---------------------------------------------------------------- 压测工具的 udp 模式

/// `lab-tcp-bench udp --baseline …`：在同一次运行里轮流测两个回声服务端，报告每一轮的比例和中位数。
/// 只量 1 秒、1 轮，检查它能跑完、说的话对；速度本身不在测试里检查（见附录 A）。
pub async fn bench_udp_compares_two_servers(bench: &Path) {
    let (first, _) = echo_server(1024).await;
    let (second, _) = echo_server(1024).await;
    let (first, second) = (first.to_string(), second.to_string());
    let args = [
        "udp",
        "--addr",
        &first,
        "--baseline",
        &second,
        "--clients",
        "2",
        "--secs",
        "1",
        "--rounds",
        "1",
    ];
    let transcript = run_to_exit_in_background(bench, "lab-tcp-bench", &args, "").await;
    for expected in [
        "UDP 乒乓：2 个客户端，数据报 64 字节".to_string(),
        format!("第 1 轮：{first} "),
        format!("{second} 的中位数："),
        format!("每秒往返次数之比 {first} / {second}：中位数 "),
        "[退出码 0]".to_string(),
    ] {
        assert!(
            transcript.contains(&expected),
            "压测工具的输出里应当有“{expected}”：\n{transcript}"
        );
    }
}

/// 服务端没有运行：`udp` 模式用一行中文说明，给出启动服务端的命令，退出码非零。
pub async fn bench_udp_without_server(bench: &Path) {
    let addr = unused_udp_address().to_string();
    let args = ["udp", "--addr", &addr, "--secs", "1"];
    let transcript = run_to_exit_in_background(bench, "lab-tcp-bench", &args, "").await;
    assert!(
        transcript.contains(&format!("{addr} 上没有程序在接收 UDP 数据报"))
            && transcript.contains("lab-udp-server --addr")
            && transcript.ends_with("[退出码 1]"),
        "{transcript}"
    );
}

// ---------------------------------------------------------------- 数据报的边界

/// UDP 连发三个、收三次；TCP 连写三次，一次读完。
pub fn boundaries_transcript(boundaries: &Path) {
    let transcript = run_to_exit(boundaries, BOUNDARIES, &["one", "two", "three"], "");
    assert_udp_transcript("udp_boundaries", &transcript);
}

/// 确认一下 65,507 这个上限：多一个字节，系统就拒绝发送。
pub async fn kernel_refuses_oversized_datagram() {
    let receiver = udp_socket().await;
    let sender = udp_connected(receiver.local_addr().expect("本地地址")).await;
    let sent = sender.send(&vec![0u8; MAX_UDP_PAYLOAD]).await;
    assert_eq!(sent.ok(), Some(MAX_UDP_PAYLOAD));
    let oversized = sender.send(&vec![0u8; MAX_UDP_PAYLOAD + 1]).await;
    assert!(
        oversized.is_err(),
        "65508 字节不应当能装进一个 IPv4 UDP 数据报"
    );
}
