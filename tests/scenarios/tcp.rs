//! 第 2 章 TCP 回声服务端和客户端的场景。

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::support::*;

const SERVER: &str = "lab-tcp-server";
const CLIENT: &str = "lab-tcp-client";

// ---------------------------------------------------------------- 服务端

/// 一个客户端连上来，发几条消息再离开；服务端的输出被完整地记录下来。
pub async fn server_transcript(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;

    for message in ["hello", "你好，世界"] {
        server.note(format!("客户端发送 {message:?}，等待同样的回声"));
        echo_round_trip(&mut client, message.as_bytes()).await;
        server
            .expect_line(&format!("收到client端发来的数据： {message}"))
            .await;
    }

    // nc 会把回车的换行符一起发过来；服务端把它显示成 \n
    server.note("客户端发送 \"来自 nc 的一行\\n\"，等待同样的回声");
    echo_round_trip(&mut client, "来自 nc 的一行\n".as_bytes()).await;
    server
        .expect_line("收到client端发来的数据： 来自 nc 的一行\\n")
        .await;

    // 300 字节一次发出，服务端每次最多读 128 字节：一条消息被读成了三块
    let long = "0123456789".repeat(30);
    server.note("客户端一次发送 300 字节（\"0123456789\" 重复 30 次），等待同样的回声");
    echo_round_trip(&mut client, long.as_bytes()).await;
    for chunk in [&long[..128], &long[128..256], &long[256..]] {
        server
            .expect_line(&format!("收到client端发来的数据： {chunk}"))
            .await;
    }

    // 不是 UTF-8 的字节和终端控制序列（ESC [2J 会清屏）：原样发回，打印时显示成转义
    server.note("客户端发送字节 ff fe 1b 5b 32 4a（两个非法 UTF-8 字节和清屏序列 ESC [2J）");
    echo_round_trip(&mut client, b"\xff\xfe\x1b[2J").await;
    server
        .expect_line("收到client端发来的数据： \u{fffd}\u{fffd}\\u{1b}[2J")
        .await;

    server.note("客户端关闭连接");
    drop(client);
    server.expect_line(&format!("客户端 {me} 已关闭连接")).await;
    assert_transcript("tcp_server_run", &server.transcript());
}

/// 50 个客户端同时连上来，各发 20 条消息，每个都只收到自己的回声。
pub async fn server_serves_concurrent_clients(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut clients = JoinSet::new();
    for id in 0..50 {
        clients.spawn(async move {
            let mut stream = connect(addr).await;
            for seq in 0..20 {
                let message = format!("客户端 {id} 的第 {seq} 条消息");
                echo_round_trip(&mut stream, message.as_bytes()).await;
            }
        });
    }
    while let Some(result) = clients.join_next().await {
        if let Err(err) = result {
            std::panic::resume_unwind(err.into_panic());
        }
    }
}

/// 一个客户端突然重置连接（RST），服务端报告它，其他客户端照常收发，新客户端也能连上。
pub async fn server_survives_reset(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let mut steady = connect(addr).await;
    echo_round_trip(&mut steady, b"before").await;

    let mut rude = connect(addr).await;
    let rude_addr = rude.local_addr().expect("本地地址");
    echo_round_trip(&mut rude, b"half a mess").await;
    // SO_LINGER 设为 0 再关闭：内核发出 RST，而不是正常的 FIN
    rude.set_zero_linger().expect("设置 SO_LINGER");
    drop(rude);
    let reported = server
        .wait_for_line(|line| line.contains(&rude_addr.to_string()) && line.contains("重置"))
        .await;
    assert!(
        reported.contains("读取失败"),
        "服务端应当报告读取失败：{reported}"
    );

    echo_round_trip(&mut steady, b"after").await;
    let mut newcomer = connect(addr).await;
    echo_round_trip(&mut newcomer, b"newcomer").await;
}

/// 被强行结束的客户端进程：测试程序把自己再启动一次，在子进程里运行 [`killed_client_helper`]。
/// 环境变量 [`KILLED_CLIENT`] 告诉它连哪里、回声读不读。
pub const KILLED_CLIENT: &str = "SOCKET_WORKBOOK_KILLED_CLIENT";

/// 子进程准备好被结束时打印的一行（后面跟着它的本地地址）。
const KILLED_CLIENT_READY: &str = "客户端进程准备好了：";

