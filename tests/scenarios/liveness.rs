//! 第 6.3 节（发现对方已经不在）的场景：回声服务端的空闲超时、聊天室的 TCP keepalive 和心跳。
//! 聊天室心跳的场景也给练习 6.1 评分。

use std::path::Path;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};

use crate::support::*;

const TCP_SERVER: &str = "lab-tcp-server";

// ---------------------------------------------------------------- 回声服务端：--idle-timeout

/// `--idle-timeout 1`：连上以后一言不发的客户端，1 秒后被服务端断开；
/// 服务端打印 read_failed 的那一行，说出原因，客户端读到连接结束。
pub async fn idle_client_is_dropped(server: &Path) {
    let (mut server, addr) = start_server(server, TCP_SERVER, &["--idle-timeout", "1"]).await;
    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    echo_round_trip(&mut client, b"hello").await;
    server.expect_line("收到client端发来的数据： hello").await;
    server.note("客户端不再发送任何数据");
    let quiet_since = Instant::now();
    server
        .expect_line(&format!("从客户端 {me} 读取失败：1 秒没有收到任何数据"))
        .await;
    let waited = quiet_since.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "服务端应当等满 1 秒才断开，实际只等了 {waited:?}"
    );
    expect_closed(&mut client, "服务端因为空闲超时断开了连接").await;
    assert_transcript("liveness_idle_timeout", &server.transcript());
}

/// `--idle-timeout 3`：每 300 毫秒说一句的客户端，说上 4 秒多（超过时限）也不会被断开：
/// 计时从最近一次收到数据算起，而不是从连上算起。两句之间的空当离时限差得远（300 毫秒对 3 秒），
/// 机器再忙也不会因为一次迟到被误判。
pub async fn active_client_stays(server: &Path) {
    let (mut server, addr) = start_server(server, TCP_SERVER, &["--idle-timeout", "3"]).await;
    let mut client = connect(addr).await;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(4200) {
        echo_round_trip(&mut client, format!("第 {sent} 句").as_bytes()).await;
        sent += 1;
        // 说话的节奏，不是等待什么事情发生
        sleep(Duration::from_millis(300)).await;
    }
    echo_round_trip(&mut client, b"still here").await;
    let me = client.local_addr().expect("本地地址");
    drop(client);
    server
        .wait_for_line(|line| line.contains(&me.to_string()) && line.contains("已关闭连接"))
        .await;
    let transcript = server.transcript();
    assert!(
        !transcript.contains("读取失败"),
        "一直在说话的客户端不应被断开：\n{transcript}"
    );
}

/// 不加 `--idle-timeout`：安静 1.5 秒的客户端照样连着，回声照常。
pub async fn no_idle_timeout_by_default(server: &Path) {
    let (mut server, addr) = start_server(server, TCP_SERVER, &[]).await;
    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;
    // 等一段什么都不该发生的时间：这不是同步，只是给“断开”留出发生的机会
    let mut buf = [0u8; 16];
    let read = timeout(
        Duration::from_millis(1500),
        tokio::io::AsyncReadExt::read(&mut client, &mut buf),
    )
    .await;
    assert!(
        read.is_err(),
        "服务端不应发来任何东西，也不应关闭连接：{read:?}"
    );
    echo_round_trip(&mut client, b"after 1.5 s").await;
    server
        .expect_line("收到client端发来的数据： after 1.5 s")
        .await;
}

/// 把 `program` 还没读的输出读完：一直读，直到 `quiet` 这么久没有新的一行（总共最多 WAIT）。
/// `Program::transcript()` 只含已经读过的行；断言“某一行没有出现”之前先调用它，
/// 不然还没读到的那一行根本不在记录里，断言永远成立。
pub async fn drain(program: &mut Program, quiet: Duration) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if timeout(quiet, program.next_line()).await.is_err() {
            return;
        }
    }
    panic!("{WAIT:?} 内程序一直在输出，停不下来");
}

// ---------------------------------------------------------------- 聊天室：心跳（练习 6.1 也用这些场景）

const CHAT_SERVER: &str = "lab-chat-server";
const CHAT_CLIENT: &str = "lab-chat-client";
const PROMPT: &str = "[系统] 请输入你的昵称：";

fn greeting(online: usize) -> String {
    format!("[系统] 欢迎来到聊天室！现在有 {online} 人在线。")
}

fn welcome(nick: &str) -> String {
    format!("[系统] 你好，{nick}！直接输入文字就是对所有人说话，输入 /help 查看命令。")
}

