//! 把 I/O 错误翻译成一行中文：出了什么事，以及下一步该怎么做。

use std::io::{self, ErrorKind};

/// 错误的中文原因，后面括号里附上系统给的原文，方便搜索。
///
/// 例如：`连接被拒绝（Connection refused (os error 111)）`
pub fn cause(err: &io::Error) -> String {
    let reason = match err.kind() {
        ErrorKind::ConnectionRefused => "连接被拒绝",
        ErrorKind::ConnectionReset => "连接被对方重置",
        ErrorKind::ConnectionAborted => "连接被中止",
        ErrorKind::BrokenPipe => "对方已经关闭了连接",
        ErrorKind::AddrInUse => "地址已被占用",
        ErrorKind::AddrNotAvailable => "本机没有这个地址",
        ErrorKind::PermissionDenied => "没有权限",
        ErrorKind::TimedOut => "操作超时",
        ErrorKind::UnexpectedEof => "连接在数据传完之前就结束了",
        ErrorKind::InvalidInput => "地址无效",
        _ => "I/O 错误",
    };
    format!("{reason}（{err}）")
}

/// TCP 服务端无法监听 `addr` 时打印的一行说明。`bin` 是服务端程序名，用来给出可以照抄的命令。
pub fn listen_failed(addr: &str, err: &io::Error, bin: &str) -> String {
    cannot_use_address("监听", addr, err, bin)
}

/// UDP 套接字无法绑定到 `addr` 时打印的一行说明（UDP 没有“监听”这一步，只是绑定地址）。
pub fn bind_failed(addr: &str, err: &io::Error, bin: &str) -> String {
    cannot_use_address("绑定", addr, err, bin)
}

fn cannot_use_address(action: &str, addr: &str, err: &io::Error, bin: &str) -> String {
    let advice = match err.kind() {
        ErrorKind::AddrInUse => format!(
            "可能已经有一个服务端在运行：先用 Ctrl-C 停掉它，或者换一个端口，\
             例如 cargo run --bin {bin} -- --addr 127.0.0.1:0（0 表示由系统挑选空闲端口）"
        ),
        ErrorKind::PermissionDenied => {
            "1024 以下的端口需要管理员权限，请换一个大于 1024 的端口".to_string()
        }
        ErrorKind::AddrNotAvailable => "只能监听本机拥有的地址，例如 127.0.0.1".to_string(),
        _ => "请检查地址，格式是 HOST:PORT，例如 127.0.0.1:20000".to_string(),
    };
    format!("无法{action} {addr}：{}。{advice}", cause(err))
}

/// 登记 Ctrl-C 的处理失败时打印的一行说明。
pub fn ctrl_c_failed(err: &io::Error) -> String {
    // Unix 上登记信号要开一对管道，失败几乎总是因为打开的文件太多；
    // Windows 上登记的是控制台事件，没有这个限制，换一个终端窗口重试即可
    let advice = if cfg!(unix) {
        "请检查打开的文件数（ulimit -n）后重试"
    } else {
        "请换一个新的终端窗口重试"
    };
    format!("无法登记 Ctrl-C 的处理：{}。{advice}", cause(err))
}

/// 客户端连不上 `addr` 时打印的一行说明。`server_bin` 是对应的服务端程序名。
pub fn connect_failed(addr: &str, err: &io::Error, server_bin: &str) -> String {
    let advice = match err.kind() {
        ErrorKind::ConnectionRefused => format!(
            "那里没有程序在监听，服务端大概还没启动。请先在另一个终端运行：\
             cargo run --bin {server_bin} -- --addr {addr}"
        ),
        ErrorKind::TimedOut => "对方一直没有应答，请检查地址是否写对".to_string(),
        _ => "请检查地址，格式是 HOST:PORT，例如 127.0.0.1:20000".to_string(),
    };
    format!("无法连接到 {addr}：{}。{advice}", cause(err))
}

// ANCHOR: port_unreachable
/// UDP：发出的数据报到了对方的机器，那个端口上却没有程序在收（对方回了 ICMP“端口不可达”）。
///
/// 套接字 connect 过，系统才会在下一次收发时报告它，而各个系统报告的方式不同：
/// Linux 和 macOS 说“连接被拒绝”（ECONNREFUSED），Windows 说“连接被重置”（错误 10054）。
pub fn port_unreachable(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    )
}
// ANCHOR_END: port_unreachable

// ANCHOR: datagram_too_big
/// UDP：收到的数据报比缓冲区大，系统把这件事报告成了一个错误。
///
/// 只有 Windows 这样做（错误 10040，WSAEMSGSIZE）：recv_from 返回错误，程序拿不到这个数据报。
/// Linux 和 macOS 不报错，悄悄截断，把放得下的部分交给程序。所以只在 Windows 上检查。
pub fn datagram_too_big(err: &io::Error) -> bool {
    const WSAEMSGSIZE: i32 = 10040;
    cfg!(windows) && err.raw_os_error() == Some(WSAEMSGSIZE)
}
// ANCHOR_END: datagram_too_big

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_connection_names_the_command_that_starts_the_server() {
        let err = io::Error::from(ErrorKind::ConnectionRefused);
        let line = connect_failed("127.0.0.1:20000", &err, "lab-tcp-server");
        assert!(
            line.starts_with("无法连接到 127.0.0.1:20000：连接被拒绝"),
            "{line}"
        );
        assert!(line.ends_with("cargo run --bin lab-tcp-server -- --addr 127.0.0.1:20000"));
    }

    #[test]
    fn address_in_use_suggests_port_zero() {
        let err = io::Error::from(ErrorKind::AddrInUse);
        let line = listen_failed("127.0.0.1:20000", &err, "lab-tcp-server");
        assert!(line.contains("地址已被占用"), "{line}");
        assert!(line.contains("--addr 127.0.0.1:0"), "{line}");
    }

    #[test]
    fn udp_port_unreachable_is_refused_on_unix_and_reset_on_windows() {
        assert!(port_unreachable(&io::Error::from(
            ErrorKind::ConnectionRefused
        )));
        assert!(port_unreachable(&io::Error::from(
            ErrorKind::ConnectionReset
        )));
        assert!(!port_unreachable(&io::Error::from(ErrorKind::TimedOut)));
    }

    #[test]
    fn only_windows_reports_an_oversized_datagram_as_error_10040() {
        let err = io::Error::from_raw_os_error(10040);
        assert_eq!(datagram_too_big(&err), cfg!(windows));
        assert!(!datagram_too_big(&io::Error::from(
            ErrorKind::ConnectionReset
        )));
    }
}
