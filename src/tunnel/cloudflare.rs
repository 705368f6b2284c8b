//! Cloudflare quick tunnels, through the user's `cloudflared`: no account.
//!
//! One `cloudflared tunnel --url …` child process per endpoint. Each forwards
//! to a loopback listener of its own, where every request names its visitor
//! in `CF-Connecting-IP` (set by Cloudflare's edge), so limits per address
//! count visitors, not cloudflared. The public hostname comes from the
//! child's metrics server (`/quicktunnel`), or from the line cloudflared
//! draws it in on its log when the metrics server does not say; the tunnel
//! is up once `/ready` answers 200.
//!
//! The children never outlive rtchat: they are stopped when the tunnel
//! closes, they sit in their own process group (a Ctrl-C in the terminal
//! reaches rtchat, which stops them), and on Linux they are killed by the
//! kernel when rtchat dies, even by SIGKILL (a parent-death signal).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{Live, OpenError, Targets};
use crate::connection::{self, Connections, Via};

/// Where to get cloudflared.
pub const DOWNLOAD_URL: &str =
    "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/";
/// The header in which Cloudflare's edge names each visitor.
const VISITOR_HEADER: &str = "cf-connecting-ip";
/// How long cloudflared has to get its hostname and become ready.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How often the metrics server is asked while cloudflared starts.
const POLL: Duration = Duration::from_millis(100);
/// How long a killed cloudflared has to be reaped before it is left to the runtime.
const REAP_LIMIT: Duration = Duration::from_secs(2);
/// How long the rest of an exited cloudflared's log may take to arrive.
const LOG_DRAIN_LIMIT: Duration = Duration::from_millis(500);
/// The most log text kept to explain a cloudflared that exited.
const LAST_LOG_LINES: usize = 3;

/// The Cloudflare settings, already validated.
#[derive(Debug, Clone)]
pub struct CloudflareConfig {
    /// The `cloudflared` executable.
    pub cloudflared: PathBuf,
}

/// The `cloudflared` to run: `explicit` (`--cloudflared`), else the first on
/// the `PATH`; `None` when there is none.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => which::which(path).ok(),
        None => which::which("cloudflared").ok(),
    }
}

/// Starts one cloudflared per endpoint and waits until each is ready.
pub(crate) async fn open(config: &CloudflareConfig, targets: &Targets) -> Result<Live, OpenError> {
    let endpoints = if targets.two_endpoints { 2 } else { 1 };
    let mut agents = Vec::with_capacity(endpoints);
    for _ in 0..endpoints {
        agents.push(Agent::start(&config.cloudflared, &targets.app).await?);
    }
    let mut urls = Vec::with_capacity(endpoints);
    for agent in &mut agents {
        urls.push(agent.ready().await?);
    }
    let ui = urls[0].clone();
    let backend = urls.last().cloned().unwrap_or_else(|| ui.clone());

    let (stop, stopped) = watch::channel(false);
    let (lost, lost_reason) = oneshot::channel();
    let supervisor = tokio::spawn(supervise(agents, stopped, lost));
    let running = async move { lost_reason.await.unwrap_or_else(|_| "cloudflared stopped".to_owned()) };
    let close = async move {
        let _ = stop.send(true);
        let _ = supervisor.await;
    };
    Ok(Live { ui, backend, password: None, running: running.boxed(), close: close.boxed() })
}

/// Watches the children until one exits (the tunnel is lost: `lost` says
/// why) or the tunnel is closed, then stops them all.
async fn supervise(
    mut agents: Vec<Agent>,
    mut stopped: watch::Receiver<bool>,
    lost: oneshot::Sender<String>,
) {
    let exits = futures_util::future::select_all(agents.iter_mut().map(|a| a.exited().boxed()));
    tokio::select! {
        (reason, _, _) = exits => {
            tracing::warn!(%reason, "cloudflared exited");
            let _ = lost.send(reason);
        }
        _ = stopped.wait_for(|s| *s) => {}
    }
    for agent in agents {
        agent.stop().await;
    }
}

