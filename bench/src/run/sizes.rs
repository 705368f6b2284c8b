//! How big each scenario is: the full benchmark's sizes or the smoke test's,
//! and whether this process may open that many connections.

use std::fs;

use anyhow::{Result, ensure};
use serde::Serialize;

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
    pub(super) fn full() -> Self {
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
    pub(super) fn smoke() -> Self {
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
    pub(super) fn max_clients(&self) -> usize {
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

/// Fails early, with advice, when 10,000 connections per process would run
/// out of file descriptors (the limit is inherited by every child).
pub(super) fn check_open_files(clients: usize) -> Result<()> {
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
