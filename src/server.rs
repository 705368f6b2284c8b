//! Starting and stopping a server: open the store, build the Socket.IO chat and
//! the HTTP app, serve them on listeners bound by the caller, and shut down in
//! order (stop accepting, close sockets, flush the pipeline, close the store).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use socketioxide::adapter::Adapter;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_core::adapter::DefinedAdapter;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chat::{self, ChatState, pipeline};
use crate::config::Config;
use crate::connection::{self, Connections};
use crate::http::sessions::Sessions;
use crate::http::{AppState, app};
use crate::info::{ServerInfo, network_addresses};
use crate::scale::{AdapterStart, Health, RedisAdapter};
use crate::store::{self, Store};

/// Largest Socket.IO packet a client may send, over long-polling and as one
/// WebSocket frame or message.
pub const MAX_PAYLOAD: u64 = 64 * 1024;
/// Packets queued for one slow client before it misses messages.
const CLIENT_QUEUE: usize = 1024;
/// Bytes read from a WebSocket at a time. Chat packets are small, and the
/// buffer is allocated up front for every connection (socketioxide's default
/// is 4 KiB); a larger frame grows it as needed.
const WS_READ_BUFFER: usize = 1024;
/// How long a new Engine.IO session may take to send its Socket.IO connect
/// before it is closed (socketioxide's default is 45 s; a client sends it
/// as soon as the session opens).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// How long shutdown waits for connections to close.
const CLOSE_GRACE: Duration = Duration::from_millis(1200);
/// How long shutdown then waits for each HTTP server to stop.
const SERVER_STOP_GRACE: Duration = Duration::from_millis(300);

/// The sockets a server accepts on, bound before it starts.
pub struct Listeners {
    /// The backend port's (`--port`).
    pub backend: TcpListener,
    /// The UI port's (`--ui-port`); `None` with `--ui-port off`.
    pub ui: Option<TcpListener>,
}

impl Listeners {
    /// Binds the ports a configuration asks for; errors name the flag to change.
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        let backend = bind(config, config.port, "--port").await?;
        let ui = match config.ui_port {
            Some(port) => Some(bind(config, port, "--ui-port").await?),
            None => None,
        };
        Ok(Self { backend, ui })
    }
}

async fn bind(config: &Config, port: u16, flag: &str) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(config.host, port);
    listen(addr).map_err(|e| {
        let fix = match e.kind() {
            io::ErrorKind::AddrInUse => format!(
                "port {port} is already in use; stop the program using it or choose another port with {flag}"
            ),
            io::ErrorKind::PermissionDenied => {
                format!("port {port} needs administrator rights; choose a port above 1023 with {flag}")
            }
            io::ErrorKind::AddrNotAvailable => format!(
                "{} is not an address of this machine; pass one of its addresses with --host",
                config.host
            ),
            _ => format!("cannot listen on {addr} ({e}); choose another address or port"),
        };
        anyhow::anyhow!(fix)
    })
}

/// Connections the kernel queues before they are accepted (it caps this at
/// net.core.somaxconn). `TcpListener::bind` asks for 128: with 500 clients
/// connecting at once the queue overflowed (`ListenOverflows` in nstat) and
/// each dropped connection waited a second to retry its SYN.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As TcpListener::bind does: a restart may reuse a port with connections in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A started server.
pub struct Running {
    /// Its URLs and settings at start, as `/api/info` reported them then.
    pub info: ServerInfo,
    /// What `/api/info` reports; the tunnel updates it as its state changes.
    pub shared_info: Arc<RwLock<ServerInfo>>,
    /// Where the backend port listens.
    pub backend_addr: SocketAddr,
    /// Where the UI port listens; `None` with `--ui-port off`.
    pub ui_addr: Option<SocketAddr>,
    /// Serves the app on connections that do not come from its listeners (the tunnel's).
    pub connections: Connections,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Waits until the server has shut down and its database is closed.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("the server task failed")?
    }
}

