//! What `rtchat-bench run` found, and the Markdown tables it becomes.
//!
//! The tables go between two marker lines of the output file, so whatever a
//! person wrote around them survives the next run.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::load::{Latency, LoadArgs, Report};
use crate::run::{ACK_P99_MS, DELIVERY_P99_MS, Server, Sizes};

/// The line after which the generated part starts.
pub const BEGIN: &str = "<!-- bench:begin -->";
/// The line before which the generated part ends.
pub const END: &str = "<!-- bench:end -->";

/// One load generator run: what it was asked to do and what it measured.
#[derive(Debug, Serialize)]
pub struct Run {
    pub args: LoadArgs,
    pub report: Report,
}

/// One offered load of a search for the highest clean one.
#[derive(Debug, Serialize)]
pub struct Level {
    /// Deliveries per second offered (acked messages per second for history).
    pub offered: f64,
    /// Why the level is not clean; empty when it is.
    pub flaws: Vec<String>,
    pub run: Run,
}

impl Level {
    /// Whether the level met its scenario's clean rule.
    pub fn clean(&self) -> bool {
        self.flaws.is_empty()
    }
}

/// Offered loads tried from the lowest up until two in a row were not clean.
#[derive(Debug, Default, Serialize)]
pub struct Search {
    pub levels: Vec<Level>,
}

impl Search {
    /// The highest offered load that was clean.
    pub fn best(&self) -> Option<&Level> {
        self.levels.iter().filter(|l| l.clean()).max_by(|a, b| a.offered.total_cmp(&b.offered))
    }

    /// The clean level at this offered load, if there is one.
    fn clean_at(&self, offered: f64) -> Option<&Level> {
        self.levels.iter().find(|l| l.clean() && l.offered.total_cmp(&offered).is_eq())
    }
}

/// A one-room search at one room size.
#[derive(Debug, Serialize)]
pub struct Scaled {
    pub clients: usize,
    pub search: Search,
}

/// Milliseconds from spawning a server to its first line on stdout, per start.
#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub ms: Vec<f64>,
}

impl ColdStart {
    /// The middle start time (the mean of the middle two for an even count).
    pub fn median(&self) -> Option<f64> {
        let mut ms = self.ms.clone();
        ms.sort_by(f64::total_cmp);
        let mid = ms.len() / 2;
        match ms.len() {
            0 => None,
            n if n % 2 == 1 => Some(ms[mid]),
            _ => Some((ms[mid - 1] + ms[mid]) / 2.0),
        }
    }

    /// The slowest start.
    pub fn max(&self) -> Option<f64> {
        self.ms.iter().copied().max_by(f64::total_cmp)
    }
}

/// Idle memory of rtchat on an empty database and on the history scenario's.
#[derive(Debug, Serialize)]
pub struct MemoryHistory {
    /// Size of the history database file and its write-ahead log.
    pub db_bytes: u64,
    /// Messages acked into the database by the history scenario.
    pub messages: u64,
    pub fresh: Run,
    pub with_history: Run,
}

/// A Rust server's release binary.
#[derive(Debug, Serialize)]
pub struct Binary {
    /// The file as built.
    pub bytes: u64,
    /// A copy without symbols and debug info (`strip`), if strip was available.
    pub stripped_bytes: Option<u64>,
}

/// One server's part in one scenario: its measurements, or why there are none.
#[derive(Debug, Serialize)]
pub struct Measured<T> {
    pub server: Server,
    pub result: Result<T, String>,
}

/// The machine the benchmark ran on.
#[derive(Debug, Default, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub memory_bytes: Option<u64>,
    pub kernel: String,
    /// Which cores the servers and the load generator ran on.
    pub pinning: String,
}

/// Versions of everything measured; "unknown" where one could not be read.
#[derive(Debug, Default, Serialize)]
pub struct Versions {
    pub rtchat: String,
    pub rustc: String,
    pub node: String,
    pub socket_io: String,
    pub socketioxide: String,
}

/// Everything one `rtchat-bench run` measured. A scenario that was not run has
/// no entries.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub date: String,
    pub command: String,
    pub elapsed_secs: f64,
    pub smoke: bool,
    pub machine: Machine,
    pub versions: Versions,
    pub sizes: Sizes,
    pub binaries: Vec<Measured<Binary>>,
    pub fanout: Vec<Measured<Search>>,
    pub idle: Vec<Measured<Run>>,
    pub rooms: Vec<Measured<Search>>,
    pub history: Vec<Measured<Search>>,
    pub memory_history: Vec<Measured<MemoryHistory>>,
    pub storm: Vec<Measured<Run>>,
    pub coldstart: Vec<Measured<ColdStart>>,
    pub scaling: Vec<Measured<Vec<Scaled>>>,
}

