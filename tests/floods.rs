//! Floods against the real server: many sessions from one address
//! (`--max-connections-per-ip`), sessions that never connect or are refused,
//! idle connections (slowloris), and a client that stops reading.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::sio::RECV_TIMEOUT;
use common::{Client, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;

/// How long the server may take to close what it must close, past its own deadline.
const MARGIN: Duration = Duration::from_secs(2);

type Ws = WebSocketStream<TcpStream>;

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap()
}

/// A TCP connection to `url`'s server from the local address `from`.
async fn tcp_from(from: IpAddr, url: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr_of(url)).await.unwrap()
}

/// A raw Engine.IO WebSocket from `from`; `Err` carries the HTTP status if refused.
async fn ws_from(from: IpAddr, url: &str, query: &str) -> Result<Ws, u16> {
    let tcp = tcp_from(from, url).await;
    let ws_url =
        format!("{}/socket.io/?EIO=4&transport=websocket{query}", url.replacen("http://", "ws://", 1));
    match tokio_tungstenite::client_async(ws_url, tcp).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("websocket handshake failed: {e}"),
    }
}

/// The next text frame other than a ping (which is answered), within [`RECV_TIMEOUT`].
async fn next_text(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(RECV_TIMEOUT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Frame::Text(t))) if t.as_str() == "2" => ws.send(Frame::text("3")).await.unwrap(),
            Some(Ok(Frame::Text(t))) => return t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Waits until the server ends `ws`, at most `limit`; panics if it does not.
