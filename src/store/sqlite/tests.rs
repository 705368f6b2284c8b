//! The SQLite store against real files.

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
