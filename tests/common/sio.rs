//! A small Socket.IO v4 client over raw Engine.IO WebSocket frames, written for
//! these tests: it speaks exactly the packets the protocol doc names, so a test
//! sees what a real client would.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Frame;

/// How long any single receive may take before the test fails.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

type Acks = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
/// Events as they arrive, and those read past while waiting for another.
type Events = (mpsc::UnboundedReceiver<(String, Value)>, VecDeque<(String, Value)>);

/// A connected client.
pub struct Client {
    pub sid: String,
    out: mpsc::UnboundedSender<String>,
    events: Mutex<Events>,
    acks: Acks,
    next_ack: AtomicU64,
    heard: Arc<std::sync::Mutex<String>>,
}

/// Why a connection was not established.
#[derive(Debug)]
pub enum ConnectError {
    /// The server sent `connect_error` with this message.
    Refused(String),
    Other(String),
}

impl Client {
    /// Connects over WebSocket to `base` (an http:// URL), with `auth` (or none
    /// when it is null) and extra query parameters such as `projectId=x`.
    pub async fn connect(base: &str, auth: Value, query: &str) -> Result<Client, ConnectError> {
        let ws_base = base.replacen("http://", "ws://", 1);
        let mut url = format!("{ws_base}/socket.io/?EIO=4&transport=websocket");
        if !query.is_empty() {
            url.push('&');
            url.push_str(query);
        }
        let (ws, _) = tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(&url))
            .await
            .map_err(|_| ConnectError::Other("websocket connect timed out".into()))?
            .map_err(|e| ConnectError::Other(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();

        let next_text =
            async |stream: &mut futures_util::stream::SplitStream<_>| -> Result<String, ConnectError> {
                loop {
                    match tokio::time::timeout(RECV_TIMEOUT, stream.next()).await {
                        Ok(Some(Ok(Frame::Text(t)))) => return Ok(t.to_string()),
                        Ok(Some(Ok(_))) => continue,
                        other => {
                            return Err(ConnectError::Other(format!("handshake read failed: {other:?}")));
                        }
                    }
                }
            };
        let open = next_text(&mut stream).await?;
        assert!(open.starts_with('0'), "expected an Engine.IO open packet, got {open}");
        let connect = if auth.is_null() { "40".to_owned() } else { format!("40{auth}") };
        sink.send(Frame::text(connect)).await.map_err(|e| ConnectError::Other(e.to_string()))?;
        let reply = loop {
            let t = next_text(&mut stream).await?;
            if t == "2" {
                sink.send(Frame::text("3")).await.map_err(|e| ConnectError::Other(e.to_string()))?;
                continue;
            }
            break t;
        };
        let sid = if let Some(body) = reply.strip_prefix("40") {
            let v: Value = serde_json::from_str(body).map_err(|e| ConnectError::Other(e.to_string()))?;
            v["sid"].as_str().unwrap_or_default().to_owned()
        } else if let Some(body) = reply.strip_prefix("44") {
            let v: Value = serde_json::from_str(body).map_err(|e| ConnectError::Other(e.to_string()))?;
            return Err(ConnectError::Refused(v["message"].as_str().unwrap_or_default().to_owned()));
        } else {
            return Err(ConnectError::Other(format!("unexpected connect reply {reply}")));
        };

        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let acks: Acks = Default::default();
        tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Frame::text(text)).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let pong = out.clone();
        let ack_map = acks.clone();
        let heard: Arc<std::sync::Mutex<String>> = Arc::new(std::sync::Mutex::new(reply.clone()));
        let transcript = heard.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Frame::Text(text) = frame else { continue };
                let text = text.as_str();
                transcript.lock().unwrap().push_str(text);
                if text == "2" {
                    let _ = pong.send("3".into());
                } else if let Some(rest) = text.strip_prefix("42") {
                    if let Ok(Value::Array(mut args)) = serde_json::from_str::<Value>(rest) {
                        let name = args.remove(0).as_str().unwrap_or_default().to_owned();
                        let data = args.into_iter().next().unwrap_or(Value::Null);
                        let _ = event_tx.send((name, data));
                    }
                } else if let Some(rest) = text.strip_prefix("43") {
                    let split = rest.find('[').unwrap_or(rest.len());
                    let (id, body) = rest.split_at(split);
                    let id: u64 = id.parse().unwrap_or(u64::MAX);
                    let data = serde_json::from_str::<Value>(body)
                        .ok()
                        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
                        .unwrap_or(Value::Null);
                    if let Some(tx) = ack_map.lock().unwrap().remove(&id) {
                        let _ = tx.send(data);
                    }
                } else if text.starts_with("41") {
                    let _ = event_tx.send(("disconnect".into(), Value::Null));
                }
            }
            // Pending acks will never come: fail them now.
            ack_map.lock().unwrap().clear();
            let _ = event_tx.send(("closed".into(), Value::Null));
        });
        Ok(Client {
            sid,
            out,
            events: Mutex::new((event_rx, VecDeque::new())),
            acks,
            next_ack: AtomicU64::new(1),
            heard,
        })
    }

    /// A rich client with a `userKey`: the same key is the same person.
    pub async fn keyed(base: &str, name: &str, key: &str) -> Client {
        Self::connect(base, json!({ "name": name, "v": 1, "userKey": key }), "")
            .await
            .expect("keyed client connects")
    }

    /// Every packet the server sent this client so far, as one text.
    pub fn heard(&self) -> String {
        self.heard.lock().unwrap().clone()
    }

    /// A rich (`auth.v: 1`) client named `name`.
    pub async fn rich(base: &str, name: &str) -> Client {
        Self::connect(base, json!({ "name": name, "v": 1 }), "").await.expect("rich client connects")
    }

    /// A seed-style client: no auth, plain strings, optional `projectId`.
    pub async fn seed(base: &str, project_id: Option<&str>) -> Client {
        let query = project_id.map(|p| format!("projectId={p}")).unwrap_or_default();
        Self::connect(base, Value::Null, &query).await.expect("seed client connects")
    }

    /// Sends an event without an ack.
    pub fn emit(&self, event: &str, data: Value) {
        let _ = self.out.send(format!("42{}", json!([event, data])));
    }

    /// Sends an event with any JSON payload text, for malformed-input tests.
    pub fn emit_raw_args(&self, ack: bool, args_json: &str) -> Option<oneshot::Receiver<Value>> {
        if ack {
            let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            self.acks.lock().unwrap().insert(id, tx);
            let _ = self.out.send(format!("42{id}{args_json}"));
            Some(rx)
        } else {
            let _ = self.out.send(format!("42{args_json}"));
            None
        }
    }

    /// Sends an event and waits for its ack.
    pub async fn request(&self, event: &str, data: Value) -> Value {
        let args = if data.is_null() { json!([event]) } else { json!([event, data]) };
        let rx = self.emit_raw_args(true, &args.to_string()).unwrap();
        tokio::time::timeout(RECV_TIMEOUT, rx)
            .await
            .unwrap_or_else(|_| panic!("no ack for {event} within {RECV_TIMEOUT:?}"))
            .expect("ack channel open")
    }

    /// Waits for the next event named `name`; other events stay queued.
    pub async fn next(&self, name: &str) -> Value {
        self.try_next(name).await.unwrap_or_else(|| panic!("no {name} event within {RECV_TIMEOUT:?}"))
    }

    /// Like [`Client::next`], but `None` on timeout.
    pub async fn try_next(&self, name: &str) -> Option<Value> {
        let mut guard = self.events.lock().await;
        let (rx, queued) = &mut *guard;
        if let Some(i) = queued.iter().position(|(n, _)| n == name) {
            return queued.remove(i).map(|(_, v)| v);
        }
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((n, v))) if n == name => return Some(v),
                Ok(Some(other)) => queued.push_back(other),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Every already-queued event named `name`, without waiting.
    pub async fn drain(&self, name: &str) -> Vec<Value> {
        let mut guard = self.events.lock().await;
        let (rx, queued) = &mut *guard;
        while let Ok(e) = rx.try_recv() {
            queued.push_back(e);
        }
        let (matching, rest): (Vec<_>, Vec<_>) = queued.drain(..).partition(|(n, _)| n == name);
        queued.extend(rest);
        matching.into_iter().map(|(_, v)| v).collect()
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.out.send("41".into());
    }
}
