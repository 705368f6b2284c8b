//! Hostile web pages, over real HTTP and WebSocket: a request from another
//! site's page (`Origin`) or for a name the server is not reachable as
//! (`Host`, DNS rebinding) is refused with 403 before Socket.IO sees it.

mod common;

use common::sio::RECV_TIMEOUT;
use common::{Client, TestServer};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderName};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Every kind of request the server answers: an Engine.IO long-polling
/// handshake, the REST API, the UI and the health check.
const PATHS: [&str; 4] = ["/socket.io/?EIO=4&transport=polling", "/api/rooms", "/", "/healthz"];

/// `GET base+path` with extra headers: the status and the body.
async fn get(base: &str, path: &str, headers: &[(HeaderName, &str)]) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Opens an Engine.IO WebSocket with extra headers: `Ok(open packet)` or the
/// HTTP status and body the upgrade was refused with.
async fn websocket(base: &str, headers: &[(HeaderName, &str)]) -> Result<String, (StatusCode, String)> {
    let url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(req)).await.unwrap() {
        Ok((mut ws, _)) => loop {
            match tokio::time::timeout(RECV_TIMEOUT, ws.next()).await.unwrap() {
                Some(Ok(Message::Text(open))) => return Ok(open.to_string()),
                Some(Ok(_)) => continue,
                other => panic!("no open packet: {other:?}"),
            }
        },
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            Err((response.status(), body.into_owned()))
        }
        Err(e) => panic!("websocket failed: {e}"),
    }
}

/// The Engine.IO open packet that starts a session.
fn is_open_packet(body: &str) -> bool {
    body.starts_with("0{") && body.contains("\"sid\"")
}

#[tokio::test]
async fn a_page_from_another_site_is_refused_before_a_session_exists() {
    let server = TestServer::with(&["--cors-origin", "https://app.example"]).await;
    let evil = [(header::ORIGIN, "http://evil.example")];
    for path in PATHS {
        let (status, body) = get(&server.url, path, &evil).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(
            body,
            "pages at http://evil.example may not use this server; if that site is yours, restart with --cors-origin http://evil.example\n",
            "{path}"
        );
    }
    let (status, body) = websocket(&server.url, &evil).await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN, "the upgrade is refused, so no open packet: {body}");
    assert!(body.contains("--cors-origin"), "{body}");
    let (status, _) = get(&server.url, "/api/rooms", &[(header::ORIGIN, "null")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "sandboxed pages and files send `null`");
}

#[tokio::test]
async fn local_pages_configured_sites_own_pages_and_native_clients_pass() {
    let server = TestServer::with(&["--cors-origin", "https://app.example"]).await;
    let origins: [&[(HeaderName, &str)]; 4] = [
        &[],
        &[(header::ORIGIN, "http://localhost:5173")],
        &[(header::ORIGIN, "http://127.0.0.1:8080")],
        &[(header::ORIGIN, "https://app.example")],
    ];
    for headers in origins {
        for path in PATHS {
            let (status, body) = get(&server.url, path, headers).await;
            assert_eq!(status, StatusCode::OK, "{headers:?} {path}: {body}");
        }
        let (_, body) = get(&server.url, PATHS[0], headers).await;
        assert!(is_open_packet(&body), "{headers:?}: {body}");
        let open = websocket(&server.url, headers).await.unwrap();
        assert!(is_open_packet(&open), "{headers:?}: {open}");
    }
    // The lesson's native client sends no Origin and still chats.
    let ann = Client::rich(&server.url, "ann").await;
    ann.request("room:join", serde_json::json!({ "room": "lobby" })).await;
    let sent = ann.request("message:send", serde_json::json!({ "room": "lobby", "text": "hi" })).await;
    assert_eq!(sent["ok"], true, "{sent}");
}

#[tokio::test]
async fn a_name_the_server_is_not_reachable_as_is_refused_on_every_path() {
    let server = TestServer::start().await;
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let rebound = format!("evil.example:{port}");
    let sentence = "this server is not reachable as evil.example; if that is your name for it, restart with --allowed-host evil.example\n";
    // A rebound page is same-origin with itself, so it sends that Origin (or none).
    let rebound_origin = format!("http://{rebound}");
    for headers in [
        vec![(header::HOST, rebound.as_str())],
        vec![(header::HOST, rebound.as_str()), (header::ORIGIN, rebound_origin.as_str())],
    ] {
        for path in PATHS {
            let (status, body) = get(&server.url, path, &headers).await;
            assert_eq!((status, body.as_str()), (StatusCode::FORBIDDEN, sentence), "{headers:?} {path}");
        }
        let (status, body) = websocket(&server.url, &headers).await.unwrap_err();
        assert_eq!((status, body.as_str()), (StatusCode::FORBIDDEN, sentence), "{headers:?}");
    }
}

#[tokio::test]
async fn ip_literals_localhost_this_machine_and_allowed_hosts_pass() {
    let server = TestServer::with(&["--allowed-host", "chat.example,.corp.example"]).await;
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let mut names = vec![
        "127.0.0.1".to_owned(),
        "192.168.1.9".to_owned(),
        "[::1]".to_owned(),
        "localhost".to_owned(),
        "x.localhost".to_owned(),
        "chat.example".to_owned(),
        "corp.example".to_owned(),
        "a.corp.example".to_owned(),
    ];
    // This machine's name, as the kernel reports it, and NAME.local.
    if let Ok(machine) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let machine = machine.trim().to_owned();
        names.push(format!("{machine}.local"));
        names.push(machine);
    }
    for name in names {
        let host = format!("{name}:{port}");
        for path in PATHS {
            let (status, body) = get(&server.url, path, &[(header::HOST, &host)]).await;
            assert_eq!(status, StatusCode::OK, "{host} {path}: {body}");
        }
        let open = websocket(&server.url, &[(header::HOST, &host)]).await.unwrap();
        assert!(is_open_packet(&open), "{host}: {open}");
    }
    let (status, _) = get(&server.url, "/api/rooms", &[(header::HOST, "chat.example.evil")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The UI opened on a LAN address is the server's own page: same host and port.
    let lan = format!("192.168.1.9:{port}");
    let (own, other) = (format!("http://{lan}"), "http://192.168.1.9:1".to_owned());
    let open = websocket(&server.url, &[(header::HOST, &lan), (header::ORIGIN, &own)]).await.unwrap();
    assert!(is_open_packet(&open), "{open}");
    let (status, _) =
        websocket(&server.url, &[(header::HOST, &lan), (header::ORIGIN, &other)]).await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN, "another port is another site");
}

#[tokio::test]
async fn allowed_host_all_turns_the_host_check_off() {
    let server = TestServer::with(&["--allowed-host", "all"]).await;
    let (status, _) = get(&server.url, "/api/rooms", &[(header::HOST, "evil.example")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&server.url, "/api/rooms", &[(header::ORIGIN, "http://evil.example")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the Origin check stays on");
}

#[tokio::test]
async fn a_request_without_a_host_header_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let addr = server.url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /api/rooms HTTP/1.0\r\n\r\n").await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(RECV_TIMEOUT, tcp.read_to_string(&mut reply)).await.unwrap().unwrap();
    assert!(reply.starts_with("HTTP/1.") && reply.contains(" 400 "), "{reply}");
    assert!(
        reply.ends_with("the request has no Host header; send one (every HTTP/1.1 client does)\n"),
        "{reply}"
    );
}
