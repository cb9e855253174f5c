//! # 第 6.6 节 · 加密的连接：TLS 客户端
//!
//! 连上 `lab-tls-server`，只信任 `--cert` 指定的那一张证书，核对证书上的名字（`--name`），
//! 然后像第 2 章的客户端一样：读一行、发出去、等回声。每条消息用第 2.3 节的长度前缀分帧。
//!
//! 运行（先启动服务端，它把证书写进 lab-tls-cert.pem）：
//!
//! ```text
//! cargo run --manifest-path labs/tls/Cargo.toml --bin lab-tls-client -- --cert lab-tls-cert.pem
//! cargo run --manifest-path labs/tls/Cargo.toml --bin lab-tls-client -- --cert lab-tls-cert.pem --name example.com
//! ```
//!
//! 第二条故意写错名字：握手失败，客户端说明原因。

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

// 第 2.3 节的分帧协议，一个字也不改
#[path = "../sticky/proto.rs"]
mod proto;

#[allow(dead_code)]
#[path = "../errors.rs"]
mod errors;

/// TLS 客户端：只信任给定的证书，发出的每条消息用长度前缀分帧。
#[derive(Parser)]
#[command(name = "lab-tls-client", version)]
struct Args {
    /// 服务端地址，格式 HOST:PORT
    #[arg(long, default_value = "127.0.0.1:20443")]
    addr: String,

    /// 信任的证书（PEM 文件，lab-tls-server 启动时写出的那一个）
    #[arg(long, default_value = "lab-tls-cert.pem")]
    cert: String,

    /// 期望证书上写着的名字（TLS 核对的是它，不是 --addr 里的地址）
    #[arg(long, default_value = "localhost")]
    name: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: connect
/// 只信任 `cert_file` 里的证书，连上 `addr`，完成握手，核对证书上的名字是 `name`。
async fn connect(args: &Args) -> Result<TlsStream<TcpStream>, String> {
    // 1. 信任谁：这里只有一张证书。浏览器和系统信任的是几百家证书机构（CA）
    let cert = CertificateDer::from_pem_file(&args.cert).map_err(|err| {
        format!(
            "无法读取证书 {}：{err}。请先启动 lab-tls-server，它会写出这个文件",
            args.cert
        )
    })?;
    let mut roots = RootCertStore::empty();
    roots
        .add(cert)
        .map_err(|err| format!("证书 {} 不可用：{err}", args.cert))?;
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));

    // 2. 先建立普通的 TCP 连接
    let tcp = TcpStream::connect(&args.addr)
        .await
        .map_err(|err| errors::connect_failed(&args.addr, &err, "lab-tls-server"))?;

    // 3. 握手：核对证书是不是我们信任的、上面的名字对不对、有没有过期
    let name = ServerName::try_from(args.name.clone())
        .map_err(|_| format!("{} 不是一个合法的名字", args.name))?;
    connector
        .connect(name, tcp)
        .await
        .map_err(|err| handshake_failed(args, &err))
}
// ANCHOR_END: connect

// ANCHOR: handshake_failed
/// 握手失败时说清楚是哪一种：不信任的证书、名字不对、时间不对。
fn handshake_failed(args: &Args, err: &std::io::Error) -> String {
    use rustls::{CertificateError, Error};
    let tls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>());
    let advice = match tls_error {
        // 两张自签名证书的签发者名字一样时，核对签名这一步才发现不对，报的是 BadSignature
        Some(Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        )) => format!(
            "服务端出示的证书不是 {} 里的那一张（也不是它签发的）：证书文件拿错了，或者服务端重启后换了证书",
            args.cert
        ),
        Some(Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }))
        | Some(Error::InvalidCertificate(CertificateError::NotValidForName)) => format!(
            "证书上没有 {} 这个名字：--name 要写证书上的名字（lab-tls-server 启动时打印了它）",
            args.name
        ),
        Some(Error::InvalidCertificate(
            CertificateError::ExpiredContext { .. }
            | CertificateError::Expired
            | CertificateError::NotValidYetContext { .. }
            | CertificateError::NotValidYet,
        )) => "证书不在有效期内：检查两台机器的时钟".to_string(),
        _ => "请确认对方运行的是 lab-tls-server（TLS），而不是普通的 TCP 服务".to_string(),
    };
    format!("和 {} 的 TLS 握手失败：{err}。{advice}", args.addr)
}
// ANCHOR_END: handshake_failed

// ANCHOR: run
async fn run(args: &Args) -> Result<(), String> {
    let mut tls = connect(args).await?;
    println!(
        "已通过 TLS 连接到 {}（证书上的名字 {} 核对无误）。输入一行后回车发送，输入 Q 退出。",
        args.addr, args.name
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut decoder = proto::Decoder::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end_matches('\r');
        if line.eq_ignore_ascii_case("q") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        // 和第 2.3 节一样：长度前缀 + 消息。TLS 不替我们分帧
        let frame = proto::encode(line.as_bytes()).map_err(|err| format!("无法发送：{err}"))?;
        tls.write_all(&frame)
            .await
            .map_err(|err| format!("发送失败：{}", errors::cause(&err)))?;
        let echo = read_message(&mut tls, &mut decoder).await?;
        println!("{}", String::from_utf8_lossy(&echo));
    }
    // 发出 close_notify：告诉服务端“我说完了”，而不是连接被人掐断
    let _ = tls.shutdown().await;
    Ok(())
}

/// 读到一条完整的消息为止（长度前缀分帧）。
async fn read_message(
    tls: &mut TlsStream<TcpStream>,
    decoder: &mut proto::Decoder,
) -> Result<Vec<u8>, String> {
    let mut buf = [0u8; 1024];
    loop {
        match decoder.next_message() {
            Ok(Some(message)) => return Ok(message),
            Ok(None) => {}
            Err(err) => return Err(format!("服务端发来的数据有误：{err}")),
        }
        match tls.read(&mut buf).await {
            Ok(0) => return Err("服务端关闭了连接".to_string()),
            Ok(n) => decoder.extend(&buf[..n]),
            Err(err) => return Err(format!("读取失败：{}", errors::cause(&err))),
        }
    }
}
// ANCHOR_END: run
