//! `rtchat-bench run`: every scenario against rtchat and its peers, written
//! out as raw JSON and as Markdown tables.
//!
//! Each server is started afresh for each scenario, pinned to one core with
//! one Tokio worker thread; the load generator (this program's `load`
//! command, in a child process) is pinned to another. A server that will not
//! start, dies, or whose load run fails is recorded as a failure under its
//! name and the run goes on; it exits with an error at the end.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::ValueEnum;
use serde::Serialize;

use crate::load::{LoadArgs, Mode, Report};
use crate::report::{
    self, Binary, ColdStart, Level, Machine, Measured, MemoryHistory, Results, Run, Scaled, Search, Versions,
};

/// The p99 delivery latency, in ms, under which a fan-out or rooms level is clean.
pub const DELIVERY_P99_MS: f64 = 100.0;
/// The p99 ack latency, in ms, under which a history level is clean.
pub const ACK_P99_MS: f64 = 25.0;
/// How long a server may take to print its port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How much longer than its planned phases a load run may take before it is killed.
const LOAD_GRACE: Duration = Duration::from_secs(30);
/// How long a client may take to connect and join before it counts as an error.
const CONNECT_TIMEOUT_SECS: f64 = 60.0;
/// The Node peer in this crate's source tree.
const NODE_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/node/server.js");
/// The workspace's lock file, which pins the socketioxide both Rust servers use.
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");
/// Set by `bench/run` to the command that reproduces the tables, for the report.
const COMMAND_ENV: &str = "BENCH_RUN_COMMAND";

/// Runs the benchmark scenarios against rtchat and its peers and writes the results.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Markdown file to write the tables into, between the lines
    /// `<!-- bench:begin -->` and `<!-- bench:end -->` (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// File for every raw load report [default: target/bench/results.json]
    #[arg(long)]
    json: Option<PathBuf>,
    /// Tiny sizes that only check the harness works (for CI); fails if a run
    /// loses connections, deliveries or acks, never on speed.
    #[arg(long)]
    smoke: bool,
    /// Run only these scenarios (comma-separated) [default: all]
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
    /// Servers to measure (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Server::PEERS)]
    servers: Vec<Server>,
    /// The CPU every server is pinned to.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// The CPU the load generator is pinned to.
    #[arg(long, default_value_t = 1)]
    load_cpu: usize,
    /// The Node peer's script; its socket.io comes from node_modules beside it.
    #[arg(long, default_value = NODE_SERVER)]
    node_server: PathBuf,
}

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
            Server::Node => "Node (seed)",
            Server::Bare => "bare socketioxide",
            Server::Rtchat => "rtchat",
            Server::RtchatMemory => "rtchat, --db memory",
        }
    }

    /// A file-name-safe name, for its log.
    fn slug(self) -> &'static str {
        match self {
            Server::Node => "node",
            Server::Bare => "bare",
            Server::Rtchat => "rtchat",
            Server::RtchatMemory => "rtchat-memory",
        }
    }

    /// The `--servers` choice that selects this server.
    fn choice(self) -> Server {
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

/// The scenarios, in the order they run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// One room, everyone receives every message: highest clean deliveries/s.
    Fanout,
    /// Idle connections: server memory per connection.
    Idle,
    /// Many small rooms, everyone sending: highest clean deliveries/s.
    Rooms,
    /// rtchat only: acked (stored) messages per second.
    History,
    /// rtchat only: idle memory again on the history scenario's database.
    MemoryHistory,
    /// Everyone connecting at once: connects/s.
    Storm,
    /// Spawn to listening, several times per server.
    Coldstart,
    /// rtchat and bare: the fan-out search at several room sizes.
    Scaling,
}

impl Scenario {
    /// The name used by `--only` and in messages.
    fn name(self) -> &'static str {
        match self {
            Scenario::Fanout => "fanout",
            Scenario::Idle => "idle",
            Scenario::Rooms => "rooms",
            Scenario::History => "history",
            Scenario::MemoryHistory => "memory-history",
            Scenario::Storm => "storm",
            Scenario::Coldstart => "coldstart",
            Scenario::Scaling => "scaling",
        }
    }
}

/// The sizes of every scenario: the full benchmark's or the smoke test's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sizes {
    pub fanout_clients: usize,
    /// Offered deliveries/s, for fan-out and scaling.
    pub fanout_levels: Vec<f64>,
    /// Seconds of sending per level.
    pub duration: f64,
    /// Seconds at the start of each level whose latencies are left out.
    pub warmup: f64,
    /// Seconds to wait for late deliveries.
    pub drain: f64,
    /// Seconds the idle clients stay connected before the server's memory is read.
    pub settle: f64,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    pub idle_clients: usize,
    pub rooms_clients: usize,
    pub room_size: usize,
    /// Offered deliveries/s.
    pub rooms_levels: Vec<f64>,
    pub history_clients: usize,
    pub history_room_size: usize,
    /// Offered (and, when clean, acked) messages/s.
    pub history_levels: Vec<f64>,
    pub storm_clients: usize,
    pub coldstarts: usize,
    /// Clients in the one room, per scaling search.
    pub scaling_clients: Vec<usize>,
}

