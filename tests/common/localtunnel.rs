//! A LocalTunnel-compatible server, for tests only: the same protocol as
//! localtunnel/server, on loopback.
//!
//! `GET /?new` and `GET /{name}` register a tunnel and answer `{ id, port,
//! max_conn_count, url }`; `GET /mytunnelpassword` answers the caller's IP
//! address. The client keeps up to `max_conn_count` connections open to
//! `port`, and each visitor connection to the tunnel's public URL is carried
//! over one of them (and closes it when done, as the real server does with
//! upgraded sockets). Each tunnel gets a public port of its own instead of a
//! subdomain; a name registered again gets its port, and so its URL, back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// One registered tunnel.
struct Tunnel {
    url: String,
    /// Client connections held now (idle or carrying a visitor).
    connected: Arc<AtomicUsize>,
    /// Client connections accepted, ever.
    accepted: Arc<AtomicUsize>,
    /// Bumped to make every held connection close.
    drop_all: watch::Sender<u64>,
    /// Its listeners and connections; dropping the tunnel closes them all.
    tasks: JoinSet<()>,
}

#[derive(Default)]
struct State {
    max_conn_count: usize,
    tunnels: HashMap<String, Tunnel>,
    /// Each name's public port, kept after the tunnel is forgotten.
    ports: HashMap<String, u16>,
    /// Every registration request: `new`, or the name asked for.
    requests: Vec<String>,
    next: usize,
}

/// The running server; dropping it stops everything.
pub struct LocalTunnelServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    control: JoinSet<()>,
}

