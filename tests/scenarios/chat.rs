//! 第 4 章全双工聊天室的场景。服务端的场景用测试里的 TCP 连接扮演 `nc` 用户；
//! 客户端的场景用测试里的 TCP 监听器扮演服务端（或者启动真正的聊天服务端）。

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::support::*;

const SERVER: &str = "lab-chat-server";
const CLIENT: &str = "lab-chat-client";

/// 问候和要昵称的两行。
const GREETING_PROMPT: &str = "[系统] 请输入你的昵称：";

/// 昵称不合规则时的回答。
const BAD_NICK: &str = "[系统] 昵称只能由汉字、字母、数字、_ 和 - 组成（不能有看不见的字符和全角字母），最多 16 个字，请重新输入：";

fn greeting(online: usize) -> String {
    format!("[系统] 欢迎来到聊天室！现在有 {online} 人在线。")
}

fn welcome(nick: &str) -> String {
    format!("[系统] 你好，{nick}！直接输入文字就是对所有人说话，输入 /help 查看命令。")
}

/// 连上聊天室，读问候，起好昵称。`online` 是进门前已经在线的人数。
pub async fn join(addr: SocketAddr, nick: &str, online: usize) -> LinePeer {
    let mut peer = LinePeer::connect(addr).await;
    enter(&mut peer, nick, online).await;
    peer
}

async fn enter(peer: &mut LinePeer, nick: &str, online: usize) {
    peer.expect_line(&greeting(online)).await;
    peer.expect_line(GREETING_PROMPT).await;
    peer.say(nick).await;
    peer.expect_line(&welcome(nick)).await;
}

// ---------------------------------------------------------------- 三个人的对话

/// 一场多人对话：每个人的连接，以及按时间顺序记下的“谁说了什么、谁听到了什么”。
struct Conversation {
    addr: SocketAddr,
    peers: BTreeMap<&'static str, LinePeer>,
    log: Vec<String>,
}

impl Conversation {
    /// `name` 连上聊天室（还没起昵称）。
    async fn connect(&mut self, name: &'static str) {
        self.log.push(format!("{name:<5} 连上了聊天室"));
        let peer = LinePeer::connect(self.addr).await;
        self.peers.insert(name, peer);
    }

    /// `name` 输入一行并回车。
    async fn say(&mut self, name: &'static str, text: &str) {
        self.log.push(format!("{name:<5} > {text}"));
        self.peer(name).say(text).await;
    }

    /// `name` 接下来收到的一行必须是 `expected`。
    async fn hears(&mut self, name: &'static str, expected: &str) {
        let line = self.peer(name).next_line().await;
        self.log.push(format!("{name:<5} < {line}"));
        if line != expected {
            panic!(
                "{name} 收到的这一行不对。\n期望：{expected}\n实际：{line}\n对话记录：\n{}",
                self.log.join("\n")
            );
        }
    }

    /// `name` 的连接必须已经结束，而且之前没有多余的行。
    async fn sees_closed(&mut self, name: &'static str) {
        let rest = self.peer(name).expect_closed().await;
        assert!(
            rest.is_empty(),
            "{name} 的连接结束之前，多收到了：\n{}",
            rest.join("\n")
        );
        self.log.push(format!("{name:<5} [连接已关闭]"));
    }

    fn peer(&mut self, name: &str) -> &mut LinePeer {
        self.peers.get_mut(name).expect("这个人已经连上")
    }
}

