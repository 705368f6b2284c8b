//! Public HTTPS tunnels, through one of three providers:
//!
//! - [`ngrok`]: the ngrok agent SDK, in process (needs an account's authtoken);
//! - [`cloudflare`]: Cloudflare quick tunnels, through the user's `cloudflared`
//!   run as child processes (no account);
//! - [`localtunnel`]: a LocalTunnel client, in process (no account).
//!
//! Whichever carries it, a tunnel has two public URLs, the UI port's (the one
//! in the QR code) and the backend port's, and connections arriving through it
//! are served by the app in-process with the visitor's address as the
//! provider reports it, so limits per address count each visitor, not the
//! tunnel as one local client.
//!
//! Faults never stop the local chat. [`run`] opens the tunnel, reports it up,
//! and when it is lost or cannot be opened tries again with a capped
//! exponential backoff; every state change goes to the [`TunnelEvents`] sink,
//! so the banner and `/api/info` show the URLs again once the tunnel is back.

pub mod authtoken;
pub mod cloudflare;
mod config;
mod http;
pub mod localtunnel;
pub mod ngrok;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::watch;

use crate::connection::Connections;

pub use self::cloudflare::CloudflareConfig;
pub use self::localtunnel::LocalTunnelConfig;
pub use self::ngrok::{NgrokConfig, OauthConfig};

/// First wait between attempts to open the tunnel; it doubles up to [`RETRY_CAP`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
/// Largest wait between attempts to open the tunnel.
const RETRY_CAP: Duration = Duration::from_secs(10);

/// How `--tunnel` was configured, already validated.
#[derive(Debug, Clone)]
pub struct TunnelConfig {
    /// The provider and its settings.
    pub provider: ProviderConfig,
    /// Why this provider, in one sentence for the banner.
    pub reason: String,
}

/// A provider and its settings.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    /// ngrok, through its agent SDK.
    Ngrok(NgrokConfig),
    /// A Cloudflare quick tunnel, through `cloudflared`.
    Cloudflare(CloudflareConfig),
    /// A LocalTunnel server.
    LocalTunnel(LocalTunnelConfig),
}

impl ProviderConfig {
    /// The provider's name, as `--tunnel` takes it.
    pub fn name(&self) -> Provider {
        match self {
            Self::Ngrok(_) => Provider::Ngrok,
            Self::Cloudflare(_) => Provider::Cloudflare,
            Self::LocalTunnel(_) => Provider::LocalTunnel,
        }
    }
}

/// The tunnel providers rtchat carries, named as `--tunnel` takes them and
/// `--json` and `/api/info` report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// ngrok (needs an authtoken).
    Ngrok,
    /// Cloudflare quick tunnels (needs `cloudflared`).
    Cloudflare,
    /// LocalTunnel.
    #[serde(rename = "localtunnel")]
    LocalTunnel,
}

/// What the tunnel is doing, as shown in the banner and `/api/info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelState {
    /// Opening the tunnel (at start).
    Connecting,
    /// Public URLs are live.
    Up {
        /// The UI port's public URL.
        ui: String,
        /// The backend port's public URL.
        backend: String,
        /// LocalTunnel's "tunnel password" (this machine's public IP address),
        /// which its reminder page asks each visitor for; `None` elsewhere, or
        /// when it could not be fetched.
        password: Option<String>,
    },
    /// The provider cannot be reached or dropped the tunnel; retrying.
    Down {
        /// What went wrong.
        reason: String,
        /// When the next attempt is.
        retry_in: Duration,
    },
    /// The provider refused the tunnel (for example a bad authtoken); not retrying.
    Failed {
        /// Why the provider refused.
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
        let provider = match config.provider {
            ProviderConfig::Ngrok(c) => Opener::Ngrok(c),
            ProviderConfig::Cloudflare(c) => Opener::Cloudflare(c),
            ProviderConfig::LocalTunnel(c) => Opener::LocalTunnel(localtunnel::Client::new(c)),
        };
        let task = tokio::spawn(run(provider, targets, events, stopped));
        Self { stop, task }
    }

    /// Closes the tunnel (the provider drops the public URLs; child processes
    /// are stopped) and waits, at most `limit`.
    pub async fn close(self, limit: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// A tunnel that is open.
pub(crate) struct Live {
    /// The UI port's public URL.
    pub ui: String,
    /// The backend port's public URL (the UI's with one endpoint).
    pub backend: String,
    /// LocalTunnel's tunnel password, when known.
    pub password: Option<String>,
    /// Carries the tunnel's connections; ends, with the reason, when the
    /// tunnel is lost.
    pub running: BoxFuture<'static, String>,
    /// Closes the tunnel cleanly; run instead of `running` when asked to stop.
    pub close: BoxFuture<'static, ()>,
}

/// Why a tunnel could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The provider answered and said no (authtoken, domain, plan, a bad
    /// subdomain): retrying will not help.
    Refused(String),
    /// The provider could not be reached or did not finish: retry.
    Unreachable(String),
}

/// The configured provider, with what it keeps between attempts.
enum Opener {
    Ngrok(NgrokConfig),
    Cloudflare(CloudflareConfig),
    LocalTunnel(localtunnel::Client),
}

impl Opener {
    async fn open(&mut self, targets: &Targets) -> Result<Live, OpenError> {
        match self {
            Self::Ngrok(config) => ngrok::open(config, targets).await,
            Self::Cloudflare(config) => cloudflare::open(config, targets).await,
            Self::LocalTunnel(client) => client.open(targets).await,
        }
    }
}

async fn run(
    mut provider: Opener,
    targets: Targets,
    events: TunnelEvents,
    mut stopped: watch::Receiver<bool>,
) {
    events(&TunnelState::Connecting);
    let mut wait = RETRY_FIRST;
    let mut reported_down = false;
    loop {
        let opened = tokio::select! {
            opened = provider.open(&targets) => opened,
            () = stop_requested(&mut stopped) => return,
        };
        match opened {
            Ok(live) => {
                tracing::info!(ui = %live.ui, backend = %live.backend, "tunnel up");
                events(&TunnelState::Up { ui: live.ui, backend: live.backend, password: live.password });
                wait = RETRY_FIRST;
                let reason = tokio::select! {
                    reason = live.running => reason,
                    () = stop_requested(&mut stopped) => {
                        live.close.await;
                        tracing::info!("tunnel closed");
                        return;
                    }
                };
                // The tunnel was lost under us: reopen at once, then back off.
                tracing::warn!(%reason, "tunnel down; reopening (the local chat keeps running)");
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
