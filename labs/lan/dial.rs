//! # 第 5 章 · 依次试每一个地址（`dial` 模块）
//!
//! 一个名字常常解析出好几个 IP：`localhost` 在很多系统上先是 `::1`，再是 `127.0.0.1`；
//! 一台服务器可能既有 IPv6 又有 IPv4 地址。客户端要像 Go 的 `net.Dial` 那样按顺序一个一个地试：
//! 这个地址被拒绝、不可达，或者在时限内没有回应，就说一声，换下一个。
//!
//! 第 5 章的 TCP 客户端（`lab-tcp-client`、`lab-chat-client`、`lab-sticky-client`）和
//! `lab-dial` 都用它：
//!
//! ```text
//! #[path = "../lan/dial.rs"]
//! mod dial;
//! ```
//!
//! 练习 5.1 就是其中的 `connect_in_order`。

// 每个程序只用到这个模块的一部分
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket_workbook::errors::{cause, connect_failed, connect_timed_out};
use socket_workbook::net::{Target, parse_target, resolve};
use tokio::net::TcpStream;
use tokio::time::timeout;

// ANCHOR: dial
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
// ANCHOR_END: dial

// ANCHOR: dial_all
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
// ANCHOR_END: dial_all

// ANCHOR: connect_in_order
/// 按顺序试 `candidates` 里的每一个地址，每个最多等 `per_address`，返回第一个连上的连接和它的地址。
///
/// 一个地址失败了（被拒绝、不可达、超时），后面还有地址时打印一行 `attempt_failed(…)`，接着试下一个；
/// 全都失败时返回最后一个地址的错误（不打印，由调用者说明）。
pub async fn connect_in_order(
    candidates: &[SocketAddr],
    per_address: Duration,
) -> io::Result<(TcpStream, SocketAddr)> {
    // ANCHOR: exercise
    let mut last_error = no_candidates();
    for (i, &candidate) in candidates.iter().enumerate() {
        // connect 本身没有时限：对方悄悄丢掉握手包时，系统要重试一两分钟才放弃。
        // 用 timeout 给每个地址一个上限，超时就当这个地址不行
        let err = match timeout(per_address, TcpStream::connect(candidate)).await {
            Ok(Ok(conn)) => return Ok((conn, candidate)),
            Ok(Err(err)) => err,
            Err(_elapsed) => connect_timed_out(per_address),
        };
        if let Some(&next) = candidates.get(i + 1) {
            eprintln!("{}", attempt_failed(candidate, &err, next));
        }
        last_error = err;
    }
    Err(last_error)
    // ANCHOR_END: exercise
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
// ANCHOR_END: connect_in_order

/// 连上了 `reached`。
pub fn connected(reached: SocketAddr) -> String {
    format!("已连接到 {reached}")
}
