//! A connection the server can cut from outside: [`Switched`] wraps a
//! transport, and its [`Switch`] makes the reading side see the end of the
//! stream, so whatever task owns the connection (hyper, or a WebSocket after an
//! upgrade) stops as if the client had hung up.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Cuts one connection; a cheap clone, kept in each request's extensions.
#[derive(Clone, Default)]
pub struct Switch(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cut: AtomicBool,
    reader: AtomicWaker,
}

impl Switch {
    /// Ends the connection: reads see the end of the stream, writes fail.
    pub fn cut(&self) {
        self.0.cut.store(true, Ordering::Release);
        self.0.reader.wake();
    }

    /// Whether [`Switch::cut`] was called.
    pub fn is_cut(&self) -> bool {
        self.0.cut.load(Ordering::Acquire)
    }

    /// Whether two handles cut the same connection.
    pub fn same(&self, other: &Switch) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A transport with a [`Switch`].
pub struct Switched<T> {
    io: T,
    switch: Switch,
}

impl<T> Switched<T> {
    /// Wraps `io`; `switch` cuts it.
    pub fn new(io: T, switch: Switch) -> Self {
        Self { io, switch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Switched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Registered before the check, so a cut between the two still wakes this read.
        self.switch.0.reader.register(cx.waker());
        if self.switch.is_cut() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Switched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.switch.is_cut() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_cut() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_cut_ends_a_pending_read_and_fails_writes() {
        let (a, mut peer) = tokio::io::duplex(64);
        let switch = Switch::default();
        let mut conn = Switched::new(a, switch.clone());
        peer.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(conn.read(&mut buf).await.unwrap(), 2);
        let reading = tokio::spawn(async move {
            let n = conn.read(&mut buf).await.unwrap();
            (n, conn)
        });
        switch.cut();
        let (n, mut conn) =
            tokio::time::timeout(std::time::Duration::from_secs(5), reading).await.unwrap().unwrap();
        assert_eq!(n, 0, "a cut reads as the end of the stream");
        assert!(conn.write_all(b"x").await.is_err());
    }
}
