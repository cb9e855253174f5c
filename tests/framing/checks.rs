//! 长度前缀编码器和解码器（第 2.3 节的 `proto` 模块）的检查，每一项只写一次。
//!
//! 检查不直接调用 `proto`，而是通过 [`Framing`]：把“在一个新的解码器上依次做这几步”交给它，
//! 拿回每一步的结果。它有两种实现：
//!
//! - tests/sticky.rs 在本进程里直接调用实验的 `labs/sticky/proto.rs`（快）；
//! - tests/exercises.rs 给练习 2.3 评分：学生的模块编进单独的驱动程序 `ex-sticky-proto`
//!   （labs/workbook/proto_driver.rs），测试通过标准输入输出和它对话（tests/framing/driver.rs）。
//!   学生的代码在另一个进程里运行，打印什么、是否退出，都左右不了这里的结论。
//!
//! 两个测试程序都把这个文件引入为 `crate::framing`，再用 [`framing_tests!`] 生成同样的一组测试。
//! 期望值来自这里自己的常量和参考编码（[`frame`]），不来自被测的模块。

#![allow(dead_code)] // 两个测试程序各用到其中一部分

use bytes::BytesMut;
use tokio_util::codec::{Decoder as _, Encoder as _, LengthDelimitedCodec};

use crate::scenarios::sticky;

/// 长度字段占几个字节（规格，和练习文件里的常量相同）。
pub const HEADER_LEN: usize = 4;
/// 一条消息最多多少字节（规格）。
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// `proto::FrameError` 在测试这一边的样子。
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameErr {
    TooLong {
        len: usize,
        max: usize,
    },
    TruncatedHeader {
        got: usize,
    },
    TruncatedBody {
        len: usize,
        got: usize,
    },
    /// 学生自己加的变体（用 Debug 写出来）
    Other(String),
}

/// 对解码器（或编码函数）做的一步。
#[derive(Debug, Clone)]
pub enum Op {
    /// `encode(bytes)`
    Encode(Vec<u8>),
    /// `decoder.extend(bytes)`
    Extend(Vec<u8>),
    /// `decoder.next_message()`
    Next,
    /// 把 `bytes` 在 `cuts`（递增的切分位置）处切成几块，依次 `decoder.extend(块)`，
    /// 每块之后反复 `decoder.next_message()`，直到 `Ok(None)` 或 `Err`。
    /// （一个请求里就能切上几千块：随机切分的测试每一轮只需要一个请求）
    Feed { bytes: Vec<u8>, cuts: Vec<usize> },
    /// `decoder.finish()`
    Finish,
    /// `decoder.buffered()`
    Buffered,
}

/// 一步的结果。
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Res {
    /// `encode` 返回的一帧
    Frame(Vec<u8>),
    /// `extend`、`finish` 顺利完成
    Done,
    /// `next_message` 的 `Ok(…)`
    Message(Option<Vec<u8>>),
    /// `Feed` 取出的全部消息（出错时是出错之前取出的，后面紧跟着那个 `Err`）
    Messages(Vec<Vec<u8>>),
    /// `buffered()`
    Buffered(usize),
    /// 这一步返回了 `Err`：后面的步骤不再执行
    Err(FrameErr),
}

/// 一个请求的结果。
pub struct Ran {
    /// 每一步的结果，遇到第一个 `Err` 就停（它是最后一项），和 `?` 一样
    pub results: Vec<Res>,
    /// 停下以后解码器的 `buffered()`
    pub buffered: usize,
    /// 被测的代码在这个请求里往标准输出打印的行（失败时附在信息后面，方便调试）
    pub printed: Vec<String>,
}

/// 被检查的 `proto`：在一个新的解码器（`max_len` 为 None 时用 `Decoder::new()`）上依次执行 `ops`。
/// 被测的代码 panic、退出或卡住时返回 `Err(说明)`。
pub trait Framing {
    fn run(&mut self, max_len: Option<usize>, ops: &[Op]) -> Result<Ran, String>;
}