/// Puts `generated` between the marker lines of `existing`, keeping everything
/// outside them. Without markers the block is appended; without a file, one
/// is started with a title.
pub fn splice(existing: Option<&str>, generated: &str) -> Result<String> {
    let block = format!("{BEGIN}\n{generated}{END}\n");
    let Some(text) = existing else {
        return Ok(format!(
            "# rtchat performance\n\nThe tables below are written by `bench/run`; edit only outside the bench markers.\n\n{block}"
        ));
    };
    match (marker_line(text, BEGIN), marker_line(text, END)) {
        (Some((begin, _)), Some((end_start, end))) if begin < end_start => {
            Ok(format!("{}{block}{}", &text[..begin], &text[end..]))
        }
        (None, None) if text.is_empty() || text.ends_with("\n\n") => Ok(format!("{text}{block}")),
        (None, None) if text.ends_with('\n') => Ok(format!("{text}\n{block}")),
        (None, None) => Ok(format!("{text}\n\n{block}")),
        _ => bail!("the file has only one of the lines {BEGIN} and {END}, or has them out of order"),
    }
}

/// Where the line holding only `marker` starts and ends (after its newline).
fn marker_line(text: &str, marker: &str) -> Option<(usize, usize)> {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == marker {
            return Some((start, start + line.len()));
        }
        start += line.len();
    }
    None
}

/// The generated Markdown (without the markers).
pub fn markdown(r: &Results) -> String {
    let mut doc = Doc::default();
    preamble(&mut doc, r);
    machine(&mut doc, r);
    summary(&mut doc, r);
    if !r.fanout.is_empty() {
        fanout(&mut doc, r);
    }
    if !r.idle.is_empty() {
        idle(&mut doc, r);
    }
    if !r.rooms.is_empty() {
        rooms(&mut doc, r);
    }
    if !r.history.is_empty() {
        history(&mut doc, r);
    }
    if !r.memory_history.is_empty() {
        memory_history(&mut doc, r);
    }
    if !r.storm.is_empty() {
        storm(&mut doc, r);
    }
    if !r.coldstart.is_empty() {
        coldstart(&mut doc, r);
    }
    if !r.scaling.is_empty() {
        scaling(&mut doc, r);
    }
    doc.0
}

/// Markdown being written, line by line.
#[derive(Default)]
struct Doc(String);

impl Doc {
    /// Adds a line.
    fn line(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }

    /// Adds a paragraph and the blank line after it.
    fn para(&mut self, text: impl AsRef<str>) {
        self.line(text);
        self.line("");
    }

    /// A table; `align` has an `l` or `r` per column.
    fn table(&mut self, header: &[&str], align: &str, rows: impl IntoIterator<Item = Vec<String>>) {
        self.line(format!("| {} |", header.join(" | ")));
        let rule: Vec<&str> = align.chars().map(|a| if a == 'r' { "---:" } else { "---" }).collect();
        self.line(format!("|{}|", rule.join("|")));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| escape_cell(c)).collect();
            self.line(format!("| {} |", cells.join(" | ")));
        }
        self.line("");
    }
}

/// Text that cannot break a table row.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// When and how the numbers were made.
fn preamble(doc: &mut Doc, r: &Results) {
    doc.para(format!(
        "_Generated on {} by `{}` (took {}). Everything between the bench markers is rewritten by that command._",
        r.date,
        r.command,
        duration(r.elapsed_secs)
    ));
    if r.smoke {
        doc.para(
            "> **Smoke run.** Tiny sizes that only check the harness works; these numbers say nothing about speed.",
        );
    }
    doc.para(format!(
        "How it was measured: {}. Every server is started afresh for each scenario and runs with \
         `TOKIO_WORKER_THREADS=1` (Node is single-threaded anyway). The load generator is \
         `rtchat-bench load`, one thread speaking raw WebSockets, on loopback. Latencies run from \
         the moment each message was due to be sent, so a server (or generator) falling behind \
         shows up in them. Each load run prints the server's and its own CPU use; the generator's \
         is shown so you can see it was not the bottleneck.",
        r.machine.pinning
    ));
}