async fn closed_within(ws: &mut Ws, limit: Duration) -> Duration {
    let start = Instant::now();
    let result = tokio::time::timeout(limit, async {
        while let Some(Ok(frame)) = ws.next().await {
            if frame.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(result.is_ok(), "the server kept the connection open for {limit:?}");
    start.elapsed()
}

/// Opens a long-polling session from `from`; the status and the body.
async fn polling_open(from: IpAddr, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::Client::builder().local_address(from).build().unwrap();
    let mut request = client.get(format!("{url}/socket.io/?EIO=4&transport=polling"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = tokio::time::timeout(RECV_TIMEOUT, request.send()).await.unwrap().unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn sessions_beyond_the_per_address_limit_are_refused_before_they_exist() {
    let server = TestServer::with(&["--max-connections-per-ip", "3"]).await;
    let local = ip("127.0.0.1");
    let alice = Client::rich(&server.url, "alice").await;
    let bob = Client::rich(&server.url, "bob").await;
    let mut third = ws_from(local, &server.url, "").await.expect("the third session is allowed");
    assert!(next_text(&mut third).await.starts_with('0'), "an Engine.IO open packet");

    // The fourth, over either transport, is refused with 429 naming the flag.
    assert_eq!(ws_from(local, &server.url, "").await.err(), Some(429));
    let (status, body) = polling_open(local, &server.url, &[]).await;
    assert_eq!(status, 429);
    assert!(body.contains("--max-connections-per-ip"), "{body}");
    // A forged X-Forwarded-For on a direct connection changes nothing.
    let (status, _) = polling_open(local, &server.url, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(status, 429, "X-Forwarded-For is not trusted on direct connections");

    // The admitted ones still chat, and another address is counted on its own.
    for c in [&alice, &bob] {
        assert_eq!(c.request("room:join", json!({ "room": "limits" })).await["ok"], true);
    }
    alice.request("message:send", json!({ "room": "limits", "text": "still here" })).await;
    assert_eq!(bob.next("message:new").await["text"], "still here");
    let (status, body) = polling_open(ip("127.0.0.2"), &server.url, &[]).await;
    assert_eq!(status, 200, "127.0.0.2 has its own count: {body}");

    // A closed session frees its place.
    third.close(None).await.unwrap();
    let deadline = Instant::now() + RECV_TIMEOUT;
    loop {
        let (status, _) = polling_open(local, &server.url, &[]).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the closed session still counts");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn zero_turns_the_per_address_limit_off() {
    let server = TestServer::with(&["--max-connections-per-ip", "0"]).await;
    let mut open = Vec::new();
    for _ in 0..300 {
        let (status, body) = polling_open(ip("127.0.0.1"), &server.url, &[]).await;
        assert_eq!(status, 200, "{body}");
        open.push(body);
    }
}

#[tokio::test]
async fn a_refused_websocket_handshake_is_answered_then_closed_at_once() {
    let server = TestServer::with(&["--token", "s3cret"]).await;
    let mut ws = ws_from(ip("127.0.0.1"), &server.url, "").await.unwrap();
    assert!(next_text(&mut ws).await.starts_with('0'));
    ws.send(Frame::text(format!("40{}", json!({ "token": "wrong" })))).await.unwrap();
    let refusal = next_text(&mut ws).await;
    assert!(refusal.starts_with("44") && refusal.contains("unauthorized"), "{refusal}");
    // At once: well before the Socket.IO connect timeout or a heartbeat.
    let took = closed_within(&mut ws, Duration::from_secs(1)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn a_refused_polling_handshake_ends_its_session_at_once() {
    let server = TestServer::with(&["--token", "s3cret"]).await;
    let http = reqwest::Client::new();
    let (status, open) = polling_open(ip("127.0.0.1"), &server.url, &[]).await;
    assert_eq!(status, 200);
    let sid: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let poll =
        format!("{}/socket.io/?EIO=4&transport=polling&sid={}", server.url, sid["sid"].as_str().unwrap());
    let posted = http.post(&poll).body(format!("40{}", json!({ "token": "wrong" }))).send().await.unwrap();
    assert_eq!(posted.status(), 200);
    let refusal = http.get(&poll).send().await.unwrap().text().await.unwrap();
    // A polling response may carry several packets, separated by 0x1e.
    assert!(refusal.split('\x1e').any(|p| p.starts_with("44") && p.contains("unauthorized")), "{refusal:?}");

    // Within a second the session is gone: a poll is answered with an error
    // (a live session would hold the poll open until its next ping, 25 s).
    let gone = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let response = http.get(&poll).send().await.unwrap();
            if response.status() == 400 {
                return;
            }
        }
    })
    .await;
    assert!(gone.is_ok(), "the refused session is still open after 1 s");
}

#[tokio::test]
async fn a_session_that_never_sends_connect_is_closed_within_5_seconds() {
    let server = TestServer::start().await;
    let mut ws = ws_from(ip("127.0.0.1"), &server.url, "").await.unwrap();
    assert!(next_text(&mut ws).await.starts_with('0'));
    // Say nothing at all.
    let took = closed_within(&mut ws, Duration::from_secs(5) + MARGIN).await;
    assert!(took <= Duration::from_secs(5) + MARGIN, "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_clients_get_in_while_a_thousand_idle_connections_are_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // This test holds 1,100 sockets itself.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let server = common::Process::start_after(
        "ulimit -Sn 1024",
        &["--port", "0", "--ui-port", "off", "--db", db.to_str().unwrap()],
    );
    // The server raised its soft limit on open files to the hard limit.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid)).unwrap();
    let files: Vec<&str> =
        limits.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().collect();
    assert_eq!(files[3], files[4], "soft and hard open-file limits: {files:?}");

    // 1,100 connections that send nothing, or half a request head, and never
    // more; one sends a whole request first, then keeps its connection idle.
    let opened = Instant::now();
    let mut idle = Vec::new();
    for i in 0..1100 {
        let mut tcp = TcpStream::connect(addr_of(&server.url)).await.unwrap();
        match i {
            2 => tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap(),
            _ if i % 2 == 1 => {
                tcp.write_all(b"GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap()
            }
            _ => {}
        }
        idle.push(tcp);
    }

    // A new client still connects and chats.
    let (a, b) = (Client::rich(&server.url, "a").await, Client::rich(&server.url, "b").await);
    for c in [&a, &b] {
        assert_eq!(c.request("room:join", json!({ "room": "busy" })).await["ok"], true);
    }
    a.request("message:send", json!({ "room": "busy", "text": "through the crowd" })).await;
    assert_eq!(b.next("message:new").await["text"], "through the crowd");

    // The idle connections are closed once the 10 s request-head timeout passes.
    let deadline = opened + Duration::from_secs(10) + MARGIN;
    for i in [0, 1, 2, 1099] {
        let tcp = &mut idle[i];
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(left, async {
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    // A response (or hyper's 408) before the close.
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(read.is_ok(), "an idle connection was still open after {:?}", opened.elapsed());
    }
}

/// Log lines written in this thread while the guard lives.
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        (Self(buf), tracing::subscriber::set_default(subscriber))
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap()).lines().map(str::to_owned).collect()
    }
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The id of a `message:new` packet, if `frame` is one.
fn message_id(frame: &str) -> Option<String> {
    let args: Value = serde_json::from_str(frame.strip_prefix("42")?).ok()?;
    (args[0] == "message:new").then(|| args[1]["id"].as_str().unwrap().to_owned())
}

const DROP_LINE: &str = "dropping a client that stopped reading";

/// Sends 4 KB messages to `flood` in rounds until the server logs that it
/// dropped a client (a queue holds 1,024 packets; the kernel buffers a few
/// MB more), at most 4,000; the ids sent.
async fn flood_until_dropped(fast: &Client, logs: &Logs) -> Vec<String> {
    let text = "x".repeat(4000);
    let mut sent = Vec::new();
    for _round in 0..40 {
        let acks = futures_util::future::join_all(
            (0..100).map(|_| fast.request("message:send", json!({ "room": "flood", "text": text }))),
        )
        .await;
        for ack in acks {
            assert_eq!(ack["ok"], true, "{ack}");
            sent.push(ack["message"]["id"].as_str().unwrap().to_owned());
        }
        if logs.lines().iter().any(|l| l.contains(DROP_LINE)) {
            break;
        }
    }
    sent
}

/// A TCP connection with a 4 KiB receive buffer, for a client that stops reading.
async fn small_window(url: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr_of(url)).await.unwrap()
}

// A current-thread runtime: the server's tasks log in this thread, where the
// capture is installed.
#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_once_and_catches_up_from_history() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "0"]).await;
    let watcher = Client::rich(&server.url, "watcher").await;
    let fast = Client::rich(&server.url, "fast").await;
    for c in [&watcher, &fast] {
        assert_eq!(c.request("room:join", json!({ "room": "flood" })).await["ok"], true);
    }

    // The slow client: a small receive window, joins, then never reads again.
    let tcp = small_window(&server.url).await;
    let ws_url =
        format!("{}/socket.io/?EIO=4&transport=websocket", server.url.replacen("http://", "ws://", 1));
    let (mut slow, _) = tokio_tungstenite::client_async(ws_url, tcp).await.unwrap();
    assert!(next_text(&mut slow).await.starts_with('0'));
    slow.send(Frame::text(format!("40{}", json!({ "name": "slow", "v": 1 })))).await.unwrap();
    let connected = next_text(&mut slow).await;
    let sid: Value = serde_json::from_str(connected.strip_prefix("40").unwrap()).unwrap();
    let sid = sid["sid"].as_str().unwrap().to_owned();
    slow.send(Frame::text(format!("421{}", json!(["room:join", { "room": "flood" }])))).await.unwrap();
    while !next_text(&mut slow).await.starts_with("431") {}

    let sent = flood_until_dropped(&fast, &logs).await;
    let drops: Vec<_> = logs.lines().into_iter().filter(|l| l.contains(DROP_LINE)).collect();
    assert_eq!(drops.len(), 1, "one line for the one slow client: {drops:?}");
    assert!(drops[0].contains(&sid), "the line names the sid: {}", drops[0]);

    // The other member got every message, in order, without a gap.
    for id in &sent {
        assert_eq!(&watcher.next("message:new").await["id"], id);
    }

    // The slow client's connection is closed: what it had been sent is a
    // prefix of the messages, in order, then the stream ends.
    let mut seen = Vec::new();
    let ended = tokio::time::timeout(RECV_TIMEOUT * 2, async {
        while let Some(Ok(frame)) = slow.next().await {
            if let Frame::Text(t) = frame
                && let Some(id) = message_id(&t)
            {
                seen.push(id);
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the slow client's connection is still open");
    assert!(seen.len() < sent.len(), "it was dropped before it got everything");
    assert_eq!(seen[..], sent[..seen.len()], "what it got is in order and without a gap");

    // Reconnected, it catches up from history: nothing is lost.
    let back = Client::rich(&server.url, "slow").await;
    let mut after = seen.last().cloned().unwrap_or_else(|| "0".repeat(16));
    loop {
        let page = back.request("history", json!({ "room": "flood", "after": after, "limit": 100 })).await;
        let page = page["messages"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = last["id"].as_str().unwrap().to_owned();
        seen.extend(page.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(seen, sent);
    let warnings = logs.lines().into_iter().filter(|l| l.contains("WARN")).count();
    assert!(warnings <= 2, "the overflow did not flood the log: {:#?}", logs.lines());
}

#[tokio::test]
async fn a_client_upgraded_from_long_polling_that_stops_reading_is_dropped() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::with(&["--rate-limit", "0", "--rate-limit-per-ip", "0"]).await;
    let fast = Client::rich(&server.url, "fast").await;
    assert_eq!(fast.request("room:join", json!({ "room": "flood" })).await["ok"], true);

    // As socket.io-client does: open over long-polling, connect, then upgrade.
    let http = reqwest::Client::new();
    let (status, open) = polling_open(ip("127.0.0.1"), &server.url, &[]).await;
    assert_eq!(status, 200);
    let sid: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let sid = sid["sid"].as_str().unwrap().to_owned();
    let poll = format!("{}/socket.io/?EIO=4&transport=polling&sid={sid}", server.url);
    http.post(&poll).body(format!("40{}", json!({ "name": "slow", "v": 1 }))).send().await.unwrap();
    let connected = http.get(&poll).send().await.unwrap().text().await.unwrap();
    assert!(connected.split('\x1e').any(|p| p.starts_with("40")), "{connected:?}");
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket&sid={sid}",
        server.url.replacen("http://", "ws://", 1)
    );
    let (mut slow, _) =
        tokio_tungstenite::client_async(&ws_url, small_window(&server.url).await).await.unwrap();
    slow.send(Frame::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut slow).await, "3probe");
    slow.send(Frame::text("5")).await.unwrap();
    // Someone else who learned the sid asks to upgrade it too (and fails):
    // that must not hide the session's real connection.
    let intruder =
        tokio_tungstenite::client_async(&ws_url, tcp_from(ip("127.0.0.1"), &server.url).await).await;
    slow.send(Frame::text(format!("421{}", json!(["room:join", { "room": "flood" }])))).await.unwrap();
    while !next_text(&mut slow).await.starts_with("431") {}

    flood_until_dropped(&fast, &logs).await;
    let drops: Vec<_> = logs.lines().into_iter().filter(|l| l.contains(DROP_LINE)).collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert!(drops[0].contains(&sid), "{}", drops[0]);
    closed_within(&mut slow, RECV_TIMEOUT * 2).await;
    drop(intruder);
}
