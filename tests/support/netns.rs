//! 一个只属于测试自己的小局域网：两台“主机”，中间一根网线。
//!
//! 每台主机是一个 Linux 网络命名空间（network namespace）：有自己的网卡、地址、路由表、
//! 端口和防火墙，和这台机器上别的一切都隔开。两台主机之间连一对 veth（虚拟网线的两头）：
//!
//! ```text
//! host-a（192.0.2.1/24，2001:db8::1/64）eth0 ──── eth0（192.0.2.2/24，2001:db8::2/64）host-b
//! ```
//!
//! 地址取自专门留给文档和示例的网段（RFC 5737 的 192.0.2.0/24，RFC 3849 的 2001:db8::/32），
//! 两台主机都没有默认路由：发往别处的数据包根本出不了门，测试碰不到真实的网络。
//!
//! 建命名空间要 root 权限和 `ip`（iproute2）；防火墙的测试还要 `nft`（nftables）。
//! 条件不满足时测试打印一行原因、直接通过（学生的 `cargo test` 不会因此失败），CI 以 root 运行它们。

#![allow(dead_code)] // 每个测试文件只用到其中一部分

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{Program, WAIT, run_to_exit_with_prefix};

/// 主机 A 和主机 B 的地址。
pub const A_V4: &str = "192.0.2.1";
pub const B_V4: &str = "192.0.2.2";
pub const A_V6: &str = "2001:db8::1";
pub const B_V6: &str = "2001:db8::2";

/// 命名空间名字的前缀。后面跟着测试进程的进程号和一个计数，同时运行的测试互不相撞。
const PREFIX: &str = "swb-";

/// 条件不满足时打印的一行（后面接上具体原因）。
const NEEDS: &str =
    "跳过：这个测试要在两台“主机”之间收发，需要 root 权限和 ip netns（.ci/run 以 root 运行它）";

/// 防火墙的测试还需要 nft。
const NEEDS_NFT: &str =
    "跳过：这个测试要在主机 A 上设防火墙，需要 root 权限和 nft（.ci/run 会装上 nftables）";

/// 打印跳过的原因。直接写标准错误，不经过 eprintln!：测试框架只截获 print 一类的宏，
/// 这样即使测试通过，运行 `cargo test` 的人也能看到这一行。
pub fn skip(reason: &str) {
    skipping(&format!("{NEEDS}：{reason}"));
}

/// 防火墙的测试找不到 nft 时打印的一行。
pub fn skip_firewall(reason: &str) {
    skipping(&format!("{NEEDS_NFT}：{reason}"));
}

