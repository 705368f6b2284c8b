//! The chat: Socket.IO handlers, the protocol they speak, and the send pipeline.
//!
//! - [`protocol`]: wire types and error codes (the public API, see docs/protocol.md);
//! - [`handlers`]: what each client event does, and [`actions`]: the steps they share;
//! - [`session`]: what the server keeps per connection;
//! - [`rooms`]: chat rooms as adapter rooms, and presence;
//! - [`pipeline`]: group commit then ordered fan-out;
//! - [`health`] and [`fanout`]: Redis, when several processes share one chat;
//! - [`validate`] and [`ratelimit`]: the input rules.

pub mod actions;
pub mod fanout;
pub mod handlers;
pub mod health;
pub mod metrics;
pub mod pipeline;
pub mod protocol;
pub mod ratelimit;
pub mod rooms;
pub mod session;
pub mod validate;

use std::sync::Arc;

use crate::store::{Store, StoreError};
use pipeline::Pipeline;
use protocol::ChatError;

/// The limits and access rules the chat enforces.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// Required in the handshake when set.
    pub token: Option<String>,
    /// Longest message, in characters.
    pub max_message_len: usize,
    /// Messages per second per connection; `0` turns limiting off.
    pub rate_limit: u32,
}

/// Everything a handler needs; a cheap clone around an `Arc`.
#[derive(Clone)]
pub struct ChatState(Arc<ChatInner>);

/// The shared parts behind [`ChatState`].
pub struct ChatInner {
    pub store: Arc<dyn Store>,
    pub pipeline: Pipeline,
    pub settings: ChatSettings,
    pub health: health::Health,
    pub metrics: metrics::Metrics,
}

impl ChatState {
    pub fn new(
        store: Arc<dyn Store>,
        pipeline: Pipeline,
        settings: ChatSettings,
        health: health::Health,
    ) -> Self {
        Self(Arc::new(ChatInner { store, pipeline, settings, health, metrics: Default::default() }))
    }
}

impl std::ops::Deref for ChatState {
    type Target = ChatInner;
    fn deref(&self) -> &ChatInner {
        &self.0
    }
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RoomExists(room) => {
                ChatError::bad_request(format!("room {room:?} already exists; choose another name"))
            }
            StoreError::Backend(_) | StoreError::Closed => {
                tracing::error!(error = %e, "store request failed");
                ChatError::unavailable("the chat history is unavailable right now; try again shortly")
            }
        }
    }
}

/// Compares secrets without leaking where they differ through timing.
pub fn secrets_match(given: impl AsRef<[u8]>, expected: impl AsRef<[u8]>) -> bool {
    let (a, b) = (given.as_ref(), expected.as_ref());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random lowercase hex string of `bytes` random bytes, for keys and tokens.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