/// One cloudflared and the listener it forwards to.
struct Agent {
    child: Child,
    metrics: SocketAddr,
    /// Public URLs cloudflared drew on its log.
    logged_url: watch::Receiver<Option<String>>,
    /// Its last few log lines, to explain an exit with its last error.
    last_lines: watch::Receiver<Vec<String>>,
    /// The tasks copying its output, done once it has exited.
    logs: Vec<JoinHandle<()>>,
    origin: AbortOnDrop,
}

impl Agent {
    async fn start(cloudflared: &Path, app: &Connections) -> Result<Self, OpenError> {
        let unavailable = |what: &str, e: io::Error| OpenError::Unreachable(format!("{what}: {e}"));
        let origin = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| unavailable("cannot open a loopback port for cloudflared", e))?;
        let origin_addr = origin.local_addr().map_err(|e| unavailable("loopback port", e))?;
        let metrics = free_loopback_port()
            .map_err(|e| unavailable("cannot pick a port for cloudflared's metrics", e))?;

        let mut command = Command::new(cloudflared);
        command
            .args(["tunnel", "--no-autoupdate", "--url"])
            .arg(format!("http://{origin_addr}"))
            .arg("--metrics")
            .arg(metrics.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|e| {
            OpenError::Refused(format!(
                "cannot run {}: {e}; install cloudflared from {DOWNLOAD_URL}",
                cloudflared.display()
            ))
        })?;
        tracing::debug!(pid = child.id(), origin = %origin_addr, %metrics, "cloudflared started");

        let (url_tx, logged_url) = watch::channel(None);
        let (lines_tx, last_lines) = watch::channel(Vec::new());
        let outputs = [child.stdout.take().map(boxed), child.stderr.take().map(boxed)];
        let logs = outputs
            .into_iter()
            .flatten()
            .map(|output| tokio::spawn(read_log(output, url_tx.clone(), lines_tx.clone())))
            .collect();
        let (app, via) = (app.clone(), Via::TunnelAgent { visitor_header: VISITOR_HEADER });
        let origin = AbortOnDrop(tokio::spawn(async move {
            let _ = connection::serve_listener(origin, app, via).await;
        }));
        Ok(Self { child, metrics, logged_url, last_lines, logs, origin })
    }

    /// Waits until cloudflared has a public hostname and is ready; its URL.
    async fn ready(&mut self) -> Result<String, OpenError> {
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        let mut url = None;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| OpenError::Unreachable(e.to_string()))? {
                return Err(OpenError::Unreachable(self.exit_reason(status).await));
            }
            if url.is_none() {
                url = quick_tunnel(self.metrics).await.or_else(|| self.logged_url.borrow().clone());
            }
            if let Some(url) = &url
                && metrics_status(self.metrics, "/ready").await == Some(200)
            {
                return Ok(url.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                let waiting_for =
                    if url.is_none() { "a quick tunnel hostname" } else { "its connection to Cloudflare" };
                return Err(OpenError::Unreachable(format!(
                    "cloudflared gave no {waiting_for} within {}s",
                    START_LIMIT.as_secs()
                )));
            }
            tokio::select! {
                _ = self.child.wait() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Waits for cloudflared to exit; why it did.
    async fn exited(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => self.exit_reason(status).await,
            Err(e) => format!("lost track of cloudflared: {e}"),
        }
    }

    /// Why cloudflared exited: its status and its last log line, once read.
    async fn exit_reason(&mut self, status: ExitStatus) -> String {
        let logs = futures_util::future::join_all(std::mem::take(&mut self.logs));
        let _ = tokio::time::timeout(LOG_DRAIN_LIMIT, logs).await;
        let lines = self.last_lines.borrow();
        // cloudflared's levels: DBG, INF, WRN, ERR, FTL.
        let error = lines.iter().rev().find(|l| l.contains(" ERR ") || l.contains(" FTL "));
        match error {
            Some(last) => format!("cloudflared exited ({status}): {last}"),
            None => format!("cloudflared exited ({status})"),
        }
    }

    /// Kills cloudflared and waits a moment for it to go.
    async fn stop(mut self) {
        let _ = self.child.start_kill();
        if tokio::time::timeout(REAP_LIMIT, self.child.wait()).await.is_err() {
            tracing::warn!(pid = self.child.id(), "cloudflared did not exit after SIGKILL");
        }
        drop(self.origin);
    }
}

