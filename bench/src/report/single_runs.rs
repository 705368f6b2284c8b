//! The detail sections of the scenarios measured by one run (or a few
//! starts) per server: idle connections, idle memory with a full history,
//! the connect storm and cold start.

use super::doc::Doc;
use super::format::{dash, kb, latency, mb, ms, rate, thousands};
use super::results::{Results, Run};
use crate::run::Server;

/// The idle section: memory before and after, per server.
pub(super) fn idle(doc: &mut Doc, r: &Results) {
    doc.line("### Idle connections");
    doc.line("");
    doc.para(format!(
        "{} clients connect ({} at a time, the lesson's events, no room) and stay idle for {} s; the \
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
pub(super) fn memory_history(doc: &mut Doc, r: &Results) {
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
pub(super) fn storm(doc: &mut Doc, r: &Results) {
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
pub(super) fn coldstart(doc: &mut Doc, r: &Results) {
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

/// A row naming the server and its failure, padded to `width` cells.
fn failed_row(server: Server, error: &str, width: usize) -> Vec<String> {
    let mut row = vec![server.label().to_owned(), format!("failed: {error}")];
    row.resize(width, String::new());
    row
}
