//! The SQLite store: one writer connection that commits whole batches, and a few
//! read-only connections so history reads never wait behind a commit (WAL mode).
//! A file database is locked against a second server, and writes are refused
//! once the file is deleted or replaced ([`file`]).

mod file;
mod schema;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use self::file::{FileGuard, LastWrite};
use crate::model::{Change, File, Message, NewMessage, Room, now_ms};
use crate::store::sql::{
    self, FILE_COLUMNS, MESSAGE_COLUMNS, ROOM_COLUMNS, file_row, message_row, room_row, seq_param,
};
use crate::store::{Appended, DbTarget, Listed, Page, RoomQuery, Store, StoreError};

/// Read-only connections opened beside the writer for file databases.
const READERS: usize = 2;

/// SQLite behind the [`Store`] trait.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The file's lock and identity; `None` in memory.
    file: Option<FileGuard>,
    /// Whether the last write failed, for the health check.
    last_write: LastWrite,
    writer: Mutex<Option<Writer>>,
    readers: Vec<Mutex<Option<Connection>>>,
    next_reader: AtomicUsize,
}

struct Writer {
    conn: Connection,
    next_seq: u64,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Runs blocking database work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Backend(e.to_string()))?
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub async fn open(target: DbTarget) -> Result<Self, StoreError> {
        blocking(move || Self::open_blocking(&target)).await
    }

    fn open_blocking(target: &DbTarget) -> Result<Self, StoreError> {
        let (conn, path) = match target {
            DbTarget::Memory => (Connection::open_in_memory().map_err(backend)?, None),
            DbTarget::Postgres(_) => return Err(StoreError::Backend("not a SQLite target".into())),
            DbTarget::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
                }
                (Connection::open(path).map_err(backend)?, Some(path.as_path()))
            }
        };
        conn.pragma_update(None, "busy_timeout", 5000).map_err(backend)?;
        if path.is_some() {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(backend)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!("could not switch to WAL mode (got {mode})")));
            }
        }
        // FULL syncs the WAL on every commit: an acknowledged message survives a
        // power cut, not only a crash. Group commit keeps that affordable.
        conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(backend)?;
        // Only once the file proved to be a database, so that a wrong --db
        // leaves no lock file behind.
        let file = path.map(|p| FileGuard::lock(p)?.opened()).transpose()?;
        schema::migrate(&conn)?;
        let last: Option<i64> =
            conn.query_row("SELECT MAX(seq) FROM messages", [], |r| r.get(0)).map_err(backend)?;
        let next_seq = last.map_or(1, |s| s as u64 + 1);

        let readers = match path {
            Some(path) => (0..READERS)
                .map(|_| open_reader(path).map(|c| Mutex::new(Some(c))))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                file,
                last_write: LastWrite::default(),
                writer: Mutex::new(Some(Writer { conn, next_seq })),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs `f` on the writer connection off the async threads, unless the
    /// file is gone; remembers whether it failed.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            inner.file.as_ref().map_or(Ok(()), FileGuard::check)?;
            let outcome = f(lock(&inner.writer).as_mut().ok_or(StoreError::Closed)?);
            inner.last_write.record(&outcome);
            outcome
        })
        .await
    }

    /// Runs `f` on a reader connection (the writer for in-memory databases).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.inner.readers.is_empty() {
            return self.write(move |w| f(&w.conn)).await;
        }
        let inner = self.inner.clone();
        blocking(move || {
            let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            f(lock(&inner.readers[i]).as_ref().ok_or(StoreError::Closed)?)
        })
        .await
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.pragma_update(None, "busy_timeout", 5000).map_err(backend)?;
    Ok(conn)
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(message_row!(row.get))
}

fn room_from_row(row: &Row<'_>) -> rusqlite::Result<Room> {
    Ok(room_row!(row.get))
}