/// The machine and versions table.
fn machine(doc: &mut Doc, r: &Results) {
    let m = &r.machine;
    let v = &r.versions;
    doc.line("### Machine and versions");
    doc.line("");
    let memory =
        m.memory_bytes.map_or_else(|| "unknown".to_owned(), |b| format!("{:.1} GiB", b as f64 / GIB));
    let rows = [
        ("CPU", format!("{} ({} CPUs)", m.cpu, m.cpus)),
        ("Memory", memory),
        ("Kernel", format!("Linux {}", m.kernel)),
        ("rtchat", v.rtchat.clone()),
        ("rustc", v.rustc.clone()),
        ("socketioxide", format!("{} (rtchat and the bare peer)", v.socketioxide)),
        ("Node", format!("{}, socket.io {}", v.node, v.socket_io)),
    ];
    doc.table(&["", ""], "ll", rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]));
}

/// Bytes in a GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A summary cell: a number to compare and how to show it.
enum Cell {
    /// Not measured for this server.
    Absent,
    /// The measurement failed.
    Failed,
    Value(f64, String),
}

impl Cell {
    /// The number to compare, if there is one.
    fn value(&self) -> Option<f64> {
        match self {
            Cell::Value(v, _) => Some(*v),
            _ => None,
        }
    }

    /// What the table shows.
    fn text(&self) -> String {
        match self {
            Cell::Absent => "—".to_owned(),
            Cell::Failed => "failed".to_owned(),
            Cell::Value(_, text) => text.clone(),
        }
    }
}

/// The summary cell of `server` in a scenario's list.
fn cell<T>(list: &[Measured<T>], server: Server, show: impl Fn(&T) -> Option<(f64, String)>) -> Cell {
    match list.iter().find(|m| m.server == server).map(|m| &m.result) {
        None => Cell::Absent,
        Some(Err(_)) => Cell::Failed,
        Some(Ok(t)) => show(t).map_or(Cell::Absent, |(v, text)| Cell::Value(v, text)),
    }
}

/// The cells of Node, bare and rtchat.
fn cells<T>(list: &[Measured<T>], show: impl Fn(&T) -> Option<(f64, String)>) -> [Cell; 3] {
    Server::PEERS.map(|server| cell(list, server, &show))
}

/// One row of the summary table.
struct SummaryRow {
    what: String,
    /// Node, bare, rtchat.
    cells: [Cell; 3],
    target: &'static str,
    met: Option<bool>,
}

impl SummaryRow {
    /// The table row, ratios and verdict included.
    fn row(&self) -> Vec<String> {
        let [node, bare, rtchat] = &self.cells;
        let met = match self.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        vec![
            self.what.clone(),
            node.text(),
            bare.text(),
            rtchat.text(),
            ratio_of(rtchat, node),
            ratio_of(rtchat, bare),
            self.target.to_owned(),
            met.to_owned(),
        ]
    }

    /// rtchat's, Node's and bare's values, in that order.
    fn values(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let [node, bare, rtchat] = &self.cells;
        (rtchat.value(), node.value(), bare.value())
    }
}

/// `a ÷ b` when both have numbers.
fn ratio_of(a: &Cell, b: &Cell) -> String {
    match (a.value(), b.value()) {
        (Some(a), Some(b)) if b > 0.0 => ratio(a / b),
        _ => "—".to_owned(),
    }
}

/// One row per scenario that ran, with targets and whether they were met.
fn summary(doc: &mut Doc, r: &Results) {
    let mut rows = Vec::new();
    if !r.fanout.is_empty() {
        rows.push(fanout_summary(r));
    }
    if !r.idle.is_empty() {
        rows.push(idle_summary(r));
    }
    if !r.rooms.is_empty() {
        rows.push(rooms_summary(r));
    }
    if !r.history.is_empty() {
        rows.push(history_summary(r));
    }
    if !r.storm.is_empty() {
        rows.push(storm_summary(r));
    }
    if !r.coldstart.is_empty() {
        rows.push(coldstart_summary(r));
    }
    rows.push(binary_summary(r));
    doc.line("### Summary");
    doc.line("");
    doc.table(
        &[
            "Scenario",
            "Node (seed)",
            "bare socketioxide",
            "rtchat",
            "rtchat ÷ Node",
            "rtchat ÷ bare",
            "Target",
            "Met?",
        ],
        "lrrrrrll",
        rows.iter().map(SummaryRow::row),
    );
    doc.para(
        "The ratios divide rtchat's figure by the peer's; for memory, start time and size lower is better. \
         \"Met?\" is worked out from the numbers above; — means a number it needs is missing.",
    );
}

/// A search's best level as a summary cell.
fn best_cell(search: &Search, latency: impl Fn(&Report) -> &Latency, unit: &str) -> Option<(f64, String)> {
    Some(match search.best() {
        Some(l) => {
            (l.offered, format!("{}{unit} · p99 {}", si(l.offered), ms(latency(&l.run.report).p99_ms)))
        }
        None => (0.0, "none clean".to_owned()),
    })
}

