//! 把 I/O 错误翻译成一行中文：出了什么事，以及下一步该怎么做。

use std::io::{self, ErrorKind};

/// 错误的中文原因，后面括号里附上系统给的原文，方便搜索。
///
/// 例如：`连接被拒绝（Connection refused (os error 111)）`
pub fn cause(err: &io::Error) -> String {
    // 连接超时是我们自己计的时（见 connect_timed_out），说出等了几秒
    if let Some(timeout) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ConnectTimeout>())
    {
        return format!("连接超时（{} 秒内没有回应）", timeout.secs);
    }
    // 空闲超时也是我们自己计的时（见 idle_timed_out）
    if let Some(idle) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<IdleTimeout>())
    {
        return format!("{} 秒没有收到任何数据", idle.secs);
    }
    let reason = match err.kind() {
        ErrorKind::ConnectionRefused => "连接被拒绝",
        ErrorKind::ConnectionReset => "连接被对方重置",
        ErrorKind::ConnectionAborted => "连接被中止",
        ErrorKind::BrokenPipe => "对方已经关闭了连接",
        ErrorKind::AddrInUse => "地址已被占用",
        ErrorKind::AddrNotAvailable => "本机没有这个地址",
        ErrorKind::PermissionDenied => "没有权限",
        ErrorKind::TimedOut => "操作超时",
        ErrorKind::HostUnreachable => "主机不可达",
        ErrorKind::NetworkUnreachable => "网络不可达",
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
///
/// 同一个错误，连本机和连别的机器时原因不一样：本机上“连接被拒绝”几乎总是服务端还没启动；
/// 别的机器上还可能是服务端只监听了 127.0.0.1，或者防火墙替它拒绝了。
pub fn connect_failed(addr: &str, err: &io::Error, server_bin: &str) -> String {
    let advice = match err.kind() {
        _ if is_connect_timeout(err) => CONNECT_TIMEOUT_ADVICE.to_string(),
        ErrorKind::ConnectionRefused if is_this_machine(addr) => format!(
            "那里没有程序在监听，服务端大概还没启动。请先在另一个终端运行：\
             cargo run --bin {server_bin} -- --addr {addr}"
        ),
        ErrorKind::ConnectionRefused => format!(
            "对方的机器回答了，但那个端口上没有程序接受连接。通常是三种原因之一：\
             ① 服务端没有运行，或者端口写错了；\
             ② 服务端只监听了 127.0.0.1，别的机器连不上它，请在那台机器上用 \
             cargo run --bin {server_bin} -- --addr 0.0.0.0:{port} 启动；\
             ③ 防火墙用 TCP 重置（RST）拒绝了这个连接",
            port = port_of(addr)
        ),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            "请确认两台机器在同一个网络里（同一个 Wi-Fi 或网段，IP 地址写对了），\
             或者路上有防火墙用 ICMP 消息拒绝了这个连接"
                .to_string()
        }
        ErrorKind::TimedOut => "对方一直没有应答，请检查地址是否写对".to_string(),
        _ => "请检查地址，格式是 HOST:PORT，例如 127.0.0.1:20000".to_string(),
    };
    format!("无法连接到 {addr}：{}。{advice}", cause(err))
}

/// 连接超时时的建议：对方一声不吭，可能的原因都在这里。
const CONNECT_TIMEOUT_ADVICE: &str = "对方一直没有回应：那台机器可能没开、不在这个网络里，或者地址写错了；\
     也可能是防火墙悄悄丢掉了连接请求（Windows 在第一次运行服务端时弹出的防火墙提示里选“允许”，\
     或在“高级设置”里为它加一条入站规则；Linux 检查 ufw 或 nftables；macOS 检查“应用程序防火墙”）；\
     服务端在 WSL2 或 Docker 里运行时，还要把端口转发出来";

/// 连接超时：我们用 tokio::time::timeout 限制每次 connect，时间到了就用它造一个错误。
#[derive(Debug)]
struct ConnectTimeout {
    secs: u64,
}

impl std::fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} 秒内没有回应", self.secs)
    }
}

impl std::error::Error for ConnectTimeout {}

/// 造一个“连接超时”的错误：`limit` 是每个地址最多等的时间。
/// [`cause`] 把它说成 `连接超时（3 秒内没有回应）`。
pub fn connect_timed_out(limit: std::time::Duration) -> io::Error {
    io::Error::new(
        ErrorKind::TimedOut,
        ConnectTimeout {
            secs: limit.as_secs_f64().ceil() as u64,
        },
    )
}

