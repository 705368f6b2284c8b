//! Per-process counters for `GET /metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters this process keeps; each process reports its own.
#[derive(Default)]
pub struct Metrics {
    /// Socket.IO connections open now.
    pub connections: AtomicU64,
    /// Socket.IO connections accepted since start.
    pub connections_total: AtomicU64,
    /// Messages stored and delivered.
    pub messages_stored: AtomicU64,
    /// Sends refused with an error.
    pub messages_refused: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a send as stored or refused.
    pub fn record_send<T, E>(&self, result: &Result<T, E>) {
        Self::add(if result.is_ok() { &self.messages_stored } else { &self.messages_refused });
    }

    /// The counters in Prometheus' text exposition format.
    pub fn render(&self, redis_up: Option<bool>, db_up: bool) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut metrics = vec![
            (
                "rtchat_connections",
                "gauge",
                "Socket.IO connections open on this process.",
                get(&self.connections),
            ),
            (
                "rtchat_connections_total",
                "counter",
                "Socket.IO connections accepted.",
                get(&self.connections_total),
            ),
            (
                "rtchat_messages_stored_total",
                "counter",
                "Messages stored and delivered.",
                get(&self.messages_stored),
            ),
            (
                "rtchat_messages_refused_total",
                "counter",
                "Sends refused with an error.",
                get(&self.messages_refused),
            ),
            ("rtchat_db_up", "gauge", "1 when the database answers.", u64::from(db_up)),
        ];
        if let Some(up) = redis_up {
            metrics.push(("rtchat_redis_up", "gauge", "1 when Redis answers.", u64::from(up)));
        }
        let mut out = String::new();
        for (name, kind, help, value) in metrics {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}