/// The summary row of the fanout scenario.
fn fanout_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: format!("Fan-out: highest clean deliveries/s, {} clients in one room", r.sizes.fanout_clients),
        cells: cells(&r.fanout, |s: &Search| best_cell(s, |r| &r.latency, "/s")),
        target: "≥4× Node, ≥90% of bare, p99 no worse than bare's",
        met: None,
    };
    row.met = match row.values() {
        (Some(rt), Some(node), Some(bare)) => {
            let p99_ok = p99_vs_bare(&r.fanout).is_some_and(|(_, rt, bare)| rt <= bare);
            Some(rt >= 4.0 * node && rt >= 0.9 * bare && p99_ok)
        }
        _ => None,
    };
    row
}

/// At the highest offered load both rtchat and bare passed cleanly: that
/// load, rtchat's p99 and bare's p99.
fn p99_vs_bare(list: &[Measured<Search>]) -> Option<(f64, f64, f64)> {
    let search = |server| list.iter().find(|m| m.server == server)?.result.as_ref().ok();
    let (rtchat, bare) = (search(Server::Rtchat)?, search(Server::Bare)?);
    rtchat.levels.iter().rev().filter(|l| l.clean()).find_map(|l| {
        Some((l.offered, l.run.report.latency.p99_ms, bare.clean_at(l.offered)?.run.report.latency.p99_ms))
    })
}

/// The summary row of the idle scenario.
fn idle_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: format!("Idle: server memory per connection, {} clients", si(r.sizes.idle_clients as f64)),
        cells: cells(&r.idle, |run: &Run| {
            let bytes = run.report.server_bytes_per_connection?;
            Some((bytes, kb(bytes)))
        }),
        target: "≤10 KB and below both peers",
        met: None,
    };
    row.met = match row.values() {
        (Some(rt), Some(node), Some(bare)) => Some(rt <= 10_000.0 && rt < node && rt < bare),
        _ => None,
    };
    row
}

/// The summary row of the rooms scenario.
fn rooms_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: format!(
            "Rooms: highest clean deliveries/s, {} clients in rooms of {}",
            si(r.sizes.rooms_clients as f64),
            r.sizes.room_size
        ),
        cells: cells(&r.rooms, |s: &Search| best_cell(s, |r| &r.latency, "/s")),
        target: "no worse than bare",
        met: None,
    };
    row.met = at_least_bare(&row);
    row
}

/// Whether rtchat's value is at least bare's.
fn at_least_bare(row: &SummaryRow) -> Option<bool> {
    match row.values() {
        (Some(rt), _, Some(bare)) => Some(rt >= bare),
        _ => None,
    }
}

/// The summary row of the history scenario.
fn history_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: format!(
            "History: highest clean acked msg/s, {} clients in rooms of {} (rtchat only)",
            si(r.sizes.history_clients as f64),
            r.sizes.history_room_size
        ),
        cells: cells(&r.history, |s: &Search| best_cell(s, |r| &r.ack_latency, " msg/s")),
        target: "≥50k acked msg/s with ack p99 <25 ms",
        met: None,
    };
    // A clean level already has its ack p99 under the target.
    row.met = row.values().0.map(|rt| rt >= 50_000.0);
    row
}

/// The summary row of the storm scenario.
fn storm_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: format!("Connect storm: connects/s, {} clients at once", si(r.sizes.storm_clients as f64)),
        cells: cells(&r.storm, |run: &Run| {
            let report = &run.report;
            let text =
                format!("{}/s · p99 {}", si(report.connects_per_sec), ms(report.connect_latency.p99_ms));
            Some((report.connects_per_sec, text))
        }),
        target: "no worse than bare",
        met: None,
    };
    row.met = at_least_bare(&row);
    row
}

/// The summary row of the cold start scenario.
fn coldstart_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: "Cold start: spawn to listening, median (max)".to_owned(),
        cells: cells(&r.coldstart, |c: &ColdStart| {
            let (median, max) = (c.median()?, c.max()?);
            Some((median, format!("{} ({})", ms(median), ms(max))))
        }),
        target: "median <100 ms",
        met: None,
    };
    row.met = row.values().0.map(|rt| rt < 100.0);
    row
}

