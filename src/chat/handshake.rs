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
use super::{ChatState, access, handlers, identity, rooms, validate};
use crate::model::User;
use crate::store::StoreError;

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
    let peer = s.req_parts().extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let span = connection_span(&s, peer);
    // A client that sends no auth object is a seed-style client with
    // defaults; one that sends something else than an object is refused.
    let auth = auth.map_err(|_| Refused(ErrorCode::BadRequest))?;
    let mut query = query_params(&s);
    let token = match &auth.token {
        Some(serde_json::Value::String(t)) => Some(t.clone()),
        // A page of an app behind `--app` has the token as a cookie.
        _ => query.remove("token").or_else(|| crate::http::proxy::cookie_token(&s.req_parts().headers)),
    };
    if access::check_token(chat.settings.token.as_deref(), token.as_deref()).is_err() {
        span.in_scope(|| tracing::debug!("handshake refused: missing or wrong token"));
        return Err(Refused(ErrorCode::Unauthorized));
    }
    let (name, rich) = identity(&auth).map_err(Refused)?;
    let key = user_key(&auth).map_err(Refused)?;
    let (user, stable) = match key {
        None => (User { id: s.id.to_string(), name: name.unwrap_or_else(guest_name) }, false),
        Some(key) => {
            let id = chat.identities.user_id(key);
            let name = person_name(&chat, &id, name).await.map_err(|e| {
                span.in_scope(
                    || tracing::warn!(error = %e, "handshake refused: the user's name could not be read"),
                );
                Refused(ErrorCode::Unavailable)
            })?;
            (User { id, name }, true)
        }
    };
    let rates = (chat.settings.rate_limit, chat.settings.rate_limit_requests);
    let me = Arc::new(Session::new((user, stable), rich, peer.map(|p| p.ip()), rates, span));
    s.extensions.insert(me.clone());
    Metrics::add(&chat.metrics.connections);
    Metrics::add(&chat.metrics.connections_total);
    handlers::install(&s);
    s.join(rooms::user_tag(&me.user));
    if me.stable {
        s.join(rooms::person_room(&me.user.id));
    }

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

/// Who `auth` says is connecting: the display name (`None` when the server
/// is to pick one) and whether the client speaks the rich protocol.
fn identity(auth: &Auth) -> Result<(Option<String>, bool), ErrorCode> {
    use serde_json::Value;
    let name = match &auth.name {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(validate::display_name(n).map_err(|e| e.code)?),
        Some(_) => return Err(ErrorCode::BadRequest),
    };
    let rich = match &auth.v {
        None | Some(Value::Null) => false,
        Some(v) if v == 1 || v == "1" => true,
        Some(_) => return Err(ErrorCode::BadRequest),
    };
    Ok((name, rich))
}

/// The `userKey` a handshake carries, checked; `None` without one.
fn user_key(auth: &Auth) -> Result<Option<&str>, ErrorCode> {
    match &auth.user_key {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(key)) => identity::check_key(key).map(Some).map_err(|e| e.code),
        Some(_) => Err(ErrorCode::BadRequest),
    }
}

/// A person's name: the one they stored, else the one they connect with
/// (stored, so their other devices take it), else a guest name.
async fn person_name(chat: &ChatState, id: &str, given: Option<String>) -> Result<String, StoreError> {
    if let Some(stored) = chat.store.user_name(id).await? {
        return Ok(stored);
    }
    match given {
        Some(name) => {
            chat.store.set_user_name(id, &name).await?;
            Ok(name)
        }
        None => Ok(guest_name()),
    }
}

/// The span every log line of this connection is written in.
fn connection_span<A: Adapter>(s: &Socket<A>, peer: Option<SocketAddr>) -> tracing::Span {
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

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn any_json() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,40}".prop_map(Value::from),
            Just(json!(1)),
            Just(json!("1")),
            Just(json!(["x"])),
            Just(json!({ "a": 1 })),
        ]
    }

    proptest! {
        #[test]
        fn an_identity_is_a_valid_name_and_version_or_bad_request(name in any_json(), v in any_json()) {
            let auth = Auth { name: Some(name.clone()), v: Some(v.clone()), ..Auth::default() };
            match identity(&auth) {
                Ok((shown, rich)) => {
                    prop_assert!(name.is_null() || validate::display_name(name.as_str().unwrap()).ok() == shown);
                    prop_assert_eq!(rich, v == json!(1) || v == json!("1"));
                }
                Err(code) => {
                    prop_assert_eq!(code, ErrorCode::BadRequest);
                    let bad_name = !name.is_null() && name.as_str().is_none_or(|n| validate::display_name(n).is_err());
                    let bad_v = !(v.is_null() || v == json!(1) || v == json!("1"));
                    prop_assert!(bad_name || bad_v);
                }
            }
        }
    }
}
