//! 第 6.5 节：不用 tokio 的回声服务（labs/life/poll_echo.rs）——非阻塞套接字加就绪通知。
//!
//! 它的行为和第 2 章的 lab-tcp-server 一样，另外检查：一个线程同时服务很多客户端、
//! 对方读得慢时回声先积压起来（一个字节也不丢、也不空转）、一个连接被重置不影响别人。
//! 在 Linux 上再用 strace 记下它向系统发出的调用（书里逐行解读这份记录）。

mod support;

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::timeout;

use support::*;

const SERVER: &str = "lab-poll-echo";

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-poll-echo"))
}

/// 和第 2 章 tcp_server_run 一样的几步：同样的输出，只是换了一个服务端。
#[tokio::test]
async fn server_transcript() {
    let (mut server, addr) = start_server(server(), SERVER, &[]).await;
    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    server.expect_line(&format!("新连接：{me}")).await;

    for message in ["hello", "你好，世界", "来自 nc 的一行\n"] {
        server.note(format!("客户端发送 {message:?}，等待同样的回声"));
        echo_round_trip(&mut client, message.as_bytes()).await;
        let shown = message.replace('\n', "\\n");
        server
            .expect_line(&format!("收到client端发来的数据： {shown}"))
            .await;
    }

    // 300 字节一次发出，服务端每次最多读 128 字节：和第 2 章一样读成三块
    let long = "0123456789".repeat(30);
    server.note("客户端一次发送 300 字节，等待同样的回声");
    echo_round_trip(&mut client, long.as_bytes()).await;
    for chunk in [&long[..128], &long[128..256], &long[256..]] {
        server
            .expect_line(&format!("收到client端发来的数据： {chunk}"))
            .await;
    }

    server.note("客户端关闭连接");
    drop(client);
    server.expect_line(&format!("客户端 {me} 已关闭连接")).await;
    assert_transcript("readiness_server_run", &server.transcript());
}

/// 200 个客户端同时连上来，各发 10 条消息，每个都只收到自己的回声；
/// 在 Linux 上再确认服务端自始至终只有一个线程。
#[tokio::test]
async fn one_thread_serves_200_concurrent_clients() {
    let (server, addr) = start_server(server(), SERVER, &[]).await;
    let mut clients = JoinSet::new();
    for id in 0..200 {
        clients.spawn(async move {
            let mut stream = connect(addr).await;
            for seq in 0..10 {
                let message = format!("客户端 {id} 的第 {seq} 条消息");
                echo_round_trip(&mut stream, message.as_bytes()).await;
            }
            stream // 全部客户端做完之前，连接都留着：200 个同时连着
        });
    }
    let mut open = Vec::new();
    let all = async {
        while let Some(result) = clients.join_next().await {
            match result {
                Ok(stream) => open.push(stream),
                Err(err) => std::panic::resume_unwind(err.into_panic()),
            }
        }
    };
    timeout(WAIT * 3, all)
        .await
        .unwrap_or_else(|_| panic!("{} 秒内 200 个客户端没有全部收到回声", WAIT_SECS * 3));
    assert_eq!(open.len(), 200);
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
            .expect("读 /proc/PID/status");
        let threads = status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .map(str::trim);
        assert_eq!(threads, Some("1"), "服务端应当只有一个线程：\n{status}");
    }
    drop(server);
}

/// 超过 --max-conns 的连接被接受后立即关闭，服务端说明原因；已有的连接不受影响。
#[tokio::test]
async fn connections_beyond_the_cap_are_closed() {
    let (mut server, addr) = start_server(server(), SERVER, &["--max-conns", "2"]).await;
    let mut kept = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(addr).await;
        let me = stream.local_addr().expect("本地地址");
        server.expect_line(&format!("新连接：{me}")).await;
        echo_round_trip(&mut stream, b"hi").await;
        server.expect_line("收到client端发来的数据： hi").await;
        kept.push(stream);
    }
    let mut third = connect(addr).await;
    let me = third.local_addr().expect("本地地址");
    server
        .expect_line(&format!("连接数已达上限（2），关闭新连接：{me}"))
        .await;
    // 被关闭的连接读到结尾（或者被重置）：总之读不到回声
    let mut buf = [0u8; 16];
    let read = timeout(WAIT, third.read(&mut buf)).await.expect("读超时");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "超过上限的连接应当被关闭，实际读到：{read:?}"
    );
    echo_round_trip(&mut kept[0], b"still here").await;
    server
        .expect_line("收到client端发来的数据： still here")
        .await;
}

/// 一块确定的、不全是 UTF-8 的字节：第 `offset` 个字节开始的 `len` 个。
fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect()
}