/// The summary row of the binary sizes.
fn binary_summary(r: &Results) -> SummaryRow {
    let mut row = SummaryRow {
        what: "Binary size (release)".to_owned(),
        cells: cells(&r.binaries, |b: &Binary| {
            let stripped =
                b.stripped_bytes.map_or_else(String::new, |s| format!(" ({} stripped)", mb(s as f64)));
            Some((b.bytes as f64, format!("{}{stripped}", mb(b.bytes as f64))))
        }),
        target: "<20 MB (the file as built)",
        met: None,
    };
    row.met = row.values().0.map(|rt| rt < 20e6);
    row
}

/// What the shared clean rule for deliveries says, for the detail sections.
fn delivery_rule() -> String {
    format!(
        "A level is clean when every client connected, no delivery went missing and the p99 \
         delivery latency stayed under {DELIVERY_P99_MS} ms; levels go up until two in a row are \
         not clean."
    )
}

/// The timing of every sending run, for the detail sections.
fn timing(s: &Sizes) -> String {
    format!(
        "Each level sends for {} s; latencies of the first {} s are left out as warm-up, and late \
         deliveries are waited for up to {} s.",
        s.duration, s.warmup, s.drain
    )
}

/// The fan-out section: best level per server, then every level.
fn fanout(doc: &mut Doc, r: &Results) {
    let s = &r.sizes;
    doc.line("### Fan-out: one room");
    doc.line("");
    doc.para(format!(
        "{} clients in one room with the seed's events (`message` re-emitted to everyone). \
         Between 10 and 40 senders (one per 50k offered deliveries/s) share a rate of offered \
         deliveries/s ÷ {} messages/s. {} {} `rtchat, --db memory` is rtchat without SQLite, to \
         show what storing every message costs.",
        s.fanout_clients,
        s.fanout_clients,
        timing(s),
        delivery_rule()
    ));
    best_table(doc, &r.fanout);
    if let Some((offered, rtchat, bare)) = p99_vs_bare(&r.fanout) {
        doc.para(format!(
            "At {}/s, the highest load both passed, rtchat's p99 was {} and bare socketioxide's {}.",
            si(offered),
            ms(rtchat),
            ms(bare)
        ));
    }
    level_tables(doc, &r.fanout);
}

/// The rooms section: best level per server, then every level.
fn rooms(doc: &mut Doc, r: &Results) {
    let s = &r.sizes;
    doc.line(format!("### Rooms of {}", s.room_size));
    doc.line("");
    doc.para(format!(
        "{} clients in rooms of {}, every client sending (`joinRoom`, then `message` to its \
         room) at offered deliveries/s ÷ {} messages/s in all. {} {}",
        s.rooms_clients,
        s.room_size,
        s.room_size,
        timing(s),
        delivery_rule()
    ));
    best_table(doc, &r.rooms);
    level_tables(doc, &r.rooms);
}

/// One row per server with its highest clean level.
fn best_table(doc: &mut Doc, list: &[Measured<Search>]) {
    let rows = list.iter().map(|m| {
        let mut row = vec![m.server.label().to_owned()];
        match &m.result {
            Err(e) => row.push(format!("failed: {e}")),
            Ok(search) => match search.best() {
                None => row.push("none clean".to_owned()),
                Some(l) => {
                    let report = &l.run.report;
                    row.push(rate(l.offered));
                    row.push(rate(report.deliveries_per_sec));
                    row.extend(latency(&report.latency));
                    row.push(opt_pct(report.server_cpu_pct));
                    row.push(pct(report.loadgen_cpu_pct));
                }
            },
        }
        row.resize(8, String::new());
        row
    });
    doc.table(
        &["Server", "Highest clean", "Achieved", "p50", "p99", "max", "Server CPU", "Load gen CPU"],
        "lrrrrrrr",
        rows,
    );
}

/// Every level of every server.
fn level_tables(doc: &mut Doc, list: &[Measured<Search>]) {
    for m in list {
        doc.line(format!("#### {}", m.server.label()));
        doc.line("");
        match &m.result {
            Err(e) => doc.para(format!("Failed: {e}")),
            Ok(search) => doc.table(
                &[
                    "Offered",
                    "Achieved",
                    "Missing",
                    "p50",
                    "p99",
                    "max",
                    "Server CPU",
                    "Load gen CPU",
                    "Clean?",
                ],
                "rrrrrrrrl",
                search.levels.iter().map(level_row),
            ),
        }
    }
}

/// A fan-out, rooms or scaling level as a table row.
fn level_row(l: &Level) -> Vec<String> {
    let r = &l.run.report;
    let mut row = vec![rate(l.offered), rate(r.deliveries_per_sec), thousands(r.missing)];
    row.extend(latency(&r.latency));
    row.extend([opt_pct(r.server_cpu_pct), pct(r.loadgen_cpu_pct), verdict(l)]);
    row
}

