//! The PostgreSQL store, for several rtchat processes sharing one history.
//!
//! Message ids come from one sequence, taken while holding a per-room advisory
//! lock until commit, so within a room ids are unique across processes and
//! increase in commit order: a reader asking for `after` never skips a message
//! another process commits later. Connections are re-established on demand, so
//! the store recovers by itself when the database comes back.

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Row};

use super::{Appended, NewMessage, Page, RoomRecord, Store, StoreError, message_id};
use crate::chat::protocol::{Message, User};

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

const COLUMNS: &str = "seq, room, user_id, user_name, text, ts, client_id";

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

    /// A live connection in `slot`, reconnecting when the last one was lost.
    async fn live<'a>(
        &self,
        slot: &'a Mutex<Option<Client>>,
    ) -> Result<tokio::sync::MutexGuard<'a, Option<Client>>, StoreError> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let mut guard = slot.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(connect(&self.url).await?);
        }
        Ok(guard)
    }
}

fn message_from_row(row: &Row) -> Message {
    Message {
        id: message_id(row.get::<_, i64>(0) as u64),
        room: row.get(1),
        user: User { id: row.get(2), name: row.get(3) },
        text: row.get(4),
        ts: row.get(5),
        client_id: row.get(6),
    }
}

fn room_from_row(row: &Row) -> RoomRecord {
    let key: Option<Vec<u8>> = row.get(2);
    RoomRecord {
        id: row.get(0),
        private: row.get(1),
        key_hash: key.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok()),
    }
}

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[async_trait]
impl Store for PostgresStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        let mut guard = self.live(&self.writer).await?;
        let client = guard.as_mut().expect("live() fills the slot");
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
                "SELECT {COLUMNS} FROM rtchat_messages WHERE room = $1 AND user_name = $2 AND client_id = $3"
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
                out.push(Appended { message: message_from_row(&row), duplicate: true });
                continue;
            }
            let row = tx
                .query_one(&insert, &[&m.room, &m.user.id, &m.user.name, &m.text, &m.ts, &m.client_id])
                .await
                .map_err(backend)?;
            let seq: i64 = row.get(0);
            out.push(Appended { message: m.stored(seq as u64), duplicate: false });
        }
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError> {
        let guard = self.live(&self.reader).await?;
        let client = guard.as_ref().expect("live() fills the slot");
        let limit = limit as i64;
        let base = format!("SELECT {COLUMNS} FROM rtchat_messages WHERE room = $1");
        let (rows, newest_first) = match page {
            Page::Latest => {
                (client.query(&format!("{base} ORDER BY seq DESC LIMIT $2"), &[&room, &limit]).await, true)
            }
            Page::Before(b) => (
                client
                    .query(
                        &format!("{base} AND seq < $3 ORDER BY seq DESC LIMIT $2"),
                        &[&room, &limit, &seq_param(b)],
                    )
                    .await,
                true,
            ),
            Page::After(a) => (
                client
                    .query(
                        &format!("{base} AND seq > $3 ORDER BY seq ASC LIMIT $2"),
                        &[&room, &limit, &seq_param(a)],
                    )
                    .await,
                false,
            ),
            Page::Between { after, before } => (
                client
                    .query(
                        &format!("{base} AND seq > $3 AND seq < $4 ORDER BY seq ASC LIMIT $2"),
                        &[&room, &limit, &seq_param(after), &seq_param(before)],
                    )
                    .await,
                false,
            ),
        };
        let mut messages: Vec<Message> = rows.map_err(backend)?.iter().map(message_from_row).collect();
        if newest_first {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        let guard = self.live(&self.reader).await?;
        let client = guard.as_ref().expect("live() fills the slot");
        let row = client
            .query_opt("SELECT id, private, key_hash FROM rtchat_rooms WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(room_from_row))
    }

    async fn create_room(&self, room: RoomRecord) -> Result<(), StoreError> {
        let guard = self.live(&self.writer).await?;
        let client = guard.as_ref().expect("live() fills the slot");
        let key = room.key_hash.map(|k| k.to_vec());
        let inserted = client
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

    async fn ensure_room(&self, id: &str) -> Result<RoomRecord, StoreError> {
        if let Some(room) = self.room(id).await? {
            return Ok(room);
        }
        let guard = self.live(&self.writer).await?;
        let client = guard.as_ref().expect("live() fills the slot");
        client
            .execute(
                "INSERT INTO rtchat_rooms (id, private, key_hash, created_at) VALUES ($1, false, NULL, $2)
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &now_ms()],
            )
            .await
            .map_err(backend)?;
        let row = client
            .query_one("SELECT id, private, key_hash FROM rtchat_rooms WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        Ok(room_from_row(&row))
    }

    async fn rooms(&self) -> Result<Vec<RoomRecord>, StoreError> {
        let guard = self.live(&self.reader).await?;
        let client = guard.as_ref().expect("live() fills the slot");
        let rows = client
            .query("SELECT id, private, key_hash FROM rtchat_rooms ORDER BY id", &[])
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(room_from_row).collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let guard = self.live(&self.reader).await?;
        let client = guard.as_ref().expect("live() fills the slot");
        client.simple_query("SELECT 1").await.map_err(backend)?;
        Ok(())
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.writer.lock().await.take();
        self.reader.lock().await.take();
        Ok(())
    }
}
