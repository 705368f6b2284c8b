//! A TCP proxy in front of a real service (PostgreSQL, Redis) for failure
//! tests: it forwards, and on demand stalls (stops forwarding bytes in both
//! directions while keeping every socket open, as a network that drops packets
//! would) and resumes. It listens on a port 0 of its own until dropped.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Stalled,
    /// Forward until the service sends these bytes, then stall before
    /// passing them on: the service has done the work, the client never hears.
    StallOnReply(&'static [u8]),
}

/// A proxy to one upstream address; stops (closing every socket) when dropped.
pub struct Proxy {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    mode: Arc<watch::Sender<Mode>>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding connections to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(watch::Sender::new(Mode::Forward));
        let upstream = upstream.to_owned();
        let modes = mode.clone();
        let task = tokio::spawn(async move {
            // Dropped (with every connection's task) when the proxy is.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                connections.spawn(pump(client_read, server_write, modes.clone(), false));
                connections.spawn(pump(server_read, client_write, modes.clone(), true));
            }
        });
        Self { port, mode, task }
    }

    /// Stops forwarding bytes, both ways, on every connection, old and new.
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stalled);
    }

    /// Stalls as soon as the service's replies contain `pattern`, holding
    /// back that reply.
    pub fn stall_on_reply(&self, pattern: &'static [u8]) {
        self.mode.send_replace(Mode::StallOnReply(pattern));
    }

    /// Forwards again, starting with whatever was held back.
    pub fn resume(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction, holding each chunk while the proxy is stalled.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mode: Arc<watch::Sender<Mode>>, reply: bool) {
    let mut watch = mode.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else { return };
        // Copied out: the borrow must end before the mode is changed.
        let now = *watch.borrow_and_update();
        if let Mode::StallOnReply(pattern) = now
            && reply
            && buf[..n].windows(pattern.len()).any(|w| w == pattern)
        {
            mode.send_replace(Mode::Stalled);
        }
        if watch.wait_for(|m| *m != Mode::Stalled).await.is_err() {
            return;
        }
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Where the `host:port` of a URL (`scheme://[user@]host:port/…`) starts and ends.
fn authority(url: &str) -> (usize, usize) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let start = url[start..].find('@').map_or(start, |i| start + i + 1);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    (start, end)
}

/// `url` with its host and port replaced by the proxy's.
pub fn through(url: &str, proxy: &Proxy) -> String {
    let (start, end) = authority(url);
    format!("{}127.0.0.1:{}{}", &url[..start], proxy.port, &url[end..])
}

/// The `host:port` a URL points at.
pub fn address(url: &str) -> String {
    let (start, end) = authority(url);
    url[start..end].to_owned()
}