/// 三个人的一场对话，一步一步地进行：起昵称（一次无效、一次重名）、说话、私信、
/// `/who`、服务端通知、改名、离开。每一步都等到所有该收到的人都收到了，才进行下一步。
/// 记下两份快照：三个人看到的对话，以及服务端控制台的输出。
pub async fn server_three_clients(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let mut room = Conversation {
        addr,
        peers: BTreeMap::new(),
        log: Vec::new(),
    };

    room.connect("alice").await;
    room.hears("alice", &greeting(0)).await;
    room.hears("alice", GREETING_PROMPT).await;
    room.say("alice", "alice smith").await;
    room.hears("alice", BAD_NICK).await;
    room.say("alice", "alice").await;
    room.hears("alice", &welcome("alice")).await;

    room.connect("bob").await;
    room.hears("bob", &greeting(1)).await;
    room.hears("bob", GREETING_PROMPT).await;
    room.say("bob", "Alice").await;
    room.hears("bob", "[系统] 昵称 Alice 已经有人在用了，请重新输入：")
        .await;
    room.say("bob", "bob").await;
    room.hears("bob", &welcome("bob")).await;
    room.hears("alice", "[系统] bob 进入了聊天室").await;

    room.connect("carol").await;
    room.hears("carol", &greeting(2)).await;
    room.hears("carol", GREETING_PROMPT).await;
    room.say("carol", "小红").await;
    room.hears("carol", &welcome("小红")).await;
    room.hears("alice", "[系统] 小红 进入了聊天室").await;
    room.hears("bob", "[系统] 小红 进入了聊天室").await;

    room.say("alice", "大家好！").await;
    room.hears("bob", "<alice> 大家好！").await;
    room.hears("carol", "<alice> 大家好！").await;

    room.say("carol", "/who").await;
    room.hears("carol", "[系统] 在线 3 人：alice、bob、小红")
        .await;

    room.say("bob", "/msg 小红 晚上一起吃饭？").await;
    room.hears("bob", "[私信→小红] 晚上一起吃饭？").await;
    room.hears("carol", "[私信] <bob> 晚上一起吃饭？").await;

    room.say("carol", "/msg dave 在吗").await;
    room.hears("carol", "[系统] 没有叫 dave 的人，输入 /who 看看谁在线")
        .await;

    // 服务端的控制台：先等它显示完前面的事，再输入一条通知
    server
        .wait_for_line(|line| line.starts_with("[私信] bob → 小红"))
        .await;
    server.type_line("今晚十点停机维护").await;
    server
        .wait_for_line(|line| line.starts_with("[服务端] 今晚十点停机维护"))
        .await;
    for name in ["alice", "bob", "carol"] {
        room.hears(name, "[服务端] 今晚十点停机维护").await;
    }

    room.say("bob", "/nick 小明").await;
    room.hears("bob", "[系统] 你现在叫 小明").await;
    room.hears("alice", "[系统] bob 改名为 小明").await;
    room.hears("carol", "[系统] bob 改名为 小明").await;

    room.say("alice", "<小红> 我是小红").await;
    room.hears("bob", "<alice> <小红> 我是小红").await;
    room.hears("carol", "<alice> <小红> 我是小红").await;

    room.say("alice", "/quit").await;
    room.hears("alice", "[系统] 再见，alice！").await;
    room.sees_closed("alice").await;
    room.hears("bob", "[系统] alice 离开了聊天室").await;
    room.hears("carol", "[系统] alice 离开了聊天室").await;

    // 小红直接关掉连接（像在 nc 里按 Ctrl-C）
    room.log.push("carol [关闭了连接]".to_string());
    drop(room.peers.remove("carol"));
    room.hears("bob", "[系统] 小红 离开了聊天室").await;

    room.say("bob", "/who").await;
    room.hears("bob", "[系统] 在线 1 人：小明").await;

    server
        .wait_for_line(|line| line.contains("小红（") && line.contains("断开了连接"))
        .await;
    assert_transcript("chat_room", &room.log.join("\n"));
    assert_transcript("chat_server_console", &server.transcript());
}

/// /help 列出所有命令；不认识的命令会被指出来；空行不转发。
pub async fn server_help_and_unknown_command(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    alice.say("").await;
    alice.say("/help").await;
    for command in ["/nick", "/who", "/msg", "/quit", "/help"] {
        let line = alice.next_line().await;
        if !line.contains(command) {
            // 第一行是“直接输入文字”的说明
            let line = alice.next_line().await;
            assert!(line.contains(command), "/help 应当说明 {command}：{line}");
        }
    }
    alice.say("/dance").await;
    alice.wait_for_line_containing("没有 /dance 这个命令").await;
    alice.say("/nick").await;
    alice.wait_for_line_containing("昵称没有改").await;
    alice.say("/msg bob").await;
    alice.expect_line("[系统] 用法：/msg 昵称 内容").await;
    // 空行没有被转发：bob 收到的下一行就是这一条
    alice.say("还在").await;
    bob.expect_line("<alice> 还在").await;
}

// ---------------------------------------------------------------- 服务端的健壮性

