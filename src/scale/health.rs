//! Whether this process can serve sends right now: the shared services it
//! depends on (Redis, when scaled out) answer. Watched in the background so
//! the send path only reads a flag (kept by [`super::redis`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::chat::error::ChatError;

/// Shared readiness flags; cheap to clone.
#[derive(Clone, Default)]
pub struct Health {
    /// `None` without Redis; else whether the last ping answered.
    redis: Option<Arc<AtomicBool>>,
}

impl Health {
    /// Follows Redis through the flag its driver keeps up to date.
    pub fn with_redis(up: Arc<AtomicBool>) -> Self {
        Self { redis: Some(up) }
    }

    /// `Some(true|false)` with Redis, `None` without.
    pub fn redis_up(&self) -> Option<bool> {
        self.redis.as_ref().map(|f| f.load(Ordering::Relaxed))
    }

    /// Refuses work that needs the shared services while they are away.
    pub fn check(&self) -> Result<(), ChatError> {
        if self.redis_up() == Some(false) {
            return Err(ChatError::unavailable(
                "this server has lost its connection to the other servers (Redis); try again shortly",
            ));
        }
        Ok(())
    }
}