/// 为每一项检查生成一个 `#[test]`；`$framing` 是每个测试新建的 [`Framing`]，后面可以跟几个属性。
macro_rules! framing_tests {
    ($framing:expr $(, #[$attr:meta])*) => {
        $(#[$attr])*
        #[test]
        fn length_prefix_is_big_endian() {
            $crate::framing::length_prefix_is_big_endian(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn decoder_handles_every_single_split_point() {
            $crate::framing::decoder_handles_every_single_split_point(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn decoder_handles_random_splits() {
            $crate::framing::decoder_handles_random_splits(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn decoder_gets_several_frames_from_one_read() {
            $crate::framing::decoder_gets_several_frames_from_one_read(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn oversize_frame_is_rejected_from_its_header_alone() {
            $crate::framing::oversize_frame_is_rejected_from_its_header_alone(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn encoder_refuses_oversize_messages() {
            $crate::framing::encoder_refuses_oversize_messages(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn truncated_stream_is_reported() {
            $crate::framing::truncated_stream_is_reported(&mut $framing);
        }
        $(#[$attr])*
        #[test]
        fn proto_matches_length_delimited_codec() {
            $crate::framing::proto_matches_length_delimited_codec(&mut $framing);
        }
    };
}
pub(crate) use framing_tests;

// ---------------------------------------------------------------- 检查

pub fn length_prefix_is_big_endian(f: &mut dyn Framing) {
    expect_encode(f, b"Hello", Ok(b"\x00\x00\x00\x05Hello".to_vec()), "");
    // 300 = 0x0000012c：高位字节在前
    expect_encode(
        f,
        &[b'a'; 300],
        Ok(frame(&[b'a'; 300])),
        "300 = 0x0000012c，长度字段应是 00 00 01 2c（高位字节在前）",
    );
    expect_encode(f, b"", Ok(vec![0, 0, 0, 0]), "空消息也有 4 字节的长度字段");
}

pub fn decoder_handles_every_single_split_point(f: &mut dyn Framing) {
    let (messages, stream) = sample_messages();
    for cut in 0..=stream.len() {
        expect_decoded(
            f,
            &stream,
            &[cut],
            &messages,
            Ok(()),
            &format!("样例字节流在第 {cut} 个字节处切成两块"),
        );
    }
}

pub fn decoder_handles_random_splits(f: &mut dyn Framing) {
    let (messages, stream) = sample_messages();
    // 固定种子：每次运行切法都一样，失败时可以复现
    let mut rng = fastrand::Rng::with_seed(20_000);
    for round in 0..2000 {
        // 有时切得很碎（一次 1 个字节），有时切成大块（一次读到好几帧）
        let max_piece = [1, 3, 7, 64, 1024, 8192][round % 6];
        let mut cuts = Vec::new();
        let mut at = 0;
        loop {
            at += rng.usize(1..=max_piece);
            if at >= stream.len() {
                break;
            }
            cuts.push(at);
        }
        expect_decoded(
            f,
            &stream,
            &cuts,
            &messages,
            Ok(()),
            &format!(
                "第 {round} 轮随机切分：切成 {} 块，切分位置 {}",
                cuts.len() + 1,
                brief_list(&cuts)
            ),
        );
    }
}

pub fn decoder_gets_several_frames_from_one_read(f: &mut dyn Framing) {
    let (messages, stream) = sample_messages();
    // 整个字节流一次读到，再一条一条地取
    let mut ops = vec![Op::Extend(stream)];
    let mut expected = vec![Res::Done];
    for message in &messages {
        ops.push(Op::Next);
        expected.push(Res::Message(Some(message.clone())));
    }
    ops.extend([Op::Next, Op::Finish]);
    expected.extend([Res::Message(None), Res::Done]);
    expect_steps(f, "整个样例字节流一次读到", None, &ops, &expected, None);
}

pub fn oversize_frame_is_rejected_from_its_header_alone(f: &mut dyn Framing) {
    expect_steps(
        f,
        "对方声明的长度是 4 GiB：只看长度字段就该拒绝，\
         缓冲区里只有那 4 字节（buffered() == 4），没有为消息准备任何东西",
        None,
        &[Op::Extend(vec![0xff; 4]), Op::Next],
        &[
            Res::Done,
            Res::Err(FrameErr::TooLong {
                len: u32::MAX as usize,
                max: MAX_FRAME_LEN,
            }),
        ],
        Some(HEADER_LEN),
    );
    // 上限本身是允许的，多一个字节就不行
    expect_steps(
        f,
        "长度正好等于上限 MAX_FRAME_LEN 的帧是允许的，应当等着收完",
        None,
        &[Op::Extend(header(MAX_FRAME_LEN)), Op::Next],
        &[Res::Done, Res::Message(None)],
        None,
    );
    expect_steps(
        f,
        "长度比上限多 1 字节的帧应当被拒绝",
        None,
        &[Op::Extend(header(MAX_FRAME_LEN + 1)), Op::Next],
        &[
            Res::Done,
            Res::Err(FrameErr::TooLong {
                len: MAX_FRAME_LEN + 1,
                max: MAX_FRAME_LEN,
            }),
        ],
        None,
    );
    // Decoder::with_max_len 定的上限也要遵守（比较的是 self.max_len，不是常量）
    expect_steps(
        f,
        "Decoder::with_max_len(16)：长度 16 可以，17 要拒绝",
        Some(16),
        &[
            Op::Extend(frame(&[b'x'; 16])),
            Op::Next,
            Op::Extend(header(17)),
            Op::Next,
        ],
        &[
            Res::Done,
            Res::Message(Some(vec![b'x'; 16])),
            Res::Done,
            Res::Err(FrameErr::TooLong { len: 17, max: 16 }),
        ],
        None,
    );
}

pub fn encoder_refuses_oversize_messages(f: &mut dyn Framing) {
    let at_limit = vec![0u8; MAX_FRAME_LEN];
    expect_encode(
        f,
        &at_limit,
        Ok(frame(&at_limit)),
        "正好 MAX_FRAME_LEN 字节的消息可以编码",
    );
    expect_encode(
        f,
        &[0u8; MAX_FRAME_LEN + 1],
        Err(FrameErr::TooLong {
            len: MAX_FRAME_LEN + 1,
            max: MAX_FRAME_LEN,
        }),
        "比 MAX_FRAME_LEN 多 1 字节的消息不能编码",
    );
}

pub fn truncated_stream_is_reported(f: &mut dyn Framing) {
    let frame = frame(sticky::MESSAGE.as_bytes());
    // 消息中途结束：应有 26 字节，只收到 5 字节
    expect_decoded(
        f,
        &frame[..HEADER_LEN + 5],
        &[],
        &[],
        Err(FrameErr::TruncatedBody { len: 26, got: 5 }),
        "一帧只收到长度字段和消息的前 5 字节，连接就结束了",
    );
    // 长度字段中途结束
    expect_decoded(
        f,
        &frame[..2],
        &[],
        &[],
        Err(FrameErr::TruncatedHeader { got: 2 }),
        "只收到长度字段的前 2 字节，连接就结束了",
    );
    // 一整帧之后又多出半帧：前面那条照样交出来，最后报告截断
    expect_steps(
        f,
        "一整帧之后又多出 3 字节（半个长度字段）",
        None,
        &[
            Op::Extend(frame.clone()),
            Op::Extend(frame[..3].to_vec()),
            Op::Next,
            Op::Next,
            Op::Finish,
        ],
        &[
            Res::Done,
            Res::Done,
            Res::Message(Some(sticky::MESSAGE.as_bytes().to_vec())),
            Res::Message(None),
            Res::Err(FrameErr::TruncatedHeader { got: 3 }),
        ],
        None,
    );
    // 什么都没收到就结束，不算错误
    expect_decoded(f, &[], &[], &[], Ok(()), "什么都没收到，连接就结束了");
}

/// 手写的编码器和 LengthDelimitedCodec 产生、理解的是同样的字节。
pub fn proto_matches_length_delimited_codec(f: &mut dyn Framing) {
    let (messages, stream) = sample_messages();
    let mut codec = LengthDelimitedCodec::builder()
        .length_field_length(HEADER_LEN)
        .big_endian()
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec();
    // codec 编码 == 手写编码
    let mut encoded = BytesMut::new();
    for message in &messages {
        codec
            .encode(bytes::Bytes::copy_from_slice(message), &mut encoded)
            .expect("codec 编码");
    }
    assert_eq!(&encoded[..], &stream[..], "参考编码和 codec 不一致");
    let ops: Vec<Op> = messages.iter().cloned().map(Op::Encode).collect();
    let ran = run(f, None, &ops, "用 encode 逐条编码样例消息");
    let mut yours = Vec::new();
    for (i, (message, result)) in messages.iter().zip(&ran.results).enumerate() {
        let Res::Frame(frame) = result else {
            panic!(
                "用 encode 逐条编码样例消息：第 {} 条（{}）\n  得到：{}\n  期望：codec 编出的 {}{}",
                i + 1,
                show(message),
                show_res(result),
                show(&self::frame(message)),
                printed(&ran)
            );
        };
        yours.extend_from_slice(frame);
    }
    if ran.results.len() < messages.len() || yours != encoded {
        panic!(
            "encode 逐条编码样例消息（{}），首尾相接：\n  得到：{}\n  期望：和 LengthDelimitedCodec 一样的 {}\n  {}{}",
            show_messages(&messages),
            show(&yours),
            show(&encoded),
            first_difference(&yours, &encoded),
            printed(&ran)
        );
    }
    // codec 解码手写编码的字节流
    let mut input = BytesMut::from(&yours[..]);
    for expected in &messages {
        let frame = codec.decode(&mut input).expect("codec 解码");
        assert_eq!(frame.as_deref(), Some(&expected[..]), "codec 解码手写编码");
    }
    assert!(input.is_empty(), "codec 解码之后还剩字节");
}

// ---------------------------------------------------------------- 样例和参考编码

/// 参考编码：4 字节大端序长度，再接消息本身。
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut frame = header(message.len());
    frame.extend_from_slice(message);
    frame
}

/// 声明长度为 `len` 的长度字段。
fn header(len: usize) -> Vec<u8> {
    (len as u32).to_be_bytes().to_vec()
}

/// 几条长短不一的消息（包括空消息、中文、很长的一条），以及它们编码后首尾相接的字节流。
fn sample_messages() -> (Vec<Vec<u8>>, Vec<u8>) {
    let messages: Vec<Vec<u8>> = vec![
        sticky::MESSAGE.as_bytes().to_vec(),
        Vec::new(),
        "你好，世界".as_bytes().to_vec(),
        vec![0u8, 0, 0, 26], // 消息内容恰好长得像一个长度字段
        (0..=255).collect(),
        vec![b'x'; 3000],
    ];
    let stream = messages.iter().flat_map(|m| frame(m)).collect();
    (messages, stream)
}

// ---------------------------------------------------------------- 执行和比较

/// 执行一个请求；被测的代码 panic、退出或卡住时让测试失败，说明当时在做什么。
fn run(f: &mut dyn Framing, max_len: Option<usize>, ops: &[Op], what: &str) -> Ran {
    f.run(max_len, ops)
        .unwrap_or_else(|why| panic!("{what}：\n  做的是：{}\n{why}", show_ops(ops)))
}

/// `encode(message)` 应当返回 `expected`。
fn expect_encode(
    f: &mut dyn Framing,
    message: &[u8],
    expected: Result<Vec<u8>, FrameErr>,
    why: &str,
) {
    let ops = [Op::Encode(message.to_vec())];
    let ran = run(f, None, &ops, &format!("encode({})", show(message)));
    let got = ran.results.first();
    let want = match &expected {
        Ok(frame) => Res::Frame(frame.clone()),
        Err(err) => Res::Err(err.clone()),
    };
    if got != Some(&want) {
        let mut text = format!(
            "encode({})\n  得到：{}\n  期望：{}",
            show(message),
            got.map_or("（没有结果）".to_string(), show_res),
            show_res(&want)
        );
        if let (Some(Res::Frame(got)), Ok(want)) = (got, &expected) {
            text.push_str(&format!("\n  {}", first_difference(got, want)));
        }
        if !why.is_empty() {
            text.push_str(&format!("\n  （{why}）"));
        }
        panic!("{text}{}", printed(&ran));
    }
}

/// 把 `stream` 按 `cuts`（递增的切分位置）切成几块，每块 `extend` 之后取出所有完整的消息，
/// 最后 `finish`：应当正好得到 `messages`，`finish` 的结果是 `end`。整个过程是一个请求。
fn expect_decoded(
    f: &mut dyn Framing,
    stream: &[u8],
    cuts: &[usize],
    messages: &[Vec<u8>],
    end: Result<(), FrameErr>,
    what: &str,
) {
    let ops = [
        Op::Feed {
            bytes: stream.to_vec(),
            cuts: cuts.to_vec(),
        },
        Op::Finish,
    ];
    let ran = run(f, None, &ops, what);

    let mut got = Vec::new();
    let mut got_end = None;
    for result in &ran.results {
        match result {
            Res::Messages(ms) => got.extend(ms.iter().cloned()),
            Res::Err(err) => got_end = Some(Err(err.clone())),
            _ => {}
        }
    }
    let finished = ran.results.len() == ops.len() && ran.results.last() == Some(&Res::Done);
    let got_end = got_end.unwrap_or(if finished {
        Ok(())
    } else {
        Err(FrameErr::Other("（没有执行完）".into()))
    });
    if got == messages && got_end == end {
        return;
    }
    let show_end = |end: &Result<(), FrameErr>| match end {
        Ok(()) => "Ok(())".to_string(),
        Err(err) => format!("Err({})", show_err(err)),
    };
    let mut text = format!(
        "{what}：把 {}切成 {} 块，每块 extend 之后反复调用 next_message()，最后调用 finish()。\n  \
         解出：{}，最后是 {}\n  期望：{}，最后是 {}",
        show(stream),
        cuts.len() + 1,
        show_messages(&got),
        show_end(&got_end),
        show_messages(messages),
        show_end(&end),
    );
    if let Some(diff) = message_difference(&got, messages) {
        text.push_str(&format!("\n  {diff}"));
    }
    panic!("{text}{}", printed(&ran));
}

/// 在一个新的解码器上执行 `ops`，每一步的结果应当是 `expected`；`buffered` 给出时，
/// 停下以后 `buffered()` 也应当等于它。
fn expect_steps(
    f: &mut dyn Framing,
    what: &str,
    max_len: Option<usize>,
    ops: &[Op],
    expected: &[Res],
    buffered: Option<usize>,
) {
    let ran = run(f, max_len, ops, what);
    let buffered_ok = buffered.is_none_or(|b| b == ran.buffered);
    if ran.results == expected && buffered_ok {
        return;
    }
    let decoder = match max_len {
        Some(max) => format!("Decoder::with_max_len({max})"),
        None => "Decoder::new()".to_string(),
    };
    let missing = if let Some(Res::Err(_)) = ran.results.last() {
        "（没有执行：前面已经返回 Err）"
    } else {
        "（回答里没有这一步的结果）"
    };
    let mut text = format!("{what}：\n  在 {decoder} 上依次调用：");
    for (i, op) in ops.iter().enumerate() {
        let got = ran.results.get(i);
        let want = expected.get(i);
        let mark = if got == want { "✓" } else { "✗" };
        text.push_str(&format!(
            "\n  {mark} {}\n      得到：{}\n      期望：{}",
            show_op(op),
            got.map_or(missing.to_string(), show_res),
            want.map_or("（不该执行到这一步）".to_string(), show_res),
        ));
    }
    if let Some(b) = buffered.filter(|_| !buffered_ok) {
        text.push_str(&format!(
            "\n  ✗ 之后 buffered() 得到 {}，期望 {b}",
            ran.buffered
        ));
    }
    panic!("{text}{}", printed(&ran));
}

// ---------------------------------------------------------------- 简短地描述字节和结果

/// 引用一段被测的代码写出的文字：每行缩进、以 │ 开头，免得被误认成测试结果。
pub fn quote(text: &str) -> String {
    text.lines().map(|line| format!("\n    │ {line}")).collect()
}

/// 被测的代码在这个请求里打印的东西（没有就是空字符串）。
fn printed(ran: &Ran) -> String {
    if ran.printed.is_empty() {
        return String::new();
    }
    format!(
        "\n  你的代码往标准输出打印了：{}",
        quote(&ran.printed.join("\n"))
    )
}

/// 一串字节的简短描述：短的全部写出，长的只写长度和开头。
fn show(bytes: &[u8]) -> String {
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match bytes.len() {
        0 => "空（0 字节）".to_string(),
        n if n <= 16 => format!("[{}]（{n} 字节）", hex(bytes)),
        n => format!("{n} 字节 [{} …]", hex(&bytes[..12])),
    }
}

fn show_messages(messages: &[Vec<u8>]) -> String {
    if messages.is_empty() {
        return "0 条消息".to_string();
    }
    let lens: Vec<String> = messages.iter().map(|m| m.len().to_string()).collect();
    format!(
        "{} 条消息（长度依次为 {}）",
        messages.len(),
        brief_list(&lens)
    )
}

/// 第一条不一样的消息。
fn message_difference(got: &[Vec<u8>], want: &[Vec<u8>]) -> Option<String> {
    let i = got.iter().zip(want).position(|(g, w)| g != w)?;
    Some(format!(
        "第 {} 条消息不一样：得到 {}，期望 {}",
        i + 1,
        show(&got[i]),
        show(&want[i])
    ))
}

/// 两串字节从哪里开始不一样。
fn first_difference(got: &[u8], want: &[u8]) -> String {
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => format!(
            "从第 {i} 个字节起不一样：得到 {}，期望 {}",
            show(&got[i..got.len().min(i + 8)]),
            show(&want[i..want.len().min(i + 8)])
        ),
        None => format!(
            "长度不一样：得到 {} 字节，期望 {} 字节",
            got.len(),
            want.len()
        ),
    }
}

/// 一串数字的简短写法：太长就只写开头和结尾。
fn brief_list<T: ToString>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(T::to_string).collect();
    if items.len() <= 12 {
        return format!("[{}]", items.join(", "));
    }
    format!(
        "[{}, …, {}]",
        items[..8].join(", "),
        items[items.len() - 2..].join(", ")
    )
}

fn show_err(err: &FrameErr) -> String {
    match err {
        FrameErr::TooLong { len, max } => {
            format!("FrameError::TooLong {{ len: {len}, max: {max} }}")
        }
        FrameErr::TruncatedHeader { got } => {
            format!("FrameError::TruncatedHeader {{ got: {got} }}")
        }
        FrameErr::TruncatedBody { len, got } => {
            format!("FrameError::TruncatedBody {{ len: {len}, got: {got} }}")
        }
        FrameErr::Other(debug) => debug.clone(),
    }
}

fn show_res(res: &Res) -> String {
    match res {
        Res::Frame(frame) => format!("Ok({})", show(frame)),
        Res::Done => "Ok(())".to_string(),
        Res::Message(None) => "Ok(None)".to_string(),
        Res::Message(Some(m)) => format!("Ok(Some({}))", show(m)),
        Res::Messages(ms) => show_messages(ms),
        Res::Buffered(n) => n.to_string(),
        Res::Err(err) => format!("Err({})", show_err(err)),
    }
}

pub fn show_op(op: &Op) -> String {
    match op {
        Op::Encode(bytes) => format!("encode({})", show(bytes)),
        Op::Extend(bytes) => format!("extend({})", show(bytes)),
        Op::Next => "next_message()".to_string(),
        Op::Feed { bytes, cuts } => format!(
            "把 {} 切成 {} 块，每块 extend 之后反复 next_message()",
            show(bytes),
            cuts.len() + 1
        ),
        Op::Finish => "finish()".to_string(),
        Op::Buffered => "buffered()".to_string(),
    }
}

fn show_ops(ops: &[Op]) -> String {
    let shown: Vec<String> = ops.iter().take(6).map(show_op).collect();
    let more = if ops.len() > 6 {
        format!(" ……（共 {} 步）", ops.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join("，"))
}
