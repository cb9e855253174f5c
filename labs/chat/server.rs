//! # 第 4 章 · 全双工聊天室：服务端
//!
//! 教程在这一节只留下了两条需求：服务端随时可以收发消息，客户端也随时可以收发消息。
//! 这个服务端把它们做成一个聊天室：
//!
//! - 每个连接有两个任务：**读任务**一行一行地读客户端发来的内容，**写任务**把排队的行写给客户端；
//! - 一个**大厅**（hub）任务掌管聊天室的全部状态：谁在线、叫什么；它把每条消息放进其他人的队列；
//! - 每人的队列都有上限：谁读得太慢、队列满了，就把谁断开，其他人不受影响；
//! - 服务端的控制台也能随时说话：在这里输入一行，所有人都会收到一条“服务端通知”；
//! - 按 Ctrl-C：通知所有人，把已经收下的消息发完，再退出。
//!
//! 协议是一行一条的 UTF-8 文字（以 `\n` 结尾），所以 `nc`、`telnet` 都能直接当客户端用。
//!
//! 运行：
//!
//! ```text
//! cargo run --bin lab-chat-server                          # 监听 127.0.0.1:20004
//! cargo run --bin lab-chat-server -- --addr 127.0.0.1:0    # 由系统挑一个空闲端口
//! ```
//!
//! 再开几个终端：`cargo run --bin lab-chat-client`，或者 `nc 127.0.0.1 20004`。

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use socket_workbook::ctrl_c::CtrlC;
use socket_workbook::errors::{cause, ctrl_c_failed, listen_failed};
use socket_workbook::text::printable_line;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// 全双工聊天室的服务端：把每个人说的话转给其他所有人。
#[derive(Parser)]
#[command(name = "lab-chat-server", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20004")]
    addr: String,
}

// ANCHOR: limits
/// 一行最多这么多字节（不算行尾的换行符）。更长的行不转发，并告诉发送者。
const MAX_LINE: usize = 4096;
/// 每个客户端的发送队列最多排这么多行。排满了说明它读得太慢，把它断开。
const QUEUE_LINES: usize = 1024;
/// 昵称最多几个字符。
const MAX_NICK: usize = 16;
/// 按下 Ctrl-C 之后，最多再等这么久，让写任务把队列里的消息发完。
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
// ANCHOR_END: limits

// ANCHOR: event
/// 发给大厅的事件。读任务、控制台和 main 都只通过这个通道和大厅说话。
enum Event {
    /// 新连接：它的地址、它的发送队列，以及断开它用的“开关”
    Join {
        id: u64,
        addr: SocketAddr,
        queue: mpsc::Sender<Arc<str>>,
        kick: CancellationToken,
    },
    /// 客户端发来了一行（已经去掉换行、转义了控制字符）
    Line { id: u64, text: String },
    /// 客户端发来的一行太长，已经丢掉
    TooLong { id: u64 },
    /// 客户端的连接结束了；`error` 是出错时的原因
    Leave { id: u64, error: Option<String> },
    /// 服务端控制台输入了一行，要通知所有人
    Console(String),
    /// 按下了 Ctrl-C：通知所有人，然后关门
    Shutdown,
}
// ANCHOR_END: event

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

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
    let mut ctrl_c = match CtrlC::register() {
        Ok(ctrl_c) => ctrl_c,
        Err(err) => {
            eprintln!("{}", ctrl_c_failed(&err));
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("聊天室已开张：正在监听 {local}，按 Ctrl-C 停止"),
        Err(err) => println!("聊天室已开张（无法获取本地地址：{}）", cause(&err)),
    }

    // 2. 启动大厅任务和控制台线程
    let (events, inbox) = mpsc::channel(1024);
    let hub = tokio::spawn(run_hub(inbox));
    read_console(events.clone());

    // 3. 接受连接，直到按下 Ctrl-C
    let writers = TaskTracker::new();
    tokio::select! {
        _ = accept_loop(&listener, &events, &writers) => {}
        _ = ctrl_c.recv() => {}
    }

    // 4. 收尾：不再接受新连接；让大厅通知所有人，再等写任务把队列里的消息发完
    drop(listener);
    println!("收到 Ctrl-C：通知所有客户端，发完已收下的消息后退出");
    let _ = events.send(Event::Shutdown).await;
    let _ = hub.await;
    writers.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, writers.wait())
        .await
        .is_err()
    {
        println!("有客户端在 {DRAIN_TIMEOUT:?} 内没有收完消息，不再等它");
    }
    println!("聊天室已关闭");
    ExitCode::SUCCESS
}
// ANCHOR_END: main