impl Sizes {
    /// The benchmark behind docs/performance.md.
    fn full() -> Self {
        Sizes {
            fanout_clients: 1000,
            fanout_levels: vec![
                100e3, 200e3, 300e3, 400e3, 500e3, 600e3, 800e3, 1e6, 1.2e6, 1.5e6, 2e6, 2.5e6, 3e6,
            ],
            duration: 5.0,
            warmup: 1.0,
            drain: 5.0,
            settle: 2.0,
            connect_concurrency: 500,
            idle_clients: 10_000,
            rooms_clients: 10_000,
            room_size: 10,
            rooms_levels: vec![100e3, 200e3, 300e3, 400e3, 600e3, 800e3, 1e6],
            history_clients: 1000,
            history_room_size: 2,
            history_levels: vec![10e3, 20e3, 25e3, 30e3, 35e3, 40e3, 50e3, 60e3, 80e3],
            storm_clients: 10_000,
            coldstarts: 10,
            scaling_clients: vec![100, 1000, 10_000],
        }
    }

    /// One small level of everything, to check the harness in seconds.
    fn smoke() -> Self {
        Sizes {
            fanout_clients: 50,
            fanout_levels: vec![5e3],
            duration: 1.0,
            warmup: 0.2,
            drain: 3.0,
            settle: 1.0,
            connect_concurrency: 500,
            idle_clients: 200,
            rooms_clients: 200,
            room_size: 10,
            rooms_levels: vec![5e3],
            history_clients: 50,
            history_room_size: 2,
            history_levels: vec![500.0],
            storm_clients: 200,
            coldstarts: 2,
            scaling_clients: vec![20, 50],
        }
    }

