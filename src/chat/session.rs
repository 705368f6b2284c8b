//! What the server keeps for each connection, stored in the socket's extensions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::protocol::User;
use super::ratelimit::TokenBucket;

/// How long a `typing: true` lasts without being renewed.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

/// Per-connection state. Room membership is not here: it lives in the adapter.
pub struct Session {
    pub user: User,
    /// Connected with `auth.v: 1`: receives `message:new` instead of plain `message`.
    pub rich: bool,
    current: Mutex<Option<String>>,
    bucket: Mutex<TokenBucket>,
    typing: Mutex<HashMap<String, Instant>>,
    /// Tickets handed to events in arrival order, and the one being served.
    issued: AtomicU64,
    serving: watch::Sender<u64>,
    /// A refusal from the handshake's room join, reported once connected.
    pub connect_error: Mutex<Option<super::protocol::ChatError>>,
}

/// An event's place in its connection's queue, taken when it arrives.
pub struct Ticket {
    session: Arc<Session>,
    number: u64,
}

/// Held while an event's ordered part runs; the next event starts when it drops.
pub struct Turn {
    session: Arc<Session>,
}

impl Ticket {
    /// Waits until every earlier event of this connection has finished its ordered part.
    pub async fn wait(self) -> Turn {
        let mut serving = self.session.serving.subscribe();
        // The sender lives in the session we hold, so this cannot fail.
        let _ = serving.wait_for(|&n| n == self.number).await;
        Turn { session: self.session }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.session.serving.send_modify(|n| *n += 1);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    pub fn new(user: User, rich: bool, rate_limit: u32) -> Self {
        Self {
            user,
            rich,
            current: Mutex::new(None),
            bucket: Mutex::new(TokenBucket::new(rate_limit)),
            typing: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            serving: watch::Sender::new(0),
            connect_error: Mutex::new(None),
        }
    }

    /// Takes the next place in this connection's queue. Socket.IO runs each
    /// event's handler as its own task; taking a ticket synchronously when the
    /// event arrives is what keeps a connection's events in the order sent.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket { session: self.clone(), number: self.issued.fetch_add(1, Ordering::Relaxed) }
    }

    /// The room plain `message` events go to.
    pub fn current_room(&self) -> Option<String> {
        lock(&self.current).clone()
    }

    /// Makes `room` current and returns the room that was.
    pub fn set_current(&self, room: Option<&str>) -> Option<String> {
        std::mem::replace(&mut *lock(&self.current), room.map(str::to_owned))
    }

    /// Takes one message from the rate limit; `false` when over it.
    pub fn try_send(&self) -> bool {
        lock(&self.bucket).try_take()
    }

    /// Marks the user typing in `room` for another [`TYPING_TTL`]; returns true
    /// when they were not typing there before (a watcher must be started).
    pub fn start_typing(&self, room: &str) -> bool {
        lock(&self.typing).insert(room.to_owned(), Instant::now() + TYPING_TTL).is_none()
    }

    /// Clears the typing state in `room`; returns true when it was set.
    pub fn stop_typing(&self, room: &str) -> bool {
        lock(&self.typing).remove(room).is_some()
    }

    /// For the expiry watcher: `Ok(())` when the state has lapsed and was cleared,
    /// `Err(Some(deadline))` when it was renewed, `Err(None)` when already cleared.
    pub fn expire_typing(&self, room: &str) -> Result<(), Option<Instant>> {
        let mut typing = lock(&self.typing);
        match typing.get(room) {
            Some(&deadline) if deadline <= Instant::now() => {
                typing.remove(room);
                Ok(())
            }
            Some(&deadline) => Err(Some(deadline)),
            None => Err(None),
        }
    }
}
