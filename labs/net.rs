//! 第 5 章（走出本机）各个实验共用的网络小工具：本机有哪些网卡地址、
//! 服务端该告诉别人用哪些地址连它、把 `--addr HOST:PORT` 读懂并解析成 IP 地址。

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// 本机一个网卡上的一个地址。
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// 网卡的名字，例如 Linux 的 `eth0`、macOS 的 `en0`、Windows 的“以太网”
    pub interface: String,
    /// 这块网卡上的地址
    pub ip: IpAddr,
    /// 只对 IPv4 有：这个网段的广播地址，例如 192.0.2.255（IPv6 没有广播）
    pub broadcast: Option<Ipv4Addr>,
    /// 网卡的编号（系统给每块网卡的序号，拿不到时是 0）。IPv6 链路本地地址（fe80::/10）
    /// 和 ff02:: 组播要带上它（zone id）才知道走哪块网卡
    pub scope_id: u32,
}

/// 列出本机全部网卡上的全部地址（包括回环地址），按系统给出的顺序。
///
/// 读网卡列表的办法每个系统都不一样（Linux 和 macOS 用 getifaddrs，Windows 用
/// GetAdaptersAddresses），if-addrs 这个 crate 把它们包成了同一个函数。
pub fn interface_addresses() -> std::io::Result<Vec<InterfaceAddress>> {
    let list = if_addrs::get_if_addrs()?;
    Ok(list
        .into_iter()
        .map(|iface| {
            let broadcast = match &iface.addr {
                if_addrs::IfAddr::V4(v4) => subnet_broadcast(v4),
                if_addrs::IfAddr::V6(_) => None,
            };
            InterfaceAddress {
                ip: iface.ip(),
                scope_id: iface.index.unwrap_or(0),
                interface: iface.name,
                broadcast,
            }
        })
        .collect())
}

/// 一个 IPv4 地址所在网段的广播地址；不能广播时是 None（例如回环网卡）。
///
/// Linux 上用 `ip addr add 192.0.2.2/24 dev eth0` 加地址而不写 `brd +` 时，内核照样把 192.0.2.255
/// 当作广播地址，getifaddrs 报告的“广播地址”却是这个地址本身。这时由地址和子网掩码算出来。
fn subnet_broadcast(v4: &if_addrs::Ifv4Addr) -> Option<Ipv4Addr> {
    // 回环网卡不能广播。Windows 上 if-addrs 给每个 IPv4 地址都算出一个广播地址，回环地址也不例外
    if v4.ip.is_loopback() {
        return None;
    }
    match v4.broadcast {
        Some(reported) if reported == v4.ip => {
            (v4.prefixlen <= 30).then(|| Ipv4Addr::from(u32::from(v4.ip) | !u32::from(v4.netmask)))
        }
        reported => reported,
    }
}

// ---------------------------------------------------------------- 服务端：别人用哪些地址连我

/// 服务端监听在 `bound` 上时，告诉用户别的机器可以用哪些地址连它（每个地址一行）。
///
/// 只有监听“任意地址”（0.0.0.0 或 ::）时才有话说；监听某一个具体地址时，别人就用那个地址，
/// 返回空列表。`only_v6` 是套接字的 IPV6_V6ONLY 选项：为真时监听 [::] 的服务端只收 IPv6 连接。
pub fn reachable_lines(bound: SocketAddr, only_v6: bool) -> Vec<String> {
    if !bound.ip().is_unspecified() {
        return Vec::new();
    }
    match interface_addresses() {
        Ok(list) => reachable_lines_from(bound, only_v6, &list),
        Err(err) => vec![format!(
            "（读不出本机的网卡地址：{}；请用 ipconfig、ip addr 或 ifconfig 查看本机的 IP）",
            crate::errors::cause(&err)
        )],
    }
}

