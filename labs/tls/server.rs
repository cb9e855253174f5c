//! # 第 6.6 节 · 加密的连接：TLS 服务端
//!
//! 第 2.3 节的长度前缀分帧（`labs/sticky/proto.rs`，原样拿来用），放到 TLS 上：
//! 每条消息照样是“4 字节长度 + 消息本身”，只是这些字节在网线上是加密的。
//! 服务端启动时现做一张自签名证书，把证书（不含私钥）写进一个文件，客户端只信任这一张。
//!
//! 运行（在仓库根目录；这是一个单独的小包，见 labs/tls/Cargo.toml）：
//!
//! ```text
//! cargo run --manifest-path labs/tls/Cargo.toml --bin lab-tls-server
//! cargo run --manifest-path labs/tls/Cargo.toml --bin lab-tls-client -- --cert lab-tls-cert.pem
//! ```
//!
//! `nc` 帮不上忙（它不会 TLS）；`openssl s_client -connect 127.0.0.1:20443` 能看到握手和证书。

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// 第 2.3 节的分帧协议，一个字也不改
#[path = "../sticky/proto.rs"]
mod proto;

// 主包的错误说明（这个包用到其中几个）
#[allow(dead_code)]
#[path = "../errors.rs"]
mod errors;

/// TLS 回声服务端：消息用 4 字节长度前缀分帧，整条连接用 TLS 加密。
#[derive(Parser)]
#[command(name = "lab-tls-server", version)]
struct Args {
    /// 监听的地址，格式 HOST:PORT；端口写 0 表示由系统挑选一个空闲端口
    #[arg(long, default_value = "127.0.0.1:20443")]
    addr: String,

    /// 把服务端的证书（不含私钥）写到这个文件，客户端用 --cert 读它
    #[arg(long, default_value = "lab-tls-cert.pem")]
    cert_out: String,

    /// 证书上写的名字，客户端连接时核对它；可以写多个（逗号分隔）
    #[arg(long, default_value = "localhost", value_delimiter = ',')]
    name: Vec<String>,
}

// ANCHOR: certificate
/// 现做一张自签名证书：证书上写着 `names`，用刚生成的私钥给自己签名。
/// 返回证书、私钥，以及证书的 PEM 文本（写进文件交给客户端）。
fn self_signed(
    names: Vec<String>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>, String), rcgen::Error> {
    let certified = rcgen::generate_simple_self_signed(names)?;
    let pem = certified.cert.pem();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((certified.cert.der().clone(), key.into(), pem))
}
// ANCHOR_END: certificate

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: main
async fn run(args: Args) -> Result<(), String> {
    // 1. 证书和私钥：私钥只留在服务端的内存里，证书写进文件
    let (cert, key, pem) =
        self_signed(args.name.clone()).map_err(|err| format!("无法生成证书：{err}"))?;
    std::fs::write(&args.cert_out, pem).map_err(|err| {
        format!(
            "无法写入证书文件 {}：{}",
            args.cert_out,
            errors::cause(&err)
        )
    })?;
    let config = ServerConfig::builder()
        .with_no_client_auth() // 不要求客户端出示证书
        .with_single_cert(vec![cert], key)
        .map_err(|err| format!("证书不可用：{err}"))?;
    let acceptor = TlsAcceptor::from(Arc::new(config));

    // 2. 监听端口：和第 2 章一模一样，TLS 是在 TCP 连接建立以后才开始的
    let listener = TcpListener::bind(&args.addr)
        .await
        .map_err(|err| errors::listen_failed(&args.addr, &err, "lab-tls-server"))?;
    let local = listener
        .local_addr()
        .map_err(|err| format!("无法获取监听地址：{}", errors::cause(&err)))?;
    println!("正在监听 {local}（TLS），按 Ctrl-C 停止");
    println!(
        "证书写在 {}，证书上的名字：{}",
        args.cert_out,
        args.name.join(", ")
    );

    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                println!("接受连接失败：{}", errors::cause(&err));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        println!("新连接：{peer}");
        tokio::spawn(process(acceptor.clone(), conn, peer));
    }
}
// ANCHOR_END: main

// ANCHOR: process
/// 处理一个连接：先握手，再按长度前缀一条条地收消息，每条原样发回去（同样加上长度前缀）。
async fn process(acceptor: TlsAcceptor, conn: TcpStream, peer: SocketAddr) {
    // 握手：协商版本和密钥，把证书交给客户端核对。失败了（例如客户端不信任这张证书）就到此为止
    let mut tls = match acceptor.accept(conn).await {
        Ok(tls) => tls,
        Err(err) => {
            println!("和客户端 {peer} 的 TLS 握手失败：{err}");
            return;
        }
    };
    let version = tls.get_ref().1.protocol_version();
    println!("和客户端 {peer} 握手完成：{}", version_name(version));

    // 从这里开始和第 2.3 节一样：tls 也是一个字节流，读到多少交给解码器多少
    let mut decoder = proto::Decoder::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = match tls.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                println!("从客户端 {peer} 读取失败：{}", errors::cause(&err));
                return;
            }
        };
        decoder.extend(&buf[..n]);
        while let Some(message) = match decoder.next_message() {
            Ok(message) => message,
            Err(err) => {
                println!("客户端 {peer} 发来的数据有误：{err}。断开这个连接");
                return;
            }
        } {
            println!(
                "收到client端发来的数据： {}",
                String::from_utf8_lossy(&message)
            );
            // 回声也是一帧：长度前缀 + 消息。解码器保证了消息不超过上限，编码不会失败
            let Ok(frame) = proto::encode(&message) else {
                return;
            };
            if let Err(err) = tls.write_all(&frame).await {
                println!("向客户端 {peer} 发送失败：{}", errors::cause(&err));
                return;
            }
        }
    }
    println!("客户端 {peer} 已关闭连接");
    // 礼貌地结束 TLS：发出 close_notify，对方就知道数据没有被人截断
    let _ = tls.shutdown().await;
}
// ANCHOR_END: process

/// 协议版本的名字，例如 TLS 1.3。
fn version_name(version: Option<tokio_rustls::rustls::ProtocolVersion>) -> String {
    use tokio_rustls::rustls::ProtocolVersion;
    match version {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "版本未知".to_string(),
    }
}
