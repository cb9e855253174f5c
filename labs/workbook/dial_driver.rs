//! # 练习 5.1 的程序 `ex-dial`（学生不用改它）
//!
//! 练习 5.1 交的是一个模块（`labs/exercises/dial.rs`），不是程序。这个小程序把它编进来，
//! 表现和 `lab-dial` 一模一样：tests/exercises.rs 用检验 lab-dial 的同一批场景给它评分。
//!
//! ```text
//! cargo run --features exercises --bin ex-dial -- --addr localhost:20000
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[path = "../exercises/dial.rs"]
mod dial;

/// 依次试几个服务端地址，报告连上了哪一个（用练习 5.1 的 connect_in_order）。
#[derive(Parser)]
#[command(name = "ex-dial", version)]
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