// ANCHOR: reachable
/// 和 [`reachable_lines`] 一样，只是网卡列表由调用者给出（测试用文档地址造一份）。
pub fn reachable_lines_from(
    bound: SocketAddr,
    only_v6: bool,
    interfaces: &[InterfaceAddress],
) -> Vec<String> {
    if !bound.ip().is_unspecified() {
        return Vec::new();
    }
    let port = bound.port();
    // 监听 0.0.0.0 只收 IPv4；监听 [::] 收 IPv6，双栈时也收 IPv4
    let (v4, v6) = match bound {
        SocketAddr::V4(_) => (true, false),
        SocketAddr::V6(_) => (!only_v6, true),
    };
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(_) => v4,
        IpAddr::V6(_) => v6,
    };
    let mut lines =
        vec!["别的机器可以用这些地址连接（在同一个网络里，且防火墙放行）：".to_string()];
    let mut found = false;
    for entry in interfaces
        .iter()
        .filter(|e| !e.ip.is_loopback() && usable(&e.ip))
    {
        found = true;
        let shown = match entry.ip {
            IpAddr::V4(ip) => format!("{ip}:{port}"),
            // 链路本地地址（fe80::）只在一段链路上有效，要带上网卡名才知道走哪块网卡
            IpAddr::V6(ip) if is_link_local(&ip) => {
                format!(
                    "[{ip}%{}]:{port}（链路本地，只在同一段链路上能用）",
                    entry.interface
                )
            }
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        };
        lines.push(format!("  {shown}    网卡 {}", entry.interface));
    }
    if !found {
        lines.push("  （没有找到回环以外的地址：这台机器大概还没有连上网络）".to_string());
    }
    let local = match (v4, v6) {
        (true, true) => format!("127.0.0.1:{port} 和 [::1]:{port}"),
        (true, false) => format!("127.0.0.1:{port}"),
        _ => format!("[::1]:{port}"),
    };
    lines.push(format!("{local} 只能在本机上使用"));
    if let SocketAddr::V6(_) = bound {
        lines.push(if only_v6 {
            format!(
                "这个套接字只收 IPv6 连接（IPV6_V6ONLY 开着，Windows 默认如此）：\
                 要让 IPv4 的客户端也能连，请另用 --addr 0.0.0.0:{port} 启动"
            )
        } else {
            "这个套接字是双栈的（IPV6_V6ONLY 关着）：IPv4 的客户端也能连上".to_string()
        });
    }
    lines
}
// ANCHOR_END: reachable

/// fe80::/10：IPv6 链路本地地址。
fn is_link_local(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

// ---------------------------------------------------------------- 客户端：读懂 --addr

/// 读懂的 `HOST:PORT`：要么已经是 IP 地址，要么是一个还要解析的名字。
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// IP 地址，例如 `127.0.0.1:20000`、`[::1]:20000`、`[fe80::1%eth0]:20000`
    Ip(SocketAddr),
    /// 主机名，例如 `localhost:20000`：要问解析器（hosts 文件、DNS）它是哪些 IP
    Name { host: String, port: u16 },
}

/// 读懂 `--addr` 的值。格式不对时返回一句中文，说清楚该怎么写。
pub fn parse_target(text: &str) -> Result<Target, String> {
    parse_target_with(text, &interface_names())
}

/// 本机的网卡：（名字，编号），给链路本地地址的 `%网卡名` 用。
fn interface_names() -> Vec<(String, u32)> {
    // 一块网卡常有好几个地址（IPv4、IPv6 各一个或几个）：每块网卡只留一次
    let mut names: Vec<(String, u32)> = Vec::new();
    for entry in interface_addresses().unwrap_or_default() {
        if !names.iter().any(|(name, _)| *name == entry.interface) {
            names.push((entry.interface, entry.scope_id));
        }
    }
    names
}