// ANCHOR: accept_loop
/// 不停地接受新连接，为每个连接启动读任务和写任务。
async fn accept_loop(listener: &TcpListener, events: &mpsc::Sender<Event>, writers: &TaskTracker) {
    let mut next_id = 0;
    loop {
        let (conn, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                // 常见原因是打开的文件太多：稍等再试，已经连上的人不受影响
                println!("接受连接失败：{}", cause(&err));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        tokio::spawn(process(
            conn,
            addr,
            next_id,
            events.clone(),
            writers.clone(),
        ));
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: process
/// 处理一个连接：把它拆成读、写两半，写的一半交给写任务，读的一半留在这里一行一行地读。
async fn process(
    conn: TcpStream,
    addr: SocketAddr,
    id: u64,
    events: mpsc::Sender<Event>,
    writers: TaskTracker,
) {
    // 关掉 Nagle 算法（见第 2.3 节）：聊天是一行一行的小消息，开着它，写任务刚写下的一行
    // 可能要在内核里等对方确认了上一块数据才发出去，人一多，这样的等待就成了几十毫秒的延迟。
    // 设置失败也不要紧，只是慢一点，所以不处理这个错误
    let _ = conn.set_nodelay(true);
    let (reader, writer) = conn.into_split();
    let (queue, queue_out) = mpsc::channel(QUEUE_LINES);
    let kick = CancellationToken::new();
    writers.spawn(write_lines(writer, queue_out, kick.clone()));

    let join = Event::Join {
        id,
        addr,
        queue,
        kick: kick.clone(),
    };
    if events.send(join).await.is_err() {
        return; // 大厅已经关门（服务端正在退出）
    }
    // 一边读，一边留意“被踢”的开关：被踢时不再读，直接结束
    let error = tokio::select! {
        result = read_lines(reader, id, &events) => result.err(),
        _ = kick.cancelled() => None,
    };
    let _ = events.send(Event::Leave { id, error }).await;
}
// ANCHOR_END: process

// ANCHOR: read_lines
/// 读任务：一行一行地读，交给大厅。读到 `/quit` 或连接结束时返回。
async fn read_lines(
    reader: OwnedReadHalf,
    id: u64,
    events: &mpsc::Sender<Event>,
) -> Result<(), String> {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
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
        let quit = matches!(&event, Event::Line { text, .. } if text.trim() == "/quit");
        // 大厅忙不过来时这里会等一等：这个客户端暂时不再被读取，TCP 会让它慢下来
        if events.send(event).await.is_err() || quit {
            return Ok(());
        }
    }
}
// ANCHOR_END: read_lines

// ANCHOR: read_line
/// 读一行的结果。
enum Received {
    /// 读到了一行，放在 `line` 里（最后一行可以没有换行符）
    Line,
    /// 这一行超过了 [`MAX_LINE`]，已经读到行尾并丢掉
    TooLong,
    /// 对方关闭了连接
    End,
}

/// 读一行，但最多只把 [`MAX_LINE`] 字节放进内存。
///
/// 直接用 `read_until(b'\n')` 的话，对方只要一直不发换行，我们就会一直往 `line` 里追加，
/// 内存用多少全由对方说了算。`take` 给这次读取加上了上限。
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    line: &mut Vec<u8>,
) -> std::io::Result<Received> {
    line.clear();
    let limit = MAX_LINE as u64 + 1; // 多留 1 个字节给换行符
    let n = (&mut *reader).take(limit).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(Received::End);
    }
    if line.ends_with(b"\n") || n < limit as usize {
        return Ok(Received::Line); // 完整的一行，或者连接结束前的最后半行
    }
    // 读满了上限还没见到换行：这一行太长。把它剩下的部分读掉扔掉，一次最多 MAX_LINE 字节
    loop {
        line.clear();
        let n = (&mut *reader).take(limit).read_until(b'\n', line).await?;
        if n == 0 || line.ends_with(b"\n") {
            line.clear();
            return Ok(Received::TooLong);
        }
    }
}
// ANCHOR_END: read_line

