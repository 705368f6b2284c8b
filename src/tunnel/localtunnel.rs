//! LocalTunnel, in process: no account, no Node.
//!
//! `GET {host}/?new` (or `/{subdomain}`) registers a tunnel and answers
//! `{ id, port, max_conn_count, url }`. rtchat then keeps up to
//! `max_conn_count` TCP connections open to that port; the server writes each
//! visitor's request on one of them and rtchat serves it there, WebSocket
//! upgrades included. Connections the server closes are reopened; when it no
//! longer takes them (it forgot the tunnel, or restarted), the tunnel is lost
//! and registered again, asking for the same name so the URL stays when it can.
//!
//! LocalTunnel does not say which visitor sent a request, so all its visitors
//! count as the server's one address for the limits per address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::Uri;
use futures_util::FutureExt;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::http::{HttpError, get_text};
use super::{Live, OpenError, Targets};
use crate::connection::{Connections, Via};

/// The public LocalTunnel server.
pub const DEFAULT_HOST: &str = "https://localtunnel.me";
/// Where the public server tells a machine its tunnel password.
pub const PASSWORD_URL: &str = "https://loca.lt/mytunnelpassword";
/// The most connections kept open per tunnel, whatever the server offers.
const MAX_CONNECTIONS: usize = 32;
/// Connections kept when the server does not say.
const DEFAULT_CONNECTIONS: usize = 10;
/// How long opening one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection closed sooner than this after opening makes its slot wait
/// before the next, doubling up to [`REOPEN_CAP`].
const QUICK_CLOSE: Duration = Duration::from_secs(1);
const REOPEN_FIRST: Duration = Duration::from_millis(100);
const REOPEN_CAP: Duration = Duration::from_secs(10);

/// The LocalTunnel settings, already validated.
#[derive(Debug, Clone)]
pub struct LocalTunnelConfig {
    /// The server, as `scheme://host[:port]` with no trailing slash.
    pub host: String,
    /// The name asked for the UI's URL (the backend's gets `-backend` added).
    pub subdomain: Option<String>,
}

impl LocalTunnelConfig {
    /// Checks `--localtunnel-host` and `--tunnel-subdomain`; the error names the flag.
    pub fn new(host: &str, subdomain: Option<&str>) -> Result<Self, String> {
        let uri: Uri = host.parse().map_err(|_| format!("--localtunnel-host {host:?} is not a URL"))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
        if !scheme_ok || uri.host().is_none() || !bare {
            return Err(format!(
                "--localtunnel-host {host:?} must be an http:// or https:// server address with no path, such as {DEFAULT_HOST}"
            ));
        }
        if let Some(name) = subdomain
            && !valid_subdomain(name)
        {
            return Err(format!(
                "--tunnel-subdomain {name:?} must be 4 to 55 lowercase letters, digits or '-', starting and ending with a letter or digit"
            ));
        }
        Ok(Self { host: host.trim_end_matches('/').to_owned(), subdomain: subdomain.map(str::to_owned) })
    }

    /// Where to read this machine's tunnel password.
    fn password_url(&self) -> String {
        match self.host.as_str() {
            DEFAULT_HOST | "https://loca.lt" => PASSWORD_URL.to_owned(),
            host => format!("{host}/mytunnelpassword"),
        }
    }
}

/// What LocalTunnel servers accept as a name; the `-backend` suffix must fit in 63.
fn valid_subdomain(name: &str) -> bool {
    let edges = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (4..=55).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && edges(name.chars().next())
        && edges(name.chars().last())
}

/// A LocalTunnel client: remembers the names it was given, to ask for them again.
pub(crate) struct Client {
    config: LocalTunnelConfig,
    names: [Option<String>; 2],
}

/// The server's answer to a registration.
#[derive(Debug, Deserialize)]
struct Registration {
    id: String,
    port: u16,
    max_conn_count: Option<usize>,
    url: String,
    /// The address to connect to, when not the server's host.
    ip: Option<String>,
}

/// A registered tunnel, checked.
struct Registered {
    id: String,
    url: String,
    server: SocketAddr,
    connections: usize,
}

