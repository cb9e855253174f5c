//! 第 5 章：在局域网里找到聊天室（`lab-chat-server --announce`、`lab-chat-client --discover`）。
//!
//! 这里的测试都只用回环地址，不需要管理员权限：`--announce-addr 127.0.0.1:0` 让服务端在本机的
//! 一个空闲端口上回答，`--discover-to 127.0.0.1:端口` 让客户端只问那里，不发广播和组播。
//! 两台“机器”之间真正的广播和组播，由网络命名空间里的测试检查。

mod support;

use std::net::SocketAddr;
use std::path::Path;

use support::{
    LinePeer, Program, WAIT, assert_transcript, find_address, run_to_exit,
    run_to_exit_in_background, start_server, udp_recv, udp_socket, unused_udp_address,
};
use tokio::time::timeout;

#[path = "../labs/chat/discovery.rs"]
mod discovery;

const SERVER: &str = "lab-chat-server";
const CLIENT: &str = "lab-chat-client";

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-client"))
}

/// 启动一个开着 `--announce` 的聊天室（TCP 和 UDP 都在 127.0.0.1 的空闲端口上），
/// 返回它、聊天的 TCP 地址和回答发现请求的 UDP 地址。
async fn start_announcing(extra: &[&str]) -> (Program, SocketAddr, SocketAddr) {
    let mut args = vec!["--announce", "--announce-addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let (mut server, chat) = start_server(server(), SERVER, &args).await;
    let line = server.next_line().await;
    assert!(
        line.starts_with("在 127.0.0.1:") && line.ends_with(" 回答局域网里的发现请求（UDP）"),
        "第二行应当写出回答发现请求的地址，实际是：{line}"
    );
    let announce = find_address(&line).expect("第二行里有 127.0.0.1:端口");
    (server, chat, announce)
}

/// 向 `to` 发一个数据报。
async fn send(socket: &tokio::net::UdpSocket, bytes: &[u8], to: SocketAddr) {
    timeout(WAIT, socket.send_to(bytes, to))
        .await
        .expect("发送超时")
        .expect("发送数据报");
}

/// 问一次 `announce`，返回回答的内容。回答必须来自 `announce` 本身。
async fn ask(socket: &tokio::net::UdpSocket, announce: SocketAddr) -> String {
    send(socket, b"SWB-CHAT 1 DISCOVER\n", announce).await;
    let (reply, from) = udp_recv(socket).await;
    assert_eq!(from, announce, "回答应当来自被问的那个地址");
    String::from_utf8(reply).expect("回答是 UTF-8 文字")
}

/// 完整的一次：有人在聊天室里，客户端 --discover 找到它（人数正确），输入 1 进去，和里面的人聊天。
#[tokio::test]
async fn discover_a_room_and_chat_in_it() {
    let (mut server, chat, announce) = start_announcing(&["--room-name", "测试用的聊天室"]).await;

    // bob 先进去，在线人数是 1
    let mut bob = LinePeer::connect(chat).await;
    bob.read_until_line(|line| line == "[系统] 请输入你的昵称：")
        .await;
    bob.say("bob").await;
    bob.read_until_line(|line| line.starts_with("[系统] 你好，bob"))
        .await;

    let to = announce.to_string();
    let mut alice = Program::start(client(), CLIENT, &["--discover", "--discover-to", &to]);
    alice
        .expect_line("正在找聊天室：向 1 个地址发出发现请求，等 1 秒……")
        .await;
    alice
        .expect_line(&format!("  已发往 {announce}（--discover-to）"))
        .await;
    alice.expect_line("找到 1 个聊天室：").await;
    alice
        .expect_line(&format!("  1. 测试用的聊天室（{chat}，1 人在线）"))
        .await;
    alice
        .expect_line("输入编号进入聊天室（直接回车或输入 q 退出）：")
        .await;
    alice.type_line("1").await;
    alice
        .expect_line(&format!(
            "已连接到 {chat}。输入一行回车发送，输入 /quit 或 Q 离开。"
        ))
        .await;
    alice
        .expect_line("[系统] 欢迎来到聊天室！现在有 1 人在线。")
        .await;
    alice.expect_line("[系统] 请输入你的昵称：").await;
    alice.type_line("alice").await;
    alice
        .expect_line("[系统] 你好，alice！直接输入文字就是对所有人说话，输入 /help 查看命令。")
        .await;
    bob.expect_line("[系统] alice 进入了聊天室").await;
    alice.type_line("找到你们了").await;
    bob.expect_line("<alice> 找到你们了").await;
    bob.say("欢迎").await;
    alice.expect_line("<bob> 欢迎").await;
    alice.type_line("/quit").await;
    alice.expect_line("[系统] 再见，alice！").await;
    alice.expect_exit(0).await;
    assert_transcript("discovery_join", &alice.transcript());

    // 服务端控制台记下了这次发现请求
    server
        .wait_for_line(|line| line.ends_with(" 在找聊天室，已回答"))
        .await;
}

/// 在线人数随大厅的名单变化：起好昵称才算，离开就减掉。
#[tokio::test]
async fn the_reply_counts_people_online() {
    let (_server, chat, announce) = start_announcing(&["--room-name", "人数"]).await;
    let socket = udp_socket().await;
    let port = chat.port();
    let expected = |online: u32| format!("SWB-CHAT 1 ROOM port={port} online={online} name=人数\n");
    assert_eq!(ask(&socket, announce).await, expected(0));

    // 连上但还没起昵称：不算
    let mut carol = LinePeer::connect(chat).await;
    carol
        .read_until_line(|line| line == "[系统] 请输入你的昵称：")
        .await;
    assert_eq!(ask(&socket, announce).await, expected(0));
    carol.say("carol").await;
    carol
        .read_until_line(|line| line.starts_with("[系统] 你好，carol"))
        .await;
    assert_eq!(ask(&socket, announce).await, expected(1));

    carol.say("/quit").await;
    carol.expect_line("[系统] 再见，carol！").await;
    carol.expect_closed().await;
    assert_eq!(ask(&socket, announce).await, expected(0));
}

/// 不合格式、太大、版本不对的数据报都不理，各说一句；服务端照常回答下一个请求。
/// 一大堆垃圾数据报也刷不了服务端的屏：说明的句数有上限。
#[tokio::test]
async fn the_server_ignores_bad_datagrams_and_keeps_answering() {
    let started = std::time::Instant::now();
    let (mut server, chat, announce) = start_announcing(&["--room-name", "坚强"]).await;
    let socket = udp_socket().await;
    let mut oversize = b"SWB-CHAT 1 DISCOVER".to_vec();
    oversize.resize(discovery::MAX_DATAGRAM + 100, b' ');
    let bad: [(&[u8], &str); 6] = [
        (b"hello", "开头不是 SWB-CHAT，不是聊天室的发现协议"),
        (&oversize, "超过 512 字节"),
        (
            b"SWB-CHAT 2 DISCOVER\n",
            "协议版本是 2，这个程序只认识版本 1",
        ),
        (
            b"SWB-CHAT 1 DISCOVER now\n",
            "格式不对：DISCOVER 后面不应有别的内容",
        ),
        (b"\xff\xfe\xfd", "不是 UTF-8 文字"),
        (
            b"SWB-CHAT 1 ROOM port=1 online=0 name=x\n",
            "它是回答，不是发现请求",
        ),
    ];
    let local = socket.local_addr().expect("本地地址");
    for (datagram, why) in bad {
        send(&socket, datagram, announce).await;
        let line = server.next_line().await;
        assert_eq!(line, format!("不理 {local} 发来的数据报：{why}"));
    }
    let reply = ask(&socket, announce).await;
    assert_eq!(
        reply,
        format!("SWB-CHAT 1 ROOM port={} online=0 name=坚强\n", chat.port())
    );

    // 一大堆垃圾：服务端照样回答，控制台上的说明却有上限
    for i in 0..100 {
        send(&socket, format!("junk {i}").as_bytes(), announce).await;
    }
    assert!(ask(&socket, announce).await.starts_with("SWB-CHAT 1 ROOM "));
    // 控制台的一行作为记号：它之前的行都是处理上面这些数据报时说的
    server.type_line("垃圾发完了").await;
    server
        .wait_for_line(|line| line.starts_with("[服务端] 垃圾发完了"))
        .await;
    let transcript = server.transcript();
    let notes = transcript
        .lines()
        .filter(|line| line.starts_with("不理 ") || line.ends_with("在找聊天室，已回答"))
        .count();
    // 每 10 秒最多 10 句（服务端的计时从它开始回答发现请求算起）。整个测试在 10 秒之内
    // 结束时（几乎总是这样），全部说明都落在第一个 10 秒里，最多 10 句；机器慢得出奇时放宽到两个 10 秒
    let limit = if started.elapsed() < std::time::Duration::from_secs(10) {
        10
    } else {
        20
    };
    assert!(
        notes <= limit,
        "108 个数据报说了 {notes} 句，应当最多 {limit} 句：\n{transcript}"
    );
}

/// 一个假的聊天室回答各种垃圾：客户端逐个说明（最多 5 个），不崩溃，
/// 最后一个合格的回答照常列出。输错编号会再问，输入 q 退出。
#[tokio::test]
async fn the_client_survives_a_fake_room() {
    let fake = udp_socket().await;
    let fake_addr = fake.local_addr().expect("本地地址").to_string();
    let mut client = Program::start(
        client(),
        CLIENT,
        &["--discover", "--discover-to", &fake_addr],
    );
    let (request, from) = udp_recv(&fake).await;
    assert_eq!(request, b"SWB-CHAT 1 DISCOVER\n", "客户端发出的发现请求");
    let mut oversize = b"SWB-CHAT 1 ROOM port=20004 online=1 name=".to_vec();
    oversize.resize(discovery::MAX_DATAGRAM + 1, b'x');
    let replies: [&[u8]; 8] = [
        b"garbage",
        &oversize,
        b"SWB-CHAT 9 ROOM port=20004 online=1 name=x",
        b"SWB-CHAT 1 ROOM port=0 online=1 name=x",
        b"SWB-CHAT 1 ROOM port=20004 online=1 name=\x1b[2J\x1b[31m",
        b"SWB-CHAT 1 ROOM port=20004 online=lots name=x",
        b"SWB-CHAT 1 ROOM port=20004",
        b"SWB-CHAT 1 ROOM port=20004 online=2 name=\xe5\x81\x87\xe7\x9a\x84\n",
    ];
    for reply in replies {
        send(&fake, reply, from).await;
    }
    client
        .wait_for_line(|line| line == "输入编号进入聊天室（直接回车或输入 q 退出）：")
        .await;
    client.type_line("7").await;
    client
        .expect_line("没有这个编号，请输入 1 到 1 之间的数字")
        .await;
    client
        .expect_line("输入编号进入聊天室（直接回车或输入 q 退出）：")
        .await;
    client.type_line("q").await;
    client.expect_exit(0).await;
    assert_transcript("discovery_fake_room", &client.transcript());
}

/// 没有聊天室回答：说明该检查什么，以退出码 1 结束（等的时间有上限）。
#[tokio::test]
async fn no_room_found() {
    let nobody = unused_udp_address().to_string();
    let started = std::time::Instant::now();
    let transcript = run_to_exit_in_background(
        client(),
        CLIENT,
        &["--discover", "--discover-to", &nobody],
        "",
    )
    .await;
    assert!(
        started.elapsed() < WAIT,
        "--discover-wait 默认 1 秒，客户端却等了 {:?}",
        started.elapsed()
    );
    assert_transcript("discovery_no_room", &transcript);
}

/// 发现端口已经被占用：服务端说明原因，以非零退出码结束。
#[test]
fn announce_port_in_use() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("占一个 UDP 端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(
        server(),
        SERVER,
        &[
            "--addr",
            "127.0.0.1:0",
            "--announce",
            "--announce-addr",
            &addr,
        ],
        "",
    );
    assert_transcript("discovery_announce_port_in_use", &transcript);
}