/// 超过 4096 字节的一行不转发，并告诉发送者；恰好 4096 字节的照常转发。
/// 一直不发换行的 48 MiB 也不会让服务端的内存跟着涨。其他人不受影响。
pub async fn server_refuses_long_lines(server: &Path) {
    let (server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;

    let exactly = "x".repeat(4096);
    alice.say(&exactly).await;
    bob.expect_line(&format!("<alice> {exactly}")).await;

    alice.say(&"y".repeat(4097)).await;
    alice
        .expect_line("[系统] 这一行超过了 4096 字节，没有发出去。")
        .await;

    // 48 MiB 没有换行：服务端应当边读边扔，而不是攒在内存里
    let before = resident_kib(server.pid());
    let chunk = vec![b'z'; 1024 * 1024];
    for _ in 0..48 {
        alice.send(&chunk).await;
    }
    alice.send(b"\n").await;
    alice
        .expect_line("[系统] 这一行超过了 4096 字节，没有发出去。")
        .await;
    let after = resident_kib(server.pid());
    assert!(
        after < before + 16 * 1024,
        "服务端的常驻内存从 {before} KiB 涨到了 {after} KiB：超长的行被攒在了内存里"
    );

    // 超长的行被整行丢掉，下一行照常转发；bob 没有收到任何超长行的片段
    alice.say("短的这行照常").await;
    bob.expect_line("<alice> 短的这行照常").await;
}

/// 不是 UTF-8 的字节换成 �，控制字符（C0、DEL、C1，制表符除外）和双向文字控制符显示成转义，
/// 谁也没法借聊天室移动别人的光标、改别人的窗口标题或者写别人的剪贴板。
pub async fn server_sanitises_text(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;

    alice.send(b"bad \xff\xfe bytes \xe4\xbd\n").await;
    bob.expect_line("<alice> bad \u{fffd}\u{fffd} bytes \u{fffd}")
        .await;

    // 清屏、改窗口标题（OSC 0）、写剪贴板（OSC 52）、C1 的 CSI、退格、DEL、制表符
    alice
        .send(b"\x1b[2J \x1b]0;pwned\x07 \x1b]52;c;aGk=\x07 \xc2\x9b1A \x08\x7f tab\tok\r\n")
        .await;
    bob.expect_line(
        "<alice> \\u{1b}[2J \\u{1b}]0;pwned\\u{7} \\u{1b}]52;c;aGk=\\u{7} \\u{9b}1A \\u{8}\\u{7f} tab\tok",
    )
    .await;

    // 从右往左覆盖符会让后半行倒着显示
    alice.say("file\u{202e}txt.exe").await;
    bob.expect_line("<alice> file\\u{202e}txt.exe").await;

    // 一行里的回车没法伪造出一行“别人说的话”
    alice.send(b"hi\r<bob> I owe alice 100\n").await;
    bob.expect_line("<alice> hi\\r<bob> I owe alice 100").await;

    // 带控制字符的昵称不被接受
    let mut mallory = LinePeer::connect(addr).await;
    mallory.expect_line(&greeting(2)).await;
    mallory.expect_line(GREETING_PROMPT).await;
    mallory.send(b"\x1b[31mred\n").await;
    mallory.expect_line(BAD_NICK).await;
    mallory.say("一二三四五六七八九十一二三四五六七").await;
    mallory.expect_line(BAD_NICK).await;
}

/// 一个客户端连上以后不再读：它的队列有上限，排满了就被断开，其他人一直照常收到每一条消息，
/// 服务端的内存也不会无限上涨。
pub async fn server_drops_slow_reader(server: &Path) {
    // alice 要尽快地发，直到塞满 slow 的队列，所以不限速（--max-rate 0，见 server_slows_down_a_flood）
    let (server, addr) = start_server(server, SERVER, &["--max-rate", "0"]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut slow = LinePeer::connect_with_small_buffer(addr).await;
    enter(&mut slow, "slow", 1).await;
    alice.expect_line("[系统] slow 进入了聊天室").await;
    let mut carol = join(addr, "carol", 2).await;
    alice.expect_line("[系统] carol 进入了聊天室").await;
    // slow 从这里起一行也不再读

    // alice 不停地发 4000 字节的行，直到 carol 看到 slow 被断开（最多发 100 MB）
    let kicked = Arc::new(AtomicBool::new(false));
    let line = "m".repeat(3990);
    let flood = {
        let kicked = kicked.clone();
        let line = line.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            while !kicked.load(Ordering::Relaxed) && sent < 25_000 {
                alice.say(&format!("{sent:06}{line}")).await;
                sent += 1;
            }
            (alice, sent)
        })
    };
    let pid = server.pid();
    let mut peak = 0;
    let mut received = 0;
    let notice = loop {
        let got = carol.next_line().await;
        if !got.starts_with("<alice> ") {
            break got;
        }
        // carol 收到的每一行都按顺序、一行不少
        assert_eq!(
            got,
            format!("<alice> {received:06}{line}"),
            "carol 收到的第 {received} 行不对"
        );
        received += 1;
        if received % 500 == 0 {
            peak = peak.max(resident_kib(pid));
        }
    };
    kicked.store(true, Ordering::Relaxed);
    assert_eq!(notice, "[系统] slow 接收太慢，已被断开");
    // slow 这时开始读：被断开之前，服务端最后告诉它为什么
    let slow_rest = tokio::spawn(async move { slow.expect_closed().await });
    let (mut alice, sent) = timeout(WAIT, flood)
        .await
        .expect("alice 停下")
        .expect("alice");

    // 断开之后，carol 收到 alice 发出的剩下每一行，然后照常聊天
    for n in received..sent {
        carol.expect_line(&format!("<alice> {n:06}{line}")).await;
    }
    alice.expect_line("[系统] slow 接收太慢，已被断开").await;
    alice.say("还在吗").await;
    carol.expect_line("<alice> 还在吗").await;
    peak = peak.max(resident_kib(pid));
    assert!(
        peak < 64 * 1024,
        "慢客户端塞住时，服务端的常驻内存涨到了 {peak} KiB（发出了 {sent} 行、共约 {} MB）",
        sent * 4 / 1000
    );
    // slow 的连接已经被关闭，最后一行说明了原因
    let rest = timeout(WAIT, slow_rest)
        .await
        .expect("slow 的连接结束")
        .expect("slow");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("[系统] 你有 1024 行消息没有读走，服务端断开了你的连接（接收太慢）"),
        "slow 最后收到的几行：{:?}",
        &rest[rest.len().saturating_sub(3)..]
    );
}

/// 一个客户端发了半行就重置了连接（RST）：半行不会被转发，其他人只看到它离开，聊天照常。
pub async fn server_survives_reset_mid_line(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut mallory = join(addr, "mallory", 1).await;
    alice.expect_line("[系统] mallory 进入了聊天室").await;

    mallory.send(b"half a li").await;
    let mallory_addr = mallory.local_addr();
    server
        .wait_for_line(|line| line.contains(&format!("mallory（{mallory_addr}）进入")))
        .await;
    mallory.reset();
    alice.expect_line("[系统] mallory 离开了聊天室").await;
    let reported = server
        .wait_for_line(|line| line.contains(&mallory_addr.to_string()) && line.contains("出错"))
        .await;
    assert!(
        reported.contains("重置"),
        "服务端应当报告连接被重置：{reported}"
    );

    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    bob.say("刚才怎么了？").await;
    alice.expect_line("<bob> 刚才怎么了？").await;
}