impl LocalTunnelServer {
    /// Starts a server on a free loopback port, offering `max_conn_count` connections per tunnel.
    pub async fn start(max_conn_count: usize) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), max_conn_count)
    }

    fn start_on(listener: TcpListener, max_conn_count: usize) -> Self {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State { max_conn_count, ..State::default() }));
        let app = Router::new()
            .route("/", get(new_tunnel))
            .route("/mytunnelpassword", get(password))
            .route("/{name}", get(named_tunnel))
            .with_state(state.clone());
        let mut control = JoinSet::new();
        control.spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, control }
    }

    /// `--localtunnel-host` for this server.
    pub fn host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and starts a new, empty one on the same port: every
    /// tunnel is forgotten, and its connections and public ports close.
    pub async fn restart(self) -> Self {
        let (addr, max) = (self.addr, self.state.lock().unwrap().max_conn_count);
        drop(self);
        // The aborted tasks drop their listeners when next polled.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return Self::start_on(listener, max),
                Err(e) if tokio::time::Instant::now() > deadline => panic!("rebinding {addr}: {e}"),
                Err(_) => tokio::task::yield_now().await,
            }
        }
    }

    /// The ids of the tunnels registered now.
    pub fn tunnels(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state.lock().unwrap().tunnels.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every registration asked for so far: `new`, or the name.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Connections the client holds open to tunnel `id` now, and ever accepted.
    pub fn connections(&self, id: &str) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        let t = &state.tunnels[id];
        (t.connected.load(Ordering::SeqCst), t.accepted.load(Ordering::SeqCst))
    }

    /// Closes every connection the client holds to tunnel `id`.
    pub fn drop_connections(&self, id: &str) {
        self.state.lock().unwrap().tunnels[id].drop_all.send_modify(|g| *g += 1);
    }

    /// Forgets tunnel `id`, as the real server does when its client goes
    /// quiet: its ports close and its connections with them.
    pub fn forget(&self, id: &str) {
        let gone = self.state.lock().unwrap().tunnels.remove(id);
        drop(gone);
    }

    /// Waits until `check` holds, at most `limit`.
    pub async fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !check(self) {
            assert!(tokio::time::Instant::now() < deadline, "{what}: not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[derive(serde::Deserialize)]
struct NewQuery {
    new: Option<String>,
}

async fn new_tunnel(Shared(state): Shared<Arc<Mutex<State>>>, Query(q): Query<NewQuery>) -> Response {
    if q.new.is_none() {
        return (StatusCode::NOT_FOUND, "a LocalTunnel test server").into_response();
    }
    register(state, None).await
}

async fn named_tunnel(Shared(state): Shared<Arc<Mutex<State>>>, Path(name): Path<String>) -> Response {
    let valid = (4..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        let message =
            "Invalid subdomain. Subdomains must be lowercase and between 4 and 63 alphanumeric characters.";
        return (StatusCode::FORBIDDEN, axum::Json(json!({ "message": message }))).into_response();
    }
    register(state, Some(name)).await
}

async fn password(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    peer.ip().to_string()
}

async fn register(state: Arc<Mutex<State>>, name: Option<String>) -> Response {
    let (id, public_port, max) = {
        let mut st = state.lock().unwrap();
        st.requests.push(name.clone().unwrap_or_else(|| "new".into()));
        st.next += 1;
        // A name in use gets a random one, as on the real server.
        let id = match name {
            Some(name) if !st.tunnels.contains_key(&name) => name,
            _ => format!("quick-test-{}", st.next),
        };
        let port = st.ports.get(&id).copied().unwrap_or(0);
        (id, port, st.max_conn_count)
    };
    let public = match TcpListener::bind(("127.0.0.1", public_port)).await {
        Ok(l) => l,
        Err(_) => TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let agents = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (public_addr, agent_port) = (public.local_addr().unwrap(), agents.local_addr().unwrap().port());
    let url = format!("http://{public_addr}");

    let (visitors, claims) = mpsc::unbounded_channel::<TcpStream>();
    let claims = Arc::new(tokio::sync::Mutex::new(claims));
    let (drop_all, _) = watch::channel(0);
    let connected = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(JoinSet::new()));
    let mut tasks = JoinSet::new();
    {
        let (connected, accepted, drop_all, held) =
            (connected.clone(), accepted.clone(), drop_all.clone(), held.clone());
        tasks.spawn(async move {
            while let Ok((agent, _)) = agents.accept().await {
                if connected.load(Ordering::SeqCst) >= max {
                    continue; // beyond max_conn_count: closed at once
                }
                connected.fetch_add(1, Ordering::SeqCst);
                accepted.fetch_add(1, Ordering::SeqCst);
                let (claims, connected, dropped) = (claims.clone(), connected.clone(), drop_all.subscribe());
                held.lock().unwrap().spawn(async move {
                    hold(agent, claims, dropped).await;
                    connected.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    tasks.spawn(async move {
        // Keeps the held connections' tasks alive as long as the tunnel.
        let _held = held;
        while let Ok((visitor, _)) = public.accept().await {
            let _ = visitors.send(visitor);
        }
    });
    {
        let mut st = state.lock().unwrap();
        st.ports.insert(id.clone(), public_addr.port());
        st.tunnels.insert(id.clone(), Tunnel { url: url.clone(), connected, accepted, drop_all, tasks });
    }
    axum::Json(json!({ "id": id, "port": agent_port, "max_conn_count": max, "url": url })).into_response()
}

/// Holds one client connection until a visitor needs it (then carries the
/// visitor over it), it closes, or the test drops it.
async fn hold(
    mut agent: TcpStream,
    claims: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<TcpStream>>>,
    mut dropped: watch::Receiver<u64>,
) {
    let mut probe = [0u8; 1];
    let visitor = tokio::select! {
        visitor = async { claims.lock().await.recv().await } => visitor,
        _ = agent.peek(&mut probe) => None, // closed by the client (or it spoke first)
        _ = dropped.changed() => None,
    };
    if let Some(mut visitor) = visitor {
        let _ = tokio::io::copy_bidirectional(&mut visitor, &mut agent).await;
    }
}

impl Drop for LocalTunnelServer {
    fn drop(&mut self) {
        self.control.abort_all();
        self.state.lock().unwrap().tunnels.clear();
    }
}

impl LocalTunnelServer {
    /// The public URL of tunnel `id`.
    pub fn url(&self, id: &str) -> String {
        self.state.lock().unwrap().tunnels[id].url.clone()
    }
}
