//! `rtchat-bench run`: every scenario against rtchat and its peers, written
//! out as raw JSON and as Markdown tables.
//!
//! Each server is started afresh for each scenario, pinned to one core with
//! one Tokio worker thread; the load generator (this program's `load`
//! command, in a child process) is pinned to another. A server that will not
//! start, dies, or whose load run fails is recorded as a failure under its
//! name and the run goes on; it exits with an error at the end.

mod binaries;
mod clean;
mod loadgen;
mod machine;
mod process;
mod scenarios;
mod server;
mod sizes;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use crate::report::{self, Measured, Results};
use binaries::Binaries;
use machine::{command_line, machine, versions};
use process::{Pinning, TempDir};
use scenarios::acked;
use sizes::check_open_files;

pub use clean::{ACK_P99_MS, DELIVERY_P99_MS};
pub use server::Server;
pub use sizes::Sizes;

/// The Node peer in this crate's source tree.
const NODE_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/node/server.js");

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
