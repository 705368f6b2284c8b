//! The 64 KiB packet limit holds for WebSocket frames too: a bigger frame
//! closes its connection without being read into memory, and other clients
//! carry on.

mod common;

use common::sio::RECV_TIMEOUT;
use common::{Client, Process, TestServer};
use futures_util::{SinkExt, StreamExt};
use rtchat::server::MAX_PAYLOAD;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw Engine.IO WebSocket whose own limits let it receive and send
/// anything, past the open packet.
async fn raw_socket(base: &str) -> Ws {
    let url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http://", "ws://", 1));
    let config = WebSocketConfig::default().max_frame_size(None).max_message_size(None);
    let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), false);
    let (mut ws, _) = tokio::time::timeout(RECV_TIMEOUT, connect).await.unwrap().unwrap();
    let open = next_text(&mut ws).await.expect("an open packet");
    assert!(open.starts_with("0{"), "{open}");
    ws
}

/// The next text frame, answering pings; `None` once the server has closed
/// the connection.
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(RECV_TIMEOUT, ws.next()).await.expect("the server answers in time") {
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => ws.send(Message::text("3")).await.ok()?,
            Some(Ok(Message::Text(t))) => return Some(t.to_string()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// The reply to the ack id `id`, skipping broadcasts.
async fn ack(ws: &mut Ws, id: u32) -> Value {
    let prefix = format!("43{id}");
    loop {
        let text = next_text(ws).await.expect("an ack before the connection closes");
        if let Some(body) = text.strip_prefix(&prefix) {
            return serde_json::from_str::<Value>(body).unwrap()[0].clone();
        }
    }
}

/// `message:send` to the lobby, with ack id `id`, padded so that the whole
/// Engine.IO packet is exactly `size` bytes.
fn send_packet(id: u32, size: usize) -> String {
    let head = format!(r#"42{id}["message:send",{{"room":"lobby","text":""#);
    let tail = r#""}]"#;
    format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()))
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_only_its_own_connection() {
    let server = TestServer::start().await;
    let limit = MAX_PAYLOAD as usize;
    let bob = Client::rich(&server.url, "bob").await;
    bob.request("room:join", json!({ "room": "lobby" })).await;

    let mut raw = raw_socket(&server.url).await;
    raw.send(Message::text(r#"40{"name":"raw","v":1}"#)).await.unwrap();
    assert!(next_text(&mut raw).await.unwrap().starts_with("40"));
    raw.send(Message::text(r#"421["room:join",{"room":"lobby"}]"#)).await.unwrap();
    assert_eq!(ack(&mut raw, 1).await["ok"], true);

    // Just under the limit, a text too long for a message is refused the
    // normal way and the connection stays.
    raw.send(Message::text(send_packet(2, limit))).await.unwrap();
    let refused = ack(&mut raw, 2).await;
    assert_eq!(refused["error"]["code"], "too_large", "{refused}");
    raw.send(Message::text(r#"423["message:send",{"room":"lobby","text":"still here"}]"#)).await.unwrap();
    assert_eq!(ack(&mut raw, 3).await["ok"], true);
    assert_eq!(bob.next("message:new").await["text"], "still here");

    // One byte over: the server closes this connection.
    raw.send(Message::text(send_packet(4, limit + 1))).await.unwrap();
    assert_eq!(next_text(&mut raw).await, None, "the connection is closed, with no ack");

    // Bob, connected all along, keeps chatting.
    let sent = bob.request("message:send", json!({ "room": "lobby", "text": "after" })).await;
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(bob.next("message:new").await["text"], "after");
}

/// A process's resident memory, or its peak (`VmHWM`), in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Announces one masked text frame of `len` bytes, then streams its payload
/// until it is all sent or the server closes the connection.
async fn stream_frame(tcp: &mut TcpStream, len: u64) {
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0; 4]); // a zero mask leaves the payload as it is
    if tcp.write_all(&header).await.is_err() {
        return;
    }
    let chunk = vec![b'x'; 64 * 1024];
    let mut left = len as usize;
    while left > 0 {
        let n = left.min(chunk.len());
        if tcp.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        left -= n;
    }
}

#[tokio::test]
async fn twenty_huge_frames_leave_memory_flat() {
    const MB: u64 = 1024 * 1024;
    let server = Process::start(&["--port", "0", "--ui-port", "off", "--db", "memory", "--token", "s3cret"]);
    let before = memory(server.pid, "VmRSS:");

    let attacks = (0..20).map(|_| {
        let url = server.url.clone();
        tokio::spawn(tokio::time::timeout(std::time::Duration::from_secs(60), async move {
            let mut ws = raw_socket(&url).await;
            // No token, no Socket.IO connect: just the frame.
            let MaybeTlsStream::Plain(tcp) = ws.get_mut() else { unreachable!("plain ws://") };
            stream_frame(tcp, 15 * MB).await;
            tcp.flush().await.ok();
            assert_eq!(next_text(&mut ws).await, None, "the server closes the connection");
        }))
    });
    for attack in futures_util::future::join_all(attacks).await {
        attack.unwrap().expect("each attack ends within a minute");
    }

    let peak = memory(server.pid, "VmHWM:");
    eprintln!("resident memory {} MB before, peak {} MB after", before / MB, peak / MB);
    assert!(peak < before + 50 * MB, "peak memory rose from {} MB to {} MB", before / MB, peak / MB);
    let ok = Client::connect(&server.url, json!({ "name": "ann", "v": 1, "token": "s3cret" }), "").await;
    assert!(ok.is_ok(), "a normal client still connects");
}
