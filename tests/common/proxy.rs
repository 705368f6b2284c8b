//! A TCP proxy that can play a service going away: [`Proxy::cut`] closes every
//! forwarded connection and refuses new ones (accepted, then closed at once),
//! [`Proxy::restore`] forwards again. Its listener is bound on port 0 and held
//! until the proxy is dropped, so no other process can take the port while the
//! service is "down".

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

/// A running proxy to one address; dropping it closes everything.
pub struct Proxy {
    pub addr: SocketAddr,
    up: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding a loopback port to `target` (`host:port`). It runs on
    /// its own thread, so it keeps forwarding while the test's thread blocks
    /// (waiting for a process's ready line, say).
    pub fn start(target: String) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy on port 0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, watching) = watch::channel(true);
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    _ = forward(listener, target, watching) => {}
                }
            });
        });
        Proxy { addr, up, stop: Some(stop), thread: Some(thread) }
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// Accepts connections and, while `up` says so, forwards each to `target`.
/// Dropping it drops every connection.
async fn forward(listener: TcpListener, target: String, up: watch::Receiver<bool>) {
    let mut forwards = JoinSet::new();
    while let Ok((mut client, _)) = listener.accept().await {
        // Subscribed before looking, so a cut right now is not missed.
        let mut state = up.clone();
        if !*state.borrow_and_update() {
            continue; // down: the connection is closed as it is dropped
        }
        let target = target.clone();
        forwards.spawn(async move {
            let Ok(mut server) = TcpStream::connect(&target).await else { return };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = state.wait_for(|up| !up) => {}
            }
        });
        while forwards.try_join_next().is_some() {}
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}
