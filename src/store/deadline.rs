//! A deadline on every store operation, for every backend.
//!
//! A database that stops answering (a stalled network, a hung disk) must not
//! freeze the chat: each operation has a deadline, and one that passes is
//! answered [`StoreError::Unavailable`]. A deadline never turns into a false
//! ack: an append whose deadline passes is refused even though its commit may
//! still land, and the sender's resend with the same `clientId` is then found
//! as a duplicate and stored once. Backends must tolerate an operation being
//! dropped midway: PostgreSQL discards that connection (it may be inside a
//! transaction) and opens a new one; SQLite lets the work finish on its
//! blocking thread.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Appended, Listed, Page, RoomQuery, Store, StoreError};
use crate::model::{Change, File, Message, NewMessage, Room};

/// How long opening the database may take at startup, connecting and
/// migrating included; with Redis's own deadline a start gives up within 10 s.
pub const OPEN: Duration = Duration::from_secs(4);

/// How long each kind of operation may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Appends and room changes. A send queued behind a batch whose deadline
    /// passes waits for at most two of these, so it is answered within 5 s.
    pub write: Duration,
    /// History, room and room-list reads.
    pub read: Duration,
    /// The health check, so `/healthz` answers within 1 s.
    pub ping: Duration,
    /// Closing at shutdown, so SIGTERM stays prompt.
    pub close: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            write: Duration::from_secs(2),
            read: Duration::from_secs(2),
            ping: Duration::from_millis(800),
            close: Duration::from_secs(2),
        }
    }
}

/// Runs `op`, or fails with [`StoreError::Unavailable`] once `limit` passes.
pub async fn within<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, op).await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!(
            "the database did not answer within {limit:?}; try again shortly"
        )))
    })
}

/// A [`Store`] whose every operation has a deadline.
pub struct Deadlines {
    inner: Arc<dyn Store>,
    limits: Limits,
}

impl Deadlines {
    /// Puts `limits` on every operation of `inner`.
    pub fn new(inner: Arc<dyn Store>, limits: Limits) -> Self {
        Self { inner, limits }
    }
}

#[async_trait]
impl Store for Deadlines {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        let limit = self.limits.write;
        tokio::time::timeout(limit, self.inner.append(batch)).await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "the database did not answer within {limit:?}, so the message may or may not \
                 be stored; send it again with the same clientId and it is stored once"
            )))
        })
    }

    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError> {
        within(self.limits.read, self.inner.history(room, page, limit)).await
    }

    async fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        within(self.limits.read, self.inner.room(id)).await
    }

    async fn create_room(&self, room: Room) -> Result<(), StoreError> {
        within(self.limits.write, self.inner.create_room(room)).await
    }

    async fn ensure_room(&self, id: &str) -> Result<Room, StoreError> {
        within(self.limits.write, self.inner.ensure_room(id)).await
    }

    async fn rooms(&self, query: RoomQuery) -> Result<Vec<Listed>, StoreError> {
        within(self.limits.read, self.inner.rooms(query)).await
    }

    async fn room_count(&self) -> Result<usize, StoreError> {
        within(self.limits.read, self.inner.room_count()).await
    }

    async fn delete_room_if_unused(&self, id: &str) -> Result<bool, StoreError> {
        within(self.limits.write, self.inner.delete_room_if_unused(id)).await
    }

    async fn change(&self, change: Change) -> Result<Message, StoreError> {
        within(self.limits.write, self.inner.change(change)).await
    }

    async fn delete_room(&self, id: &str, by: &str) -> Result<(), StoreError> {
        within(self.limits.write, self.inner.delete_room(id, by)).await
    }

    async fn put_file(&self, file: File, data: Vec<u8>) -> Result<(), StoreError> {
        within(self.limits.write, self.inner.put_file(file, data)).await
    }

    async fn file(&self, id: &str) -> Result<Option<(File, Vec<u8>)>, StoreError> {
        within(self.limits.read, self.inner.file(id)).await
    }

    async fn room_files(&self, room: &str, ids: Vec<String>) -> Result<Vec<File>, StoreError> {
        within(self.limits.read, self.inner.room_files(room, ids)).await
    }

    async fn files_size(&self) -> Result<u64, StoreError> {
        within(self.limits.read, self.inner.files_size()).await
    }

    async fn user_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        within(self.limits.read, self.inner.user_name(id)).await
    }

    async fn set_user_name(&self, id: &str, name: &str) -> Result<(), StoreError> {
        within(self.limits.write, self.inner.set_user_name(id, name)).await
    }

    async fn identity_secret(&self) -> Result<[u8; 32], StoreError> {
        within(self.limits.write, self.inner.identity_secret()).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        within(self.limits.ping, self.inner.ping()).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        within(self.limits.close, self.inner.close()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_late_operation_is_unavailable_and_a_prompt_one_passes() {
        let late = within(Duration::from_secs(2), async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        });
        let Err(StoreError::Unavailable(why)) = late.await else { panic!("a late operation must fail") };
        assert!(why.contains("did not answer within 2s"), "{why}");
        let prompt = within(Duration::from_secs(2), async { Ok(7) });
        assert_eq!(prompt.await.unwrap(), 7);
    }
}