fn append_batch(w: &mut Writer, batch: Vec<NewMessage>) -> rusqlite::Result<Vec<Appended>> {
    let mut next = w.next_seq;
    let tx = w.conn.transaction()?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut find = tx.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = ?1 AND author = ?2 AND client_id = ?3"
        ))?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (seq, room, user_id, user_name, text, ts, client_id, author, files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for m in batch {
            let author = m.author();
            if let Some(client_id) = &m.client_id {
                let earlier =
                    find.query_row(params![m.room, author, client_id], message_from_row).optional()?;
                if let Some(message) = earlier {
                    out.push(Appended { message, duplicate: true });
                    continue;
                }
            }
            let seq = next;
            next += 1;
            insert.execute(params![
                seq_param(seq),
                m.room,
                m.user.id,
                m.user.name,
                m.text,
                m.ts,
                m.client_id,
                author,
                sql::files_column(&m.files)
            ])?;
            out.push(Appended { message: m.stored(seq), duplicate: false });
        }
        let mut touch =
            tx.prepare_cached("UPDATE rooms SET last_active = MAX(last_active, ?2) WHERE id = ?1")?;
        for (room, ts) in sql::activity(&out) {
            touch.execute(params![room, ts])?;
        }
    }
    tx.commit()?;
    w.next_seq = next;
    Ok(out)
}

fn read_page(conn: &Connection, room: &str, page: Page, limit: usize) -> rusqlite::Result<Vec<Message>> {
    let bounds = page.bounds();
    let sql = sql::history_query("messages", bounds.newest_first, |i| format!("?{i}"));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![room, limit as i64, bounds.after, bounds.before], message_from_row)?;
    Ok(sql::oldest_first(rows.collect::<rusqlite::Result<_>>()?, &bounds))
}

/// Applies a change to a message in one transaction (see [`sql::changed`]).
fn change_message(conn: &mut Connection, change: Change) -> Result<Message, StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let stored = tx
        .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = ?1 AND seq = ?2"))
        .and_then(|mut s| {
            s.query_row(params![change.room, seq_param(change.seq)], message_from_row).optional()
        })
        .map_err(backend)?;
    let seq = seq_param(change.seq);
    let before = stored.as_ref().map(|m| m.files.clone()).unwrap_or_default();
    let message = sql::changed(stored, change)?;
    tx.execute(
        "UPDATE messages SET text = ?2, edited = ?3, deleted = ?4, files = ?5 WHERE seq = ?1",
        params![seq, message.text, message.edited, message.deleted, sql::files_column(&message.files)],
    )
    .map_err(backend)?;
    for gone in before.iter().filter(|f| !message.files.contains(f)) {
        tx.execute("DELETE FROM files WHERE id = ?1", [&gone.id]).map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(message)
}

/// Deletes a room and its messages in one transaction, if `by` created it.
fn delete_room(conn: &mut Connection, id: &str, by: &str) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let room = select_room(&tx, id).map_err(backend)?;
    let room = room.ok_or_else(|| StoreError::NotFound(format!("there is no room {id:?}")))?;
    sql::may_delete_room(room.creator.as_deref(), by)?;
    tx.execute("DELETE FROM messages WHERE room = ?1", [id]).map_err(backend)?;
    tx.execute("DELETE FROM files WHERE room = ?1", [id]).map_err(backend)?;
    tx.execute("DELETE FROM rooms WHERE id = ?1", [id]).map_err(backend)?;
    tx.commit().map_err(backend)
}

fn file_from_row(row: &Row<'_>) -> rusqlite::Result<File> {
    Ok(file_row!(row.get))
}

