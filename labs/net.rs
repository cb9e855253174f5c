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
                if_addrs::IfAddr::V4(v4) => v4.broadcast,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_address_is_listed() {
        let all = interface_addresses().expect("读出网卡列表");
        assert!(
            all.iter().any(|a| a.ip.is_loopback()),
            "本机至少有回环地址：{all:?}"
        );
    }
}