// ANCHOR: write_lines
/// 写任务：从队列里取出要发给这个客户端的行，写进连接。
/// 队列的发送端全部关闭（大厅让它离开）时，把剩下的行发完、关闭写方向再结束；
/// 被踢（`kick`）时立刻结束，不再等一个不读数据的客户端。
async fn write_lines(
    writer: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Arc<str>>,
    kick: CancellationToken,
) {
    let mut writer = BufWriter::new(writer);
    let deliver = async {
        let mut batch = Vec::new();
        // recv_many 一次取出队列里已有的多行（最多 64 行），写完再 flush 一次，减少系统调用
        while queue.recv_many(&mut batch, 64).await > 0 {
            for line in batch.drain(..) {
                writer.write_all(line.as_bytes()).await?;
            }
            writer.flush().await?;
        }
        writer.shutdown().await // 发送 FIN：告诉客户端“我不会再发了”
    };
    tokio::select! {
        _ = deliver => {}
        _ = kick.cancelled() => {}
    }
}
// ANCHOR_END: write_lines

// ANCHOR: read_console
/// 控制台：在一个普通线程里读服务端的标准输入，每一行作为通知交给大厅。
///
/// 读标准输入会阻塞线程，所以不放在 tokio 的任务里。标准输入关闭时（例如服务端在后台运行）
/// 这个线程结束，聊天室照常运行。
fn read_console(events: mpsc::Sender<Event>) {
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
        println!("控制台的输入已结束，聊天室照常运行（按 Ctrl-C 停止）");
    });
}
// ANCHOR_END: read_console

// ANCHOR: room
/// 聊天室里的一个连接。
struct Client {
    addr: SocketAddr,
    /// 还没起好昵称时是 None：这时说的话不转发，当作昵称来处理
    nick: Option<String>,
    queue: mpsc::Sender<Arc<str>>,
    kick: CancellationToken,
}

/// 聊天室的全部状态。只有大厅任务能碰它，所以不需要锁。
#[derive(Default)]
struct Room {
    /// 按连接的先后排序，`/who` 的名单因此总是按进门的顺序
    clients: BTreeMap<u64, Client>,
    /// 队列满了、等着被断开的客户端
    too_slow: Vec<u64>,
}

/// 大厅任务：一个接一个地处理事件。所有的转发都只是“放进队列”，从不等待网络，
/// 所以一个慢吞吞的客户端拖不慢大厅，也就拖不慢别人。
async fn run_hub(mut inbox: mpsc::Receiver<Event>) {
    let mut room = Room::default();
    while let Some(event) = inbox.recv().await {
        match event {
            Event::Join {
                id,
                addr,
                queue,
                kick,
            } => room.join(id, addr, queue, kick),
            Event::Line { id, text } => room.line(id, &text),
            Event::TooLong { id } => room.tell(
                id,
                &format!("[系统] 这一行超过了 {MAX_LINE} 字节，没有发出去。"),
            ),
            Event::Leave { id, error } => room.leave(id, error),
            Event::Console(text) => room.console(&text),
            Event::Shutdown => {
                room.shutdown();
                return;
            }
        }
        room.drop_slow_clients();
    }
}
// ANCHOR_END: room