/// "yes", or "no" with the reasons.
fn verdict(l: &Level) -> String {
    if l.clean() { "yes".to_owned() } else { format!("no: {}", l.flaws.join(", ")) }
}

/// The history section: rtchat's best level, then every level.
fn history(doc: &mut Doc, r: &Results) {
    let s = &r.sizes;
    doc.line("### History: acked messages");
    doc.line("");
    doc.para(format!(
        "rtchat only: {} clients with rtchat's own events, in rooms of {}, every client sending \
         `message:send` with an ack, which rtchat sends once the message is stored in SQLite. \
         {} A level is clean when every client connected, every message was acked and delivered, \
         and the p99 ack latency stayed under {ACK_P99_MS} ms.",
        s.history_clients,
        s.history_room_size,
        timing(s)
    ));
    for m in &r.history {
        match &m.result {
            Err(e) => doc.para(format!("Failed: {e}")),
            Ok(search) => {
                if let Some(l) = search.best() {
                    let report = &l.run.report;
                    doc.para(format!(
                        "Highest clean: **{} msg/s** acked, ack p50 {} and p99 {}, with {} deliveries/s.",
                        si(l.offered),
                        ms(report.ack_latency.p50_ms),
                        ms(report.ack_latency.p99_ms),
                        si(report.deliveries_per_sec)
                    ));
                }
                doc.table(
                    &[
                        "Offered msg/s",
                        "Sent",
                        "Acked",
                        "Ack p50",
                        "Ack p99",
                        "Ack max",
                        "Deliveries/s",
                        "Missing",
                        "Server CPU",
                        "Load gen CPU",
                        "Clean?",
                    ],
                    "rrrrrrrrrrl",
                    search.levels.iter().map(history_row),
                );
            }
        }
    }
}

/// A history level as a table row.
fn history_row(l: &Level) -> Vec<String> {
    let r = &l.run.report;
    let mut row = vec![si(l.offered), thousands(r.sent), thousands(r.acks)];
    row.extend(latency(&r.ack_latency));
    row.extend([
        rate(r.deliveries_per_sec),
        thousands(r.missing),
        opt_pct(r.server_cpu_pct),
        pct(r.loadgen_cpu_pct),
        verdict(l),
    ]);
    row
}

/// The idle section: memory before and after, per server.
fn idle(doc: &mut Doc, r: &Results) {
    doc.line("### Idle connections");
    doc.line("");
    doc.para(format!(
        "{} clients connect ({} at a time, seed events, no room) and stay idle for {} s; the \
         server's resident memory is read before the first connects and after that settle time.",
        r.sizes.idle_clients, r.sizes.connect_concurrency, r.sizes.settle
    ));
    let rows = r.idle.iter().map(|m| match &m.result {
        Err(e) => failed_row(m.server, e, 5),
        Ok(run) => {
            let report = &run.report;
            vec![
                m.server.label().to_owned(),
                format!("{} of {}", report.connected, report.clients),
                report.server_rss_before_kib.map_or_else(dash, |k| mb(k as f64 * 1024.0)),
                report.server_rss_after_kib.map_or_else(dash, |k| mb(k as f64 * 1024.0)),
                report.server_bytes_per_connection.map_or_else(dash, kb),
            ]
        }
    });
    doc.table(&["Server", "Connected", "Memory before", "Memory after", "Per connection"], "lrrrr", rows);
}

/// Idle memory on an empty database next to a full one.
fn memory_history(doc: &mut Doc, r: &Results) {
    doc.line("### Idle memory with a full history");
    doc.line("");
    doc.para(format!(
        "rtchat restarted on the history scenario's database, then the idle run again ({} \
         clients), next to the same run on an empty database: memory per connection should not \
         grow with the history.",
        r.sizes.idle_clients
    ));
    for m in &r.memory_history {
        match &m.result {
            Err(e) => doc.para(format!("Failed: {e}")),
            Ok(h) => {
                let per_conn = |run: &Run| run.report.server_bytes_per_connection.map_or_else(dash, kb);
                let rows = [
                    vec!["empty".to_owned(), "—".to_owned(), "0".to_owned(), per_conn(&h.fresh)],
                    vec![
                        "after the history runs".to_owned(),
                        mb(h.db_bytes as f64),
                        thousands(h.messages),
                        per_conn(&h.with_history),
                    ],
                ];
                doc.table(
                    &["Database", "File size", "Messages acked into it", "Per connection"],
                    "lrrr",
                    rows,
                );
            }
        }
    }
}

