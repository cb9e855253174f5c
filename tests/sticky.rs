//! 第 2.3 节：黏包（labs/sticky/）。前半部分用真实的程序跑，后半部分直接检查手写的解码器。

mod scenarios;
mod support;

#[path = "../labs/sticky/proto.rs"]
mod proto;

use std::path::Path;

use scenarios::sticky;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-sticky-server"))
}

fn client() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab-sticky-client"))
}

// ---------------------------------------------------------------- 两个程序一起跑

#[tokio::test]
async fn unframed_messages_stick_together() {
    sticky::unframed_run(server(), client()).await;
}

#[tokio::test]
async fn eager_server_keeps_every_byte() {
    sticky::eager_run_keeps_every_byte(server(), client()).await;
}

#[tokio::test]
async fn framed_delivers_exactly_20_messages() {
    sticky::framed_run(
        server(),
        client(),
        "--framed",
        "--framed",
        Some("sticky_framed_run"),
    )
    .await;
}

#[tokio::test]
async fn codec_delivers_exactly_20_messages() {
    sticky::framed_run(
        server(),
        client(),
        "--codec",
        "--codec",
        Some("sticky_codec_run"),
    )
    .await;
}

/// 手写的 proto 和 LengthDelimitedCodec 在线路上是同一种格式，可以互相通信。
#[tokio::test]
async fn hand_written_and_codec_interoperate() {
    sticky::framed_run(server(), client(), "--codec", "--framed", None).await;
    sticky::framed_run(server(), client(), "--framed", "--codec", None).await;
}

#[tokio::test]
async fn framed_server_survives_bad_input() {
    sticky::framed_rejects_bad_input(server(), "--framed", "sticky_framed_bad_input").await;
}

#[tokio::test]
async fn codec_server_survives_bad_input() {
    sticky::framed_rejects_bad_input(server(), "--codec", "sticky_codec_bad_input").await;
}

#[test]
fn client_reports_no_server() {
    sticky::client_without_server(client());
}

#[test]
fn client_rejects_two_framings_at_once() {
    sticky::client_rejects_two_framings(client());
}

// ---------------------------------------------------------------- 关掉 Nagle 也照样黏

/// 在关掉 Nagle（TCP_NODELAY）的连接上连写 20 条消息，写完也不关闭连接：没有 FIN 可等。
/// 接收方不等对方“说完”，只看着接收缓冲区，20 条都到了就读一次：一次 read 拿到了全部 20 条。
/// Nagle 只决定发送方什么时候把数据发出去；数据到了接收方，就在接收缓冲区里连成一片，
/// 消息的边界没有留下来。
#[tokio::test]
async fn nodelay_does_not_unstick_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;

    let (listener, addr) = support::test_listener().await;
    let mut writer = support::connect(addr).await;
    let mut reader = support::accept(&listener).await;
    writer.set_nodelay(true).expect("设置 TCP_NODELAY");
    assert!(
        writer.nodelay().expect("读取 TCP_NODELAY"),
        "发送方的 TCP_NODELAY 应当已经打开（Nagle 已经关掉）"
    );

    let message = sticky::MESSAGE.as_bytes();
    for _ in 0..20 {
        timeout(support::WAIT, writer.write_all(message))
            .await
            .expect("发送超时")
            .expect("发送失败");
    }
    let all = sticky::MESSAGE.repeat(20);
    wait_until_buffered(&reader, all.len()).await;

    let mut buf = [0u8; 4096];
    let n = timeout(support::WAIT, reader.read(&mut buf))
        .await
        .expect("读取超时")
        .expect("读取失败");
    assert!(
        n > message.len(),
        "20 条消息都在接收缓冲区里时，一次 read 应当拿到不止一条，实际只拿到 {n} 字节"
    );
    support::same_bytes(
        &buf[..n],
        all.as_bytes(),
        "关掉 Nagle 以后，一次 read 照样拿到了黏在一起的全部 20 条消息。",
    );
    drop(writer); // 直到这里发送方才关闭连接
}

