//! # 第 5 章 · 在局域网里找到聊天室：发现协议
//!
//! 客户端不知道聊天室在哪台机器上，就向整个网段喊一声（IPv4 广播、IPv6 组播）：
//! “谁开着聊天室？”开着 `--announce` 的服务端各回一个数据报：房间名、聊天用的 TCP 端口、在线人数。
//!
//! 一问一答各是一个 UDP 数据报，内容是一行 UTF-8 文字，用 `nc -u` 就能手动试：
//!
//! ```text
//! 请求：SWB-CHAT 1 DISCOVER
//! 回答：SWB-CHAT 1 ROOM port=20004 online=3 name=alice 的聊天室
//! ```
//!
//! - `SWB-CHAT` 是“暗号”（magic）：同一个端口上收到别的程序的数据报时，一眼就能认出不是我们的；
//! - `1` 是协议的版本：以后格式变了就换个数字，旧程序看到不认识的版本会说出来，而不是瞎猜；
//! - 回答里**没有 IP 地址**：客户端用回答的**来源地址**去连。写在内容里的地址谁都能乱填，
//!   来源地址至少是真的从那台机器发出来的（在同一个局域网里）。
//!
//! 这个文件被 `lab-chat-server`、`lab-chat-client` 用 `#[path]` 直接包含进去（和第 2.3 节的
//! `proto.rs` 一样）：它是这一节要学的内容，所以和实验放在一起。

// 服务端只回答、客户端只提问，各自用不到另一半
#![allow(dead_code)]

use std::fmt;
use std::net::Ipv6Addr;

// ANCHOR: format
/// 每个数据报开头的暗号。
pub const MAGIC: &str = "SWB-CHAT";
/// 协议的版本。
pub const VERSION: u32 = 1;
/// 一个数据报最多这么多字节（请求和回答都是）。更大的一律不理：
/// 512 字节放得下任何合法的回答，也不会在任何网络上被分片。
pub const MAX_DATAGRAM: usize = 512;
/// 房间名最多几个字符。
pub const MAX_NAME: usize = 64;
/// 服务端回答发现请求的 UDP 端口（聊天本身用 TCP 20004）。
pub const DISCOVERY_PORT: u16 = 20005;
/// IPv6 没有广播，客户端把请求发到这个组播组，开着 `--announce` 的服务端都加入了它。
///
/// ff02::/16 是“链路本地”范围：组播只在一条链路（一个网段）上传播，路由器不会转发。
/// 后面的 `7377:6263` 是 ASCII 的 `swbc`（Socket WorkBook Chat），IANA 没有分配过这个值。
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x7377, 0x6263);
// ANCHOR_END: format

// ANCHOR: message
/// 一个发现数据报的内容。
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 客户端问：谁开着聊天室？
    Discover,
    /// 服务端答：我这里有一个。
    Room(Room),
}

/// 服务端回答里的一个聊天室。
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// 聊天服务的 TCP 端口（地址用回答的来源地址）
    pub port: u16,
    /// 起好了昵称、正在聊天的人数
    pub online: u32,
    /// 房间名：1 到 [`MAX_NAME`] 个看得见的字符
    pub name: String,
}
// ANCHOR_END: message

/// 不理一个数据报的原因。调用方把它显示成一行说明。
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// 超过了 [`MAX_DATAGRAM`] 字节
    TooBig(usize),
    /// 不是 UTF-8 文字
    NotText,
    /// 开头不是暗号：别的程序发来的数据报
    NotOurs,
    /// 是我们的协议，但版本不认识（只记下数字：数据报里的文字不原样显示）
    WrongVersion(u32),
    /// 是我们的协议，但格式不对
    Malformed(&'static str),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // 系统只交给我们缓冲区装得下的部分，实际有多大不一定知道，所以只说超过了上限
            Invalid::TooBig(_) => write!(f, "超过 {MAX_DATAGRAM} 字节"),
            Invalid::NotText => write!(f, "不是 UTF-8 文字"),
            Invalid::NotOurs => write!(f, "开头不是 {MAGIC}，不是聊天室的发现协议"),
            Invalid::WrongVersion(v) => write!(f, "协议版本是 {v}，这个程序只认识版本 {VERSION}"),
            Invalid::Malformed(why) => write!(f, "格式不对：{why}"),
        }
    }
}

