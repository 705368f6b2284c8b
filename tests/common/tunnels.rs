//! Checks every tunnel provider's tests share: the chat, the API and the UI
//! work through the public URLs, with the access token and without it.

use std::time::Duration;

use serde_json::{Value, json};

use super::sio::ConnectError;
use super::{Client, Process, ok};

/// The access token in a printed link (`…#token=…`).
pub fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("the link carries the token").to_owned()
}

/// Through the public `ui` and `backend` URLs: the API is guarded and
/// `/api/info` names the `provider`; the web UI loads; Socket.IO is refused
/// without `token` and chats with it, over WebSocket (rich and plain
/// clients) and long-polling, with a client on `server`'s local port.
pub async fn chat_works_through(server: &Process, provider: &str, ui: &str, backend: &str, token: &str) {
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{ui}/api/info")).send().await.unwrap().status(), 401);
    let info: Value =
        http.get(format!("{ui}/api/info")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["tunnel"]["provider"], provider);
    assert_eq!(info["tunnel"]["state"], "up");
    let page = http.get(format!("{ui}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/assets/"), "the web UI loads");

    match Client::connect(ui, json!({ "name": "eve", "v": 1 }), "").await {
        Err(ConnectError::Refused(m)) => assert_eq!(m, "unauthorized"),
        other => panic!("connected without the token: {:?}", other.map(|c| c.sid)),
    }
    let phone = Client::connect(ui, json!({ "name": "phone", "v": 1, "token": token }), "").await.unwrap();
    let laptop =
        Client::connect(&server.url, json!({ "name": "laptop", "v": 1, "token": token }), "").await.unwrap();
    let plain =
        Client::connect(backend, Value::Null, &format!("token={token}&projectId=demo")).await.unwrap();
    for c in [&phone, &laptop] {
        ok(c.request("room:join", json!({ "room": "demo" })).await);
    }
    ok(phone.request("message:send", json!({ "room": "demo", "text": "from the phone" })).await);
    assert_eq!(laptop.next("message:new").await["text"], "from the phone");
    assert_eq!(
        plain.next("message").await,
        "from the phone",
        "the backend's public URL serves plain clients"
    );

    // Long-polling: the Engine.IO handshake, a connect, a join and a send.
    let polling = Polling::open(backend, None).await;
    assert_eq!(polling.send(format!("40{}", json!({ "token": token }))).await, 200);
    polling.until(&["40{\"sid\""]).await;
    assert_eq!(polling.send(format!("421{}", json!(["room:join", { "room": "demo" }]))).await, 200);
    let replies = polling.until(&["431["]).await;
    assert!(replies.contains("\"ok\":true"), "{replies:?}");
    let text = json!(["message:send", { "room": "demo", "text": "over long-polling" }]);
    assert_eq!(polling.send(format!("422{text}")).await, 200);
    assert_eq!(laptop.next("message:new").await["text"], "over long-polling");
}

/// A rich client on the public `url` joins `room` and sends `text`, which
/// `local` (already in the room) receives.
pub async fn message_arrives_through(url: &str, token: Option<&str>, room: &str, text: &str, local: &Client) {
    let mut auth = json!({ "name": "visitor", "v": 1 });
    if let Some(token) = token {
        auth["token"] = json!(token);
    }
    let visitor = Client::connect(url, auth, "").await.expect("connects through the tunnel");
    ok(visitor.request("room:join", json!({ "room": room })).await);
    ok(visitor.request("message:send", json!({ "room": room, "text": text })).await);
    assert_eq!(local.next("message:new").await["text"], text);
}

/// The phone `link` (room `demo`, with the token) opened on a phone-sized
/// page in Chromium: a message each way with a laptop on `server`'s local
/// port. Needs Node, the UI's node_modules and Chromium, and fails naming
/// what is missing.
pub async fn a_phone_chats_through(server: &Process, link: &str) {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/web");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(web.join("node_modules").is_dir(), "the browser tunnel test needs `npm ci` in assets/web");
    assert!(
        std::path::Path::new(&chromium).exists(),
        "the browser tunnel test needs {chromium}: apt-get install chromium, or set CHROMIUM"
    );
    assert!(link.contains("#room=demo&token="), "{link}");
    let laptop =
        Client::connect(&server.url, json!({ "name": "laptop", "v": 1, "token": token_of(link) }), "")
            .await
            .unwrap();
    ok(laptop.request("room:join", json!({ "room": "demo" })).await);
    ok(laptop.request("message:send", json!({ "room": "demo", "text": "hello phone" })).await);
    assert_eq!(laptop.next("message:new").await["text"], "hello phone");

    let phone = tokio::process::Command::new("node")
        .args(["e2e/phone-link.mjs", link, "hello phone", "hello laptop"])
        .current_dir(&web)
        .status();
    let status = tokio::time::timeout(Duration::from_secs(60), phone)
        .await
        .expect("the browser finishes")
        .expect("the browser tunnel test needs Node.js 20 or later");
    assert!(status.success(), "the phone page failed: {status}");
    let from_phone = laptop.next("message:new").await;
    assert_eq!(from_phone["text"], "hello laptop");
    assert_eq!(from_phone["user"]["name"], "Phone via tunnel");
}

