//! What `rtchat-bench run` found, and the Markdown tables it becomes.
//!
//! The tables go between two marker lines of the output file, so whatever a
//! person wrote around them survives the next run.

mod doc;
mod format;
mod intro;
mod markers;
mod results;
mod searches;
mod single_runs;
mod summary;

use doc::Doc;
use intro::{machine, preamble};
use searches::{fanout, history, rooms, scaling};
use single_runs::{coldstart, idle, memory_history, storm};
use summary::summary;

pub use format::{kb, ms, pct, rate, thousands, utc};
pub use markers::splice;
pub use results::{
    Binary, ColdStart, Level, Machine, Measured, MemoryHistory, Results, Run, Scaled, Search, Versions,
};

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
