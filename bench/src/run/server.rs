//! The servers under test: which they are, how each is started and pinned,
//! and how the runner learns its port and notices that it died.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::Serialize;

use super::Runner;
use super::process::{Reaper, TempDir, pinned};

/// How long a server may take to print its port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A server under test.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Server {
    /// The seed lesson's Node socket.io v4 server.
    Node,
    /// The bare socketioxide peer (`bare-sio`).
    Bare,
    /// rtchat, with its history in a fresh SQLite file.
    Rtchat,
    /// rtchat with `--db memory`; measured in the fan-out scenario only.
    #[value(skip)]
    RtchatMemory,
}

impl Server {
    /// The three servers compared in every table.
    pub const PEERS: [Server; 3] = [Server::Node, Server::Bare, Server::Rtchat];

    /// The name the tables use.
    pub fn label(self) -> &'static str {
        match self {
            Server::Node => "Node (the lesson's server)",
            Server::Bare => "bare socketioxide",
            Server::Rtchat => "rtchat",
            Server::RtchatMemory => "rtchat, --db memory",
        }
    }

    /// A file-name-safe name, for its log.
    pub(super) fn slug(self) -> &'static str {
        match self {
            Server::Node => "node",
            Server::Bare => "bare",
            Server::Rtchat => "rtchat",
            Server::RtchatMemory => "rtchat-memory",
        }
    }

    /// The `--servers` choice that selects this server.
    pub(super) fn choice(self) -> Server {
        match self {
            Server::RtchatMemory => Server::Rtchat,
            other => other,
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A server that printed its port; killed when dropped.
pub(super) struct Running {
    pub(super) server: Server,
    /// Declared before `scratch` so the server is dead before its database is removed.
    child: Reaper,
    pub(super) port: u16,
    /// From spawning it to its first line on stdout.
    pub(super) startup: Duration,
    log: PathBuf,
    /// A database directory that goes with this server.
    scratch: Option<TempDir>,
}

impl Running {
    /// Spawns `cmd` (stdout piped) and waits for the port on its first line.
    fn start(server: Server, mut cmd: Command, log: PathBuf) -> Result<Self> {
        let began = Instant::now();
        let child = cmd.spawn().with_context(|| format!("could not start {cmd:?}"))?;
        let mut child = Reaper(child);
        let stdout = child.0.stdout.take().context("the server's stdout was not piped")?;
        let (line, at) = match first_line(stdout).recv_timeout(STARTUP_TIMEOUT) {
            Ok((line, at)) if !line.is_empty() => (line, at),
            Err(RecvTimeoutError::Timeout) => {
                bail!("the server printed nothing within {} s{}", STARTUP_TIMEOUT.as_secs(), log_tail(&log))
            }
            _ => {
                let status = child.0.wait().context("could not wait for the server")?;
                bail!("the server exited ({status}) before printing its port{}", log_tail(&log));
            }
        };
        let port =
            ready_port(&line).with_context(|| format!("the server's first line was not its port: {line}"))?;
        Ok(Running { server, child, port, startup: at.duration_since(began), log, scratch: None })
    }

    /// The server's process id (taskset execs it, so it is the server's own).
    pub(super) fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Fails if the server has exited.
    pub(super) fn ensure_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.0.try_wait().context("could not check on the server")? {
            bail!("the server exited during the run ({status}){}", log_tail(&self.log));
        }
        Ok(())
    }
}

/// Reads a child's stdout on a thread: sends its first line (empty at end of
/// file) with the time it arrived, then discards the rest so the child never
/// blocks on a full pipe.
fn first_line(stdout: ChildStdout) -> mpsc::Receiver<(String, Instant)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            line.clear();
        }
        let at = Instant::now();
        let _ = tx.send((line.trim().to_owned(), at));
        let _ = io::copy(&mut reader, &mut io::sink());
    });
    rx
}