/// 连上聊天室，读问候，起昵称。`heartbeat` 为真时像实验的客户端（`lab-chat-client --heartbeat`）一样，
/// 一连上就报名心跳（发 `/heartbeat`）：从这以后服务端随时可能插进一行 `/ping`，
/// 哪怕问候、提示、欢迎词还没读完，所以这几行之间的 `/ping` 都跳过。
async fn enter(addr: std::net::SocketAddr, nick: &str, online: usize, heartbeat: bool) -> LinePeer {
    let mut peer = LinePeer::connect(addr).await;
    if heartbeat {
        peer.say("/heartbeat").await;
    }
    expect_skipping_pings(&mut peer, &greeting(online)).await;
    expect_skipping_pings(&mut peer, PROMPT).await;
    peer.say(nick).await;
    expect_skipping_pings(&mut peer, &welcome(nick)).await;
    peer
}

/// 读到第一行不是 `/ping` 的为止，返回跳过了几个 `/ping` 和那一行。
/// 服务端可能一直在发 `/ping`，所以总共最多等 2 × WAIT。
async fn skip_pings(peer: &mut LinePeer) -> (usize, String) {
    let who = peer.local_addr();
    match timeout(WAIT * 2, peer.read_until_line(|line| line != "/ping")).await {
        Ok((pings, line)) => (pings.len(), line),
        Err(_) => panic!("等了 {:?}，{who} 只收到 /ping，没有别的", WAIT * 2),
    }
}

/// 跳过 `/ping`，下一行必须正好是 `expected`。
async fn expect_skipping_pings(peer: &mut LinePeer, expected: &str) {
    let (_, line) = skip_pings(peer).await;
    assert_eq!(line, expected, "{} 收到的这一行不对", peer.local_addr());
}

/// 下一行必须是 `expected`；返回收到的这一行（写进记录）。
async fn heard(peer: &mut LinePeer, expected: &str) -> String {
    let line = peer.next_line().await;
    assert_eq!(line, expected, "{} 收到的这一行不对", peer.local_addr());
    line
}

/// 在 `quiet` 这段时间里，`peer` 不应收到任何一行，连接也不应结束。
/// 这是一段有上限的“什么都不该发生”的等待，不是用来同步的。
async fn expect_nothing(peer: &mut LinePeer, quiet: Duration, who: &str) {
    let deadline = Instant::now() + quiet;
    while Instant::now() < deadline {
        let left = deadline - Instant::now();
        if let Ok(line) = timeout(left, peer.try_next_line()).await {
            panic!("{who} 在这段时间里不应收到任何东西，却收到了：{line:?}");
        }
    }
}

/// `--heartbeat 1`：报名了心跳、进门以后再也不出声的客户端（它的机器“消失”了），
/// 连续 3 个间隔（3 秒）没有消息后被断开；房间里的人听到“心跳超时，断开了连接”。
/// 快照：服务端的控制台和 bob 的终端。
pub async fn heartbeat_drops_a_silent_client(server: &Path) {
    let (mut server, addr) = start_server(server, CHAT_SERVER, &["--heartbeat", "1"]).await;
    server
        .expect_line("心跳：每 1 秒问一次报了名的客户端，3 秒没有消息就断开")
        .await;
    let mut bob = enter(addr, "bob", 0, false).await;
    server.wait_for_line(|l| l.starts_with("bob（")).await;
    let mut carol = enter(addr, "carol", 1, true).await;
    // bob 的终端：记下他真正收到的每一行
    let mut bob_view = vec!["（bob 的终端）".to_string()];
    bob_view.push(heard(&mut bob, "[系统] carol 进入了聊天室").await);
    server.wait_for_line(|l| l.starts_with("carol（")).await;
    // carol 回答第一个 /ping，从此一言不发：/ping 来了也不回答
    carol.expect_line("/ping").await;
    carol.say("/pong").await;
    let (pings, last) = skip_pings(&mut carol).await;
    assert_eq!(last, "[系统] 3 秒没有收到你的心跳，服务端断开了你的连接");
    // 数一数断开之前又问了几次，而不是量时间。看门狗的规则：每个间隔看一次，最近一次出声到现在
    // 满了 3 个间隔就断开（这一轮不再发 /ping），不满就发 /ping。carol 的 /pong 是在某一轮（第 k 轮）
    // 发出 /ping 之后一点点（d）才听到的，到第 k+j 轮时已经安静了 j 个间隔减 d，再加上这一轮计时器的迟到：
    // j = 4 时一定满 3 个间隔；j = 3 时只在这一轮迟到得比 d 还多时才满。所以断开之前通常还有 2 次或 3 次 /ping；
    // 机器很忙、大厅处理 /pong 晚了一个间隔以上时，断开也跟着晚一轮，是 4 次。
    // 时限写大了（比如 3 倍，问 8、9 次）或者写小了（1 个间隔，问 0 次）都在这个范围之外。
    assert!(
        (2..=4).contains(&pings),
        "carol 回答了一次 /ping 以后就不出声，应当再问 2 到 4 次就断开（3 个间隔），实际问了 {pings} 次"
    );
    carol.expect_closed().await;
    bob_view.push(heard(&mut bob, "[系统] carol 心跳超时，断开了连接").await);
    server.wait_for_line(|l| l.contains("心跳超时")).await;
    bob.say("/who").await;
    bob_view.push("> /who".to_string());
    bob_view.push(heard(&mut bob, "[系统] 在线 1 人：bob").await);
    assert_transcript(
        "liveness_heartbeat_silent",
        &join_transcripts(&[server.transcript(), bob_view.join("\n")]),
    );
}

