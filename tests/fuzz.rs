//! A protocol fuzz test against the real server: thousands of random and
//! mutated Engine.IO and Socket.IO frames over WebSocket and long-polling,
//! from a fixed seed so a failure replays. Afterwards the server is healthy,
//! every stored message is one the protocol accepts, every acknowledged
//! message is stored, and a normal client still chats.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::sio::RECV_TIMEOUT;
use common::{Client, TestServer, rest_history};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

/// The seed: change it to explore, keep it to replay.
const SEED: u64 = 0x5eed_c0ff_ee15_2026;
/// WebSocket frames sent, over all connections.
const WS_FRAMES: usize = 3_000;
/// Fuzzed sends from a well-behaved client.
const SENDS: usize = 300;
/// Long-polling request bodies sent.
const POLL_BODIES: usize = 400;
/// The room the fuzzer's well-formed sends go to.
const ROOM: &str = "fuzz";

/// xorshift64*: small, deterministic, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const EVENTS: &[&str] = &[
    "joinRoom",
    "message",
    "room:join",
    "room:leave",
    "room:create",
    "message:send",
    "typing",
    "history",
    "rooms:list",
    "",
    "constructor",
    "__proto__",
    "message:send\u{0}",
];

/// A random JSON value, nested at most `depth` deep.
fn value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 1),
        2 => json!(rng.next() as i64),
        3 => json!(f64::from_bits(rng.next() & 0x7fef_ffff_ffff_ffff)),
        4 => json!(text(rng)),
        5 => json!(*rng.pick(&["", ROOM, "lobby", ".", "..", "p-aaaaaaaaaaaaaaaa", "x".repeat(65).as_str()])),
        6 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => {
            let keys =
                ["room", "text", "clientId", "key", "typing", "private", "before", "after", "limit", "v"];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                map.insert((*rng.pick(&keys)).to_owned(), value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

fn text(rng: &mut Rng) -> String {
    let pieces = ["a", " ", "é", "\u{200b}", "\u{202e}", "\n", "\"", "\\", "🦀", "\u{0}", "<script>"];
    let len = match rng.below(10) {
        0 => 4_001,
        1 => 0,
        _ => rng.below(12),
    };
    (0..len).map(|_| *rng.pick(&pieces)).collect()
}

/// A well-formed send with an ack id and a fuzzed text.
fn send(rng: &mut Rng, ack: u64) -> String {
    let payload = json!(["message:send", { "room": ROOM, "text": text(rng), "clientId": format!("c{}", rng.below(50)) }]);
    format!("42{ack}{payload}")
}

/// A random or mutated packet: every way a packet can be wrong.
fn junk(rng: &mut Rng) -> String {
    let event = *rng.pick(EVENTS);
    let args = Value::Array((0..rng.below(3)).map(|_| value(rng, 3)).collect());
    let mut args = args.as_array().cloned().unwrap_or_default();
    args.insert(0, json!(event));
    let good = Value::Array(args).to_string();
    match rng.below(12) {
        0 => format!("42{good}"),
        1 => format!("42{}{good}", rng.next() % 1_000_000),
        2 => good.chars().take(rng.below(good.chars().count() + 1)).collect(),
        3 => format!("4{}{good}", rng.below(10)),
        4 => format!("{}", rng.below(10)),
        5 => format!("45{}-{good}", rng.below(3)),
        6 => format!("43{}[{}]", rng.next() % 100, value(rng, 2)),
        7 => format!("40{}", value(rng, 2)),
        8 => "41".to_owned(),
        9 => format!("42/{}", text(rng)),
        10 => (0..rng.below(40)).map(|_| char::from(rng.below(128) as u8)).collect(),
        _ => {
            let mut bytes = good.into_bytes();
            for _ in 0..3 {
                if !bytes.is_empty() {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.below(128) as u8;
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

/// Sends fuzzed payloads in well-formed sends from a well-behaved client, so
/// that their acks arrive; returns the ids of the messages acked ok.
async fn fuzzed_sends(url: &str, rng: &mut Rng) -> HashSet<String> {
    let client = Client::rich(url, "sender").await;
    assert_eq!(client.request("room:join", json!({ "room": ROOM })).await["ok"], true);
    let mut acked = HashSet::new();
    for i in 0..SENDS {
        // Now and then a resend of an earlier clientId, which must not store twice.
        let client_id = format!("c{}", if rng.below(5) == 0 { rng.below(i + 1) } else { i });
        let payload = match rng.below(3) {
            0 => value(rng, 3),
            _ => json!({ "room": ROOM, "text": text(rng), "clientId": client_id }),
        };
        let reply = client.request("message:send", payload).await;
        if reply["ok"] == true {
            acked.insert(reply["message"]["id"].as_str().unwrap().to_owned());
        } else {
            assert!(reply["error"]["code"].is_string(), "a refusal names its code: {reply}");
        }
    }
    acked
}

/// Sends frames over WebSocket connections, reconnecting when the server
/// closes one.
async fn over_websocket(url: &str, rng: &mut Rng) {
    let ws = format!("{}/socket.io/?EIO=4&transport=websocket", url.replacen("http://", "ws://", 1));
    let mut sent = 0;
    while sent < WS_FRAMES {
        let (conn, _) = tokio_tungstenite::connect_async(&ws).await.expect("the server accepts a connection");
        let (mut tx, mut rx) = conn.split();
        let auth = if rng.below(3) == 0 { value(rng, 2) } else { json!({ "name": text(rng), "v": 1 }) };
        let _ = tx.send(Frame::text(format!("40{auth}"))).await;
        let _ = tx.send(Frame::text(format!("42[\"room:join\",{{\"room\":\"{ROOM}\"}}]"))).await;
        let mut acks = 1_000;
        for _ in 0..rng.below(200) + 1 {
            sent += 1;
            let frame = match rng.below(4) {
                0 => {
                    acks += 1;
                    send(rng, acks)
                }
                1 if rng.below(20) == 0 => {
                    let _ = tx.send(Frame::binary(vec![rng.below(256) as u8; rng.below(64)])).await;
                    continue;
                }
                _ => junk(rng),
            };
            if tx.send(Frame::text(frame)).await.is_err() {
                break;
            }
        }
        // Read what came back until the server goes quiet or closes.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_millis(200), rx.next()).await {}
    }
}

/// Sends bodies over long-polling sessions, reopening them as needed.
async fn over_polling(url: &str, rng: &mut Rng) {
    let http = reqwest::Client::builder().timeout(RECV_TIMEOUT).build().unwrap();
    let base = format!("{url}/socket.io/?EIO=4&transport=polling");
    let mut sid = None::<String>;
    for _ in 0..POLL_BODIES {
        let session = match &sid {
            Some(sid) => sid.clone(),
            None => {
                let open = http.get(&base).send().await.expect("a polling handshake answers");
                let body = open.text().await.unwrap();
                let open: Value = serde_json::from_str(body.trim_start_matches('0')).expect("an open packet");
                let new = open["sid"].as_str().unwrap().to_owned();
                sid = Some(new.clone());
                new
            }
        };
        // Several packets per body, separated as Engine.IO v4 does (0x1e).
        let body: Vec<String> = (0..rng.below(4) + 1).map(|_| format!("4{}", junk(rng))).collect();
        let body = if rng.below(10) == 0 { junk(rng) } else { body.join("\u{1e}") };
        match http.post(format!("{base}&sid={session}")).body(body).send().await {
            Ok(resp) if resp.status().is_success() => {}
            _ => sid = None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_frames_leave_the_server_healthy_and_its_history_valid() {
    // One address opens every connection: the per-address limits are not what is tested.
    let server =
        TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "0", "--max-connections-per-ip", "0"])
            .await;
    let mut rng = Rng(SEED);
    let acked = fuzzed_sends(&server.url, &mut rng).await;
    over_websocket(&server.url, &mut rng).await;
    over_polling(&server.url, &mut rng).await;

    let health = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(health.status(), 200, "the server is healthy after the fuzzing");

    let stored = rest_history(&server.url, ROOM).await;
    for message in &stored {
        let text = message["text"].as_str().unwrap();
        assert!(
            !text.trim().is_empty() && text.chars().count() <= 4000,
            "an invalid text was stored: {message}"
        );
        let name = message["user"]["name"].as_str().unwrap();
        assert!(!name.is_empty() && !name.contains('\u{200b}') && !name.contains('\u{202e}'), "{message}");
    }
    let ids: HashSet<String> = stored.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    assert!(acked.len() > SENDS / 5, "the fuzzer got sends through, or it tested nothing: {}", acked.len());
    assert!(acked.is_subset(&ids), "every acknowledged message is stored");

    let ann = Client::rich(&server.url, "ann").await;
    let bob = Client::rich(&server.url, "bob").await;
    for client in [&ann, &bob] {
        assert_eq!(client.request("room:join", json!({ "room": "after" })).await["ok"], true);
    }
    let sent = ann.request("message:send", json!({ "room": "after", "text": "still here" })).await;
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(bob.next("message:new").await["text"], "still here");
}
