//! # 练习 2.3：长度前缀：编码器和解码器
//!
//! 这个文件是 `labs/sticky/proto.rs` 的练习版：写着 `todo!("练习 2.3：…")` 的地方被挖空了，
//! 请你把它补全，让程序和书中第 2.3 节《黏包》的实验表现得一模一样。
//!
//! - 它是一个模块，没有自己的 main：用下面的检查命令运行它的测试
//! - 检查：`cargo run --bin workbook -- check sticky-proto`
//! - 提示：`cargo run --bin workbook -- hint sticky-proto`
//! - 重读：book/ch02-3-sticky.md

// 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。
#![allow(unused)]
// 服务端只用解码器、客户端只用编码器，各自用不到另一半
#![allow(dead_code)]

use std::fmt;

/// 长度字段占几个字节。
pub const HEADER_LEN: usize = 4;

/// 一条消息最多多少字节。长度字段超过它的帧一律拒绝：
/// 不然对方只要发来 `ff ff ff ff` 四个字节，我们就得准备 4 GiB 的内存去装它。
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// 分帧出错的几种情况。
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// 要发送的消息，或者对方声明的长度，超过了上限。
    TooLong { len: usize, max: usize },
    /// 连接在 4 字节的长度字段中间就结束了。
    TruncatedHeader { got: usize },
    /// 连接在消息的中间结束了：应有 `len` 字节，只收到 `got` 字节。
    TruncatedBody { len: usize, got: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max } => {
                write!(f, "帧的长度是 {len} 字节，超过了上限 {max} 字节")
            }
            FrameError::TruncatedHeader { got } => write!(
                f,
                "连接在长度字段的中间结束了：长度字段应有 {HEADER_LEN} 字节，只收到 {got} 字节"
            ),
            FrameError::TruncatedBody { len, got } => write!(
                f,
                "连接在一条消息的中间结束了：这条消息应有 {len} 字节，只收到 {got} 字节"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// 编码：在消息前面加上 4 字节的长度（大端序），得到可以直接写进连接的一帧。
pub fn encode(message: &[u8]) -> Result<Vec<u8>, FrameError> {
    // TODO（练习 2.3）：encode：消息超过 MAX_FRAME_LEN 就返回 FrameError::TooLong；否则先写 4 字节长度
    // （(len as u32).to_be_bytes()，大端序），再写消息本身。
    // next_message：缓冲区不足 4 字节就返回 Ok(None)；读出长度（u32::from_be_bytes），
    // 超过 max_len 立刻返回 TooLong（不要等消息体）；不足一整帧返回 Ok(None)；
    // 够了就取出消息，并用 drain 把这一帧从缓冲区去掉。
    // finish：缓冲区空着就是 Ok(())；不足 4 字节是 TruncatedHeader，否则是 TruncatedBody。
    todo!("练习 2.3：长度前缀：编码器和解码器")
}

/// 解码器：把一次次读到的字节接起来，从中切出完整的消息。
///
/// 它不关心每次读到多少：半帧就先存着等下一次，一次读到好几帧就一条一条地交出去。
pub struct Decoder {
    /// 已经读到、但还没有拼成完整消息的字节
    buffer: Vec<u8>,
    max_len: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::with_max_len(MAX_FRAME_LEN)
    }

    pub fn with_max_len(max_len: usize) -> Decoder {
        Decoder {
            buffer: Vec::new(),
            max_len,
        }
    }

    /// 把刚从连接里读到的字节接到末尾。
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// 取出下一条完整的消息。字节还不够一帧时返回 `Ok(None)`：再去读一些，然后再来问。
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        // TODO（练习 2.3）：提示见本文件第一个 TODO
        todo!("练习 2.3：长度前缀：编码器和解码器")
    }

    /// 连接结束时调用：缓冲区里还剩字节，说明对方在一帧的中间就断开了。
    pub fn finish(&self) -> Result<(), FrameError> {
        // TODO（练习 2.3）：提示见本文件第一个 TODO
        todo!("练习 2.3：长度前缀：编码器和解码器")
    }

    /// 缓冲区里暂存了多少字节（测试用它确认超长的帧没有被缓存下来）。
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}
