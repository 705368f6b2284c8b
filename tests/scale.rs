//! Several rtchat processes as one chat, on real Redis (the socketioxide-redis
//! adapter) and real PostgreSQL. Needs RTCHAT_TEST_REDIS_URL and
//! RTCHAT_TEST_DATABASE_URL, so every test is ignored unless asked for with
//! `--include-ignored`; asked for without them, each fails saying what to set.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::proxy::Proxy;
use common::services::{Database, Services};
use common::{Client, Process, ok, rest_history};
use serde_json::{Value, json};

/// `n` processes sharing a fresh database and a private Redis channel prefix.
struct Cluster {
    nodes: Vec<Process>,
    _db: Database,
}

async fn cluster(services: &Services, n: usize, redis: Option<&str>) -> Cluster {
    let db = services.database().await;
    let prefix = services.prefix();
    let redis = redis.unwrap_or(&services.redis).to_owned();
    let nodes = (0..n)
        .map(|_| {
            Process::start(&[
                "--port",
                "0",
                "--ui-port",
                "off",
                "--db",
                &db.url,
                "--redis",
                &redis,
                "--redis-prefix",
                &prefix,
                "--rate-limit",
                "0",
                "--rate-limit-per-ip",
                "0",
            ])
        })
        .collect();
    Cluster { nodes, _db: db }
}

