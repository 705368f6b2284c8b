//! Public HTTPS tunnels through the ngrok agent SDK.
//!
//! One ngrok session carries both endpoints: the UI port's (the URL in the QR
//! code) and the backend port's. Connections arriving through a tunnel are
//! served by the app in-process, like those on the local ports, so it behaves
//! the same locally and through the tunnel; each carries the visitor's address
//! as the edge reports it, so limits per address count each visitor, not the
//! tunnel as one local client.
//!
//! Faults never stop the local chat. When the edge cannot be reached, or a
//! session is lost, the session is rebuilt with a capped exponential backoff
//! (the SDK's own reconnect backoff grows without bound, so it is declined).
//! Every state change is reported to the [`TunnelEvents`] sink, so the banner
//! and `/api/info` show the URLs again once the tunnel is back.

pub mod authtoken;
mod config;

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use ngrok::config::{OauthOptions, TunnelBuilder};
use ngrok::prelude::ConnInfo;
use ngrok::session::{ConnectError, IoStream, default_connect};
use ngrok::tunnel::{EndpointInfo, HttpTunnel};
use tokio::sync::watch;

use crate::connection::{Connections, Via};

/// First wait between attempts to reach the edge; it doubles up to [`RETRY_CAP`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
/// Largest wait between attempts to reach the edge.
const RETRY_CAP: Duration = Duration::from_secs(10);

/// How `--tunnel` was configured, already validated.
#[derive(Debug, Clone)]
pub struct TunnelConfig {
    /// The ngrok authtoken.
    pub authtoken: String,
    /// A reserved domain for the UI's endpoint.
    pub domain: Option<String>,
    /// A user name and password asked for at the edge.
    pub basic_auth: Option<(String, String)>,
    /// An OAuth sign-in asked for at the edge.
    pub oauth: Option<OauthConfig>,
    /// A private or self-hosted edge (`host:port`) instead of ngrok's.
    pub server_addr: Option<String>,
    /// PEM certificates to trust for that edge.
    pub ca_cert: Option<Vec<u8>>,
}

/// `--tunnel-oauth`: a provider and who may pass.
#[derive(Debug, Clone)]
pub struct OauthConfig {
    /// The provider (`google`, `github`, ...).
    pub provider: String,
    /// Email addresses let in.
    pub allow_emails: Vec<String>,
    /// Email domains let in.
    pub allow_domains: Vec<String>,
}

/// What the tunnel is doing, as shown in the banner and `/api/info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelState {
    /// Reaching the edge (at start).
    Connecting,
    /// Public URLs are live.
    Up {
        /// The UI port's public URL.
        ui: String,
        /// The backend port's public URL.
        backend: String,
    },
    /// The edge cannot be reached or dropped the session; retrying.
    Down {
        /// What went wrong.
        reason: String,
        /// When the next attempt is.
        retry_in: Duration,
    },
    /// The edge refused the session (for example a bad authtoken); not retrying.
    Failed {
        /// Why the edge refused.
        reason: String,
    },
}

impl TunnelState {
    /// The state's one-word name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Up { .. } => "up",
            Self::Down { .. } => "down",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Receives every tunnel state change.
pub type TunnelEvents = Arc<dyn Fn(&TunnelState) + Send + Sync>;

/// What the tunnel serves.
#[derive(Clone)]
pub struct Targets {
    /// The app, served on every tunnel connection (both endpoints serve it,
    /// as both local ports do).
    pub app: Connections,
    /// Whether the backend has its own endpoint, as it has its own port
    /// (`false` with `--ui-port off`).
    pub two_endpoints: bool,
}

/// A running tunnel; [`Tunnel::close`] ends it cleanly.
pub struct Tunnel {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Tunnel {
    /// Starts the tunnel in the background and returns at once.
    pub fn start(config: TunnelConfig, targets: Targets, events: TunnelEvents) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(config, targets, events, stopped));
        Self { stop, task }
    }