// ANCHOR: encode
/// 把一条消息写成一个数据报。房间名不合规则（太长、有看不见的字符）时返回 `None`。
pub fn encode(message: &Message) -> Option<Vec<u8>> {
    let text = match message {
        Message::Discover => format!("{MAGIC} {VERSION} DISCOVER\n"),
        Message::Room(room) => {
            check_name(&room.name).ok()?;
            format!(
                "{MAGIC} {VERSION} ROOM port={} online={} name={}\n",
                room.port, room.online, room.name
            )
        }
    };
    // 名字最多 64 个字符，每个字符最多 4 字节，整个回答一定放得下 512 字节
    (text.len() <= MAX_DATAGRAM).then(|| text.into_bytes())
}
// ANCHOR_END: encode

// ANCHOR: parse
/// 读懂一个收到的数据报。任何不合格式的地方都返回原因，从不 panic：数据报可能来自任何人。
pub fn parse(datagram: &[u8]) -> Result<Message, Invalid> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(Invalid::TooBig(datagram.len()));
    }
    let text = std::str::from_utf8(datagram).map_err(|_| Invalid::NotText)?;
    // 行尾的换行可有可无（nc 会带上 \n，Windows 上可能是 \r\n）
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let rest = text
        .strip_prefix(MAGIC)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or(Invalid::NotOurs)?;
    let (version, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    match version.parse::<u32>() {
        Ok(VERSION) => {}
        Ok(other) => return Err(Invalid::WrongVersion(other)),
        Err(_) => return Err(Invalid::Malformed("版本不是数字")),
    }
    let (kind, fields) = rest.split_once(' ').unwrap_or((rest, ""));
    match kind {
        "DISCOVER" if fields.is_empty() => Ok(Message::Discover),
        "DISCOVER" => Err(Invalid::Malformed("DISCOVER 后面不应有别的内容")),
        "ROOM" => parse_room(fields).map(Message::Room),
        _ => Err(Invalid::Malformed("不认识的消息类型")),
    }
}

/// `port=… online=… name=…`，顺序固定。名字放在最后，因为它可以含空格。
fn parse_room(fields: &str) -> Result<Room, Invalid> {
    let rest = fields
        .strip_prefix("port=")
        .ok_or(Invalid::Malformed("缺少 port="))?;
    let (port, rest) = rest
        .split_once(' ')
        .ok_or(Invalid::Malformed("缺少 online="))?;
    let port = match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err(Invalid::Malformed("port 不是 1 到 65535 的数字")),
        Ok(port) => port,
    };
    let rest = rest
        .strip_prefix("online=")
        .ok_or(Invalid::Malformed("缺少 online="))?;
    let (online, rest) = rest
        .split_once(' ')
        .ok_or(Invalid::Malformed("缺少 name="))?;
    let online = online
        .parse::<u32>()
        .map_err(|_| Invalid::Malformed("online 不是数字"))?;
    let name = rest
        .strip_prefix("name=")
        .ok_or(Invalid::Malformed("缺少 name="))?;
    check_name(name).map_err(Invalid::Malformed)?;
    Ok(Room {
        port,
        online,
        name: name.to_string(),
    })
}

