//! 让一个 UDP 套接字在每种系统上都能发出最大的数据报（65,507 字节的数据）。
//!
//! macOS 默认只让 UDP 套接字发 9216 字节以内的数据报：上限就是套接字的发送缓冲区
//! （SO_SNDBUF，默认值来自 `sysctl net.inet.udp.maxdgram`），更大的数据报 `send` 直接报错
//! EMSGSIZE（Message too long）。Linux 和 Windows 没有这个限制。第 3 章的实验要演示最大的数据报，
//! 所以在 macOS 上把发送缓冲区调到 64 KiB；在其他系统上什么也不做。

use std::io;

// ANCHOR: allow
/// 在 macOS 上把 `socket` 的发送缓冲区调到 64 KiB，让它能发满 65,507 字节的数据报。
pub fn allow_full_size_datagrams(socket: &tokio::net::UdpSocket) -> io::Result<()> {
    #[cfg(target_os = "macos")]
    socket2::SockRef::from(socket).set_send_buffer_size(64 * 1024)?;
    #[cfg(not(target_os = "macos"))]
    let _ = socket; // 其他系统的默认值已经够了
    Ok(())
}
// ANCHOR_END: allow
