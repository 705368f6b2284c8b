//! The summary table: one row per scenario, rtchat next to its peers, with
//! the targets and whether they were met.

use super::doc::Doc;
use super::format::{kb, mb, ms, ratio, si};
use super::results::{Binary, ColdStart, Measured, Results, Run, Search};
use crate::load::{Latency, Report};
use crate::run::Server;

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
pub(super) fn summary(doc: &mut Doc, r: &Results) {
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
            "Node (the lesson's server)",
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
pub(super) fn p99_vs_bare(list: &[Measured<Search>]) -> Option<(f64, f64, f64)> {
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
