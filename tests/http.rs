//! The REST API, the access token, CORS and the embedded web UI, over real HTTP.

mod common;

use common::{Client, TestServer, ok};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderValue};
use serde_json::{Value, json};

async fn get(url: &str) -> (StatusCode, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_info_rooms_and_messages() {
    let server = TestServer::start().await;
    let u = &server.url;
    let (status, health) = get(&format!("{u}/healthz")).await;
    assert_eq!((status, &health["status"], &health["db"]), (StatusCode::OK, &json!("ok"), &json!("ok")));
    let metrics = reqwest::get(format!("{u}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("rtchat_connections 0") && metrics.contains("rtchat_db_up 1"), "{metrics}");

    let (status, info) = get(&format!("{u}/api/info")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["name"], "rtchat");
    assert_eq!(info["local"]["backend"], u.as_str());
    assert_eq!(info["phone_url"], Value::Null);
    assert_eq!(info["auth"]["token_required"], false);
    assert_eq!(info["limits"], json!({ "max_message_len": 4000, "rate_limit": 20 }));

    let ann = Client::rich(u, "ann").await;
    ok(ann.request("room:join", json!({ "room": "pub" })).await);
    let sent = ok(ann.request("message:send", json!({ "room": "pub", "text": "<b>hi</b>" })).await);
    let created = ok(ann.request("room:create", json!({ "private": true, "name": "priv" })).await);
    let (private, key) = (created["room"]["id"].as_str().unwrap(), created["key"].as_str().unwrap());

    let (status, rooms) = get(&format!("{u}/api/rooms")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rooms,
        json!({ "rooms": [{ "id": "pub", "private": false, "members": 1 }] }),
        "private rooms are not listed"
    );

    let (status, body) = get(&format!("{u}/api/rooms/pub/messages")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["messages"], json!([sent["message"]]));
    let id = sent["message"]["id"].as_str().unwrap();
    assert_eq!(get(&format!("{u}/api/rooms/pub/messages?before={id}")).await.1["messages"], json!([]));

    let locked = format!("/api/rooms/{private}/messages");
    let wrong_key = format!("{locked}?key=wrong");
    for (path, want, code) in [
        ("/api/rooms/nope/messages", StatusCode::NOT_FOUND, "not_found"),
        ("/api/rooms/bad%20room/messages", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/rooms/pub/messages?limit=0", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/rooms/pub/messages?limit=x", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/rooms/pub/messages?after=zz", StatusCode::BAD_REQUEST, "bad_request"),
        (locked.as_str(), StatusCode::NOT_FOUND, "not_found"),
        (wrong_key.as_str(), StatusCode::NOT_FOUND, "not_found"),
        ("/api/nothing-here", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (status, body) = get(&format!("{u}{path}")).await;
        assert_eq!(status, want, "{path}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    assert_eq!(get(&format!("{u}/api/rooms/{private}/messages?key={key}")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_guards_the_api_but_not_health() {
    let server = TestServer::with(&["--token", "s3cret"]).await;
    let u = &server.url;
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{u}/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let refused = client.get(format!("{u}/api/rooms")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "unauthorized");
    let wrong = client.get(format!("{u}/api/info")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bearer = client.get(format!("{u}/api/info")).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    assert_eq!(bearer.json::<Value>().await.unwrap()["auth"]["token_required"], true);
    assert_eq!(
        client.get(format!("{u}/api/rooms?token=s3cret")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The page itself loads without the token; it asks for one.
    assert_eq!(client.get(format!("{u}/")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_local_pages_and_configured_origins_only() {
    let server = TestServer::with(&["--cors-origin", "https://app.example"]).await;
    let client = reqwest::Client::new();
    let polling = format!("{}/socket.io/?EIO=4&transport=polling", server.url);
    for (origin, allowed) in [
        ("http://localhost:5173", true),
        ("http://127.0.0.1:8080", true),
        ("https://app.example", true),
        ("https://evil.example", false),
    ] {
        let r = client.get(&polling).header(header::ORIGIN, origin).send().await.unwrap();
        let got = r.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).cloned();
        if allowed {
            assert_eq!(got, Some(HeaderValue::from_str(origin).unwrap()), "{origin}");
        } else {
            assert_eq!(got, None, "{origin}");
        }
        let r = client
            .get(format!("{}/api/rooms", server.url))
            .header(header::ORIGIN, origin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            allowed,
            "{origin} on the API"
        );
    }
}

#[tokio::test]
async fn web_ui_is_served_with_types_caching_compression_and_spa_fallback() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let index = client.get(format!("{}/", server.url)).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    let etag = index.headers()[header::ETAG].clone();
    let html = index.text().await.unwrap();
    assert!(html.contains("<html") || html.contains("<!doctype") || html.contains("<!DOCTYPE"), "{html}");

    let again =
        client.get(format!("{}/", server.url)).header(header::IF_NONE_MATCH, etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Every asset the page references (relatively: the same build is served
    // under /rtchat/ with --app) is served with its type and cached for good.
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter_map(|s| s.strip_prefix('.'))
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert!(!assets.is_empty(), "the page references its bundled assets");
    for path in assets {
        let r = client
            .get(format!("{}{path}", server.url))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let ty = r.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let want = if path.ends_with(".js") {
            "javascript"
        } else if path.ends_with(".css") {
            "text/css"
        } else {
            ""
        };
        assert!(ty.contains(want), "{path}: {ty}");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable", "{path}");
        if path.ends_with(".js") {
            assert_eq!(
                r.headers().get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap()),
                Some("gzip"),
                "{path}"
            );
        }
    }

    let spa = client.get(format!("{}/room/general", server.url)).send().await.unwrap();
    assert_eq!(spa.status(), StatusCode::OK);
    assert_eq!(spa.text().await.unwrap(), html, "unknown pages get the app");
    let missing = client.get(format!("{}/missing.js", server.url)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn both_ports_serve_the_same_chat() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let server = common::Process::start(&["--port", "0", "--ui-port", "0", "--db", db.to_str().unwrap()]);
    let ui = server.ready["local"]["ui"].as_str().unwrap().to_owned();
    assert_ne!(ui, server.url);
    let on_backend = Client::rich(&server.url, "ann").await;
    let on_ui = Client::rich(&ui, "bob").await;
    ok(on_backend.request("room:join", json!({ "room": "x" })).await);
    ok(on_ui.request("room:join", json!({ "room": "x" })).await);
    ok(on_ui.request("message:send", json!({ "room": "x", "text": "across ports" })).await);
    assert_eq!(on_backend.next("message:new").await["text"], "across ports");
    assert_eq!(get(&format!("{ui}/api/rooms")).await.1["rooms"][0]["members"], 2);
}

async fn post(url: &str, body: Value) -> (StatusCode, Value) {
    let r = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A script posts to a room: stored and delivered as a Socket.IO send is.
#[tokio::test]
async fn scripts_post_messages_like_any_client() {
    let server = TestServer::start().await;
    let u = &server.url;
    let ann = Client::rich(u, "ann").await;
    ok(ann.request("room:join", json!({ "room": "ci" })).await);
    let seed = Client::seed(u, Some("ci")).await;

    let (status, body) = post(&format!("{u}/api/rooms/ci/messages"), json!({ "text": "build passed" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let message = &body["message"];
    assert_eq!(
        (&message["text"], &message["user"]),
        (&json!("build passed"), &json!({ "id": "api:api", "name": "api" }))
    );
    assert_eq!(&ann.next("message:new").await, message);
    assert_eq!(seed.next("message").await, "build passed");

    // Named, with a clientId: a resend is the stored copy, 200, not broadcast again.
    let named = json!({ "text": "deploy done", "name": "deploy bot", "clientId": "run-7" });
    let (status, first) = post(&format!("{u}/api/rooms/ci/messages"), named.clone()).await;
    assert_eq!((status, &first["message"]["user"]["name"]), (StatusCode::CREATED, &json!("deploy bot")));
    let (status, again) = post(&format!("{u}/api/rooms/ci/messages"), named).await;
    assert_eq!((status, &again["message"]), (StatusCode::OK, &first["message"]));
    let (status, _) = post(&format!("{u}/api/rooms/ci/messages"), json!({ "text": "last" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(ann.next("message:new").await["text"], "deploy done");
    assert_eq!(ann.next("message:new").await["text"], "last", "the resend was not broadcast");

    // A room that does not exist yet is made, as joining makes it.
    let (status, _) = post(&format!("{u}/api/rooms/fresh/messages"), json!({ "text": "first" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(common::rest_history(u, "fresh").await[0]["text"], "first");

    // Private rooms need their key.
    let created = ok(ann.request("room:create", json!({ "private": true, "name": "ops" })).await);
    let (id, key) = (created["room"]["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    let (status, _) = post(&format!("{u}/api/rooms/{id}/messages"), json!({ "text": "x" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&format!("{u}/api/rooms/{id}/messages?key={key}"), json!({ "text": "x" })).await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Bad posts are refused with the protocol's codes, and store nothing.
#[tokio::test]
async fn bad_posts_are_refused_and_store_nothing() {
    let server = TestServer::with(&["--rate-limit-per-ip", "2"]).await;
    let url = format!("{}/api/rooms/r/messages", server.url);
    let cases = [
        (json!({ "text": "" }), StatusCode::BAD_REQUEST),
        (json!({ "text": "x".repeat(4001) }), StatusCode::PAYLOAD_TOO_LARGE),
        (json!({ "text": "hi", "name": "a\u{200b}b" }), StatusCode::BAD_REQUEST),
        (json!({ "text": "hi", "extra": 1 }), StatusCode::BAD_REQUEST),
        (json!({ "txt": "hi" }), StatusCode::BAD_REQUEST),
        (json!("hi"), StatusCode::BAD_REQUEST),
        (json!({ "text": "x".repeat(70_000) }), StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (body, want) in cases {
        let (status, reply) = post(&url, body.clone()).await;
        assert_eq!(status, want, "{body:.60}: {reply}");
        assert!(reply["error"]["code"].is_string(), "{reply}");
    }
    let r = reqwest::Client::new().post(&url).body("text=hi").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not JSON");
    let (_, history) = get(&url).await;
    assert!(history["messages"].as_array().is_none_or(|m| m.is_empty()), "{history}");

    // The address's message budget (2 per second, bursts of 4) holds for posts too.
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(post(&url, json!({ "text": format!("m{i}") })).await.0);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

/// With --token, posting needs it like reading does.
#[tokio::test]
async fn posting_needs_the_token() {
    let server = TestServer::with(&["--token", "s3cret"]).await;
    let url = format!("{}/api/rooms/r/messages", server.url);
    let (status, _) = post(&url, json!({ "text": "hi" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r =
        reqwest::Client::new().post(&url).bearer_auth("s3cret").json(&json!({ "text": "hi" })).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::CREATED);
}
