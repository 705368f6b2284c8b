//! Room records kept in memory in front of any [`Store`].
//!
//! A room's record never changes once created (there is no rename, no change
//! of privacy or key), so a record read once stays right until the room is
//! deleted. Every connection enters a room, and reading its record from the
//! database each time was the largest part of a handshake's cost; messages
//! and room lists still go to the database.
//!
//! A room deleted through this process is forgotten at once. Another process
//! sharing the database learns of it when its record expires, after at most
//! [`TTL`]: until then it may still admit people to the deleted room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Appended, Listed, Page, RoomQuery, Store, StoreError};
use crate::model::{Change, File, Message, NewMessage, Room};

/// Records kept before the cache starts over; a record is about 100 bytes.
const MAX_ROOMS: usize = 10_000;
/// How long a record is trusted: a crowd joining a room reads it once, and a
/// room deleted by another process is forgotten this soon.
pub const TTL: Duration = Duration::from_secs(10);

/// A [`Store`] that remembers the room records it has seen.
pub struct RoomCache {
    inner: Arc<dyn Store>,
    rooms: Mutex<HashMap<String, (Room, Instant)>>,
}

impl RoomCache {
    /// A cache in front of `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner, rooms: Mutex::new(HashMap::new()) }
    }

    fn cached(&self, id: &str) -> Option<Room> {
        let mut rooms = self.lock();
        match rooms.get(id) {
            Some((room, read)) if read.elapsed() < TTL => Some(room.clone()),
            Some(_) => {
                rooms.remove(id);
                None
            }
            None => None,
        }
    }

    fn remember(&self, record: &Room) {
        let mut rooms = self.lock();
        if rooms.len() >= MAX_ROOMS {
            rooms.clear();
        }
        rooms.insert(record.id.clone(), (record.clone(), Instant::now()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Room, Instant)>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Store for RoomCache {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        self.inner.append(batch).await
    }

    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError> {
        self.inner.history(room, page, limit).await
    }

    async fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        if let Some(record) = self.cached(id) {
            return Ok(Some(record));
        }
        let found = self.inner.room(id).await?;
        if let Some(record) = &found {
            self.remember(record);
        }
        Ok(found)
    }

    async fn create_room(&self, room: Room) -> Result<(), StoreError> {
        self.inner.create_room(room.clone()).await?;
        self.remember(&room);
        Ok(())
    }

    async fn ensure_room(&self, id: &str) -> Result<Room, StoreError> {
        if let Some(record) = self.cached(id) {
            return Ok(record);
        }
        let record = self.inner.ensure_room(id).await?;
        self.remember(&record);
        Ok(record)
    }

    async fn rooms(&self, query: RoomQuery) -> Result<Vec<Listed>, StoreError> {
        self.inner.rooms(query).await
    }

    async fn room_count(&self) -> Result<usize, StoreError> {
        self.inner.room_count().await
    }

    async fn delete_room_if_unused(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self.inner.delete_room_if_unused(id).await?;
        if deleted {
            self.lock().remove(id);
        }
        Ok(deleted)
    }

    async fn change(&self, change: Change) -> Result<Message, StoreError> {
        self.inner.change(change).await
    }

    async fn delete_room(&self, id: &str, by: &str) -> Result<(), StoreError> {
        self.inner.delete_room(id, by).await?;
        self.lock().remove(id);
        Ok(())
    }

    async fn put_file(&self, file: File, data: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put_file(file, data).await
    }

    async fn file(&self, id: &str) -> Result<Option<(File, Vec<u8>)>, StoreError> {
        self.inner.file(id).await
    }

    async fn room_files(&self, room: &str, ids: Vec<String>) -> Result<Vec<File>, StoreError> {
        self.inner.room_files(room, ids).await
    }

    async fn files_size(&self) -> Result<u64, StoreError> {
        self.inner.files_size().await
    }

    async fn user_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.inner.user_name(id).await
    }

    async fn set_user_name(&self, id: &str, name: &str) -> Result<(), StoreError> {
        self.inner.set_user_name(id, name).await
    }

    async fn identity_secret(&self) -> Result<[u8; 32], StoreError> {
        self.inner.identity_secret().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DbTarget, sqlite::SqliteStore};

    #[tokio::test]
    async fn a_room_read_once_is_served_from_memory() {
        let db: Arc<dyn Store> = Arc::new(SqliteStore::open(DbTarget::Memory).await.unwrap());
        let cache = RoomCache::new(db.clone());
        assert_eq!(cache.room("lobby").await.unwrap(), None, "a missing room is not remembered");
        let created = cache.ensure_room("lobby").await.unwrap();
        let private = Room::private("p-den", "Den", "k3y");
        cache.create_room(private.clone()).await.unwrap();
        db.close().await.unwrap();
        assert_eq!(cache.room("lobby").await.unwrap(), Some(created.clone()));
        assert_eq!(cache.ensure_room("lobby").await.unwrap(), created);
        assert_eq!(cache.room("p-den").await.unwrap(), Some(private));
        assert!(matches!(cache.room("other").await, Err(StoreError::Closed)));
    }
}
