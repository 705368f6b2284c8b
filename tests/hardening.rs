//! Hostile input at the chat layer (issue 11): typing and request floods,
//! look-alike names, malformed handshakes, unknown events and REST edge cases,
//! against the real server with a real Socket.IO client.

mod common;

use common::sio::ConnectError;
use common::{Client, TestServer, code, ok};
use serde_json::{Value, json};

#[tokio::test]
async fn a_typing_flood_is_announced_once_and_then_refused() {
    let server = TestServer::start().await;
    let ann = Client::rich(&server.url, "ann").await;
    let bob = Client::rich(&server.url, "bob").await;
    ok(ann.request("room:join", json!({ "room": "t" })).await);
    ok(bob.request("room:join", json!({ "room": "t" })).await);

    // Many renewals in a row: only the first is a change of state.
    let mut replies = Vec::new();
    for _ in 0..50 {
        replies.push(ann.request("typing", json!({ "room": "t", "typing": true })).await);
    }
    let accepted = replies.iter().filter(|r| r["ok"] == true).count();
    let refused: Vec<&str> = replies.iter().filter(|r| r["ok"] == false).map(code).collect();
    assert!((1..50).contains(&accepted), "some typing requests are refused, not all: {accepted}");
    assert!(refused.iter().all(|c| *c == "rate_limited"), "{refused:?}");

    // The typist sends a message: typing stops, then the message arrives. Every
    // typing event bob received is now in his queue, before the message.
    ok(ann.request("message:send", json!({ "room": "t", "text": "done" })).await);
    assert_eq!(bob.next("message:new").await["text"], "done");
    let typing: Vec<bool> =
        bob.drain("typing").await.iter().map(|e| e["typing"].as_bool().unwrap()).collect();
    assert_eq!(typing, [true, false], "one start and one stop, not one event per request");
}

#[tokio::test]
async fn a_request_flood_is_refused_without_changing_anything() {
    let server = TestServer::start().await;
    let eve = Client::rich(&server.url, "eve").await;
    let mut codes = Vec::new();
    for i in 0..60 {
        let reply = eve.request("room:create", json!({ "room": format!("flood-{i}") })).await;
        codes.push(if reply["ok"] == true { "ok" } else { code(&reply) }.to_owned());
    }
    let created = codes.iter().filter(|c| *c == "ok").count();
    assert!(created < 60 && codes.iter().all(|c| c == "ok" || c == "rate_limited"), "{codes:?}");
    // A refused creation created nothing: its id is still free.
    let first_refused = codes.iter().position(|c| c == "rate_limited").unwrap();
    let rooms: Value = reqwest::get(format!("{}/api/rooms", server.url)).await.unwrap().json().await.unwrap();
    let ids: Vec<&str> =
        rooms["rooms"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), created, "{ids:?}");
    assert!(!ids.contains(&format!("flood-{first_refused}").as_str()));
}

#[tokio::test]
async fn look_alike_names_are_refused_and_fullwidth_forms_folded() {
    let server = TestServer::start().await;
    for bad in ["alice\u{200b}", "\u{202e}ecila", "bob\u{2066}", "\u{feff}carol", "\u{3164}"] {
        let refused = Client::connect(&server.url, json!({ "name": bad, "v": 1 }), "").await;
        assert!(matches!(refused, Err(ConnectError::Refused(ref m)) if m == "bad_request"), "{bad:?}");
    }
    let folded = Client::rich(&server.url, "ａｌｉｃｅ").await;
    let joined = ok(folded.request("room:join", json!({ "room": "n" })).await);
    assert_eq!(joined["members"][0]["name"], "alice");
}

