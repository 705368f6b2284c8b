//! The lesson's seed clients, unchanged but for the URL: plain strings over
//! `message`, rooms through `query.projectId` and `joinRoom`.

mod common;

use common::{Client, TestServer};
use serde_json::json;

both_stacks! {
    async fn seed_chat_component_round_trip() {
        // ChatComponent: io(url); on("message"); emit("message", text).
        let server = TestServer::start().await;
        let a = Client::seed(&server.url, None).await;
        let b = Client::seed(&server.url, None).await;
        a.emit("message", json!("hello from a"));
        assert_eq!(
            a.next("message").await,
            "hello from a",
            "the sender receives its own message, as io.emit did"
        );
        assert_eq!(b.next("message").await, "hello from a");
        b.emit("message", json!("hi back"));
        assert_eq!(a.next("message").await, "hi back");
        assert_eq!(b.next("message").await, "hi back");
    }

    async fn seed_rooms_with_project_id_and_join_room() {
        let server = TestServer::start().await;
        // io(url, { query: { projectId } }); emit("joinRoom", projectId)
        let a = Client::seed(&server.url, Some("12345")).await;
        a.emit("joinRoom", json!("12345"));
        let b = Client::seed(&server.url, Some("12345")).await;
        b.emit("joinRoom", json!("12345"));
        let outsider = Client::seed(&server.url, None).await;

        a.emit("message", json!("project talk"));
        assert_eq!(b.next("message").await, "project talk");
        assert_eq!(a.next("message").await, "project talk");
        // The lobby did not get it: its next message is the lobby's own.
        outsider.emit("message", json!("lobby talk"));
        assert_eq!(outsider.next("message").await, "lobby talk");
        // Nor did the project get the lobby's: its next message is its own.
        b.emit("message", json!("still here"));
        assert_eq!(a.next("message").await, "still here", "a did not get the lobby's message");
        assert_eq!(b.next("message").await, "still here", "b did not get the lobby's message");

        // joinRoom moves a seed client: only its current room reaches it.
        // (The ack is optional; it lets this test know the move is done.)
        assert_eq!(b.request("joinRoom", json!("other")).await, json!({ "ok": true }));
        a.emit("message", json!("b left"));
        assert_eq!(a.next("message").await, "b left");
        b.emit("message", json!("in other"));
        assert_eq!(b.next("message").await, "in other", "b's next message is from its new room");
        a.emit("message", json!("anyone?"));
        assert_eq!(a.next("message").await, "anyone?", "a did not get b's message in its new room");

        // Seed messages are stored like any other.
        let history = reqwest::get(format!("{}/api/rooms/12345/messages", server.url)).await.unwrap();
        let body: serde_json::Value = history.json().await.unwrap();
        let texts: Vec<&str> =
            body["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
        assert_eq!(texts, ["project talk", "still here", "b left", "anyone?"]);
    }

    async fn seed_errors_come_back_as_chat_error() {
        let server = TestServer::with(&["--max-message-len", "5"]).await;
        let a = Client::seed(&server.url, None).await;
        a.emit("message", json!("too long"));
        let e = a.next("chat:error").await;
        assert_eq!((e["event"].as_str(), e["code"].as_str()), (Some("message"), Some("too_large")));
        a.emit("message", json!({ "not": "a string" }));
        assert_eq!(a.next("chat:error").await["code"], "bad_request");
        a.emit("joinRoom", json!("bad room!"));
        assert_eq!(a.next("chat:error").await["code"], "bad_request");
        a.emit("message", json!("ok"));
        assert_eq!(a.next("message").await, "ok", "still in the lobby after the refused joinRoom");
    }
}
