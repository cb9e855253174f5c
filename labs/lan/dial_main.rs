//! # 第 5 章 · 依次试每一个地址：lab-dial
//!
//! 给它一个或几个 `--addr`，它把每个都解析成 IP 地址，列出来，按顺序一个一个地连，
//! 每个地址最多等 `--connect-timeout` 秒：被拒绝、不可达、超时就说明原因，换下一个；
//! 最后报告连上了哪一个，或者全都连不上（退出码 1）。连上以后它什么也不发，马上断开。
//! 真正做事的是 `labs/lan/dial.rs` 里的 `connect_in_order`（练习 5.1），TCP 客户端也用它。
//!
//! 运行（先在另一个终端启动一个服务端，例如 `cargo run --bin lab-tcp-server`）：
//!
//! ```text
//! cargo run --bin lab-dial -- --addr localhost:20000
//! cargo run --bin lab-dial -- --addr 127.0.0.1:1 --addr 127.0.0.1:20000   # 第一个地址没人监听
//! cargo run --bin lab-dial -- --addr 192.0.2.1:20000 --connect-timeout 1   # 一个不会回应的地址
//! ```
//!
//! 对照：`nc -v -w 3 localhost 20000` 也会依次试 localhost 的每个地址。
//! 所有的输出都写到标准错误，和 TCP 客户端连接时的提示一样。

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[path = "dial.rs"]
mod dial;

/// 依次试几个服务端地址，报告连上了哪一个。
#[derive(Parser)]
#[command(name = "lab-dial", version)]
struct Args {
    /// 服务端的地址，格式 HOST:PORT；可以写好几次，按顺序试
    #[arg(long, default_value = "localhost:20000", value_name = "HOST:PORT")]
    addr: Vec<String>,

    /// 每个地址最多等几秒
    #[arg(long, default_value_t = 3, value_name = "秒", value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if dial::dial_all(&args.addr, Duration::from_secs(args.connect_timeout)).await {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
