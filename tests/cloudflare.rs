//! `--tunnel cloudflare` end to end, through the cloudflared stand-in
//! (tests/standins/cloudflared.rs): cloudflared cannot be installed here,
//! and Cloudflare's edge cannot be reached. The stand-in's public port
//! speaks plain HTTP, so the tests reach its `https://` URLs over `http://`.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::tunnels::{self, token_of};
use common::{Client, Process, ok};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// The stand-in, built by `cargo test` next to this test's binary.
fn standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile.join("examples").join("cloudflared-standin");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it (the example cloudflared-standin)",
        path.display()
    );
    path
}

/// A temporary home with no ngrok config, a PATH holding only `cloudflared`
/// (the stand-in), and a file the stand-ins write their process ids to.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(standin(), dir.path().join("bin/cloudflared")).unwrap();
        Self { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
    fn env(&self) -> Vec<(&'static str, String)> {
        // RTCHAT_TEST_LOG=rtchat=debug shows cloudflared's log too.
        let mut env = tunnels::home_env(self.dir.path());
        env.extend([("PATH", self.path("bin")), ("STANDIN_PIDS", self.path("pids"))]);
        env
    }
    fn start(&self, extra: &[&str], more_env: &[(&str, &str)]) -> Process {
        let db = self.path("chat.db");
        let mut args = vec!["--port", "0", "--db", &db, "--tunnel"];
        args.extend(extra);
        if !extra.contains(&"--ui-port") {
            args.extend(["--ui-port", "0"]);
        }
        let env = self.env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend(more_env);
        Process::start_with_env(&args, &env)
    }
    /// The stand-ins started so far, by process id.
    fn pids(&self) -> Vec<u32> {
        let text = std::fs::read_to_string(self.path("pids")).unwrap_or_default();
        text.lines().map(|l| l.parse().unwrap()).collect()
    }
}

/// The stand-in's public URL, reachable over plain HTTP.
fn reachable(url: &str) -> String {
    url.replacen("https://", "http://", 1)
}

/// Whether process `pid` is running (not gone, not a zombie).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            !matches!(stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()), Some("Z" | "X"))
        }
        Err(_) => false,
    }
}

