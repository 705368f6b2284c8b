//! Acknowledged messages survive SIGKILL; history survives restarts; SIGTERM
//! shuts down cleanly and quickly.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Process, TestServer, ok, rest_history};
use serde_json::json;

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let db = db.to_str().unwrap();
    let args =
        ["--port", "0", "--ui-port", "off", "--db", db, "--rate-limit", "0", "--rate-limit-per-ip", "0"];
    let server = Process::start(&args);
    let client = Client::rich(&server.url, "ann").await;
    ok(client.request("room:join", json!({ "room": "d" })).await);

    const N: usize = 500;
    let acks: Vec<_> = (0..N)
        .map(|i| {
            client
                .emit_raw_args(
                    true,
                    &json!(["message:send", { "room": "d", "text": format!("m{i}") }]).to_string(),
                )
                .unwrap()
        })
        .collect();
    let mut acked = Vec::new();
    for ack in acks {
        let reply = tokio::time::timeout(Duration::from_secs(10), ack).await.unwrap().unwrap();
        assert_eq!(reply["ok"], true, "{reply}");
        acked.push(reply["message"].clone());
    }
    server.signal("KILL");
    drop(server);

    let restarted = Process::start(&args);
    let stored = rest_history(&restarted.url, "d").await;
    assert_eq!(stored, acked, "every acknowledged message is there, once, in order");
}

#[tokio::test]
async fn history_survives_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let server = TestServer::on(&db, &[]).await;
    let ann = Client::rich(&server.url, "ann").await;
    ok(ann.request("room:join", json!({ "room": "keep" })).await);
    let sent = ok(ann.request("message:send", json!({ "room": "keep", "text": "still here" })).await);
    let created = ok(ann.request("room:create", json!({ "private": true, "name": "vault" })).await);
    let (vault, key) =
        (created["room"]["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned());
    drop(ann);
    server.stop().await;

    let server = TestServer::on(&db, &[]).await;
    let bob = Client::rich(&server.url, "bob").await;
    let joined = ok(bob.request("room:join", json!({ "room": "keep" })).await);
    assert_eq!(joined["history"], json!([sent["message"]]));
    assert_eq!(bob.request("room:join", json!({ "room": vault })).await["error"]["code"], "not_found");
    let joined = ok(bob.request("room:join", json!({ "room": vault, "key": key })).await);
    assert_eq!(joined["room"]["name"], "vault", "the name survives the restart");
    let next = ok(bob.request("message:send", json!({ "room": "keep", "text": "later" })).await);
    assert!(
        next["message"]["id"].as_str() > sent["message"]["id"].as_str(),
        "ids keep increasing after a restart"
    );
}

#[tokio::test]
async fn sigterm_exits_zero_within_two_seconds_with_clients_connected() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let mut server = Process::start(&["--port", "0", "--ui-port", "off", "--db", db.to_str().unwrap()]);
    let clients = [Client::rich(&server.url, "a").await, Client::seed(&server.url, None).await];
    ok(clients[0].request("room:join", json!({ "room": "x" })).await);
    let started = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(3)).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    for c in &clients {
        assert!(c.try_next("closed").await.is_some(), "connections were closed");
    }
}
