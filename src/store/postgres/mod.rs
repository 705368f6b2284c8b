//! The PostgreSQL store, for several rtchat processes sharing one history.
//!
//! Message ids come from one sequence, taken while holding a per-room advisory
//! lock until commit, so within a room ids are unique across processes and
//! increase in commit order: a reader asking for `after` never skips a message
//! another process commits later. Connections are re-established on demand, so
//! the store recovers by itself when the database comes back.
//!
//! An operation dropped midway (its deadline passed, see [`super::deadline`])
//! drops its connection with it: the connection may be inside a transaction or
//! waiting on a stalled network, so it is closed, never reused, and the next
//! operation connects afresh. TCP keepalives and a user timeout make the
//! kernel give up on a peer that stopped answering even when nobody waits.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

use super::sql::{self, FILE_COLUMNS, ROOM_COLUMNS};
use super::{Appended, Listed, Page, RoomQuery, Store, StoreError};
use crate::model::{Change, File, Message, NewMessage, Room, now_ms};

mod queries;
mod schema;
use queries::{
    append_batch, change_message, delete_room, file_from_row, identity_secret, insert_room, list_rooms,
    read_page, room_from_row,
};
use schema::SCHEMA;

/// How long a TCP connect may take, unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Idle time before TCP keepalive probes start, the gap between probes, and
/// how many unanswered probes close the connection.
const KEEPALIVE: (Duration, Duration, u32) = (Duration::from_secs(10), Duration::from_secs(5), 3);
/// How long sent data may stay unacknowledged before the kernel closes the
/// connection (`TCP_USER_TIMEOUT`).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);

/// PostgreSQL behind the [`Store`] trait.
pub struct PostgresStore {
    config: Config,
    /// Appends and room changes, in transactions.
    writer: Mutex<Option<Conn>>,
    /// History and room reads.
    reader: Mutex<Option<Conn>>,
    closed: std::sync::atomic::AtomicBool,
}

/// A client and the task driving its socket; dropping it closes the socket
/// at once, whatever it was waiting for.
struct Conn {
    client: Client,
    task: Option<JoinHandle<()>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A connection taken out of its slot for one operation. [`Lease::done`]
/// puts it back; a lease dropped before that (the operation was cancelled)
/// drops the connection instead.
struct Lease<'a> {
    slot: MutexGuard<'a, Option<Conn>>,
    conn: Conn,
}

impl Lease<'_> {
    /// The operation finished (well or not): the connection may be reused.
    fn done(self) {
        let Lease { mut slot, conn } = self;
        *slot = Some(conn);
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.conn.client
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.conn.client
    }
}

pub(super) fn backend(e: tokio_postgres::Error) -> StoreError {
    let detail = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string());
    StoreError::Backend(detail)
}

/// The URL's settings, with a connect timeout, keepalives and a user timeout.
fn config(url: &str) -> Result<Config, StoreError> {
    let mut config: Config = url.parse().map_err(backend)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let (idle, interval, retries) = KEEPALIVE;
    config
        .keepalives(true)
        .keepalives_idle(idle)
        .keepalives_interval(interval)
        .keepalives_retries(retries)
        .tcp_user_timeout(TCP_USER_TIMEOUT);
    Ok(config)
}

async fn connect(config: &Config) -> Result<Conn, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(backend)?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection lost");
        }
    });
    Ok(Conn { client, task: Some(task) })
}

impl PostgresStore {
    /// Connects and brings the schema up to date (safe with several processes starting at once).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config = config(url)?;
        let mut conn = connect(&config).await?;
        let tx = conn.client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('rtchat:migrate'))", &[]).await.map_err(backend)?;
        tx.batch_execute(SCHEMA).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Self {
            config,
            writer: Mutex::new(Some(conn)),
            reader: Mutex::new(None),
            closed: Default::default(),
        })
    }

    /// The live connection in `slot`, reconnecting when the last one was
    /// lost, leased for one operation.
    async fn live<'a>(&self, slot: &'a Mutex<Option<Conn>>) -> Result<Lease<'a>, StoreError> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let mut slot = slot.lock().await;
        let conn = match slot.take() {
            Some(conn) if !conn.client.is_closed() => conn,
            _ => connect(&self.config).await?,
        };
        Ok(Lease { slot, conn })
    }

    /// The connection for appends and room changes.
    async fn writer(&self) -> Result<Lease<'_>, StoreError> {
        self.live(&self.writer).await
    }

    /// The connection for reads.
    async fn reader(&self) -> Result<Lease<'_>, StoreError> {
        self.live(&self.reader).await
    }

    /// Reads the room `id` on `client`.
    async fn select_room(client: &Client, id: &str) -> Result<Option<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rtchat_rooms WHERE id = $1");
        client.query_opt(&sql, &[&id]).await.map_err(backend)?.as_ref().map(room_from_row).transpose()
    }
}