/// 心跳超时不会提前：报名的客户端最后一次出声之后，至少要过 3 个间隔才被断开
/// （`--heartbeat 1`：3 秒；留一点余量，少于 2.5 秒就算太早）。
pub async fn heartbeat_waits_for_the_limit(server: &Path) {
    let (_server, addr) = start_server(server, CHAT_SERVER, &["--heartbeat", "1"]).await;
    // 进门时说的昵称是 carol 最后一次出声。在进门之前开始计时：这一刻一定不晚于服务端听到昵称的那一刻，
    // 量出来的只会偏长，机器再忙也不会把正确的服务端量成“太早”
    let last_said = Instant::now();
    let mut carol = enter(addr, "carol", 0, true).await;
    skip_pings(&mut carol).await;
    carol.expect_closed().await;
    let waited = last_said.elapsed();
    assert!(
        waited >= Duration::from_millis(2500),
        "--heartbeat 1 时应当等 3 个间隔（3 秒）没有消息才断开，实际 {waited:?} 就断开了"
    );
}

/// 每个间隔都给**每个**报了名的客户端发一次 `/ping`，哪怕它刚刚说过话；一直出声的客户端不会被断开。
///
/// 不量时间，数次数：carol 报名心跳，不管有没有 `/ping`，每 300 毫秒就说一句 `/pong`（一直在出声）；
/// dave 报名心跳，进门以后一言不发，被断开。看门狗每个间隔看一轮，dave 在场的是 3 到 4 轮
/// （机器很忙时可能更多）。每一轮都问所有人的写法，在这几轮里至少问 carol 2 次
/// （哪怕先断开 dave、再另起一遍去问，而 dave 在第 3 轮就被断开）；
/// 只问“安静了一个间隔以上”的人的写法，一次也不会问她，因为她从来没有安静过一个间隔。
/// 另外 carol 不该比 dave 多被问一次以上（一轮只问一次）。
pub async fn heartbeat_pings_every_interval(server: &Path) {
    let (_server, addr) = start_server(server, CHAT_SERVER, &["--heartbeat", "1"]).await;
    let mut carol = enter(addr, "carol", 0, true).await;
    let mut dave = enter(addr, "dave", 1, true).await;
    let mut counting = false;
    let mut carol_pings = 0;
    let watch = async {
        // 说话的节奏（300 毫秒一句），不是等待什么事情发生
        let mut rhythm = tokio::time::interval(Duration::from_millis(300));
        loop {
            tokio::select! {
                _ = rhythm.tick() => carol.say("/pong").await,
                line = carol.next_line() => {
                    if line == "/ping" {
                        if counting {
                            carol_pings += 1;
                        }
                    } else if line == "[系统] dave 进入了聊天室" {
                        counting = true;
                    } else if line == "[系统] dave 心跳超时，断开了连接" {
                        return;
                    } else {
                        panic!("carol 收到了意料之外的一行：{line}");
                    }
                }
            }
        }
    };
    if timeout(WAIT * 2, watch).await.is_err() {
        panic!("等了 {:?}，carol 没有听到 dave 心跳超时", WAIT * 2);
    }
    let (dave_pings, last) = skip_pings(&mut dave).await;
    assert_eq!(last, "[系统] 3 秒没有收到你的心跳，服务端断开了你的连接");
    assert!(
        dave_pings >= 2,
        "dave 被断开之前应当至少被问过 2 次，实际 {dave_pings} 次"
    );
    assert!(
        carol_pings >= 2,
        "dave 在场的 3 到 4 轮里，每一轮都该问 carol 一次（她刚刚说过话也要问），实际只问了 {carol_pings} 次"
    );
    assert!(
        carol_pings <= dave_pings + 1,
        "一轮只该问一次：dave 被问了 {dave_pings} 次，carol 却被问了 {carol_pings} 次"
    );
    // 过了好几个间隔，一直回答的 carol 照样在
    carol.say("/who").await;
    let (_, who) = skip_pings(&mut carol).await;
    assert_eq!(who, "[系统] 在线 1 人：carol");
}

