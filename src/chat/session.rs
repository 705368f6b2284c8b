//! What the server keeps for each connection, stored in the socket's extensions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;

use super::error::ChatError;
use super::ratelimit::TokenBucket;
use super::rooms::Joined;
use crate::model::User;

/// How long a `typing: true` lasts without being renewed.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

/// Per-connection state. Room membership is not here: it lives in the adapter.
pub struct Session {
    /// Who connected. The id never changes; the name is the one they had
    /// then: their current name is in the adapter ([`Session::current`]).
    pub user: User,
    /// Whether `user.id` is stable (derived from a `userKey`), so the same
    /// person may have other connections, here or on other processes.
    pub stable: bool,
    /// Connected with `auth.v: 1`: receives `message:new` instead of plain `message`.
    pub rich: bool,
    /// The client's address, whose message budget this connection shares.
    pub addr: Option<IpAddr>,
    /// The connection's tracing span (sid, peer address, transport): every
    /// handler runs in it, so each log line names its connection.
    pub span: tracing::Span,
    current: Mutex<Option<String>>,
    bucket: Mutex<TokenBucket>,
    requests: Mutex<TokenBucket>,
    typing: Mutex<HashMap<String, Instant>>,
    /// Tickets handed to events in arrival order, and the one being served.
    issued: AtomicU64,
    serving: watch::Sender<u64>,
    /// A refusal from the handshake's room join, reported once connected.
    pub connect_error: Mutex<Option<ChatError>>,
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
    /// A new connection's state, with full rate-limit buckets: `rates` are
    /// the messages and the other requests it may make per second.
    pub fn new(
        (user, stable): (User, bool),
        rich: bool,
        addr: Option<IpAddr>,
        rates: (u32, u32),
        span: tracing::Span,
    ) -> Self {
        Self {
            user,
            stable,
            rich,
            addr,
            span,
            current: Mutex::new(None),
            bucket: Mutex::new(TokenBucket::new(rates.0)),
            requests: Mutex::new(TokenBucket::new(rates.1)),
            typing: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            serving: watch::Sender::new(0),
            connect_error: Mutex::new(None),
        }
    }

    /// Who this connection is now: a rename on any process shows here at once.
    pub fn current<A: Adapter>(&self, socket: &Socket<A>) -> User {
        Joined::of(socket).user().unwrap_or_else(|| self.user.clone())
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

    /// Takes one request (not a message) from its rate limit; `false` when over it.
    pub fn try_request(&self) -> bool {
        lock(&self.requests).try_take()
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

    /// Waits until the typing state in `room` lapses unrenewed and clears it:
    /// `true` then (the others must be told), `false` when it was cleared
    /// another way first (stopped, a message sent, the room left).
    pub async fn typing_lapsed(&self, room: &str) -> bool {
        loop {
            let deadline = {
                let mut typing = lock(&self.typing);
                match typing.get(room) {
                    Some(&deadline) if deadline <= Instant::now() => {
                        typing.remove(room);
                        return true;
                    }
                    Some(&deadline) => deadline,
                    None => return false,
                }
            };
            tokio::time::sleep_until(deadline).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Arc<Session> {
        let user = User { id: "u".into(), name: "ann".into() };
        Arc::new(Session::new((user, false), true, None, (0, 0), tracing::Span::none()))
    }

    #[tokio::test(start_paused = true)]
    async fn typing_lapses_after_its_time_to_live_unless_renewed() {
        let me = session();
        assert!(me.start_typing("r"), "a first start needs a watcher");
        let watcher = tokio::spawn({
            let me = me.clone();
            async move { me.typing_lapsed("r").await }
        });
        tokio::time::advance(TYPING_TTL - Duration::from_secs(2)).await;
        assert!(!me.start_typing("r"), "a renewal needs no second watcher");
        // The first deadline passes: the renewal holds it.
        tokio::time::advance(Duration::from_secs(3)).await;
        tokio::task::yield_now().await;
        assert!(!watcher.is_finished(), "renewed typing has not lapsed");
        tokio::time::advance(TYPING_TTL).await;
        assert!(watcher.await.unwrap(), "unrenewed typing lapses");
        assert!(!me.stop_typing("r"), "a lapsed state is cleared");
    }

    #[tokio::test(start_paused = true)]
    async fn typing_stopped_early_is_not_reported_as_lapsed() {
        let me = session();
        me.start_typing("r");
        let watcher = tokio::spawn({
            let me = me.clone();
            async move { me.typing_lapsed("r").await }
        });
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(me.stop_typing("r"));
        tokio::time::advance(TYPING_TTL).await;
        assert!(!watcher.await.unwrap());
    }
}
