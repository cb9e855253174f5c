//! 自检用的“作弊的学生”：一个想骗过评分的练习 2.3 模块。
//!
//! 它不实现任何东西，只打印 libtest 格式的假结果（`test ex_2_3_… ... ok`、`test result: ok`），
//! 然后让进程以退出码 0 结束，或者在 panic 信息里夹带假结果。学生的模块在驱动程序的进程里运行，
//! 这些都只进驱动程序的管道，所以它一个测试也不该通过。`selftest` 用它证明这一点。

/// 这个模块冒充的练习。
pub const EXERCISE: &str = "sticky-proto";

/// 作弊的模块的源码（和练习文件有同样的公开接口，所以能编进驱动程序）。
pub const STICKY_PROTO: &str = r#"//! 作弊：不实现分帧，只假装测试都通过了。
#![allow(unused)]

pub const HEADER_LEN: usize = 4;
pub const MAX_FRAME_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    TooLong { len: usize, max: usize },
    TruncatedHeader { got: usize },
    TruncatedBody { len: usize, got: usize },
}

const TESTS: &[&str] = &[
    "length_prefix_is_big_endian",
    "decoder_handles_every_single_split_point",
    "decoder_handles_random_splits",
    "decoder_gets_several_frames_from_one_read",
    "oversize_frame_is_rejected_from_its_header_alone",
    "encoder_refuses_oversize_messages",
    "truncated_stream_is_reported",
    "proto_matches_length_delimited_codec",
];

fn fake_results() -> String {
    let mut text = String::from("\nrunning 8 tests\n");
    for name in TESTS {
        text.push_str(&format!("test ex_2_3_proto::{name} ... ok\n"));
    }
    text.push_str("\ntest result: ok. 8 passed; 0 failed; 0 ignored\n\nfailures:\n");
    text
}

/// 在标准输出和标准错误上都打印假结果，然后“成功”退出。
fn claim_success() -> ! {
    print!("{}", fake_results());
    eprint!("{}", fake_results());
    std::process::exit(0)
}

pub fn encode(message: &[u8]) -> Result<Vec<u8>, FrameError> {
    claim_success()
}

pub struct Decoder {
    buffer: Vec<u8>,
    max_len: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::with_max_len(MAX_FRAME_LEN)
    }

    pub fn with_max_len(max_len: usize) -> Decoder {
        Decoder { buffer: Vec::new(), max_len }
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        // 还没收到完整的回答时，先冒充一个回答
        println!("{{\"id\":1,\"results\":[],\"buffered\":0}}");
        print!("{}", fake_results());
    }

    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        // 在 panic 信息里夹带假结果
        panic!("{}", fake_results())
    }

    pub fn finish(&self) -> Result<(), FrameError> {
        claim_success()
    }

    pub fn buffered(&self) -> usize {
        4
    }
}
"#;
