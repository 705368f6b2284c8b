//! What `rtchat-bench run` measured, as it is kept in the JSON results and
//! read by the tables.

use serde::Serialize;

use crate::load::{LoadArgs, Report};
use crate::run::{Server, Sizes};

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
    pub(super) fn clean_at(&self, offered: f64) -> Option<&Level> {
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