/// `--app` through a tunnel: the printed `phone_link` (at the tunnel's URL,
/// reached at `public`) turns the token into a cookie, which lets the app's
/// page, its headers echo and its WebSocket through; nothing passes without it.
pub async fn app_works_through(phone_link: &str, public: &str, app: &super::devapp::App) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(
        http.get(format!("{public}/")).send().await.unwrap().status(),
        401,
        "the app is behind the token"
    );
    let first = http.get(phone_link).send().await.unwrap();
    assert_eq!(first.status(), 303, "{phone_link}");
    assert_eq!(first.headers()["location"], "/");
    let set = first.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("; Secure"), "a tunnel is HTTPS to the visitor: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    let page = http.get(format!("{public}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("the test app"));
    let seen: Value = http
        .get(format!("{public}/headers"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["host"], app.addr.to_string());
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(seen["cookie"], "", "the token stays with rtchat");

    let mut request = format!("{}/ws", public.replacen("http://", "ws://", 1)).into_client_request().unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut ws, _) =
        tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(request))
            .await
            .unwrap()
            .unwrap();
    ws.send(Message::text("through the tunnel")).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "through the tunnel");
}

/// The environment for an rtchat with a home of its own in `home`: no ngrok
/// config, no authtoken; `RTCHAT_TEST_LOG` (say `rtchat=debug`) becomes its
/// `RUST_LOG`, to see what it did.
pub fn home_env(home: &std::path::Path) -> Vec<(&'static str, String)> {
    let path = |name: &str| home.join(name).to_str().unwrap().to_owned();
    let mut env =
        vec![("HOME", path("")), ("XDG_CONFIG_HOME", path(".config")), ("NGROK_AUTHTOKEN", String::new())];
    if let Ok(filter) = std::env::var("RTCHAT_TEST_LOG") {
        env.push(("RUST_LOG", filter));
    }
    env
}

/// Opens a long-polling session at `base` from the local address `from`,
/// with `header` set when given (an address a visitor claims); the HTTP status.
pub async fn open_session_from(from: &str, base: &str, header: Option<(&str, &str)>) -> u16 {
    let http =
        reqwest::Client::builder().local_address(from.parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let mut request = http.get(format!("{base}/socket.io/?EIO=4&transport=polling"));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    tokio::time::timeout(Duration::from_secs(15), request.send()).await.unwrap().unwrap().status().as_u16()
}

/// A long-polling Engine.IO session driven by hand, with a cookie on every
/// request when given.
pub struct Polling {
    http: reqwest::Client,
    url: String,
    cookie: Option<String>,
}

impl Polling {
    /// Opens a session at `base` (the Engine.IO handshake).
    pub async fn open(base: &str, cookie: Option<&str>) -> Polling {
        let http = reqwest::Client::new();
        let mut open = http.get(format!("{base}/socket.io/?EIO=4&transport=polling"));
        if let Some(cookie) = cookie {
            open = open.header("cookie", cookie);
        }
        let open = open.send().await.unwrap().text().await.unwrap();
        let sid: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
        let url = format!("{base}/socket.io/?EIO=4&transport=polling&sid={}", sid["sid"].as_str().unwrap());
        Polling { http, url, cookie: cookie.map(str::to_owned) }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    /// Posts `packet`; the HTTP status.
    pub async fn send(&self, packet: String) -> u16 {
        self.with_cookie(self.http.post(&self.url)).body(packet).send().await.unwrap().status().as_u16()
    }

    /// Polls until a packet starting with one of `prefixes` arrives, within
    /// 10 s; everything received. The server may send a ping first, and one
    /// response may carry several packets, separated by 0x1e.
    pub async fn until(&self, prefixes: &[&str]) -> String {
        let wait = async {
            let mut got = String::new();
            while !got.split('\x1e').any(|p| prefixes.iter().any(|prefix| p.starts_with(prefix))) {
                got += "\x1e";
                got +=
                    &self.with_cookie(self.http.get(&self.url)).send().await.unwrap().text().await.unwrap();
            }
            got
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("none of {prefixes:?} over polling within 10 s"))
    }
}