/// 客户端一直发、却先不读：服务端的回声发不出去，积压到上限（64 KiB）时说明一句、
/// 暂停读这个客户端（不丢字节，也不空转）；客户端开始读以后，发出去的每个字节都原样回来。
/// 至少发 1 MiB，一直发到服务端说它暂停为止（最多 64 MiB）。
#[tokio::test]
async fn a_slow_reader_gets_every_byte_back() {
    let (mut server, addr) = start_server(server(), SERVER, &[]).await;
    // 客户端的收发缓冲区都设得很小，回声很快就堵在服务端那边（本机回环上服务端那边的缓冲区
    // 仍然有好几 MiB，所以要发到服务端说它暂停为止，通常是 3 MiB 左右）
    let socket = tokio::net::TcpSocket::new_v4().expect("新建套接字");
    socket.set_recv_buffer_size(4096).expect("设置接收缓冲区");
    socket.set_send_buffer_size(4096).expect("设置发送缓冲区");
    let stream = timeout(WAIT, socket.connect(addr))
        .await
        .expect("连接超时")
        .expect("连接服务端");
    let me = stream.local_addr().expect("本地地址");
    let (mut reader, mut writer) = stream.into_split();

    const CHUNK: usize = 64 * 1024;
    const LIMIT: usize = 64 * 1024 * 1024;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sending = tokio::spawn(async move {
        let (mut sent, mut stop_seen) = (0, false);
        // 至少 1 MiB；之后一直发，直到测试说“服务端已经暂停了”
        while sent < 1024 * 1024 || (!stop_seen && sent < LIMIT) {
            let chunk = pattern(sent, CHUNK);
            // write 被取消时一个字节也没写出去，所以 sent 总是准确的
            tokio::select! {
                written = writer.write(&chunk) => sent += written.expect("发送"),
                _ = &mut stopped, if !stop_seen => stop_seen = true,
            }
        }
        writer.shutdown().await.expect("关闭写方向");
        (writer, sent)
    });

    server
        .wait_for_line(|line| {
            line == format!("客户端 {me} 读得太慢：积压的回声满 64 KiB 了，先不读它发来的数据")
        })
        .await;

    // 暂停期间服务端不应当空转：半秒里用掉的 CPU 时间不到 0.1 秒（Linux 上查 /proc）
    #[cfg(target_os = "linux")]
    {
        let before = cpu_ticks(server.pid());
        // 这里的停顿不是用来同步的：它就是被测的那段时间（服务端在等，什么也不该做）
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let used = cpu_ticks(server.pid()) - before;
        assert!(
            used < 10,
            "客户端不读的半秒里，服务端用了 {used} 个时钟周期（1/100 秒）的 CPU：它在空转"
        );
    }

    let _ = stop.send(());
    let mut echoed = Vec::new();
    match timeout(WAIT * 3, reader.read_to_end(&mut echoed)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => panic!(
            "读回声时出错：{}（已经收到 {} 字节）",
            socket_workbook::errors::cause(&err),
            echoed.len()
        ),
        Err(_) => panic!(
            "等了 {} 秒，回声还没有全部回来（收到 {} 字节）",
            WAIT_SECS * 3,
            echoed.len()
        ),
    }
    let (_writer, sent) = timeout(WAIT, sending)
        .await
        .expect("发送超时")
        .expect("发送任务");
    assert!(sent >= 1024 * 1024, "至少要发 1 MiB，只发了 {sent} 字节");
    same_bytes(
        &echoed,
        &pattern(0, sent),
        "回声和发出的不一致（积压的回声丢了或者乱了）。",
    );
}

/// 进程用掉的 CPU 时间（用户态加内核态），单位是时钟周期（通常 1/100 秒）。
#[cfg(target_os = "linux")]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("读 /proc/PID/stat");
    // 第 2 项是用括号括起来的程序名，可能带空格：从最后一个 ) 之后开始数
    let rest = &stat[stat.rfind(')').expect("stat 的格式") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // 去掉前两项以后，utime 和 stime 是第 12、13 项（从 0 数）
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// 一个客户端突然重置连接（RST），服务端报告它，其他客户端照常收发，新客户端也能连上。
#[tokio::test]
async fn server_survives_a_reset_client() {
    let (mut server, addr) = start_server(server(), SERVER, &[]).await;
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
        reported.starts_with(&format!("从客户端 {rude_addr} 读取失败：连接被对方重置")),
        "服务端应当报告读取失败：{reported}"
    );

    echo_round_trip(&mut steady, b"after").await;
    let mut newcomer = connect(addr).await;
    echo_round_trip(&mut newcomer, b"newcomer").await;
}

/// 端口已被占用：一行中文说明原因和办法，退出码非零。
#[test]
fn server_reports_port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("占一个端口");
    let addr = taken.local_addr().expect("本地地址").to_string();
    let transcript = run_to_exit(server(), SERVER, &["--addr", &addr], "");
    assert_transcript("readiness_port_in_use", &transcript);
}