/// 一个客户端正常关闭之前发的最后半行（没有换行）照常转发：好好说的话一句也不丢。
pub async fn server_delivers_last_unterminated_line(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    bob.send(b"no newline at the end").await;
    bob.shutdown().await;
    alice.expect_line("<bob> no newline at the end").await;
    alice.expect_line("[系统] bob 离开了聊天室").await;
    // 输入结束和 /quit 一样：服务端说声再见，再关闭连接
    assert_eq!(bob.expect_closed().await, ["[系统] 再见，bob！"]);
}

/// 20 个人同时各说 10 句：每个人都按各自的顺序收到其他 19 个人的全部 190 句，
/// 而且任意两个人看到的别人说话的先后顺序完全一样（大厅按到达的顺序逐条转发）。
pub async fn server_relays_between_many_clients(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let count = 20;
    let mut peers = Vec::new();
    for id in 0..count {
        peers.push(join(addr, &format!("p{id}"), id).await);
    }
    // 每个人先读完后来者进门的通知
    for (id, peer) in peers.iter_mut().enumerate() {
        for later in id + 1..count {
            peer.expect_line(&format!("[系统] p{later} 进入了聊天室"))
                .await;
        }
    }
    let mut tasks = JoinSet::new();
    for (id, mut peer) in peers.into_iter().enumerate() {
        tasks.spawn(async move {
            for seq in 0..10 {
                peer.say(&format!("{id}:{seq}")).await;
            }
            let mut next = vec![0; count];
            let mut seen = Vec::new();
            for _ in 0..(count - 1) * 10 {
                let line = peer.next_line().await;
                let (from, seq) = parse_numbered(&line);
                assert!(from != id, "自己说的话不该转回给自己：p{id} 收到了 {line}");
                assert!(
                    seq == next[from],
                    "p{id} 收到 p{from} 的消息顺序不对：期望 p{from} 的第 {} 条，收到 {line}",
                    next[from]
                );
                next[from] += 1;
                seen.push((from, seq));
            }
            (id, seen)
        });
    }
    let mut seen_by = vec![Vec::new(); count];
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok((id, seen)) => seen_by[id] = seen,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
    // 任意两个人 a、b：去掉他们俩自己说的话，剩下的先后顺序必须一样
    for a in 0..count {
        for b in a + 1..count {
            let others = |seen: &[(usize, usize)]| -> Vec<(usize, usize)> {
                seen.iter()
                    .copied()
                    .filter(|(from, _)| *from != a && *from != b)
                    .collect()
            };
            assert!(
                others(&seen_by[a]) == others(&seen_by[b]),
                "p{a} 和 p{b} 看到的别人说话的顺序不一样：同一个服务端转发的话，每个人看到的先后应当相同"
            );
        }
    }
}

/// 解析 `<pN> N:SEQ`。
fn parse_numbered(line: &str) -> (usize, usize) {
    let text = line.split_once("> ").map(|(_, t)| t).unwrap_or_default();
    let (from, seq) = text
        .split_once(':')
        .unwrap_or_else(|| panic!("不是编号消息：{line}"));
    (
        from.parse().unwrap_or_else(|_| panic!("{line}")),
        seq.parse().unwrap_or_else(|_| panic!("{line}")),
    )
}

/// 服务端的控制台说话，所有人（包括还没起昵称的）都收到；控制台的输入结束后聊天室照常运行。
pub async fn server_console_notice(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    server.wait_for_line(|line| line.contains("alice（")).await;
    let mut stranger = LinePeer::connect(addr).await;
    stranger.expect_line(&greeting(1)).await;
    stranger.expect_line(GREETING_PROMPT).await;

    server.type_line("大家好，我是管理员").await;
    server
        .wait_for_line(|line| line == "[服务端] 大家好，我是管理员（已发给 2 人）")
        .await;
    alice.expect_line("[服务端] 大家好，我是管理员").await;
    stranger.expect_line("[服务端] 大家好，我是管理员").await;

    // 控制台里的控制字符也一样转义
    server.type_line("\u{1b}[2J清屏").await;
    alice.expect_line("[服务端] \\u{1b}[2J清屏").await;
    stranger.expect_line("[服务端] \\u{1b}[2J清屏").await;

    // 标准输入关闭（像在后台运行那样）：聊天室照常运行
    server.close_stdin();
    server
        .wait_for_line(|line| line.contains("控制台的输入已结束"))
        .await;
    stranger.say("bob").await;
    stranger.expect_line(&welcome("bob")).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    stranger.say("还开着").await;
    alice.expect_line("<bob> 还开着").await;
}

