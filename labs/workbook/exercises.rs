//! 练习清单：每个练习挖空哪个实验的哪一段、用哪些测试打分、值多少分、卡住时看书的哪一节。

/// 一个练习。
pub struct Exercise {
    /// 编号，和书的小节对应，例如 `2.1`
    pub id: &'static str,
    /// 命令里用的名字，例如 `tcp-server`
    pub name: &'static str,
    /// 一句话说清楚要做什么
    pub title: &'static str,
    /// 参考答案：完整的实验源文件
    pub lab: &'static str,
    /// 学生要编辑的练习文件（由实验文件生成，标着 `// ANCHOR: 〈region〉` 的部分被挖空）
    pub stub: &'static str,
    /// 实验里要挖空的锚点名，通常是 `exercise`
    pub region: &'static str,
    /// 练习文件编成什么、用哪个测试程序评分
    pub target: Target,
    /// 卡住时重读的书页（book/ 下的文件）和小节名
    pub book: &'static str,
    pub section: &'static str, // 例如 “第 2.1 节《TCP 服务端》”
    /// 写在 TODO 注释里、也由 `workbook hint` 显示的提示
    pub hint: &'static str,
    /// 全部测试通过时得到的分数
    pub points: u32,
}

/// 练习文件是一个程序，还是一个模块。两种都单独编译成一个 `ex-…` 程序
/// （需要 exercises 特性，平时的 cargo test 不会编译还没写完的练习），
/// 再由 tests/exercises.rs 在单独的进程里测试它：测试程序里没有学生的代码。
pub enum Target {
    /// 一个程序（`ex-…`）：学生自己也可以运行它
    Program { bin: &'static str },
    /// 一个模块：评分用的驱动程序 `driver` 把它编进去，按测试的请求调用它。
    /// 驱动程序不是给人运行的，学生用 check 来试自己的模块
    Module { driver: &'static str },
}

impl Exercise {
    /// tests/exercises.rs 里这个练习的测试名都以它开头，例如 `ex_2_1_`。
    pub fn test_prefix(&self) -> String {
        format!("ex_{}_", self.id.replace('.', "_"))
    }

    /// `todo!()` 里的文字；练习文件里还留着它，就说明还没动手。
    pub fn todo_marker(&self) -> String {
        format!("todo!(\"练习 {}：{}\")", self.id, self.title)
    }

    /// 要编译、测试的程序（`ex-…`）。
    pub fn bin(&self) -> &'static str {
        match self.target {
            Target::Program { bin } | Target::Module { driver: bin } => bin,
        }
    }

    /// 运行学生自己版本的命令。模块没有自己的 main，试它的办法就是检查命令。
    pub fn run_command(&self) -> String {
        match self.target {
            Target::Program { bin } => format!("cargo run --features exercises --bin {bin}"),
            Target::Module { .. } => format!("cargo run --bin workbook -- check {}", self.name),
        }
    }
}

pub const ALL: &[Exercise] = &[
    Exercise {
        id: "2.1",
        name: "tcp-server",
        title: "TCP 回声服务端：处理一个连接",
        lab: "labs/tcp/server.rs",
        region: "exercise",
        stub: "labs/exercises/tcp_server.rs",
        target: Target::Program {
            bin: "ex-tcp-server",
        },
        book: "ch02-1-tcp-server.md",
        section: "第 2.1 节《TCP 服务端》",
        hint: "在循环里用 conn.read(&mut buf) 读一块数据：读到 0 字节说明客户端关闭了连接，\n\
               打印“客户端 {peer} 已关闭连接”后返回；读到 n 字节就打印\n\
               “收到client端发来的数据： {printable(&buf[..n])}”，再用 write_all 原样写回。\n\
               读或写出错时打印原因（errors::cause）并返回：只结束这一个连接。",
        points: 10,
    },
    Exercise {
        id: "2.2",
        name: "tcp-client",
        title: "TCP 客户端：读一行、发送、打印回声",
        lab: "labs/tcp/client.rs",
        region: "exercise",
        stub: "labs/exercises/tcp_client.rs",
        target: Target::Program {
            bin: "ex-tcp-client",
        },
        book: "ch02-2-tcp-client.md",
        section: "第 2.2 节《TCP 客户端》",
        hint: "用 BufReader::new(tokio::io::stdin()) 和 read_until(b'\\n', …) 一行一行地读；\n\
               读到 0 字节（输入结束）或者 q/Q 就返回 Ok(())；用 trim_line_end 去掉 \\r\\n，空行跳过。\n\
               用 write_all 发送，再用 read_echo 收齐同样多的字节，用 printable 打印出来。",
        points: 10,
    },
    Exercise {
        id: "2.3",
        name: "sticky-proto",
        title: "长度前缀：编码器和解码器",
        lab: "labs/sticky/proto.rs",
        region: "exercise",
        stub: "labs/exercises/sticky_proto.rs",
        target: Target::Module {
            driver: "ex-sticky-proto",
        },
        book: "ch02-3-sticky.md",
        section: "第 2.3 节《黏包》",
        hint: "encode：消息超过 MAX_FRAME_LEN 就返回 FrameError::TooLong；否则先写 4 字节长度\n\
               （(len as u32).to_be_bytes()，大端序），再写消息本身。\n\
               next_message：缓冲区不足 4 字节就返回 Ok(None)；读出长度（u32::from_be_bytes），\n\
               超过 max_len 立刻返回 TooLong（不要等消息体）；不足一整帧返回 Ok(None)；\n\
               够了就取出消息，并用 drain 把这一帧从缓冲区去掉。\n\
               finish：缓冲区空着就是 Ok(())；不足 4 字节是 TruncatedHeader，否则是 TruncatedBody。",
        points: 10,
    },
    Exercise {
        id: "3.1",
        name: "udp-server",
        title: "UDP 回声服务端：收一个数据报、回一个数据报",
        lab: "labs/udp/server.rs",
        region: "exercise",
        stub: "labs/exercises/udp_server.rs",
        target: Target::Program {
            bin: "ex-udp-server",
        },
        book: "ch03-1-udp-server.md",
        section: "第 3.1 节《UDP 服务端》",
        hint: "先分配 buf_size 字节的缓冲区，然后循环：socket.recv_from(&mut buf) 得到 (n, peer)；\n\
               接收出错时打印原因并继续（不要像教程那样退出）。to_drop 大于 0 时，\n\
               把这个数据报当作丢了：打印“（演示丢包）…”这一行后 continue。\n\
               否则按教程的格式打印“read from {peer} , content is {printable(data)}, length = {n}”，\n\
               再用 socket.send_to(data, peer) 发回给发送方；发送出错也只打印、继续。",
        points: 10,
    },
    Exercise {
        id: "3.2",
        name: "udp-client",
        title: "UDP 客户端：发送、限时等待回复、超时重发",
        lab: "labs/udp/client.rs",
        region: "exercise",
        stub: "labs/exercises/udp_client.rs",
        target: Target::Program {
            bin: "ex-udp-client",
        },
        book: "ch03-2-udp-client.md",
        section: "第 3.2 节《UDP 客户端》",
        hint: "内容超过 MAX_DATAGRAM 字节就直接返回错误。然后最多尝试 retries + 1 次：\n\
               （第二次起先打印“等了 … 秒没有收到回复，重发（第 N 次，最多 M 次）”）\n\
               socket.send(data) 发出一个数据报，再用 tokio::time::timeout(args.reply_timeout, socket.recv_from(…))\n\
               限时等待：收到就 report(…) 并返回 Ok；出错就返回 failure(…)；超时就进入下一次。\n\
               全部超时后返回一行说明：发了几次、每次等几秒，UDP 为什么收不到通知，以及该怎么办。",
        points: 10,
    },
    Exercise {
        id: "4.1",
        name: "chat-relay",
        title: "聊天室服务端：转发每一行，控制台广播通知",
        lab: "labs/chat/server.rs",
        region: "exercise_relay",
        stub: "labs/exercises/chat_relay.rs",
        target: Target::Program {
            bin: "ex-chat-relay",
        },
        book: "ch04-2-chat-server.md",
        section: "第 4.2 节《服务端》",
        hint: "line：空行不转发；还没有昵称时，这一行就是想要的昵称（/quit 除外），交给 choose_nick；\n\
               以 / 开头的交给 command；其余的由服务端加上“<昵称> ”前缀，打印出来，\n\
               再 broadcast 给除了发送者以外的所有人（前缀由服务端加，谁也冒充不了别人）。\n\
               console：把“[服务端] 内容”发给每一个连着的人（包括还没起昵称的），\n\
               队列满了的记进 too_slow；最后打印“[服务端] 内容（已发给 N 人）”。",
        points: 10,
    },
    Exercise {
        id: "4.2",
        name: "chat-nick",
        title: "聊天室服务端：昵称规则和命令",
        lab: "labs/chat/server.rs",
        region: "exercise_nick",
        stub: "labs/exercises/chat_nick.rs",
        target: Target::Program {
            bin: "ex-chat-nick",
        },
        book: "ch04-2-chat-server.md",
        section: "第 4.2 节《服务端》",
        hint: "command：按第一个空格分出命令名和参数；nick → rename，who → 列出在线的人，\n\
               msg → “/msg 昵称 内容”交给 private（格式不对就告诉用法），quit → quit，\n\
               help → 逐行发 HELP，其他的告诉对方没有这个命令。\n\
               check_nick：1 到 MAX_NICK 个字符，只能是字母数字（含汉字）、_ 和 -；\n\
               不分大小写不能和别人重复（用 find）。原因写成一句话放进 Err。",
        points: 10,
    },
    Exercise {
        id: "4.3",
        name: "chat-client",
        title: "聊天室客户端：同时收和发",
        lab: "labs/chat/client.rs",
        region: "exercise",
        stub: "labs/exercises/chat_client.rs",
        target: Target::Program {
            bin: "ex-chat-client",
        },
        book: "ch04-3-chat-client.md",
        section: "第 4.3 节《客户端》",
        hint: "main：用 tokio::select! 同时等两件事：键盘的下一行（keyboard.recv()），和接收任务结束（&mut incoming）。\n\
               键盘：None 或 q/Q 就离开；空行跳过；其余加上 \\n 发出去，发的是 /quit 就发完再离开。\n\
               接收任务先结束，说明服务端走了：return server_ended(ended)。\n\
               离开时先 shutdown 发送方向，再最多等 GOODBYE_WAIT 让接收任务把“再见”显示完。\n\
               show_incoming：用 take(MAX_SHOWN).read_until(b'\\n', …) 一行一行地读，读到 0 字节返回 Ok(())，\n\
               每一行用 printable_line 显示。",
        points: 10,
    },
];

/// 按名字或编号找练习。
pub fn find(name: &str) -> Option<&'static Exercise> {
    ALL.iter().find(|ex| ex.name == name || ex.id == name)
}