    /// The most connections any scenario opens.
    fn max_clients(&self) -> usize {
        let scaling = self.scaling_clients.iter().copied().max().unwrap_or(0);
        [
            self.fanout_clients,
            self.idle_clients,
            self.rooms_clients,
            self.history_clients,
            self.storm_clients,
            scaling,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

/// Runs the selected scenarios, writes the JSON and the Markdown, and fails
/// if any measurement failed (or, with `--smoke`, looked broken).
pub fn main(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let bins = Binaries::locate(args)?;
    let sizes = if args.smoke { Sizes::smoke() } else { Sizes::full() };
    check_open_files(sizes.max_clients())?;
    let pin = Pinning::detect(args.server_cpu, args.load_cpu);
    if let Pinning::Off(why) = &pin {
        eprintln!("note: {why}");
    }
    let scenarios = scenarios(&args.only);
    let json = args.json.clone().unwrap_or_else(|| bins.out_dir.join("results.json"));
    let mut runner = Runner::new(args, sizes, bins, pin)?;
    let mut results = runner.run(&scenarios)?;
    results.elapsed_secs = started.elapsed().as_secs_f64();
    write_json(&json, &results)?;
    write_markdown(&args.out, &results)?;
    eprintln!("wrote {} and {} after {:.0} s", args.out.display(), json.display(), results.elapsed_secs);
    runner.finish()
}

/// The scenarios to run, in order; memory-history brings history, whose
/// database it reads.
fn scenarios(only: &[Scenario]) -> Vec<Scenario> {
    let mut chosen = if only.is_empty() { Scenario::value_variants().to_vec() } else { only.to_vec() };
    if chosen.contains(&Scenario::MemoryHistory) && !chosen.contains(&Scenario::History) {
        eprintln!("note: memory-history reads the history scenario's database, so history runs too");
        chosen.push(Scenario::History);
    }
    chosen.sort();
    chosen.dedup();
    chosen
}

/// The programs a run starts, and where it writes.
struct Binaries {
    /// This program, for the load generator.
    me: PathBuf,
    rtchat: PathBuf,
    bare: PathBuf,
    node_server: PathBuf,
    /// target/bench: server logs and the default JSON.
    out_dir: PathBuf,
}

impl Binaries {
    /// Finds rtchat and bare-sio next to this program and checks that every
    /// selected server can be started.
    fn locate(args: &RunArgs) -> Result<Self> {
        let me = std::env::current_exe().context("could not find this program's own path")?;
        let dir = me.parent().context("this program's path has no directory")?;
        let bins = Binaries {
            rtchat: dir.join("rtchat"),
            bare: dir.join("bare-sio"),
            node_server: args.node_server.clone(),
            out_dir: dir.parent().unwrap_or(dir).join("bench"),
            me: me.clone(),
        };
        for &server in &args.servers {
            bins.check(server)?;
        }
        Ok(bins)
    }

    /// Fails, saying how to fix it, when `server` cannot be started.
    fn check(&self, server: Server) -> Result<()> {
        match server {
            Server::Rtchat | Server::RtchatMemory => ensure!(
                self.rtchat.is_file(),
                "{} is missing: build it with `cargo build --release -p rtchat`",
                self.rtchat.display()
            ),
            Server::Bare => ensure!(
                self.bare.is_file(),
                "{} is missing: build it with `cargo build --release -p rtchat-bench`",
                self.bare.display()
            ),
            Server::Node => {
                ensure!(
                    self.node_server.is_file(),
                    "the Node peer {} is missing",
                    self.node_server.display()
                );
                ensure!(
                    self.node_dir().join("node_modules/socket.io").is_dir(),
                    "socket.io is not installed for the Node peer: run `npm ci --prefix {}`",
                    self.node_dir().display()
                );
            }
        }
        Ok(())
    }

    /// The Node peer's directory, holding its node_modules.
    fn node_dir(&self) -> &Path {
        self.node_server.parent().unwrap_or(Path::new("."))
    }
}

/// Fails early, with advice, when 10,000 connections per process would run
/// out of file descriptors (the limit is inherited by every child).
fn check_open_files(clients: usize) -> Result<()> {
    let Ok(limits) = fs::read_to_string("/proc/self/limits") else {
        return Ok(());
    };
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next());
    let Some(Ok(soft)) = soft.filter(|s| *s != "unlimited").map(str::parse::<usize>) else {
        return Ok(());
    };
    let needed = clients + 256;
    ensure!(
        soft >= needed,
        "{clients} connections need about {needed} open files but the limit is {soft}: raise it with \
         `ulimit -n 65536` (bench/run does this)"
    );
    Ok(())
}

/// Which cores the servers and the load generator run on.
#[derive(Debug, Clone)]
enum Pinning {
    Cores {
        server: usize,
        load: usize,
    },
    /// Not pinned, and why.
    Off(String),
}

impl Pinning {
    /// Pins with `taskset` when there are two CPUs and taskset works.
    fn detect(server: usize, load: usize) -> Self {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            return Pinning::Off(format!(
                "not pinned: this machine has {cpus} CPU, so the servers and the load generator share it"
            ));
        }
        let taskset =
            Command::new("taskset").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        match taskset {
            Ok(status) if status.success() => Pinning::Cores { server, load },
            _ => Pinning::Off("not pinned: `taskset` (util-linux) was not found".to_owned()),
        }
    }

    /// The servers' CPU, when pinned.
    fn server_cpu(&self) -> Option<usize> {
        match self {
            Pinning::Cores { server, .. } => Some(*server),
            Pinning::Off(_) => None,
        }
    }

    /// The load generator's CPU, when pinned.
    fn load_cpu(&self) -> Option<usize> {
        match self {
            Pinning::Cores { load, .. } => Some(*load),
            Pinning::Off(_) => None,
        }
    }

    /// For the report.
    fn describe(&self) -> String {
        match self {
            Pinning::Cores { server, load } => {
                format!(
                    "each server on CPU {server} and the load generator on CPU {load}, pinned with `taskset`"
                )
            }
            Pinning::Off(why) => why.clone(),
        }
    }
}

/// A command for `program`, run under `taskset -c cpu` when pinned.
fn pinned(cpu: Option<usize>, program: impl AsRef<OsStr>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpu.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        // It may have exited already; either way it is gone afterwards.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    /// Creates a new, empty directory whose name includes `tag`.
    fn new(tag: &str) -> Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("rtchat-bench-{}-{n}-{tag}", std::process::id()));
        fs::create_dir(&path).with_context(|| format!("could not create {}", path.display()))?;
        Ok(TempDir(path))
    }

    /// The directory.
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server that printed its port; killed when dropped.
struct Running {
    server: Server,
    /// Declared before `scratch` so the server is dead before its database is removed.
    child: Reaper,
    port: u16,
    /// From spawning it to its first line on stdout.
    startup: Duration,
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
    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Fails if the server has exited.
    fn ensure_alive(&mut self) -> Result<()> {
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
/// rtchat's `ready` line with its `backend_url`.
fn ready_port(line: &str) -> Result<u16> {
    let value: serde_json::Value = serde_json::from_str(line).context("it is not JSON")?;
    if let Some(port) = value.get("port").and_then(serde_json::Value::as_u64) {
        return u16::try_from(port).context("the port is out of range");
    }
    let url = value
        .get("backend_url")
        .and_then(serde_json::Value::as_str)
        .context("it has neither `port` nor `backend_url`")?;
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

/// Runs a command to completion with its output captured, killing it if it
/// takes longer than `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = Reaper(cmd.spawn().with_context(|| format!("could not start {cmd:?}"))?);
    let stdout = child.0.stdout.take().context("stdout was not piped")?;
    let stderr = child.0.stderr.take().context("stderr was not piped")?;
    let (done, finished) = mpsc::channel();
    let out_reader = thread::spawn(move || {
        let read = read_all(stdout);
        let _ = done.send(());
        read
    });
    let err_reader = thread::spawn(move || read_all(stderr));
    if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
        // Dropping the reaper kills it, which closes the pipes and ends the readers.
        bail!("it did not finish within {} s", limit.as_secs());
    }
    let status = child.0.wait().context("could not wait for it")?;
    let joined = |reader: thread::JoinHandle<io::Result<Vec<u8>>>| {
        reader.join().map_err(|_| anyhow!("a pipe reader panicked"))?.context("could not read its output")
    };
    Ok(Output { status, stdout: joined(out_reader)?, stderr: joined(err_reader)? })
}

/// Everything from a pipe until its end.
fn read_all(mut pipe: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The `rtchat-bench load` arguments for `args`; every option is spelt out,
/// so the JSON records exactly what ran.
fn load_argv(a: &LoadArgs) -> Vec<String> {
    let mode = match a.mode {
        Mode::Seed => "seed",
        Mode::Rich => "rich",
    };
    let mut options = vec![
        ("--addr", a.addr.clone()),
        ("--clients", a.clients.to_string()),
        ("--room-size", a.room_size.to_string()),
        ("--senders", a.senders.to_string()),
        ("--rate", a.rate.to_string()),
        ("--mode", mode.to_owned()),
        ("--duration", a.duration.to_string()),
        ("--warmup", a.warmup.to_string()),
        ("--drain", a.drain.to_string()),
        ("--connect-concurrency", a.connect_concurrency.to_string()),
        ("--connect-timeout", a.connect_timeout.to_string()),
        ("--text-len", a.text_len.to_string()),
        ("--settle", a.settle.to_string()),
    ];
    if let Some(pid) = a.server_pid {
        options.push(("--server-pid", pid.to_string()));
    }
    let mut argv = vec!["load".to_owned()];
    for (flag, value) in options {
        argv.push(flag.to_owned());
        argv.push(value);
    }
    argv
}

/// How long a load run may take before it is killed.
fn load_limit(a: &LoadArgs) -> Duration {
    Duration::from_secs_f64(a.connect_timeout + a.settle + a.duration + a.drain) + LOAD_GRACE
}

/// Why a fan-out, rooms or scaling level is not clean.
fn delivery_flaws(r: &Report) -> Vec<String> {
    let mut flaws = connect_flaws(r);
    if r.missing > 0 {
        flaws.push(format!("{} missing", report::thousands(r.missing)));
    }
    if r.latency.p99_ms >= DELIVERY_P99_MS {
        flaws.push(format!("p99 {}", report::ms(r.latency.p99_ms)));
    }
    flaws
}

/// Why a history level is not clean.
fn history_flaws(r: &Report) -> Vec<String> {
    let mut flaws = connect_flaws(r);
    if r.missing > 0 {
        flaws.push(format!("{} missing", report::thousands(r.missing)));
    }
    if r.acks < r.sent {
        flaws.push(format!("{} not acked", report::thousands(r.sent - r.acks)));
    }
    if r.ack_latency.p99_ms >= ACK_P99_MS {
        flaws.push(format!("ack p99 {}", report::ms(r.ack_latency.p99_ms)));
    }
    flaws
}

/// Why a run is not clean because clients did not connect.
fn connect_flaws(r: &Report) -> Vec<String> {
    if r.connect_errors == 0 {
        return Vec::new();
    }
    vec![format!("{} connect errors", report::thousands(r.connect_errors as u64))]
}

/// Senders for a one-room level: 10 for small rooms, else one per 50k
/// offered deliveries/s, between 10 and 40.
fn one_room_senders(level: f64, clients: usize) -> usize {
    if clients <= 100 {
        return 10.min(clients);
    }
    ((level / 50_000.0) as usize).clamp(10, 40)
}

/// Runs the scenarios and keeps what went wrong.
struct Runner {
    sizes: Sizes,
    smoke: bool,
    servers: Vec<Server>,
    bins: Binaries,
    pin: Pinning,
    /// Failed measurements and, with `--smoke`, runs that show the harness is broken.
    problems: Vec<String>,
    /// The scenario running, for messages and logs.
    scenario: &'static str,
}

impl Runner {
    /// A runner with empty server logs in target/bench.
    fn new(args: &RunArgs, sizes: Sizes, bins: Binaries, pin: Pinning) -> Result<Self> {
        fs::create_dir_all(&bins.out_dir)
            .with_context(|| format!("could not create {}", bins.out_dir.display()))?;
        let runner = Runner {
            sizes,
            smoke: args.smoke,
            servers: args.servers.clone(),
            bins,
            pin,
            problems: Vec::new(),
            scenario: "",
        };
        // Start this run's logs empty; each start appends to its server's.
        for server in [Server::Node, Server::Bare, Server::Rtchat, Server::RtchatMemory] {
            if runner.selected(server) {
                let log = runner.log_path(server);
                File::create(&log).with_context(|| format!("could not create {}", log.display()))?;
            }
        }
        Ok(runner)
    }

    /// Runs the scenarios in order and gathers everything for the report.
    fn run(&mut self, scenarios: &[Scenario]) -> Result<Results> {
        let mut results = Results {
            date: report::utc(SystemTime::now()),
            command: command_line(),
            smoke: self.smoke,
            machine: machine(&self.pin),
            versions: versions(&self.bins),
            sizes: self.sizes.clone(),
            binaries: self.binary_sizes()?,
            ..Results::default()
        };
        // The history scenario's database and how many messages it holds.
        let mut history_db: Option<(TempDir, u64)> = None;
        for &scenario in scenarios {
            self.scenario = scenario.name();
            eprintln!("== {}", scenario.name());
            match scenario {
                Scenario::Fanout => {
                    let servers = [Server::Node, Server::Bare, Server::Rtchat, Server::RtchatMemory];
                    let clients = self.sizes.fanout_clients;
                    results.fanout = self.each(&servers, |r, s| r.one_room(s, clients));
                }
                Scenario::Idle => results.idle = self.each(&Server::PEERS, Self::idle),
                Scenario::Rooms => results.rooms = self.each(&Server::PEERS, Self::rooms),
                Scenario::History => {
                    let dir = TempDir::new("history")?;
                    let db = dir.path().join("rtchat.db");
                    results.history = self.each(&[Server::Rtchat], |r, _| r.history(&db));
                    history_db = Some((dir, acked(&results.history)));
                }
                Scenario::MemoryHistory => {
                    let (dir, messages) = history_db.take().context("memory-history runs after history")?;
                    let db = dir.path().join("rtchat.db");
                    results.memory_history =
                        self.each(&[Server::Rtchat], |r, _| r.memory_history(&db, messages));
                }
                Scenario::Storm => results.storm = self.each(&Server::PEERS, Self::storm),
                Scenario::Coldstart => results.coldstart = self.each(&Server::PEERS, Self::coldstart),
                Scenario::Scaling => {
                    results.scaling = self.each(&[Server::Bare, Server::Rtchat], Self::scaling)
                }
            }
        }
        Ok(results)
    }

    /// Fails with every problem seen, if there were any.
    fn finish(self) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        bail!("{} problem(s):\n  - {}", self.problems.len(), self.problems.join("\n  - "))
    }

    /// Whether `--servers` chose `server`.
    fn selected(&self, server: Server) -> bool {
        self.servers.contains(&server.choice())
    }

    /// Measures each selected server of `servers` in turn.
    fn each<T>(
        &mut self,
        servers: &[Server],
        mut measure: impl FnMut(&mut Self, Server) -> Result<T>,
    ) -> Vec<Measured<T>> {
        let chosen: Vec<Server> = servers.iter().copied().filter(|&s| self.selected(s)).collect();
        let mut measured = Vec::new();
        for server in chosen {
            eprintln!("{}: {server}", self.scenario);
            let result = measure(self, server).map_err(|e| {
                let message = format!("{server}, {}: {e:#}", self.scenario);
                eprintln!("error: {message}");
                self.problems.push(message);
                format!("{e:#}")
            });
            measured.push(Measured { server, result });
        }
        measured
    }

    /// Where `server`'s stderr goes.
    fn log_path(&self, server: Server) -> PathBuf {
        self.bins.out_dir.join(format!("{}.log", server.slug()))
    }

    /// Starts `server`; rtchat gets a fresh database file.
    fn start(&self, server: Server) -> Result<Running> {
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
    fn spawn(&self, server: Server, db: Option<&Path>) -> Result<Running> {
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
                    "0",
                    "--json",
                    "--rate-limit",
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

    /// Load generator options shared by every scenario.
    fn base(&self, clients: usize) -> LoadArgs {
        LoadArgs {
            addr: String::new(),
            clients,
            room_size: 0,
            senders: 10,
            rate: 0.0,
            mode: Mode::Seed,
            duration: self.sizes.duration,
            warmup: self.sizes.warmup,
            drain: self.sizes.drain,
            connect_concurrency: self.sizes.connect_concurrency,
            connect_timeout: CONNECT_TIMEOUT_SECS,
            text_len: 32,
            server_pid: None,
            settle: 0.0,
        }
    }

    /// Runs the load generator, pinned, against `server` and reads its report.
    fn load(&mut self, server: &mut Running, mut args: LoadArgs) -> Result<Run> {
        args.addr = format!("127.0.0.1:{}", server.port);
        args.server_pid = Some(server.pid());
        let mut cmd = pinned(self.pin.load_cpu(), &self.bins.me);
        cmd.args(load_argv(&args));
        let output = output_within(cmd, load_limit(&args)).context("the load generator failed")?;
        ensure!(
            output.status.success(),
            "the load generator failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let report: Report = serde_json::from_slice(&output.stdout)
            .context("the load generator's output is not its JSON report")?;
        server.ensure_alive()?;
        let run = Run { args, report };
        if self.smoke {
            self.smoke_check(server.server, &run);
        }
        Ok(run)
    }

    /// Records a smoke run that lost connections, deliveries or acks.
    fn smoke_check(&mut self, server: Server, run: &Run) {
        let r = &run.report;
        let mut flaws = Vec::new();
        if r.connect_errors > 0 {
            let why = r.first_error.as_deref().unwrap_or("no error message");
            flaws.push(format!("{} of {} clients did not connect ({why})", r.connect_errors, r.clients));
        }
        if run.args.rate > 0.0 && r.received == 0 {
            flaws.push("a sending run received no deliveries".to_owned());
        }
        if run.args.rate > 0.0 && run.args.mode == Mode::Rich && r.acks == 0 {
            flaws.push("no message was acked".to_owned());
        }
        for flaw in flaws {
            let message = format!("{server}, {}: {flaw}", self.scenario);
            eprintln!("smoke: {message}");
            self.problems.push(message);
        }
    }

    /// Tries each offered load in turn until two in a row are not clean.
    fn search(
        &mut self,
        server: &mut Running,
        plans: Vec<(f64, LoadArgs)>,
        flaws: fn(&Report) -> Vec<String>,
    ) -> Result<Search> {
        let mut search = Search::default();
        let mut failed_in_a_row = 0;
        for (offered, args) in plans {
            let run =
                self.load(server, args).with_context(|| format!("at {} offered", report::rate(offered)))?;
            let level = Level { offered, flaws: flaws(&run.report), run };
            eprintln!("  {}", progress(&level));
            failed_in_a_row = if level.clean() { 0 } else { failed_in_a_row + 1 };
            search.levels.push(level);
            if failed_in_a_row == 2 {
                break;
            }
        }
        Ok(search)
    }

    /// The fan-out search with `clients` in one room.
    fn one_room(&mut self, server: Server, clients: usize) -> Result<Search> {
        let mut running = self.start(server)?;
        let plans = (self.sizes.fanout_levels.iter())
            .map(|&level| {
                let args = LoadArgs {
                    senders: one_room_senders(level, clients),
                    rate: level / clients as f64,
                    ..self.base(clients)
                };
                (level, args)
            })
            .collect();
        self.search(&mut running, plans, delivery_flaws)
    }

    /// Idle clients, for the server's memory per connection.
    fn idle(&mut self, server: Server) -> Result<Run> {
        let mut running = self.start(server)?;
        self.connect_only(&mut running, self.idle_args())
    }

    /// Load options of an idle run: connect, then settle.
    fn idle_args(&self) -> LoadArgs {
        LoadArgs { settle: self.sizes.settle, ..self.base(self.sizes.idle_clients) }
    }

    /// The rooms search: small rooms, every client sending.
    fn rooms(&mut self, server: Server) -> Result<Search> {
        let mut running = self.start(server)?;
        let size = self.sizes.room_size;
        let plans = (self.sizes.rooms_levels.iter())
            .map(|&level| {
                let args = LoadArgs {
                    room_size: size,
                    senders: 0,
                    rate: level / size as f64,
                    ..self.base(self.sizes.rooms_clients)
                };
                (level, args)
            })
            .collect();
        self.search(&mut running, plans, delivery_flaws)
    }

    /// rtchat's acked messages per second, on the database file `db`.
    fn history(&mut self, db: &Path) -> Result<Search> {
        let mut running = self.spawn(Server::Rtchat, Some(db))?;
        let plans = (self.sizes.history_levels.iter())
            .map(|&rate| {
                let args = LoadArgs {
                    mode: Mode::Rich,
                    room_size: self.sizes.history_room_size,
                    senders: 0,
                    rate,
                    ..self.base(self.sizes.history_clients)
                };
                (rate, args)
            })
            .collect();
        self.search(&mut running, plans, history_flaws)
    }

    /// Idle memory on a fresh database, then on the history database `db`.
    fn memory_history(&mut self, db: &Path, messages: u64) -> Result<MemoryHistory> {
        let fresh = self.idle(Server::Rtchat).context("on a fresh database")?;
        let db_bytes = db_bytes(db)?;
        let mut running = self.spawn(Server::Rtchat, Some(db))?;
        let with_history =
            self.connect_only(&mut running, self.idle_args()).context("on the history database")?;
        Ok(MemoryHistory { db_bytes, messages, fresh, with_history })
    }

    /// Every client connecting at once, for connects/s.
    fn storm(&mut self, server: Server) -> Result<Run> {
        let mut running = self.start(server)?;
        self.connect_only(&mut running, self.base(self.sizes.storm_clients))
    }

    /// A load run that only connects (rate 0), with a line of progress.
    fn connect_only(&mut self, server: &mut Running, args: LoadArgs) -> Result<Run> {
        let run = self.load(server, args)?;
        let r = &run.report;
        eprintln!(
            "  {} of {} connected at {}, p99 {}; server memory {} per connection",
            r.connected,
            r.clients,
            report::rate(r.connects_per_sec),
            report::ms(r.connect_latency.p99_ms),
            r.server_bytes_per_connection.map_or_else(|| "?".to_owned(), report::kb)
        );
        Ok(run)
    }

    /// Starts and kills the server several times, timing each start.
    fn coldstart(&mut self, server: Server) -> Result<ColdStart> {
        let mut ms = Vec::new();
        for _ in 0..self.sizes.coldstarts {
            let running = self.start(server)?;
            ms.push(running.startup.as_secs_f64() * 1e3);
        }
        eprintln!("  {}", ms.iter().map(|m| report::ms(*m)).collect::<Vec<_>>().join(", "));
        Ok(ColdStart { ms })
    }

    /// The one-room search at each scaling room size, each on a fresh server.
    fn scaling(&mut self, server: Server) -> Result<Vec<Scaled>> {
        let mut scaled = Vec::new();
        for clients in self.sizes.scaling_clients.clone() {
            eprintln!("  {clients} clients in the room");
            let search = self.one_room(server, clients).with_context(|| format!("with {clients} clients"))?;
            scaled.push(Scaled { clients, search });
        }
        Ok(scaled)
    }

    /// The sizes of the selected Rust servers' binaries, as built and stripped.
    fn binary_sizes(&self) -> Result<Vec<Measured<Binary>>> {
        let scratch = TempDir::new("strip")?;
        let binaries = [(Server::Bare, &self.bins.bare), (Server::Rtchat, &self.bins.rtchat)];
        let chosen = binaries.into_iter().filter(|(server, _)| self.selected(*server));
        let measure = |(server, path): (Server, &PathBuf)| {
            let result = fs::metadata(path)
                .map(|m| Binary { bytes: m.len(), stripped_bytes: stripped_size(path, scratch.path()) })
                .map_err(|e| format!("{}: {e}", path.display()));
            Measured { server, result }
        };
        Ok(chosen.map(measure).collect())
    }
}

/// The size of a copy of `binary` without symbols or debug info, made with
/// `strip` in `scratch`; `None` when strip is not available.
fn stripped_size(binary: &Path, scratch: &Path) -> Option<u64> {
    let copy = scratch.join(binary.file_name()?);
    let status =
        Command::new("strip").arg("-o").arg(&copy).arg(binary).stderr(Stdio::null()).status().ok()?;
    if !status.success() {
        return None;
    }
    fs::metadata(&copy).ok().map(|m| m.len())
}

/// One line of progress for a level.
fn progress(l: &Level) -> String {
    let r = &l.run.report;
    let verdict = if l.clean() { "clean".to_owned() } else { l.flaws.join(", ") };
    format!(
        "{} offered: {} achieved, p99 {}, server CPU {}, load gen CPU {}: {verdict}",
        report::rate(l.offered),
        report::rate(r.deliveries_per_sec),
        report::ms(r.latency.p99_ms.max(r.ack_latency.p99_ms)),
        r.server_cpu_pct.map_or_else(|| "?".to_owned(), report::pct),
        report::pct(r.loadgen_cpu_pct)
    )
}

/// Messages acked over every history level.
fn acked(history: &[Measured<Search>]) -> u64 {
    let levels = history.iter().filter_map(|m| m.result.as_ref().ok()).flat_map(|s| &s.levels);
    levels.map(|l| l.run.report.acks).sum()
}

/// A SQLite database's size, with its write-ahead log.
fn db_bytes(db: &Path) -> Result<u64> {
    let main =
        fs::metadata(db).with_context(|| format!("could not read the size of {}", db.display()))?.len();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Ok(main + fs::metadata(wal).map_or(0, |m| m.len()))
}

/// The command to show in the report: what `bench/run` says it was, or this
/// program's own arguments.
fn command_line() -> String {
    std::env::var(COMMAND_ENV).unwrap_or_else(|_| {
        let words: Vec<String> = std::env::args().map(|a| shell_word(&a)).collect();
        words.join(" ")
    })
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./,:=@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The CPU, memory and kernel, from /proc ("unknown" where unreadable).
fn machine(pin: &Pinning) -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| Some(l.strip_prefix("model name")?.split_once(':')?.1.trim().to_owned()))
        .unwrap_or_else(unknown);
    let processors = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let cpus =
        if processors > 0 { processors } else { thread::available_parallelism().map_or(1, |n| n.get()) };
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse::<u64>().ok());
    let kernel =
        fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| unknown(), |k| k.trim().to_owned());
    Machine { cpu, cpus, memory_bytes: memory_kib.map(|k| k * 1024), kernel, pinning: pin.describe() }
}

/// The versions of everything measured ("unknown" where one cannot be read).
fn versions(bins: &Binaries) -> Versions {
    let package = bins.node_dir().join("node_modules/socket.io/package.json");
    let socket_io = fs::read_to_string(package)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| Some(json.get("version")?.as_str()?.to_owned()));
    Versions {
        rtchat: first_line_of(Command::new(&bins.rtchat).arg("--version")),
        rustc: first_line_of(Command::new("rustc").arg("--version")),
        node: first_line_of(Command::new("node").arg("--version")),
        socket_io: socket_io.unwrap_or_else(unknown),
        socketioxide: lock_version(CARGO_LOCK, "socketioxide").unwrap_or_else(unknown),
    }
}