/// 搭好两台主机的局域网；搭不起来时打印一行原因，返回 None（测试就此通过）。
pub fn lan_or_skip() -> Option<Lan> {
    match Lan::new() {
        Ok(lan) => Some(lan),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

/// 同上，另外要能在主机 A 上设防火墙（nft）。
pub fn lan_with_firewall_or_skip() -> Option<Lan> {
    let lan = lan_or_skip()?;
    match lan.nft_available() {
        Ok(()) => Some(lan),
        Err(reason) => {
            skip_firewall(&reason);
            None
        }
    }
}

/// 记录里的命令行写出它在哪台主机上运行：`$ lab-chat-server …` 变成 `host-a$ lab-chat-server …`。
pub fn on_host(host: &str, transcript: &str) -> String {
    transcript
        .lines()
        .map(|line| match line.strip_prefix("$ ") {
            Some(command) => format!("{host}$ {command}"),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// CI（.ci/run）设置这个环境变量：那里以 root 运行、装好了 ip 和 nft，这些测试必须真的运行，
/// 跳过就是 CI 的配置出了错，测试失败而不是悄悄通过。
const REQUIRED: &str = "SOCKET_WORKBOOK_REQUIRE_LAN";

fn skipping(line: &str) {
    if std::env::var_os(REQUIRED).is_some() {
        panic!(
            "{line}\n（设置了 {REQUIRED}：这里不许跳过，请以 root 运行并装好 iproute2 和 nftables）"
        );
    }
    say(line);
}

/// 一次写出一整行：和测试框架同时输出的“test … ok”不会被插在一行的中间。
fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// 两台主机组成的局域网。丢弃它（测试结束，或者测试失败、panic 展开时）就拆掉两台主机。
pub struct Lan {
    a: String,
    b: String,
}

impl Lan {
    /// 搭好局域网；搭不起来时返回原因（测试据此跳过）。
    pub fn new() -> Result<Lan, String> {
        // 网络命名空间是 Linux 才有的东西
        if !cfg!(target_os = "linux") {
            return Err("只有 Linux 有网络命名空间".to_string());
        }
        if !running_as_root() {
            return Err("当前用户不是 root".to_string());
        }
        run("ip", &["-V"])?;
        remove_stale_hosts();

        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // 名字里有进程号和进程的启动时刻：进程号会被别的程序重新用上，两样都对得上才是这个进程
        let owner = owner_tag(std::process::id()).unwrap_or_default();
        // 先把名字记进 Lan：后面任何一步失败，丢弃它时照样拆掉已经建好的部分
        let lan = Lan {
            a: format!("{PREFIX}{owner}-{n}-a"),
            b: format!("{PREFIX}{owner}-{n}-b"),
        };
        lan.build()?;
        Ok(lan)
    }

    fn build(&self) -> Result<(), String> {
        let (a, b) = (self.a.as_str(), self.b.as_str());
        run("ip", &["netns", "add", a])?;
        run("ip", &["netns", "add", b])?;
        // 网线直接建在两台主机里，两头都叫 eth0：本机（测试所在的命名空间）里不会多出网卡。
        // MAC 地址固定，IPv6 的链路本地地址（由 MAC 算出来）也就每次都一样
        run(
            "ip",
            &[
                "link",
                "add",
                "name",
                "eth0",
                "address",
                "02:00:00:00:00:01",
                "netns",
                a,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "address",
                "02:00:00:00:00:02",
                "netns",
                b,
            ],
        )?;
        for (host, v4, v6) in [(a, A_V4, A_V6), (b, B_V4, B_V6)] {
            run("ip", &["-n", host, "link", "set", "lo", "up"])?;
            let v4 = format!("{v4}/24");
            run("ip", &["-n", host, "addr", "add", &v4, "dev", "eth0"])?;
            // nodad：不做重复地址检测，地址马上能用（否则要等一两秒，地址才从“试用”变成可用）
            let v6 = format!("{v6}/64");
            run(
                "ip",
                &["-n", host, "addr", "add", &v6, "dev", "eth0", "nodad"],
            )?;
            // 链路本地地址（fe80::…）是网卡启动时系统自己加的，同样不做重复地址检测：
            // 否则启动后的一两秒里它还在“试用”，发往 IPv6 组播组的数据报没有可用的源地址
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    host,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.eth0.accept_dad=0",
                ],
            )?;
            run("ip", &["-n", host, "link", "set", "eth0", "up"])?;
        }
        for host in [a, b] {
            wait_for_ipv6_link(host)?;
        }
        Ok(())
    }

    /// 在主机 A 上运行程序时用的命令前缀。
    pub fn on_a(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.a]
    }

    /// 在主机 B 上运行程序时用的命令前缀。
    pub fn on_b(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.b]
    }

    /// 在主机 A 上启动一个程序。
    pub fn start_on_a(&self, path: &Path, name: &str, args: &[&str]) -> Program {
        Program::start_with_prefix(&self.on_a(), path, name, args)
    }

    /// 在主机 B 上启动一个程序。
    pub fn start_on_b(&self, path: &Path, name: &str, args: &[&str]) -> Program {
        Program::start_with_prefix(&self.on_b(), path, name, args)
    }

    /// 在主机 B 上运行一个很快就会自己结束的程序，把 `stdin` 喂给它，返回它的记录
    /// （见 `run_to_exit`：先是标准输出的每一行，再是标准错误的）。
    /// 在后台线程里等，测试里其他程序的输出照常有人读。
    pub async fn run_on_b(&self, path: &Path, name: &str, args: &[&str], stdin: &str) -> String {
        let prefix: Vec<String> = self.on_b().iter().map(|s| s.to_string()).collect();
        let (path, name, stdin) = (path.to_path_buf(), name.to_string(), stdin.to_string());
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_to_exit_with_prefix(&prefix, &path, &name, &args, &stdin)
        })
        .await
        .expect("运行程序的后台线程")
    }

    /// 主机 B 的邻居表（ARP 缓存）里关于 `ip` 的那一行，没有时是空的。主机 B 试过连同一网段里的
    /// 某个地址，就会先用 ARP 问它的 MAC 地址，表里就留下一行（没人回答时是 INCOMPLETE 或 FAILED）。
    pub fn neighbour_on_b(&self, ip: &str) -> String {
        match run("ip", &["-n", &self.b, "neigh", "show", ip]) {
            Ok(text) => text.trim().to_string(),
            Err(reason) => panic!("读不到主机 B 的邻居表：{reason}"),
        }
    }

    /// 主机 A 上能不能设防火墙：找不到 nft 时返回原因。
    pub fn nft_available(&self) -> Result<(), String> {
        run("nft", &["--version"]).map(|_| ())
    }

    /// 在主机 A 里执行一段 nft 命令（只改主机 A 自己的防火墙，本机的不受影响）。
    pub fn nft_on_a(&self, script: &str) {
        let mut args = self.on_a().to_vec();
        args.extend(["nft", script]);
        if let Err(reason) = run(args[0], &args[1..]) {
            panic!("在主机 A 上设防火墙失败：{reason}");
        }
    }

    /// 主机 B 的 /etc/hosts：`ip netns exec` 在那台主机里把 /etc/netns/名字/hosts 挂到 /etc/hosts 上。
    pub fn set_hosts_on_b(&self, text: &str) {
        let dir = hosts_dir(&self.b);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("无法创建 {}：{err}", dir.display()));
        let file = dir.join("hosts");
        std::fs::write(&file, text)
            .unwrap_or_else(|err| panic!("无法写入 {}：{err}", file.display()));
    }
}

