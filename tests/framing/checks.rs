//! 手写的长度前缀编码器和解码器（labs/sticky/proto.rs）的测试。
//!
//! 这个文件由两个测试程序各自引入：tests/sticky.rs 用它检验实验里的 proto，
//! tests/exercise_proto.rs 用它给练习 2.3（学生写的 proto）评分。
//! 两处都在上一层提供一个名叫 `proto` 的模块，这里通过 `super::proto` 使用它。

use bytes::BytesMut;
use tokio_util::codec::{Decoder as _, Encoder as _, LengthDelimitedCodec};

use super::proto::{Decoder, FrameError, HEADER_LEN, MAX_FRAME_LEN, encode};
use crate::scenarios::sticky;

/// 把 `stream` 按 `cuts`（递增的切分位置）切成几块，依次交给解码器，返回解出的所有消息。
fn decode_in_pieces(stream: &[u8], cuts: &[usize]) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut decoder = Decoder::new();
    let mut messages = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        decoder.extend(&stream[start..end]);
        start = end;
        while let Some(message) = decoder.next_message()? {
            messages.push(message);
        }
    }
    decoder.finish()?;
    Ok(messages)
}

/// 几条长短不一的消息（包括空消息、中文、正好达到上限的一条），以及它们编码后首尾相接的字节流。
fn sample_messages() -> (Vec<Vec<u8>>, Vec<u8>) {
    let messages: Vec<Vec<u8>> = vec![
        sticky::MESSAGE.as_bytes().to_vec(),
        Vec::new(),
        "你好，世界".as_bytes().to_vec(),
        vec![0u8, 0, 0, 26], // 消息内容恰好长得像一个长度字段
        (0..=255).collect(),
        vec![b'x'; 3000],
    ];
    let stream = messages
        .iter()
        .flat_map(|m| encode(m).expect("编码"))
        .collect();
    (messages, stream)
}

#[test]
fn length_prefix_is_big_endian() {
    assert_eq!(encode(b"Hello").expect("编码"), b"\x00\x00\x00\x05Hello");
    // 300 = 0x0000012c：高位字节在前
    assert_eq!(
        encode(&[b'a'; 300]).expect("编码")[..HEADER_LEN],
        [0x00, 0x00, 0x01, 0x2c]
    );
    assert_eq!(encode(b"").expect("编码"), [0, 0, 0, 0]);
}

#[test]
fn decoder_handles_every_single_split_point() {
    let (messages, stream) = sample_messages();
    for cut in 0..=stream.len() {
        let decoded = decode_in_pieces(&stream, &[cut]);
        assert_eq!(decoded.as_ref(), Ok(&messages), "在第 {cut} 个字节处切开");
    }
}

#[test]
fn decoder_handles_random_splits() {
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
        let decoded = decode_in_pieces(&stream, &cuts);
        assert_eq!(
            decoded.as_ref(),
            Ok(&messages),
            "第 {round} 轮，切分位置 {cuts:?}"
        );
    }
}

#[test]
fn decoder_gets_several_frames_from_one_read() {
    let (messages, stream) = sample_messages();
    let mut decoder = Decoder::new();
    decoder.extend(&stream); // 整个字节流一次读到
    for expected in &messages {
        assert_eq!(decoder.next_message(), Ok(Some(expected.clone())));
    }
    assert_eq!(decoder.next_message(), Ok(None));
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn oversize_frame_is_rejected_from_its_header_alone() {
    let mut decoder = Decoder::new();
    decoder.extend(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        decoder.next_message(),
        Err(FrameError::TooLong {
            len: u32::MAX as usize,
            max: MAX_FRAME_LEN
        })
    );
    // 只缓存了 4 字节的长度字段，没有为 4 GiB 的消息准备任何空间
    assert_eq!(decoder.buffered(), HEADER_LEN);

    // 上限本身是允许的，多一个字节就不行
    let mut at_limit = Decoder::new();
    at_limit.extend(&(MAX_FRAME_LEN as u32).to_be_bytes());
    assert_eq!(
        at_limit.next_message(),
        Ok(None),
        "正好达到上限的帧应当等着收完"
    );
    let mut over = Decoder::new();
    over.extend(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes());
    assert!(matches!(
        over.next_message(),
        Err(FrameError::TooLong { .. })
    ));
}

#[test]
fn encoder_refuses_oversize_messages() {
    assert!(encode(&vec![0u8; MAX_FRAME_LEN]).is_ok());
    assert_eq!(
        encode(&vec![0u8; MAX_FRAME_LEN + 1]),
        Err(FrameError::TooLong {
            len: MAX_FRAME_LEN + 1,
            max: MAX_FRAME_LEN
        })
    );
}

#[test]
fn truncated_stream_is_reported() {
    let frame = encode(sticky::MESSAGE.as_bytes()).expect("编码");
    // 消息中途结束：应有 26 字节，只收到 5 字节
    let cut = &frame[..HEADER_LEN + 5];
    assert_eq!(
        decode_in_pieces(cut, &[]),
        Err(FrameError::TruncatedBody { len: 26, got: 5 })
    );
    // 长度字段中途结束
    assert_eq!(
        decode_in_pieces(&frame[..2], &[]),
        Err(FrameError::TruncatedHeader { got: 2 })
    );
    // 一整帧之后又多出半帧：前面那条照样交出来，最后报告截断
    let mut decoder = Decoder::new();
    decoder.extend(&frame);
    decoder.extend(&frame[..3]);
    assert_eq!(
        decoder.next_message(),
        Ok(Some(sticky::MESSAGE.as_bytes().to_vec()))
    );
    assert_eq!(decoder.next_message(), Ok(None));
    assert_eq!(
        decoder.finish(),
        Err(FrameError::TruncatedHeader { got: 3 })
    );
    // 什么都没收到就结束，不算错误
    assert_eq!(decode_in_pieces(&[], &[]), Ok(vec![]));
}

/// 手写的编码器和 LengthDelimitedCodec 产生、理解的是同样的字节。
#[test]
fn proto_matches_length_delimited_codec() {
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
    assert_eq!(&encoded[..], &stream[..]);
    // codec 解码手写编码的字节流
    let mut input = BytesMut::from(&stream[..]);
    for expected in &messages {
        let frame = codec.decode(&mut input).expect("codec 解码");
        assert_eq!(frame.as_deref(), Some(&expected[..]));
    }
    assert!(input.is_empty());
}

// ---------------------------------------------------------------- 启动参数