/// 和 [`parse_target`] 一样，网卡列表由调用者给出（测试用）。
pub fn parse_target_with(text: &str, interfaces: &[(String, u32)]) -> Result<Target, String> {
    let text = text.trim();
    let example = "格式是 HOST:PORT，例如 127.0.0.1:20000、[::1]:20000 或 localhost:20000";
    if let Some(rest) = text.strip_prefix('[') {
        // [IPv6]:PORT
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(format!("少了右方括号 ]：{example}"));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(format!(
                "缺少端口：在方括号后面写上 :端口，例如 [{inside}]:20000"
            ));
        };
        let port = parse_port(port)?;
        return parse_v6(inside, port, interfaces).map(Target::Ip);
    }
    // 没有方括号却有好几个冒号：这是没加括号的 IPv6 地址
    if text.matches(':').count() > 1 {
        // 最后一个冒号后面是数字、前面是 IPv6 地址：多半是“地址:端口”，只是忘了方括号。
        // 整串本身也可能就是一个 IPv6 地址（::1:8080 就是），这时两种写法都说出来
        let as_port = match text.rsplit_once(':') {
            Some((ip, port)) if parse_v6_part(ip).is_some() && parse_port(port).is_ok() => {
                Some(format!("[{ip}]:{port}"))
            }
            _ => None,
        };
        let as_address = parse_v6_part(text).map(|_| format!("[{text}]:端口"));
        let suggestion = match (as_port, as_address) {
            (Some(with_port), Some(whole)) => {
                let port = text.rsplit_once(':').map_or("", |(_, port)| port);
                format!("{with_port}（如果 {port} 是端口），或者 {whole}")
            }
            (Some(with_port), None) => with_port,
            (None, Some(whole)) => whole,
            (None, None) => "[IPv6 地址]:端口".to_string(),
        };
        return Err(format!(
            "IPv6 地址要写在方括号里，端口写在括号外面：请写成 {suggestion}"
        ));
    }
    let Some((host, port)) = text.split_once(':') else {
        return Err(format!("缺少端口：{example}"));
    };
    if host.is_empty() {
        return Err(format!("缺少主机名或 IP 地址：{example}"));
    }
    let port = parse_port(port)?;
    match host.parse::<Ipv4Addr>() {
        Ok(ip) => Ok(Target::Ip(SocketAddr::from((ip, port)))),
        Err(_) => Ok(Target::Name {
            host: host.to_string(),
            port,
        }),
    }
}

/// 端口：0 到 65535 的整数。
fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err("缺少端口：冒号后面要写端口号，例如 127.0.0.1:20000".to_string());
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "端口 {text} 不是数字：端口是 0 到 65535 之间的整数"
        ));
    }
    match text.parse::<u16>() {
        Ok(port) => Ok(port),
        Err(_) => Err(format!(
            "端口 {text} 超出范围：端口是 0 到 65535 之间的整数"
        )),
    }
}

/// `fe80::1%eth0` 里 % 前面的 IPv6 地址。
fn parse_v6_part(text: &str) -> Option<Ipv6Addr> {
    text.split('%').next()?.parse().ok()
}

/// 方括号里的 IPv6 地址，可以带 `%网卡名` 或 `%网卡编号`（zone id）。
fn parse_v6(text: &str, port: u16, interfaces: &[(String, u32)]) -> Result<SocketAddr, String> {
    let (ip_text, zone) = match text.split_once('%') {
        Some((ip, zone)) => (ip, Some(zone)),
        None => (text, None),
    };
    let Ok(ip) = ip_text.parse::<Ipv6Addr>() else {
        return Err(format!("{ip_text} 不是合法的 IPv6 地址，例如 [::1]:20000"));
    };
    let names = || {
        let list: Vec<&str> = interfaces.iter().map(|(name, _)| name.as_str()).collect();
        if list.is_empty() {
            "（读不出网卡列表）".to_string()
        } else {
            list.join("、")
        }
    };
    let scope_id = match zone {
        None if is_link_local(&ip) => {
            return Err(format!(
                "链路本地地址 {ip} 要带上网卡名（%网卡名），系统才知道从哪块网卡发出去：\
                 请写成 [{ip}%网卡名]:{port}。本机的网卡有：{}",
                names()
            ));
        }
        None => 0,
        Some(zone) => match zone.parse::<u32>() {
            Ok(index) => index, // 网卡编号，Windows 上常这样写（例如 %12）
            Err(_) => match interfaces.iter().find(|(name, _)| name == zone) {
                Some((_, index)) => *index,
                None => {
                    return Err(format!(
                        "本机没有叫 {zone} 的网卡。本机的网卡有：{}（也可以写网卡的编号，例如 %2）",
                        names()
                    ));
                }
            },
        },
    };
    Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope_id)))
}

/// 把 `--addr` 解析成全部 IP 地址，按解析器给出的顺序。
///
/// IP 地址不用解析；名字交给系统的解析器（先查 hosts 文件，再问 DNS），它可能给出好几个地址，
/// 例如 localhost 常常是 ::1 和 127.0.0.1。出错时返回一句中文：写错了什么，或者找不到这个名字。
pub async fn resolve(text: &str) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = match parse_target(text)? {
        Target::Ip(addr) => return Ok(vec![addr]),
        Target::Name { host, port } => (host, port),
    };
    match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(found) => {
            let all: Vec<SocketAddr> = found.collect();
            if all.is_empty() {
                return Err(format!("主机名 {host} 没有解析出任何地址。{NAME_ADVICE}"));
            }
            Ok(all)
        }
        Err(err) => Err(name_not_found(&host, &err)),
    }
}