#[cfg(unix)] // 测试只能在 Unix 上给被测程序单独发 Ctrl-C（见 support::Program::interrupt）
/// Ctrl-C：服务端告诉每个人它要关了，把已经收下的消息全部发完，关闭连接，以退出码 0 结束。
pub async fn server_ctrl_c(server: &Path) {
    // alice 要一口气发 300 行，超过了每人每秒的默认上限，所以不限速（--max-rate 0，见 server_slows_down_a_flood）
    let (mut server, addr) = start_server(server, SERVER, &["--max-rate", "0"]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    let mut stranger = LinePeer::connect(addr).await;
    stranger.expect_line(&greeting(2)).await;

    // alice 一口气发 300 行；等服务端的控制台显示它收下了最后一行，再按 Ctrl-C
    let mut burst = String::new();
    for n in 0..300 {
        burst.push_str(&format!("第 {n} 行\n"));
    }
    alice.send(burst.as_bytes()).await;
    server
        .wait_for_line(|line| line == "<alice> 第 299 行")
        .await;
    server.interrupt();

    for n in 0..300 {
        bob.expect_line(&format!("<alice> 第 {n} 行")).await;
    }
    for peer in [&mut alice, &mut bob] {
        peer.expect_line("[系统] 服务端要关闭了，再见！").await;
        assert!(peer.expect_closed().await.is_empty());
    }
    stranger.expect_line(GREETING_PROMPT).await;
    stranger.expect_line("[系统] 服务端要关闭了，再见！").await;
    stranger.expect_closed().await;

    let status = server.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", server.transcript());
    let transcript = server.transcript();
    assert!(transcript.contains("收到 Ctrl-C"), "{transcript}");
    assert!(
        transcript.ends_with("聊天室已关闭\n[退出码 0]"),
        "{transcript}"
    );
}

#[cfg(unix)] // 测试只能在 Unix 上给被测程序单独发 Ctrl-C（见 support::Program::interrupt）
/// 刚启动就按 Ctrl-C：服务端打印出地址的那一刻，Ctrl-C 的处理就已经登记好了，
/// 所以它照样说明情况、正常关闭，以退出码 0 结束，而不是被信号直接结束。
pub async fn server_ctrl_c_at_startup(server: &Path) {
    let (mut server, _addr) = start_server(server, SERVER, &[]).await;
    server.interrupt();
    let status = server.wait_exit().await;
    let transcript = server.transcript();
    assert_eq!(status.code(), Some(0), "{transcript}");
    assert!(transcript.contains("收到 Ctrl-C"), "{transcript}");
    assert!(
        transcript.ends_with("聊天室已关闭\n[退出码 0]"),
        "{transcript}"
    );
}

/// 端口已被占用：一行中文说明原因和办法，退出码非零。
pub fn server_port_in_use(server: &Path) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("占一个端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(server, SERVER, &["--addr", &addr], "");
    assert_transcript("chat_server_port_in_use", &transcript);
}

// ---------------------------------------------------------------- 客户端

/// 全双工：客户端的标准输入一直开着、一个字也不输入，服务端发来的行照样马上显示；
/// 输入的行马上发出去；服务端关闭连接时，客户端不等回车就说明情况并退出。
pub async fn client_full_duplex(client: &Path) {
    let (listener, addr) = test_listener().await;
    let addr = addr.to_string();
    let mut client = Program::start(client, CLIENT, &["--addr", &addr]);
    let mut server = LinePeer::from_stream(accept(&listener).await);
    client
        .expect_line(&format!(
            "已连接到 {addr}。输入一行回车发送，输入 /quit 或 Q 离开。"
        ))
        .await;

    // 没人输入，服务端主动说话
    server.say("[系统] 欢迎！请输入你的昵称：").await;
    client.expect_line("[系统] 欢迎！请输入你的昵称：").await;
    client.type_line("alice").await;
    server.expect_line("alice").await;
    server.say("<bob> 你好 alice").await;
    server.say("<bob> \u{1b}]0;pwned\u{7}看标题").await;
    client.expect_line("<bob> 你好 alice").await;
    client
        .expect_line("<bob> \\u{1b}]0;pwned\\u{7}看标题")
        .await;
    client.type_line("你好 bob").await;
    server.expect_line("你好 bob").await;
    // 空行不发
    client.type_line("").await;
    client.type_line("还在").await;
    server.expect_line("还在").await;

    // 服务端走了；客户端的标准输入还开着，它也不该等用户再按回车
    server.say("[系统] 服务端要关闭了，再见！").await;
    drop(server);
    client.expect_line("[系统] 服务端要关闭了，再见！").await;
    client.expect_line("服务端关闭了连接，聊天结束。").await;
    client.expect_exit(1).await;
    assert_transcript("chat_client_full_duplex", &client.transcript());
}

/// 离开的三种方式：输入 Q、输入 /quit、输入结束。客户端都会关闭发送方向，
/// 显示完服务端最后说的话，以退出码 0 结束。
pub async fn client_leaves_cleanly(client: &Path) {
    for (typed, sent) in [
        (Some("Q"), None),
        (Some("/quit"), Some("/quit")),
        (None, None),
    ] {
        let (listener, addr) = test_listener().await;
        let mut program = Program::start(client, CLIENT, &["--addr", &addr.to_string()]);
        let mut server = LinePeer::from_stream(accept(&listener).await);
        program.next_line().await; // 已连接的提示
        match typed {
            Some(text) => program.type_line(text).await,
            None => program.close_stdin(),
        }
        // 服务端收到的是 /quit（如果输入了它）和连接结束
        let rest = server.expect_closed().await;
        let how = typed.map_or("输入结束（Ctrl-D）".to_string(), |t| {
            format!("输入 {t}")
        });
        assert!(
            rest.first().map(String::as_str) == sent,
            "{how} 之后，服务端应当收到{}，实际收到：{}",
            sent.map_or("连接结束（什么也不发）".to_string(), |s| format!(
                " {s} 再收到连接结束"
            )),
            if rest.is_empty() {
                "（什么也没有）".to_string()
            } else {
                rest.join(" | ")
            }
        );
        // 服务端在对方关闭发送方向后还能说最后一句
        server.say("[系统] 再见！").await;
        drop(server);
        program.expect_exit(0).await;
        assert!(
            program.transcript().contains("[系统] 再见！"),
            "离开前应当显示完服务端最后说的话：\n{}",
            program.transcript()
        );
    }
}

/// 用真正的聊天服务端：两个客户端程序在聊天室里对话。
pub async fn client_in_real_room(client: &Path, server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let addr = addr.to_string();
    let mut bob = join(addr.parse().expect("地址"), "bob", 0).await;

    let mut alice = Program::start(client, CLIENT, &["--addr", &addr]);
    alice.next_line().await;
    alice.expect_line(&greeting(1)).await;
    alice.expect_line(GREETING_PROMPT).await;
    alice.type_line("alice").await;
    alice.expect_line(&welcome("alice")).await;
    bob.expect_line("[系统] alice 进入了聊天室").await;
    bob.say("欢迎 alice").await;
    alice.expect_line("<bob> 欢迎 alice").await;
    alice.type_line("谢谢！").await;
    bob.expect_line("<alice> 谢谢！").await;
    alice.type_line("/who").await;
    alice.expect_line("[系统] 在线 2 人：bob、alice").await;
    alice.type_line("/quit").await;
    alice.expect_line("[系统] 再见，alice！").await;
    let status = alice.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", alice.transcript());
    bob.expect_line("[系统] alice 离开了聊天室").await;
    assert_transcript("chat_client_run", &alice.transcript());
}

/// 刷屏：一个人尽快地发 10 万行短消息，三个真正的 lab-chat-client 在听。服务端按每人每秒的上限
/// 放慢读刷屏者的连接，所以听的人跟得上，谁也不会因为“接收太慢”被断开；刷屏的人收到一句提醒，
/// 别人说的话照常送到。
pub async fn server_slows_down_a_flood(server: &Path, client: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &[]).await;
    let mut listeners = Vec::new();
    for (online, nick) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let mut program = Program::start(client, CLIENT, &["--addr", &addr.to_string()]);
        // “已连接”的提示在标准错误上，和标准输出上的问候谁先到不一定，所以只等要昵称的那一行
        program.wait_for_line(|line| line == GREETING_PROMPT).await;
        assert!(program.transcript().contains(&greeting(online)));
        program.type_line(nick).await;
        program.wait_for_line(|line| line == welcome(nick)).await;
        listeners.push(program);
    }
    let mut mallory = join(addr, "mallory", 3).await;

    // 10 万行，每行 200 字节上下（一共 20 MB，比三个人的接收缓冲区加起来还多），每次写 1000 行；
    // 写不进去（服务端不读了、缓冲区也满了）就停下，最多写 5 秒
    let filler = "刷".repeat(64);
    let flood = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut sent = 0;
        while sent < 100_000 {
            let batch: String = (sent..sent + 1000)
                .map(|n| format!("{n:06}{filler}\n"))
                .collect();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !mallory.send_within(batch.as_bytes(), left).await {
                break;
            }
            sent += 1000;
        }
        mallory
    });
    let mut mallory = timeout(WAIT, flood)
        .await
        .expect("刷屏在 5 秒内停下")
        .expect("刷屏的任务");

    // 刷屏还在慢慢地转发，别人说的话照常送到：alice 说一句，bob 和 carol 都收到，alice 自己也还在
    listeners[0].type_line("大家还好吗").await;
    for listener in &mut listeners[1..] {
        listener
            .wait_for_line(|line| line == "<alice> 大家还好吗")
            .await;
    }
    listeners[0].type_line("/who").await;
    listeners[0]
        .wait_for_line(|line| line == "[系统] 在线 4 人：alice、bob、carol、mallory")
        .await;
    for listener in &listeners {
        let transcript = listener.transcript();
        assert!(
            !transcript.contains("接收太慢") && !transcript.contains("断开"),
            "刷屏时有人被断开了：\n{transcript}"
        );
    }
    server
        .wait_for_line(|line| {
            line.starts_with("[系统] 在线") || line.contains("<alice> 大家还好吗")
        })
        .await;
    assert!(
        !server.transcript().contains("接收太慢"),
        "服务端断开了读得慢的人"
    );
    // 刷屏的人自己收到一句提醒
    let (_, warning) = mallory
        .read_until_line(|line| line.starts_with("[系统] 你说得太快了"))
        .await;
    assert_eq!(
        warning,
        "[系统] 你说得太快了：每人每秒最多 20 行，多出来的会慢慢发出去"
    );
}

