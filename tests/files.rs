//! Files (docs/protocol.md, "Files"): uploads over REST, raw and multipart,
//! attached to messages, served back with safe headers and ranges, within
//! the size and storage limits and the rooms' access rules. Every test runs
//! on SQLite and on PostgreSQL + Redis (`both_stacks!`).

mod common;

use common::{Client, TestServer, code, ok};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

/// The start of a 2 × 3 PNG: enough for its size to be read.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&3u32.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

/// Uploads `bytes` as the raw body; the status and the JSON answer.
async fn upload(url: &str, query: &str, media_type: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}?{query}"))
        .header(header::CONTENT_TYPE, media_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// Uploads `bytes` as the `file` part of a multipart body, as `curl -F` does.
async fn upload_form(url: &str, file_name: &str, media_type: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let boundary = "rtchat-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(url)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn fetch(url: &str, range: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(range) = range {
        request = request.header(header::RANGE, range);
    }
    let r = request.send().await.unwrap();
    (r.status(), r.headers().clone(), r.bytes().await.unwrap().to_vec())
}

fn header_of(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

both_stacks! {
    async fn a_photo_goes_up_into_a_message_and_comes_back_safely() {
        let server = TestServer::start().await;
        let u = &server.url;
        let ann = Client::rich(u, "ann").await;
        let bob = Client::rich(u, "bob").await;
        for c in [&ann, &bob] {
            ok(c.request("room:join", json!({ "room": "pics" })).await);
        }
        let seed = Client::seed(u, Some("pics")).await;
        let files = format!("{u}/api/rooms/pics/files");

        let (status, up) = upload(&files, "name=shot%20one.png", "image/png", png()).await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
        let file = up["file"].clone();
        assert_eq!((&file["name"], &file["type"], &file["size"]), (&json!("shot one.png"), &json!("image/png"), &json!(png().len())));
        assert_eq!((&file["width"], &file["height"]), (&json!(2), &json!(3)));
        let id = file["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 26);
        assert_eq!(file["url"], format!("/files/{id}/shot%20one.png"));

        let (status, headers, bytes) = fetch(&format!("{u}{}", file["url"].as_str().unwrap()), None).await;
        assert_eq!((status, bytes), (StatusCode::OK, png()));
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/png");
        assert_eq!(header_of(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header_of(&headers, header::CONTENT_SECURITY_POLICY), "default-src 'none'; sandbox");
        assert_eq!(header_of(&headers, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
        assert!(header_of(&headers, header::CONTENT_DISPOSITION).starts_with("inline"));

        // A range of it, and one outside it.
        let (status, headers, bytes) = fetch(&format!("{u}{}", file["url"].as_str().unwrap()), Some("bytes=1-3")).await;
        assert_eq!((status, bytes.as_slice()), (StatusCode::PARTIAL_CONTENT, &png()[1..=3]));
        assert_eq!(header_of(&headers, header::CONTENT_RANGE), format!("bytes 1-3/{}", png().len()));
        let (status, _, _) = fetch(&format!("{u}{}", file["url"].as_str().unwrap()), Some("bytes=999-")).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);

        // Attached to a message with no text: everyone sees it, plain clients as a link.
        let sent = ok(ann.request("message:send", json!({ "room": "pics", "text": "", "files": [id] })).await);
        assert_eq!(sent["message"]["files"], json!([file]));
        assert_eq!(bob.next("message:new").await, sent["message"]);
        assert_eq!(seed.next("message").await, format!("{u}{}", file["url"].as_str().unwrap()));
        let history = ok(bob.request("history", json!({ "room": "pics" })).await);
        assert_eq!(history["messages"][0]["files"], json!([file]));

        // Deleting nothing but the message's text keeps the file; deleting the message takes it.
        let mid = sent["message"]["id"].clone();
        let keyed = Client::keyed(u, "cat", "cat-key-0123456789abcdefghij").await;
        ok(keyed.request("room:join", json!({ "room": "pics" })).await);
        let (_, up) = upload(&files, "name=b.png", "image/png", png()).await;
        let own = ok(keyed.request("message:send", json!({ "room": "pics", "text": "mine", "files": [up["file"]["id"]] })).await);
        let edited = ok(keyed.request("message:edit", json!({ "room": "pics", "id": own["message"]["id"], "text": "still" })).await);
        assert_eq!(edited["message"]["files"], own["message"]["files"], "an edit keeps the files");
        ok(keyed.request("message:delete", json!({ "room": "pics", "id": own["message"]["id"] })).await);
        let (status, _, _) = fetch(&format!("{u}{}", up["file"]["url"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a deleted message's file is gone");
        assert_eq!(code(&ann.request("message:delete", json!({ "room": "pics", "id": mid })).await), "forbidden");
    }

    async fn any_file_goes_up_by_form_and_nothing_renders_as_a_page() {
        let server = TestServer::start().await;
        let u = &server.url;
        let ann = Client::rich(u, "ann").await;
        ok(ann.request("room:join", json!({ "room": "docs" })).await);
        let files = format!("{u}/api/rooms/docs/files");
        for (name, media_type, body) in [
            ("page.html", "text/html", "<script>alert(1)</script>"),
            ("logo.svg", "image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
            ("notes.zip", "application/zip", "PK\u{3}\u{4}"),
        ] {
            let (status, up) = upload_form(&files, name, media_type, body.as_bytes()).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {up}");
            assert_eq!((&up["file"]["name"], &up["file"]["type"]), (&json!(name), &json!(media_type)));
            let (status, headers, bytes) = fetch(&format!("{u}{}", up["file"]["url"].as_str().unwrap()), None).await;
            assert_eq!((status, bytes), (StatusCode::OK, body.as_bytes().to_vec()));
            assert_eq!(header_of(&headers, header::CONTENT_TYPE), "application/octet-stream", "{name}");
            assert!(header_of(&headers, header::CONTENT_DISPOSITION).starts_with("attachment"), "{name}");
            assert_eq!(header_of(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        }
        let (status, up) = upload_form(&files, "readme.txt", "text/plain", b"hello").await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, headers, _) = fetch(&format!("{u}{}", up["file"]["url"].as_str().unwrap()), None).await;
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), "text/plain; charset=utf-8");

        // What a message may not attach.
        let (_, elsewhere) = {
            ok(ann.request("room:join", json!({ "room": "other" })).await);
            upload(&format!("{u}/api/rooms/other/files"), "name=x.txt", "text/plain", b"x".to_vec()).await
        };
        let cases = [
            json!([elsewhere["file"]["id"]]),
            json!(["not-a-file-id"]),
            json!([up["file"]["id"], up["file"]["id"]]),
            json!(vec![up["file"]["id"].clone(); 11]),
        ];
        for files in cases {
            let reply = ann.request("message:send", json!({ "room": "docs", "text": "x", "files": files })).await;
            assert_eq!(code(&reply), "bad_request", "{files}");
        }
        let (status, body) = upload(&files, "name=a%2Fb", "text/plain", b"x".to_vec()).await;
        assert_eq!((status, &body["error"]["code"]), (StatusCode::BAD_REQUEST, &json!("bad_request")));
        let (status, _) = upload(&format!("{u}/api/rooms/nowhere/files"), "", "text/plain", b"x".to_vec()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a room must exist to take files");
        let (status, _) = upload_form(&files, "empty.txt", "text/plain", b"").await;
        assert_eq!(status, StatusCode::CREATED, "an empty file is a file");
    }

    async fn uploads_stay_within_their_limits() {
        let server = TestServer::with(&["--max-upload", "1KB", "--max-storage", "3KB"]).await;
        let u = &server.url;
        let ann = Client::rich(u, "ann").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        let files = format!("{u}/api/rooms/r/files");
        let (status, body) = upload(&files, "", "application/octet-stream", vec![7; 1001]).await;
        assert_eq!((status, &body["error"]["code"]), (StatusCode::PAYLOAD_TOO_LARGE, &json!("too_large")));
        let (status, _) = upload_form(&files, "big.bin", "application/octet-stream", &[7; 1001]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "by form too");
        for _ in 0..3 {
            assert_eq!(upload(&files, "", "application/octet-stream", vec![7; 1000]).await.0, StatusCode::CREATED);
        }
        let (status, body) = upload(&files, "", "application/octet-stream", vec![7; 10]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body["error"]["message"].as_str().unwrap().contains("--max-storage"), "{body}");

        // Uploads take from the address's message budget (1 a second, bursts of 2).
        let server = TestServer::with(&["--rate-limit-per-ip", "1"]).await;
        let ann = Client::rich(&server.url, "ann").await;
        ok(ann.request("room:join", json!({ "room": "r" })).await);
        let files = format!("{}/api/rooms/r/files", server.url);
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(upload(&files, "", "text/plain", b"x".to_vec()).await.0);
        }
        assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    }

    async fn private_rooms_and_the_token_guard_their_files() {
        let server = TestServer::with(&["--token", "t0k"]).await;
        let u = &server.url;
        let auth = json!({ "name": "ann", "v": 1, "token": "t0k" });
        let ann = Client::connect(u, auth, "").await.unwrap();
        let created = ok(ann.request("room:create", json!({ "private": true, "name": "den" })).await);
        let (room, key) = (created["room"]["id"].as_str().unwrap(), created["key"].as_str().unwrap());
        let files = format!("{u}/api/rooms/{room}/files");
        let (status, _) = upload(&files, "token=t0k", "image/png", png()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no key");
        let (status, _) = upload(&files, &format!("key={key}"), "image/png", png()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");
        let (status, up) = upload(&files, &format!("key={key}&token=t0k"), "image/png", png()).await;
        assert_eq!(status, StatusCode::CREATED);
        let url = format!("{u}{}", up["file"]["url"].as_str().unwrap());
        assert!(url.ends_with(&format!("?key={key}")), "the answer's url carries the key: {url}");
        let bare = url.split('?').next().unwrap().to_owned();
        assert_eq!(fetch(&format!("{url}&token=t0k"), None).await.0, StatusCode::OK);
        assert_eq!(fetch(&url, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(fetch(&format!("{bare}?token=t0k"), None).await.0, StatusCode::NOT_FOUND);
        let (_, headers, _) = fetch(&format!("{url}&token=t0k"), None).await;
        assert_eq!(header_of(&headers, header::CACHE_CONTROL), "private, max-age=31536000, immutable");
    }

    async fn deleting_a_room_deletes_its_files() {
        let server = TestServer::start().await;
        let u = &server.url;
        let ann = Client::keyed(u, "ann", "ann-key-0123456789abcdefghij").await;
        ok(ann.request("room:create", json!({ "room": "tmp" })).await);
        ok(ann.request("room:join", json!({ "room": "tmp" })).await);
        let (_, up) = upload(&format!("{u}/api/rooms/tmp/files"), "", "image/png", png()).await;
        let url = format!("{u}{}", up["file"]["url"].as_str().unwrap());
        assert_eq!(fetch(&url, None).await.0, StatusCode::OK);
        ok(ann.request("room:delete", json!({ "room": "tmp" })).await);
        assert_eq!(fetch(&url, None).await.0, StatusCode::NOT_FOUND);
    }
}
