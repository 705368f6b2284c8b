//! What the server tells people about itself: its URLs, for the banner, the
//! `--json` ready line and `GET /api/info`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Serialize;

use crate::config::Config;

/// The two addresses of one way to reach the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// Socket.IO, the REST API and the UI.
    pub backend: String,
    /// The UI port's URL; the backend's when there is no UI port.
    pub ui: String,
}

/// A public tunnel and its state (filled in by the tunnel, when there is one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TunnelInfo {
    pub backend: String,
    pub ui: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthInfo {
    pub token_required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitsInfo {
    pub max_message_len: usize,
    pub rate_limit: u32,
}

/// The body of `GET /api/info`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub local: Endpoints,
    pub lan: Vec<Endpoints>,
    pub tunnel: Option<TunnelInfo>,
    /// The best URL for a phone: the tunnel's UI, else the first LAN UI; `None`
    /// when the server is reachable from this machine only.
    pub phone_url: Option<String>,
    pub auth: AuthInfo,
    pub limits: LimitsInfo,
}

fn url(host: IpAddr, port: u16) -> String {
    format!("http://{}", SocketAddr::new(host, port))
}

impl ServerInfo {
    /// Describes a server listening on `backend` (and `ui`, when it has a UI port).
    pub fn new(config: &Config, backend: SocketAddr, ui: Option<SocketAddr>) -> Self {
        // Pages on this machine reach a wildcard listener through loopback.
        let local_host = |addr: SocketAddr| match addr.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        let backend_url = url(local_host(backend), backend.port());
        let ui_url = ui.map_or_else(|| backend_url.clone(), |ui| url(local_host(ui), ui.port()));
        Self {
            name: "rtchat",
            version: env!("CARGO_PKG_VERSION"),
            local: Endpoints {
                backend: backend_url,
                ui: ui_url,
            },
            lan: Vec::new(),
            tunnel: None,
            phone_url: None,
            auth: AuthInfo {
                token_required: config.chat.token.is_some(),
            },
            limits: LimitsInfo {
                max_message_len: config.chat.max_message_len,
                rate_limit: config.chat.rate_limit,
            },
        }
    }
}
