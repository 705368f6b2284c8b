//! The PostgreSQL store, for several rtchat processes sharing one history.
//!
//! Message ids come from one sequence, taken while holding a per-room advisory
//! lock until commit, so within a room ids are unique across processes and
//! increase in commit order: a reader asking for `after` never skips a message
//! another process commits later. Connections are re-established on demand, so
//! the store recovers by itself when the database comes back.

use async_trait::async_trait;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls, Row};

use super::sql::{self, MESSAGE_COLUMNS, ROOM_COLUMNS, message_row, room_row};
use super::{Appended, Page, Store, StoreError};
use crate::model::{Message, NewMessage, Room, now_ms};

const SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS rtchat_rooms (
        id         TEXT PRIMARY KEY,
        private    BOOLEAN NOT NULL,
        key_hash   BYTEA,
        created_at BIGINT NOT NULL
    );
    CREATE SEQUENCE IF NOT EXISTS rtchat_message_seq;
    CREATE TABLE IF NOT EXISTS rtchat_messages (
        seq        BIGINT PRIMARY KEY,
        room       TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        user_name  TEXT NOT NULL,
        text       TEXT NOT NULL,
        ts         BIGINT NOT NULL,
        client_id  TEXT
    );
    CREATE INDEX IF NOT EXISTS rtchat_messages_by_room ON rtchat_messages (room, seq);
    CREATE UNIQUE INDEX IF NOT EXISTS rtchat_messages_resend ON rtchat_messages (room, user_name, client_id)
        WHERE client_id IS NOT NULL;
"#;

/// PostgreSQL behind the [`Store`] trait.
pub struct PostgresStore {
    url: String,
    /// Appends and room changes, in transactions.
    writer: Mutex<Option<Client>>,
    /// History and room reads.
    reader: Mutex<Option<Client>>,
    closed: std::sync::atomic::AtomicBool,
}

fn backend(e: tokio_postgres::Error) -> StoreError {
    let detail = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string());
    StoreError::Backend(detail)
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(backend)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection lost");
        }
    });
    Ok(client)
}

impl PostgresStore {
    /// Connects and brings the schema up to date (safe with several processes starting at once).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut client = connect(url).await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('rtchat:migrate'))", &[]).await.map_err(backend)?;
        tx.batch_execute(SCHEMA).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Self {
            url: url.to_owned(),
            writer: Mutex::new(Some(client)),
            reader: Mutex::new(None),
            closed: Default::default(),
        })
    }

    /// The live connection in `slot`, reconnecting when the last one was lost;
    /// held until the guard drops.
    async fn live<'a>(
        &self,
        slot: &'a Mutex<Option<Client>>,
    ) -> Result<MappedMutexGuard<'a, Client>, StoreError> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let mut guard = slot.lock().await;
        let client = match guard.take() {
            Some(client) if !client.is_closed() => client,
            _ => connect(&self.url).await?,
        };
        Ok(MutexGuard::map(guard, |slot| slot.insert(client)))
    }

    /// The connection for appends and room changes.
    async fn writer(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        self.live(&self.writer).await
    }

    /// The connection for reads.
    async fn reader(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        self.live(&self.reader).await
    }

    /// Reads the room `id` on `client`.
    async fn select_room(client: &Client, id: &str) -> Result<Option<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rtchat_rooms WHERE id = $1");
        client.query_opt(&sql, &[&id]).await.map_err(backend)?.as_ref().map(room_from_row).transpose()
    }
}

fn message_from_row(row: &Row) -> Result<Message, StoreError> {
    let read = || -> Result<Message, tokio_postgres::Error> { Ok(message_row!(row.try_get)) };
    read().map_err(backend)
}

fn room_from_row(row: &Row) -> Result<Room, StoreError> {
    let read = || -> Result<Room, tokio_postgres::Error> { Ok(room_row!(row.try_get)) };
    read().map_err(backend)
}

#[async_trait]
impl Store for PostgresStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        let mut client = self.writer().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // Lock every room of the batch, in a fixed order so processes never deadlock.
        let mut rooms: Vec<&str> = batch.iter().map(|m| m.room.as_str()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        for room in rooms {
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('rtchat:room:' || $1))", &[&room])
                .await
                .map_err(backend)?;
        }
        let find = tx
            .prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM rtchat_messages WHERE room = $1 AND user_name = $2 AND client_id = $3"
            ))
            .await
            .map_err(backend)?;
        let insert = tx
            .prepare(
                "INSERT INTO rtchat_messages (seq, room, user_id, user_name, text, ts, client_id)
                 VALUES (nextval('rtchat_message_seq'), $1, $2, $3, $4, $5, $6) RETURNING seq",
            )
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            if let Some(client_id) = &m.client_id
                && let Some(row) =
                    tx.query_opt(&find, &[&m.room, &m.user.name, client_id]).await.map_err(backend)?
            {
                out.push(Appended { message: message_from_row(&row)?, duplicate: true });
                continue;
            }
            let row = tx
                .query_one(&insert, &[&m.room, &m.user.id, &m.user.name, &m.text, &m.ts, &m.client_id])
                .await
                .map_err(backend)?;
            let seq: i64 = row.try_get(0).map_err(backend)?;
            out.push(Appended { message: m.stored(seq as u64), duplicate: false });
        }
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError> {
        let bounds = page.bounds();
        let query = sql::history_query("rtchat_messages", bounds.newest_first, |i| format!("${i}"));
        let rows = self
            .reader()
            .await?
            .query(&query, &[&room, &(limit as i64), &bounds.after, &bounds.before])
            .await
            .map_err(backend)?;
        let messages = rows.iter().map(message_from_row).collect::<Result<_, _>>()?;
        Ok(sql::oldest_first(messages, &bounds))
    }

    async fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        Self::select_room(&*self.reader().await?, id).await
    }

    async fn create_room(&self, room: Room) -> Result<(), StoreError> {
        let key = room.key_hash.map(|k| k.to_vec());
        let inserted = self
            .writer()
            .await?
            .execute(
                "INSERT INTO rtchat_rooms (id, private, key_hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
                &[&room.id, &room.private, &key, &now_ms()],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StoreError::RoomExists(room.id));
        }
        Ok(())
    }

    async fn ensure_room(&self, id: &str) -> Result<Room, StoreError> {
        if let Some(room) = self.room(id).await? {
            return Ok(room);
        }
        let client = self.writer().await?;
        client
            .execute(
                "INSERT INTO rtchat_rooms (id, private, key_hash, created_at) VALUES ($1, false, NULL, $2)
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &now_ms()],
            )
            .await
            .map_err(backend)?;
        Self::select_room(&client, id)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("room {id:?} vanished")))
    }

    async fn rooms(&self) -> Result<Vec<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rtchat_rooms ORDER BY id");
        let rows = self.reader().await?.query(&sql, &[]).await.map_err(backend)?;
        rows.iter().map(room_from_row).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.reader().await?.simple_query("SELECT 1").await.map_err(backend)?;
        Ok(())
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.writer.lock().await.take();
        self.reader.lock().await.take();
        Ok(())
    }
}
