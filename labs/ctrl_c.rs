//! 登记 Ctrl-C：登记的那一刻就生效，之后按下的 Ctrl-C 一次也不会漏掉。
//!
//! tokio 有一个现成的 `tokio::signal::ctrl_c()`，但它是个 `async fn`：要等第一次被轮询才去登记。
//! 聊天室的服务端要在打印地址**之前**登记好，否则看到地址就按下的 Ctrl-C 会直接结束进程，
//! 来不及通知任何人。两种系统登记的接口不同，所以这里分开写：
//!
//! - Unix（Linux、macOS）：Ctrl-C 是 SIGINT 信号，用 `tokio::signal::unix::signal` 登记；
//! - Windows：没有信号，Ctrl-C 是控制台发来的事件，用 `tokio::signal::windows::ctrl_c` 登记。
//!
//! 两个接口都在创建时立刻登记，用法都一样：`recv().await` 等下一次 Ctrl-C。

use std::io;

/// 已经登记好的 Ctrl-C。用 [`CtrlC::recv`] 等下一次按下。
pub struct CtrlC {
    #[cfg(unix)]
    inner: tokio::signal::unix::Signal,
    #[cfg(windows)]
    inner: tokio::signal::windows::CtrlC,
}

impl CtrlC {
    // ANCHOR: register
    /// 现在就登记：这个函数返回之后按下的 Ctrl-C 都会交给 `recv`，不会结束进程。
    /// 必须在 tokio 运行时里调用。
    pub fn register() -> io::Result<CtrlC> {
        #[cfg(unix)]
        let inner = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let inner = tokio::signal::windows::ctrl_c()?;
        Ok(CtrlC { inner })
    }
    // ANCHOR_END: register

    /// 等到下一次 Ctrl-C。
    pub async fn recv(&mut self) {
        // 两种接口的 recv 都只在“再也收不到”时返回 None，那时也当作收到了，好让程序收尾
        let _ = self.inner.recv().await;
    }
}
