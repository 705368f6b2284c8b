//! The handshake: who is connecting, whether they may, and the room they start in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::socket::Socket;

use super::actions::enter;
use super::error::ErrorCode;
use super::metrics::Metrics;
use super::protocol::Auth;
use super::session::Session;
use super::{ChatState, access, handlers, rooms, validate};
use crate::model::User;

/// Why a handshake was refused; its text is the `connect_error` message.
#[derive(Debug)]
pub struct Refused(ErrorCode);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The handshake's query parameters (`token`, `projectId`).
pub fn query_params<A: Adapter>(s: &Socket<A>) -> HashMap<String, String> {
    s.req_parts().uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default()
}

/// Checks the access token and the display name, attaches the [`Session`],
/// installs the event handlers and joins the first room. It runs as connect
/// middleware, before the client is told it is connected, so no early event
/// is missed.
pub async fn admit<A: Adapter>(
    s: SocketRef<A>,
    State(chat): State<ChatState>,
    TryData(auth): TryData<Auth>,
) -> Result<(), Refused> {
    let span = connection_span(&s);
    // A client that sends no auth object is a seed-style client with defaults.
    let auth = auth.unwrap_or_default();
    let mut query = query_params(&s);
    let token = match &auth.token {
        Some(serde_json::Value::String(t)) => Some(t.clone()),
        _ => query.remove("token"),
    };
    if access::check_token(chat.settings.token.as_deref(), token.as_deref()).is_err() {
        span.in_scope(|| tracing::debug!("handshake refused: missing or wrong token"));
        return Err(Refused(ErrorCode::Unauthorized));
    }
    let name = match &auth.name {
        None | Some(serde_json::Value::Null) => guest_name(),
        Some(serde_json::Value::String(n)) => {
            validate::display_name(n).map_err(|_| Refused(ErrorCode::BadRequest))?
        }
        Some(_) => return Err(Refused(ErrorCode::BadRequest)),
    };
    let rich = match &auth.v {
        None | Some(serde_json::Value::Null) => false,
        Some(v) if v == 1 || v == "1" => true,
        Some(_) => return Err(Refused(ErrorCode::BadRequest)),
    };
    let user = User { id: s.id.to_string(), name };
    let me = Arc::new(Session::new(user, rich, chat.settings.rate_limit, span));
    s.extensions.insert(me.clone());
    Metrics::add(&chat.metrics.connections);
    Metrics::add(&chat.metrics.connections_total);
    handlers::install(&s);
    s.join(rooms::user_tag(&me.user));

    // Seed compatibility: `query.projectId` joins that room; seed-style clients
    // without one start in the lobby, as the lesson's server broadcast to all.
    let first = query.remove("projectId").or_else(|| (!me.rich).then(|| validate::DEFAULT_ROOM.to_owned()));
    if let Some(room) = first
        && let Err(e) = enter(&s, &me, &chat, &room, None).await
    {
        *me.connect_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
    Ok(())
}

/// The span every log line of this connection is written in.
fn connection_span<A: Adapter>(s: &Socket<A>) -> tracing::Span {
    let peer = s.req_parts().extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    tracing::info_span!(
        "conn",
        sid = %s.id,
        peer = %peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
        transport = ?s.transport_type(),
    )
}

fn guest_name() -> String {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    format!("guest-{:04}", u16::from_le_bytes(b) % 10_000)
}
