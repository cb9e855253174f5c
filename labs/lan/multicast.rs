//! # 第 5 章 · 组播：一份数据报，发给加入了同一个组的所有人
//!
//! 广播发给一个网段上的每一台机器，不管它想不想要；组播只发给**加入了这个组**的程序。
//! 组是一个特殊的地址：IPv4 的 224.0.0.0/4（本机构内部用 239.0.0.0/8，例如 239.255.0.1），
//! IPv6 的 ff00::/8（ff02:: 开头的只在一条链路上传播）。IPv6 没有广播，要喊所有人，就靠组播。
//!
//! 这个实验有两种用法：
//!
//! ```text
//! cargo run --bin lab-multicast -- --join 239.255.0.1                 # 收：加入组，显示收到的每个数据报
//! cargo run --bin lab-multicast -- --send 你好 --to 239.255.0.1       # 发：往组里发一个数据报
//! cargo run --bin lab-multicast -- --join ff02::1234 --interface eth0 # IPv6：要说明在哪块网卡上
//! ```
//!
//! 可以在同一台机器上开两个接收的终端（它们共用一个端口，见 `SO_REUSEADDR`），再从第三个终端发。
//! 没有默认路由的机器发 IPv4 组播时要用 `--interface` 指明网卡，例如本机回环 `--interface lo`。
//! 不用这个程序也能收：`socat UDP4-RECV:20006,ip-add-membership=239.255.0.1:0.0.0.0 -`。

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;

use clap::Parser;
use socket_workbook::errors::{bind_failed, cause};
use socket_workbook::text::printable;
use socket2::{Domain, Protocol, Socket, Type};

