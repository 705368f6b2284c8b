//! Dropping a client the server cannot serve: a refused handshake, and a
//! client whose outgoing queue overflowed.
//!
//! Both close the Engine.IO session under the socket (see
//! `http::sessions::close`), so the client sees its transport close, as if
//! the network had dropped, and reconnects. For an overflow that is the whole
//! point: a message that did not fit was dropped by socketioxide, and a client
//! that kept its connection would never learn of the gap. Closed before the
//! next message reaches it, it reconnects and reads the gap from history, so
//! nothing stored is lost to it.
//!
//! The send path pays nothing for this while no queue overflows: broadcasts go
//! through the adapter unchanged, and only a failed one looks further.

use std::time::Duration;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::{BroadcastError, SendError, SocketError};

use super::ChatState;
use super::handshake::{self, Refused};
use super::protocol::Auth;
use crate::http::sessions;

/// How long a refused session stays open so its `connect_error` is written
/// first; after it, the session is closed without waiting for a timeout.
const REFUSED_GRACE: Duration = Duration::from_millis(100);

/// Marks a socket already dropped, so it is logged and closed once.
#[derive(Clone)]
struct Dropped;

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

/// Handles a failed broadcast to the adapter room `room`: every local member
/// whose queue overflowed is dropped, with one log line each.
pub fn after_broadcast<A: Adapter>(io: &SocketIo<A>, room: &str, error: BroadcastError) {
    let overflowed = match &error {
        BroadcastError::Socket(errors) => {
            errors.iter().filter(|e| matches!(e, SocketError::InternalChannelFull)).count()
        }
        _ => {
            tracing::warn!(%error, room, "broadcast failed");
            return;
        }
    };
    if overflowed == 0 {
        // Only sockets that closed while the message was sent: nothing to do.
        return;
    }
    let members = io.local().to(room.to_owned()).sockets();
    let full: Vec<_> = members.iter().filter(|s| is_full(s)).collect();
    if full.len() >= overflowed {
        for s in full {
            drop_slow(s);
        }
    } else {
        // A queue that overflowed has drained a little since; which one cannot
        // be told apart, so every member reconnects rather than one missing a message.
        tracing::warn!(
            room,
            overflowed,
            "a member's queue overflowed and drained; dropping every local member"
        );
        for s in &members {
            drop_slow(s);
        }
    }
}

fn drop_slow<A: Adapter>(s: &SocketRef<A>) {
    if s.extensions.get::<Dropped>().is_some() {
        return;
    }
    s.extensions.insert(Dropped);
    tracing::warn!(
        sid = %s.id,
        reason = "outgoing queue full",
        "dropping a client that stopped reading; it can reconnect and catch up from history"
    );
    sessions::close(s);
}

/// Whether a socket's outgoing queue is full, without sending anything:
/// socketioxide reserves a slot before it serialises an event, so an event
/// that cannot be serialised fails with `InternalChannelFull` on a full
/// queue, and with a serialisation error (the slot released, nothing sent)
/// otherwise.
fn is_full<A: Adapter>(s: &SocketRef<A>) -> bool {
    matches!(s.emit("", &Probe), Err(SendError::Socket(SocketError::InternalChannelFull)))
}

/// A value that refuses to be serialised.
struct Probe;

impl serde::Serialize for Probe {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("a probe is never sent"))
    }
}