/// 房间名的规则：1 到 [`MAX_NAME`] 个字符，没有控制字符和看不见的格式字符，首尾不是空白。
/// 别人的房间名会显示在我们的终端上，所以和聊天内容一样不许有 ESC 这样的字符。
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let count = name.chars().count();
    if count == 0 {
        return Err("房间名是空的");
    }
    if count > MAX_NAME {
        return Err("房间名超过 64 个字符");
    }
    if name.chars().any(|c| {
        c.is_control()
            || socket_workbook::text::is_invisible_format(c)
            || c == '\u{200c}'
            || c == '\u{200d}'
    }) {
        return Err("房间名里有控制字符或看不见的字符");
    }
    if name.trim() != name {
        return Err("房间名的首尾不能是空白");
    }
    Ok(())
}
// ANCHOR_END: parse

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Message {
        Message::Room(Room {
            port: 20004,
            online: 3,
            name: name.to_string(),
        })
    }

    #[test]
    fn the_request_is_one_short_line() {
        let bytes = encode(&Message::Discover).expect("请求总能编码");
        assert_eq!(bytes, b"SWB-CHAT 1 DISCOVER\n");
        assert_eq!(parse(&bytes), Ok(Message::Discover));
    }

    #[test]
    fn a_reply_round_trips() {
        let reply = room("alice 的聊天室");
        let bytes = encode(&reply).expect("合法的回答能编码");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "SWB-CHAT 1 ROOM port=20004 online=3 name=alice 的聊天室\n"
        );
        assert_eq!(parse(&bytes), Ok(reply));
    }

    #[test]
    fn the_longest_name_fits_in_512_bytes() {
        // 64 个 4 字节的字符（表情）是最长的名字
        let reply = Message::Room(Room {
            port: 65535,
            online: u32::MAX,
            name: "😀".repeat(MAX_NAME),
        });
        let bytes = encode(&reply).expect("最长的名字也放得下");
        assert!(bytes.len() <= MAX_DATAGRAM);
        assert_eq!(parse(&bytes), Ok(reply));
    }

    #[test]
    fn newline_is_optional_and_crlf_is_fine() {
        assert_eq!(parse(b"SWB-CHAT 1 DISCOVER"), Ok(Message::Discover));
        assert_eq!(parse(b"SWB-CHAT 1 DISCOVER\r\n"), Ok(Message::Discover));
    }

    #[test]
    fn bad_names_are_not_encoded() {
        assert_eq!(encode(&room("")), None);
        assert_eq!(encode(&room(&"长".repeat(MAX_NAME + 1))), None);
        assert_eq!(encode(&room("a\nb")), None);
        assert_eq!(encode(&room("\u{1b}[31m红")), None);
        assert_eq!(encode(&room("abc\u{202e}def")), None);
        assert_eq!(encode(&room(" 前面有空格")), None);
    }

    #[test]
    fn oversize_datagrams_are_refused_before_anything_else() {
        let mut big = b"SWB-CHAT 1 DISCOVER".to_vec();
        big.resize(MAX_DATAGRAM + 1, b' ');
        assert_eq!(parse(&big), Err(Invalid::TooBig(MAX_DATAGRAM + 1)));
        assert_eq!(parse(&[0xff; 4000]), Err(Invalid::TooBig(4000)));
    }

    #[test]
    fn stray_datagrams_are_not_ours() {
        for stray in [
            &b""[..],
            b"hello",
            b"SWB-CHAT",
            b"SWB-CHAT1 DISCOVER",
            b"swb-chat 1 DISCOVER",
            b"M-SEARCH * HTTP/1.1\r\n",
        ] {
            assert_eq!(parse(stray), Err(Invalid::NotOurs), "{stray:?}");
        }
        assert_eq!(parse(b"\xff\xfe"), Err(Invalid::NotText));
    }

    #[test]
    fn another_version_is_named() {
        assert_eq!(
            parse(b"SWB-CHAT 2 DISCOVER\n"),
            Err(Invalid::WrongVersion(2))
        );
        assert_eq!(
            parse(b"SWB-CHAT 0 ROOM port=1 online=0 name=x"),
            Err(Invalid::WrongVersion(0))
        );
        assert!(matches!(
            parse(b"SWB-CHAT one DISCOVER"),
            Err(Invalid::Malformed(_))
        ));
    }

    #[test]
    fn every_kind_of_malformed_reply_is_refused() {
        for bad in [
            "SWB-CHAT 1",
            "SWB-CHAT 1 ",
            "SWB-CHAT 1 HELLO",
            "SWB-CHAT 1 DISCOVER please",
            "SWB-CHAT 1 ROOM",
            "SWB-CHAT 1 ROOM port=20004",
            "SWB-CHAT 1 ROOM port=20004 online=3",
            "SWB-CHAT 1 ROOM port=0 online=3 name=x",
            "SWB-CHAT 1 ROOM port=65536 online=3 name=x",
            "SWB-CHAT 1 ROOM port=-1 online=3 name=x",
            "SWB-CHAT 1 ROOM port=20004 online=many name=x",
            "SWB-CHAT 1 ROOM port=20004 online=-1 name=x",
            "SWB-CHAT 1 ROOM online=3 port=20004 name=x",
            "SWB-CHAT 1 ROOM port=20004 online=3 name=",
            "SWB-CHAT 1 ROOM port=20004 online=3 name=a\nb",
            "SWB-CHAT 1 ROOM port=20004 online=3 name=\u{1b}[2J",
            "SWB-CHAT 1 ROOM port=20004 online=3 nom=x",
            "SWB-CHAT 1 ROOM port=20004  online=3 name=x",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(Invalid::Malformed(_))),
                "{bad:?} 应当是格式不对，实际是 {:?}",
                parse(bad.as_bytes())
            );
        }
    }

    #[test]
    fn every_reason_reads_as_one_line() {
        for reason in [
            Invalid::TooBig(600),
            Invalid::NotText,
            Invalid::NotOurs,
            Invalid::WrongVersion(2),
            Invalid::Malformed("缺少 port="),
        ] {
            let line = reason.to_string();
            assert!(!line.is_empty() && !line.contains('\n'), "{line}");
        }
    }
}
