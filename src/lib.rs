//! rtchat: a real-time chat server in one binary.
//!
//! # Layout
//! - [`cli`] and [`config`]: the command line and the validated [`config::Config`];
//! - [`server`]: starts and stops a server on listeners the caller bound;
//! - [`connection`]: serves the app on each connection (accept loop, header
//!   timeout, the client address, cutting a connection);
//! - [`http`]: the axum app (`/socket.io/`, `/api/`, `/healthz`, the embedded web UI);
//! - [`chat`]: the Socket.IO protocol, its handlers, presence and the send pipeline;
//! - [`model`]: the domain types (users, messages, rooms) the chat and the store share;
//! - [`store`]: durable history behind the [`store::Store`] trait (SQLite, PostgreSQL);
//! - [`scale`]: several processes as one chat, through Redis;
//! - [`info`], [`lan`] and [`banner`]: the server's URLs, the address a phone can
//!   reach, and the banner with its QR code (or the `--json` line);
//! - [`tunnel`]: public HTTPS tunnels through ngrok, Cloudflare or LocalTunnel;
//! - [`shutdown`]: the signals that stop it.
// One function may use unsafe code: starting cloudflared with a parent-death
// signal (tunnel/cloudflare.rs), which the standard library has no safe API for.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod banner;
pub mod chat;
pub mod cli;
pub mod config;
pub mod connection;
pub mod http;
pub mod info;
pub mod lan;
pub mod model;
pub mod scale;
pub mod server;
pub mod shutdown;
pub mod store;
pub mod tunnel;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::http::cors::CorsPolicy;
use crate::http::hosts::HostPolicy;
use crate::info::{ServerInfo, TunnelInfo};
use crate::tunnel::{Targets, Tunnel, TunnelEvents, TunnelState};

/// How long Ctrl-C waits for the tunnel session to close.
const TUNNEL_CLOSE: Duration = Duration::from_millis(700);

/// Runs `rtchat serve` until Ctrl-C or SIGTERM.
pub async fn serve(args: &cli::ServeArgs) -> anyhow::Result<()> {
    let config = config::Config::from_args(args)?;
    let files = connection::raise_open_file_limit();
    let listeners = server::Listeners::bind(&config).await?;
    let print = Arc::new(banner::Printer::new(&config));
    let (cors, hosts, tunnel) = (config.cors.clone(), config.hosts.clone(), config.tunnel.clone());

    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown::signal().await;
        let _ = stop.send(true);
    });
    let mut server_stopped = stopped.clone();
    let running = server::start(config, listeners, async move {
        let _ = server_stopped.wait_for(|s| *s).await;
    })
    .await?;
    // Logged once started, so a refused start still prints one line.
    match files {
        Ok(limit) => tracing::info!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
    print.ready(&running.info).context("cannot write to stdout")?;
    if args.open {
        open_in_browser(print.open_link(&running.info));
    }

    let closing = tunnel.map(|tunnel| {
        let targets = Targets { app: running.connections.clone(), two_endpoints: running.ui_addr.is_some() };
        let provider = tunnel.provider.name();
        let events = tunnel_events(provider, print.clone(), running.shared_info.clone(), cors, hosts);
        let tunnel = Tunnel::start(tunnel, targets, events);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _ = stopped.wait_for(|s| *s).await;
            tunnel.close(TUNNEL_CLOSE).await;
        })
    });
    let result = running.wait().await;
    if let Some(closing) = closing {
        let _ = closing.await;
    }
    result
}

/// Opens `link` in the default browser, off the async threads; a machine
/// without one gets a log line, not an error.
fn open_in_browser(link: String) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = webbrowser::open(&link) {
            tracing::warn!(error = %e, "could not open a browser; open {link} yourself");
        }
    });
}

/// Applies each tunnel state change: `/api/info`, allowed origins and host
/// names, and what is printed.
fn tunnel_events(
    provider: tunnel::Provider,
    print: Arc<banner::Printer>,
    info: Arc<RwLock<ServerInfo>>,
    cors: CorsPolicy,
    hosts: HostPolicy,
) -> TunnelEvents {
    Arc::new(move |state: &TunnelState| {
        if let TunnelState::Up { ui, backend, .. } = state {
            for url in [ui, backend] {
                cors.allow_url(url);
                hosts.allow_url(url);
            }
        }
        let snapshot = {
            let mut info = info.write().unwrap_or_else(|p| p.into_inner());
            let (ui, backend) = match (state, &info.tunnel) {
                (TunnelState::Up { ui, backend, .. }, _) => (ui.clone(), backend.clone()),
                (_, Some(last)) => (last.ui.clone(), last.backend.clone()),
                (_, None) => (String::new(), String::new()),
            };
            info.tunnel = Some(TunnelInfo { provider, ui, backend, state: state.name().to_owned() });
            info.phone_url = info.best_phone_url();
            info.clone()
        };
        if let Err(e) = print.tunnel(state, &snapshot) {
            tracing::warn!(error = %e, "cannot write to stdout");
        }
    })
}