fn select_room(conn: &Connection, id: &str) -> rusqlite::Result<Option<Room>> {
    conn.prepare_cached(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = ?1"))?
        .query_row([id], room_from_row)
        .optional()
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        self.write(move |w| append_batch(w, batch).map_err(backend)).await
    }

    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError> {
        let room = room.to_owned();
        self.read(move |c| read_page(c, &room, page, limit).map_err(backend)).await
    }

    async fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| select_room(c, &id).map_err(backend)).await
    }

    async fn create_room(&self, room: Room) -> Result<(), StoreError> {
        self.write(move |w| {
            let inserted = w
                .conn
                .execute(
                    "INSERT INTO rooms (id, private, key_hash, name, creator, created_at, last_active)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (id) DO NOTHING",
                    params![
                        room.id,
                        room.private,
                        room.key_hash.map(|k| k.to_vec()),
                        room.name,
                        room.creator,
                        now_ms()
                    ],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::RoomExists(room.id));
            }
            Ok(())
        })
        .await
    }

    async fn ensure_room(&self, id: &str) -> Result<Room, StoreError> {
        if let Some(room) = self.room(id).await? {
            return Ok(room);
        }
        let id = id.to_owned();
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT INTO rooms (id, private, key_hash, created_at, last_active)
                     VALUES (?1, 0, NULL, ?2, ?2) ON CONFLICT (id) DO NOTHING",
                    params![id, now_ms()],
                )
                .map_err(backend)?;
            select_room(&w.conn, &id)
                .map_err(backend)?
                .ok_or_else(|| StoreError::Backend(format!("room {id:?} vanished")))
        })
        .await
    }

    async fn rooms(&self, query: RoomQuery) -> Result<Vec<Listed>, StoreError> {
        let private =
            serde_json::to_string(&query.private).map_err(|e| StoreError::Backend(e.to_string()))?;
        let after = query.after.unwrap_or_else(sql::first_cursor);
        self.read(move |c| {
            let sql = sql::rooms_query("rooms", "SELECT value FROM json_each(?1)", |i| format!("?{i}"));
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let params = params![private, after.last_active, after.id, query.limit as i64];
            let rows = stmt
                .query_map(params, |row| {
                    Ok(Listed { room: room_from_row(row)?, last_active: row.get(sql::LAST_ACTIVE)? })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn room_count(&self) -> Result<usize, StoreError> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM rooms", [], |r| r.get::<_, i64>(0)).map_err(backend))
            .await
            .map(|n| n as usize)
    }

    async fn delete_room_if_unused(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |w| {
            let sql = sql::delete_unused_room("rooms", "messages", "?1");
            w.conn.execute(&sql, [&id]).map(|n| n > 0).map_err(backend)
        })
        .await
    }

    async fn change(&self, change: Change) -> Result<Message, StoreError> {
        self.write(move |w| change_message(&mut w.conn, change)).await
    }

    async fn delete_room(&self, id: &str, by: &str) -> Result<(), StoreError> {
        let (id, by) = (id.to_owned(), by.to_owned());
        self.write(move |w| delete_room(&mut w.conn, &id, &by)).await
    }

    async fn put_file(&self, file: File, data: Vec<u8>) -> Result<(), StoreError> {
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT INTO files (id, room, name, type, size, width, height, data, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        file.id,
                        file.room,
                        file.name,
                        file.media_type,
                        file.size as i64,
                        file.width,
                        file.height,
                        data,
                        now_ms()
                    ],
                )
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn file(&self, id: &str) -> Result<Option<(File, Vec<u8>)>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {FILE_COLUMNS}, data FROM files WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id], |r| Ok((file_from_row(r)?, r.get(7)?))).optional())
                .map_err(backend)
        })
        .await
    }

    async fn room_files(&self, room: &str, ids: Vec<String>) -> Result<Vec<File>, StoreError> {
        let room = room.to_owned();
        let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |c| {
            let sql = format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE room = ?1 AND id IN (SELECT value FROM json_each(?2))"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt.query_map(params![room, ids], file_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn files_size(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT COALESCE(SUM(size), 0) FROM files", [], |r| r.get::<_, i64>(0))
                .map_err(backend)
        })
        .await
        .map(|n| n.max(0) as u64)
    }

    async fn user_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT name FROM users WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(backend)
        })
        .await
    }

    async fn set_user_name(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let (id, name) = (id.to_owned(), name.to_owned());
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT INTO users (id, name, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                    params![id, name, now_ms()],
                )
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn identity_secret(&self) -> Result<[u8; 32], StoreError> {
        let fresh = sql::fresh_secret();
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT INTO secrets (name, value) VALUES ('identity', ?1) ON CONFLICT (name) DO NOTHING",
                    [fresh.to_vec()],
                )
                .map_err(backend)?;
            let kept: Vec<u8> = w
                .conn
                .query_row("SELECT value FROM secrets WHERE name = 'identity'", [], |r| r.get(0))
                .map_err(backend)?;
            sql::secret(kept)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.file.as_ref().map_or(Ok(()), FileGuard::check)?;
        self.inner.last_write.check()?;
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            for reader in &inner.readers {
                lock(reader).take();
            }
            let writer = lock(&inner.writer).take();
            let closed = writer.map_or(Ok(()), |w| w.conn.close().map_err(|(_, e)| backend(e)));
            if let Some(file) = &inner.file {
                file.release();
            }
            closed
        })
        .await
    }
}

#[cfg(test)]
mod tests;
