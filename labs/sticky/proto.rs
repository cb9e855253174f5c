//! # 第 2.3 节 · 手写的分帧协议：4 字节长度前缀
//!
//! 对应 Go 程序里常见的 `proto` 包（`Encode` / `Decode`）。TCP 是字节流，不记得消息的边界，
//! 所以我们自己在每条消息前面加上它的长度，接收方先读长度、再读这么多字节，边界就找回来了：
//!
//! ```text
//! ┌──────────────────────────┬───────────────────────────┐
//! │ 长度：4 字节，网络字节序  │ 消息本身：正好“长度”个字节 │
//! └──────────────────────────┴───────────────────────────┘
//! ```
//!
//! “网络字节序”就是大端序（big-endian）：高位字节在前。长度 26 写成 `00 00 00 1a`。
//!
//! 这个文件被 `lab-sticky-server`、`lab-sticky-client` 和测试用 `#[path]` 直接包含进去：
//! 它是这一节要学的内容，所以和实验放在一起，而不是藏进共用的库里。
//! 同样的格式也可以交给 tokio-util 的 `LengthDelimitedCodec` 来处理，见两个实验的 `--codec`。

// 服务端只用解码器、客户端只用编码器，各自用不到另一半
#![allow(dead_code)]

use std::fmt;

// ANCHOR: format
/// 长度字段占几个字节。
pub const HEADER_LEN: usize = 4;

/// 一条消息最多多少字节。长度字段超过它的帧一律拒绝：
/// 不然对方只要发来 `ff ff ff ff` 四个字节，我们就得准备 4 GiB 的内存去装它。
pub const MAX_FRAME_LEN: usize = 64 * 1024;
// ANCHOR_END: format

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

// ANCHOR: encode
/// 编码：在消息前面加上 4 字节的长度（大端序），得到可以直接写进连接的一帧。
pub fn encode(message: &[u8]) -> Result<Vec<u8>, FrameError> {
    // ANCHOR: exercise
    if message.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLong {
            len: message.len(),
            max: MAX_FRAME_LEN,
        });
    }
    // 上面已经检查过长度，它一定放得进 u32
    let len = message.len() as u32;
    let mut frame = Vec::with_capacity(HEADER_LEN + message.len());
    frame.extend_from_slice(&len.to_be_bytes()); // to_be_bytes：转成大端序的 4 个字节
    frame.extend_from_slice(message);
    Ok(frame)
    // ANCHOR_END: exercise
}
// ANCHOR_END: encode

// ANCHOR: decoder
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
        // ANCHOR: exercise
        // 1. 长度字段还没收齐
        let Some(header) = self.buffer.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        // 2. 先检查长度，再等消息本身：超长的帧在这里就被拒绝，一个字节的内存也不为它分配
        let len = u32::from_be_bytes(*header) as usize; // from_be_bytes：按大端序解读
        if len > self.max_len {
            return Err(FrameError::TooLong {
                len,
                max: self.max_len,
            });
        }
        // 3. 消息还没收齐
        let frame_len = HEADER_LEN + len;
        if self.buffer.len() < frame_len {
            return Ok(None);
        }
        // 4. 收齐了：取出消息，把这一帧从缓冲区里去掉，后面的字节留给下一帧
        let message = self.buffer[HEADER_LEN..frame_len].to_vec();
        self.buffer.drain(..frame_len);
        Ok(Some(message))
        // ANCHOR_END: exercise
    }

    /// 连接结束时调用：缓冲区里还剩字节，说明对方在一帧的中间就断开了。
    pub fn finish(&self) -> Result<(), FrameError> {
        // ANCHOR: exercise
        match self.buffer.first_chunk::<HEADER_LEN>() {
            _ if self.buffer.is_empty() => Ok(()),
            None => Err(FrameError::TruncatedHeader {
                got: self.buffer.len(),
            }),
            Some(header) => Err(FrameError::TruncatedBody {
                len: u32::from_be_bytes(*header) as usize,
                got: self.buffer.len() - HEADER_LEN,
            }),
        }
        // ANCHOR_END: exercise
    }

    /// 缓冲区里暂存了多少字节（测试用它确认超长的帧没有被缓存下来）。
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}
// ANCHOR_END: decoder

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}
