//! Floods against the real server: idle connections (slowloris).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Client;
use serde_json::json;
use tokio::net::TcpStream;

/// How long the server may take to close what it must close, past its own deadline.
const MARGIN: Duration = Duration::from_secs(2);

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap()
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