/// 没有报名的普通客户端（nc、telnet）：收不到 `/ping`，4.5 秒（超过 3 个间隔）不出声也不会被断开。
pub async fn heartbeat_leaves_plain_clients_alone(server: &Path) {
    let (_server, addr) = start_server(server, CHAT_SERVER, &["--heartbeat", "1"]).await;
    let mut dave = enter(addr, "dave", 0, false).await;
    expect_nothing(&mut dave, Duration::from_millis(4500), "没报名心跳的 dave").await;
    dave.say("/who").await;
    dave.expect_line("[系统] 在线 1 人：dave").await;
}

/// 聊天客户端加上 `--heartbeat`：悄悄回答服务端的 `/ping`，过了好几个间隔照样在聊天室里，
/// 屏幕上看不到任何心跳。快照：客户端的终端。
pub async fn lab_client_answers_pings(server: &Path, client: &Path) {
    let (mut server, addr) = start_server(server, CHAT_SERVER, &["--heartbeat", "1"]).await;
    let addr_text = addr.to_string();
    let mut alice = Program::start(client, CHAT_CLIENT, &["--addr", &addr_text, "--heartbeat"]);
    alice.next_line().await; // 已连接到……
    alice.expect_line(&greeting(0)).await;
    alice.expect_line(PROMPT).await;
    alice.type_line("alice").await;
    alice.expect_line(&welcome("alice")).await;
    server.wait_for_line(|l| l.contains("报名了心跳")).await;
    server.wait_for_line(|l| l.starts_with("alice（")).await;
    // 4.5 秒：超过断开的时限（3 秒），其间服务端问了 4 次左右
    let mut bob = enter(addr, "bob", 1, false).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    expect_nothing(&mut bob, Duration::from_millis(4500), "bob").await;
    bob.say("/who").await;
    bob.expect_line("[系统] 在线 2 人：alice、bob").await;
    bob.say("alice，你还在吗？").await;
    alice.expect_line("<bob> alice，你还在吗？").await;
    alice.type_line("在！").await;
    bob.expect_line("<alice> 在！").await;
    alice.type_line("/quit").await;
    alice.expect_line("[系统] 再见，alice！").await;
    alice.expect_exit(0).await;
    let transcript = alice.transcript();
    assert!(
        !transcript.contains("/ping") && !transcript.contains("/pong"),
        "心跳不应出现在屏幕上：\n{transcript}"
    );
    // 心跳超时的那一行要是有，也早该打印了（alice 最后一次回答之后又过了 4.5 秒）
    drain(&mut server, Duration::from_millis(500)).await;
    let log = server.transcript();
    assert!(
        !log.contains("心跳超时"),
        "alice 一直在回答，不应被断开：\n{log}"
    );
    assert_transcript("liveness_heartbeat_client", &transcript);
}

// ---------------------------------------------------------------- 聊天室：TCP keepalive

/// `--keepalive 5`：服务端启动时说出设置；接受的连接上真的开着 keepalive。
/// Linux 上用 `ss -tnoi` 看服务端那一头的套接字：开着 keepalive 的连接显示 `timer:(keepalive,…)`。
/// 找不到 ss（别的系统、没装 iproute2）时只检查启动时的说明，并打印一行说明跳过了什么。
pub async fn keepalive_is_set_on_accepted_connections(server: &Path) {
    let (mut server, addr) = start_server(server, CHAT_SERVER, &["--keepalive", "5"]).await;
    server
        .expect_line("TCP keepalive：连接空闲 5 秒后开始探测，每 1 秒一次，3 次没有回音就断开")
        .await;
    let peer = enter(addr, "erin", 0, false).await;
    let client_port = peer.local_addr().port();
    server.wait_for_line(|l| l.starts_with("erin（")).await;
    assert_transcript("liveness_keepalive_startup", &server.transcript());

    // 服务端那一头：本地端口是聊天室的端口，对方端口是 erin 的。
    // 刚发出的欢迎词还没被确认时，ss 显示的是重传计时器 timer:(on,…)；确认之后才轮到 keepalive。
    // 没有可以等的事件，每 50 毫秒问一次 ss，最多等 WAIT
    if !ss_available("看服务端那一头的 keepalive 计时器（启动时的说明已经检查过）")
    {
        return;
    }
    let filter = format!("( sport = :{} and dport = :{client_port} )", addr.port());
    let deadline = Instant::now() + WAIT;
    let mut text = String::new();
    while Instant::now() < deadline {
        let output = std::process::Command::new("ss")
            .args(["-tnoi", "state", "established", &filter])
            .output()
            .expect("运行 ss");
        text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.contains("timer:(keepalive,") {
            drop(peer);
            return;
        }
        sleep(Duration::from_millis(50)).await;
    }
    panic!("服务端接受的连接上应当开着 keepalive（ss 显示 timer:(keepalive,…)）：\n{text}");
}