impl Room {
    // ANCHOR: deliver
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
            client.kick.cancel(); // 读、写两个任务立刻结束，连接随之关闭
            let name = client.nick.unwrap_or_else(|| client.addr.to_string());
            println!("{name}（{}）接收太慢，队列已满，断开它", client.addr);
            if self.clients.values().any(|c| c.nick.is_some()) {
                self.broadcast(&format!("[系统] {name} 接收太慢，已被断开"), None);
            }
        }
    }
    // ANCHOR_END: deliver

    // ANCHOR: join_leave
    /// 新连接：马上问好，再请它起个昵称。
    fn join(
        &mut self,
        id: u64,
        addr: SocketAddr,
        queue: mpsc::Sender<Arc<str>>,
        kick: CancellationToken,
    ) {
        println!("新连接：{addr}");
        let client = Client {
            addr,
            nick: None,
            queue,
            kick,
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
        let who = match &client.nick {
            Some(nick) => format!("{nick}（{}）", client.addr),
            None => format!("{}（还没有昵称）", client.addr),
        };
        match error {
            Some(error) => println!("{who}的连接出错：{error}"),
            None => println!("{who}断开了连接"),
        }
        if let Some(nick) = client.nick {
            self.broadcast(&format!("[系统] {nick} 离开了聊天室"), None);
        }
    }
    // ANCHOR_END: join_leave

    // ANCHOR: line
    /// 客户端发来的一行：还没有昵称时当作昵称，以 `/` 开头的是命令，其余的转给所有人。
    fn line(&mut self, id: u64, text: &str) {
        // ANCHOR: exercise_relay
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
        println!("{message}");
        self.broadcast(&message, Some(id));
        // ANCHOR_END: exercise_relay
    }
    // ANCHOR_END: line

    // ANCHOR: commands
    /// 处理一条命令（已经去掉了开头的 `/`）。
    fn command(&mut self, id: u64, nick: &str, command: &str) {
        // ANCHOR: exercise_nick
        let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim();
        match name {
            "nick" => self.rename(id, nick, rest),
            "who" => {
                let list = who_list(&self.nicks());
                self.tell(id, &list);
            }
            "msg" => match rest.split_once(' ') {
                Some((to, text)) if !text.trim().is_empty() => {
                    self.private(id, nick, to, text.trim());
                }
                _ => self.tell(id, MSG_USAGE),
            },
            "quit" => self.quit(id),
            "help" => {
                for line in HELP {
                    self.tell(id, line);
                }
            }
            _ => self.tell(id, &unknown_command(name)),
        }
        // ANCHOR_END: exercise_nick
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
        println!("[私信] {from} → {to}：{text}");
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
    // ANCHOR_END: commands

    // ANCHOR: nick
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
        println!("{}（{}）进入了聊天室", wanted, client.addr);
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
        println!("{old} 改名为 {wanted}");
        self.tell(id, &format!("[系统] 你现在叫 {wanted}"));
        self.broadcast(&format!("[系统] {old} 改名为 {wanted}"), Some(id));
    }

    /// 昵称的规则：1 到 16 个字符，只能是汉字、字母、数字、`_` 和 `-`，不能和别人重复（不分大小写）。
    fn check_nick(&self, wanted: &str) -> Result<(), String> {
        // ANCHOR: exercise_nick
        let valid = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
        if wanted.is_empty() || wanted.chars().count() > MAX_NICK || !wanted.chars().all(valid) {
            return Err(bad_nick());
        }
        if !self.find(wanted).is_empty() {
            return Err(nick_taken(wanted));
        }
        Ok(())
        // ANCHOR_END: exercise_nick
    }
    // ANCHOR_END: nick

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

    // ANCHOR: console
    /// 服务端控制台说的话：发给每一个连着的人（包括还没起昵称的）。
    fn console(&mut self, text: &str) {
        // ANCHOR: exercise_relay
        let notice: Arc<str> = Arc::from(format!("{}\n", server_notice(text)));
        let ids: Vec<u64> = self.clients.keys().copied().collect();
        for id in &ids {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                self.clients[id].queue.try_send(notice.clone())
            {
                self.too_slow.push(*id);
            }
        }
        println!("{}", notice_sent(text, ids.len()));
        // ANCHOR_END: exercise_relay
    }

    /// Ctrl-C：给每个人的队列末尾放上告别的话，然后清空名单。
    /// 名单一空，队列的发送端就都被丢掉了；写任务发完队列里剩下的行，就关闭连接。
    fn shutdown(&mut self) {
        for id in self.clients.keys().copied().collect::<Vec<_>>() {
            self.tell(id, "[系统] 服务端要关闭了，再见！");
        }
        self.clients.clear();
    }
    // ANCHOR_END: console
}

// ANCHOR: words
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
    format!("昵称只能由汉字、字母、数字、_ 和 - 组成，最多 {MAX_NICK} 个字")
}

/// 昵称已经有人在用（不分大小写）。
fn nick_taken(wanted: &str) -> String {
    format!("昵称 {wanted} 已经有人在用了")
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
// ANCHOR_END: words
