//! Dropping a client the server cannot serve: a refused handshake.
//!
//! It closes the Engine.IO session under the socket (see
//! `http::sessions::close`), so the client sees its transport close instead
//! of holding a session until a timeout.

use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};

use super::ChatState;
use super::handshake::{self, Refused};
use super::protocol::Auth;
use crate::http::sessions;

/// How long a refused session stays open so its `connect_error` is written
/// first; after it, the session is closed without waiting for a timeout.
const REFUSED_GRACE: Duration = Duration::from_millis(100);

/// The handshake ([`handshake::admit`]); a refused one's session is closed
/// once its `connect_error` is out, instead of staying open until a timeout.
pub async fn admit_or_close<A: Adapter>(
    s: SocketRef<A>,
    chat: State<ChatState>,
    auth: TryData<Auth>,
) -> Result<(), Refused> {
    let admitted = handshake::admit(s.clone(), chat, auth).await;
    if admitted.is_err() {
        tokio::spawn(async move {
            tokio::time::sleep(REFUSED_GRACE).await;
            sessions::close(&s);
        });
    }
    admitted
}