    /// Closes the session (the edge drops the public URLs) and waits, at most `limit`.
    pub async fn close(self, limit: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn run(
    config: TunnelConfig,
    targets: Targets,
    events: TunnelEvents,
    mut stopped: watch::Receiver<bool>,
) {
    events(&TunnelState::Connecting);
    let mut wait = RETRY_FIRST;
    let mut reported_down = false;
    loop {
        let opened = tokio::select! {
            opened = open(&config, targets.two_endpoints) => opened,
            () = stop_requested(&mut stopped) => return,
        };
        match opened {
            Ok((mut session, ui, backend)) => {
                let ui_url = ui.url().to_owned();
                let backend_url = backend.as_ref().map_or_else(|| ui_url.clone(), |b| b.url().to_owned());
                tracing::info!(ui = %ui_url, backend = %backend_url, "tunnel up");
                events(&TunnelState::Up { ui: ui_url, backend: backend_url });
                wait = RETRY_FIRST;
                let forwarding = async {
                    match backend {
                        Some(backend) => {
                            tokio::join!(serve(ui, &targets.app), serve(backend, &targets.app));
                        }
                        None => serve(ui, &targets.app).await,
                    }
                };
                tokio::select! {
                    () = forwarding => {}
                    () = stop_requested(&mut stopped) => {
                        if let Err(e) = session.close().await {
                            tracing::debug!(error = %e, "closing the tunnel session");
                        }
                        tracing::info!("tunnel closed");
                        return;
                    }
                }
                // The session ended under us: reconnect at once, then back off.
                let reason = "lost the connection to the tunnel edge".to_owned();
                tracing::warn!(%reason, "tunnel down; reconnecting (the local chat keeps running)");
                events(&TunnelState::Down { reason, retry_in: Duration::ZERO });
                reported_down = true;
                continue;
            }
            Err(OpenError::Refused(reason)) => {
                tracing::error!(%reason, "tunnel failed");
                events(&TunnelState::Failed { reason });
                return;
            }
            Err(OpenError::Unreachable(reason)) => {
                if reported_down {
                    tracing::debug!(%reason, retry_in = ?wait, "tunnel still down");
                } else {
                    tracing::warn!(%reason, retry_in = ?wait, "tunnel down (the local chat keeps running)");
                    events(&TunnelState::Down { reason, retry_in: wait });
                    reported_down = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop_requested(&mut stopped) => return,
        }
        wait = (wait * 2).min(RETRY_CAP);
    }
}

async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Why a session could not be opened.
enum OpenError {
    /// The edge answered and said no (authtoken, domain, plan): retrying will not help.
    Refused(String),
    /// The edge could not be reached: retry.
    Unreachable(String),
}

/// Connects a session and binds the endpoints: the UI's, and the backend's
/// when it is a separate port.
async fn open(
    config: &TunnelConfig,
    two_endpoints: bool,
) -> Result<(ngrok::Session, HttpTunnel, Option<HttpTunnel>), OpenError> {
    let mut builder = ngrok::Session::builder();
    builder.authtoken(config.authtoken.clone()).client_info(
        "rtchat",
        env!("CARGO_PKG_VERSION"),
        None::<String>,
    );
    if let Some(addr) = &config.server_addr {
        builder
            .server_addr(addr.clone())
            .map_err(|e| OpenError::Refused(format!("--tunnel-server-addr: {e}")))?;
    }
    if let Some(pem) = &config.ca_cert {
        builder.ca_cert(bytes::Bytes::from(pem.clone()));
    }
    builder.connector(OneAttempt);
    let session = builder.connect().await.map_err(|e| match e {
        ConnectError::Auth(rpc) => OpenError::Refused(format!(
            "the tunnel edge refused the session: {}",
            ngrok::Error::msg(&rpc).trim()
        )),
        other => {
            let host = config.server_addr.as_deref().unwrap_or("the ngrok service");
            OpenError::Unreachable(format!("cannot reach the tunnel edge at {host} ({})", describe(&other)))
        }
    })?;

    let endpoint = |domain: Option<&str>| {
        let mut http = session.http_endpoint();
        if let Some(domain) = domain {
            http.domain(domain);
        }
        if let Some((user, pass)) = &config.basic_auth {
            http.basic_auth(user.clone(), pass.clone());
        }
        if let Some(oauth) = &config.oauth {
            let mut opts = OauthOptions::new(oauth.provider.clone());
            for email in &oauth.allow_emails {
                opts.allow_email(email.clone());
            }
            for domain in &oauth.allow_domains {
                opts.allow_domain(domain.clone());
            }
            http.oauth(opts);
        }
        http
    };
    let ui = endpoint(config.domain.as_deref())
        .listen()
        .await
        .map_err(|e| OpenError::Refused(format!("the edge refused the UI endpoint: {e}")))?;
    let backend = if two_endpoints {
        let backend = endpoint(None)
            .listen()
            .await
            .map_err(|e| OpenError::Refused(format!("the edge refused the backend endpoint: {e}")))?;
        Some(backend)
    } else {
        None
    };
    Ok((session, ui, backend))
}

fn describe(e: &ConnectError) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Connects once, and declines the SDK's own reconnects: its backoff grows
/// without a cap, so a lost session is rebuilt by [`run`] instead, which also
/// knows exactly when the new endpoints are bound.
struct OneAttempt;

#[async_trait::async_trait]
impl ngrok::session::Connector for OneAttempt {
    async fn connect(
        &self,
        host: String,
        port: u16,
        tls: Arc<rustls::ClientConfig>,
        lost: Option<ngrok::tunnel::AcceptError>,
    ) -> Result<Box<dyn IoStream>, ConnectError> {
        if let Some(e) = lost {
            tracing::debug!(error = %e, "tunnel session lost");
            return Err(ConnectError::Canceled);
        }
        default_connect(host, port, tls, None).await
    }
}

/// Serves the app on every connection arriving through `tunnel`.
async fn serve(mut tunnel: HttpTunnel, app: &Connections) {
    loop {
        match tunnel.try_next().await {
            Ok(Some(conn)) => {
                // The edge reports the visitor's address in each connection's
                // header; it is the only client address a tunnel connection has.
                let client = conn.remote_addr();
                let app = app.clone();
                tokio::spawn(async move { app.serve(conn, client, Via::Tunnel).await });
            }
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "tunnel stopped accepting connections");
                return;
            }
        }
    }
}