#[tokio::test]
async fn an_auth_that_is_not_an_object_is_refused() {
    let server = TestServer::start().await;
    for auth in [json!("ann"), json!(true), json!(-1), json!([1, 2])] {
        let refused = Client::connect(&server.url, auth.clone(), "").await;
        assert!(refused.is_err(), "{auth} must not connect as a guest");
        if let Err(ConnectError::Refused(m)) = refused {
            assert_eq!(m, "bad_request", "{auth}");
        }
    }
    for auth in [json!({ "name": 7 }), json!({ "name": ["x"] })] {
        let refused = Client::connect(&server.url, auth.clone(), "").await;
        assert!(matches!(refused, Err(ConnectError::Refused(ref m)) if m == "bad_request"), "{auth}");
    }
    // No auth at all is still the lesson's plain client.
    let seed = Client::connect(&server.url, Value::Null, "").await.expect("a plain client connects");
    seed.close();
}

#[tokio::test]
async fn an_unknown_event_with_an_ack_is_answered_bad_request() {
    let server = TestServer::start().await;
    let ann = Client::rich(&server.url, "ann").await;
    let reply = ann.request("room:destroy", json!({ "room": "lobby" })).await;
    assert_eq!(code(&reply), "bad_request");
    assert!(reply["error"]["message"].as_str().unwrap().contains("room:destroy"), "{reply}");
    // Without an ack it is ignored, and the connection carries on.
    ann.emit("whatever", json!({}));
    ok(ann.request("room:join", json!({ "room": "still-here" })).await);
}