fn boxed<R: AsyncRead + Send + Unpin + 'static>(r: R) -> Box<dyn AsyncRead + Send + Unpin> {
    Box::new(r)
}

/// Copies cloudflared's log into rtchat's (debug level), noting a drawn URL.
async fn read_log(
    output: Box<dyn AsyncRead + Send + Unpin>,
    url: watch::Sender<Option<String>>,
    last_lines: watch::Sender<Vec<String>>,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "rtchat::tunnel::cloudflared", "{line}");
        if let Some(found) = drawn_url(&line) {
            url.send_replace(Some(found));
        }
        last_lines.send_modify(|kept| {
            if kept.len() == LAST_LOG_LINES {
                kept.remove(0);
            }
            kept.push(line.chars().take(300).collect());
        });
    }
}

/// The URL in the box cloudflared draws on its log once the quick tunnel is
/// made (`INF |  https://some-words.trycloudflare.com  |`).
fn drawn_url(line: &str) -> Option<String> {
    let start = line.find("https://")?;
    if !line[..start].trim_end().ends_with('|') {
        return None;
    }
    let url = line[start..].split(|c: char| c.is_whitespace() || c == '|').next()?;
    valid_host(&url["https://".len()..]).then(|| url.to_owned())
}

/// A host name (with an optional port), nothing else: no path, no user info.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
}

/// The URL `/quicktunnel` reports, once cloudflared has one.
async fn quick_tunnel(metrics: SocketAddr) -> Option<String> {
    let body = super::http::get_text(&format!("http://{metrics}/quicktunnel")).await.ok()?;
    let value: serde_json::Value = serde_json::from_str(&body).ok()?;
    let host = value.get("hostname")?.as_str()?.trim();
    valid_host(host).then(|| format!("https://{host}"))
}

/// The status of `GET path` on the metrics server, if it answered.
async fn metrics_status(metrics: SocketAddr, path: &str) -> Option<u16> {
    super::http::status(&format!("http://{metrics}{path}")).await.ok()
}

/// A loopback port free at the moment of asking, for cloudflared to bind.
fn free_loopback_port() -> io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes the kernel kill the child when rtchat dies, however it dies.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec. It makes
    // two system calls, both async-signal-safe, and allocates nothing. The
    // death signal fires when the thread that forked exits; the tunnel runs
    // on the runtime's worker threads, which live as long as the process.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // rtchat may have died before prctl took effect: then no signal comes.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Elsewhere the children are stopped when the tunnel closes, and killed
/// when rtchat's runtime drops them; a SIGKILLed rtchat leaves them running.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_url_cloudflared_draws() {
        let line = "2026-12-01T10:00:00Z INF |  https://seasonal-deck-organisms-sf.trycloudflare.com                  |";
        assert_eq!(drawn_url(line).as_deref(), Some("https://seasonal-deck-organisms-sf.trycloudflare.com"));
        for other in [
            "2026-12-01T10:00:00Z INF Thank you for trying Cloudflare Tunnel. https://developers.cloudflare.com/x",
            "2026-12-01T10:00:00Z ERR failed to request quick Tunnel: Post \"https://api.trycloudflare.com/tunnel\"",
            "2026-12-01T10:00:00Z INF |  https://user@evil.example/path  |",
            "2026-12-01T10:00:00Z INF |  Your quick Tunnel has been created! Visit it at:  |",
        ] {
            assert_eq!(drawn_url(other), None, "{other}");
        }
    }
}
