//! Tunnels through the ngrok agent SDK.
//!
//! One ngrok session carries both endpoints. Each connection arriving through
//! them carries the visitor's address as the edge reports it. The SDK's own
//! reconnect backoff grows without bound, so it is declined: a lost session
//! is rebuilt by the tunnel's retry loop instead, which also knows exactly
//! when the new endpoints are bound.

use std::sync::Arc;

use futures_util::{FutureExt, TryStreamExt};
use ngrok::config::{OauthOptions, TunnelBuilder};
use ngrok::prelude::ConnInfo;
use ngrok::session::{ConnectError, IoStream, default_connect};
use ngrok::tunnel::{EndpointInfo, HttpTunnel};

use super::{Live, OpenError, Targets};
use crate::connection::{Connections, Via};

/// The ngrok settings, already validated.
#[derive(Debug, Clone)]
pub struct NgrokConfig {
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

/// Opens a session with the UI's endpoint and, with two ports, the backend's.
pub(crate) async fn open(config: &NgrokConfig, targets: &Targets) -> Result<Live, OpenError> {
    let (session, ui, backend) = connect(config, targets.two_endpoints).await?;
    let ui_url = ui.url().to_owned();
    let backend_url = backend.as_ref().map_or_else(|| ui_url.clone(), |b| b.url().to_owned());
    let app = targets.app.clone();
    let running = async move {
        match backend {
            Some(backend) => {
                tokio::join!(serve(ui, &app), serve(backend, &app));
            }
            None => serve(ui, &app).await,
        }
        "lost the connection to the tunnel edge".to_owned()
    };
    let mut session = session;
    let close = async move {
        if let Err(e) = session.close().await {
            tracing::debug!(error = %e, "closing the tunnel session");
        }
    };
    Ok(Live {
        ui: ui_url,
        backend: backend_url,
        password: None,
        running: running.boxed(),
        close: close.boxed(),
    })
}

/// Connects a session and binds the endpoints: the UI's, and the backend's
/// when it is a separate port.
async fn connect(
    config: &NgrokConfig,
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
/// without a cap, so a lost session is rebuilt by the tunnel's retry loop.
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
