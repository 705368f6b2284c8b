//! Who is who (docs/protocol.md, "Identity"): stable user ids from
//! `auth.userKey`, per-person presence, rename, edit and delete of one's own
//! messages, and deleting one's own room. Every test runs on SQLite and on
//! PostgreSQL + Redis (`both_stacks!`).

mod common;

use common::sio::ConnectError;
use common::{Client, TestServer, code, ok, rest_history};
use serde_json::{Value, json};

const ANN: &str = "ann-key-0123456789abcdefghij";
const BOB: &str = "bob-key-0123456789abcdefghij";

fn names(members: &Value) -> Vec<&str> {
    members.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect()
}

/// The client's own user, from the `session` event.
async fn me(client: &Client) -> Value {
    client.next("session").await["user"].clone()
}

both_stacks! {
    async fn a_user_key_is_one_person_on_every_connection() {
        let server = TestServer::start().await;
        let laptop = Client::keyed(&server.url, "ann", ANN).await;
        let ann = me(&laptop).await;
        let id = ann["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32, "a stable id is 32 hex digits: {id}");
        assert_ne!(id, laptop.sid);
        // The second device connects with another name: the person's stored one wins.
        let phone = Client::keyed(&server.url, "phone", ANN).await;
        assert_eq!(me(&phone).await, json!({ "id": id, "name": "ann" }));
        let bob = Client::keyed(&server.url, "bob", BOB).await;
        assert_ne!(me(&bob).await["id"], id.as_str(), "another key is another person");
        let plain = Client::rich(&server.url, "cat").await;
        assert_eq!(me(&plain).await, json!({ "id": plain.sid, "name": "cat" }), "no key: the connection's id");

        ok(laptop.request("room:join", json!({ "room": "r" })).await);
        ok(bob.request("room:join", json!({ "room": "r" })).await);
        let joined = ok(phone.request("room:join", json!({ "room": "r" })).await);
        assert_eq!(names(&joined["members"]), ["ann", "bob"], "each person once");
        ok(plain.request("room:join", json!({ "room": "r" })).await);
        // Presence is per person: the phone entering was not news, the next joiner is.
        assert_eq!(bob.next("presence:join").await["user"]["name"], "cat");
        let rooms = ok(bob.request("rooms:list", Value::Null).await);
        assert_eq!(rooms["rooms"][0]["members"], 3, "people, not connections: {rooms}");

        ok(laptop.request("room:leave", json!({ "room": "r" })).await);
        ok(plain.request("room:leave", json!({ "room": "r" })).await);
        assert_eq!(bob.next("presence:leave").await["user"]["name"], "cat", "ann is still here on her phone");
        phone.close();
        assert_eq!(bob.next("presence:leave").await["user"], json!({ "id": id, "name": "ann" }));

        for client in [&laptop, &phone, &bob, &plain] {
            assert!(!client.heard().contains(ANN) && !client.heard().contains(BOB), "a key was sent out");
        }
    }

    async fn a_second_device_learns_and_opens_the_same_rooms() {
        let server = TestServer::start().await;
        let laptop = Client::keyed(&server.url, "ann", ANN).await;
        assert_eq!(laptop.next("session").await["rooms"], json!([]));
        let created = ok(laptop.request("room:create", json!({ "private": true, "name": "Den" })).await);
        let den = created["room"]["id"].as_str().unwrap().to_owned();
        let key = created["key"].as_str().unwrap().to_owned();
        ok(laptop.request("room:join", json!({ "room": den, "key": key })).await);
        ok(laptop.request("room:join", json!({ "room": "lobby" })).await);

        let phone = Client::keyed(&server.url, "ann", ANN).await;
        let mut rooms = phone.next("session").await["rooms"].clone();
        rooms.as_array_mut().unwrap().sort_by_key(|r| r.as_str().unwrap().to_owned());
        let mut expected = vec![den.clone(), "lobby".to_owned()];
        expected.sort();
        assert_eq!(rooms, json!(expected));
        // Admitted to the private room without its key, as the person is in it.
        let joined = ok(phone.request("room:join", json!({ "room": den })).await);
        assert_eq!(joined["room"]["name"], "Den");

        // Someone else without the key is not.
        let bob = Client::keyed(&server.url, "bob", BOB).await;
        assert_eq!(code(&bob.request("room:join", json!({ "room": den })).await), "not_found");
        // Once ann has left it everywhere, the key is needed again.
        ok(laptop.request("room:leave", json!({ "room": den })).await);
        ok(phone.request("room:leave", json!({ "room": den })).await);
        assert_eq!(code(&phone.request("room:join", json!({ "room": den })).await), "not_found");
    }

    async fn a_rename_reaches_every_connection_and_room() {
        let server = TestServer::start().await;
        let laptop = Client::keyed(&server.url, "ann", ANN).await;
        let phone = Client::keyed(&server.url, "ann", ANN).await;
        let bob = Client::keyed(&server.url, "bob", BOB).await;
        let id = me(&laptop).await["id"].clone();
        for c in [&laptop, &bob] {
            ok(c.request("room:join", json!({ "room": "r" })).await);
        }
        let before = ok(laptop.request("message:send", json!({ "room": "r", "text": "as ann" })).await);

        let renamed = ok(laptop.request("user:rename", json!({ "name": "Annie" })).await);
        assert_eq!(renamed["user"], json!({ "id": id, "name": "Annie" }));
        assert_eq!(bob.next("user:update").await, json!({ "user": { "id": id, "name": "Annie" } }));
        assert_eq!(phone.next("user:update").await["user"]["name"], "Annie", "her other devices hear it");

        // The phone, not in the room, now sends and is listed as Annie.
        let joined = ok(phone.request("room:join", json!({ "room": "r" })).await);
        assert_eq!(names(&joined["members"]), ["Annie", "bob"]);
        let sent = ok(phone.request("message:send", json!({ "room": "r", "text": "as annie" })).await);
        assert_eq!(sent["message"]["user"]["name"], "Annie");
        let history = ok(bob.request("history", json!({ "room": "r" })).await);
        assert_eq!(history["messages"][0], before["message"], "stored messages keep their name");

        // Renaming to the same name changes nothing, and keeps her listed.
        let same = ok(laptop.request("user:rename", json!({ "name": "Annie" })).await);
        assert_eq!(same["user"], json!({ "id": id, "name": "Annie" }));
        let members = ok(bob.request("room:join", json!({ "room": "r" })).await)["members"].clone();
        assert_eq!(names(&members), ["Annie", "bob"]);

        let later = Client::keyed(&server.url, "someone", ANN).await;
        assert_eq!(me(&later).await["name"], "Annie", "the name is the person's, kept");

        // Without a key only the connection is renamed.
        let cat = Client::rich(&server.url, "cat").await;
        ok(cat.request("room:join", json!({ "room": "r" })).await);
        let renamed = ok(cat.request("user:rename", json!({ "name": "kitty" })).await);
        assert_eq!(renamed["user"], json!({ "id": cat.sid, "name": "kitty" }));
        assert_eq!(bob.next("user:update").await["user"]["name"], "kitty");

        for bad in [json!({ "name": "" }), json!({ "name": "a\u{200b}b" }), json!({ "name": 7 }), json!({})] {
            assert_eq!(code(&cat.request("user:rename", bad.clone()).await), "bad_request", "{bad}");
        }
    }

    async fn a_resend_from_another_tab_is_stored_once() {
        let server = TestServer::start().await;
        let tab1 = Client::keyed(&server.url, "ann", ANN).await;
        let tab2 = Client::keyed(&server.url, "ann", ANN).await;
        let bob = Client::keyed(&server.url, "bob", BOB).await;
        for c in [&tab1, &tab2, &bob] {
            ok(c.request("room:join", json!({ "room": "r" })).await);
        }
        let first = ok(tab1.request("message:send", json!({ "room": "r", "text": "hi", "clientId": "c1" })).await);
        let again = ok(tab2.request("message:send", json!({ "room": "r", "text": "hi", "clientId": "c1" })).await);
        assert_eq!(again["message"], first["message"]);
        // Bob with the same clientId is someone else.
        let bobs = ok(bob.request("message:send", json!({ "room": "r", "text": "yo", "clientId": "c1" })).await);
        assert_ne!(bobs["message"]["id"], first["message"]["id"]);
        let seen: Vec<Value> = vec![bob.next("message:new").await, bob.next("message:new").await];
        assert_eq!(seen, [first["message"].clone(), bobs["message"].clone()], "the resend was not broadcast");
    }

    async fn only_the_author_edits_and_deletes_a_message() {
        let server = TestServer::start().await;
        let ann = Client::keyed(&server.url, "ann", ANN).await;
        let bob = Client::keyed(&server.url, "bob", BOB).await;
        let cat = Client::rich(&server.url, "cat").await;
        let seed = Client::seed(&server.url, Some("r")).await;
        for c in [&ann, &bob, &cat] {
            ok(c.request("room:join", json!({ "room": "r" })).await);
        }
        let sent = ok(ann.request("message:send", json!({ "room": "r", "text": "helo" })).await)["message"].clone();
        let id = sent["id"].as_str().unwrap();
        let edit = |text: &str| json!({ "room": "r", "id": id, "text": text });

        assert_eq!(code(&bob.request("message:edit", edit("mine now")).await), "forbidden");
        assert_eq!(code(&cat.request("message:delete", json!({ "room": "r", "id": id })).await), "forbidden");
        assert_eq!(code(&ann.request("message:edit", edit("  ")).await), "bad_request");
        assert_eq!(code(&ann.request("message:edit", edit(&"x".repeat(4001))).await), "too_large");
        let bad_id = json!({ "room": "r", "id": "nope", "text": "x" });
        assert_eq!(code(&ann.request("message:edit", bad_id).await), "bad_request");
        let elsewhere = json!({ "room": "other", "id": id, "text": "x" });
        assert_eq!(code(&ann.request("message:edit", elsewhere).await), "forbidden", "not in that room");
        let missing = json!({ "room": "r", "id": "00000000000000ff", "text": "x" });
        assert_eq!(code(&ann.request("message:edit", missing).await), "not_found");

        let edited = ok(ann.request("message:edit", edit("hello")).await)["message"].clone();
        assert_eq!(edited["text"], "hello");
        let at = edited["edited"].as_i64().unwrap();
        assert!(at >= sent["ts"].as_i64().unwrap());
        assert_eq!((&edited["id"], &edited["user"], &edited["ts"]), (&sent["id"], &sent["user"], &sent["ts"]));
        bob.next("message:new").await;
        assert_eq!(bob.next("message:update").await, edited);
        assert_eq!(ok(cat.request("history", json!({ "room": "r" })).await)["messages"], json!([edited]));

        let deleted = ok(ann.request("message:delete", json!({ "room": "r", "id": id })).await)["message"].clone();
        assert_eq!((&deleted["text"], &deleted["deleted"]), (&json!(""), &json!(true)));
        assert!(deleted["edited"].as_i64().unwrap() > at, "each change is later than the one before");
        assert_eq!(bob.next("message:update").await, deleted);
        assert_eq!(rest_history(&server.url, "r").await, std::slice::from_ref(&deleted), "REST shows the current state");
        assert_eq!(code(&ann.request("message:edit", edit("back")).await), "not_found", "deleted stays deleted");
        ok(ann.request("message:delete", json!({ "room": "r", "id": id })).await);

        // A seed-style client saw the message, and nothing of its changes.
        ok(ann.request("message:send", json!({ "room": "r", "text": "after" })).await);
        assert_eq!(seed.next("message").await, "helo");
        assert_eq!(seed.next("message").await, "after");
        assert!(seed.drain("message:update").await.is_empty());
    }

    async fn the_creator_deletes_a_room_and_its_history() {
        let server = TestServer::start().await;
        let ann = Client::keyed(&server.url, "ann", ANN).await;
        let bob = Client::keyed(&server.url, "bob", BOB).await;
        let ann_id = me(&ann).await["id"].clone();
        let created = ok(ann.request("room:create", json!({ "room": "den" })).await);
        assert_eq!(created["room"], json!({ "id": "den", "private": false, "creator": ann_id }));
        let seed = Client::seed(&server.url, Some("den")).await;
        for c in [&ann, &bob] {
            ok(c.request("room:join", json!({ "room": "den" })).await);
        }
        ok(bob.request("message:send", json!({ "room": "den", "text": "hi" })).await);
        let listed = ok(bob.request("rooms:list", Value::Null).await);
        let den = listed["rooms"].as_array().unwrap().iter().find(|r| r["id"] == "den").unwrap().clone();
        assert_eq!(den["creator"], ann_id);

        assert_eq!(code(&bob.request("room:delete", json!({ "room": "den" })).await), "forbidden");
        assert_eq!(code(&ann.request("room:delete", json!({ "room": "lobby" })).await), "forbidden");
        assert_eq!(code(&ann.request("room:delete", json!({ "room": "nope" })).await), "not_found");
        ok(ann.request("room:delete", json!({ "room": "den" })).await);
        assert_eq!(bob.next("room:deleted").await, json!({ "room": "den" }));
        assert_eq!(code(&bob.request("message:send", json!({ "room": "den", "text": "x" })).await), "forbidden");
        seed.emit("message", json!("still here?"));
        assert_eq!(seed.next("chat:error").await["code"], "forbidden", "the seed client was removed too");
        assert_eq!(code(&bob.request("history", json!({ "room": "den" })).await), "not_found");
        let listed = ok(bob.request("rooms:list", Value::Null).await);
        assert!(listed["rooms"].as_array().unwrap().iter().all(|r| r["id"] != "den"));
        // The id is free again, with no history and no creator.
        let joined = ok(bob.request("room:join", json!({ "room": "den" })).await);
        assert_eq!((&joined["history"], &joined["room"]), (&json!([]), &json!({ "id": "den", "private": false })));

        // Without a key nobody can delete: a room made that way has no creator.
        let cat = Client::rich(&server.url, "cat").await;
        ok(cat.request("room:create", json!({ "room": "cats" })).await);
        assert_eq!(code(&cat.request("room:delete", json!({ "room": "cats" })).await), "forbidden");
    }

    async fn bad_user_keys_are_refused_at_the_handshake() {
        let server = TestServer::start().await;
        for key in [json!("short"), json!("x".repeat(129)), json!(format!("{}!", "a".repeat(30))), json!(7)] {
            let refused = Client::connect(&server.url, json!({ "v": 1, "userKey": key }), "").await;
            assert!(matches!(refused, Err(ConnectError::Refused(ref m)) if m == "bad_request"), "{key}");
        }
    }
}