fn ids(messages: &[Value]) -> Vec<String> {
    messages.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn three_processes_are_one_chat() {
    let services = Services::from_env();
    let c = cluster(&services, 3, None).await;
    let mut clients = Vec::new();
    for (i, node) in c.nodes.iter().enumerate() {
        for j in 0..2 {
            let client = Client::rich(&node.url, &format!("n{i}c{j}")).await;
            ok(client.request("room:join", json!({ "room": "all" })).await);
            clients.push(client);
        }
    }
    let mut sent = BTreeSet::new();
    for (i, client) in clients.iter().enumerate() {
        let ack =
            ok(client.request("message:send", json!({ "room": "all", "text": format!("from {i}") })).await);
        sent.insert(ack["message"]["id"].as_str().unwrap().to_owned());
    }
    for client in &clients {
        let mut got = Vec::new();
        for _ in 0..clients.len() {
            got.push(client.next("message:new").await["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), sent, "every message once");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in id order");
    }
    // Nothing more arrives: the next message each client sees is a new one.
    ok(clients[0].request("message:send", json!({ "room": "all", "text": "last" })).await);
    for client in &clients {
        assert_eq!(client.next("message:new").await["text"], "last", "no duplicate was delivered");
    }
    let first = rest_history(&c.nodes[0].url, "all").await;
    assert_eq!(first.len(), 7);
    for node in &c.nodes[1..] {
        assert_eq!(rest_history(&node.url, "all").await, first, "history is the same on every process");
    }
}

#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn presence_and_room_counts_agree_across_processes() {
    let services = Services::from_env();
    let c = cluster(&services, 3, None).await;
    let ann = Client::rich(&c.nodes[0].url, "ann").await;
    let bob = Client::rich(&c.nodes[1].url, "bob").await;
    let cat = Client::seed(&c.nodes[2].url, Some("p")).await;
    ok(ann.request("room:join", json!({ "room": "p" })).await);
    let joined = ok(bob.request("room:join", json!({ "room": "p" })).await);
    let names: Vec<&str> =
        joined["members"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "members on every process: {names:?}");
    assert!(names.contains(&"ann") && names.contains(&"bob"));
    assert_eq!(ann.next("presence:join").await["user"]["name"], "bob", "presence crosses processes");

    let count = |rooms: &Value| {
        rooms["rooms"].as_array().unwrap().iter().find(|r| r["id"] == "p").unwrap()["members"].clone()
    };
    for node in &c.nodes {
        let rooms: Value =
            reqwest::get(format!("{}/api/rooms", node.url)).await.unwrap().json().await.unwrap();
        assert_eq!(count(&rooms), 3, "{}", node.url);
    }
    bob.close();
    drop(bob);
    assert_eq!(ann.next("presence:leave").await["user"]["name"], "bob");
    for node in &c.nodes {
        let rooms: Value =
            reqwest::get(format!("{}/api/rooms", node.url)).await.unwrap().json().await.unwrap();
        assert_eq!(count(&rooms), 2, "a disconnect leaves every process's count: {}", node.url);
    }
    drop(cat);
}

/// A process that stops answering (here: stopped with SIGSTOP; a crashed one
/// looks the same until Redis notices its connection is gone) delays member
/// lists on the others by the adapter's request timeout, which is shorter
/// than a client's wait for an ack, so a join still succeeds.
#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn a_process_that_stops_answering_does_not_stall_joins_elsewhere() {
    let services = Services::from_env();
    let c = cluster(&services, 2, None).await;
    let (stalled, survivor) = (c.nodes[0].url.clone(), c.nodes[1].url.clone());
    let there = Client::rich(&stalled, "there").await;
    ok(there.request("room:join", json!({ "room": "s" })).await);
    c.nodes[0].signal("STOP");
    let here = Client::rich(&survivor, "here").await;
    let joined = ok(here.request("room:join", json!({ "room": "s" })).await);
    c.nodes[0].signal("CONT");
    let names: Vec<&str> =
        joined["members"].as_array().unwrap().iter().filter_map(|m| m["name"].as_str()).collect();
    assert!(names.contains(&"here"), "{joined}");
}

#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn killing_a_process_loses_no_acknowledged_message() {
    let services = Services::from_env();
    let c = cluster(&services, 2, None).await;
    let (doomed, survivor) = (c.nodes[0].url.clone(), c.nodes[1].url.clone());
    let sender = Client::rich(&doomed, "sender").await;
    let reader = Client::rich(&doomed, "reader").await;
    let watcher = Client::rich(&survivor, "watcher").await;
    for client in [&sender, &reader, &watcher] {
        ok(client.request("room:join", json!({ "room": "k" })).await);
    }
    let acks: Vec<_> = (0..300)
        .map(|i| {
            sender
                .emit_raw_args(
                    true,
                    &json!(["message:send", { "room": "k", "text": format!("m{i}") }]).to_string(),
                )
                .unwrap()
        })
        .collect();
    // Mid-stream: once some are acknowledged and both readers have seen the
    // first, SIGKILL the process.
    let mut acked = Vec::new();
    let mut acks = acks.into_iter();
    for ack in acks.by_ref().take(40) {
        let reply = tokio::time::timeout(Duration::from_secs(10), ack).await.unwrap().unwrap();
        acked.push(ok(reply)["message"]["id"].as_str().unwrap().to_owned());
    }
    let first = reader.next("message:new").await;
    assert_eq!(first["id"], acked[0].as_str(), "the reader sees the first message first");
    let first_live = watcher.next("message:new").await;
    assert_eq!(first_live["id"], acked[0].as_str(), "the other process's client too");
    c.nodes[0].signal("KILL");
    for ack in acks {
        // An ack that still arrives is a success; the rest never come.
        if let Ok(Ok(reply)) = tokio::time::timeout(Duration::from_secs(2), ack).await {
            acked.push(ok(reply)["message"]["id"].as_str().unwrap().to_owned());
        }
    }
    // Once the reader sees its connection close, everything it got is queued.
    reader.next("closed").await;
    let mut seen = vec![first];
    seen.extend(reader.drain("message:new").await);
    drop(reader);

    // The reader reconnects to the surviving process and catches up.
    let reader = Client::rich(&survivor, "reader").await;
    ok(reader.request("room:join", json!({ "room": "k" })).await);
    let mut after = seen.last().unwrap()["id"].as_str().unwrap().to_owned();
    loop {
        let page = ok(reader.request("history", json!({ "room": "k", "after": after, "limit": 100 })).await);
        let page = page["messages"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = last["id"].as_str().unwrap().to_owned();
        seen.extend(page);
    }
    let seen = ids(&seen);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len(), "no duplicate");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order");
    let stored_messages = rest_history(&survivor, "k").await;
    let stored = ids(&stored_messages);
    assert_eq!(seen, stored, "the reader has exactly what is stored");
    // One sender, stored in order: the store holds m0, m1, ... with no gap, and
    // its first messages are exactly the acknowledged ones (a message may be
    // stored with its ack lost in the kill, never the other way round).
    let texts: Vec<&str> = stored_messages.iter().map(|m| m["text"].as_str().unwrap()).collect();
    let sent: Vec<String> = (0..texts.len()).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, sent, "the store holds the first messages sent, in order");
    assert!(acked.len() <= stored.len(), "{} acknowledged, {} stored", acked.len(), stored.len());
    assert_eq!(acked, stored[..acked.len()], "every acknowledged message is stored, in order");

    // The survivor's own client saw them live, in order, up to a later message
    // sent through the survivor.
    ok(reader.request("message:send", json!({ "room": "k", "text": "after the kill" })).await);
    let mut live = vec![first_live];
    loop {
        let m = watcher.next("message:new").await;
        if m["text"] == "after the kill" {
            break;
        }
        live.push(m);
    }
    let live = ids(&live);
    assert!(live.windows(2).all(|w| w[0] < w[1]), "in order: {live:?}");
    assert!(live.iter().all(|id| stored.contains(id)), "only stored messages were delivered");
}

/// Polls `/healthz` until `want(body)`, at most 15 s.
async fn health_until(url: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    loop {
        interval.tick().await;
        let body: Value = reqwest::get(format!("{url}/healthz")).await.unwrap().json().await.unwrap();
        if want(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "healthz never became what was expected: {body}");
    }
}

