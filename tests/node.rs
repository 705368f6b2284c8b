//! Runs the JavaScript suites against the binary this build produced: the
//! official `socket.io-client` tests (tests/js), the web UI's unit tests and its
//! browser tests in Chromium (assets/web). They need Node.js and `npm ci` in
//! each folder (and Chromium for the browser tests); `.ci/run` installs all of
//! it. Elsewhere a missing piece skips the suite with the reason printed, but
//! under CI (`CI` set) it fails, so CI can never pass by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `Some(reason)` when the suite in `dir` cannot run here.
fn missing(dir: &Path, needs_chromium: bool) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !dir.join("node_modules").is_dir() {
        return Some(format!("run `npm ci` in {}", dir.display()));
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if needs_chromium && !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing (apt-get install chromium)"));
    }
    None
}

/// The suites start servers and browsers; one at a time keeps a 2-core machine responsive.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_suite(dir: &str, script: &str, needs_chromium: bool) {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = repo().join(dir);
    if let Some(reason) = missing(&dir, needs_chromium) {
        if std::env::var_os("CI").is_some() {
            panic!("cannot run the {} suite under CI: {reason}", dir.display());
        }
        eprintln!("skipped: the {} suite: {reason}", dir.display());
        return;
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
fn official_socket_io_client_suite() {
    run_suite("tests/js", "test", false);
}

#[test]
fn web_ui_unit_tests() {
    run_suite("assets/web", "test", false);
}

#[test]
fn web_ui_in_chromium() {
    run_suite("assets/web", "e2e", true);
}