/// Waits until none of `pids` runs; panics after `limit`.
fn all_gone(pids: &[u32], limit: Duration) {
    let deadline = Instant::now() + limit;
    while pids.iter().any(|&p| running(p)) {
        assert!(Instant::now() < deadline, "still running after {limit:?}: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_account_cloudflared_is_used_and_the_chat_works_through_it() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[], &[]);
    let connecting = server.next_event("tunnel", Some("connecting"), WAIT);
    assert_eq!(connecting["provider"], "cloudflare");
    let reason = connecting["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no ngrok authtoken found; using a Cloudflare quick tunnel through ")
            && reason.ends_with("bin/cloudflared, no account needed"),
        "{reason}"
    );
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let (ui, backend) = (up["ui"].as_str().unwrap(), up["backend"].as_str().unwrap());
    assert!(ui.starts_with("https://127.0.0.1:") && backend.starts_with("https://"), "{up}");
    assert_ne!(ui, backend, "one cloudflared per port");
    assert_eq!(sandbox.pids().len(), 2);
    assert!(up["phone_link"].as_str().unwrap().starts_with(&format!("{ui}/#token=")), "{up}");
    let token = token_of(up["phone_link"].as_str().unwrap());

    tunnels::chat_works_through(&server, "cloudflare", &reachable(ui), &reachable(backend), &token).await;
    let info: Value = reqwest::Client::new()
        .get(format!("{}/api/info", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["tunnel"],
        json!({ "provider": "cloudflare", "ui": ui, "backend": backend, "state": "up" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_visitor_is_counted_at_the_address_cloudflare_names() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--public", "--max-connections-per-ip", "1"], &[]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let (ui, backend) = (reachable(up["ui"].as_str().unwrap()), reachable(up["backend"].as_str().unwrap()));
    // Every request reaches rtchat from cloudflared on loopback; the edge
    // (here the stand-in) names each visitor in CF-Connecting-IP.
    assert_eq!(tunnels::open_session_from("127.0.0.2", &ui, None).await, 200);
    assert_eq!(
        tunnels::open_session_from("127.0.0.3", &ui, None).await,
        200,
        "a second visitor is not lumped with the first"
    );
    assert_eq!(
        tunnels::open_session_from("127.0.0.2", &backend, None).await,
        429,
        "one session per visitor, on either endpoint"
    );
    assert_eq!(
        tunnels::open_session_from("127.0.0.2", &ui, Some(("cf-connecting-ip", "198.51.100.7"))).await,
        429,
        "a visitor's own CF-Connecting-IP is replaced at the edge"
    );
    // Visitors do not use up this machine's own count.
    assert_eq!(tunnels::open_session_from("127.0.0.1", &server.url, None).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_is_read_from_the_log_when_the_metrics_server_has_none() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--public", "--ui-port", "off"], &[("STANDIN_HOSTNAME", "log-only")]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let ui = up["ui"].as_str().unwrap();
    assert!(ui.starts_with("https://127.0.0.1:"), "{up}");
    assert_eq!(sandbox.pids().len(), 1, "one port, one cloudflared");
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);
    tunnels::message_arrives_through(&reachable(ui), None, "r", "via the logged URL", &local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudflared_that_exits_is_replaced_and_the_new_url_printed() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--public"], &[]);
    let first = server.next_event("tunnel", Some("up"), WAIT);
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);
    let old = sandbox.pids();
    assert_eq!(old.len(), 2);

    assert!(
        std::process::Command::new("kill").args(["-KILL", &old[0].to_string()]).status().unwrap().success()
    );
    let down = server.next_event("tunnel", Some("down"), WAIT);
    assert!(down["reason"].as_str().unwrap().starts_with("cloudflared exited"), "{down}");
    ok(local.request("message:send", json!({ "room": "r", "text": "still here" })).await);
    assert_eq!(local.next("message:new").await["text"], "still here");
    let back = server.next_event("tunnel", Some("up"), WAIT);
    assert_ne!(back["ui"], first["ui"], "a new quick tunnel, a new URL");
    all_gone(&old, WAIT);
    assert_eq!(sandbox.pids().len(), 4, "both replaced: the survivor was stopped");
    tunnels::message_arrives_through(&reachable(back["ui"].as_str().unwrap()), None, "r", "new URL", &local)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflared_stops_with_rtchat_even_when_rtchat_is_killed() {
    for signal in ["TERM", "KILL"] {
        let sandbox = Sandbox::new();
        let mut server = sandbox.start(&["--public"], &[]);
        server.next_event("tunnel", Some("up"), WAIT);
        let pids = sandbox.pids();
        assert_eq!(pids.len(), 2);
        assert!(pids.iter().all(|&p| running(p)));
        server.signal(signal);
        server.wait_exit(WAIT).expect("rtchat exits");
        all_gone(&pids, WAIT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudflared_that_cannot_reach_cloudflare_is_retried_and_the_chat_runs_locally() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--public"], &[("STANDIN_FAIL", "1")]);
    let down = server.next_event("tunnel", Some("down"), WAIT);
    let reason = down["reason"].as_str().unwrap();
    assert!(
        reason.contains("cloudflared exited") && reason.contains("failed to request quick Tunnel"),
        "{reason}"
    );
    assert_eq!(down["retry_in_ms"], 250);
    let local = Client::rich(&server.url, "local").await;
    ok(local.request("room:join", json!({ "room": "r" })).await);
}

#[test]
fn without_cloudflared_the_error_says_where_to_get_it() {
    let sandbox = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::binary())
        .args(["--tunnel", "cloudflare", "--db", "memory"])
        .env("PATH", sandbox.path())
        .env("HOME", sandbox.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("https://developers.cloudflare.com/") && err.contains("--cloudflared PATH"),
        "{err}"
    );
}

/// A phone-sized Chromium opens the phone link through the quick tunnel and chats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js, npm ci in assets/web and /usr/bin/chromium; run with --include-ignored"]
async fn a_phone_sized_browser_chats_through_a_quick_tunnel() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--room", "demo"], &[]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    tunnels::a_phone_chats_through(&server, &reachable(up["phone_link"].as_str().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_is_served_through_a_quick_tunnel_behind_the_token() {
    let (app, _feed) = common::devapp::App::start().await;
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--app", &app.url()], &[]);
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let ui = up["ui"].as_str().unwrap();
    let link = up["phone_link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{ui}/?rtchat_token=")), "the QR code opens the app: {link}");
    tunnels::app_works_through(&reachable(link), &reachable(ui), &app).await;
}
