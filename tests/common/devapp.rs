//! A small HTTP app for the `--app` tests: a page, a streamed body, a large
//! body, an echo of POSTs and of the headers it was sent, and a WebSocket echo.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The size of `GET /big`.
pub const BIG: usize = 8 * 1024 * 1024;

type AppBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// The test app; stops when dropped.
pub struct App {
    pub addr: SocketAddr,
    /// Feeds the body of the next `GET /stream`, chunk by chunk.
    stream: Arc<Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    pub async fn start() -> (App, mpsc::UnboundedSender<Bytes>) {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    pub fn start_on(listener: TcpListener) -> (App, mpsc::UnboundedSender<Bytes>) {
        let addr = listener.local_addr().unwrap();
        let (feed, chunks) = mpsc::unbounded_channel();
        let stream = Arc::new(Mutex::new(Some(chunks)));
        let shared = stream.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let shared = shared.clone();
                let service = hyper::service::service_fn(move |req| serve(req, shared.clone()));
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service);
                    let _ = conn.with_upgrades().await;
                });
            }
        });
        (App { addr, stream, task }, feed)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.stream.lock().unwrap().take();
    }
}

fn full(body: impl Into<Bytes>) -> AppBody {
    Full::new(body.into()).boxed()
}

async fn serve(
    mut req: Request<Incoming>,
    stream: Arc<Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>>,
) -> Result<Response<AppBody>, Infallible> {
    let seen = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let echo_headers = json!({
        "host": seen("host"),
        "x-forwarded-host": seen("x-forwarded-host"),
        "x-forwarded-for": seen("x-forwarded-for"),
        "x-forwarded-proto": seen("x-forwarded-proto"),
        "cookie": seen("cookie"),
    });
    let response = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/") => Response::new(full("<!doctype html><title>test app</title><p>the test app</p>")),
        ("GET", "/headers") => Response::new(full(echo_headers.to_string())),
        ("GET", "/big") => Response::new(full((0..BIG).map(|i| (i % 251) as u8).collect::<Vec<u8>>())),
        ("POST", "/echo") => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Response::new(full(body))
        }
        ("GET", "/stream") => match stream.lock().unwrap().take() {
            Some(chunks) => {
                let frames = tokio_stream_of(chunks);
                Response::new(BodyExt::boxed(StreamBody::new(frames)))
            }
            None => Response::builder().status(StatusCode::GONE).body(full("streamed once")).unwrap(),
        },
        ("GET", "/ws") => {
            let key = seen("sec-websocket-key");
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    None,
                )
                .await;
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() || message.is_binary() {
                        let _ = ws.send(message).await;
                    }
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("upgrade", "websocket")
                .header("connection", "Upgrade")
                .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
                .body(full(""))
                .unwrap()
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(full("no such page in the test app"))
            .unwrap(),
    };
    Ok(response)
}

/// The chunks as body frames, ending when the sender is dropped.
fn tokio_stream_of(
    mut chunks: mpsc::UnboundedReceiver<Bytes>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + Sync + 'static {
    futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx).map(|c| c.map(|c| Ok(Frame::data(c)))))
}