/// 解析器找不到 `host`。
fn name_not_found(host: &str, err: &std::io::Error) -> String {
    format!("找不到主机名 {host}（{err}）。{NAME_ADVICE}")
}

/// 名字解析不出来时的建议。
const NAME_ADVICE: &str = "请检查名字有没有拼错；只在自己几台机器之间用的名字，可以写进 hosts 文件\
     （Linux 和 macOS 是 /etc/hosts，Windows 是 C:\\Windows\\System32\\drivers\\etc\\hosts）；\
     别的名字要由 DNS 解析，局域网里也可以试试 名字.local，或者直接写对方的 IP 地址";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broadcast_reported_as_the_address_itself_is_worked_out_from_the_netmask() {
        let v4 = |ip: [u8; 4], prefixlen: u8, broadcast: Option<[u8; 4]>| if_addrs::Ifv4Addr {
            ip: ip.into(),
            netmask: Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefixlen)).unwrap_or(0)),
            prefixlen,
            broadcast: broadcast.map(Ipv4Addr::from),
        };
        let same = v4([192, 0, 2, 2], 24, Some([192, 0, 2, 2]));
        assert_eq!(subnet_broadcast(&same), Some(Ipv4Addr::new(192, 0, 2, 255)));
        let given = v4([198, 51, 100, 7], 25, Some([198, 51, 100, 127]));
        assert_eq!(
            subnet_broadcast(&given),
            Some(Ipv4Addr::new(198, 51, 100, 127))
        );
        assert_eq!(subnet_broadcast(&v4([127, 0, 0, 1], 8, None)), None);
        assert_eq!(
            subnet_broadcast(&v4([192, 0, 2, 9], 32, Some([192, 0, 2, 9]))),
            None
        );
    }

    #[test]
    fn the_loopback_address_is_listed() {
        let all = interface_addresses().expect("读出网卡列表");
        assert!(
            all.iter().any(|a| a.ip.is_loopback()),
            "本机至少有回环地址：{all:?}"
        );
    }

    fn doc_interfaces() -> Vec<InterfaceAddress> {
        let entry = |interface: &str, ip: &str, scope_id| InterfaceAddress {
            interface: interface.to_string(),
            ip: ip.parse().expect("合法的 IP"),
            broadcast: None,
            scope_id,
        };
        vec![
            entry("lo", "127.0.0.1", 1),
            entry("lo", "::1", 1),
            entry("eth0", "192.0.2.10", 2),
            entry("eth0", "2001:db8::10", 2),
            entry("eth0", "fe80::10", 2),
            entry("wlan0", "198.51.100.7", 3),
        ]
    }

    fn names() -> Vec<(String, u32)> {
        vec![("lo".into(), 1), ("eth0".into(), 2)]
    }

    #[test]
    fn wildcard_v4_lists_every_ipv4_address_and_the_loopback_note() {
        let lines =
            reachable_lines_from("0.0.0.0:20000".parse().unwrap(), false, &doc_interfaces());
        assert_eq!(
            lines,
            [
                "别的机器可以用这些地址连接（在同一个网络里，且防火墙放行）：",
                "  192.0.2.10:20000    网卡 eth0",
                "  198.51.100.7:20000    网卡 wlan0",
                "127.0.0.1:20000 只能在本机上使用",
            ]
        );
    }

    #[test]
    fn dual_stack_lists_both_families_and_says_so() {
        let lines = reachable_lines_from("[::]:20000".parse().unwrap(), false, &doc_interfaces());
        let text = lines.join("\n");
        assert!(text.contains("  192.0.2.10:20000    网卡 eth0"), "{text}");
        assert!(
            text.contains("  [2001:db8::10]:20000    网卡 eth0"),
            "{text}"
        );
        assert!(text.contains("[fe80::10%eth0]:20000"), "{text}");
        assert!(
            text.contains("127.0.0.1:20000 和 [::1]:20000 只能在本机上使用"),
            "{text}"
        );
        assert!(text.contains("双栈"), "{text}");
    }

    #[test]
    fn ipv6_only_lists_no_ipv4_and_points_to_0_0_0_0() {
        let lines = reachable_lines_from("[::]:20000".parse().unwrap(), true, &doc_interfaces());
        let text = lines.join("\n");
        assert!(!text.contains("192.0.2.10"), "{text}");
        assert!(text.contains("[2001:db8::10]:20000"), "{text}");
        assert!(text.contains("[::1]:20000 只能在本机上使用"), "{text}");
        assert!(text.contains("--addr 0.0.0.0:20000"), "{text}");
    }

    #[test]
    fn a_specific_address_needs_no_list() {
        for bound in ["127.0.0.1:20000", "192.0.2.10:20000", "[::1]:20000"] {
            assert!(
                reachable_lines_from(bound.parse().unwrap(), false, &doc_interfaces()).is_empty()
            );
        }
    }

    #[test]
    fn addresses_and_names_are_understood() {
        let parse = |text| parse_target_with(text, &names());
        assert_eq!(
            parse("127.0.0.1:20000"),
            Ok(Target::Ip("127.0.0.1:20000".parse().unwrap()))
        );
        assert_eq!(
            parse("[::1]:20000"),
            Ok(Target::Ip("[::1]:20000".parse().unwrap()))
        );
        assert_eq!(
            parse("localhost:8080"),
            Ok(Target::Name {
                host: "localhost".into(),
                port: 8080
            })
        );
        let Ok(Target::Ip(SocketAddr::V6(zoned))) = parse("[fe80::1%eth0]:20000") else {
            panic!("带网卡名的链路本地地址");
        };
        assert_eq!((zoned.scope_id(), zoned.port()), (2, 20000));
        let Ok(Target::Ip(SocketAddr::V6(numbered))) = parse("[fe80::1%7]:20000") else {
            panic!("带网卡编号的链路本地地址");
        };
        assert_eq!(numbered.scope_id(), 7);
    }

    #[test]
    fn ipv6_without_brackets_says_how_to_write_it() {
        let err = parse_target_with("::1:20000", &names()).unwrap_err();
        assert!(err.contains("方括号"), "{err}");
        assert!(err.ends_with("请写成 [::1]:20000"), "{err}");
        // ::1:8080 本身也是一个合法的 IPv6 地址，但更可能是忘了方括号的“地址:端口”
        let err = parse_target_with("::1:8080", &names()).unwrap_err();
        assert!(
            err.ends_with("请写成 [::1]:8080（如果 8080 是端口），或者 [::1:8080]:端口"),
            "{err}"
        );
        let err = parse_target_with("fe80::1", &names()).unwrap_err();
        assert!(err.ends_with("请写成 [fe80::1]:端口"), "{err}");
    }

    #[test]
    fn a_missing_port_is_named() {
        for text in ["127.0.0.1", "localhost", "[::1]", "127.0.0.1:"] {
            let err = parse_target_with(text, &names()).unwrap_err();
            assert!(err.starts_with("缺少端口"), "{text}：{err}");
        }
    }

    #[test]
    fn a_port_out_of_range_is_named() {
        let err = parse_target_with("127.0.0.1:70000", &names()).unwrap_err();
        assert!(err.starts_with("端口 70000 超出范围"), "{err}");
        let err = parse_target_with("127.0.0.1:http", &names()).unwrap_err();
        assert!(err.starts_with("端口 http 不是数字"), "{err}");
    }

    #[test]
    fn link_local_needs_a_known_zone() {
        let err = parse_target_with("[fe80::1]:20000", &names()).unwrap_err();
        assert!(err.contains("%网卡名"), "{err}");
        assert!(err.contains("lo、eth0"), "{err}");
        let err = parse_target_with("[fe80::1%eth9]:20000", &names()).unwrap_err();
        assert!(err.starts_with("本机没有叫 eth9 的网卡"), "{err}");
        assert!(err.contains("lo、eth0"), "{err}");
    }

    #[test]
    fn an_unknown_name_is_reported_as_not_found() {
        // 不真的去查：查一个不存在的名字会问 DNS 服务器，测试只和本机通信
        let err = std::io::Error::other("failed to lookup address information");
        let line = name_not_found("no-such-host.invalid", &err);
        assert!(
            line.starts_with("找不到主机名 no-such-host.invalid（"),
            "{line}"
        );
        for hint in ["拼错", "hosts", "DNS", ".local"] {
            assert!(line.contains(hint), "缺少 {hint}：{line}");
        }
    }
}
