//! 空闲超时（第 6.3 节）：包在一个连接外面，一次读取等了规定的时间一个字节也没收到，
//! 这次读取就以“超时”的错误结束。
//!
//! 计时的办法和 `tokio-io-timeout` 这个 crate 一样：一次读取发现没有数据、开始等的时候才开始计时，
//! 读到数据就停下。所以只算等数据的时间，程序自己忙着写的时间不算。
//! 这里自己写，只是为了让错误说出等了几秒：[`crate::errors::cause`] 把它说成
//! `N 秒没有收到任何数据`。

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// 带空闲超时的连接：一次读取等了 `limit` 还没有数据就报错，写的方向原样转给里面的连接。
pub struct IdleTimeout<S> {
    inner: S,
    limit: Duration,
    /// 到点就算超时。只在 `waiting` 为真时有意义
    timer: Pin<Box<Sleep>>,
    /// 正在等数据（计时器开着）。读到东西时关掉，下次要等时再从头计时
    waiting: bool,
}

impl<S> IdleTimeout<S> {
    /// 包住 `inner`：每次读取最多等 `limit`。
    pub fn new(inner: S, limit: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
            waiting: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                // 收到了东西（或者出了别的错）：不用再等了，停止计时
                this.waiting = false;
                Poll::Ready(result)
            }
            Poll::Pending => {
                // 还没有数据。刚开始等的话，从现在起计时
                if !this.waiting {
                    this.waiting = true;
                    this.timer.as_mut().reset(Instant::now() + this.limit);
                }
                // 看看时间到了没有。没到时计时器会在到点时叫醒这个任务
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.waiting = false;
                        Poll::Ready(Err(crate::errors::idle_timed_out(this.limit)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
