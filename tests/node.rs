//! Runs the JavaScript suites against the binary this build produced: the
//! official `socket.io-client` tests (tests/js), the web UI's unit tests and its
//! browser tests in Chromium (assets/web). They need Node.js and `npm ci` in
//! each folder (and Chromium for the browser tests); `.ci/run` installs all of
//! it. So they are `#[ignore]`d, shown as such by a plain `cargo test`; run with
//! `--include-ignored`, a missing piece fails the test with the fix named.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `Some(what to do)` when the suite in `dir` cannot run here.
fn missing(dir: &Path, needs_chromium: bool) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("install Node.js 20 or later".into());
    }
    if !dir.join("node_modules").is_dir() {
        return Some(format!("run `npm ci` in {}", dir.display()));
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if needs_chromium && !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing: apt-get install chromium, or set CHROMIUM"));
    }
    None
}

/// The suites start servers and browsers; one at a time keeps a 2-core machine responsive.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_suite(dir: &str, script: &str, needs_chromium: bool) {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = repo().join(dir);
    if let Some(fix) = missing(&dir, needs_chromium) {
        panic!("cannot run the {} suite: {fix}", dir.display());
    }
    let status = Command::new("npm")
        .args(["run", "--silent", script])
        .current_dir(&dir)
        .env("RTCHAT_BIN", env!("CARGO_BIN_EXE_rtchat"))
        .status()
        .expect("run npm");
    assert!(status.success(), "`npm run {script}` in {} failed: {status}", dir.display());
}

#[test]
#[ignore = "needs Node.js and npm ci in tests/js; run with --include-ignored"]
fn official_socket_io_client_suite() {
    run_suite("tests/js", "test", false);
}

#[test]
#[ignore = "needs Node.js and npm ci in assets/web; run with --include-ignored"]
fn web_ui_unit_tests() {
    run_suite("assets/web", "test", false);
}

#[test]
#[ignore = "needs Node.js, npm ci in assets/web and /usr/bin/chromium; run with --include-ignored"]
fn web_ui_in_chromium() {
    run_suite("assets/web", "e2e", true);
}
