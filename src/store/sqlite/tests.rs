//! The SQLite store against real files.

use super::*;
use crate::model::{Edit, User, message_id};

fn msg(room: &str, name: &str, text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        room: room.into(),
        user: User { id: "sid".into(), name: name.into() },
        text: text.into(),
        ts: 1,
        client_id: client_id.map(Into::into),
        stable: false,
        files: Vec::new(),
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
    store.create_room(Room { key_hash: Some([7; 32]), ..Room::private("p", "P", "k") }).await.unwrap();
    assert!(matches!(store.create_room(Room::public("p")).await, Err(StoreError::RoomExists(_))));
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
    let listed = store.rooms(RoomQuery { private: vec!["p".into()], after: None, limit: 10 }).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|l| l.room.id.as_str()).collect();
    assert_eq!(ids, ["new", "p"], "most recently active first");
    let public = store.rooms(RoomQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(public.len(), 1, "private rooms only when named");
    let next = RoomQuery { private: vec!["p".into()], after: Some(listed[0].cursor()), limit: 1 };
    assert_eq!(store.rooms(next).await.unwrap()[0].room.id, "p", "a cursor continues after its room");
}

fn keyed(room: &str, id: &str, name: &str, client_id: &str) -> NewMessage {
    NewMessage {
        room: room.into(),
        user: User { id: id.into(), name: name.into() },
        text: "hi".into(),
        ts: 1,
        client_id: Some(client_id.into()),
        stable: true,
        files: Vec::new(),
    }
}

#[tokio::test]
async fn a_stable_author_resends_by_id_whatever_their_name() {
    let store = SqliteStore::open(DbTarget::Memory).await.unwrap();
    let first = store.append(vec![keyed("a", "u1", "ann", "c1")]).await.unwrap();
    let out = store
        .append(vec![
            keyed("a", "u1", "annie", "c1"),
            keyed("a", "u2", "ann", "c1"),
            msg("a", "ann", "unkeyed ann", Some("c1")),
        ])
        .await
        .unwrap();
    assert!(out[0].duplicate, "the same person after a rename");
    assert_eq!(out[0].message, first[0].message);
    assert!(!out[1].duplicate, "another person with the same name");
    assert!(!out[2].duplicate, "a client without a key is told apart by name");
}

#[tokio::test]
async fn only_authors_change_messages_and_history_shows_the_change() {
    let store = SqliteStore::open(DbTarget::Memory).await.unwrap();
    let sent = store.append(vec![keyed("a", "u1", "ann", "c1")]).await.unwrap().remove(0).message;
    let seq = crate::model::parse_message_id(&sent.id).unwrap();
    let change = |by: &str, edit: Edit| Change { room: "a".into(), seq, by: by.into(), edit, at: 50 };
    assert!(matches!(store.change(change("u2", Edit::Delete)).await, Err(StoreError::NotYours(_))));
    let wrong_room = Change { room: "b".into(), ..change("u1", Edit::Delete) };
    assert!(matches!(store.change(wrong_room).await, Err(StoreError::NotFound(_))));
    let edited = store.change(change("u1", Edit::Text("hello".into()))).await.unwrap();
    assert_eq!((edited.text.as_str(), edited.edited), ("hello", Some(50)));
    assert_eq!(store.history("a", Page::Latest, 10).await.unwrap(), std::slice::from_ref(&edited));
    let gone = store.change(change("u1", Edit::Delete)).await.unwrap();
    assert_eq!((gone.text.as_str(), gone.deleted, gone.edited), ("", true, Some(51)));
    assert_eq!(store.history("a", Page::Latest, 10).await.unwrap(), [gone]);
}

#[tokio::test]
async fn a_room_is_deleted_with_its_history_by_its_creator_only() {
    let store = SqliteStore::open(DbTarget::Memory).await.unwrap();
    store.create_room(Room::public("den").created_by(Some("u1".into()))).await.unwrap();
    store.ensure_room("open").await.unwrap();
    store.append(vec![keyed("den", "u2", "bob", "c1")]).await.unwrap();
    assert!(matches!(store.delete_room("den", "u2").await, Err(StoreError::NotYours(_))));
    assert!(matches!(store.delete_room("open", "u1").await, Err(StoreError::NotYours(_))), "no creator");
    assert!(matches!(store.delete_room("nope", "u1").await, Err(StoreError::NotFound(_))));
    assert_eq!(store.room("den").await.unwrap().unwrap().creator.as_deref(), Some("u1"));
    store.delete_room("den", "u1").await.unwrap();
    assert_eq!(store.room("den").await.unwrap(), None);
    assert!(store.history("den", Page::Latest, 10).await.unwrap().is_empty());
    store.ensure_room("den").await.unwrap();
    assert_eq!(store.room("den").await.unwrap().unwrap().creator, None, "the id is free again");
}

#[tokio::test]
async fn names_and_the_identity_secret_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(DbTarget::Sqlite(path.clone())).await.unwrap();
    let secret = store.identity_secret().await.unwrap();
    assert_eq!(store.identity_secret().await.unwrap(), secret);
    assert_eq!(store.user_name("u1").await.unwrap(), None);
    store.set_user_name("u1", "ann").await.unwrap();
    store.set_user_name("u1", "annie").await.unwrap();
    store.close().await.unwrap();
    let store = SqliteStore::open(DbTarget::Sqlite(path)).await.unwrap();
    assert_eq!(store.identity_secret().await.unwrap(), secret, "kept across restarts");
    assert_eq!(store.user_name("u1").await.unwrap().as_deref(), Some("annie"));
    let other = SqliteStore::open(DbTarget::Memory).await.unwrap();
    assert_ne!(other.identity_secret().await.unwrap(), secret, "each database makes its own");
}

#[tokio::test]
async fn a_database_from_before_stable_ids_keeps_its_resends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A database at schema 3, with one message sent with a clientId.
        let conn = Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO messages (seq, room, user_id, user_name, text, ts, client_id) VALUES (1, 'a', 'sid', 'ann', 'old', 1, 'c1')",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(DbTarget::Sqlite(path)).await.unwrap();
    let again = store.append(vec![msg("a", "ann", "resent", Some("c1"))]).await.unwrap();
    assert!(again[0].duplicate, "the old message is found by its author's name");
    assert_eq!(again[0].message.text, "old");
}
