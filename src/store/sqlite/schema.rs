//! The SQLite schema and its migrations.

use rusqlite::Connection;

use super::backend;
use crate::store::StoreError;

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE rooms (
        id         TEXT PRIMARY KEY,
        private    INTEGER NOT NULL,
        key_hash   BLOB,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE messages (
        seq        INTEGER PRIMARY KEY,
        room       TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        user_name  TEXT NOT NULL,
        text       TEXT NOT NULL,
        ts         INTEGER NOT NULL,
        client_id  TEXT
    ) STRICT;
    CREATE INDEX messages_by_room ON messages (room, seq);
    CREATE UNIQUE INDEX messages_resend ON messages (room, user_name, client_id)
        WHERE client_id IS NOT NULL;
"#,
    r#"
    ALTER TABLE rooms ADD COLUMN name TEXT;
"#,
    r#"
    ALTER TABLE rooms ADD COLUMN last_active INTEGER NOT NULL DEFAULT 0;
    UPDATE rooms SET last_active = COALESCE((SELECT MAX(ts) FROM messages WHERE room = rooms.id), created_at);
    CREATE INDEX rooms_by_activity ON rooms (last_active DESC, id);
"#,
    // Stable identities: a resend is recognised by its author (the stable
    // user id, or `~name` for senders without one), messages can be edited
    // and deleted, and rooms remember who created them.
    r#"
    ALTER TABLE rooms ADD COLUMN creator TEXT;
    ALTER TABLE messages ADD COLUMN edited INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN author TEXT NOT NULL DEFAULT '';
    UPDATE messages SET author = '~' || user_name;
    DROP INDEX messages_resend;
    CREATE UNIQUE INDEX messages_resend_by_author ON messages (room, author, client_id)
        WHERE client_id IS NOT NULL;
    CREATE TABLE users (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        value      BLOB NOT NULL
    ) STRICT;
"#,
    // Files: uploaded to a room, attached to messages (their records are
    // copied into the message's `files`, as JSON).
    r#"
    ALTER TABLE messages ADD COLUMN files TEXT;
    CREATE TABLE files (
        id         TEXT PRIMARY KEY,
        room       TEXT NOT NULL,
        name       TEXT NOT NULL,
        type       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        width      INTEGER,
        height     INTEGER,
        data       BLOB NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX files_by_room ON files (room);
"#,
];

/// Brings the schema up to date; refuses a database from a newer rtchat.
pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).map_err(backend)? as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database was written by a newer rtchat (schema {version}, this one knows {})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let batch = format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1);
        conn.execute_batch(&batch).map_err(backend)?;
    }
    Ok(())
}
