//! The SQL each PostgreSQL store operation runs, on a leased connection,
//! and the mapping of rows to domain types.

use tokio_postgres::{Client, Row};

use super::backend;
use crate::model::{Change, File, Message, NewMessage, Room, now_ms};
use crate::store::sql::{self, MESSAGE_COLUMNS, ROOM_COLUMNS, file_row, message_row, room_row};
use crate::store::{Appended, Listed, Page, RoomQuery, StoreError};

pub(super) fn message_from_row(row: &Row) -> Result<Message, StoreError> {
    let read = || -> Result<Message, tokio_postgres::Error> { Ok(message_row!(row.try_get)) };
    read().map_err(backend)
}

pub(super) fn file_from_row(row: &Row) -> Result<File, StoreError> {
    let read = || -> Result<File, tokio_postgres::Error> { Ok(file_row!(row.try_get)) };
    read().map_err(backend)
}

pub(super) fn room_from_row(row: &Row) -> Result<Room, StoreError> {
    let read = || -> Result<Room, tokio_postgres::Error> { Ok(room_row!(row.try_get)) };
    read().map_err(backend)
}

/// Stores a batch in one transaction on `client`.
pub(super) async fn append_batch(
    client: &mut Client,
    batch: Vec<NewMessage>,
) -> Result<Vec<Appended>, StoreError> {
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
            "SELECT {MESSAGE_COLUMNS} FROM rtchat_messages WHERE room = $1 AND author = $2 AND client_id = $3"
        ))
        .await
        .map_err(backend)?;
    let insert = tx
        .prepare(
            "INSERT INTO rtchat_messages (seq, room, user_id, user_name, text, ts, client_id, author, files)
             VALUES (nextval('rtchat_message_seq'), $1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
        )
        .await
        .map_err(backend)?;
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        let author = m.author();
        if let Some(client_id) = &m.client_id
            && let Some(row) = tx.query_opt(&find, &[&m.room, &author, client_id]).await.map_err(backend)?
        {
            out.push(Appended { message: message_from_row(&row)?, duplicate: true });
            continue;
        }
        let row = tx
            .query_one(
                &insert,
                &[
                    &m.room,
                    &m.user.id,
                    &m.user.name,
                    &m.text,
                    &m.ts,
                    &m.client_id,
                    &author,
                    &sql::files_column(&m.files),
                ],
            )
            .await
            .map_err(backend)?;
        let seq: i64 = row.try_get(0).map_err(backend)?;
        out.push(Appended { message: m.stored(seq as u64), duplicate: false });
    }
    for (room, ts) in sql::activity(&out) {
        tx.execute(
            "UPDATE rtchat_rooms SET last_active = GREATEST(last_active, $2) WHERE id = $1",
            &[&room, &ts],
        )
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(out)
}

/// Reads a page of a room's history on `client`.
pub(super) async fn read_page(
    client: &Client,
    room: &str,
    page: Page,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let bounds = page.bounds();
    let query = sql::history_query("rtchat_messages", bounds.newest_first, |i| format!("${i}"));
    let rows = client
        .query(&query, &[&room, &(limit as i64), &bounds.after, &bounds.before])
        .await
        .map_err(backend)?;
    let messages = rows.iter().map(message_from_row).collect::<Result<_, _>>()?;
    Ok(sql::oldest_first(messages, &bounds))
}

/// Inserts a room unless its id is taken; returns whether it was inserted.
pub(super) async fn insert_room(client: &Client, room: &Room) -> Result<bool, StoreError> {
    let key = room.key_hash.map(|k| k.to_vec());
    let inserted = client
        .execute(
            "INSERT INTO rtchat_rooms (id, private, key_hash, name, creator, created_at, last_active)
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
            &[&room.id, &room.private, &key, &room.name, &room.creator, &now_ms()],
        )
        .await
        .map_err(backend)?;
    Ok(inserted > 0)
}

/// Applies a change to a message in one transaction on `client` (see [`sql::changed`]).
pub(super) async fn change_message(client: &mut Client, change: Change) -> Result<Message, StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    let seq = sql::seq_param(change.seq);
    let query =
        format!("SELECT {MESSAGE_COLUMNS} FROM rtchat_messages WHERE room = $1 AND seq = $2 FOR UPDATE");
    let row = tx.query_opt(&query, &[&change.room, &seq]).await.map_err(backend)?;
    let stored = row.as_ref().map(message_from_row).transpose()?;
    let before = stored.as_ref().map(|m| m.files.clone()).unwrap_or_default();
    let message = sql::changed(stored, change)?;
    tx.execute(
        "UPDATE rtchat_messages SET text = $2, edited = $3, deleted = $4, files = $5 WHERE seq = $1",
        &[&seq, &message.text, &message.edited, &message.deleted, &sql::files_column(&message.files)],
    )
    .await
    .map_err(backend)?;
    for gone in before.iter().filter(|f| !message.files.contains(f)) {
        tx.execute("DELETE FROM rtchat_files WHERE id = $1", &[&gone.id]).await.map_err(backend)?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(message)
}

/// Deletes a room and its messages in one transaction on `client`, if `by` created it.
pub(super) async fn delete_room(client: &mut Client, id: &str, by: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    // The room's lock, taken first as appends take it, keeps them out meanwhile.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('rtchat:room:' || $1))", &[&id])
        .await
        .map_err(backend)?;
    let query = format!("SELECT {ROOM_COLUMNS} FROM rtchat_rooms WHERE id = $1");
    let row = tx.query_opt(&query, &[&id]).await.map_err(backend)?;
    let room = row.as_ref().map(room_from_row).transpose()?;
    let room = room.ok_or_else(|| StoreError::NotFound(format!("there is no room {id:?}")))?;
    sql::may_delete_room(room.creator.as_deref(), by)?;
    tx.execute("DELETE FROM rtchat_messages WHERE room = $1", &[&id]).await.map_err(backend)?;
    tx.execute("DELETE FROM rtchat_files WHERE room = $1", &[&id]).await.map_err(backend)?;
    tx.execute("DELETE FROM rtchat_rooms WHERE id = $1", &[&id]).await.map_err(backend)?;
    tx.commit().await.map_err(backend)
}

/// The identity secret on `client`, made the first time it is asked for.
pub(super) async fn identity_secret(client: &Client) -> Result<[u8; 32], StoreError> {
    let fresh = sql::fresh_secret().to_vec();
    client
        .execute(
            "INSERT INTO rtchat_secrets (name, value) VALUES ('identity', $1) ON CONFLICT (name) DO NOTHING",
            &[&fresh],
        )
        .await
        .map_err(backend)?;
    let row = client
        .query_one("SELECT value FROM rtchat_secrets WHERE name = 'identity'", &[])
        .await
        .map_err(backend)?;
    sql::secret(row.try_get(0).map_err(backend)?)
}

/// A page of rooms on `client`, most recently active first.
pub(super) async fn list_rooms(client: &Client, query: RoomQuery) -> Result<Vec<Listed>, StoreError> {
    let after = query.after.unwrap_or_else(sql::first_cursor);
    let sql = sql::rooms_query("rtchat_rooms", "SELECT unnest($1::text[])", |i| format!("${i}"));
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&query.private, &after.last_active, &after.id, &(query.limit as i64)];
    let rows = client.query(&sql, &params).await.map_err(backend)?;
    rows.iter()
        .map(|row| {
            Ok(Listed {
                room: room_from_row(row)?,
                last_active: row.try_get(sql::LAST_ACTIVE).map_err(backend)?,
            })
        })
        .collect()
}