/// The connect storm section.
fn storm(doc: &mut Doc, r: &Results) {
    doc.line("### Connect storm");
    doc.line("");
    doc.para(format!(
        "{} clients connect at once, {} handshakes in flight at a time (WebSocket upgrade, \
         Engine.IO open, Socket.IO connect). Latency is per client, from its TCP connect to its \
         Socket.IO connect.",
        r.sizes.storm_clients, r.sizes.connect_concurrency
    ));
    let rows = r.storm.iter().map(|m| match &m.result {
        Err(e) => failed_row(m.server, e, 7),
        Ok(run) => {
            let report = &run.report;
            let mut row = vec![
                m.server.label().to_owned(),
                format!("{} of {}", report.connected, report.clients),
                format!("{:.2} s", report.connect_secs),
                rate(report.connects_per_sec),
            ];
            row.extend(latency(&report.connect_latency));
            row
        }
    });
    doc.table(&["Server", "Connected", "Took", "Connects/s", "p50", "p99", "max"], "lrrrrrr", rows);
}

/// The cold start section.
fn coldstart(doc: &mut Doc, r: &Results) {
    doc.line("### Cold start");
    doc.line("");
    doc.para(format!(
        "{} starts per server, timed from spawning the process to its first line on stdout, which \
         each prints once it listens.",
        r.sizes.coldstarts
    ));
    let rows = r.coldstart.iter().map(|m| {
        let includes = match m.server {
            Server::Node => "starting node and loading socket.io",
            Server::Rtchat => "creating a fresh SQLite database",
            _ => "",
        };
        match &m.result {
            Err(e) => failed_row(m.server, e, 4),
            Ok(c) => vec![
                m.server.label().to_owned(),
                c.median().map_or_else(dash, ms),
                c.max().map_or_else(dash, ms),
                includes.to_owned(),
            ],
        }
    });
    doc.table(&["Server", "Median", "Max", "Includes"], "lrrl", rows);
}

/// The best level per room size, bare next to rtchat.
fn scaling(doc: &mut Doc, r: &Results) {
    doc.line("### Scaling with room size");
    doc.line("");
    doc.para(format!(
        "The fan-out search with everyone in one room, at several room sizes (10 senders for \
         rooms of 100 or fewer clients). {} Every level is in the JSON results.",
        delivery_rule()
    ));
    let find = |server| r.scaling.iter().find(|m| m.server == server);
    let (bare, rtchat) = (find(Server::Bare), find(Server::Rtchat));
    let best = |m: Option<&Measured<Vec<Scaled>>>, clients: usize| -> (Option<f64>, String) {
        match m.map(|m| &m.result) {
            None => (None, dash()),
            Some(Err(_)) => (None, "failed".to_owned()),
            Some(Ok(sizes)) => match sizes.iter().find(|s| s.clients == clients).map(|s| s.search.best()) {
                None => (None, dash()),
                Some(None) => (Some(0.0), "none clean".to_owned()),
                Some(Some(l)) => (
                    Some(l.offered),
                    format!("{} · p99 {}", rate(l.offered), ms(l.run.report.latency.p99_ms)),
                ),
            },
        }
    };
    let rows = r.sizes.scaling_clients.iter().map(|&clients| {
        let (b, b_text) = best(bare, clients);
        let (rt, rt_text) = best(rtchat, clients);
        let quotient = match (rt, b) {
            (Some(rt), Some(b)) if b > 0.0 => ratio(rt / b),
            _ => dash(),
        };
        vec![thousands(clients as u64), b_text, rt_text, quotient]
    });
    doc.table(&["Clients in the room", "bare socketioxide", "rtchat", "rtchat ÷ bare"], "rrrr", rows);
    for m in &r.scaling {
        if let Err(e) = &m.result {
            doc.para(format!("{} failed: {e}", m.server.label()));
        }
    }
}

/// A row naming the server and its failure, padded to `width` cells.
fn failed_row(server: Server, error: &str, width: usize) -> Vec<String> {
    let mut row = vec![server.label().to_owned(), format!("failed: {error}")];
    row.resize(width, String::new());
    row
}

/// What a cell shows when there is nothing to show.
fn dash() -> String {
    "—".to_owned()
}

/// p50, p99 and max, or dashes when nothing was recorded.
fn latency(l: &Latency) -> [String; 3] {
    if l.count == 0 {
        return [dash(), dash(), dash()];
    }
    [ms(l.p50_ms), ms(l.p99_ms), ms(l.max_ms)]
}

