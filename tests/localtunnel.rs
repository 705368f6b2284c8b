//! `--tunnel localtunnel` end to end: rtchat's LocalTunnel client against a
//! LocalTunnel-protocol server in the test suite (tests/common/localtunnel.rs);
//! the public localtunnel.me cannot be reached from here.

mod common;

use std::io::BufRead;
use std::time::Duration;

use common::localtunnel::LocalTunnelServer;
use common::tunnels::{self, token_of};
use common::{Client, Process, ok};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// A temporary home with no ngrok config, and a PATH with no cloudflared.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = tunnels::home_env(self.dir.path());
        env.push(("PATH", self.path("")));
        env
    }
    fn start(&self, lt: &LocalTunnelServer, extra: &[&str]) -> Process {
        let (db, host) = (self.path("chat.db"), lt.host());
        let mut args = vec!["--port", "0", "--db", &db, "--localtunnel-host", &host];
        args.extend(extra);
        if !extra.contains(&"--ui-port") {
            args.extend(["--ui-port", "0"]);
        }
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Process::start_with_env(&args, &env)
    }
}

/// The id the server gave the tunnel at `url`.
fn id_of(lt: &LocalTunnelServer, url: &str) -> String {
    lt.tunnels().into_iter().find(|id| lt.url(id) == url).expect("a tunnel with that URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_ui_and_api_work_through_localtunnel_with_the_generated_token() {
    let lt = LocalTunnelServer::start(4).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "localtunnel"]);
    assert_eq!(server.ready["token_required"], true, "a tunnel requires a token by default");
    let connecting = server.next_event("tunnel", Some("connecting"), WAIT);
    assert_eq!(connecting["provider"], "localtunnel");
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let (ui, backend) = (up["ui"].as_str().unwrap(), up["backend"].as_str().unwrap());
    assert_ne!(ui, backend, "both ports get a public URL");
    assert_eq!(lt.requests(), ["new", "new"]);
    assert_eq!(up["password"], "127.0.0.1", "the tunnel password, as the server reports it");
    let link = up["phone_link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{ui}/#token=")), "{link}");

    tunnels::chat_works_through(&server, "localtunnel", ui, backend, &token_of(link)).await;
    // rtchat holds as many connections as the server offers, on both tunnels.
    for url in [ui, backend] {
        let id = id_of(&lt, url);
        lt.wait_for("4 connections held", WAIT, |lt| lt.connections(&id).0 == 4).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_closes_are_reopened() {
    let lt = LocalTunnelServer::start(3).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "localtunnel", "--public"]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let ui = up["ui"].as_str().unwrap().to_owned();
    let id = id_of(&lt, &ui);
    lt.wait_for("3 connections held", WAIT, |lt| lt.connections(&id).0 == 3).await;

    lt.drop_connections(&id);
    lt.wait_for("3 new connections", WAIT, |lt| lt.connections(&id) == (3, 6)).await;
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);
    tunnels::message_arrives_through(&ui, None, "r", "after the reconnect", &local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_tunnel_is_registered_again_under_the_same_url() {
    let lt = LocalTunnelServer::start(2).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "localtunnel", "--public", "--ui-port", "off"]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let ui = up["ui"].as_str().unwrap().to_owned();
    assert_eq!(up["backend"], ui.as_str(), "one port, one tunnel");
    let id = id_of(&lt, &ui);
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);

    lt.forget(&id);
    let down = server.next_event("tunnel", Some("down"), WAIT);
    assert!(down["reason"].as_str().unwrap().contains("takes no connections"), "{down}");
    let back = server.next_event("tunnel", Some("up"), WAIT);
    assert_eq!(back["ui"], ui.as_str(), "asked for the same name, so the URL stays");
    assert_eq!(lt.requests(), ["new".to_owned(), id]);
    tunnels::message_arrives_through(&ui, None, "r", "through the same URL", &local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_gets_the_tunnel_back_and_the_local_chat_never_stops() {
    let lt = LocalTunnelServer::start(2).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "localtunnel", "--public"]);
    server.next_event("tunnel", Some("up"), WAIT);
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);

    let lt = lt.restart().await;
    server.next_event("tunnel", Some("down"), WAIT);
    ok(local.request("message:send", json!({ "room": "r", "text": "still here" })).await);
    assert_eq!(local.next("message:new").await["text"], "still here");
    let back = server.next_event("tunnel", Some("up"), WAIT);
    let ui = back["ui"].as_str().unwrap();
    let info: Value = reqwest::get(format!("{}/api/info", server.url)).await.unwrap().json().await.unwrap();
    assert_eq!(info["tunnel"]["ui"], ui, "the new URL is in /api/info");
    assert_eq!(lt.tunnels().len(), 2, "both tunnels registered with the new server");
    tunnels::message_arrives_through(ui, None, "r", "through the restarted server", &local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subdomain_is_asked_for_both_urls() {
    let lt = LocalTunnelServer::start(1).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "--tunnel-subdomain", "team-chat"]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    assert_eq!(up["provider"], "localtunnel", "--tunnel-subdomain picks LocalTunnel");
    assert_eq!(lt.requests(), ["team-chat", "team-chat-backend"]);
    assert_eq!(lt.tunnels(), ["team-chat", "team-chat-backend"]);
    assert_eq!(up["ui"], lt.url("team-chat"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_retried_and_the_chat_runs_locally() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sandbox = Sandbox::new();
    let (db, host) = (sandbox.path("chat.db"), format!("http://{closed}"));
    let env = sandbox.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args =
        ["--port", "0", "--db", &db, "--tunnel", "localtunnel", "--public", "--localtunnel-host", &host];
    let server = Process::start_with_env(&args, &env);
    let down = server.next_event("tunnel", Some("down"), WAIT);
    assert!(down["reason"].as_str().unwrap().contains("cannot reach the LocalTunnel server"), "{down}");
    assert_eq!(down["retry_in_ms"], 250);
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);
}

/// With no account and no cloudflared, bare `--tunnel` uses LocalTunnel and
/// the banner says so, with the URL and the tunnel password.
#[test]
fn bare_tunnel_without_an_account_uses_localtunnel_and_says_why() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lt = runtime.block_on(LocalTunnelServer::start(1));
    let sandbox = Sandbox::new();
    let db = sandbox.path("chat.db");
    let mut child = std::process::Command::new(common::binary())
        .args(["--port", "0", "--ui-port", "off", "--db", &db, "--tunnel", "--localtunnel-host", &lt.host()])
        .envs(sandbox.env())
        .env("RUST_LOG", "rtchat=warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut banner = String::new();
    while !banner.contains("Tunnel password:") {
        match lines.recv_timeout(WAIT) {
            Ok(line) => banner += &(line + "\n"),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        banner.contains(
            "Tunnel:    no ngrok authtoken or cloudflared found; using LocalTunnel (http://127.0.0.1:"
        ) && banner.contains("no account needed"),
        "{banner}"
    );
    assert!(banner.contains("Tunnel up"), "{banner}");
    assert!(banner.contains("Tunnel password: 127.0.0.1"), "{banner}");
}

/// A phone-sized Chromium opens the phone link through LocalTunnel and chats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js, npm ci in assets/web and /usr/bin/chromium; run with --include-ignored"]
async fn a_phone_sized_browser_chats_through_localtunnel() {
    let lt = LocalTunnelServer::start(10).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "localtunnel", "--room", "demo"]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    tunnels::a_phone_chats_through(&server, up["phone_link"].as_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_is_served_through_localtunnel_behind_the_token() {
    let (app, _feed) = common::devapp::App::start().await;
    let lt = LocalTunnelServer::start(4).await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&lt, &["--tunnel", "localtunnel", "--app", &app.url()]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let ui = up["ui"].as_str().unwrap();
    let link = up["phone_link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{ui}/?rtchat_token=")), "the QR code opens the app: {link}");
    tunnels::app_works_through(link, ui, &app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_at_once_while_the_server_does_not_answer() {
    // A server that takes connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            held.push(tcp);
        }
    });
    let sandbox = Sandbox::new();
    let db = sandbox.path("chat.db");
    let env = sandbox.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Process::start_with_env(
        &["--port", "0", "--db", &db, "--tunnel", "localtunnel", "--localtunnel-host", &host],
        &env,
    );
    server.next_event("tunnel", Some("connecting"), WAIT);
    server.signal("INT");
    let status = server
        .wait_exit(Duration::from_secs(3))
        .expect("exits soon after Ctrl-C, not after the request's 10 s");
    assert!(status.success(), "{status:?}");
    held.abort();
}