/// What a version or machine detail says when it cannot be read.
fn unknown() -> String {
    "unknown".to_owned()
}

/// The first line a command prints, or "unknown".
fn first_line_of(cmd: &mut Command) -> String {
    match cmd.stdin(Stdio::null()).stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_owned()
        }
        _ => unknown(),
    }
}

/// The version of `package` in a Cargo.lock.
fn lock_version(lock: &str, package: &str) -> Option<String> {
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| *l == name)?;
    let version = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
    Some(version.to_owned())
}

/// Writes every result, raw load reports included, as pretty JSON.
fn write_json(path: &Path, results: &Results) -> Result<()> {
    create_parent(path)?;
    let json = serde_json::to_vec_pretty(results).context("could not encode the results")?;
    fs::write(path, json).with_context(|| format!("could not write {}", path.display()))
}

/// Writes the tables between the markers of `path`, keeping the rest of it.
fn write_markdown(path: &Path, results: &Results) -> Result<()> {
    let existing = match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    let text = report::splice(existing.as_deref(), &report::markdown(results))
        .with_context(|| format!("could not update {}", path.display()))?;
    create_parent(path)?;
    fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

/// Creates `path`'s directory if it has one.
fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_either_kind_of_ready_line() {
        assert_eq!(ready_port(r#"{"port":4242}"#).unwrap(), 4242);
        let rtchat = r#"{"backend_url":"http://127.0.0.1:35019","event":"ready"}"#;
        assert_eq!(ready_port(rtchat).unwrap(), 35019);
        assert!(ready_port("listening on 3000").is_err());
        assert!(ready_port(r#"{"port":70000}"#).is_err());
    }

    #[test]
    fn the_socketioxide_version_comes_from_the_lock_file() {
        let lock = "[[package]]\nname = \"socketioxide-core\"\nversion = \"0.17.0\"\n\n[[package]]\nname = \"socketioxide\"\nversion = \"0.18.9\"\n";
        assert_eq!(lock_version(lock, "socketioxide").as_deref(), Some("0.18.9"));
        assert!(lock_version(CARGO_LOCK, "socketioxide").is_some());
    }

    #[test]
    fn senders_grow_with_the_load_within_bounds() {
        assert_eq!(one_room_senders(100e3, 1000), 10);
        assert_eq!(one_room_senders(1.2e6, 1000), 24);
        assert_eq!(one_room_senders(2e6, 10_000), 40);
        assert_eq!(one_room_senders(2e6, 100), 10);
        assert_eq!(one_room_senders(5e3, 20), 10);
    }

    #[test]
    fn load_arguments_round_trip_through_the_cli() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Sub,
        }
        #[derive(clap::Subcommand)]
        enum Sub {
            Load(LoadArgs),
        }
        let args =
            LoadArgs { addr: "127.0.0.1:1".to_owned(), server_pid: Some(7), rate: 12.5, ..full_load_args() };
        let argv = std::iter::once("rtchat-bench".to_owned()).chain(load_argv(&args));
        let Sub::Load(parsed) = Cli::parse_from(argv).command;
        assert_eq!(serde_json::to_value(&parsed).unwrap(), serde_json::to_value(&args).unwrap());
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("--only=fanout,idle"), "--only=fanout,idle");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    /// Load options as a full history run would give them.
    fn full_load_args() -> LoadArgs {
        LoadArgs {
            addr: String::new(),
            clients: 1000,
            room_size: 2,
            senders: 0,
            rate: 0.0,
            mode: Mode::Rich,
            duration: 5.0,
            warmup: 1.0,
            drain: 5.0,
            connect_concurrency: 500,
            connect_timeout: CONNECT_TIMEOUT_SECS,
            text_len: 32,
            server_pid: None,
            settle: 2.0,
        }
    }
}
