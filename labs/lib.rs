//! 各个实验共用的小工具。它们不是课程的重点，所以放在这里，
//! 让每个实验文件只保留和套接字有关的步骤。
//!
//! - [`text`]：把收到的字节变成可以安全打印的文字；
//! - [`errors`]：把 I/O 错误翻译成一行中文（原因 + 该怎么办）；
//! - [`ctrl_c`]：在 Linux、macOS 和 Windows 上用同一种写法登记 Ctrl-C；
//! - [`udp`]：让 UDP 套接字在 macOS 上也能发出最大的数据报；
//! - [`net`]：本机有哪些网卡地址（第 5 章）；
//! - [`idle`]：给连接加上空闲超时（第 6.3 节）。

pub mod ctrl_c;
pub mod errors;
pub mod idle;
pub mod net;
pub mod text;
pub mod udp;
