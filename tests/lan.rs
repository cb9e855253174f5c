//! 第 5 章：走出本机。两台“主机”之间的聊天、UDP 回声，以及连不上的几种样子：
//! 服务端只监听 127.0.0.1、防火墙丢弃或拒绝、名字解析出的第一个地址没有人。
//!
//! 两台主机是两个 Linux 网络命名空间，由 tests/support/netns.rs 搭建（主机 A 是 192.0.2.1、
//! 2001:db8::1，主机 B 是 192.0.2.2、2001:db8::2）。每台主机有自己的一套端口，所以这里放心地用
//! 实验的默认端口（聊天室 20004、TCP 回声 20000、UDP 回声 8080），记录里的地址每次都一样。
//!
//! 需要 root 权限和 ip（iproute2），防火墙的测试还要 nft：不满足时每个测试打印一行原因、直接通过。

#[path = "support/netns.rs"]
mod netns;
mod support;

use std::path::Path;

use netns::{A_V4, A_V6, Lan, lan_or_skip, lan_with_firewall_or_skip, on_host};
use support::{assert_lan_transcript, join_transcripts};

fn chat_server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-server"))
}

fn chat_client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-chat-client"))
}

fn tcp_server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-server"))
}

fn tcp_client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-tcp-client"))
}

fn udp_server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-server"))
}

fn udp_client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-udp-client"))
}

// ---------------------------------------------------------------- 聊天室：两台主机上的两个人

const PROMPT: &str = "[系统] 请输入你的昵称：";

fn greeting(online: usize) -> String {
    format!("[系统] 欢迎来到聊天室！现在有 {online} 人在线。")
}

fn welcome(nick: &str) -> String {
    format!("[系统] 你好，{nick}！直接输入文字就是对所有人说话，输入 /help 查看命令。")
}

/// 聊天室开在主机 A 上，监听 `listen`（一个通配地址）。alice 在主机 A 上经 `a_addr`
/// （回环地址）连进来，bob 在主机 B 上经 `b_addr`（主机 A 在网线上的地址）连进来，两人互相说话。
/// 一步一步地进行，每一步都等该收到的人收到了再走下一步。快照：服务端的控制台、alice 和 bob 的终端。
async fn chat_between_hosts(listen: &str, a_addr: &str, b_addr: &str, snapshot: &str) {
    let Some(lan) = lan_or_skip() else { return };
    let mut server = lan.start_on_a(chat_server(), "lab-chat-server", &["--addr", listen]);
    let first = server.next_line().await;
    assert!(
        first.contains(listen),
        "服务端的第一行应当写出 {listen}：{first}"
    );

    let mut alice = lan.start_on_a(chat_client(), "lab-chat-client", &["--addr", a_addr]);
    alice.next_line().await; // 已连接到……
    alice.expect_line(&greeting(0)).await;
    alice.expect_line(PROMPT).await;
    alice.type_line("alice").await;
    alice.expect_line(&welcome("alice")).await;
    server
        .wait_for_line(|line| line.starts_with("alice（"))
        .await;

    let mut bob = lan.start_on_b(chat_client(), "lab-chat-client", &["--addr", b_addr]);
    bob.next_line().await; // 已连接到……
    bob.expect_line(&greeting(1)).await;
    bob.expect_line(PROMPT).await;
    bob.type_line("bob").await;
    bob.expect_line(&welcome("bob")).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    server.wait_for_line(|line| line.starts_with("bob（")).await;

    bob.type_line("你好，我在主机 B 上").await;
    alice.expect_line("<bob> 你好，我在主机 B 上").await;
    server.expect_line("<bob> 你好，我在主机 B 上").await;
    alice.type_line("收到！我在主机 A 上").await;
    bob.expect_line("<alice> 收到！我在主机 A 上").await;
    server.expect_line("<alice> 收到！我在主机 A 上").await;
    bob.type_line("/who").await;
    bob.expect_line("[系统] 在线 2 人：alice、bob").await;

    bob.type_line("/quit").await;
    bob.expect_line("[系统] 再见，bob！").await;
    bob.expect_exit(0).await;
    alice.expect_line("[系统] bob 离开了聊天室").await;
    server.wait_for_line(|line| line.starts_with("bob（")).await;
    alice.type_line("/quit").await;
    alice.expect_line("[系统] 再见，alice！").await;
    alice.expect_exit(0).await;
    server
        .wait_for_line(|line| line.starts_with("alice（"))
        .await;

    let server_log = on_host("host-a", &server.transcript());
    assert_lan_transcript(&format!("{snapshot}_server"), &server_log);
    let alice_log = on_host("host-a", &alice.transcript());
    assert_lan_transcript(&format!("{snapshot}_alice"), &alice_log);
    let bob_log = on_host("host-b", &bob.transcript());
    assert_lan_transcript(&format!("{snapshot}_bob"), &bob_log);
}