/// 在子进程里扮演客户端：连上服务端，发出 hello。`read_echo` 为真时把 5 字节的回声读完，
/// 否则让回声留在接收缓冲区里一个字节也不读。然后打印一行，等着被测试强行结束。
/// 没有设置 [`KILLED_CLIENT`] 时（平常运行测试时）什么也不做。
pub fn killed_client_helper() {
    use std::io::{Read, Write};
    let Ok(job) = std::env::var(KILLED_CLIENT) else {
        return;
    };
    let (addr, mode) = job.split_once(' ').expect("格式：地址 read|unread");
    let mut conn = std::net::TcpStream::connect(addr).expect("连接服务端");
    conn.set_read_timeout(Some(WAIT)).expect("设置读取时限");
    conn.write_all(b"hello").expect("发送 hello");
    if mode == "read" {
        let mut echo = [0u8; 5];
        conn.read_exact(&mut echo).expect("读回声");
    } else {
        // peek 看一眼接收缓冲区，但不取走：等到 5 字节的回声全都到了为止
        let deadline = std::time::Instant::now() + WAIT;
        let mut buf = [0u8; 5];
        while conn.peek(&mut buf).expect("peek") < 5 {
            assert!(std::time::Instant::now() < deadline, "回声没有到齐");
        }
    }
    println!(
        "{KILLED_CLIENT_READY}{}",
        conn.local_addr().expect("本地地址")
    );
    // 等着被结束。测试程序要是先退出了，标准输入随之关闭，这里也就返回
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

/// 启动扮演客户端的子进程（`helper` 是测试程序自己），等它准备好，返回它和它的本地地址。
async fn start_killed_client(
    helper: &Path,
    addr: std::net::SocketAddr,
    mode: &str,
) -> (Program, String) {
    let job = format!("{addr} {mode}");
    let args = [
        "killed_client_helper",
        "--exact",
        "--ignored",
        "--nocapture",
    ];
    let mut client = Program::start_with_env(helper, "客户端进程", &args, &[(KILLED_CLIENT, &job)]);
    let ready = client
        .wait_for_line(|line| line.starts_with(KILLED_CLIENT_READY))
        .await;
    let me = ready[KILLED_CLIENT_READY.len()..].to_string();
    (client, me)
}

/// 客户端进程收完回声后被强行结束（像崩溃一样），接收缓冲区里没有没读的数据：
/// 操作系统替它关闭套接字，发的是 FIN，所以服务端看到的是正常的“已关闭连接”，不是“连接被重置”。
pub async fn killed_client_closes_normally(server: &Path, helper: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let (mut client, me) = start_killed_client(helper, addr, "read").await;
    server.expect_line(&format!("新连接：{me}")).await;
    server.expect_line("收到client端发来的数据： hello").await;
    server.note("客户端进程收完了回声，被强行结束");
    client.kill().await;
    server.expect_line(&format!("客户端 {me} 已关闭连接")).await;
}

/// 客户端进程被强行结束时，接收缓冲区里还有没读的回声：Linux 关闭这样的套接字时发 RST，
/// 服务端的 read 报告连接被重置。
pub async fn killed_client_with_unread_data_resets(server: &Path, helper: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let (mut client, me) = start_killed_client(helper, addr, "unread").await;
    server.expect_line(&format!("新连接：{me}")).await;
    server.expect_line("收到client端发来的数据： hello").await;
    server.note("客户端进程没有读回声，被强行结束");
    client.kill().await;
    let line = server.next_line().await;
    let reset = format!("从客户端 {me} 读取失败：连接被对方重置");
    assert!(
        line.starts_with(&reset),
        "客户端关闭时还有没读的数据，服务端应当看到连接被重置。\n期望以这些字开头：{reset}\n实际：{line}"
    );
}

/// 1 MiB 的任意字节（包括不是 UTF-8 的）一边发一边收，回来的和发出去的一字不差；
/// 客户端发完后只关闭写方向（半关闭），服务端回完所有数据再关闭连接。
pub async fn server_echoes_large_payload(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let payload: Vec<u8> = (0..1024 * 1024)
        .map(|i: u32| (i * 7 + i / 251) as u8)
        .collect();
    let (mut reader, mut writer) = connect(addr).await.into_split();

    let to_send = payload.clone();
    let sending = tokio::spawn(async move {
        writer.write_all(&to_send).await.expect("发送 1 MiB");
        writer.shutdown().await.expect("关闭写方向");
        writer // 留着写的那一半，直到读完为止
    });
    let mut echoed = Vec::new();
    match timeout(WAIT * 3, reader.read_to_end(&mut echoed)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => panic!(
            "发出 1 MiB 之后，读回声时出错：{}（已经收到 {} 字节）",
            socket_workbook::errors::cause(&err),
            echoed.len()
        ),
        Err(_) => panic!(
            "等了 {} 秒，1 MiB 的回声还没有全部回来（收到 {} 字节），服务端也没有关闭连接",
            WAIT_SECS * 3,
            echoed.len()
        ),
    }
    let _writer = timeout(WAIT, sending)
        .await
        .expect("发送超时")
        .expect("发送任务");
    same_bytes(&echoed, &payload, "1 MiB 的回声和发出的不一致。");
}

/// 端口已被占用：一行中文说明原因和办法，退出码非零。
pub fn server_port_in_use(server: &Path) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("占一个端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(server, SERVER, &["--addr", &addr], "");
    assert_transcript("tcp_server_port_in_use", &transcript);
}

// ---------------------------------------------------------------- 客户端

/// 测试里的回声服务端：把收到的每一块原样写回去。返回它的地址。
async fn echo_server() -> std::net::SocketAddr {
    let (listener, addr) = test_listener().await;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// 用户在终端里输入几行，看到每一行的回声，最后输入 q 退出。
pub async fn client_transcript(client: &Path) {
    let addr = echo_server().await.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr]);
    client
        .expect_line(&format!(
            "已连接到 {addr}。输入一行后回车发送，输入 Q 退出。"
        ))
        .await;
    for line in ["hello", "你好，世界"] {
        client.type_line(line).await;
        client.expect_line(line).await;
    }
    client.type_line("q").await;
    let status = client.wait_exit().await;
    assert!(
        status.success(),
        "输入 q 应当正常退出：\n{}",
        client.transcript()
    );
    assert_transcript("tcp_client_run", &client.transcript());
}

