//! `--app` with a real Vite dev server (tests/js/app, started here) in a
//! phone-sized headless Chromium: through rtchat's LAN address and through
//! the tunnel (the real ngrok SDK against the local edge), the app's page
//! loads behind the token, its `io()` chats with another client, and an edit
//! of its source arrives as a hot update. Screenshots land in target/e2e/.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::edge::Edge;
use common::{Client, Process};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test app, copied to `dir` (its node_modules are tests/js's), served by
/// Vite on a free port; killed when dropped.
struct Vite {
    child: Child,
    url: String,
}

impl Vite {
    fn start(dir: &Path) -> Self {
        let js = repo().join("tests/js");
        let vite = js.join("node_modules/vite/bin/vite.js");
        assert!(vite.exists(), "the Vite app test needs `npm ci` in tests/js");
        for file in ["index.html", "main.js", "title.js", "vite.config.mjs"] {
            std::fs::copy(js.join("app").join(file), dir.join(file)).unwrap();
        }
        std::os::unix::fs::symlink(js.join("node_modules"), dir.join("node_modules")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("node")
            .arg(&vite)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--strictPort"])
            .current_dir(dir)
            .env("APP_VITE_CACHE", dir.join(".vite-cache"))
            // Under CI=true Vite colours its output even into a pipe.
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the Vite app test needs Node.js 20 or later");
        let mut vite = Vite { child, url: format!("http://127.0.0.1:{port}") };
        // Vite prints its Local URL once it listens.
        let stdout = vite.child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = rx.recv_timeout(WAIT).expect("Vite starts within 30 s");
            if without_escapes(&line).contains(&format!("127.0.0.1:{port}")) {
                break;
            }
        }
        vite
    }
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn without_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Vite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `link` in the phone driver (tests/js/app/phone.mjs): once the page is
/// connected, `laptop` (a plain client, as in the lesson) sends a message,
/// which the page shows and answers; then the driver edits `title` and sees
/// the hot update.
async fn phone_uses_the_app(link: &str, laptop: &Client, title: &Path, shot: &str) {
    let mut driver = Command::new("node")
        .args([repo().join("tests/js/app/phone.mjs").to_str().unwrap(), link, title.to_str().unwrap(), shot])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("Node.js runs the phone driver");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = driver.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next_line = |what: &str| {
        rx.recv_timeout(WAIT).unwrap_or_else(|_| panic!("the phone driver did not say {what:?} within 30 s"))
    };
    assert_eq!(next_line("connected"), "connected");
    let text = format!("hello {shot}");
    laptop.emit("message", Value::String(text.clone()));
    writeln!(driver.stdin.as_mut().unwrap(), "{text}").unwrap();
    assert_eq!(next_line("sent"), format!("sent reply to {text}"));
    loop {
        let heard = laptop.next("message").await;
        if heard == format!("reply to {text}") {
            break;
        }
    }
    assert_eq!(next_line("done"), "done");
    assert!(driver.wait().unwrap().success(), "the phone driver failed");
    // The next run starts from the original title.
    std::fs::write(title, "export const title = 'Hello from my app';\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js, npm ci in tests/js and assets/web, and /usr/bin/chromium; run with --include-ignored"]
async fn a_vite_app_on_a_phone_through_the_lan_address_and_the_tunnel() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "the Vite app test needs {chromium}: apt-get install chromium");
    assert!(
        repo().join("assets/web/node_modules").is_dir(),
        "the Vite app test needs `npm ci` in assets/web"
    );
    let dir = tempfile::tempdir().unwrap();
    let vite = Vite::start(dir.path());

    let edge = Edge::start(None).await;
    std::fs::write(dir.path().join("edge.pem"), &edge.ca_pem).unwrap();
    let (db, pem, addr) = (dir.path().join("chat.db"), dir.path().join("edge.pem"), edge.server_addr());
    let server = Process::start_with_env(
        &[
            "--port",
            "0",
            "--ui-port",
            "0",
            "--db",
            db.to_str().unwrap(),
            "--app",
            &vite.url,
            "--lan-host",
            "127.0.0.2",
            "--tunnel",
            "ngrok",
            "--ngrok-authtoken",
            "t",
            "--tunnel-server-addr",
            &addr,
            "--tunnel-ca-cert",
            pem.to_str().unwrap(),
        ],
        &[("HOME", dir.path().to_str().unwrap())],
    );
    assert_eq!(server.ready["app"]["target"], vite.url.as_str());
    let token = server.ready["app"]["link"].as_str().unwrap().rsplit('=').next().unwrap().to_owned();
    let laptop = Client::connect(&server.url, Value::Null, &format!("token={token}")).await.unwrap();
    let title = dir.path().join("title.js");

    // On the same Wi-Fi: the LAN address rtchat prints.
    let lan = server.ready["phone_link"].as_str().unwrap().to_owned();
    assert!(
        lan.starts_with("http://127.0.0.2:") && lan.ends_with(&format!("/?rtchat_token={token}")),
        "{lan}"
    );
    phone_uses_the_app(&lan, &laptop, &title, "app-phone-lan").await;

    // Anywhere: the tunnel's public URL, the one in the QR code.
    let up = server.next_event("tunnel", Some("up"), WAIT);
    let public = up["phone_link"].as_str().unwrap().to_owned();
    assert!(public.starts_with(up["ui"].as_str().unwrap()) && public.contains("?rtchat_token="), "{public}");
    phone_uses_the_app(&public, &laptop, &title, "app-phone-tunnel").await;
}
