//! The rich protocol (docs/protocol.md), event by event, against the real server
//! with a real Socket.IO client over WebSocket.

mod common;

use std::time::Duration;

use common::sio::ConnectError;
use common::{Client, TestServer, code, ok};
use serde_json::{Value, json};

fn names(members: &Value) -> Vec<&str> {
    members.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect()
}

both_stacks! {
    async fn join_send_and_presence() {
        let server = TestServer::start().await;
        let ann = Client::rich(&server.url, "ann").await;
        let bob = Client::rich(&server.url, "bob").await;

        let joined = ok(ann.request("room:join", json!({ "room": "general" })).await);
        assert_eq!(joined["room"], json!({ "id": "general", "private": false }));
        assert_eq!(names(&joined["members"]), ["ann"]);
        assert_eq!(joined["members"][0]["id"], ann.sid.as_str());
        assert_eq!(joined["history"], json!([]));

        let joined = ok(bob.request("room:join", json!({ "room": "general" })).await);
        assert_eq!(names(&joined["members"]), ["ann", "bob"]);
        let presence = ann.next("presence:join").await;
        assert_eq!(presence["room"], "general");
        assert_eq!(presence["user"], json!({ "id": bob.sid, "name": "bob" }));

        let sent = ok(ann
            .request("message:send", json!({ "room": "general", "text": "hello", "clientId": "c-1" }))
            .await);
        let message = &sent["message"];
        assert_eq!(message["room"], "general");
        assert_eq!(message["text"], "hello");
        assert_eq!(message["clientId"], "c-1");
        assert_eq!(message["user"], json!({ "id": ann.sid, "name": "ann" }));
        assert_eq!(message["id"].as_str().unwrap().len(), 16);
        assert!(message["ts"].as_i64().unwrap() > 1_700_000_000_000);
        assert_eq!(&bob.next("message:new").await, message);
        assert_eq!(&ann.next("message:new").await, message, "the sender gets its own message:new too");

        // A later joiner gets it as history.
        let cat = Client::rich(&server.url, "cat").await;
        let joined = ok(cat.request("room:join", json!({ "room": "general" })).await);
        assert_eq!(joined["history"], json!([message]));

        ok(bob.request("room:leave", json!({ "room": "general" })).await);
        let left = ann.next("presence:leave").await;
        assert_eq!(left, json!({ "room": "general", "user": { "id": bob.sid, "name": "bob" } }));

        cat.close();
        let left = ann.next("presence:leave").await;
        assert_eq!(left["user"]["name"], "cat", "a disconnect is announced as presence:leave");
    }

    async fn messages_arrive_in_id_order_and_history_matches() {
        let server = TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "0"]).await;
        let ann = Client::rich(&server.url, "ann").await;
        let bob = Client::rich(&server.url, "bob").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        ok(bob.request("room:join", json!({ "room": "r" })).await);

        // Fire 200 sends without waiting so they share batches.
        let pending: Vec<_> = (0..200)
            .map(|i| {
                ann.emit_raw_args(
                    true,
                    &json!(["message:send", { "room": "r", "text": format!("m{i}") }]).to_string(),
                )
                .unwrap()
            })
            .collect();
        let mut received = Vec::new();
        for _ in 0..200 {
            received.push(bob.next("message:new").await);
        }
        let ids: Vec<&str> = received.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase in delivery order");
        let texts: Vec<String> = received.iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(
            texts,
            (0..200).map(|i| format!("m{i}")).collect::<Vec<_>>(),
            "one sender's messages keep their order"
        );
        for ack in pending {
            ok(tokio::time::timeout(Duration::from_secs(5), ack).await.unwrap().unwrap());
        }

        let mut history = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut req = json!({ "room": "r", "limit": 100 });
            if let Some(a) = &after {
                req["after"] = json!(a);
            } else {
                req["after"] = json!("0000000000000000");
            }
            let page = ok(bob.request("history", req).await)["messages"].as_array().unwrap().clone();
            if page.is_empty() {
                break;
            }
            after = Some(page.last().unwrap()["id"].as_str().unwrap().to_owned());
            history.extend(page);
        }
        assert_eq!(history, received);
    }

    async fn history_pages() {
        let server = TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "0"]).await;
        let ann = Client::rich(&server.url, "ann").await;
        ok(ann.request("room:join", json!({ "room": "h" })).await);
        let mut ids = Vec::new();
        for i in 0..130 {
            let sent = ok(ann.request("message:send", json!({ "room": "h", "text": format!("{i}") })).await);
            ids.push(sent["message"]["id"].as_str().unwrap().to_owned());
        }
        let texts = |v: &Value| -> Vec<String> {
            v["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
        };
        let range = |a: usize, b: usize| (a..b).map(|i| i.to_string()).collect::<Vec<_>>();

        let latest = ok(ann.request("history", json!({ "room": "h" })).await);
        assert_eq!(texts(&latest), range(80, 130), "default: the latest 50, oldest first");
        let before = ok(ann.request("history", json!({ "room": "h", "before": ids[80], "limit": 30 })).await);
        assert_eq!(texts(&before), range(50, 80));
        let after = ok(ann.request("history", json!({ "room": "h", "after": ids[9], "limit": 5 })).await);
        assert_eq!(texts(&after), range(10, 15));
        let capped = ok(ann.request("history", json!({ "room": "h", "limit": 1000 })).await);
        assert_eq!(texts(&capped).len(), 100, "limit is at most 100");
        let between = ok(ann.request("history", json!({ "room": "h", "after": ids[3], "before": ids[7] })).await);
        assert_eq!(texts(&between), range(4, 7));
        let end = ok(ann.request("history", json!({ "room": "h", "after": ids[129] })).await);
        assert_eq!(texts(&end), Vec::<String>::new());

        for (req, want) in [
            (json!({ "room": "h", "limit": 0 }), "bad_request"),
            (json!({ "room": "h", "before": "not-an-id" }), "bad_request"),
            (json!({ "room": "no-such-room" }), "not_found"),
            (json!({ "room": "bad room" }), "bad_request"),
            (json!("h"), "bad_request"),
        ] {
            assert_eq!(code(&ann.request("history", req.clone()).await), want, "{req}");
        }
    }

    async fn reconnect_catches_up_with_history_after_without_gap_or_duplicate() {
        let server = TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "0"]).await;
        let ann = Client::rich(&server.url, "ann").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        let bob = Client::rich(&server.url, "bob").await;
        ok(bob.request("room:join", json!({ "room": "r" })).await);

        let mut seen = Vec::new();
        for i in 0..5 {
            ok(ann.request("message:send", json!({ "room": "r", "text": format!("before {i}") })).await);
            seen.push(bob.next("message:new").await);
        }
        bob.close();
        drop(bob);
        ann.next("presence:leave").await;
        for i in 0..120 {
            ok(ann.request("message:send", json!({ "room": "r", "text": format!("missed {i}") })).await);
        }

        // Reconnect: join first (live messages flow again), then page through `after`.
        let bob = Client::rich(&server.url, "bob").await;
        ok(bob.request("room:join", json!({ "room": "r" })).await);
        let live = tokio::spawn(async move {
            ok(ann.request("message:send", json!({ "room": "r", "text": "live" })).await);
            ann
        });
        let mut last = seen.last().unwrap()["id"].as_str().unwrap().to_owned();
        loop {
            let page = ok(bob.request("history", json!({ "room": "r", "after": last })).await);
            let page = page["messages"].as_array().unwrap().clone();
            if page.is_empty() {
                break;
            }
            last = page.last().unwrap()["id"].as_str().unwrap().to_owned();
            seen.extend(page);
        }
        let _ann = live.await.unwrap();
        // Merge the live copy by id, as a client does.
        for m in bob.drain("message:new").await {
            if !seen.iter().any(|s| s["id"] == m["id"]) {
                seen.push(m);
            }
        }
        if !seen.iter().any(|m| m["text"] == "live") {
            seen.push(bob.next("message:new").await);
        }
        let texts: Vec<&str> = seen.iter().map(|m| m["text"].as_str().unwrap()).collect();
        let mut want: Vec<String> = (0..5).map(|i| format!("before {i}")).collect();
        want.extend((0..120).map(|i| format!("missed {i}")));
        want.push("live".into());
        assert_eq!(texts, want);
    }

    async fn resending_a_client_id_is_stored_and_delivered_once() {
        let server = TestServer::start().await;
        let ann = Client::rich(&server.url, "ann").await;
        let bob = Client::rich(&server.url, "bob").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        ok(bob.request("room:join", json!({ "room": "r" })).await);

        let first =
            ok(ann.request("message:send", json!({ "room": "r", "text": "once", "clientId": "abc" })).await);
        // Same name, new connection (as after a reconnect), same clientId.
        let ann2 = Client::rich(&server.url, "ann").await;
        ok(ann2.request("room:join", json!({ "room": "r" })).await);
        let again =
            ok(ann2.request("message:send", json!({ "room": "r", "text": "once", "clientId": "abc" })).await);
        assert_eq!(again["message"], first["message"], "the resend is acked with the stored message");

        ok(ann.request("message:send", json!({ "room": "r", "text": "after" })).await);
        assert_eq!(bob.next("message:new").await["text"], "once");
        assert_eq!(bob.next("message:new").await["text"], "after", "no second copy was broadcast");
        let history = ok(bob.request("history", json!({ "room": "r" })).await);
        assert_eq!(history["messages"].as_array().unwrap().len(), 2);
    }

    async fn private_rooms_need_their_key() {
        let server = TestServer::start().await;
        let ann = Client::rich(&server.url, "ann").await;
        let eve = Client::rich(&server.url, "eve").await;

        let created = ok(ann.request("room:create", json!({ "private": true, "name": "secret" })).await);
        let secret = created["room"]["id"].as_str().unwrap().to_owned();
        assert_eq!(created["room"], json!({ "id": secret, "private": true, "name": "secret" }));
        let key = created["key"].as_str().unwrap().to_owned();
        assert!(key.len() >= 32);
        ok(ann.request("room:create", json!({ "room": "taken" })).await);
        assert_eq!(code(&ann.request("room:create", json!({ "room": "taken" })).await), "bad_request");

        assert_eq!(code(&eve.request("room:join", json!({ "room": secret })).await), "not_found");
        assert_eq!(
            code(&eve.request("room:join", json!({ "room": secret, "key": "wrong" })).await),
            "not_found"
        );
        assert_eq!(code(&eve.request("history", json!({ "room": secret })).await), "not_found");
        assert_eq!(
            code(&eve.request("message:send", json!({ "room": secret, "text": "hi" })).await),
            "forbidden"
        );
        let listed = ok(eve.request("rooms:list", Value::Null).await);
        assert!(
            !listed["rooms"].as_array().unwrap().iter().any(|r| r["id"] == secret.as_str()),
            "hidden from non-members"
        );

        let joined = ok(ann.request("room:join", json!({ "room": secret, "key": key })).await);
        assert_eq!(joined["room"]["private"], true);
        ok(ann.request("message:send", json!({ "room": secret, "text": "psst" })).await);
        let listed = ok(ann.request("rooms:list", Value::Null).await);
        let found = listed["rooms"].as_array().unwrap().iter().find(|r| r["id"] == secret.as_str()).cloned();
        assert_eq!(found, Some(json!({ "id": secret, "private": true, "name": "secret", "members": 1 })));

        let generated = ok(ann.request("room:create", json!({ "private": false })).await);
        assert_eq!(generated["room"]["private"], false);
        assert!(generated.get("key").is_none());
        assert!(generated["room"]["id"].as_str().unwrap().starts_with("room-"));
    }

    async fn rooms_list_counts_members() {
        let server = TestServer::start().await;
        let a = Client::rich(&server.url, "a").await;
        let b = Client::rich(&server.url, "b").await;
        let c = Client::seed(&server.url, Some("two")).await;
        ok(a.request("room:join", json!({ "room": "one" })).await);
        ok(b.request("room:join", json!({ "room": "one" })).await);
        ok(b.request("room:join", json!({ "room": "two" })).await);
        let rooms = ok(a.request("rooms:list", Value::Null).await)["rooms"].clone();
        let count =
            |id: &str| rooms.as_array().unwrap().iter().find(|r| r["id"] == id).map(|r| r["members"].clone());
        assert_eq!(count("one"), Some(json!(2)));
        assert_eq!(count("two"), Some(json!(2)), "seed-style clients count too");
        drop(c);
    }

    async fn typing_is_relayed_and_cleared() {
        let server = TestServer::start().await;
        let ann = Client::rich(&server.url, "ann").await;
        let bob = Client::rich(&server.url, "bob").await;
        ok(ann.request("room:join", json!({ "room": "t" })).await);
        ok(bob.request("room:join", json!({ "room": "t" })).await);

        ok(ann.request("typing", json!({ "room": "t", "typing": true })).await);
        let on = bob.next("typing").await;
        assert_eq!(on, json!({ "room": "t", "user": { "id": ann.sid, "name": "ann" }, "typing": true }));
        ok(ann.request("typing", json!({ "room": "t", "typing": false })).await);
        assert_eq!(bob.next("typing").await["typing"], false);

        // Sending a message ends typing.
        ok(ann.request("typing", json!({ "room": "t", "typing": true })).await);
        assert_eq!(bob.next("typing").await["typing"], true);
        ok(ann.request("message:send", json!({ "room": "t", "text": "done" })).await);
        assert_eq!(bob.next("typing").await["typing"], false);

        // The typist does not get its own typing events: the first one ann
        // sees is bob's. (Expiry after 5 s is a paused-time unit test in src/.)
        ok(bob.request("typing", json!({ "room": "t", "typing": true })).await);
        let from_bob = ann.next("typing").await;
        assert_eq!(from_bob["user"]["name"], "bob", "the typist does not get its own typing events: {from_bob}");

        assert_eq!(
            code(&bob.request("typing", json!({ "room": "elsewhere", "typing": true })).await),
            "forbidden"
        );
    }

    async fn bad_input_gets_a_clear_error_and_stores_nothing() {
        let server = TestServer::with(&["--max-message-len", "10"]).await;
        let ann = Client::rich(&server.url, "ann").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);

        let cases = [
            ("room:join", json!({ "room": "" }), "bad_request"),
            ("room:join", json!({ "room": "no spaces" }), "bad_request"),
            ("room:join", json!({ "room": "x".repeat(65) }), "bad_request"),
            ("room:join", json!("r"), "bad_request"),
            ("room:join", json!({ "room": 5 }), "bad_request"),
            ("room:leave", json!({}), "bad_request"),
            ("room:create", json!({ "room": "a/b" }), "bad_request"),
            ("message:send", json!({ "room": "r", "text": "" }), "bad_request"),
            ("message:send", json!({ "room": "r", "text": "   " }), "bad_request"),
            ("message:send", json!({ "room": "r", "text": "x".repeat(11) }), "too_large"),
            ("message:send", json!({ "room": "r", "text": 42 }), "bad_request"),
            ("message:send", json!({ "room": "r", "text": "hi", "extra": 1 }), "bad_request"),
            ("message:send", json!({ "room": "r", "text": "hi", "clientId": "" }), "bad_request"),
            ("message:send", json!({ "room": "other", "text": "hi" }), "forbidden"),
            ("typing", json!({ "room": "r" }), "bad_request"),
        ];
        for (event, data, want) in cases {
            assert_eq!(code(&ann.request(event, data.clone()).await), want, "{event} {data}");
        }
        // Exactly the limit is fine, in characters not bytes.
        ok(ann.request("message:send", json!({ "room": "r", "text": "éééééééééé" })).await);
        let history = ok(ann.request("history", json!({ "room": "r" })).await);
        assert_eq!(history["messages"].as_array().unwrap().len(), 1, "refused messages were not stored");

        // Without an ack, the error arrives as chat:error.
        ann.emit("message:send", json!({ "room": "r", "text": "" }));
        assert_eq!(
            ann.next("chat:error").await,
            json!({ "event": "message:send", "code": "bad_request", "message": "a message cannot be empty" })
        );
    }

    async fn rate_limit_refuses_the_excess() {
        let server = TestServer::with(&["--rate-limit", "2"]).await;
        let ann = Client::rich(&server.url, "ann").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        let mut codes = Vec::new();
        for i in 0..6 {
            let reply = ann.request("message:send", json!({ "room": "r", "text": format!("{i}") })).await;
            codes.push(if reply["ok"] == true { "ok".to_owned() } else { code(&reply).to_owned() });
        }
        let accepted = codes.iter().filter(|c| *c == "ok").count();
        assert!((4..=5).contains(&accepted), "a burst of twice the rate passes: {codes:?}");
        assert!(codes.iter().all(|c| c == "ok" || c == "rate_limited"), "{codes:?}");
        assert_eq!(codes.last().unwrap(), "rate_limited");
        // The plain `message` event is limited too.
        ann.emit("message", json!("more"));
        let error = ann.next("chat:error").await;
        assert_eq!((error["event"].as_str(), error["code"].as_str()), (Some("message"), Some("rate_limited")));
        let history = ok(ann.request("history", json!({ "room": "r" })).await);
        assert_eq!(history["messages"].as_array().unwrap().len(), accepted);
    }

    async fn handshake_checks_token_and_name() {
        let server = TestServer::with(&["--token", "s3cret"]).await;
        for auth in [json!({ "name": "x", "v": 1 }), json!({ "token": "nope", "v": 1 }), Value::Null] {
            match Client::connect(&server.url, auth.clone(), "").await {
                Err(ConnectError::Refused(m)) => assert_eq!(m, "unauthorized", "{auth}"),
                Err(e) => panic!("{auth}: {e:?}"),
                Ok(_) => panic!("{auth}: connected without the token"),
            }
        }
        let ann =
            Client::connect(&server.url, json!({ "token": "s3cret", "name": "ann", "v": 1 }), "").await.unwrap();
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        Client::connect(&server.url, Value::Null, "token=s3cret")
            .await
            .expect("seed-style clients may pass ?token=");

        let open = TestServer::start().await;
        for auth in
            [json!({ "name": "   " }), json!({ "name": "x".repeat(33) }), json!({ "name": 7 }), json!({ "v": 2 })]
        {
            match Client::connect(&open.url, auth.clone(), "").await {
                Err(ConnectError::Refused(m)) => assert_eq!(m, "bad_request", "{auth}"),
                other => panic!("{auth}: {:?}", other.map(|c| c.sid)),
            }
        }
        let trimmed = Client::connect(&open.url, json!({ "name": "  Zoë  ", "v": "1" }), "").await.unwrap();
        let joined = ok(trimmed.request("room:join", json!({ "room": "r" })).await);
        assert_eq!(names(&joined["members"]), ["Zoë"]);
        let guest = Client::connect(&open.url, json!({ "v": 1 }), "").await.unwrap();
        let joined = ok(guest.request("room:join", json!({ "room": "r" })).await);
        let guest_name =
            names(&joined["members"]).into_iter().find(|n| n.starts_with("guest-")).unwrap().to_owned();
        assert_eq!(guest_name.len(), "guest-0000".len());
        assert!(guest_name[6..].chars().all(|c| c.is_ascii_digit()));
    }

    async fn rich_and_seed_clients_share_a_room_with_their_own_events() {
        let server = TestServer::start().await;
        let seed = Client::seed(&server.url, None).await; // in the lobby
        let rich = Client::rich(&server.url, "ann").await;
        let joined = ok(rich.request("room:join", json!({ "room": "lobby" })).await);
        assert_eq!(joined["members"].as_array().unwrap().len(), 2);

        seed.emit("message", json!("from seed"));
        assert_eq!(seed.next("message").await, "from seed");
        let m = rich.next("message:new").await;
        assert_eq!(m["text"], "from seed");
        assert!(m["user"]["name"].as_str().unwrap().starts_with("guest-"));

        ok(rich.request("message:send", json!({ "room": "lobby", "text": "from rich" })).await);
        assert_eq!(seed.next("message").await, "from rich");
        assert_eq!(rich.next("message:new").await["text"], "from rich");
        // Whatever the two messages caused has arrived once a later one has.
        seed.emit("message", json!("last"));
        assert_eq!(seed.next("message").await, "last");
        assert_eq!(rich.next("message:new").await["text"], "last");
        assert!(rich.drain("message").await.is_empty(), "rich clients never get plain message strings");
        assert!(seed.drain("message:new").await.is_empty(), "seed clients never get message:new");
        assert!(seed.drain("presence:join").await.is_empty(), "seed clients get only plain messages");
    }
}