/// Starts serving on `listeners` until `shutdown` completes.
pub async fn start(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let store = store::open(&config.db).await.map_err(|e| {
        let fix = match config.db {
            store::DbTarget::Postgres(_) => {
                "check that PostgreSQL is running and reachable, or choose another database with --db URL"
            }
            _ => "choose another location with --db PATH (or --db memory)",
        };
        anyhow::anyhow!("cannot open the history database at {}: {e}; {fix}", config.db)
    })?;
    let builder = SocketIo::builder()
        .max_payload(MAX_PAYLOAD)
        // engineioxide applies max_payload to long-polling only; without these a
        // WebSocket frame of up to 16 MiB (a message of up to 64 MiB) was read
        // into memory: 20 such frames took the server from 13 MB to 343 MB RSS.
        // A frame over the limit is refused from its header and closes the connection.
        .ws_max_frame_size(MAX_PAYLOAD as usize)
        .ws_max_message_size(MAX_PAYLOAD as usize)
        .max_buffer_size(CLIENT_QUEUE)
        .connect_timeout(CONNECT_TIMEOUT)
        .ws_read_buffer_size(WS_READ_BUFFER);
    match &config.redis {
        None => launch(config, listeners, shutdown, store, builder, Health::default()).await,
        Some(redis) => {
            let (adapter, health) = redis.connect().await?;
            let builder = builder.with_adapter::<RedisAdapter<_>>(adapter);
            launch(config, listeners, shutdown, store, builder, health).await
        }
    }
}

/// Builds the chat on an adapter, registers it and serves the app.
async fn launch<A>(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
    store: Arc<dyn Store>,
    builder: SocketIoBuilder<A>,
    health: Health,
) -> anyhow::Result<Running>
where
    A: Adapter + DefinedAdapter,
    A::InitRes: AdapterStart,
{
    let identities = chat::identity::Identities::load(store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the identity secret from the history database: {e}"))?;
    let (pipeline, inbox) = pipeline::channel();
    let chat = ChatState::new(store.clone(), pipeline.clone(), config.chat.clone(), health, identities);
    let (socket_layer, io) = builder.with_state(chat.clone()).build_layer();
    chat::register(&io).started().await?;
    let backend_addr = listeners.backend.local_addr()?;
    let ui_addr = listeners.ui.as_ref().map(TcpListener::local_addr).transpose()?;
    let info = ServerInfo::new(&config, backend_addr, ui_addr, &network_addresses(&config));
    let shared_info = Arc::new(RwLock::new(info.clone()));
    let pipeline_task = tokio::spawn(pipeline::run(inbox, store.clone(), io.clone(), shared_info.clone()));
    let sessions = Sessions::new(config.max_connections_per_ip);
    let state = AppState {
        chat,
        io: io.clone(),
        socket_layer,
        info: shared_info.clone(),
        cors: config.cors.clone(),
        hosts: config.hosts.clone(),
        sessions,
        app: config
            .app
            .clone()
            .map(|app| crate::http::proxy::AppProxy::new(app, config.chat.token.as_deref())),
    };
    let (stop, stopped) = watch::channel(false);
    let connections = Connections::new(app(state), stopped);
    let servers = std::iter::once(listeners.backend)
        .chain(listeners.ui)
        .map(|listener| {
            tokio::spawn(connection::serve_listener(listener, connections.clone(), connection::Via::Direct))
        })
        .collect();
    tracing::info!(backend = %backend_addr, ui = ?ui_addr, db = %config.db, "listening");

    let task = tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
        stop_in_order(io, servers, pipeline, pipeline_task, store).await
    });
    Ok(Running { info, shared_info, backend_addr, ui_addr, connections, task })
}

/// Shuts down in order: close the sockets, stop the HTTP servers, store what
/// was in flight, close the database.
async fn stop_in_order<A: Adapter>(
    io: SocketIo<A>,
    servers: Vec<JoinHandle<io::Result<()>>>,
    pipeline: pipeline::Pipeline,
    pipeline_task: JoinHandle<()>,
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    if tokio::time::timeout(CLOSE_GRACE, io.close()).await.is_err() {
        tracing::warn!("some connections did not close in time");
    }
    for server in servers {
        match tokio::time::timeout(SERVER_STOP_GRACE, server).await {
            Ok(Ok(Ok(()))) | Err(_) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
        }
    }
    // Everything acknowledged is already committed; this stores what was in flight.
    pipeline.drain().await;
    pipeline_task.abort();
    store.close().await.context("closing the history database")?;
    tracing::info!("stopped");
    Ok(())
}