/// Each operation leases a connection, runs, and hands the connection back
/// only once it has finished (see the module doc).
#[async_trait]
impl Store for PostgresStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        let mut lease = self.writer().await?;
        let out = append_batch(&mut lease, batch).await;
        lease.done();
        out
    }

    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError> {
        let lease = self.reader().await?;
        let out = read_page(&lease, room, page, limit).await;
        lease.done();
        out
    }

    async fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        let lease = self.reader().await?;
        let out = Self::select_room(&lease, id).await;
        lease.done();
        out
    }

    async fn create_room(&self, room: Room) -> Result<(), StoreError> {
        let lease = self.writer().await?;
        let inserted = insert_room(&lease, &room).await;
        lease.done();
        match inserted? {
            true => Ok(()),
            false => Err(StoreError::RoomExists(room.id)),
        }
    }

    async fn ensure_room(&self, id: &str) -> Result<Room, StoreError> {
        if let Some(room) = self.room(id).await? {
            return Ok(room);
        }
        let lease = self.writer().await?;
        let out = match insert_room(&lease, &Room::public(id)).await {
            Ok(_) => Self::select_room(&lease, id).await,
            Err(e) => Err(e),
        };
        lease.done();
        out?.ok_or_else(|| StoreError::Backend(format!("room {id:?} vanished")))
    }

    async fn rooms(&self, query: RoomQuery) -> Result<Vec<Listed>, StoreError> {
        let lease = self.reader().await?;
        let out = list_rooms(&lease, query).await;
        lease.done();
        out
    }

    async fn room_count(&self) -> Result<usize, StoreError> {
        let lease = self.reader().await?;
        let out = lease.query_one("SELECT COUNT(*) FROM rtchat_rooms", &[]).await;
        lease.done();
        out.and_then(|row| row.try_get::<_, i64>(0)).map(|n| n as usize).map_err(backend)
    }

    async fn delete_room_if_unused(&self, id: &str) -> Result<bool, StoreError> {
        let sql = sql::delete_unused_room("rtchat_rooms", "rtchat_messages", "$1");
        let lease = self.writer().await?;
        let out = lease.execute(&sql, &[&id]).await;
        lease.done();
        Ok(out.map_err(backend)? > 0)
    }

    async fn change(&self, change: Change) -> Result<Message, StoreError> {
        let mut lease = self.writer().await?;
        let out = change_message(&mut lease, change).await;
        lease.done();
        out
    }

    async fn delete_room(&self, id: &str, by: &str) -> Result<(), StoreError> {
        let mut lease = self.writer().await?;
        let out = delete_room(&mut lease, id, by).await;
        lease.done();
        out
    }

    async fn put_file(&self, file: File, data: Vec<u8>) -> Result<(), StoreError> {
        let lease = self.writer().await?;
        let (size, width, height) = (file.size as i64, file.width.map(i64::from), file.height.map(i64::from));
        let out = lease
            .execute(
                "INSERT INTO rtchat_files (id, room, name, type, size, width, height, data, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &file.id,
                    &file.room,
                    &file.name,
                    &file.media_type,
                    &size,
                    &width,
                    &height,
                    &data,
                    &now_ms(),
                ],
            )
            .await;
        lease.done();
        out.map(drop).map_err(backend)
    }

    async fn file(&self, id: &str) -> Result<Option<(File, Vec<u8>)>, StoreError> {
        let lease = self.reader().await?;
        let sql = format!("SELECT {FILE_COLUMNS}, data FROM rtchat_files WHERE id = $1");
        let out = lease.query_opt(&sql, &[&id]).await;
        lease.done();
        match out.map_err(backend)? {
            Some(row) => Ok(Some((file_from_row(&row)?, row.try_get(7).map_err(backend)?))),
            None => Ok(None),
        }
    }

    async fn room_files(&self, room: &str, ids: Vec<String>) -> Result<Vec<File>, StoreError> {
        let lease = self.reader().await?;
        let sql = format!("SELECT {FILE_COLUMNS} FROM rtchat_files WHERE room = $1 AND id = ANY($2)");
        let out = lease.query(&sql, &[&room, &ids]).await;
        lease.done();
        out.map_err(backend)?.iter().map(file_from_row).collect()
    }

    async fn files_size(&self) -> Result<u64, StoreError> {
        let lease = self.reader().await?;
        let out = lease.query_one("SELECT COALESCE(SUM(size), 0)::BIGINT FROM rtchat_files", &[]).await;
        lease.done();
        out.and_then(|row| row.try_get::<_, i64>(0)).map(|n| n.max(0) as u64).map_err(backend)
    }

    async fn user_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        let lease = self.reader().await?;
        let out = lease.query_opt("SELECT name FROM rtchat_users WHERE id = $1", &[&id]).await;
        lease.done();
        out.map_err(backend)?.map(|row| row.try_get(0).map_err(backend)).transpose()
    }

    async fn set_user_name(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let lease = self.writer().await?;
        let out = lease
            .execute(
                "INSERT INTO rtchat_users (id, name, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                &[&id, &name, &now_ms()],
            )
            .await;
        lease.done();
        out.map(drop).map_err(backend)
    }

    async fn identity_secret(&self) -> Result<[u8; 32], StoreError> {
        let lease = self.writer().await?;
        let out = identity_secret(&lease).await;
        lease.done();
        out
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let lease = self.reader().await?;
        let out = lease.simple_query("SELECT 1").await.map(drop).map_err(backend);
        lease.done();
        out
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        for slot in [&self.writer, &self.reader] {
            if let Some(mut conn) = slot.lock().await.take() {
                // Dropping the client lets its task say goodbye to the server.
                let Some(mut task) = conn.task.take() else { continue };
                drop(conn);
                if tokio::time::timeout(Duration::from_secs(1), &mut task).await.is_err() {
                    task.abort();
                }
            }
        }
        Ok(())
    }
}
