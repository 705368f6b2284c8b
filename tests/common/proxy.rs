//! A TCP proxy in front of a real service (PostgreSQL, Redis) for failure
//! tests. It forwards, and on demand plays the service failing:
//! - [`Proxy::stall`]: stops forwarding bytes both ways while keeping every
//!   socket open, as a network that drops packets would;
//! - [`Proxy::stall_on_reply`]: forwards until the service's reply holds a
//!   pattern, then stalls before passing it on (the work is done, the client
//!   never hears);
//! - [`Proxy::cut`]: closes every forwarded connection and refuses new ones
//!   (accepted, then closed at once), as a service that went away.
//!
//! [`Proxy::resume`] forwards again. It runs on a thread of its own, so it
//! keeps forwarding while a test's thread blocks, and its listener (port 0)
//! is held until it is dropped, so no other process can take the port while
//! the service is "down".

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Stalled,
    /// Forward until the service sends these bytes, then stall before them.
    StallOnReply(&'static [u8]),
    /// Close everything and refuse new connections.
    Cut,
}

/// A proxy to one upstream address; dropping it closes every socket.
pub struct Proxy {
    /// Where it listens, on 127.0.0.1.
    pub addr: SocketAddr,
    /// Its port.
    pub port: u16,
    mode: Arc<watch::Sender<Mode>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding connections to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy on port 0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(watch::Sender::new(Mode::Forward));
        let (stop, stopped) = oneshot::channel();
        let (upstream, modes) = (upstream.to_owned(), mode.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    _ = accept(listener, upstream, modes) => {}
                }
            });
        });
        Proxy { addr, port: addr.port(), mode, stop: Some(stop), thread: Some(thread) }
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

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Forwards again, starting with whatever a stall held back.
    pub fn resume(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

/// Accepts connections and forwards each unless the proxy is cut; dropping
/// it drops every connection.
async fn accept(listener: TcpListener, upstream: String, mode: Arc<watch::Sender<Mode>>) {
    let mut connections = JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        if *mode.borrow() == Mode::Cut {
            continue; // closed as it is dropped
        }
        let Ok(server) = TcpStream::connect(&upstream).await else { continue };
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        connections.spawn(pump(client_read, server_write, mode.clone(), false));
        connections.spawn(pump(server_read, client_write, mode.clone(), true));
    }
}

/// Copies one direction, holding each chunk while stalled and ending when cut.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mode: Arc<watch::Sender<Mode>>, reply: bool) {
    let mut watch = mode.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(n) => n,
                Err(_) => return,
            },
            _ = watch.wait_for(|m| *m == Mode::Cut) => return,
        };
        // Copied out: the borrow must end before the mode is changed.
        let now = *watch.borrow_and_update();
        if let Mode::StallOnReply(pattern) = now
            && reply
            && buf[..n].windows(pattern.len()).any(|w| w == pattern)
        {
            mode.send_replace(Mode::Stalled);
        }
        match watch.wait_for(|m| *m != Mode::Stalled).await.map(|m| *m) {
            Ok(Mode::Cut) | Err(_) => return,
            Ok(_) => {}
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
