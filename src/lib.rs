//! rtchat: a real-time chat server in one binary.
//!
//! # Layout
//! - [`cli`] and [`config`]: the command line and the validated [`config::Config`];
//! - [`server`]: starts and stops a server on listeners the caller bound;
//! - [`http`]: the axum app (`/socket.io/`, `/api/`, `/healthz`, the embedded web UI);
//! - [`chat`]: the Socket.IO protocol, its handlers, presence and the send pipeline;
//! - [`store`]: durable history behind the [`store::Store`] trait (SQLite);
//! - [`info`], [`lan`] and [`banner`]: the server's URLs, the address a phone can
//!   reach, and the banner with its QR code (or the `--json` line);
//! - [`shutdown`]: the signals that stop it.
#![forbid(unsafe_code)]

pub mod banner;
pub mod chat;
pub mod cli;
pub mod config;
pub mod http;
pub mod info;
pub mod lan;
pub mod server;
pub mod shutdown;
pub mod store;

use anyhow::Context;

/// Runs `rtchat serve` until Ctrl-C or SIGTERM.
pub async fn serve(args: &cli::ServeArgs) -> anyhow::Result<()> {
    let config = config::Config::from_args(args)?;
    let listeners = server::Listeners::bind(&config).await?;
    let print = banner::Printer::new(&config);
    let running = server::start(config, listeners, shutdown::signal()).await?;
    print.ready(&running.info).context("cannot write to stdout")?;
    running.wait().await
}
