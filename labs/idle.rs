//! 空闲超时（第 6.3 节）：包在一个连接外面，读的时候超过规定的时间一个字节也没收到，
//! 这次读取就以“超时”的错误结束。
//!
//! 写法和 `tokio-io-timeout` 这个 crate 一样（一个 tokio 的计时器，每收到数据就重新计时）；
//! 这里自己写，只是为了让错误说出等了几秒：[`crate::errors::cause`] 把它说成
//! `N 秒没有收到任何数据`。

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// 带空闲超时的连接：读的方向超过 `limit` 没有收到数据就报错，写的方向原样转给里面的连接。
pub struct IdleTimeout<S> {
    inner: S,
    limit: Duration,
    /// 到点就算超时。每次读到数据（或者读到连接结束）都往后推
    timer: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    /// 包住 `inner`：从现在起，`limit` 之内要收到数据。
    pub fn new(inner: S, limit: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
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
                // 收到了东西（或者出了别的错）：重新计时
                let next = Instant::now() + this.limit;
                this.timer.as_mut().reset(next);
                Poll::Ready(result)
            }
            // 还没有数据：看看时间到了没有。没到时计时器会在到点时叫醒这个任务
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(crate::errors::idle_timed_out(this.limit))),
                Poll::Pending => Poll::Pending,
            },
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
