//! Keeps the benchmark working: `rtchat-bench run --smoke` runs every scenario
//! against every server at toy sizes. It judges nothing about speed; the runner
//! fails only when the harness breaks (a server that does not start, clients
//! that cannot connect, messages or acks that never arrive).
//!
//! It needs Node.js with `npm ci` in bench/node, and the rtchat binary from the
//! same build (`cargo test --release --workspace` builds it); `.ci/run` sets all
//! of that up. So it is `#[ignore]`d, shown as such by a plain `cargo test`; run
//! with `--include-ignored`, a missing piece fails it with the fix named.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `Some(what to do)` when the smoke run cannot run here.
fn missing(bench: &Path, rtchat: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("install Node.js 20 or later".into());
    }
    if !bench.join("node/node_modules").is_dir() {
        return Some("run `npm ci --prefix bench/node`".into());
    }
    if !rtchat.exists() {
        return Some(format!("{} is missing; run `cargo test --release --workspace`", rtchat.display()));
    }
    None
}

#[test]
#[ignore = "needs Node.js and npm ci in bench/node; run with --include-ignored"]
fn every_scenario_runs_against_every_server() {
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_rtchat-bench"));
    let rtchat = exe.with_file_name(format!("rtchat{}", std::env::consts::EXE_SUFFIX));
    if let Some(fix) = missing(&bench, &rtchat) {
        panic!("cannot run the benchmark smoke test: {fix}");
    }
    let dir = std::env::temp_dir().join(format!("rtchat-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let (md, json) = (dir.join("performance.md"), dir.join("results.json"));
    let status = Command::new(&exe)
        .arg("run")
        .arg("--smoke")
        .arg("--out")
        .arg(&md)
        .arg("--json")
        .arg(&json)
        .status()
        .expect("start rtchat-bench");
    assert!(status.success(), "`rtchat-bench run --smoke` failed: {status}");

    let report = std::fs::read_to_string(&md).expect("the smoke run writes its Markdown report");
    for part in ["<!-- bench:begin -->", "<!-- bench:end -->", "Node", "bare socketioxide", "rtchat"] {
        assert!(report.contains(part), "the report lacks {part:?}:\n{report}");
    }
    let raw = std::fs::read_to_string(&json).expect("the smoke run writes its raw results");
    assert!(
        raw.trim_start().starts_with('{') || raw.trim_start().starts_with('['),
        "results are JSON: {raw}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
