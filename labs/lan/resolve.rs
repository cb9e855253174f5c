//! # 第 5 章 · 名字和地址：lab-resolve
//!
//! 程序里写的常常是名字（`localhost`、`myserver`），连接用的却是 IP 地址。把名字变成地址的是
//! 系统的解析器：它先查本机的 hosts 文件，查不到再问 DNS。一个名字可能对应好几个地址，
//! 顺序也由解析器决定，客户端就按这个顺序一个一个地试（见 lab-dial）。
//!
//! 这个程序把每个 `--addr` 交给解析器（和 TCP 客户端用的是同一个函数 `tokio::net::lookup_host`），
//! 按返回的顺序列出地址，说明是 IPv4 还是 IPv6，以及 hosts 文件里有没有写这个名字。
//!
//! 运行：
//!
//! ```text
//! cargo run --bin lab-resolve                                 # localhost、本机的名字、hosts 文件里的一个名字
//! cargo run --bin lab-resolve -- --addr localhost:20000 --addr example.com:80
//! ```
//!
//! 对照：Linux 上 `getent ahosts localhost`，macOS 上 `dscacheutil -q host -a name localhost`，
//! Windows 上 `Resolve-DnsName localhost`（PowerShell）。

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use socket_workbook::net::{Target, parse_target};

/// 看看名字被解析成了哪些地址。
#[derive(Parser)]
#[command(name = "lab-resolve", version)]
struct Args {
    /// 要解析的地址，格式 HOST:PORT；可以写好几次。不写时解析 localhost、本机的名字和 hosts 文件里的一个名字
    #[arg(long, value_name = "HOST:PORT")]
    addr: Vec<String>,
}

/// 没有写端口时用的端口：只是为了凑成 HOST:PORT，解析时不会连接它。
const SHOW_PORT: u16 = 20000;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let hosts = read_hosts_file();

    // 1. 要解析哪些名字：命令行给的，或者几个有代表性的
    let addrs = if args.addr.is_empty() {
        default_names(&hosts)
    } else {
        args.addr.clone()
    };

    // 2. 一个一个地解析，按解析器给的顺序打印
    let mut all_ok = true;
    for addr in &addrs {
        all_ok &= show(addr, &hosts).await;
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ANCHOR: show
/// 解析一个 `HOST:PORT`，打印结果。解析不出来时返回 false。
async fn show(addr: &str, hosts: &Hosts) -> bool {
    println!("{addr}");
    let host = match parse_target(addr) {
        Ok(Target::Name { host, .. }) => host,
        Ok(Target::Ip(ip)) => {
            println!("  这已经是 IP 地址，不用解析：{ip}");
            return true;
        }
        Err(reason) => {
            println!("  写得不对：{reason}");
            return false;
        }
    };
    // hosts 文件里有这个名字吗？有的话，解析器多半直接用它，不去问 DNS
    println!("  {}", hosts.describe(&host));
    match socket_workbook::net::resolve(addr).await {
        Ok(found) => {
            println!("  解析器按这个顺序给出 {} 个地址：", found.len());
            for (i, socket) in found.iter().enumerate() {
                let family = if socket.is_ipv4() { "IPv4" } else { "IPv6" };
                println!("    {}. {socket}    {family}", i + 1);
            }
            true
        }
        Err(reason) => {
            println!("  {reason}");
            false
        }
    }
}
// ANCHOR_END: show

/// 默认解析的名字：localhost、本机的名字（主机名），和 hosts 文件里另外的一个名字。
fn default_names(hosts: &Hosts) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    let own = gethostname::gethostname().to_string_lossy().into_owned();
    if !own.is_empty() {
        names.push(own);
    }
    if let Some(other) = hosts
        .entries
        .iter()
        .map(|(_, name)| name)
        .find(|name| !names.iter().any(|n| n.eq_ignore_ascii_case(name)))
    {
        names.push(other.clone());
    }
    names
        .into_iter()
        .map(|name| format!("{name}:{SHOW_PORT}"))
        .collect()
}

// ANCHOR: hosts
/// hosts 文件：每行一个 IP 地址，后面跟着它的一个或几个名字；`#` 后面是注释。
struct Hosts {
    path: PathBuf,
    /// （地址，名字），按文件里的顺序
    entries: Vec<(IpAddr, String)>,
    /// 读不出文件时的原因
    problem: Option<String>,
}

impl Hosts {
    /// 一句话说明 hosts 文件里关于 `name` 写了什么。
    fn describe(&self, name: &str) -> String {
        let path = self.path.display();
        if let Some(problem) = &self.problem {
            return format!("hosts 文件（{path}）读不出来：{problem}");
        }
        let ips: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(ip, _)| ip.to_string())
            .collect();
        if ips.is_empty() {
            format!("hosts 文件（{path}）里没有这个名字：解析器会去问 DNS（或者系统自己知道它）")
        } else {
            format!("hosts 文件（{path}）里有这个名字：{}", ips.join("、"))
        }
    }
}

/// hosts 文件在哪里：Windows 把它放在系统目录里，其他系统都是 /etc/hosts。
fn hosts_path() -> PathBuf {
    #[cfg(windows)]
    {
        // Windows 装在别的盘时，SystemRoot 指向真正的系统目录
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
        PathBuf::from(root).join(r"System32\drivers\etc\hosts")
    }
    #[cfg(not(windows))]
    {
        PathBuf::from("/etc/hosts")
    }
}

/// 读 hosts 文件。读不出来不算错：只是少了一条说明。
fn read_hosts_file() -> Hosts {
    let path = hosts_path();
    match std::fs::read(&path) {
        Ok(bytes) => Hosts {
            entries: parse_hosts(&String::from_utf8_lossy(&bytes)),
            path,
            problem: None,
        },
        Err(err) => Hosts {
            path,
            entries: Vec::new(),
            problem: Some(socket_workbook::errors::cause(&err)),
        },
    }
}

/// 把 hosts 文件的内容拆成（地址，名字）。
fn parse_hosts(text: &str) -> Vec<(IpAddr, String)> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue; // 空行、注释，或者看不懂的行
        };
        for name in words {
            entries.push((ip, name.to_string()));
        }
    }
    entries
}
// ANCHOR_END: hosts

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_give_every_name_its_address() {
        let text = "# 注释\n127.0.0.1 localhost\n::1 localhost ip6-localhost # 行尾注释\n\n192.0.2.5\tprinter\nnonsense line\n";
        let entries = parse_hosts(text);
        let shown: Vec<String> = entries.iter().map(|(ip, n)| format!("{ip} {n}")).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1 localhost",
                "::1 localhost",
                "::1 ip6-localhost",
                "192.0.2.5 printer"
            ]
        );
    }
}
