//! `--app`: a developer's dev server behind rtchat. The app here is a small
//! HTTP server written for these tests (tests/common/devapp.rs); the
//! Chromium test with a real Vite dev server is in tests/app_vite.rs.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::devapp::{App, BIG};
use common::{Client, Process, TestServer, ok};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

async fn get(url: &str) -> reqwest::Response {
    tokio::time::timeout(WAIT, reqwest::Client::new().get(url).header("accept", "text/html").send())
        .await
        .expect("an answer in time")
        .unwrap()
}

#[tokio::test]
async fn the_app_is_served_and_rtchat_keeps_its_own_paths() {
    let (app, _feed) = App::start().await;
    let server = TestServer::with(&["--app", &app.url()]).await;
    let url = &server.url;

    let page = get(&format!("{url}/")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("the test app"));
    assert_eq!(get(&format!("{url}/nope")).await.status(), 404, "the app's own 404");

    let info: Value = get(&format!("{url}/api/info")).await.json().await.unwrap();
    assert_eq!(info["app"], json!({ "target": app.url(), "chat_path": "/rtchat/" }));
    assert_eq!(get(&format!("{url}/healthz")).await.status(), 200);
    let chat = get(&format!("{url}/rtchat/")).await.text().await.unwrap();
    assert!(chat.contains("<title>rtchat</title>") && chat.contains("./assets/"), "{chat}");
    let script = chat.split("src=\"./").nth(1).and_then(|s| s.split('"').next()).unwrap();
    let js = get(&format!("{url}/rtchat/{script}")).await;
    assert_eq!(
        (js.status().as_u16(), js.headers()["content-type"].to_str().unwrap()),
        (200, "text/javascript")
    );
    let no_slash = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{url}/rtchat"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_slash.headers()["location"], "/rtchat/");

    // The app is addressed as itself and told who asked, and how.
    let seen: Value = get(&format!("{url}/headers")).await.json().await.unwrap();
    let host = url.trim_start_matches("http://");
    assert_eq!(seen["host"], app.addr.to_string(), "a dev server's allowed-hosts check passes");
    assert_eq!(seen["x-forwarded-host"], host);
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");

    // The chat still works on the same origin: the app's io() reaches it.
    let a = Client::rich(url, "ann").await;
    ok(a.request("room:join", json!({ "room": "r" })).await);
    ok(a.request("message:send", json!({ "room": "r", "text": "next to the app" })).await);
    assert_eq!(a.next("message:new").await["text"], "next to the app");
}

#[tokio::test]
async fn bodies_stream_both_ways_whole() {
    let (app, feed) = App::start().await;
    let server = TestServer::with(&["--app", &app.url()]).await;
    let url = &server.url;

    // A streamed response arrives chunk by chunk: the first is read before
    // the second exists.
    let mut streamed = get(&format!("{url}/stream")).await;
    feed.send(Bytes::from_static(b"first ")).unwrap();
    let first = tokio::time::timeout(WAIT, streamed.chunk())
        .await
        .expect("the first chunk, before the rest")
        .unwrap();
    assert_eq!(first.as_deref(), Some(&b"first "[..]));
    feed.send(Bytes::from_static(b"second")).unwrap();
    drop(feed);
    let rest = tokio::time::timeout(WAIT, streamed.bytes()).await.unwrap().unwrap();
    assert_eq!(&rest[..], b"second");

    let big = get(&format!("{url}/big")).await.bytes().await.unwrap();
    assert_eq!(big.len(), BIG);
    assert!(big.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8), "every byte as sent");

    let body: Vec<u8> = (0..3_000_000).map(|i| (i % 253) as u8).collect();
    let echoed = reqwest::Client::new().post(format!("{url}/echo")).body(body.clone()).send().await.unwrap();
    assert_eq!(echoed.status(), 200);
    assert_eq!(echoed.bytes().await.unwrap(), body, "a 3 MB POST body, there and back");
}

#[tokio::test]
async fn websocket_upgrades_reach_the_app() {
    let (app, _feed) = App::start().await;
    let server = TestServer::with(&["--app", &app.url()]).await;
    let ws_url = format!("{}/ws", server.url.replacen("http://", "ws://", 1));
    let (mut ws, _) =
        tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&ws_url)).await.unwrap().unwrap();
    for text in ["hot", "module", "reload"] {
        ws.send(Message::text(text)).await.unwrap();
        let echoed = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
}

