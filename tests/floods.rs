//! Floods against the real server: many sessions from one address
//! (`--max-connections-per-ip`), sessions that never connect or are refused,
//! and idle connections (slowloris).

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