impl Client {
    pub(crate) fn new(config: LocalTunnelConfig) -> Self {
        let backend = config.subdomain.as_ref().map(|s| format!("{s}-backend"));
        Self { names: [config.subdomain.clone(), backend], config }
    }

    /// Registers the UI's tunnel (and the backend's), opens their connections
    /// and fetches the tunnel password.
    pub(crate) async fn open(&mut self, targets: &Targets) -> Result<Live, OpenError> {
        let ui = self.register(self.names[0].clone()).await?;
        let backend = match targets.two_endpoints {
            true => Some(self.register(self.names[1].clone()).await?),
            false => None,
        };
        self.names = [Some(ui.id.clone()), backend.as_ref().map(|b| b.id.clone())];
        let password = self.password().await;

        let mut pools = vec![Pool::open(&ui, &targets.app).await?];
        if let Some(backend) = &backend {
            pools.push(Pool::open(backend, &targets.app).await?);
        }
        let (ui_url, backend_url) = (ui.url.clone(), backend.map_or(ui.url, |b| b.url));
        let running = async move {
            let lost = pools.into_iter().map(|pool| pool.run().boxed());
            futures_util::future::select_all(lost).await.0
        };
        // Dropping the pools closes their connections: nothing else to do.
        let close = async {};
        Ok(Live {
            ui: ui_url,
            backend: backend_url,
            password,
            running: running.boxed(),
            close: close.boxed(),
        })
    }

    async fn register(&self, name: Option<String>) -> Result<Registered, OpenError> {
        let host = &self.config.host;
        let url = match &name {
            Some(name) => format!("{host}/{name}"),
            None => format!("{host}/?new"),
        };
        let body = get_text(&url).await.map_err(|e| match e {
            HttpError::Status { status, body } if (400..500).contains(&status) => OpenError::Refused(
                format!("the LocalTunnel server at {host} refused the tunnel: {}", message(&body)),
            ),
            e => OpenError::Unreachable(format!("cannot reach the LocalTunnel server at {host} ({e})")),
        })?;
        let bad =
            |why: &str| OpenError::Unreachable(format!("the LocalTunnel server at {host} answered {why}"));
        let reg: Registration =
            serde_json::from_str(&body).map_err(|_| bad("something other than a tunnel"))?;
        let valid_id = !reg.id.is_empty()
            && reg.id.len() <= 63
            && reg.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_id || reg.port == 0 || !valid_url(&reg.url) {
            return Err(bad("a tunnel with a bad id, port or URL"));
        }
        let server_ip = match reg.ip.as_deref().map(str::parse::<IpAddr>) {
            Some(Ok(ip)) => Some(ip),
            Some(Err(_)) => return Err(bad("a bad ip")),
            None => None,
        };
        let server = match server_ip {
            Some(ip) => SocketAddr::new(ip, reg.port),
            None => {
                let name =
                    host.parse::<Uri>().ok().and_then(|u| u.host().map(str::to_owned)).unwrap_or_default();
                let name = name.trim_start_matches('[').trim_end_matches(']').to_owned();
                let mut found = tokio::net::lookup_host((name.as_str(), reg.port))
                    .await
                    .map_err(|e| OpenError::Unreachable(format!("cannot resolve {name}: {e}")))?;
                found.next().ok_or_else(|| OpenError::Unreachable(format!("{name} has no address")))?
            }
        };
        let connections = reg.max_conn_count.unwrap_or(DEFAULT_CONNECTIONS).clamp(1, MAX_CONNECTIONS);
        tracing::debug!(id = %reg.id, %server, connections, "LocalTunnel registered");
        Ok(Registered { id: reg.id, url: reg.url.trim_end_matches('/').to_owned(), server, connections })
    }

    /// This machine's tunnel password (its public IP address), if the server says.
    async fn password(&self) -> Option<String> {
        let url = self.config.password_url();
        match get_text(&url).await {
            Ok(text) => match text.trim().parse::<IpAddr>() {
                Ok(ip) => Some(ip.to_string()),
                Err(_) => {
                    tracing::debug!(%url, "the tunnel password answer is not an IP address");
                    None
                }
            },
            Err(e) => {
                tracing::debug!(%url, error = %e, "cannot fetch the tunnel password");
                None
            }
        }
    }
}