// ---------------------------------------------------------------- strace（只在 Linux 上）

/// strace 记录的系统调用：等事件、登记、接受连接、收、发、写标准输出、关闭。
#[cfg(target_os = "linux")]
const TRACED: &str = "trace=epoll_wait,epoll_ctl,accept4,recvfrom,sendto,read,write,close";

/// 在 strace 下运行 lab-poll-echo，一个客户端一步一步地收发，记下服务端发出的系统调用。
/// 书里逐行解读这份记录。
#[cfg(target_os = "linux")]
#[tokio::test]
async fn strace_shows_the_event_loop() {
    let Some(trace) = trace_one_client(server(), SERVER).await else {
        return;
    };
    assert_transcript("readiness_strace_poll_echo", &trace);
}

/// 没有 strace 或者不许跟踪时跳过（打印一行原因）；CI 设置了 SOCKET_WORKBOOK_REQUIRE_LAN，
/// 那里必须真的运行。
#[cfg(target_os = "linux")]
fn strace_usable() -> bool {
    let works = std::process::Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let reason = match works {
        Ok(status) if status.success() => return true,
        Ok(_) => "strace 不能跟踪进程（容器里可能不许 ptrace）",
        Err(_) => "没有找到 strace（Debian/Ubuntu：apt install strace）",
    };
    skip_or_fail(&format!("跳过 strace 的测试：{reason}"));
    false
}

/// 测试结束（或者失败）时结束被跟踪的服务端：只结束 strace 的话，它会脱离跟踪继续运行。
#[cfg(target_os = "linux")]
struct KillOnDrop(u32);

#[cfg(target_os = "linux")]
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill 只是发一个信号，参数都是普通整数
        unsafe {
            libc::kill(self.0 as libc::pid_t, libc::SIGKILL);
        }
    }
}

/// strace 启动的那个进程（被跟踪的服务端）。
#[cfg(target_os = "linux")]
fn traced_child(strace_pid: u32) -> u32 {
    let children =
        std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children"))
            .expect("读 /proc/PID/task/PID/children");
    children
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .expect("strace 应当已经启动了服务端")
}

