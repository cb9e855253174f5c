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
async fn nodelay_does_not_unstick_them() {
    sticky::unframed_nodelay_still_sticks(server(), client()).await;
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

// ---------------------------------------------------------------- 手写的解码器

// 解码器的测试放在 tests/framing/checks.rs：练习 2.3 用同一批测试给学生的 proto 评分。
#[path = "framing/checks.rs"]
mod framing;

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