/// The port in a server's first stdout line: `{"port":N}` from the peers, or
/// rtchat's `ready` line with its `local.backend` URL.
fn ready_port(line: &str) -> Result<u16> {
    let value: serde_json::Value = serde_json::from_str(line).context("it is not JSON")?;
    if let Some(port) = value.get("port").and_then(serde_json::Value::as_u64) {
        return u16::try_from(port).context("the port is out of range");
    }
    let url = value
        .pointer("/local/backend")
        .and_then(serde_json::Value::as_str)
        .context("it has neither `port` nor `local.backend`")?;
    let port = url.trim_end_matches('/').rsplit(':').next().and_then(|p| p.parse().ok());
    port.with_context(|| format!("no port in {url}"))
}

/// The start of the line written to a server's log before each start.
const LOG_HEADER: &str = "== rtchat-bench: ";

/// The last lines of a server's log, to append to an error.
fn log_tail(log: &Path) -> String {
    let text = fs::read(log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    // Only what the last start wrote, after its header.
    let last_start =
        text.rfind(LOG_HEADER).map_or(0, |at| text[at..].find('\n').map_or(text.len(), |n| at + n));
    let lines: Vec<&str> = text[last_start..].lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return format!("; its stderr ({}) is empty", log.display());
    }
    let tail = lines[lines.len().saturating_sub(5)..].join("\n    ");
    format!("; the end of its stderr ({}):\n    {tail}", log.display())
}

impl Runner {
    /// Starts `server`; rtchat gets a fresh database file.
    pub(super) fn start(&self, server: Server) -> Result<Running> {
        if server != Server::Rtchat {
            return self.spawn(server, None);
        }
        let dir = TempDir::new("db")?;
        let mut running = self.spawn(server, Some(&dir.path().join("rtchat.db")))?;
        running.scratch = Some(dir);
        Ok(running)
    }

    /// Spawns `server` pinned, with its stderr appended to its log. For
    /// rtchat, `db` is its database file (`None` means `--db memory`).
    pub(super) fn spawn(&self, server: Server, db: Option<&Path>) -> Result<Running> {
        let cpu = self.pin.server_cpu();
        let mut cmd = match server {
            Server::Node => {
                let mut cmd = pinned(cpu, "node");
                cmd.arg(&self.bins.node_server);
                cmd
            }
            Server::Bare => pinned(cpu, &self.bins.bare),
            Server::Rtchat | Server::RtchatMemory => {
                let mut cmd = pinned(cpu, &self.bins.rtchat);
                cmd.args([
                    "serve",
                    "--port",
                    "0",
                    "--ui-port",
                    "off",
                    "--json",
                    "--rate-limit",
                    "0",
                    "--rate-limit-per-ip",
                    "0",
                    // Every load client connects from loopback.
                    "--max-connections-per-ip",
                    "0",
                    "-q",
                    "--db",
                ]);
                cmd.arg(db.map_or(OsStr::new("memory"), Path::as_os_str));
                // Settings from the environment (a token, say) would change what is measured.
                for (key, _) in
                    std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("RTCHAT_"))
                {
                    cmd.env_remove(key);
                }
                cmd
            }
        };
        let log_path = self.log_path(server);
        let mut log = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log_path)
            .with_context(|| format!("could not open {}", log_path.display()))?;
        writeln!(log, "{LOG_HEADER}starting for {}", self.scenario)
            .with_context(|| format!("could not write {}", log_path.display()))?;
        cmd.env("TOKIO_WORKER_THREADS", "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        Running::start(server, cmd, log_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_either_kind_of_ready_line() {
        assert_eq!(ready_port(r#"{"port":4242}"#).unwrap(), 4242);
        let rtchat = r#"{"local":{"backend":"http://127.0.0.1:35019"},"event":"ready"}"#;
        assert_eq!(ready_port(rtchat).unwrap(), 35019);
        assert!(ready_port("listening on 3000").is_err());
        assert!(ready_port(r#"{"port":70000}"#).is_err());
    }
}