/// 从管道读输入：去掉行尾的 \r\n，跳过空行，读到 Q 就退出，Q 后面的行不再发送。
pub async fn client_reads_piped_input(client: &Path) {
    let (listener, addr) = test_listener().await;
    let received = tokio::spawn(record_and_echo(listener));
    let client = client.to_path_buf();
    let addr_arg = addr.to_string();
    let output = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::new(client)
            .args(["--addr", &addr_arg])
            .write_stdin("第一行\r\n\nsecond\nQ\n这一行不该发出去\n")
            .timeout(WAIT)
            .output()
            .expect("运行客户端")
    })
    .await
    .expect("客户端任务");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "客户端应当正常退出，实际是 {}。标准输出：\n{stdout}\n标准错误：\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    same_bytes(
        stdout.as_bytes(),
        "第一行\nsecond\n".as_bytes(),
        "标准输出只应当有两条回声（空行不发，q 之后的不发）。",
    );
    let received = timeout(WAIT, received)
        .await
        .expect("等服务端")
        .expect("服务端任务");
    same_bytes(
        &received,
        "第一行second".as_bytes(),
        "服务端收到的字节不对（要发送的是去掉行尾换行的每一行）。",
    );
}

/// 测试里的服务端：接受一个连接，回声并记下收到的所有字节，直到对方关闭。
async fn record_and_echo(listener: TcpListener) -> Vec<u8> {
    let mut stream = accept(&listener).await;
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(Ok(n @ 1..)) = timeout(WAIT, stream.read(&mut buf)).await {
        received.extend_from_slice(&buf[..n]);
        stream.write_all(&buf[..n]).await.expect("回声");
    }
    received
}

/// 回声分两次到达：客户端要等收齐了再打印一整行，而不是先打印半截。
pub async fn client_waits_for_whole_echo(client: &Path) {
    let (listener, addr) = test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr]);
    let mut stream = accept(&listener).await;
    client.next_line().await; // 连接成功的提示
    client.type_line("hello").await;
    let request = read_exactly(&mut stream, 5).await;
    same_bytes(
        &request,
        b"hello",
        "客户端应当发出输入的那一行（不带换行）。",
    );
    stream.write_all(b"hel").await.expect("发送前半截");
    // 这里的停顿不是用来同步的：它给“只读一次”的错误实现留出时间，
    // 让它把半截回声打印出来，从而被下面的断言发现。正确的实现不受停顿长短影响。
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(b"lo").await.expect("发送后半截");
    client.expect_line("hello").await;
    client.close_stdin();
    client.expect_exit(0).await;
}

