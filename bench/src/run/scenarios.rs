//! The scenarios themselves: what each asks of the load generator, and the
//! search for the highest clean offered load.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::clean::{delivery_flaws, history_flaws, progress};
use super::server::Running;
use super::{Runner, Server};
use crate::load::{LoadArgs, Mode, Report};
use crate::report::{self, ColdStart, Level, Measured, MemoryHistory, Run, Scaled, Search};

/// Senders for a one-room level: 10 for small rooms, else one per 50k
/// offered deliveries/s, between 10 and 40.
fn one_room_senders(level: f64, clients: usize) -> usize {
    if clients <= 100 {
        return 10.min(clients);
    }
    ((level / 50_000.0) as usize).clamp(10, 40)
}

impl Runner {
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
    pub(super) fn one_room(&mut self, server: Server, clients: usize) -> Result<Search> {
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
    pub(super) fn idle(&mut self, server: Server) -> Result<Run> {
        let mut running = self.start(server)?;
        self.connect_only(&mut running, self.idle_args())
    }

    /// Load options of an idle run: connect, then settle.
    fn idle_args(&self) -> LoadArgs {
        LoadArgs { settle: self.sizes.settle, ..self.base(self.sizes.idle_clients) }
    }

    /// The rooms search: small rooms, every client sending.
    pub(super) fn rooms(&mut self, server: Server) -> Result<Search> {
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
    pub(super) fn history(&mut self, db: &Path) -> Result<Search> {
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
    pub(super) fn memory_history(&mut self, db: &Path, messages: u64) -> Result<MemoryHistory> {
        let fresh = self.idle(Server::Rtchat).context("on a fresh database")?;
        let db_bytes = db_bytes(db)?;
        let mut running = self.spawn(Server::Rtchat, Some(db))?;
        let with_history =
            self.connect_only(&mut running, self.idle_args()).context("on the history database")?;
        Ok(MemoryHistory { db_bytes, messages, fresh, with_history })
    }

    /// Every client connecting at once, for connects/s.
    pub(super) fn storm(&mut self, server: Server) -> Result<Run> {
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
    pub(super) fn coldstart(&mut self, server: Server) -> Result<ColdStart> {
        let mut ms = Vec::new();
        for _ in 0..self.sizes.coldstarts {
            let running = self.start(server)?;
            ms.push(running.startup.as_secs_f64() * 1e3);
        }
        eprintln!("  {}", ms.iter().map(|m| report::ms(*m)).collect::<Vec<_>>().join(", "));
        Ok(ColdStart { ms })
    }

    /// The one-room search at each scaling room size, each on a fresh server.
    pub(super) fn scaling(&mut self, server: Server) -> Result<Vec<Scaled>> {
        let mut scaled = Vec::new();
        for clients in self.sizes.scaling_clients.clone() {
            eprintln!("  {clients} clients in the room");
            let search = self.one_room(server, clients).with_context(|| format!("with {clients} clients"))?;
            scaled.push(Scaled { clients, search });
        }
        Ok(scaled)
    }
}

/// Messages acked over every history level.
pub(super) fn acked(history: &[Measured<Search>]) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_grow_with_the_load_within_bounds() {
        assert_eq!(one_room_senders(100e3, 1000), 10);
        assert_eq!(one_room_senders(1.2e6, 1000), 24);
        assert_eq!(one_room_senders(2e6, 10_000), 40);
        assert_eq!(one_room_senders(2e6, 100), 10);
        assert_eq!(one_room_senders(5e3, 20), 10);
    }
}