/// 服务端的标准输出接在一个没人读的管道上（就像终端被 Ctrl-S 暂停）：控制台卡住了，
/// 聊天室照常转发，新来的人照常进门；控制台恢复以后，服务端补一句略去了多少行。
pub async fn server_keeps_going_with_a_stalled_console(server: &Path) {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(server);
    command
        .args(["--addr", "127.0.0.1:0", "--max-rate", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("启动聊天服务端");
    let mut console = tokio::io::BufReader::new(child.stdout.take().expect("stdout 是管道"));
    let mut first = String::new();
    timeout(WAIT, console.read_line(&mut first))
        .await
        .expect("等服务端的第一行")
        .expect("读服务端的第一行");
    let addr = find_address(&first).expect("第一行里有地址");
    // 从这里起，没人读服务端的输出

    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    // 5000 行，每行 100 字节：服务端要在控制台上显示 50 万字节，远远超过一个管道能存下的（Linux 上 64 KiB）
    let filler = "x".repeat(94);
    let burst: String = (0..5000).map(|n| format!("{n:05} {filler}\n")).collect();
    alice.send(burst.as_bytes()).await;
    for n in 0..5000 {
        bob.expect_line(&format!("<alice> {n:05} {filler}")).await;
    }
    let mut carol = join(addr, "carol", 2).await;
    bob.expect_line("[系统] carol 进入了聊天室").await;

    // 控制台恢复：在后台把输出读出来，直到出现“略去了几行”；carol 一句一句地说，直到它出现
    let (found, mut note) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut line = String::new();
        while console.read_line(&mut line).await.is_ok_and(|n| n > 0) {
            if line.contains("（控制台跟不上，略去了 ") {
                let _ = found.send(line.trim_end().to_string());
                return;
            }
            line.clear();
        }
    });
    for n in 0..1000 {
        carol.say(&format!("第 {n} 句")).await;
        bob.expect_line(&format!("<carol> 第 {n} 句")).await;
        if let Ok(line) = note.try_recv() {
            assert!(line.ends_with(" 行输出）"), "{line}");
            return;
        }
    }
    let line = timeout(WAIT, note)
        .await
        .expect("控制台恢复以后，应当说明略去了几行")
        .expect("读控制台的任务");
    assert!(line.ends_with(" 行输出）"), "{line}");
}

