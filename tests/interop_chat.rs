//! 第 4 章：我们的聊天客户端和一个别人写的聊天服务端（`ncat --chat`）对话。
//! 需要安装 ncat，所以默认不运行；`.ci/run` 用 `cargo test --test interop_chat -- --ignored` 运行它。

mod scenarios;
mod support;

use std::path::Path;

#[tokio::test]
#[ignore = "需要 ncat：apt-get install ncat"]
async fn client_talks_to_ncat_chat() {
    scenarios::chat::client_with_ncat_chat(Path::new(env!("CARGO_BIN_EXE_lab-chat-client"))).await;
}