impl Drop for Lan {
    /// 拆掉两台主机。网线随命名空间一起消失；还在里面运行的程序由测试的 Program 结束。
    fn drop(&mut self) {
        for host in [&self.a, &self.b] {
            remove_host(host);
        }
    }
}

/// 删掉一台主机：命名空间和它的 /etc/netns/名字 目录。尽力而为，失败了也不 panic
/// （Drop 可能正发生在一次 panic 的展开中）。
fn remove_host(name: &str) {
    if Path::new("/var/run/netns").join(name).exists()
        && let Err(reason) = run("ip", &["netns", "del", name])
    {
        say(&format!("无法删除网络命名空间 {name}：{reason}"));
    }
    let _ = std::fs::remove_dir_all(hosts_dir(name));
}

fn hosts_dir(name: &str) -> PathBuf {
    Path::new("/etc/netns").join(name)
}

/// 删掉以前被强行结束的测试留下的主机：名字里的进程（进程号加启动时刻）已经不在了。
/// 同时在运行的其他测试进程（哪怕是另一个测试程序）的主机不动。每个测试进程只做一次。
fn remove_stale_hosts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut names = Vec::new();
        for dir in ["/var/run/netns", "/etc/netns"] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        names.dedup();
        for name in names {
            let Some(rest) = name.strip_prefix(PREFIX) else {
                continue;
            };
            // 名字是 swb-进程号-启动时刻-编号-a：那个进程还在（同一个进程号、同一个启动时刻）就不动
            let mut parts = rest.split('-');
            let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            if owner_tag(pid).is_some_and(|tag| tag == format!("{pid}-{start}")) {
                continue;
            }
            // 那次测试留下的程序也许还在这台主机里运行：先结束它们
            if let Ok(pids) = run("ip", &["netns", "pids", &name]) {
                for pid in pids.split_whitespace() {
                    let _ = run("kill", &["-KILL", pid]);
                }
            }
            remove_host(&name);
        }
    });
}

/// “进程号-启动时刻”：启动时刻是 /proc/PID/stat 的第 22 项（开机以来的时钟滴答数）。
/// 进程不在了就是 None。
fn owner_tag(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // 第 2 项是括号里的程序名，里面可能有空格：从最后一个右括号之后开始数（那是第 3 项）
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start = after_name.split_whitespace().nth(19)?;
    Some(format!("{pid}-{start}"))
}

/// 运行一条命令（最多等 [`WAIT`]），成功时返回它的标准输出，失败时返回一行原因。
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let command_line = format!("{program} {}", args.join(" "));
    let output = assert_cmd::Command::new(program)
        .args(args)
        .timeout(WAIT)
        .output()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => format!("找不到命令 {program}"),
            _ => format!("无法运行 {command_line}：{err}"),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = match output.status.code() {
            Some(code) => format!("退出码 {code}"),
            None => format!("{} 秒内没有结束", WAIT.as_secs()),
        };
        Err(format!("{command_line} 失败（{why}）：{}", stderr.trim()))
    }
}

/// 等主机 `host` 的 eth0 在 IPv6 上准备好：网卡启动后，内核要过大约一秒才加上链路本地地址和
/// 组播路由（ff00::/8），在那之前发往 IPv6 组播组的数据报会得到“网络不可达”。
/// 没有可以等的事件，只好每 50 毫秒看一次路由表，最多看 5 秒。
fn wait_for_ipv6_link(host: &str) -> Result<(), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let routes = run("ip", &["-n", host, "-6", "route", "show", "table", "local"])?;
        let addrs = run(
            "ip",
            &[
                "-n", host, "-6", "addr", "show", "dev", "eth0", "scope", "link",
            ],
        )?;
        if routes.contains("ff00::/8 dev eth0") && addrs.contains("fe80::") {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "主机 {host} 的 eth0 过了 5 秒还没有 IPv6 链路本地地址和组播路由"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 当前进程是不是以 root 身份运行。
#[cfg(target_os = "linux")]
fn running_as_root() -> bool {
    // SAFETY: geteuid 只是读出当前进程的有效用户号，总是成功，不碰任何内存
    unsafe { libc::geteuid() == 0 }
}

/// 网络命名空间只有 Linux 才有，别的系统上不必再问是不是 root。
#[cfg(not(target_os = "linux"))]
fn running_as_root() -> bool {
    false
}