/// The `message` of a LocalTunnel error body, or the body itself, cut short.
fn message(body: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(body).ok();
    let text = parsed.as_ref().and_then(|v| v["message"].as_str()).unwrap_or(body);
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// A public URL fit to print, put in a QR code and allow as an origin.
fn valid_url(url: &str) -> bool {
    let parsed = url.parse::<Uri>();
    url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && parsed.is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
}

/// The connections one tunnel holds open.
struct Pool {
    server: SocketAddr,
    app: Connections,
    slots: JoinSet<String>,
}

impl Pool {
    /// Opens the tunnel's connections; fails if the server takes none.
    async fn open(tunnel: &Registered, app: &Connections) -> Result<Self, OpenError> {
        let first = connect(tunnel.server).await.map_err(OpenError::Unreachable)?;
        let mut pool = Self { server: tunnel.server, app: app.clone(), slots: JoinSet::new() };
        pool.slots.spawn(slot(pool.server, pool.app.clone(), Some(first)));
        for _ in 1..tunnel.connections {
            pool.slots.spawn(slot(pool.server, pool.app.clone(), None));
        }
        Ok(pool)
    }

    /// Runs until the server stops taking connections; why. Dropping the
    /// pool aborts its slots, closing every connection.
    async fn run(mut self) -> String {
        match self.slots.join_next().await {
            Some(Ok(reason)) => reason,
            Some(Err(e)) => format!("a LocalTunnel connection failed: {e}"),
            None => format!("no connections to the LocalTunnel server at {}", self.server),
        }
    }
}

async fn connect(server: SocketAddr) -> Result<TcpStream, String> {
    let lost =
        |e: String| format!("the LocalTunnel server at {server} takes no connections for this tunnel ({e})");
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(server))
        .await
        .map_err(|_| lost("timed out".into()))?
        .map_err(|e| lost(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Keeps one connection open: serves the requests the server writes on it,
/// and opens another when it closes. Returns why, once one cannot be opened.
async fn slot(server: SocketAddr, app: Connections, mut stream: Option<TcpStream>) -> String {
    let mut wait = REOPEN_FIRST;
    loop {
        let tcp = match stream.take() {
            Some(tcp) => tcp,
            None => match connect(server).await {
                Ok(tcp) => tcp,
                Err(reason) => return reason,
            },
        };
        let opened = Instant::now();
        app.serve(tcp, server, Via::TunnelPool).await;
        if opened.elapsed() < QUICK_CLOSE {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(REOPEN_CAP);
        } else {
            wait = REOPEN_FIRST;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let c = LocalTunnelConfig::new("https://localtunnel.me/", Some("my-chat")).unwrap();
        assert_eq!(c.host, DEFAULT_HOST);
        assert_eq!(c.password_url(), PASSWORD_URL);
        let own = LocalTunnelConfig::new("http://127.0.0.1:4000", None).unwrap();
        assert_eq!(own.password_url(), "http://127.0.0.1:4000/mytunnelpassword");
        for host in ["localtunnel.me", "ftp://x.example", "https://x.example/path", "not a url"] {
            assert!(LocalTunnelConfig::new(host, None).is_err(), "{host}");
        }
        for name in ["abc", "My-Chat", "-chat", "chat-", "a_b_c", &"x".repeat(56)] {
            assert!(LocalTunnelConfig::new(DEFAULT_HOST, Some(name)).is_err(), "{name}");
        }
    }

    #[test]
    fn only_plain_urls_are_taken() {
        assert!(valid_url("https://funny-cat-12.loca.lt"));
        assert!(valid_url("http://127.0.0.1:4567"));
        for bad in ["javascript:alert(1)", "https://x.loca.lt\n", "//x", "https://a b.example", ""] {
            assert!(!valid_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_are_cut_and_cleaned() {
        assert_eq!(message(r#"{"message":"Invalid subdomain"}"#), "Invalid subdomain");
        assert_eq!(message("oops\u{1b}[31m"), "oops[31m");
        assert_eq!(message(&"x".repeat(500)).len(), 200);
    }
}