/// 等服务端的每个线程都停在“等待”里（epoll_wait 或者 futex）：它处理完了手上的事。
/// 下一步只能在这之后做，否则两步会在记录里交错，记录就每次都不一样了。
#[cfg(target_os = "linux")]
async fn wait_until_idle(pid: u32) {
    let idle = || {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        tasks.flatten().all(|task| {
            let wchan = std::fs::read_to_string(task.path().join("wchan")).unwrap_or_default();
            wchan.contains("epoll") || wchan.contains("futex")
        })
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !idle() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "等了 {WAIT_SECS} 秒，服务端还没有回到等待状态"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// 在 strace 下启动 `path`，一个客户端：连上、发两行（每行都等回声）、关闭。
/// 返回整理过的记录；strace 用不了时返回 None（已经打印了原因）。
#[cfg(target_os = "linux")]
async fn trace_one_client(path: &Path, name: &str) -> Option<String> {
    if !strace_usable() {
        return None;
    }
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("swb-strace-{}-{n}.txt", std::process::id()));
    let file_arg = file.to_string_lossy().into_owned();
    let prefix = ["strace", "-f", "-s", "256", "-o", &file_arg, "-e", TRACED];
    let mut strace = Program::start_with_prefix(&prefix, path, name, &["--addr", "127.0.0.1:0"]);
    let first = strace.next_line().await;
    let addr = find_address(&first).expect("第一行写出监听的地址");
    let pid = traced_child(strace.pid());
    let _guard = KillOnDrop(pid);
    wait_until_idle(pid).await;

    let mut client = connect(addr).await;
    let me = client.local_addr().expect("本地地址");
    strace.expect_line(&format!("新连接：{me}")).await;
    wait_until_idle(pid).await;
    for message in ["hello", "你好，世界"] {
        echo_round_trip(&mut client, message.as_bytes()).await;
        strace
            .expect_line(&format!("收到client端发来的数据： {message}"))
            .await;
        wait_until_idle(pid).await;
    }
    drop(client);
    strace.expect_line(&format!("客户端 {me} 已关闭连接")).await;
    wait_until_idle(pid).await;
    drop(_guard); // 结束服务端，strace 随之退出，把记录写完
    strace.wait_exit().await;
    let raw = std::fs::read_to_string(&file).expect("读 strace 的记录");
    let _ = std::fs::remove_file(&file);
    let command = format!("$ strace -f -e {TRACED} {name} --addr 127.0.0.1:0");
    Some(format!("{command}\n{}", tidy_trace(&raw)))
}

/// 把 strace 的原始记录整理成每次都一样的样子：
/// 只留服务端准备好（第一次 epoll_ctl 登记监听套接字）之后、关闭那个连接为止的行；
/// 进程号去掉；文件描述符换成它的角色（[epoll]、[listener]、[conn]）；端口、指针遮住；
/// 字符串里的字节按 UTF-8 显示，太长的截短；连续相同的行只留一行。
#[cfg(target_os = "linux")]
fn tidy_trace(raw: &str) -> String {
    use regex::Regex;
    let pid = Regex::new(r"^\d+ +").unwrap();
    let lines: Vec<String> = raw
        .lines()
        .map(|line| pid.replace(line, "").into_owned())
        .collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with("epoll_ctl("))
        .expect("记录里应当有登记监听套接字的 epoll_ctl");
    // 角色：第一次 epoll_ctl 的第 1 个参数是 epoll，第 3 个是监听套接字；accept4 返回的是连接
    let ctl = Regex::new(r"^epoll_ctl\((\d+), EPOLL_CTL_ADD, (\d+),").unwrap();
    let caps = ctl.captures(&lines[start]).expect("epoll_ctl 的格式");
    let mut roles = vec![
        (caps[1].to_string(), "[epoll]"),
        (caps[2].to_string(), "[listener]"),
    ];
    let accepted = Regex::new(r"^accept4\(.* = (\d+)$").unwrap();
    if let Some(fd) = lines.iter().find_map(|line| accepted.captures(line)) {
        roles.push((fd[1].to_string(), "[conn]"));
    }
    let conn_fd = roles.get(2).map(|(fd, _)| fd.clone()).unwrap_or_default();
    let end = lines
        .iter()
        .skip(start)
        .position(|line| {
            line == &format!("close({conn_fd}) = 0")
                || line.starts_with(&format!("close({conn_fd})"))
        })
        .map(|i| start + i)
        .expect("记录里应当有关闭连接的 close");

    let fd_first = Regex::new(r"^(\w+)\((\d+)").unwrap();
    let fd_ctl = Regex::new(r"(EPOLL_CTL_\w+), (\d+)").unwrap();
    let fd_ret = Regex::new(r"^(accept4\(.*= )(\d+)$").unwrap();
    let port = Regex::new(r"htons\(\d+\)").unwrap();
    let pointer = Regex::new(r"0x[0-9a-f]+").unwrap();
    let padding = Regex::new(r"\) +=( |$)").unwrap();
    let string = Regex::new(r#""((?:[^"\\]|\\.)*)"(\.\.\.)?"#).unwrap();
    let role = |fd: &str| {
        roles
            .iter()
            .find(|(known, _)| known == fd)
            .map_or(fd.to_string(), |(_, name)| name.to_string())
    };
    let mut tidy: Vec<String> = Vec::new();
    for line in &lines[start..=end] {
        let line = fd_first.replace(line, |c: &regex::Captures| {
            format!("{}({}", &c[1], role(&c[2]))
        });
        let line = fd_ctl.replace(&line, |c: &regex::Captures| {
            format!("{}, {}", &c[1], role(&c[2]))
        });
        let line = fd_ret.replace(&line, |c: &regex::Captures| {
            format!("{}{}", &c[1], role(&c[2]))
        });
        let line = port.replace_all(&line, "htons([PORT])");
        let line = pointer.replace_all(&line, "0x[ADDR]");
        // strace 用空格把返回值对齐到某一列，列的位置和原来的数字有多长有关
        let line = padding.replace(&line, ") = ");
        let line = string.replace_all(&line, |c: &regex::Captures| shown_string(&c[1]));
        let line = line.into_owned();
        if tidy.last() != Some(&line) {
            tidy.push(line);
        }
    }
    tidy.join("\n")
}

/// strace 的字符串（\346 这样的八进制转义）还原成字节，按 UTF-8 显示；超过 40 个字符的截短。
#[cfg(target_os = "linux")]
fn shown_string(escaped: &str) -> String {
    let mut bytes = Vec::new();
    let mut chars = escaped.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut utf8 = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => bytes.push(b'\n'),
            Some('t') => bytes.push(b'\t'),
            Some('r') => bytes.push(b'\r'),
            Some(d @ '0'..='7') => {
                // 最多三位八进制数字：\232127 是字节 0o232 后面跟着字符 127
                let mut value = d.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let Some(next) = chars.peek().and_then(|c| c.to_digit(8)) else {
                        break;
                    };
                    value = value * 8 + next;
                    chars.next();
                }
                bytes.push(value as u8);
            }
            Some(other) => {
                let mut utf8 = [0u8; 4];
                bytes.extend_from_slice(other.encode_utf8(&mut utf8).as_bytes());
            }
            None => {}
        }
    }
    let text = shown(&bytes);
    if text.chars().count() > 40 {
        format!("\"{}\"...", text.chars().take(40).collect::<String>())
    } else {
        format!("\"{text}\"")
    }
}
