//! A local stand-in for ngrok's edge, for tests only: it speaks enough of the
//! agent protocol (TLS, muxado typed streams, Auth, Bind, Proxy, heartbeats)
//! for the real ngrok SDK to open tunnels against it on loopback.
//!
//! Each bound endpoint gets a public TCP listener on 127.0.0.1; a connection
//! there is carried to the agent in a Proxy stream. Bindings outlive agent
//! sessions, like ngrok's: an agent that reconnects and re-binds with the same
//! id keeps its public URL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use muxado::typed::{StreamType, Typed, TypedAccept, TypedOpenClose};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const AUTH: u32 = 0;
const BIND: u32 = 1;
const UNBIND: u32 = 2;
const PROXY: u32 = 3;
const HEARTBEAT: u32 = 0xFFFF_FFFF;

type Opener = Typed<muxado::MuxadoOpen>;

struct Binding {
    url: String,
    /// The agent session that bound it last; `None` while no agent is connected.
    agent: Option<Opener>,
}

#[derive(Default)]
struct State {
    bindings: HashMap<String, Binding>,
    next_id: u64,
    authtokens: Vec<String>,
    bind_requests: Vec<Value>,
    /// Refuse sessions whose authtoken is not this, when set.
    required_token: Option<String>,
}

/// The running edge. Dropping it stops everything.
pub struct Edge {
    pub addr: SocketAddr,
    /// The self-signed certificate (for `localhost`) to trust, as PEM.
    pub ca_pem: String,
    tls: TlsAcceptor,
    state: Arc<Mutex<State>>,
    /// While set, agent connections are closed as soon as they are accepted:
    /// the listener is held all along, so the port stays the edge's.
    down: Arc<AtomicBool>,
    /// Every agent session.
    agents: Arc<Mutex<JoinSet<()>>>,
    /// The agent listener's accept loop.
    accept: JoinSet<()>,
    /// Public listeners: they survive agent sessions.
    public: Arc<Mutex<JoinSet<()>>>,
}

impl Edge {
    /// Starts an edge on a free loopback port; `required_token` makes it refuse other authtokens.
    pub async fn start(required_token: Option<&str>) -> Edge {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let ca_pem = cert.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut edge = Edge {
            addr: listener.local_addr().unwrap(),
            ca_pem,
            tls: TlsAcceptor::from(Arc::new(config)),
            state: Arc::new(Mutex::new(State {
                required_token: required_token.map(Into::into),
                ..Default::default()
            })),
            down: Arc::new(AtomicBool::new(false)),
            agents: Arc::new(Mutex::new(JoinSet::new())),
            accept: JoinSet::new(),
            public: Arc::new(Mutex::new(JoinSet::new())),
        };
        edge.serve(listener);
        edge
    }

    /// `host:port` for `--tunnel-server-addr` (the certificate names `localhost`).
    pub fn server_addr(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    fn serve(&mut self, listener: TcpListener) {
        let (tls, state, public) = (self.tls.clone(), self.state.clone(), self.public.clone());
        let (down, agents) = (self.down.clone(), self.agents.clone());
        self.accept.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    continue; // dropped: closed as soon as accepted
                }
                let session = agent_session(tcp, tls.clone(), state.clone(), public.clone());
                agents.lock().unwrap().spawn(session);
            }
        });
    }

    /// Goes down: drops every agent session and closes new connections as soon
    /// as they are accepted. Public URLs stay bound but answer nothing until an
    /// agent re-binds them.
    pub fn stop(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.agents.lock().unwrap().abort_all();
        for binding in self.state.lock().unwrap().bindings.values_mut() {
            binding.agent = None;
        }
    }

    /// Comes back on the same address, which it held all along.
    pub fn resume(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Authtokens the agents presented, in order.
    pub fn authtokens(&self) -> Vec<String> {
        self.state.lock().unwrap().authtokens.clone()
    }

    /// Bind requests received, in order.
    pub fn bind_requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().bind_requests.clone()
    }
}

/// Reads one JSON value from a stream the peer keeps open.
async fn read_json(stream: &mut muxado::Stream) -> Option<Value> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return serde_json::from_slice(&buf).ok();
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(v) = serde_json::from_slice(&buf) {
            return Some(v);
        }
    }
}