#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn losing_redis_is_reported_refuses_sends_and_recovers() {
    let services = Services::from_env();
    // The processes reach Redis through a proxy that can play it going away,
    // without disturbing anything else that uses the shared Redis.
    let redis = Proxy::start(&services.redis_addr());
    let c = cluster(&services, 2, Some(&services.redis_at(redis.addr))).await;
    let a = Client::rich(&c.nodes[0].url, "a").await;
    let b = Client::rich(&c.nodes[1].url, "b").await;
    for client in [&a, &b] {
        ok(client.request("room:join", json!({ "room": "o" })).await);
    }
    ok(a.request("message:send", json!({ "room": "o", "text": "before" })).await);
    assert_eq!(b.next("message:new").await["text"], "before");

    redis.cut();
    let body = health_until(&c.nodes[0].url, |b| b["redis"] == "unreachable").await;
    assert_eq!(body["status"], "unavailable");
    let refused = a.request("message:send", json!({ "room": "o", "text": "during" })).await;
    assert_eq!(refused["error"]["code"], "unavailable", "{refused}");

    redis.resume();
    for node in &c.nodes {
        health_until(&node.url, |b| b["status"] == "ok").await;
    }
    // Sends work again and cross processes; clients catch up from the store.
    let mut delivered = None;
    for attempt in 0..50 {
        ok(a.request("message:send", json!({ "room": "o", "text": format!("after {attempt}") })).await);
        if let Some(m) = b.try_next("message:new").await {
            delivered = Some(m);
            break;
        }
    }
    let delivered = delivered.expect("messages cross processes again after Redis returns");
    let caught_up = ok(b.request("history", json!({ "room": "o", "after": "0000000000000000" })).await);
    let texts: Vec<&str> =
        caught_up["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts.first(), Some(&"before"));
    assert!(!texts.contains(&"during"), "a refused message was not stored");
    assert!(texts.contains(&delivered["text"].as_str().unwrap()));
}

#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn one_person_on_two_processes() {
    const KEY: &str = "ann-key-on-two-processes-0123";
    let services = Services::from_env();
    let c = cluster(&services, 2, None).await;
    let laptop = Client::keyed(&c.nodes[0].url, "ann", KEY).await;
    let phone = Client::keyed(&c.nodes[1].url, "phone", KEY).await;
    let bob = Client::keyed(&c.nodes[0].url, "bob", "bob-key-on-two-processes-0123").await;
    let ann = laptop.next("session").await["user"].clone();
    assert_eq!(phone.next("session").await["user"], ann, "both processes derive the same id and name");

    ok(bob.request("room:join", json!({ "room": "r" })).await);
    ok(laptop.request("room:join", json!({ "room": "r" })).await);
    assert_eq!(bob.next("presence:join").await["user"], ann);
    let joined = ok(phone.request("room:join", json!({ "room": "r" })).await);
    let members: Vec<&Value> = joined["members"].as_array().unwrap().iter().collect();
    assert_eq!(members.len(), 2, "ann once, though on two processes: {members:?}");

    // An edit made on one process reaches members on the other.
    let sent = ok(phone.request("message:send", json!({ "room": "r", "text": "helo" })).await);
    let id = sent["message"]["id"].clone();
    let edited = ok(laptop.request("message:edit", json!({ "room": "r", "id": id, "text": "hello" })).await);
    assert_eq!(phone.next("message:update").await, edited["message"]);
    assert_eq!(bob.next("message:update").await, edited["message"]);

    // A rename on one process renames her connection on the other.
    ok(phone.request("user:rename", json!({ "name": "Annie" })).await);
    assert_eq!(laptop.next("user:update").await["user"]["name"], "Annie");
    let sent = ok(laptop.request("message:send", json!({ "room": "r", "text": "renamed" })).await);
    assert_eq!(sent["message"]["user"]["name"], "Annie");

    // She leaves on one process: still present. On both: gone.
    ok(laptop.request("room:leave", json!({ "room": "r" })).await);
    let cat = Client::rich(&c.nodes[1].url, "cat").await;
    ok(cat.request("room:join", json!({ "room": "r" })).await);
    assert_eq!(
        bob.next("presence:join").await["user"]["name"],
        "cat",
        "no presence:leave for ann came first"
    );
    phone.close();
    assert_eq!(bob.next("presence:leave").await["user"]["name"], "Annie");
    for client in [&laptop, &phone, &bob, &cat] {
        assert!(!client.heard().contains(KEY), "the key was sent to a client");
    }
}

#[tokio::test]
#[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
async fn a_file_uploaded_through_one_process_is_served_by_another() {
    let services = Services::from_env();
    let c = cluster(&services, 2, None).await;
    let ann = Client::rich(&c.nodes[0].url, "ann").await;
    let bob = Client::rich(&c.nodes[1].url, "bob").await;
    for client in [&ann, &bob] {
        ok(client.request("room:join", json!({ "room": "pics" })).await);
    }
    let bytes = b"the same bytes on every process".to_vec();
    let up: Value = reqwest::Client::new()
        .post(format!("{}/api/rooms/pics/files?name=note.txt", c.nodes[0].url))
        .header("content-type", "text/plain")
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = ok(ann
        .request("message:send", json!({ "room": "pics", "text": "", "files": [up["file"]["id"]] }))
        .await);
    let seen = bob.next("message:new").await;
    assert_eq!(seen["files"], sent["message"]["files"]);
    let url = format!("{}{}", c.nodes[1].url, seen["files"][0]["url"].as_str().unwrap());
    let served = reqwest::get(&url).await.unwrap();
    assert_eq!(served.status(), reqwest::StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
}
