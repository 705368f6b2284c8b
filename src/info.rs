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

/// The ports the server listens on, as bound (never 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// The backend port (`--port`).
    pub backend: u16,
    /// The UI port (`--ui-port`); `None` with `--ui-port off`.
    pub ui: Option<u16>,
}

/// A public tunnel and its state (filled in by the tunnel, when there is one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TunnelInfo {
    /// `ngrok`, `cloudflare` or `localtunnel`.
    pub provider: crate::tunnel::Provider,
    /// The backend port's public URL (the last known one while down).
    pub backend: String,
    /// The UI port's public URL (the last known one while down).
    pub ui: String,
    /// `connecting`, `up`, `down` (retrying) or `failed`.
    pub state: String,
}

/// The developer's app served through rtchat (`--app`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppInfo {
    /// The app's dev server, as given (`http://localhost:5173`).
    pub target: String,
    /// The path of rtchat's own chat UI on every `ui` URL (`/rtchat/`); the
    /// rest of each `ui` URL is the app's.
    pub chat_path: &'static str,
}

/// What a client needs to connect.
#[derive(Debug, Clone, Serialize)]
pub struct AuthInfo {
    /// Whether clients must send the access token.
    pub token_required: bool,
}

/// The limits clients are held to.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsInfo {
    /// Longest message, in characters.
    pub max_message_len: usize,
    /// Messages per second per connection; 0 when unlimited.
    pub rate_limit: u32,
}

/// The body of `GET /api/info`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// Always `rtchat`.
    pub name: &'static str,
    /// This build's version.
    pub version: &'static str,
    /// The URLs for pages on this machine.
    pub local: Endpoints,
    /// The ports bound.
    pub ports: Ports,
    /// The URLs for other devices on the network, best first; empty on loopback.
    pub lan: Vec<Endpoints>,
    /// The public tunnel, once `--tunnel` has started.
    pub tunnel: Option<TunnelInfo>,
    /// The best URL for a phone: the tunnel's UI, else the first LAN UI; `None`
    /// when the server is reachable from this machine only.
    pub phone_url: Option<String>,
    /// With `--app`: the app every `ui` URL serves, and where the chat UI went.
    pub app: Option<AppInfo>,
    /// What a client needs to connect.
    pub auth: AuthInfo,
    /// The limits clients are held to.
    pub limits: LimitsInfo,
}

fn url(host: IpAddr, port: u16) -> String {
    format!("http://{}", SocketAddr::new(host, port))
}

impl ServerInfo {
    /// The backend address to put in absolute links to files: the tunnel's
    /// while it is up, else the first network address, else this machine's.
    pub fn file_base(&self) -> &str {
        match (&self.tunnel, self.lan.first()) {
            (Some(tunnel), _) if tunnel.state == "up" => &tunnel.backend,
            (_, Some(lan)) => &lan.backend,
            _ => &self.local.backend,
        }
    }

    /// Describes a server listening on `backend` (and `ui`, when it has a UI
    /// port), reachable from the network at `lan` addresses, best first.
    pub fn new(config: &Config, backend: SocketAddr, ui: Option<SocketAddr>, lan: &[IpAddr]) -> Self {
        // Pages on this machine reach a wildcard listener through loopback.
        let local_host = |addr: SocketAddr| match addr.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        let backend_url = url(local_host(backend), backend.port());
        let ui_url = ui.map_or_else(|| backend_url.clone(), |ui| url(local_host(ui), ui.port()));
        let lan = lan
            .iter()
            .map(|&ip| Endpoints {
                backend: url(ip, backend.port()),
                ui: url(ip, ui.unwrap_or(backend).port()),
            })
            .collect();
        let mut info = Self {
            name: "rtchat",
            version: env!("CARGO_PKG_VERSION"),
            local: Endpoints { backend: backend_url, ui: ui_url },
            ports: Ports { backend: backend.port(), ui: ui.map(|ui| ui.port()) },
            lan,
            tunnel: None,
            phone_url: None,
            app: config
                .app
                .as_ref()
                .map(|app| AppInfo { target: app.target.clone(), chat_path: crate::http::proxy::CHAT_PATH }),
            auth: AuthInfo { token_required: config.chat.token.is_some() },
            limits: LimitsInfo {
                max_message_len: config.chat.max_message_len,
                rate_limit: config.chat.rate_limit,
            },
        };
        info.phone_url = info.best_phone_url();
        info
    }

