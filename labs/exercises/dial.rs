//! # 练习 5.1：依次试每一个地址，每个地址限时
//!
//! 这个文件是 `labs/lan/dial.rs` 的练习版：写着 `todo!("练习 5.1：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 5.2 节《名字和地址》的实验表现得一模一样。
//!
//! - 它是一个模块，没有自己的 main：用下面的检查命令运行它的测试
//! - 检查：`cargo run --bin workbook -- check dial`
//! - 提示：`cargo run --bin workbook -- hint dial`
//! - 重读：book/ch05-2-names.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]
// 每个程序只用到这个模块的一部分
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket_workbook::errors::{cause, connect_failed, connect_timed_out};
use socket_workbook::net::{Target, parse_target, resolve};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// 连接 `--addr`：读懂它、解析出全部地址、依次试，每个地址最多等 `per_address`。
///
/// 成功时，只在有话可说的时候报告连上了哪个地址：`--addr` 是一个名字（看不出是哪个 IP），
/// 或者前面的地址失败过。失败时返回要打印的那一行，`server_bin` 用来给出启动服务端的命令。
pub async fn dial(
    addr: &str,
    per_address: Duration,
    server_bin: &str,
) -> Result<TcpStream, String> {
    let candidates = resolve(addr)
        .await
        .map_err(|reason| format!("无法连接到 {addr}：{reason}"))?;
    match connect_in_order(&candidates, per_address).await {
        Ok((conn, reached)) => {
            let was_a_name = matches!(parse_target(addr), Ok(Target::Name { .. }));
            if was_a_name || reached != candidates[0] {
                eprintln!("{}", connected(reached));
            }
            Ok(conn)
        }
        Err(err) => Err(connect_failed(addr, &err, server_bin)),
    }
}

/// `lab-dial` 做的事：把每个 `--addr` 解析出来排成一张表（顺序就是试的顺序），依次试，
/// 报告连上了哪一个。一个也连不上时返回 false。
pub async fn dial_all(addrs: &[String], per_address: Duration) -> bool {
    // 1. 解析：每个 --addr 可能给出好几个 IP，按解析器给的顺序排在一起
    let mut candidates = Vec::new();
    let mut origins = Vec::new(); // 每个候选地址来自哪一个 --addr
    for addr in addrs {
        match resolve(addr).await {
            Ok(found) => {
                for candidate in found {
                    candidates.push(candidate);
                    origins.push(addr.as_str());
                }
            }
            Err(reason) => eprintln!("跳过 {addr}：{reason}"),
        }
    }
    if candidates.is_empty() {
        eprintln!("没有可以试的地址：每个 --addr 都解析不出来");
        return false;
    }
    eprintln!("要试的地址（按这个顺序）：");
    for (i, (candidate, origin)) in candidates.iter().zip(&origins).enumerate() {
        let family = if candidate.is_ipv4() { "IPv4" } else { "IPv6" };
        eprintln!("  {}. {candidate}    {family}，来自 --addr {origin}", i + 1);
    }

    // 2. 依次试，每个地址最多等 per_address
    match connect_in_order(&candidates, per_address).await {
        Ok((_conn, reached)) => {
            eprintln!("{}", connected(reached));
            true
        }
        Err(err) => {
            if candidates.len() > 1 {
                eprintln!("{} 个地址都试过了，一个也连不上", candidates.len());
            }
            let last = origins.last().copied().unwrap_or_default();
            eprintln!("{}", connect_failed(last, &err, "lab-tcp-server"));
            false
        }
    }
}

/// 按顺序试 `candidates` 里的每一个地址，每个最多等 `per_address`，返回第一个连上的连接和它的地址。
///
/// 一个地址失败了（被拒绝、不可达、超时），后面还有地址时打印一行 `attempt_failed(…)`，接着试下一个；
/// 全都失败时返回最后一个地址的错误（不打印，由调用者说明）。
pub async fn connect_in_order(
    candidates: &[SocketAddr],
    per_address: Duration,
) -> io::Result<(TcpStream, SocketAddr)> {
    // TODO（练习 5.1）：要说的话都已经写好，在 connect_in_order 下面：attempt_failed、no_candidates，直接调用它们。
    // 按顺序遍历 candidates（用 enumerate 拿到下标）：用 tokio::time::timeout(per_address, TcpStream::connect(candidate))
    // 限时连接。连上了就返回 Ok((conn, candidate))；connect 出错，错误就是这一次的原因；
    // 超时（timeout 返回 Err）时，原因是 connect_timed_out(per_address)。
    // 失败了而后面还有地址时，用 eprintln!("{}", attempt_failed(candidate, &err, 下一个地址)) 说一声，接着试；
    // 全部失败就返回 Err(最后一个错误)（一个地址也没有时，就是一开始准备好的 no_candidates()）。
    todo!("练习 5.1：依次试每一个地址，每个地址限时")
}

// connect_in_order 要说的话。练习 5.1 里它们已经写好：直接调用，只需要写逻辑。

/// 连 `tried` 失败了，接着试 `next`。
fn attempt_failed(tried: SocketAddr, err: &io::Error, next: SocketAddr) -> String {
    format!("连接 {tried} 失败：{}；接着试下一个地址 {next}", cause(err))
}

/// 一个地址也没有时返回的错误（还没试就失败了）。
fn no_candidates() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "没有可以连接的地址")
}

/// 连上了 `reached`。
pub fn connected(reached: SocketAddr) -> String {
    format!("已连接到 {reached}")
}
