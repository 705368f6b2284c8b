//! The detail sections of the scenarios that search for the highest clean
//! load: fan-out, rooms, history and scaling, with every level tried.

use super::doc::Doc;
use super::format::{dash, latency, ms, opt_pct, pct, rate, ratio, si, thousands};
use super::results::{Level, Measured, Results, Scaled, Search};
use super::summary::p99_vs_bare;
use crate::run::{ACK_P99_MS, DELIVERY_P99_MS, Server, Sizes};

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
pub(super) fn fanout(doc: &mut Doc, r: &Results) {
    let s = &r.sizes;
    doc.line("### Fan-out: one room");
    doc.line("");
    doc.para(format!(
        "{} clients in one room with the lesson's events (`message` re-emitted to everyone). \
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
pub(super) fn rooms(doc: &mut Doc, r: &Results) {
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
pub(super) fn history(doc: &mut Doc, r: &Results) {
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

/// The best level per room size, bare next to rtchat.
pub(super) fn scaling(doc: &mut Doc, r: &Results) {
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