/// 一个字节也不取走，等到接收缓冲区里攒够 `total` 字节为止（最多等 [`support::WAIT`]）。
async fn wait_until_buffered(conn: &tokio::net::TcpStream, total: usize) {
    use std::io::{Error, ErrorKind};
    use std::mem::MaybeUninit;
    use tokio::io::Interest;

    let mut buf = vec![MaybeUninit::<u8>::uninit(); total];
    let waiting = async {
        loop {
            conn.readable().await?;
            // peek 只看不取。还不够 total 就答“还没准备好”（WouldBlock）：
            // tokio 记下这次的动静已经看过，等有新数据到达，readable() 才再次返回
            let peeked = conn.try_io(Interest::READABLE, || {
                match socket2::SockRef::from(conn).peek(&mut buf)? {
                    0 => Err(Error::from(ErrorKind::UnexpectedEof)),
                    n if n < total => Err(Error::from(ErrorKind::WouldBlock)),
                    n => Ok(n),
                }
            });
            match peeked {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == ErrorKind::WouldBlock => continue,
                Err(err) => return Err(err),
            }
        }
    };
    match tokio::time::timeout(support::WAIT, waiting).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => panic!(
            "等接收缓冲区攒够 {total} 字节时出错：{}",
            socket_workbook::errors::cause(&err)
        ),
        Err(_) => panic!(
            "等了 {} 秒，接收缓冲区里还没有攒够 {total} 字节",
            support::WAIT_SECS
        ),
    }
}

// ---------------------------------------------------------------- 手写的解码器

// 解码器的检查写在 tests/framing/checks.rs：练习 2.3 用同一批检查给学生的 proto 评分
// （tests/exercises.rs，学生的模块在单独的驱动程序里运行）。这里在本进程里直接调用实验的 proto。
#[path = "framing/checks.rs"]
mod framing;

mod proto_checks {
    crate::framing::framing_tests!(crate::InProcess);
}

/// 直接调用 labs/sticky/proto.rs 的 [`framing::Framing`]。
struct InProcess;

impl framing::Framing for InProcess {
    fn run(&mut self, max_len: Option<usize>, ops: &[framing::Op]) -> Result<framing::Ran, String> {
        use framing::{Op, Res};
        let mut decoder = match max_len {
            Some(max) => proto::Decoder::with_max_len(max),
            None => proto::Decoder::new(),
        };
        let mut results = Vec::new();
        for op in ops {
            let result = match op {
                Op::Encode(bytes) => proto::encode(bytes).map(Res::Frame),
                Op::Extend(bytes) => {
                    decoder.extend(bytes);
                    Ok(Res::Done)
                }
                Op::Next => decoder.next_message().map(Res::Message),
                Op::Feed { bytes, cuts } => {
                    let mut messages = Vec::new();
                    let mut start = 0;
                    let fed = cuts.iter().chain([&bytes.len()]).try_for_each(|&end| {
                        decoder.extend(&bytes[start..end]);
                        start = end;
                        while let Some(message) = decoder.next_message()? {
                            messages.push(message);
                        }
                        Ok(())
                    });
                    if let Err(err) = fed {
                        results.push(Res::Messages(messages));
                        Err(err)
                    } else {
                        Ok(Res::Messages(messages))
                    }
                }
                Op::Finish => decoder.finish().map(|()| Res::Done),
                Op::Buffered => Ok(Res::Buffered(decoder.buffered())),
            };
            match result {
                Ok(res) => results.push(res),
                Err(err) => {
                    results.push(Res::Err(frame_err(err)));
                    break; // 和 ? 一样：第一个错误之后不再继续
                }
            }
        }
        Ok(framing::Ran {
            results,
            buffered: decoder.buffered(),
            printed: Vec::new(), // 实验的代码打印的东西直接由测试框架收集
        })
    }
}

fn frame_err(err: proto::FrameError) -> framing::FrameErr {
    match err {
        proto::FrameError::TooLong { len, max } => framing::FrameErr::TooLong { len, max },
        proto::FrameError::TruncatedHeader { got } => framing::FrameErr::TruncatedHeader { got },
        proto::FrameError::TruncatedBody { len, got } => {
            framing::FrameErr::TruncatedBody { len, got }
        }
    }
}

// 实验的常量就是检查用的规格
#[test]
fn proto_constants_match_the_spec() {
    assert_eq!(proto::HEADER_LEN, framing::HEADER_LEN);
    assert_eq!(proto::MAX_FRAME_LEN, framing::MAX_FRAME_LEN);
}

// 错误信息的措辞不属于练习 2.3（学生的练习文件里 FrameError 已经写好），所以只在这里检查
#[test]
fn frame_errors_read_as_chinese_sentences() {
    let too_long = proto::FrameError::TooLong {
        len: 4_294_967_295,
        max: proto::MAX_FRAME_LEN,
    };
    assert_eq!(
        too_long.to_string(),
        "帧的长度是 4294967295 字节，超过了上限 65536 字节"
    );
    let body = proto::FrameError::TruncatedBody { len: 26, got: 5 };
    assert_eq!(
        body.to_string(),
        "连接在一条消息的中间结束了：这条消息应有 26 字节，只收到 5 字节"
    );
}

#[test]
fn server_reports_port_in_use() {
    sticky::server_port_in_use(server());
}

#[test]
fn client_rejects_a_bad_count() {
    sticky::client_rejects_bad_count(client());
}