/// 空闲超时：连接上 `secs` 秒没有收到任何数据（见 `socket_workbook::idle`）。
#[derive(Debug)]
struct IdleTimeout {
    secs: u64,
}

impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} 秒没有收到任何数据", self.secs)
    }
}

impl std::error::Error for IdleTimeout {}

/// 造一个“空闲超时”的错误：`limit` 是最多等多久没有数据。
/// [`cause`] 把它说成 `10 秒没有收到任何数据`。
pub fn idle_timed_out(limit: std::time::Duration) -> io::Error {
    io::Error::new(
        ErrorKind::TimedOut,
        IdleTimeout {
            secs: limit.as_secs_f64().ceil() as u64,
        },
    )
}

/// 这个错误是不是 [`connect_timed_out`] 造的。
pub fn is_connect_timeout(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<ConnectTimeout>())
}

/// `HOST:PORT` 指的是不是本机：回环地址（127.x.x.x、::1）或者 localhost。
fn is_this_machine(addr: &str) -> bool {
    if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
        return socket.ip().is_loopback();
    }
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.eq_ignore_ascii_case("localhost")
}

/// `HOST:PORT` 里的端口；看不出来时写成“端口”，让建议读起来仍然通顺。
fn port_of(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => port,
        _ => "端口",
    }
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
    fn refused_by_another_machine_gives_the_three_usual_reasons() {
        let err = io::Error::from(ErrorKind::ConnectionRefused);
        let line = connect_failed("192.0.2.7:20004", &err, "lab-chat-server");
        assert!(
            line.starts_with("无法连接到 192.0.2.7:20004：连接被拒绝"),
            "{line}"
        );
        assert!(line.contains("端口写错了"), "{line}");
        assert!(
            line.contains("cargo run --bin lab-chat-server -- --addr 0.0.0.0:20004"),
            "{line}"
        );
        assert!(line.contains("防火墙"), "{line}");
        assert!(!line.contains('\n'), "只有一行：{line}");
        // 连本机时还是原来那一句
        let local = connect_failed("localhost:20004", &err, "lab-chat-server");
        assert!(local.contains("服务端大概还没启动"), "{local}");
    }

    #[test]
    fn a_connect_timeout_says_how_long_it_waited_and_why() {
        let err = connect_timed_out(std::time::Duration::from_secs(3));
        assert_eq!(cause(&err), "连接超时（3 秒内没有回应）");
        assert!(is_connect_timeout(&err));
        assert!(!is_connect_timeout(&io::Error::from(ErrorKind::TimedOut)));
        let line = connect_failed("192.0.2.7:20000", &err, "lab-tcp-server");
        assert!(
            line.starts_with("无法连接到 192.0.2.7:20000：连接超时（3 秒内没有回应）。"),
            "{line}"
        );
        for hint in [
            "防火墙",
            "高级设置",
            "ufw",
            "nftables",
            "应用程序防火墙",
            "WSL2",
            "Docker",
        ] {
            assert!(line.contains(hint), "缺少 {hint}：{line}");
        }
        assert!(!line.contains('\n'), "只有一行：{line}");
    }

    #[test]
    fn an_idle_timeout_says_how_long_nothing_came() {
        let err = idle_timed_out(std::time::Duration::from_secs(10));
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert_eq!(cause(&err), "10 秒没有收到任何数据");
        assert!(!is_connect_timeout(&err));
        assert_eq!(
            cause(&io::Error::from(ErrorKind::TimedOut)),
            "操作超时（timed out）"
        );
    }

    #[test]
    fn unreachable_host_and_network_are_named() {
        for (kind, reason) in [
            (ErrorKind::HostUnreachable, "主机不可达"),
            (ErrorKind::NetworkUnreachable, "网络不可达"),
        ] {
            let line = connect_failed(
                "198.51.100.1:20000",
                &io::Error::from(kind),
                "lab-tcp-server",
            );
            assert!(
                line.starts_with(&format!("无法连接到 198.51.100.1:20000：{reason}")),
                "{line}"
            );
            assert!(line.contains("同一个网络"), "{line}");
            assert!(line.contains("ICMP"), "{line}");
        }
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