#[tokio::test]
async fn an_app_that_is_not_running_gets_a_clear_page_until_it_is() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let target = format!("http://{addr}");
    let server = TestServer::with(&["--app", &target]).await;

    let down = get(&format!("{}/", server.url)).await;
    assert_eq!(down.status(), 503);
    assert_eq!(down.headers()["retry-after"], "2");
    let page = down.text().await.unwrap();
    assert!(page.contains(&format!("Your app at {target} is not running")), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""), "the page retries by itself");
    let plain = reqwest::get(format!("{}/data.json", server.url)).await.unwrap();
    assert_eq!(plain.status(), 503);
    assert!(plain.text().await.unwrap().starts_with("Your app at"), "programs get one sentence");

    let (_app, _feed) = App::start_on(TcpListener::bind(addr).await.unwrap());
    assert!(get(&format!("{}/", server.url)).await.text().await.unwrap().contains("the test app"));
}

#[tokio::test]
async fn the_token_guards_the_app_and_the_printed_link_turns_it_into_a_cookie() {
    let (app, _feed) = App::start().await;
    let server = TestServer::with(&["--app", &app.url(), "--token", "s3cret"]).await;
    let url = &server.url;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = |path: &str, cookie: Option<&str>| {
        let mut request = http.get(format!("{url}{path}")).header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };

    let refused = page("/", None).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("open the link rtchat printed"));
    assert_eq!(page("/?rtchat_token=wrong", None).await.unwrap().status(), 401);
    assert_eq!(page("/", Some("rtchat_token=wrong")).await.unwrap().status(), 401);

    let first = page("/src/main.js?rtchat_token=s3cret&v=1", None).await.unwrap();
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/src/main.js?v=1", "the token leaves the address");
    let cookie = first.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("rtchat_token=s3cret;") && cookie.contains("HttpOnly"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");

    let elsewhere = page("//evil.example/x?rtchat_token=s3cret", None).await.unwrap();
    assert_eq!(elsewhere.headers()["location"], "/evil.example/x", "never a redirect to another site");

    let jar = "theme=dark; rtchat_token=s3cret";
    assert_eq!(page("/", Some(jar)).await.unwrap().status(), 200);
    let seen: Value = page("/headers", Some(jar)).await.unwrap().json().await.unwrap();
    assert_eq!(seen["cookie"], "theme=dark", "the app never sees rtchat's token");

    // The app's own calls to rtchat carry the cookie, and are let in by it.
    assert_eq!(page("/api/info", None).await.unwrap().status(), 401);
    assert_eq!(page("/api/info", Some(jar)).await.unwrap().status(), 200);
    let polling = common::tunnels::Polling::open(url, Some(jar)).await;
    assert_eq!(polling.send("40".into()).await, 200);
    let connected = polling.until(&["40{", "44{"]).await;
    assert!(connected.contains("40{\"sid\""), "a Socket.IO connect with only the cookie: {connected:?}");
}

#[test]
fn the_ready_line_and_links_open_the_app() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, _feed) = runtime.block_on(App::start());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let server = Process::start(&[
        "--port",
        "0",
        "--ui-port",
        "0",
        "--db",
        db.to_str().unwrap(),
        "--app",
        &app.url(),
        "--lan-host",
        "127.0.0.2",
        "--token",
        "t0k",
    ]);
    let r = &server.ready;
    let ui = r["local"]["ui"].as_str().unwrap();
    assert_eq!(r["app"]["target"], app.url());
    assert_eq!(r["app"]["link"], format!("{ui}/?rtchat_token=t0k"));
    assert_eq!(r["app"]["chat_link"], format!("{ui}/rtchat/#token=t0k"));
    let lan_ui = r["lan"][0]["ui"].as_str().unwrap();
    assert_eq!(r["phone_link"], format!("{lan_ui}/?rtchat_token=t0k"), "the QR code opens the app");
    drop(runtime);
}

#[test]
fn a_page_calling_rtchat_from_another_origin_gets_the_io_hint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let mut child = std::process::Command::new(common::binary())
        .args([
            "--json",
            "--port",
            "0",
            "--ui-port",
            "0",
            "--db",
            db.to_str().unwrap(),
            "--app",
            "http://127.0.0.1:9",
        ])
        .env("RUST_LOG", "rtchat=warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut ready)
        .unwrap();
    let ready: Value = serde_json::from_str(&ready).unwrap();
    let backend = ready["local"]["backend"].as_str().unwrap().to_owned();
    let ui = ready["local"]["ui"].as_str().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The lesson's io("http://localhost:3000") from the app's page.
        let status = reqwest::Client::new()
            .get(format!("{backend}/socket.io/?EIO=4&transport=polling"))
            .header("origin", &ui)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "it works on the laptop");
    });
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(&format!("a page at {ui} connects to rtchat at {}", backend))
            && log.contains("use io() or io(window.location.origin)"),
        "{log}"
    );
}