/// 服务端只回了一半就不再回复（教程的 Go 服务端遇到长行就会这样）：客户端等到时限，说明情况并退出。
pub async fn client_reports_partial_echo(client: &Path) {
    let (listener, addr) = test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr, "--reply-timeout", "1"]);
    let mut stream = accept(&listener).await;
    client.next_line().await;
    client.type_line("hello").await;
    read_exactly(&mut stream, 5).await;
    stream.write_all(b"hel").await.expect("只回前半截");
    client
        .expect_line("等了 1 秒，这条回声只收到 3/5 字节：服务端没有把数据全部发回来")
        .await;
    client.expect_exit(1).await;
}

/// 服务端每隔 0.3 秒才挤出一个字节：每一次 read 都等不到 1 秒，整条回声却要将近 3 秒。
/// `--reply-timeout 1` 管的是整条回声，所以客户端到 1 秒就放弃，说明收到了多少，退出码非零。
pub async fn client_gives_up_at_the_reply_deadline(client: &Path) {
    let (listener, addr) = test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr, "--reply-timeout", "1"]);
    let mut stream = accept(&listener).await;
    client.next_line().await;
    let message = "0123456789";
    client.type_line(message).await;
    read_exactly(&mut stream, message.len()).await;
    client.note("测试扮演的服务端每隔 0.3 秒发回一个字节");
    // 这里的停顿不是用来同步的，它就是被测的行为：一个慢得出奇、但从不完全停下的服务端。
    // 10 个字节最早也要 2.7 秒才发完，而客户端只等 1 秒，所以它一定收不齐。
    let drip = tokio::spawn(async move {
        stream.set_nodelay(true).expect("设置 TCP_NODELAY");
        for byte in message.bytes() {
            if stream.write_all(&[byte]).await.is_err() {
                return; // 客户端已经放弃、断开了连接
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // 发完以后不关闭连接，只是不再发送
        std::future::pending::<()>().await;
    });
    let line = client.next_line().await;
    drip.abort();
    let gave_up = line.starts_with("等了 1 秒，这条回声只收到 ")
        && line.ends_with("/10 字节：服务端没有把数据全部发回来");
    assert!(
        gave_up,
        "服务端 0.3 秒才发一个字节时，客户端应当在 1 秒的时限到了就放弃（时限管整条回声，不是每一次 read），\
         实际输出的是：{line}\n记录：\n{}",
        client.transcript()
    );
    client.expect_exit(1).await;
}

/// 对面回的和发出的不一样（它不是回声服务端）：客户端说明情况，不再继续，退出码非零。
pub async fn client_reports_a_wrong_echo(client: &Path) {
    let (listener, addr) = test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr]);
    let mut stream = accept(&listener).await;
    client.next_line().await;
    client.type_line("hello").await;
    read_exactly(&mut stream, 5).await;
    client.note("测试扮演的服务端回了 HELLO");
    timeout(WAIT, stream.write_all(b"HELLO"))
        .await
        .expect("发送超时")
        .expect("发送 HELLO");
    let line = client.next_line().await;
    assert!(
        line.starts_with("回声和发出的不一样"),
        "收回的 HELLO 和发出的 hello 不一样，客户端应当说明，而不是把它当成回声打印出来。\
         实际输出的是：{line}\n记录：\n{}",
        client.transcript()
    );
    client.expect_exit(1).await;
    expect_closed(&mut stream, "客户端发现回声不对之后").await;
    assert_transcript("tcp_client_wrong_echo", &client.transcript());
}

/// 服务端收到消息后直接关闭连接：客户端说明服务端走了，退出码非零。
pub async fn client_reports_server_gone(client: &Path) {
    let (listener, addr) = test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr]);
    let mut stream = accept(&listener).await;
    client.next_line().await;
    client.type_line("hello").await;
    read_exactly(&mut stream, 5).await;
    drop(stream);
    client
        .expect_line("服务端关闭了连接（这条回声只收到 0/5 字节），它可能已经退出")
        .await;
    client.expect_exit(1).await;
}

/// 没有服务端在运行：一行中文说明原因，并给出启动服务端的命令，退出码非零。
pub fn client_without_server(client: &Path) {
    let addr = unused_address().to_string();
    let transcript = run_to_exit(client, CLIENT, &["--addr", &addr], "hello\n");
    assert_transcript("tcp_client_no_server", &transcript);
}
