//! 第 5 章（走出本机）各个实验共用的网络小工具：本机有哪些网卡地址。

use std::net::{IpAddr, Ipv4Addr};

/// 本机一个网卡上的一个地址。
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// 网卡的名字，例如 Linux 的 `eth0`、macOS 的 `en0`、Windows 的“以太网”
    pub interface: String,
    /// 这块网卡上的地址
    pub ip: IpAddr,
    /// 只对 IPv4 有：这个网段的广播地址，例如 192.0.2.255（IPv6 没有广播）
    pub broadcast: Option<Ipv4Addr>,
    /// IPv6 链路本地地址（fe80::/10）要带上网卡编号（zone id）才能用；其他地址是 0
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

/// 一个 IPv4 地址所在网段的广播地址；网卡不能广播时是 None（例如回环网卡）。
///
/// Linux 上用 `ip addr add 192.0.2.2/24 dev eth0` 加地址而不写 `brd +` 时，内核照样把 192.0.2.255
/// 当作广播地址，getifaddrs 报告的“广播地址”却是这个地址本身。这时由地址和子网掩码算出来。
fn subnet_broadcast(v4: &if_addrs::Ifv4Addr) -> Option<Ipv4Addr> {
    match v4.broadcast {
        Some(reported) if reported == v4.ip => {
            (v4.prefixlen <= 30).then(|| Ipv4Addr::from(u32::from(v4.ip) | !u32::from(v4.netmask)))
        }
        reported => reported,
    }
}

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
}