/// 不写 --room-name 时，房间名是“主机名 的聊天室”，而且合乎协议的规则。
#[tokio::test]
async fn the_default_room_name_is_the_host_name() {
    let (_server, _chat, announce) = start_announcing(&[]).await;
    let socket = udp_socket().await;
    let reply = ask(&socket, announce).await;
    let Ok(discovery::Message::Room(room)) = discovery::parse(reply.as_bytes()) else {
        panic!("回答应当合乎格式：{reply}");
    };
    assert!(
        room.name.ends_with(" 的聊天室") || room.name == "聊天室",
        "{reply}"
    );
}

/// 输错三次编号：不进入聊天室，退出码 1。
#[tokio::test]
async fn three_wrong_numbers_give_up() {
    let fake = udp_socket().await;
    let fake_addr = fake.local_addr().expect("本地地址").to_string();
    let mut client = Program::start(
        client(),
        CLIENT,
        &["--discover", "--discover-to", &fake_addr],
    );
    let (_, from) = udp_recv(&fake).await;
    send(&fake, b"SWB-CHAT 1 ROOM port=20004 online=0 name=x", from).await;
    for typed in ["0", "二", "2"] {
        client
            .wait_for_line(|line| line == "输入编号进入聊天室（直接回车或输入 q 退出）：")
            .await;
        client.type_line(typed).await;
        client
            .expect_line("没有这个编号，请输入 1 到 1 之间的数字")
            .await;
    }
    client.expect_line("输错了 3 次，不进入聊天室。").await;
    client.expect_exit(1).await;
}