/// `--max-clients 2`：第三个连接收到“聊天室已满”后被关闭（哪怕它已经发来了昵称），
/// 已经在线的人不受影响；有人离开以后，座位空出来，下一个人又能进门。
pub async fn server_turns_away_the_one_over_the_limit(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &["--max-clients", "2"]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;

    const FULL: &str = "[系统] 聊天室已满（最多 2 人），请稍后再来";
    let mut third = LinePeer::connect(addr).await;
    assert_eq!(third.expect_closed().await, [FULL]);
    let mut eager = LinePeer::connect(addr).await;
    eager.say("carol").await;
    assert_eq!(eager.expect_closed().await, [FULL]);
    server
        .wait_for_line(|line| line.starts_with("聊天室已满（2 人），谢绝了 127.0.0.1:"))
        .await;

    alice.say("还是我们俩").await;
    bob.expect_line("<alice> 还是我们俩").await;
    bob.say("/quit").await;
    bob.expect_line("[系统] 再见，bob！").await;
    alice.expect_line("[系统] bob 离开了聊天室").await;
    let mut carol = join(addr, "carol", 1).await;
    alice.expect_line("[系统] carol 进入了聊天室").await;
    carol.say("我进来了").await;
    alice.expect_line("<carol> 我进来了").await;
}

