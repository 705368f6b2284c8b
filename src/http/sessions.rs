//! Engine.IO sessions as the HTTP side sees them: how many each client address
//! holds (`--max-connections-per-ip`), and closing one the chat must drop.
//!
//! What is counted is open Engine.IO sessions, not TCP connections: one
//! keep-alive connection can open any number of long-polling sessions, and
//! each session holds server memory until it closes. A request that would
//! open a session (a `/socket.io/` request without `sid`) beyond the limit is
//! refused with 429 before the session exists. The count is released when the
//! session is gone: the request head it was opened with, which holds the
//! count, lives exactly as long as the session.
//!
//! The client address is the connection's `ConnectInfo`: the TCP peer, or for
//! a tunnel connection the visitor's address as the tunnel edge reported it
//! (see `connection`); headers such as `X-Forwarded-For` are never trusted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use socketioxide::TransportType;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use tower::ServiceExt;

use crate::connection::Switch;

/// Sessions per client address, and the means to close one; a cheap clone.
#[derive(Clone)]
pub struct Sessions(Arc<Inner>);

type EndPolling = Box<dyn Fn(String) + Send + Sync>;

struct Inner {
    /// Most open sessions per address; `0` for no limit.
    max_per_ip: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    /// The connections that asked to upgrade each session to a WebSocket, by
    /// sid, while they are open: the session's own, and any other request
    /// naming its sid (which fails, and must not hide the real one).
    upgraded: Mutex<HashMap<String, Vec<Switch>>>,
    /// Ends a long-polling session by sid, once the app is built.
    end_polling: OnceLock<EndPolling>,
}

impl Sessions {
    /// Allows `max_per_ip` open sessions per client address (`0`: no limit).
    pub fn new(max_per_ip: usize) -> Self {
        Self(Arc::new(Inner {
            max_per_ip,
            open: Default::default(),
            upgraded: Default::default(),
            end_polling: OnceLock::new(),
        }))
    }

    /// Gives the Socket.IO service the app serves, through which
    /// long-polling sessions are ended; only the first one given is kept.
    pub fn end_polling_through<S>(&self, socketio: S)
    where
        S: tower::Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Future: Send,
    {
        // A long-polling session ends when its client posts the Engine.IO
        // close packet (`1`); the server posts it on the client's behalf.
        let end: EndPolling = Box::new(move |sid: String| {
            let request = Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
                .header("content-type", "text/plain;charset=UTF-8")
                .body(Body::from("1"));
            let socketio = socketio.clone();
            if let Ok(request) = request {
                tokio::spawn(async move {
                    let _ = socketio.oneshot(request).await;
                });
            }
        });
        let _ = self.0.end_polling.set(end);
    }

    fn admit(&self, ip: IpAddr) -> Option<Held> {
        let ip = ip.to_canonical();
        let mut open = lock(&self.0.open);
        let count = open.entry(ip).or_default();
        if self.0.max_per_ip != 0 && *count >= self.0.max_per_ip {
            return None;
        }
        *count += 1;
        Some(Held { sessions: self.clone(), ip })
    }
}

/// Closes the Engine.IO session under `s` now, so its client sees the
/// transport close (and reconnects) instead of waiting for a timeout: a
/// WebSocket's connection is cut, a long-polling session is ended.
pub fn close<A: Adapter>(s: &Socket<A>) {
    let extensions = &s.req_parts().extensions;
    let Some(sessions) = extensions.get::<Sessions>() else { return };
    match s.transport_type() {
        TransportType::Websocket => {
            let mut switches = lock(&sessions.0.upgraded).get(&s.id.to_string()).cloned().unwrap_or_default();
            // A session opened as a WebSocket runs on its handshake's connection.
            if s.req_parts().uri.query().is_some_and(|q| q.contains("transport=websocket")) {
                switches.extend(extensions.get::<Switch>().cloned());
            }
            for switch in switches {
                switch.cut();
            }
        }
        TransportType::Polling => {
            if let Some(end) = sessions.0.end_polling.get() {
                end(s.id.to_string());
            }
        }
    }
}

/// One open session's place in its address's count, released on drop.
struct Held {
    sessions: Sessions,
    ip: IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = lock(&self.sessions.0.open);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Keeps a session's WebSocket connection findable by sid while it is open.
struct Upgrade {
    sessions: Sessions,
    sid: String,
    switch: Switch,
}

impl Drop for Upgrade {
    fn drop(&mut self) {
        let mut upgraded = lock(&self.sessions.0.upgraded);
        if let Some(switches) = upgraded.get_mut(&self.sid) {
            switches.retain(|s| !s.same(&self.switch));
            if switches.is_empty() {
                upgraded.remove(&self.sid);
            }
        }
    }
}

/// Middleware for `/socket.io/`: counts and limits new sessions per client
/// address, and records the connection a session upgrades to.
pub async fn guard(State(sessions): State<Sessions>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/socket.io") {
        return next.run(req).await;
    }
    let (mut sid, mut websocket) = (None, false);
    for (key, value) in req.uri().query().unwrap_or_default().split('&').filter_map(|p| p.split_once('=')) {
        match key {
            "sid" => sid = Some(value.to_owned()),
            "transport" => websocket = value == "websocket",
            _ => {}
        }
    }
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let switch = req.extensions().get::<Switch>().cloned();
    match (sid, client) {
        (None, Some(ip)) => {
            let Some(held) = sessions.admit(ip) else {
                tracing::debug!(%ip, "session refused: too many from this address");
                return too_many(sessions.0.max_per_ip);
            };
            req.extensions_mut().insert(Arc::new(held));
        }
        (Some(sid), _) if websocket => {
            if let Some(switch) = switch {
                lock(&sessions.0.upgraded).entry(sid.clone()).or_default().push(switch.clone());
                req.extensions_mut().insert(Arc::new(Upgrade { sessions: sessions.clone(), sid, switch }));
            }
        }
        _ => {}
    }
    req.extensions_mut().insert(sessions);
    next.run(req).await
}

fn too_many(limit: usize) -> Response {
    let body = format!(
        "this address already has {limit} open connections; close some, or raise the limit with --max-connections-per-ip\n"
    );
    (StatusCode::TOO_MANY_REQUESTS, body).into_response()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