/// 组播演示：加入一个组收数据报，或者往一个组里发一个数据报。
#[derive(Parser)]
#[command(name = "lab-multicast", version)]
#[command(group = clap::ArgGroup::new("mode").required(true).args(["join", "send"]))]
struct Args {
    /// 加入这个组播组，显示收到的每个数据报（例如 239.255.0.1 或 ff02::1234）
    #[arg(long, value_name = "GROUP")]
    join: Option<IpAddr>,
    /// 往组里发这一行文字（组由 --to 给出）
    #[arg(long, value_name = "TEXT")]
    send: Option<String>,
    /// --send 发往的组播组
    #[arg(long, value_name = "GROUP", default_value = "239.255.0.1")]
    to: IpAddr,
    /// UDP 端口；接收时写 0 表示由系统挑选
    #[arg(long, default_value_t = 20006)]
    port: u16,
    /// 在哪块网卡上收发（网卡名，例如 eth0、lo）。IPv6 的 ff02:: 组必须写
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// 收到这么多个数据报就退出（默认一直收，按 Ctrl-C 停止）
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let interface = match Interface::find(args.interface.as_deref()) {
        Ok(interface) => interface,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    // clap 已经保证 --join 和 --send 恰好有一个
    let result = match (args.join, &args.send) {
        (Some(group), _) => receive(group, args.port, &interface, args.count),
        (None, Some(text)) => send(text, args.to, args.port, &interface),
        (None, None) => Err("请写 --join GROUP（收）或 --send TEXT（发）".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: receive
/// 收：绑定端口，加入组，显示收到的每个数据报和它的发送者。
fn receive(
    group: IpAddr,
    port: u16,
    interface: &Interface,
    count: Option<u64>,
) -> Result<(), String> {
    if !group.is_multicast() {
        return Err(not_a_group(group));
    }
    let socket = bind_shared(group, port)?;
    join(&socket, group, interface)?;
    let local = socket.local_addr().map_err(|err| cause(&err))?;
    println!(
        "已在 {} 上加入组播组 {group}（网卡 {}），收到的数据报会显示在下面，按 Ctrl-C 停止",
        local,
        interface.name()
    );
    let mut buf = [0u8; 65_536];
    let mut received = 0;
    while count.is_none_or(|count| received < count) {
        let (n, from) = socket
            .recv_from(&mut buf)
            .map_err(|err| format!("接收失败：{}", cause(&err)))?;
        received += 1;
        println!("{from} 发来 {n} 字节：{}", printable(&buf[..n]));
    }
    Ok(())
}

/// 绑定一个可以和别的程序共用端口的 UDP 套接字。
///
/// 绑定的是“任意地址”（0.0.0.0 或 [::]），不是组的地址：Windows 不许绑定组播地址。
fn bind_shared(group: IpAddr, port: u16) -> Result<UdpSocket, String> {
    let (domain, any) = match group {
        IpAddr::V4(_) => (Domain::IPV4, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        IpAddr::V6(_) => (Domain::IPV6, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    };
    let local = SocketAddr::new(any, port);
    let open = || -> std::io::Result<UdpSocket> {
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        // SO_REUSEADDR：同一台机器上的几个接收者可以绑定同一个端口，组播的数据报每人一份。
        // Linux、Windows 上这一个选项就够了
        socket.set_reuse_address(true)?;
        // macOS（BSD 的规则）只在绑定的是组播地址时才这样放宽；我们绑的是 0.0.0.0，
        // 所以还要 SO_REUSEPORT 才能让第二个接收者绑上同一个端口
        #[cfg(target_os = "macos")]
        socket.set_reuse_port(true)?;
        socket.bind(&local.into())?;
        Ok(socket.into())
    };
    open().map_err(|err| bind_failed(&local.to_string(), &err, "lab-multicast"))
}
// ANCHOR_END: receive

// ANCHOR: join
/// 加入组播组。加入是“在某块网卡上”加入：系统据此告诉那条链路上的交换机和路由器
/// （IGMP、MLD 协议）“这里有人要这个组的数据报”。
fn join(socket: &UdpSocket, group: IpAddr, interface: &Interface) -> Result<(), String> {
    let joined = match group {
        // IPv4 用网卡的 IPv4 地址指明网卡；0.0.0.0 表示由系统按路由表挑一块
        IpAddr::V4(group) => socket.join_multicast_v4(&group, &interface.ipv4),
        // IPv6 用网卡的编号；0 表示由系统挑
        IpAddr::V6(group) => socket.join_multicast_v6(&group, interface.index),
    };
    joined.map_err(|err| {
        format!(
            "无法在网卡 {} 上加入组播组 {group}：{}。请用 --interface 指明一块连着网络的网卡\
             （ip addr、ifconfig 或 ipconfig 能列出网卡）",
            interface.name(),
            cause(&err)
        )
    })
}
// ANCHOR_END: join

// ANCHOR: send
/// 发：往组里发一个数据报。
fn send(text: &str, group: IpAddr, port: u16, interface: &Interface) -> Result<(), String> {
    if !group.is_multicast() {
        return Err(not_a_group(group));
    }
    let target = SocketAddr::new(group, port);
    let prepare = || -> std::io::Result<UdpSocket> {
        match group {
            IpAddr::V4(_) => {
                let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
                // TTL 1：只在本网段传播，路由器不转发（这也是默认值，写出来是为了看清楚）
                socket.set_multicast_ttl_v4(1)?;
                // 本机加入了这个组的程序也收一份（默认也是开的）
                socket.set_multicast_loop_v4(true)?;
                if !interface.ipv4.is_unspecified() {
                    // 从哪块网卡发出去；不写就按路由表走，没有默认路由时会失败
                    let socket2 = socket2::SockRef::from(&socket);
                    socket2.set_multicast_if_v4(&interface.ipv4)?;
                }
                Ok(socket)
            }
            IpAddr::V6(_) => {
                let socket = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
                let socket2 = socket2::SockRef::from(&socket);
                socket2.set_multicast_hops_v6(1)?;
                socket.set_multicast_loop_v6(true)?;
                if interface.index != 0 {
                    socket2.set_multicast_if_v6(interface.index)?;
                }
                Ok(socket)
            }
        }
    };
    let socket = prepare().map_err(|err| format!("无法准备组播套接字：{}", cause(&err)))?;
    let sent = socket.send_to(text.as_bytes(), target).map_err(|err| {
        format!(
            "发往 {target} 失败：{}。请用 --interface 指明一块连着网络、支持组播的网卡\
             （没有默认路由时必须写；Linux 的回环网卡 lo 只收发 IPv4 组播）",
            cause(&err)
        )
    })?;
    println!(
        "已把 {sent} 字节发往组播组 {target}（网卡 {}，只在本网段传播，本机的接收者也收得到）",
        interface.name()
    );
    Ok(())
}
// ANCHOR_END: send

fn not_a_group(ip: IpAddr) -> String {
    format!(
        "{ip} 不是组播地址：IPv4 的组播地址在 224.0.0.0 到 239.255.255.255 之间（例如 239.255.0.1），\
         IPv6 的以 ff 开头（例如 ff02::1234）"
    )
}

/// `--interface` 指的网卡：它的名字、IPv4 地址（IPv4 组播用）和编号（IPv6 组播用）。
/// 没写 `--interface` 时地址是 0.0.0.0、编号是 0，交给系统挑。
struct Interface {
    name: Option<String>,
    ipv4: Ipv4Addr,
    index: u32,
}

impl Interface {
    fn find(name: Option<&str>) -> Result<Interface, String> {
        let Some(name) = name else {
            return Ok(Interface {
                name: None,
                ipv4: Ipv4Addr::UNSPECIFIED,
                index: 0,
            });
        };
        let all = socket_workbook::net::interface_addresses()
            .map_err(|err| format!("无法列出本机的网卡：{}", cause(&err)))?;
        let mine: Vec<_> = all.iter().filter(|a| a.interface == name).collect();
        let Some(first) = mine.first() else {
            let names: Vec<&str> = all.iter().map(|a| a.interface.as_str()).collect();
            return Err(format!(
                "本机没有叫 {name} 的网卡（有 {}），请用 --interface 写其中一个",
                dedup(names).join("、")
            ));
        };
        let ipv4 = mine
            .iter()
            .find_map(|a| match a.ip {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        Ok(Interface {
            name: Some(name.to_string()),
            ipv4,
            index: first.scope_id,
        })
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("由系统挑选")
    }
}

/// 去掉重复的名字，保留先后顺序（一块网卡有好几个地址，会出现好几次）。
fn dedup(names: Vec<&str>) -> Vec<&str> {
    let mut seen = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}