#[tokio::test]
async fn dot_room_ids_are_refused_everywhere() {
    let server = TestServer::start().await;
    let ann = Client::rich(&server.url, "ann").await;
    for room in [".", ".."] {
        assert_eq!(code(&ann.request("room:join", json!({ "room": room })).await), "bad_request", "{room}");
        assert_eq!(code(&ann.request("room:create", json!({ "room": room })).await), "bad_request", "{room}");
    }
    // HTTP clients resolve dot segments before sending; a raw request does not.
    let addr = server.url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /api/rooms/../messages HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut tcp, request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let read = tokio::io::AsyncReadExt::read_to_string(&mut tcp, &mut response);
    tokio::time::timeout(common::sio::RECV_TIMEOUT, read).await.unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains(r#""code":"bad_request""#), "{response}");
}

#[tokio::test]
async fn rest_refusals_are_json_and_the_bearer_scheme_is_case_insensitive() {
    let server = TestServer::with(&["--token", "s3cret"]).await;
    let http = reqwest::Client::new();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let resp = http
            .get(format!("{}/api/rooms", server.url))
            .header("authorization", format!("{scheme} s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
    let wrong = http.get(format!("{}/api/rooms", server.url)).header("authorization", "Basic s3cret");
    assert_eq!(wrong.send().await.unwrap().status(), 401);

    for query in ["token=s3cret&token=s3cret", "token=s3cret&limit=1&limit=2"] {
        let resp = http.get(format!("{}/api/rooms/lobby/messages?{query}", server.url)).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/json",
            "{query}: a refusal has the documented JSON body"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{query}: {body}");
    }
}

#[tokio::test]
async fn connections_from_one_address_share_one_message_budget() {
    // No per-connection limit, so only the address's budget (5/s, bursts of 10) applies.
    let server = TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "5"]).await;
    let mut clients = Vec::new();
    for i in 0..5 {
        let client = Client::rich(&server.url, &format!("sock{i}")).await;
        ok(client.request("room:join", json!({ "room": "burst" })).await);
        clients.push(client);
    }
    let mut stored = 0;
    for round in 0..8 {
        for client in &clients {
            let reply =
                client.request("message:send", json!({ "room": "burst", "text": format!("{round}") })).await;
            if reply["ok"] == true {
                stored += 1;
            } else {
                assert_eq!(code(&reply), "rate_limited", "{reply}");
            }
        }
    }
    assert!((10..40).contains(&stored), "40 sends from one address, about 10 stored: {stored}");
    let history = clients[0].request("history", json!({ "room": "burst", "limit": 100 })).await;
    assert_eq!(ok(history)["messages"].as_array().unwrap().len(), stored, "refused sends stored nothing");
}

#[tokio::test]
async fn nobody_can_squat_a_room_the_lesson_uses() {
    let server = TestServer::start().await;
    let eve = Client::rich(&server.url, "eve").await;
    for room in ["lobby", "12345"] {
        let squat = eve.request("room:create", json!({ "room": room, "private": true })).await;
        assert_eq!(code(&squat), "bad_request", "{room}: a private room's id is the server's");
    }
    let reserved = eve.request("room:create", json!({ "room": "p-aaaaaaaaaaaaaaaa" })).await;
    assert_eq!(code(&reserved), "bad_request", "public rooms may not take the private id space");
    // The lesson's clients still get their rooms.
    let seed = Client::seed(&server.url, Some("12345")).await;
    assert_eq!(ok(seed.request("joinRoom", json!("lobby")).await)["ok"], true);

    let created = ok(eve.request("room:create", json!({ "private": true, "name": "Secret plans" })).await);
    let id = created["room"]["id"].as_str().unwrap();
    assert!(
        id.len() == 18
            && id.starts_with("p-")
            && id[2..].bytes().all(|b| b"abcdefghijklmnopqrstuvwxyz234567".contains(&b)),
        "an unguessable id: {id}"
    );
    assert_eq!(created["room"], json!({ "id": id, "private": true, "name": "Secret plans" }));
    assert_eq!(created["key"].as_str().map(str::len), Some(32));
    let joined = ok(eve.request("room:join", json!({ "room": id, "key": created["key"] })).await);
    assert_eq!(joined["room"]["name"], "Secret plans");
    for bad in [json!({ "private": true, "name": "a\u{202e}b" }), json!({ "room": "x", "name": "named" })] {
        assert_eq!(code(&eve.request("room:create", bad.clone()).await), "bad_request", "{bad}");
    }
}

#[tokio::test]
async fn a_private_room_without_its_key_looks_like_a_missing_room() {
    let server = TestServer::start().await;
    let ann = Client::rich(&server.url, "ann").await;
    let created = ok(ann.request("room:create", json!({ "private": true, "name": "den" })).await);
    let den = created["room"]["id"].as_str().unwrap().to_owned();
    let missing = "p-zzzzzzzzzzzzzzzz";

    let eve = Client::rich(&server.url, "eve").await;
    let no_key = |room: &str| json!({ "room": room });
    let wrong_key = |room: &str| json!({ "room": room, "key": "0".repeat(32) });
    type Payload<'a> = &'a dyn Fn(&str) -> Value;
    let cases: [(&str, Payload); 3] =
        [("room:join", &no_key), ("room:join", &wrong_key), ("history", &no_key)];
    for (event, payload) in cases {
        let private = eve.request(event, payload(&den)).await;
        let absent = eve.request(event, payload(missing)).await;
        assert_eq!(code(&private), "not_found", "{event} {private}");
        assert_eq!(
            private["error"]["message"].as_str().unwrap().replace(&den, "ID"),
            absent["error"]["message"].as_str().unwrap().replace(missing, "ID"),
            "{event}: the same words for both"
        );
    }
    let rest = |room: &str| reqwest::get(format!("{}/api/rooms/{room}/messages", server.url));
    let (private, absent) = (rest(&den).await.unwrap(), rest(missing).await.unwrap());
    assert_eq!((private.status().as_u16(), absent.status().as_u16()), (404, 404));
    let wrong = reqwest::get(format!("{}/api/rooms/{den}/messages?key=nope", server.url)).await.unwrap();
    assert_eq!(wrong.status(), 404);
    // Joining a missing private id creates nothing.
    let rooms = ok(ann.request("rooms:list", Value::Null).await);
    assert!(!rooms.to_string().contains(missing), "{rooms}");
}

#[tokio::test]
async fn rooms_are_capped_and_empty_unused_ones_go() {
    let server = TestServer::with(&["--max-rooms", "3"]).await;
    let ann = Client::rich(&server.url, "ann").await;
    // lobby does not exist until someone enters it; make two rooms of three.
    ok(ann.request("room:join", json!({ "room": "kept" })).await);
    ok(ann.request("message:send", json!({ "room": "kept", "text": "history keeps a room" })).await);
    ok(ann.request("room:join", json!({ "room": "passing" })).await);
    ok(ann.request("room:create", json!({ "room": "third" })).await);
    let full = ann.request("room:join", json!({ "room": "fourth" })).await;
    assert_eq!(code(&full), "forbidden");
    assert!(full["error"]["message"].as_str().unwrap().contains("--max-rooms"), "{full}");
    assert_eq!(code(&ann.request("room:create", json!({ "private": true })).await), "forbidden");

    // Leaving a room that never held a message deletes it, and frees its place.
    ok(ann.request("room:leave", json!({ "room": "passing" })).await);
    ok(ann.request("room:join", json!({ "room": "fourth" })).await);
    let listed = ok(ann.request("rooms:list", Value::Null).await);
    let mut ids: Vec<&str> =
        listed["rooms"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["fourth", "kept", "third"]);

    // A room with history stays when its last member leaves, also by disconnecting.
    ann.close();
    let bob = Client::rich(&server.url, "bob").await;
    let history = ok(bob.request("history", json!({ "room": "kept" })).await);
    assert_eq!(history["messages"][0]["text"], "history keeps a room");
    let listed = ok(bob.request("rooms:list", Value::Null).await);
    let ids: Vec<&str> =
        listed["rooms"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"kept") && !ids.contains(&"passing"), "{ids:?}");
}

