//! Test support: a real rtchat server on port 0 with a temporary SQLite file,
//! in-process ([`TestServer`]) or as the real binary ([`Process`]).
#![allow(dead_code)]

pub mod devapp;
pub mod edge;
pub mod localtunnel;
pub mod proxy;
pub mod qrdecode;
pub mod services;
pub mod sio;
pub mod tunnels;

use std::io::{BufRead, BufReader};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Parser;
use rtchat::cli::{Cli, Command as Sub};
use rtchat::config::Config;
use rtchat::server::{self, Listeners, Running};
use serde_json::Value;
use tokio::sync::oneshot;

#[allow(unused_imports)]
pub use sio::Client;

thread_local! {
    /// Set by the `scaled` half of [`both_stacks!`]: servers started on this
    /// thread use PostgreSQL and the Redis adapter instead of SQLite.
    static SCALED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// For the `scaled` half of [`both_stacks!`]: servers this thread starts from
/// now on use PostgreSQL and Redis; fails, naming the variables to set, when
/// they are not configured.
pub fn use_scaled_stack() {
    services::Services::from_env();
    SCALED.with(|s| s.set(true));
}

/// Defines each test twice: in `sqlite`, on the zero-setup default, and in
/// `scaled`, on PostgreSQL and the Redis adapter. One suite, both stacks. The
/// `scaled` half is ignored unless asked for with `--include-ignored`.
#[macro_export]
macro_rules! both_stacks {
    ($($(#[$meta:meta])* async fn $name:ident() $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[tokio::test] async fn $name() $body )*
        }
        mod scaled {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                #[ignore = "needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL and pass --include-ignored"]
                async fn $name() {
                    common::use_scaled_stack();
                    $body
                }
            )*
        }
    };
}

/// A server running inside the test's runtime; stops when dropped.
pub struct TestServer {
    pub url: String,
    pub ui_url: String,
    pub db: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    running: Option<Running>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<services::Database>,
}

fn serve_args(db: &str, extra: &[&str]) -> Config {
    let argv = ["rtchat", "serve", "--host", "127.0.0.1", "--port", "0", "--ui-port", "off", "--db", db];
    let cli = Cli::try_parse_from(argv.iter().chain(extra)).expect("test flags parse");
    let Sub::Serve(args) = cli.subcommand();
    Config::from_args(&args).expect("test config is valid")
}

impl TestServer {
    /// A server with default settings and a fresh database.
    pub async fn start() -> Self {
        Self::with(&[]).await
    }

    /// A server with extra `serve` flags and a fresh database.
    ///
    /// In the `scaled` half of [`both_stacks!`] the same server runs on the
    /// scaled-out stack instead: a fresh PostgreSQL database and the Redis
    /// adapter, so one suite proves the same protocol on both.
    pub async fn with(extra: &[&str]) -> Self {
        if SCALED.with(|s| s.get()) {
            let services = services::Services::from_env();
            let database = services.database().await;
            let prefix = services.prefix();
            let mut args = vec!["--redis", &services.redis, "--redis-prefix", &prefix];
            args.extend(extra);
            let mut server = Self::on_target(&database.url, &args).await;
            server._database = Some(database);
            return server;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("chat.db");
        let mut server = Self::on(&db, extra).await;
        server._dir = Some(dir);
        server
    }

    /// A server on an existing database file.
    pub async fn on(db: &Path, extra: &[&str]) -> Self {
        Self::on_target(db.to_str().unwrap(), extra).await
    }

    async fn on_target(db: &str, extra: &[&str]) -> Self {
        let config = serve_args(db, extra);
        let listeners = Listeners::bind(&config).await.expect("bind port 0");
        let (stop, stopped) = oneshot::channel::<()>();
        let running = server::start(config, listeners, async move {
            let _ = stopped.await;
        })
        .await
        .expect("server starts");
        Self {
            url: running.info.local.backend.clone(),
            ui_url: running.info.local.ui.clone(),
            db: PathBuf::from(db),
            stop: Some(stop),
            running: Some(running),
            _dir: None,
            _database: None,
        }
    }

    /// Shuts down gracefully and waits until the database is closed.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.running.take().unwrap().wait().await.expect("clean shutdown");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The real `rtchat` binary, started with `--json`; killed when dropped.
pub struct Process {
    child: Option<Child>,
    pub pid: u32,
    pub ready: Value,
    pub url: String,
    lines: std::sync::mpsc::Receiver<String>,
}

/// `reply` after checking it is a success (`ok: true`); a failure points at the
/// caller's line.
#[track_caller]
pub fn ok(reply: Value) -> Value {
    assert_eq!(reply["ok"], true, "expected ok, got {reply}");
    reply
}

/// The error code of a refusal (`ok: false` with a sentence for people);
/// anything else fails at the caller's line.
#[track_caller]
pub fn code(reply: &Value) -> &str {
    assert_eq!(reply["ok"], false, "expected an error, got {reply}");
    assert!(
        reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without a message: {reply}"
    );
    reply["error"]["code"].as_str().unwrap()
}

/// A room's whole history through the REST API, paging with `after`.
pub async fn rest_history(url: &str, room: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = "0000000000000000".to_owned();
    loop {
        let page: Value = reqwest::get(format!("{url}/api/rooms/{room}/messages?after={after}&limit=100"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = page["messages"].as_array().unwrap().clone();
        let Some(last) = page.last() else { return all };
        after = last["id"].as_str().unwrap().to_owned();
        all.extend(page);
    }
}

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_rtchat")
}

impl Process {
    /// Starts `rtchat serve --json` with `args` and waits for its ready line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Like [`Process::start`], with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--json")
            .args(args)
            .env("RUST_LOG", "rtchat=warn")
            .envs(env.iter().copied());
        Self::spawn(command)
    }

    /// Like [`Process::start`], run through `sh -c "{prelude}; exec rtchat …"`,
    /// for settings only a parent can make (ignored signals, resource limits).
    pub fn start_after(prelude: &str, args: &[&str]) -> Self {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!("{prelude}; exec \"$0\" serve --json \"$@\"")).arg(binary()).args(args);
        command.env("RUST_LOG", "rtchat=warn");
        Self::spawn(command)
    }

    fn spawn(mut command: Command) -> Self {
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn rtchat");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = lines.recv_timeout(Duration::from_secs(10)).expect("ready line within 10 s");
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
        assert_eq!(ready["event"], "ready");
        let url = ready["local"]["backend"].as_str().unwrap().to_owned();
        Self { pid: child.id(), child: Some(child), ready, url, lines }
    }

    /// The next JSON line on stdout whose `event` and `state` match, skipping
    /// others; panics after `limit`.
    pub fn next_event(&self, event: &str, state: Option<&str>, limit: Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {event} {state:?} line within {limit:?}"));
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            if v["event"] == event && state.is_none_or(|s| v["state"] == s) {
                return v;
            }
        }
    }

    /// Sends a signal (SIGTERM, SIGKILL) to the process.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.pid.to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`; `None` if it is still running
    /// then (it is killed).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(limit) {
            Ok(status) => Some(status.unwrap()),
            Err(_) => {
                self.signal("KILL");
                None
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