    /// The tunnel's UI URL when the tunnel is up, else the first network UI URL.
    pub fn best_phone_url(&self) -> Option<String> {
        let tunnel = self.tunnel.as_ref().filter(|t| t.state == "up").map(|t| t.ui.clone());
        tunnel.or_else(|| self.lan.first().map(|e| e.ui.clone()))
    }
}

/// The addresses the server is reachable at from the network, best first:
/// none when it listens on loopback only.
pub fn network_addresses(config: &Config) -> Vec<IpAddr> {
    match (config.host, config.lan_host) {
        (host, _) if host.is_loopback() => Vec::new(),
        (_, Some(advertised)) => vec![advertised],
        (host, None) if host.is_unspecified() => listened_on(host, crate::lan::addresses()),
        (host, None) => vec![host],
    }
}

/// The interface addresses a wildcard listener on `host` answers on:
/// `0.0.0.0` listens on IPv4 only, so an IPv6 address would be a dead link;
/// `::` takes both.
fn listened_on(host: IpAddr, addresses: Vec<IpAddr>) -> Vec<IpAddr> {
    match host {
        IpAddr::V4(_) => addresses.into_iter().filter(IpAddr::is_ipv4).collect(),
        IpAddr::V6(_) => addresses,
    }
}

/// A link that opens `url` already authorised and in `room`: both ride in the
/// fragment, which browsers never send to servers or proxies.
pub fn invite_link(url: &str, token: Option<&str>, room: Option<&str>) -> String {
    let params: Vec<(&str, &str)> =
        [("room", room), ("token", token)].into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
    let base = url.trim_end_matches('/');
    if params.is_empty() {
        return format!("{base}/");
    }
    let fragment = serde_urlencoded::to_string(&params).expect("string pairs always encode");
    format!("{base}/#{fragment}")
}

/// A link that opens the app behind `url`, authorised: the token rides in
/// the query once (the server turns it into a cookie and drops it from the
/// address), as a page's own requests must carry it.
pub fn app_link(url: &str, token: Option<&str>) -> String {
    let base = url.trim_end_matches('/');
    match token {
        None => format!("{base}/"),
        Some(token) => {
            let query = serde_urlencoded::to_string([(crate::http::proxy::TOKEN_PARAM, token)])
                .expect("string pairs always encode");
            format!("{base}/?{query}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_lists_only_the_addresses_it_answers_on() {
        let found: Vec<IpAddr> =
            ["192.168.1.23", "fd00::2", "10.0.0.5"].iter().map(|a| a.parse().unwrap()).collect();
        let v4: Vec<IpAddr> = ["192.168.1.23", "10.0.0.5"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(listened_on("0.0.0.0".parse().unwrap(), found.clone()), v4);
        assert_eq!(listened_on("::".parse().unwrap(), found.clone()), found);
    }

    #[test]
    fn invite_links_carry_room_and_token_in_the_fragment() {
        assert_eq!(invite_link("http://10.0.0.2:5173", None, None), "http://10.0.0.2:5173/");
        assert_eq!(
            invite_link("http://10.0.0.2:5173/", None, Some("standup")),
            "http://10.0.0.2:5173/#room=standup"
        );
        assert_eq!(
            invite_link("https://x.ngrok.app", Some("a&b=c"), Some("r")),
            "https://x.ngrok.app/#room=r&token=a%26b%3Dc"
        );
    }
}