#[tokio::test]
async fn one_connection_is_in_a_bounded_number_of_rooms() {
    let server = TestServer::with(&["--rate-limit-requests", "0"]).await;
    let ann = Client::rich(&server.url, "ann").await;
    let mut refused = None;
    for i in 0..120 {
        let reply = ann.request("room:join", json!({ "room": format!("r{i}") })).await;
        if reply["ok"] != true {
            refused = Some((i, code(&reply).to_owned()));
            break;
        }
    }
    assert_eq!(refused, Some((100, "forbidden".to_owned())));
}

#[tokio::test]
async fn room_lists_are_paged_most_recently_active_first() {
    let server = TestServer::start().await;
    let ann = Client::rich(&server.url, "ann").await;
    // Activity in the order e, d, c, b, a: a is the most recent (or, within
    // one millisecond, first by id), so the list reads a to e either way.
    for room in ["e", "d", "c", "b", "a"] {
        ok(ann.request("room:join", json!({ "room": room })).await);
        ok(ann.request("message:send", json!({ "room": room, "text": room })).await);
    }
    let secret = ok(ann.request("room:create", json!({ "private": true, "name": "hidden" })).await);
    let secret = secret["room"]["id"].as_str().unwrap().to_owned();

    let ids = |page: &Value, key: &str| -> Vec<String> {
        page[key].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..4 {
        let page = ok(ann.request("rooms:list", json!({ "limit": 2, "cursor": cursor })).await);
        seen.extend(ids(&page, "rooms"));
        cursor = page["next"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"], "the private room ann is not in is not listed");
    assert!(cursor.is_null(), "the last page has no next");

    // Without a payload, or with {}, the first page; a made-up cursor is refused.
    assert_eq!(ids(&ok(ann.request("rooms:list", Value::Null).await), "rooms").len(), 5);
    assert_eq!(ids(&ok(ann.request("rooms:list", json!({})).await), "rooms").len(), 5);
    assert_eq!(code(&ann.request("rooms:list", json!({ "cursor": "nope" })).await), "bad_request");

    // The REST API pages the public rooms the same way.
    let get = |query: String| {
        let url = format!("{}/api/rooms?{query}", server.url);
        async move { reqwest::get(url).await.unwrap().json::<Value>().await.unwrap() }
    };
    let first = get("limit=3".into()).await;
    assert_eq!(ids(&first, "rooms"), ["a", "b", "c"]);
    let next = first["next"].as_str().unwrap();
    let second = get(format!("limit=3&cursor={next}")).await;
    assert_eq!(ids(&second, "rooms"), ["d", "e"]);
    assert!(second.get("next").is_none());
    assert!(!first.to_string().contains(&secret) && !second.to_string().contains(&secret));
}