/// IPv4：服务端监听 0.0.0.0:20004（本机所有的 IPv4 地址），主机 B 经 192.0.2.1 连进来。
#[tokio::test]
async fn chat_between_two_hosts_over_ipv4() {
    let b_addr = format!("{A_V4}:20004");
    chat_between_hosts("0.0.0.0:20004", "127.0.0.1:20004", &b_addr, "lan_chat_v4").await;
}

/// IPv6：服务端监听 [::]:20004，主机 B 经 [2001:db8::1]:20004 连进来，alice 用 IPv6 的回环地址 ::1。
#[tokio::test]
async fn chat_between_two_hosts_over_ipv6() {
    let b_addr = format!("[{A_V6}]:20004");
    chat_between_hosts("[::]:20004", "[::1]:20004", &b_addr, "lan_chat_v6").await;
}

// ---------------------------------------------------------------- UDP 回声

/// UDP 回声服务端在主机 A 上接收 0.0.0.0:8080，主机 B 上的客户端发一个数据报过去，收到回声。
#[tokio::test]
async fn udp_echo_between_two_hosts() {
    let Some(lan) = lan_or_skip() else { return };
    let mut server = lan.start_on_a(udp_server(), "lab-udp-server", &["--addr", "0.0.0.0:8080"]);
    let first = server.next_line().await;
    assert!(first.contains("0.0.0.0:8080"), "{first}");

    let addr = format!("{A_V4}:8080");
    let client = lan
        .run_on_b(udp_client(), "lab-udp-client", &["--addr", &addr], "")
        .await;
    assert!(client.ends_with("[退出码 0]"), "{client}");
    server
        .wait_for_line(|line| line.starts_with("read from 192.0.2.2:"))
        .await;

    assert_lan_transcript("lan_udp_client", &on_host("host-b", &client));
    assert_lan_transcript("lan_udp_server", &on_host("host-a", &server.transcript()));
}

// ---------------------------------------------------------------- 连不上的几种样子

/// 服务端用默认地址 127.0.0.1:20000 监听：只有主机 A 自己连得上。主机 B 连 192.0.2.1:20000，
/// 数据包到了主机 A，可那个地址上没有程序在监听，主机 A 回一个 RST：连接被拒绝。
#[tokio::test]
async fn server_on_loopback_is_refused_from_another_host() {
    let Some(lan) = lan_or_skip() else { return };
    let mut server = lan.start_on_a(tcp_server(), "lab-tcp-server", &[]);
    server
        .expect_line("正在监听 127.0.0.1:20000，按 Ctrl-C 停止")
        .await;

    let addr = format!("{A_V4}:20000");
    let client = lan
        .run_on_b(tcp_client(), "lab-tcp-client", &["--addr", &addr], "")
        .await;
    assert!(client.contains("连接被拒绝"), "{client}");
    assert!(client.ends_with("[退出码 1]"), "{client}");

    let both = join_transcripts(&[
        on_host("host-a", &server.transcript()),
        on_host("host-b", &client),
    ]);
    assert_lan_transcript("lan_loopback_refused", &both);
}

/// 主机 A 上的 TCP 回声服务端监听所有地址，另外在主机 A 上设一条防火墙规则 `rule`
/// （只管发往 TCP 20000 端口的数据包）；主机 B 上的客户端去连，返回它的记录。
async fn connect_through_firewall(lan: &Lan, rule: &str, client_args: &[&str]) -> String {
    lan.nft_on_a(&format!(
        "add table inet firewall; \
         add chain inet firewall input {{ type filter hook input priority 0; policy accept; }}; \
         add rule inet firewall input tcp dport 20000 {rule}"
    ));
    let mut server = lan.start_on_a(tcp_server(), "lab-tcp-server", &["--addr", "0.0.0.0:20000"]);
    let first = server.next_line().await;
    assert!(first.contains("0.0.0.0:20000"), "{first}");

    let addr = format!("{A_V4}:20000");
    let mut args = vec!["--addr", addr.as_str()];
    args.extend_from_slice(client_args);
    let client = lan
        .run_on_b(tcp_client(), "lab-tcp-client", &args, "")
        .await;
    assert!(
        client.contains("无法连接到 192.0.2.1:20000："),
        "客户端应当说明连不上 192.0.2.1:20000：\n{client}"
    );
    assert!(client.ends_with("[退出码 1]"), "{client}");
    on_host("host-b", &client)
}