/// Three significant digits without trailing zeros: 1.23, 12.3, 123, 1.5, 2.
fn sig3(x: f64) -> String {
    let text = if x.abs() < 9.995 {
        format!("{x:.2}")
    } else if x.abs() < 99.95 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    };
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// A count or rate with k and M suffixes: 950, 812k, 1.23M.
pub fn si(x: f64) -> String {
    if x < 999.5 {
        format!("{x:.0}")
    } else if x < 999.5e3 {
        format!("{}k", sig3(x / 1e3))
    } else if x < 999.5e6 {
        format!("{}M", sig3(x / 1e6))
    } else {
        format!("{}G", sig3(x / 1e9))
    }
}

/// Per second: 812k/s.
pub fn rate(x: f64) -> String {
    format!("{}/s", si(x))
}

/// Milliseconds: 0.94 ms, 12.3 ms.
pub fn ms(x: f64) -> String {
    format!("{} ms", sig3(x))
}

/// Bytes as kilobytes (1000 bytes): 9.8 KB.
pub fn kb(bytes: f64) -> String {
    let k = bytes / 1e3;
    if k.abs() < 99.95 { format!("{k:.1} KB") } else { format!("{k:.0} KB") }
}

/// Bytes as megabytes (10^6 bytes): 12.3 MB.
pub fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

/// A percentage: 87%.
pub fn pct(x: f64) -> String {
    format!("{x:.0}%")
}

/// A percentage, or a dash when unknown.
fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(dash, pct)
}

/// A quotient: 4.2×, 0.83×.
pub fn ratio(x: f64) -> String {
    if x < 10.0 { format!("{x:.2}×") } else { format!("{x:.0}×") }
}

/// An integer with thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A wall-clock duration: 42 s, 23 min.
fn duration(secs: f64) -> String {
    if secs < 90.0 { format!("{secs:.0} s") } else { format!("{:.0} min", secs / 60.0) }
}

/// A time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_date(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_missing_file_starts_with_a_title_and_the_markers() {
        let text = splice(None, "table\n").unwrap();
        assert!(text.starts_with("# rtchat performance\n"));
        assert!(text.ends_with(&format!("{BEGIN}\ntable\n{END}\n")));
    }

    #[test]
    fn only_the_part_between_the_markers_is_replaced() {
        let old =
            format!("# Perf\n\nIntro, mentioning `{BEGIN}` inline.\n\n{BEGIN}\nold\nrows\n{END}\n\nOutro.\n");
        let new = splice(Some(&old), "new\n").unwrap();
        assert_eq!(
            new,
            format!("# Perf\n\nIntro, mentioning `{BEGIN}` inline.\n\n{BEGIN}\nnew\n{END}\n\nOutro.\n")
        );
        // Running again with the same content changes nothing.
        assert_eq!(splice(Some(&new), "new\n").unwrap(), new);
    }

    #[test]
    fn a_file_without_markers_gets_them_appended() {
        assert_eq!(splice(Some("# Perf\n"), "t\n").unwrap(), format!("# Perf\n\n{BEGIN}\nt\n{END}\n"));
        assert_eq!(splice(Some("# Perf"), "t\n").unwrap(), format!("# Perf\n\n{BEGIN}\nt\n{END}\n"));
    }

    #[test]
    fn broken_markers_are_an_error_not_a_clobbered_file() {
        assert!(splice(Some(&format!("a\n{END}\n")), "t\n").is_err());
        assert!(splice(Some(&format!("{END}\n{BEGIN}\n")), "t\n").is_err());
    }

    #[test]
    fn numbers_are_formatted_readably() {
        assert_eq!(rate(1_234_000.0), "1.23M/s");
        assert_eq!(rate(812_000.0), "812k/s");
        assert_eq!(rate(1_500_000.0), "1.5M/s");
        assert_eq!(rate(200_000.0), "200k/s");
        assert_eq!(rate(999_700.0), "1M/s");
        assert_eq!(rate(12_345.0), "12.3k/s");
        assert_eq!(rate(950.4), "950/s");
        assert_eq!(kb(9_800.0), "9.8 KB");
        assert_eq!(kb(123_456.0), "123 KB");
        assert_eq!(mb(12_345_678.0), "12.3 MB");
        assert_eq!(ms(0.938), "0.94 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(2.0), "2 ms");
        assert_eq!(ms(9.999), "10 ms");
        assert_eq!(pct(87.4), "87%");
        assert_eq!(ratio(4.166), "4.17×");
        assert_eq!(ratio(0.8333), "0.83×");
        assert_eq!(ratio(12.4), "12×");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14 22:13 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29 00:00 UTC");
    }
}
