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
    /// 全部测试通过时得到的分数；只通过一部分时，按通过的比例给分
    pub points: u32,
    /// 评分的测试，按“最能说明问题”的顺序排列（先是和书中记录比对的那个）：
    /// （测试名去掉 `ex_2_1_` 这样的前缀，给学生看的一句话说明）
    pub tests: &'static [(&'static str, &'static str)],
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
        hint: "要打印的话都已经写好，在 process 下面：closed、received、read_failed、write_failed，\n\
               用 println!(\"{}\", …) 打印它们给出的那一行。\n\
               在循环里用 conn.read(&mut buf) 读一块数据：读到 0 字节说明客户端关闭了连接，\n\
               打印 closed(peer) 后返回；读到 n 字节就打印 received(&buf[..n])，再用 write_all 原样写回。\n\
               读出错时打印 read_failed(peer, &err)，写出错时打印 write_failed(peer, &err)，然后返回：\n\
               只结束这一个连接。",
        points: 10,
        tests: &[
            ("server_transcript", "按书中的记录收发，打印每一块数据"),
            (
                "server_serves_50_concurrent_clients",
                "同时为 50 个客户端回声",
            ),
            (
                "server_survives_a_reset_client",
                "客户端突然重置连接，服务端照常工作",
            ),
            ("server_echoes_1_mib_intact", "1 MiB 数据原样回声"),
        ],
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
               用 write_all 发送，再用 read_echo(conn, input, reply_timeout) 收齐回声并核对，用 printable 打印出来。\n\
               出错时返回的话已经写好：读输入出错返回 Err(input_failed(&err))，发送出错返回 Err(send_failed(&err))。",
        points: 10,
        tests: &[
            ("client_transcript", "按书中的记录收发"),
            ("client_reads_piped_input", "从管道读输入，读完就退出"),
            (
                "client_waits_for_the_whole_echo",
                "回声分几次到达，也要等齐再打印",
            ),
            ("client_reports_a_partial_echo", "回声不完整时说明原因"),
            (
                "client_gives_up_at_the_reply_deadline",
                "时限管整条回声：服务端挤牙膏似的回，也按时放弃",
            ),
            (
                "client_reports_a_wrong_echo",
                "回声和发出的不一样时说明原因并退出",
            ),
            (
                "client_reports_the_server_going_away",
                "服务端走了，说明原因并退出",
            ),
        ],
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
        tests: &[
            (
                "proto::length_prefix_is_big_endian",
                "长度前缀是 4 字节大端序",
            ),
            (
                "proto::decoder_handles_every_single_split_point",
                "字节流在任何一处切开都能解码",
            ),
            (
                "proto::decoder_handles_random_splits",
                "字节流随机切碎也能解码",
            ),
            (
                "proto::decoder_gets_several_frames_from_one_read",
                "一次读到好几帧",
            ),
            (
                "proto::oversize_frame_is_rejected_from_its_header_alone",
                "只看长度字段就拒绝超长的帧",
            ),
            (
                "proto::encoder_refuses_oversize_messages",
                "编码器拒绝超长的消息",
            ),
            (
                "proto::truncated_stream_is_reported",
                "报告中途截断的字节流",
            ),
            (
                "proto::proto_matches_length_delimited_codec",
                "和 LengthDelimitedCodec 的字节一致",
            ),
        ],
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
        hint: "要打印的话都已经写好，在 serve 下面：recv_failed、dropped、received、send_failed，\n\
               用 println!(\"{}\", …) 打印它们给出的那一行。\n\
               先分配 buf_size 字节的缓冲区，然后循环：socket.recv_from(&mut buf) 得到 (n, peer)；\n\
               接收出错时打印 recv_failed(&err) 并继续（不要像教程那样退出）。to_drop 大于 0 时，\n\
               把这个数据报当作丢了：减一，打印 dropped(peer, n, to_drop) 后 continue。\n\
               否则打印 received(peer, data)（data 是 &buf[..n]），再用 socket.send_to(data, peer)\n\
               发回给发送方；发送出错时打印 send_failed(peer, &err)，继续。",
        points: 10,
        tests: &[
            ("server_transcript", "按书中的记录收发，打印每个数据报"),
            ("server_keeps_boundaries", "保持数据报的边界"),
            ("server_truncates_at_buf_size", "数据报比缓冲区大时被截断"),
            ("server_simulates_loss", "--drop：演示丢包"),
            (
                "server_serves_concurrent_clients",
                "同时为 100 个客户端回声",
            ),
            ("server_round_trips_max_datagram", "最大的数据报原样往返"),
        ],
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
        hint: "要说的话都已经写好，在 exchange 下面：too_long、retrying、no_reply，直接调用它们。\n\
               内容超过 MAX_DATAGRAM 字节就直接返回 Err(too_long(…))。然后最多尝试 retries + 1 次：\n\
               （第二次起先打印 retrying(…) 给出的那一行）\n\
               socket.send(data) 发出一个数据报，再用 tokio::time::timeout(args.reply_timeout, recv_reply(…))\n\
               限时等待（recv_reply 已经写好，它跳过不是这一次回声的数据报）：收到就 report(…) 并返回 Ok；出错就返回 Err(failure(&args.addr, &err, \"发送\"))\n\
               （接收出错时第三个参数写 \"接收\"）；超时就进入下一次。\n\
               全部超时后返回 Err(no_reply(…))：第一个参数是一共发了几次。",
        points: 10,
        tests: &[
            ("client_transcript", "按书中的记录发送、打印回复"),
            ("client_sends_each_line", "--stdin：每行一个数据报"),
            ("client_notices_truncation", "发现回复被截断"),
            ("client_retries_after_loss", "没等到回复就重发"),
            ("client_gives_up_without_reply", "重发几次后放弃，说明原因"),
            ("client_explains_port_unreachable", "解释“端口不可达”"),
            (
                "client_matches_each_line_to_its_own_reply",
                "迟到的回复不会顶替这一行的回复",
            ),
        ],
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
        hint: "要说的话都已经写好，在文件末尾：said、server_notice、notice_sent，直接调用它们。\n\
               line：空行不转发；还没有昵称时，这一行就是想要的昵称（/quit 除外），交给 choose_nick；\n\
               以 / 开头的交给 command；其余的用 said(&nick, text) 加上昵称，用 self.print 打印出来，\n\
               再 broadcast 给除了发送者以外的所有人（前缀由服务端加，谁也冒充不了别人）。\n\
               console：把 server_notice(text) 加上 \\n，用 try_send 放进每一个连着的人的队列（包括还没起昵称的），\n\
               队列满了的记进 too_slow；最后用 self.print 打印 notice_sent(text, 人数)。\n\
               打印一律用 self.print，不用 println!：控制台卡住时 println! 会卡住整个大厅（见 ConsoleOut）。",
        points: 10,
        tests: &[
            ("server_three_clients", "三个人的聊天记录"),
            ("server_relays_between_many_clients", "许多人之间转发"),
            ("server_console_notice", "控制台广播通知"),
            (
                "server_delivers_last_unterminated_line",
                "最后一行没有换行也照样转发",
            ),
            (
                "server_survives_reset_mid_line",
                "一行说到一半被重置，服务端照常工作",
            ),
            ("server_sanitises_text", "控制字符显示成转义"),
        ],
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
        hint: "要说的话都已经写好，在文件末尾：who_list、MSG_USAGE、unknown_command、HELP、bad_nick、nick_taken、nick_looks_like。\n\
               command：按第一个空格分出命令名和参数；nick → rename，who → tell 对方 who_list(&self.nicks())，\n\
               msg → “/msg 昵称 内容”交给 private（格式不对就 tell 对方 MSG_USAGE），quit → quit，\n\
               help → 逐行 tell HELP，其他的 tell 对方 unknown_command(name)。\n\
               check_nick：1 到 MAX_NICK 个字符，每个字符都要让 nick_char_allowed 点头，否则 Err(bad_nick())；\n\
               不分大小写不能和别人重复（用 find），否则 Err(nick_taken(wanted))；\n\
               和在线的人看起来一样也不行（用 self.lookalike(wanted) 找），否则 Err(nick_looks_like(wanted, &那个昵称))。\n\
               形似字的表已经由 socket_workbook::text 准备好，不用自己写。",
        points: 10,
        tests: &[
            ("server_three_clients", "三个人的聊天记录（昵称和命令）"),
            ("server_help_and_unknown_command", "/help 和不认识的命令"),
            (
                "server_rejects_lookalike_and_invisible_nicks",
                "形似的昵称和看不见的昵称",
            ),
        ],
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
               发送失败：eprintln!(\"{}\", send_failed(&err)) 后返回 ExitCode::FAILURE（要说的话已经写好）。\n\
               接收任务先结束，说明服务端走了：return server_ended(ended)。\n\
               离开时先 shutdown 发送方向，再最多等 GOODBYE_WAIT 让接收任务把“再见”显示完。\n\
               show_incoming：用 take(MAX_SHOWN).read_until(b'\\n', …) 一行一行地读，读到 0 字节返回 Ok(())，\n\
               每一行用 printable_line 显示。",
        points: 10,
        tests: &[
            ("client_full_duplex", "一边输入一边收到别人的话"),
            ("client_leaves_cleanly", "/quit 和 Ctrl-D 都能干净地离开"),
            ("client_in_real_room", "在真实的聊天室里收发"),
        ],
    },
    Exercise {
        id: "5.1",
        name: "dial",
        title: "依次试每一个地址，每个地址限时",
        lab: "labs/lan/dial.rs",
        region: "exercise",
        stub: "labs/exercises/dial.rs",
        target: Target::Module { driver: "ex-dial" },
        book: "ch05-2-names.md",
        section: "第 5.2 节《名字和地址》",
        hint: "要说的话都已经写好，在 connect_in_order 下面：attempt_failed、no_candidates，直接调用它们。\n\
               按顺序遍历 candidates（用 enumerate 拿到下标）：用 tokio::time::timeout(per_address, TcpStream::connect(candidate))\n\
               限时连接。连上了就返回 Ok((conn, candidate))；connect 出错，错误就是这一次的原因；\n\
               超时（timeout 返回 Err）时，原因是 connect_timed_out(per_address)。\n\
               失败了而后面还有地址时，用 eprintln!(\"{}\", attempt_failed(candidate, &err, 下一个地址)) 说一声，接着试；\n\
               全部失败就返回 Err(最后一个错误)（一个地址也没有时，就是一开始准备好的 no_candidates()）。",
        points: 10,
        tests: &[
            (
                "dial_transcript",
                "按书中的记录：第一个地址被拒绝，换下一个连上",
            ),
            ("dial_skips_a_silent_address", "不回应的地址等满时限就跳过"),
            ("dial_reaches_ipv6_loopback", "[::1] 这样的 IPv6 地址也能连"),
            (
                "dial_reports_when_all_fail",
                "全都连不上时说明原因，退出码 1",
            ),
            (
                "dial_time_is_bounded",
                "每个地址等满时限、不多不少；全都失败时报告最后一个地址的原因",
            ),
        ],
    },
    Exercise {
        id: "6.1",
        name: "chat-heartbeat",
        title: "聊天室服务端：心跳的看门狗",
        lab: "labs/chat/server.rs",
        region: "exercise_heartbeat",
        stub: "labs/exercises/chat_heartbeat.rs",
        target: Target::Program {
            bin: "ex-chat-heartbeat",
        },
        book: "ch06-3-liveness.md",
        section: "第 6.3 节《发现对方已经不在》",
        hint: "check_heartbeats 每隔 --heartbeat 秒被调用一次。时限是 self.settings.heartbeat * HEARTBEAT_MISSES（3 个间隔）。\n\
               只看报了名的客户端（client.heartbeat 为真）：先把它们的 id 收集到一个 Vec 里，\n\
               因为下面要改 self.clients，不能一边遍历一边改。\n\
               对每一个：last_heard.elapsed() 到了时限，就调用 self.drop_silent(id, 时限)（断开它、告诉大家的话已经写好）；\n\
               没到时限就用 self.tell(id, PING) 发一行 /ping，请它回答。\n\
               没报名的客户端（nc、telnet）一律不理：不发 /ping，也不因为不说话断开它们。",
        points: 10,
        tests: &[
            (
                "heartbeat_drops_a_silent_client",
                "报了名却不出声的客户端，再问 2 到 4 次（3 个间隔）就断开，房间里的人都知道",
            ),
            ("heartbeat_waits_for_the_limit", "不到 3 个间隔不断开"),
            (
                "heartbeat_pings_every_interval",
                "每个间隔给每个报了名的客户端发一次 /ping，回答的客户端一直在",
            ),
            (
                "heartbeat_leaves_plain_clients_alone",
                "没报名的客户端收不到 /ping，不说话也不会被断开",
            ),
            (
                "lab_client_answers_pings_silently",
                "lab-chat-client --heartbeat 悄悄回答，一直留在聊天室里",
            ),
        ],
    },
    Exercise {
        id: "6.2",
        name: "bulk-client",
        title: "一边写一边读：大块数据不再卡死",
        lab: "labs/life/bulk_client.rs",
        region: "exercise",
        stub: "labs/exercises/bulk_client.rs",
        target: Target::Program {
            bin: "ex-bulk-client",
        },
        book: "ch06-4-deadlock.md",
        section: "第 6.4 节《只写不读会卡死》",
        hint: "发送和接收的两个函数都已经写好，在下面：send_all(writer, data, progress) 写完全部数据再关闭写的方向，\n\
               receive_all(reader, data.len(), progress) 读到服务端关闭连接为止，返回读到的全部字节；它们出错时返回的话也写好了。\n\
               你要做的是让两件事同时进行：用 conn.split()（或 into_split()）把连接分成读、写两半，\n\
               再用 tokio::join!(send_all(…), receive_all(…)) 同时等它们（不要用 select!：先结束的那个会把另一个丢掉）。\n\
               两个都做完以后：发送出错就返回发送的错误（用 ?），否则返回接收的结果。",
        points: 10,
        tests: &[
            (
                "together_transcript",
                "按书中的记录：缓冲区很小，1 MiB 也能传完",
            ),
            ("together_echoes_1_mib_intact", "1 MiB 一字不差地收回来"),
            (
                "together_completes_8_mib",
                "比所有缓冲区大得多的 8 MiB 照样传完，看门狗不叫",
            ),
            (
                "together_server_sees_every_byte",
                "服务端收到全部字节，发完后关闭写的方向",
            ),
            (
                "together_reports_server_closing_early",
                "服务端中途关闭连接时说明原因，不会一直等",
            ),
            (
                "together_reports_a_corrupted_echo",
                "回声错了一个字节时说出位置，退出码 1",
            ),
        ],
    },
];

/// 按名字或编号找练习。
pub fn find(name: &str) -> Option<&'static Exercise> {
    ALL.iter().find(|ex| ex.name == name || ex.id == name)
}