/// 防火墙悄悄丢掉 SYN：客户端什么回音也收不到，等满 --connect-timeout 秒后放弃。
/// （要用客户端的 --connect-timeout 和“连接超时”的说明。）
#[tokio::test]
async fn firewall_drop_makes_the_connect_time_out() {
    let Some(lan) = lan_with_firewall_or_skip() else {
        return;
    };
    let client = connect_through_firewall(&lan, "drop", &["--connect-timeout", "1"]).await;
    assert!(client.contains("连接超时"), "{client}");
    assert_lan_transcript("lan_firewall_drop", &client);
}

/// 防火墙回一个 ICMP“管理上禁止”：客户端马上知道连不上，系统报告成“主机不可达”。
/// （要用客户端对“主机不可达”的说明。）
#[tokio::test]
async fn firewall_reject_admin_prohibited_is_host_unreachable() {
    let Some(lan) = lan_with_firewall_or_skip() else {
        return;
    };
    let rule = "reject with icmpx type admin-prohibited";
    let client = connect_through_firewall(&lan, rule, &[]).await;
    assert!(client.contains("主机不可达"), "{client}");
    assert_lan_transcript("lan_firewall_admin_prohibited", &client);
}

/// 防火墙替主机 A 回一个 RST：在客户端看来，和没有程序在监听一模一样。
#[tokio::test]
async fn firewall_reject_with_tcp_reset_is_refused() {
    let Some(lan) = lan_with_firewall_or_skip() else {
        return;
    };
    let client = connect_through_firewall(&lan, "reject with tcp reset", &[]).await;
    assert!(client.contains("连接被拒绝"), "{client}");
    assert_lan_transcript("lan_firewall_reset", &client);
}

// ---------------------------------------------------------------- 一个名字，两个地址

/// 主机 B 的 /etc/hosts 给主机 A 起名 host-a，写了两个地址：先是一个没有人用的 192.0.2.3，
/// 再是主机 A 真正的 192.0.2.1。客户端依次试：第一个地址连不上（ARP 问了没人回答，
/// 等满 --connect-timeout 的 1 秒就放弃；不设时限，约 3 秒后系统会报告“主机不可达”），
/// 接着连上第二个，说出连上的是哪个地址，然后照常收发。它对第一个地址说了什么由快照钉住。
///
/// 没有人用的地址为什么是 192.0.2.3 而不是更显眼的 192.0.2.99：glibc 的 getaddrinfo 按 RFC 3484
/// 给地址排序（规则 9，最长匹配前缀），同一网段里和本机地址（192.0.2.2）开头相同的位数越多越靠前。192.0.2.99 会被排到 192.0.2.1 后面，
/// 客户端第一次就连上了；192.0.2.3 和 192.0.2.2 只差最后一位，排在最前面。
/// （要用客户端的 --connect-timeout、依次试每个地址和“已连接到 IP:端口”。）
#[tokio::test]
async fn name_with_a_dead_address_first_reaches_the_second() {
    let Some(lan) = lan_or_skip() else { return };
    lan.set_hosts_on_b("127.0.0.1 localhost\n192.0.2.3 host-a\n192.0.2.1 host-a\n");
    let mut server = lan.start_on_a(tcp_server(), "lab-tcp-server", &["--addr", "0.0.0.0:20000"]);
    let first = server.next_line().await;
    assert!(first.contains("0.0.0.0:20000"), "{first}");

    // 输入一次给全：记录里先是标准输出（回声），再是标准错误（连接的经过），顺序每次都一样
    let args = ["--addr", "host-a:20000", "--connect-timeout", "1"];
    let client = lan
        .run_on_b(tcp_client(), "lab-tcp-client", &args, "hello\n")
        .await;
    assert!(
        client
            .lines()
            .any(|line| line.starts_with("已连接到 192.0.2.1:20000")),
        "客户端应当说出它连上的是 192.0.2.1:20000：\n{client}"
    );
    assert!(
        client.lines().nth(1) == Some("hello") && client.ends_with("[退出码 0]"),
        "连上以后应当照常收到回声 hello，正常退出：\n{client}"
    );
    // 客户端确实先试了 192.0.2.3：主机 B 为它发过 ARP 询问，邻居表里留下了一行
    let neighbour = lan.neighbour_on_b("192.0.2.3");
    assert!(
        !neighbour.is_empty(),
        "客户端应当先试 192.0.2.3（hosts 里的第一个地址），可主机 B 从没找过它：\n{client}"
    );
    assert_lan_transcript("lan_name_two_addresses", &on_host("host-b", &client));
}

// ---------------------------------------------------------------- 在局域网里找到聊天室

