//! Serving the app on connections: the accept loop for a listener, and one
//! function that serves any connection (a TCP socket, or a stream that came
//! through the tunnel) with the same limits.
//!
//! Every request carries the client's address as `ConnectInfo<SocketAddr>`
//! (for a tunnel connection, the address the edge reports for the visitor,
//! never loopback) and the connection's [`Switch`], so the chat can cut a
//! connection it must drop. A connection that does not finish its request
//! head within [`HEADER_READ_TIMEOUT`] is closed, so idle sockets cannot pile
//! up (slowloris).

pub mod switch;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

pub use switch::{Switch, Switched};

/// How long a client has to send a whole request head. Browsers and the
/// lesson's clients send theirs at once; a connection that trickles or
/// sends nothing only holds a file descriptor.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the accept loop pauses after an error such as running out of
/// file descriptors, instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where a connection came from, and so who its client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Straight to one of the server's ports.
    Direct,
    /// Through the public tunnel; the address is the one its edge reported.
    Tunnel,
    /// From a tunnel agent on this machine (`cloudflared`) that carries many
    /// visitors' requests on each connection: every request names its
    /// visitor's IP address in this header, set by the tunnel's edge. A
    /// request without it counts as the agent's own address.
    TunnelAgent {
        /// The header naming the visitor (`CF-Connecting-IP`).
        visitor_header: &'static str,
    },
    /// A connection rtchat opened to a LocalTunnel server and holds open for
    /// it: the server writes whole requests on it, one after another, and it
    /// may idle in between, so it has no header timeout. Its visitors are not
    /// named, so they all count as the server's address.
    TunnelPool,
}

/// The app, ready to serve connections; a cheap clone.
#[derive(Clone)]
pub struct Connections {
    router: Router,
    stopped: watch::Receiver<bool>,
}

impl Connections {
    /// Serves `router` on every connection handed to [`Connections::serve`];
    /// when `stopped` turns true, each finishes its request and closes.
    pub fn new(router: Router, stopped: watch::Receiver<bool>) -> Self {
        Self { router, stopped }
    }

    /// Serves one connection from `client` until it closes or the server stops.
    pub async fn serve<T>(&self, io: T, client: SocketAddr, via: Via)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let switch = Switch::default();
        let io = TokioIo::new(Switched::new(io, switch.clone()));
        let (router, mut stopped) = (self.router.clone(), self.stopped.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let client = match via {
                Via::TunnelAgent { visitor_header } => visitor(&req, visitor_header).unwrap_or(client),
                _ => client,
            };
            let ext = req.extensions_mut();
            ext.insert(ConnectInfo(client));
            ext.insert(via);
            ext.insert(switch.clone());
            let router = router.clone();
            async move { router.oneshot(req.map(axum::body::Body::new)).await }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new());
        if via != Via::TunnelPool {
            http.header_read_timeout(HEADER_READ_TIMEOUT);
        }
        let conn = http.serve_connection(io, service).with_upgrades();
        tokio::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            () = stopping(&mut stopped) => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, %client, "connection ended with an error");
        }
    }
}

/// The visitor a tunnel agent names in `header`, as an address with port 0.
fn visitor<B>(req: &hyper::Request<B>, header: &str) -> Option<SocketAddr> {
    let value = req.headers().get(header)?.to_str().ok()?;
    let ip: std::net::IpAddr = value.trim().parse().ok()?;
    Some(SocketAddr::new(ip, 0))
}

/// Accepts connections on `listener` and serves them as coming `via` there
/// until the server stops, then waits for the open ones to finish.
pub async fn serve_listener(listener: TcpListener, connections: Connections, via: Via) -> io::Result<()> {
    let mut stopped = connections.stopped.clone();
    // Each connection task holds a sender; `recv` returns once all are gone.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it
                    // was accepted: neither stops the server.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = stopping(&mut stopped) => break,
        };
        // Chat packets are small: with Nagle's algorithm on, a reply can wait
        // for the client's delayed ack, up to 40 ms (measured: a 34 ms median
        // at 30,000 acked messages/s). Writes are already coalesced per batch
        // (see chat/pipeline.rs). Node's HTTP server sets this by default too.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let (connections, open) = (connections.clone(), open.clone());
        tokio::spawn(async move {
            connections.serve(tcp, peer, via).await;
            drop(open);
        });
    }
    drop(open);
    let _ = all_closed.recv().await;
    Ok(())
}

async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Raises this process's soft limit on open files to its hard limit, so
/// each connection can have its file descriptor (the usual soft limit of
/// 1,024 was reached by 1,100 idle connections); returns the limit now in force.
pub fn raise_open_file_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