/// 连上以后迟迟不起昵称的连接：过了 `--nick-timeout` 秒，服务端说明原因并断开它；
/// 按时起好昵称的人不受影响。
pub async fn server_drops_connections_without_a_nick(server: &Path) {
    let (mut server, addr) = start_server(server, SERVER, &["--nick-timeout", "2"]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut idle = LinePeer::connect(addr).await;
    idle.expect_line(&greeting(1)).await;
    idle.expect_line(GREETING_PROMPT).await;
    assert_eq!(
        idle.expect_closed().await,
        ["[系统] 2 秒内没有起好昵称，服务端断开了你的连接"]
    );
    server
        .wait_for_line(|line| line.ends_with("（还没有昵称）2 秒内没有起昵称，断开它"))
        .await;
    alice.say("/who").await;
    alice.expect_line("[系统] 在线 1 人：alice").await;
}

/// 形似的昵称（Unicode UTS #39 的形似字）：alice 在线时，开头换成西里尔字母 а、希腊字母 Α，
/// 或者把 l 换成数字 1，都不能用；全角字母、看不见的字符（韩文填充符、零宽字符）不能出现在昵称里。
pub async fn server_rejects_lookalike_and_invisible_nicks(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut mallory = LinePeer::connect(addr).await;
    mallory.expect_line(&greeting(1)).await;
    mallory.expect_line(GREETING_PROMPT).await;
    for lookalike in ["\u{430}lice", "\u{391}lice", "a1ice", "\u{410}LICE"] {
        mallory.say(lookalike).await;
        let expected = format!(
            "[系统] 昵称 {lookalike} 和在线的 alice 看起来一样，别人会分不清你们，请重新输入："
        );
        mallory.expect_line(&expected).await;
    }
    for invisible in [
        "ａｌｉｃｅ", // 全角字母
        "\u{3164}",   // 韩文填充符：算作字母，却什么也不显示
        "\u{3164}\u{3164}",
        "\u{115f}\u{1160}", // 韩文的另外两个填充符
        "\u{ffa0}",         // 半角韩文填充符
        "bob\u{200b}",      // 零宽空格
        "bo\u{200d}b",      // 零宽连接符
        "\u{2800}",         // 盲文空白
    ] {
        mallory.say(invisible).await;
        mallory.expect_line(BAD_NICK).await;
    }
    mallory.say("mallory").await;
    mallory.expect_line(&welcome("mallory")).await;
    alice.expect_line("[系统] mallory 进入了聊天室").await;
    mallory.say("/nick \u{430}lice").await;
    mallory
        .expect_line(
            "[系统] 昵称 \u{430}lice 和在线的 alice 看起来一样，别人会分不清你们，昵称没有改",
        )
        .await;
}

/// 看不见的格式字符（零宽字符、词连接符、BOM、软连字符、标签字符）和行、段分隔符转发时显示成转义；
/// 夹在两个看得见的字符之间的 ZWJ 原样转发（组合表情要用它）。
pub async fn server_escapes_invisible_characters(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    let cases = [
        (
            "零宽\u{200b}空格 词\u{2060}连接 \u{feff}BOM 软\u{ad}连字符",
            "零宽\\u{200b}空格 词\\u{2060}连接 \\u{feff}BOM 软\\u{ad}连字符",
        ),
        (
            "第一行\u{2028}第二行\u{2029}第二段",
            "第一行\\u{2028}第二行\\u{2029}第二段",
        ),
        ("标签\u{e0041}\u{e007f}", "标签\\u{e0041}\\u{e007f}"),
        (
            "一家人 \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}，落单的\u{200d}",
            "一家人 \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}，落单的\\u{200d}",
        ),
    ];
    for (said, relayed) in cases {
        alice.say(said).await;
        bob.expect_line(&format!("<alice> {relayed}")).await;
    }
}

/// 一行正好 4096 字节，以 telnet 的 `\r\n` 结尾：上限不算行尾，照常转发；4097 字节的才算太长。
pub async fn server_accepts_4096_bytes_before_crlf(server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    let mut alice = join(addr, "alice", 0).await;
    let mut bob = join(addr, "bob", 1).await;
    alice.expect_line("[系统] bob 进入了聊天室").await;
    let exactly = "x".repeat(4096);
    alice.send(format!("{exactly}\r\n").as_bytes()).await;
    bob.expect_line(&format!("<alice> {exactly}")).await;
    alice
        .send(format!("{}\r\n", "y".repeat(4097)).as_bytes())
        .await;
    alice
        .expect_line("[系统] 这一行超过了 4096 字节，没有发出去。")
        .await;
    alice.say("下一行照常").await;
    bob.expect_line("<alice> 下一行照常").await;
}

/// 在真正的聊天室里，三种离开的方式（Q、/quit、输入结束）都能看到服务端说的再见。
pub async fn client_sees_goodbye_on_every_way_out(client: &Path, server: &Path) {
    let (_server, addr) = start_server(server, SERVER, &[]).await;
    for typed in [Some("Q"), Some("/quit"), None] {
        let mut alice = Program::start(client, CLIENT, &["--addr", &addr.to_string()]);
        // “已连接”的提示在标准错误上，和问候谁先到不一定，所以只等要昵称的那一行
        alice.wait_for_line(|line| line == GREETING_PROMPT).await;
        alice.type_line("alice").await;
        alice.wait_for_line(|line| line == welcome("alice")).await;
        match typed {
            Some(text) => alice.type_line(text).await,
            None => alice.close_stdin(),
        }
        alice.expect_line("[系统] 再见，alice！").await;
        alice.expect_exit(0).await;
    }
}

/// 没有服务端在运行：一行中文说明原因，并给出启动服务端的命令，退出码非零。
pub fn client_without_server(client: &Path) {
    let addr = unused_address().to_string();
    let transcript = run_to_exit(client, CLIENT, &["--addr", &addr], "hello\n");
    assert_transcript("chat_client_no_server", &transcript);
}

/// 和 ncat 的聊天模式（`ncat -l --chat`，不是我们写的服务端）对话。
pub async fn client_with_ncat_chat(client: &Path) {
    let addr = unused_address();
    let port = addr.port().to_string();
    let mut ncat = tokio::process::Command::new("ncat")
        .args(["-l", "127.0.0.1", &port, "--chat", "-k"])
        .kill_on_drop(true)
        .spawn()
        .expect("运行 ncat（apt-get install ncat）");
    // 等 ncat 开始监听：连上就说明好了
    let mut watcher = loop {
        if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
            break LinePeer::from_stream(stream);
        }
        assert!(
            timeout(std::time::Duration::from_millis(50), ncat.wait())
                .await
                .is_err(),
            "ncat 没能启动"
        );
    };
    let mut alice = Program::start(client, CLIENT, &["--addr", &addr.to_string()]);
    alice.next_line().await;
    alice.type_line("hello from lab-chat-client").await;
    // ncat 给每个连接编号，转发时在前面加上 <userN>
    let relayed = watcher
        .wait_for_line_containing("hello from lab-chat-client")
        .await;
    assert!(relayed.starts_with("<user"), "ncat 转发的行：{relayed}");
    watcher.say("hi from nc").await;
    alice
        .wait_for_line(|line| line.ends_with("hi from nc"))
        .await;
    alice.type_line("Q").await;
    alice.expect_exit(0).await;
    ncat.kill().await.ok();
}

impl LinePeer {
    /// 一直读，直到出现包含 `needle` 的一行。
    pub async fn wait_for_line_containing(&mut self, needle: &str) -> String {
        self.read_until_line(|line| line.contains(needle)).await.1
    }
}