/// 主机 A 上的聊天室监听 [::]:20004（双栈），开着 --announce；alice 已经在里面。主机 B 上的 bob 不写地址，
/// 用 --discover 找：客户端向主机 B 网卡的广播地址 192.0.2.255、本机 127.0.0.1 和 IPv6 组播组各发一个请求，
/// 主机 A 从 IPv4 和 IPv6 各回答一次，列表里是同一个房间的两个地址。bob 选 1（IPv4 那个），加入，说一句话。
#[tokio::test]
async fn discovery_finds_and_joins_a_room_on_another_host() {
    let Some(lan) = lan_or_skip() else { return };
    let server_args = [
        "--addr",
        "[::]:20004",
        "--announce",
        "--room-name",
        "二楼机房",
    ];
    let mut server = lan.start_on_a(chat_server(), "lab-chat-server", &server_args);
    server
        .wait_for_line(|line| line.contains("IPv6 组播组"))
        .await;

    let mut alice = lan.start_on_a(
        chat_client(),
        "lab-chat-client",
        &["--addr", "127.0.0.1:20004"],
    );
    alice.wait_for_line(|line| line == PROMPT).await;
    alice.type_line("alice").await;
    alice.expect_line(&welcome("alice")).await;
    server
        .wait_for_line(|line| line.starts_with("alice（"))
        .await;

    let mut bob = lan.start_on_b(chat_client(), "lab-chat-client", &["--discover"]);
    bob.wait_for_line(|line| line.starts_with("输入编号进入聊天室"))
        .await;
    let listing = bob.transcript();
    assert!(
        listing.contains("1. 二楼机房（192.0.2.1:20004，1 人在线）"),
        "bob 应当经 IPv4 广播找到主机 A 上的聊天室，里面有 1 个人：\n{listing}"
    );
    assert!(
        listing.contains("2. 二楼机房（[fe80::"),
        "bob 也应当经 IPv6 组播找到它（链路本地地址）：\n{listing}"
    );
    bob.type_line("1").await;
    bob.expect_line("已连接到 192.0.2.1:20004。输入一行回车发送，输入 /quit 或 Q 离开。")
        .await;
    bob.expect_line(&greeting(1)).await;
    bob.expect_line(PROMPT).await;
    bob.type_line("bob").await;
    bob.expect_line(&welcome("bob")).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    bob.type_line("我是从主机 B 找过来的").await;
    alice.expect_line("<bob> 我是从主机 B 找过来的").await;
    server
        .wait_for_line(|line| line == "<bob> 我是从主机 B 找过来的")
        .await;
    bob.type_line("/quit").await;
    bob.expect_line("[系统] 再见，bob！").await;
    bob.expect_exit(0).await;
    server.wait_for_line(|line| line.starts_with("bob（")).await;

    assert_lan_transcript("lan_discovery_bob", &on_host("host-b", &bob.transcript()));
    // 服务端的两个发现套接字（IPv4 和 IPv6）各由一个任务回答，两行“在找聊天室”谁先打印不一定：
    // 记录里把它们按字母排好，别的行保持原样
    let server_log = on_host("host-a", &sorted_discovery_lines(&server.transcript()));
    for from in ["192.0.2.2:", "[fe80::"] {
        assert!(
            server_log
                .lines()
                .any(|line| line.starts_with(from) && line.ends_with("在找聊天室，已回答")),
            "主机 A 应当回答了来自 {from}… 的发现请求：\n{server_log}"
        );
    }
    assert_lan_transcript("lan_discovery_server", &server_log);
}

/// 把记录里相邻的“在找聊天室”几行排好序（它们来自两个并发的任务）。
fn sorted_discovery_lines(transcript: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    for line in transcript.lines() {
        if line.contains("在找聊天室") {
            block.push(line.to_string());
            continue;
        }
        block.sort();
        out.append(&mut block);
        out.push(line.to_string());
    }
    block.sort();
    out.append(&mut block);
    out.join("\n")
}

/// 测试结束时（通过也好、panic 也好）两台主机都被拆掉，不留下任何命名空间。
#[test]
fn lan_is_removed_even_when_a_test_panics() {
    let Some(lan) = lan_or_skip() else { return };
    let names = lan.on_a()[3].to_string();
    let other = lan.on_b()[3].to_string();
    let panicked = std::panic::catch_unwind(move || {
        let _lan = lan;
        panic!("测试故意失败，看看两台主机会不会被拆掉");
    });
    assert!(panicked.is_err());
    for name in [names, other] {
        let path = Path::new("/var/run/netns").join(&name);
        assert!(!path.exists(), "测试失败以后，命名空间 {name} 还在");
    }
}