async fn reply(stream: &mut muxado::Stream, body: Value) {
    let _ = stream.write_all(body.to_string().as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn agent_session(
    tcp: TcpStream,
    tls: TlsAcceptor,
    state: Arc<Mutex<State>>,
    public: Arc<Mutex<JoinSet<()>>>,
) {
    let Ok(tls) = tls.accept(tcp).await else { return };
    let session = muxado::SessionBuilder::new(tls).server().start();
    let (opener, mut accept) = muxado::typed::TypedSession::split_typed(Typed::new(session));
    let mut streams = JoinSet::new();
    while let Ok(mut stream) = accept.accept_typed().await {
        match *stream.typ() {
            AUTH => {
                let Some(req) = read_json(&mut stream).await else { continue };
                let token = req["Extra"]["AuthToken"].as_str().unwrap_or_default().to_owned();
                let refused = {
                    let mut st = state.lock().unwrap();
                    st.authtokens.push(token.clone());
                    st.required_token.as_ref().is_some_and(|t| *t != token)
                };
                if refused {
                    reply(
                        &mut stream,
                        json!({ "Error": "The authtoken you specified is not valid. ERR_NGROK_107" }),
                    )
                    .await;
                } else {
                    reply(
                        &mut stream,
                        json!({ "Version": "3", "ClientId": "test-client", "Extra": { "Region": "local" } }),
                    )
                    .await;
                }
            }
            BIND => {
                let Some(req) = read_json(&mut stream).await else { continue };
                let asked = req["Id"].as_str().unwrap_or_default().to_owned();
                let (id, url) = bind(&state, &public, &asked, opener.clone(), &req).await;
                let body = json!({
                    "Id": id, "URL": url, "Proto": req["Proto"], "Opts": req["Opts"], "Extra": { "Token": "" }
                });
                reply(&mut stream, body).await;
            }
            UNBIND => {
                let Some(req) = read_json(&mut stream).await else { continue };
                if let Some(id) = req["Id"].as_str()
                    && let Some(b) = state.lock().unwrap().bindings.get_mut(id)
                {
                    b.agent = None;
                }
                reply(&mut stream, json!({})).await;
            }
            HEARTBEAT => {
                streams.spawn(async move {
                    let mut beat = [0u8; 4];
                    while stream.read_exact(&mut beat).await.is_ok() {
                        if stream.write_all(&beat).await.is_err() {
                            break;
                        }
                    }
                });
            }
            _ => {}
        }
    }
}

/// Binds (or re-binds, keeping the URL) an endpoint to an agent session.
async fn bind(
    state: &Arc<Mutex<State>>,
    public: &Arc<Mutex<JoinSet<()>>>,
    asked: &str,
    agent: Opener,
    req: &Value,
) -> (String, String) {
    {
        let mut st = state.lock().unwrap();
        st.bind_requests.push(req.clone());
        if let Some(b) = st.bindings.get_mut(asked) {
            b.agent = Some(agent);
            return (asked.to_owned(), b.url.clone());
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let id = {
        let mut st = state.lock().unwrap();
        st.next_id += 1;
        let id = format!("tun-{}", st.next_id);
        st.bindings.insert(id.clone(), Binding { url: url.clone(), agent: Some(agent) });
        id
    };
    let (state, bound) = (state.clone(), id.clone());
    public.lock().unwrap().spawn(async move {
        while let Ok((visitor, peer)) = listener.accept().await {
            let agent = state.lock().unwrap().bindings.get(&bound).and_then(|b| b.agent.clone());
            let Some(agent) = agent else { continue };
            let bound = bound.clone();
            tokio::spawn(proxy(visitor, peer, agent, bound));
        }
    });
    (id, url)
}

/// Carries one public connection to the agent in a Proxy stream.
async fn proxy(mut visitor: TcpStream, peer: SocketAddr, mut agent: Opener, id: String) {
    let Ok(mut stream) = agent.open_typed(StreamType::clamp(PROXY)).await else { return };
    let header = json!({
        "Id": id, "ClientAddr": peer.to_string(), "Proto": "http", "EdgeType": "", "PassthroughTLS": false
    })
    .to_string();
    let mut framed = (header.len() as i64).to_le_bytes().to_vec();
    framed.extend_from_slice(header.as_bytes());
    if stream.write_all(&framed).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut visitor, &mut *stream).await;
}
