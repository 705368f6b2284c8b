//! A stand-in for `cloudflared tunnel --url …`, for tests only: cloudflared
//! cannot be installed on the test machine, and Cloudflare's edge cannot be
//! reached from it. This is the one stand-in in the test suite.
//!
//! It takes the arguments rtchat passes (and refuses others), draws the same
//! log lines on stderr, serves `/quicktunnel` and `/ready` on the metrics
//! address, and forwards a public port on 127.0.0.1 to the origin, adding
//! `CF-Connecting-IP` with the visitor's address as Cloudflare's edge does,
//! so traffic really flows. Its "public" URL is `https://127.0.0.1:PORT`;
//! the port speaks plain HTTP (TLS is the edge's job), so tests reach it
//! with `http://`.
//!
//! Environment, for the tests: `STANDIN_PIDS=FILE` appends its process id to
//! FILE; `STANDIN_HOSTNAME=log-only` leaves `/quicktunnel` empty, so the
//! URL can only be read from the log; `STANDIN_FAIL=1` fails the way
//! cloudflared does without internet access.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head forwarded.
const HEAD_LIMIT: usize = 64 * 1024;

fn log(level: &str, text: &str) {
    eprintln!("2026-12-01T00:00:00Z {level} {text}");
}

/// `tunnel --no-autoupdate --url http://ORIGIN --metrics METRICS`, exactly.
fn parse_args() -> Result<(SocketAddr, SocketAddr), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let ["tunnel", "--no-autoupdate", "--url", url, "--metrics", metrics] = words[..] else {
        return Err(format!("unexpected arguments: {args:?}"));
    };
    let origin = url.strip_prefix("http://").ok_or("--url must be http://HOST:PORT")?;
    let origin = origin.parse().map_err(|e| format!("--url {url}: {e}"))?;
    let metrics = metrics.parse().map_err(|e| format!("--metrics {metrics}: {e}"))?;
    Ok((origin, metrics))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (origin, metrics) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            log("ERR", &e);
            std::process::exit(1);
        }
    };
    if let Ok(path) = std::env::var("STANDIN_PIDS") {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        writeln!(file, "{}", std::process::id()).unwrap();
    }
    log(
        "INF",
        "Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, is a quick way to \
         experiment and try it out. However, be aware that these account-less Tunnels have no uptime guarantee.",
    );
    log("INF", "Requesting new quick Tunnel on trycloudflare.com...");
    if std::env::var("STANDIN_FAIL").is_ok() {
        log(
            "ERR",
            "failed to request quick Tunnel: Post \"https://api.trycloudflare.com/tunnel\": dial tcp: lookup api.trycloudflare.com: no such host",
        );
        std::process::exit(1);
    }
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hostname = public.local_addr().unwrap().to_string();
    let url = format!("https://{hostname}");
    log("INF", &format!("+{}+", "-".repeat(92)));
    log(
        "INF",
        "|  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |",
    );
    log("INF", &format!("|  {url:<88}  |"));
    log("INF", &format!("+{}+", "-".repeat(92)));

    let reported = match std::env::var("STANDIN_HOSTNAME").as_deref() {
        Ok("log-only") => String::new(),
        _ => hostname,
    };
    let metrics_app = Router::new()
        .route("/quicktunnel", get(move || async move { axum::Json(json!({ "hostname": reported })) }))
        .route(
            "/ready",
            get(|| async { (StatusCode::OK, axum::Json(json!({ "status": 200, "readyConnections": 1 }))) }),
        )
        .route("/metrics", get(|| async { "# cloudflared stand-in\n" }));
    let metrics_listener = TcpListener::bind(metrics).await.unwrap();
    log("INF", &format!("Starting metrics server on {metrics}/metrics"));
    tokio::spawn(async move { axum::serve(metrics_listener, metrics_app).await });
    log(
        "INF",
        "Registered tunnel connection connIndex=0 event=0 ip=198.41.200.13 location=ams01 protocol=quic",
    );

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    loop {
        tokio::select! {
            accepted = public.accept() => {
                let Ok((visitor, peer)) = accepted else { continue };
                tokio::spawn(forward(visitor, peer, origin));
            }
            _ = terminate.recv() => {
                log("INF", "Initiating graceful shutdown due to signal terminated ...");
                return;
            }
            _ = tokio::signal::ctrl_c() => {
                log("INF", "Initiating graceful shutdown due to signal interrupt ...");
                return;
            }
        }
    }
}

/// Carries one visitor connection to the origin: its first request head
/// gets `CF-Connecting-IP` (any the visitor sent is dropped, as at the edge)
/// and, unless it is an upgrade, `Connection: close`, so every request on
/// the origin side is named.
async fn forward(mut visitor: TcpStream, peer: SocketAddr, origin: SocketAddr) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if head.len() > HEAD_LIMIT {
            return;
        }
        match visitor.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let rest = head.split_off(end + 4);
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<&str> = lines.collect();
    let upgrade = headers.iter().any(|h| h.to_ascii_lowercase().starts_with("upgrade:"));
    let mut out = request_line + "\r\n";
    for header in headers {
        let name = header.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        let dropped =
            name == "cf-connecting-ip" || name == "x-forwarded-for" || (!upgrade && name == "connection");
        if !dropped {
            out += header;
            out += "\r\n";
        }
    }
    out += &format!(
        "CF-Connecting-IP: {}\r\nX-Forwarded-For: {}\r\nX-Forwarded-Proto: https\r\n",
        peer.ip(),
        peer.ip()
    );
    if !upgrade {
        out += "Connection: close\r\n";
    }
    out += "\r\n";

    let Ok(mut upstream) = TcpStream::connect(origin).await else {
        log(
            "ERR",
            &format!(
                "Unable to reach the origin service. error=\"dial tcp {origin}: connect: connection refused\""
            ),
        );
        let _ = visitor
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    };
    if upstream.write_all(out.as_bytes()).await.is_err() || upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut visitor, &mut upstream).await;
}
