//! When a level is clean: the latency targets and the flaws that spoil a
//! level, and the line of progress printed for each.

use crate::load::Report;
use crate::report::{self, Level};

/// The p99 delivery latency, in ms, under which a fan-out or rooms level is clean.
pub const DELIVERY_P99_MS: f64 = 100.0;
/// The p99 ack latency, in ms, under which a history level is clean.
pub const ACK_P99_MS: f64 = 25.0;

/// Why a fan-out, rooms or scaling level is not clean.
pub(super) fn delivery_flaws(r: &Report) -> Vec<String> {
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
pub(super) fn history_flaws(r: &Report) -> Vec<String> {
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

/// One line of progress for a level.
pub(super) fn progress(l: &Level) -> String {
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
