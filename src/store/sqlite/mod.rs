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
use crate::model::{Message, NewMessage, Room, now_ms};
use crate::store::sql::{self, MESSAGE_COLUMNS, ROOM_COLUMNS, message_row, room_row, seq_param};
use crate::store::{Appended, DbTarget, Page, Store, StoreError};

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
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = ?1 AND user_name = ?2 AND client_id = ?3"
        ))?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (seq, room, user_id, user_name, text, ts, client_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for m in batch {
            if let Some(client_id) = &m.client_id {
                let earlier =
                    find.query_row(params![m.room, m.user.name, client_id], message_from_row).optional()?;
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
                m.client_id
            ])?;
            out.push(Appended { message: m.stored(seq), duplicate: false });
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
                    "INSERT INTO rooms (id, private, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                    params![room.id, room.private, room.key_hash.map(|k| k.to_vec()), now_ms()],
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
                    "INSERT INTO rooms (id, private, key_hash, created_at) VALUES (?1, 0, NULL, ?2)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, now_ms()],
                )
                .map_err(backend)?;
            select_room(&w.conn, &id)
                .map_err(backend)?
                .ok_or_else(|| StoreError::Backend(format!("room {id:?} vanished")))
        })
        .await
    }

    async fn rooms(&self) -> Result<Vec<Room>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!("SELECT {ROOM_COLUMNS} FROM rooms ORDER BY id"))
                .map_err(backend)?;
            let rows = stmt.query_map([], room_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
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
mod tests {
    use super::*;
    use crate::model::{User, message_id};

    fn msg(room: &str, name: &str, text: &str, client_id: Option<&str>) -> NewMessage {
        NewMessage {
            room: room.into(),
            user: User { id: "sid".into(), name: name.into() },
            text: text.into(),
            ts: 1,
            client_id: client_id.map(Into::into),
        }
    }

    #[tokio::test]
    async fn appends_in_order_and_pages_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(DbTarget::Sqlite(dir.path().join("t.db"))).await.unwrap();
        let batch = (0..10).map(|i| msg("a", "ann", &format!("m{i}"), None)).collect();
        let out = store.append(batch).await.unwrap();
        let ids: Vec<_> = out.iter().map(|a| a.message.id.clone()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        store.append(vec![msg("b", "bob", "other room", None)]).await.unwrap();

        let texts = |v: Vec<Message>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
        assert_eq!(texts(store.history("a", Page::Latest, 3).await.unwrap()), ["m7", "m8", "m9"]);
        let before = crate::model::parse_message_id(&ids[5]).unwrap();
        assert_eq!(texts(store.history("a", Page::Before(before), 2).await.unwrap()), ["m3", "m4"]);
        assert_eq!(texts(store.history("a", Page::After(before), 2).await.unwrap()), ["m6", "m7"]);
        let after = crate::model::parse_message_id(&ids[1]).unwrap();
        assert_eq!(
            texts(store.history("a", Page::Between { after, before }, 50).await.unwrap()),
            ["m2", "m3", "m4"]
        );
        assert_eq!(store.history("b", Page::Latest, 50).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn same_client_id_from_same_name_is_stored_once() {
        let store = SqliteStore::open(DbTarget::Memory).await.unwrap();
        let first = store.append(vec![msg("a", "ann", "hello", Some("c1"))]).await.unwrap();
        let again = store
            .append(vec![msg("a", "ann", "hello again", Some("c1")), msg("a", "bob", "hi", Some("c1"))])
            .await
            .unwrap();
        assert!(!first[0].duplicate);
        assert!(again[0].duplicate);
        assert_eq!(again[0].message, first[0].message);
        assert!(!again[1].duplicate, "another name may use the same clientId");
        assert_eq!(store.history("a", Page::Latest, 50).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn history_and_rooms_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/t.db");
        let store = SqliteStore::open(DbTarget::Sqlite(path.clone())).await.unwrap();
        store.append(vec![msg("a", "ann", "kept", None)]).await.unwrap();
        store.create_room(Room { id: "p".into(), private: true, key_hash: Some([7; 32]) }).await.unwrap();
        assert!(matches!(
            store.create_room(Room { id: "p".into(), private: false, key_hash: None }).await,
            Err(StoreError::RoomExists(_))
        ));
        store.close().await.unwrap();
        assert!(matches!(store.ping().await, Err(StoreError::Closed)));

        let store = SqliteStore::open(DbTarget::Sqlite(path)).await.unwrap();
        assert_eq!(store.history("a", Page::Latest, 50).await.unwrap()[0].text, "kept");
        let room = store.room("p").await.unwrap().unwrap();
        assert!(room.private);
        assert_eq!(room.key_hash, Some([7; 32]));
        let next = store.append(vec![msg("a", "ann", "next", None)]).await.unwrap();
        assert_eq!(next[0].message.id, message_id(2), "sequence continues after a restart");
        assert!(!store.ensure_room("new").await.unwrap().private);
        assert_eq!(store.rooms().await.unwrap().len(), 2);
    }
}
