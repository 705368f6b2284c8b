//! What the report says about where and how it ran: the machine, the
//! versions of everything measured, and the command that reproduces it.

use std::fs;
use std::process::{Command, Stdio};
use std::thread;

use super::binaries::Binaries;
use super::process::Pinning;
use crate::report::{Machine, Versions};

/// The workspace's lock file, which pins the socketioxide both Rust servers use.
const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");
/// Set by `bench/run` to the command that reproduces the tables, for the report.
const COMMAND_ENV: &str = "BENCH_RUN_COMMAND";

/// The command to show in the report: what `bench/run` says it was, or this
/// program's own arguments.
pub(super) fn command_line() -> String {
    std::env::var(COMMAND_ENV).unwrap_or_else(|_| {
        let words: Vec<String> = std::env::args().map(|a| shell_word(&a)).collect();
        words.join(" ")
    })
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./,:=@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The CPU, memory and kernel, from /proc ("unknown" where unreadable).
pub(super) fn machine(pin: &Pinning) -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| Some(l.strip_prefix("model name")?.split_once(':')?.1.trim().to_owned()))
        .unwrap_or_else(unknown);
    let processors = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let cpus =
        if processors > 0 { processors } else { thread::available_parallelism().map_or(1, |n| n.get()) };
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse::<u64>().ok());
    let kernel =
        fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| unknown(), |k| k.trim().to_owned());
    Machine { cpu, cpus, memory_bytes: memory_kib.map(|k| k * 1024), kernel, pinning: pin.describe() }
}

/// The versions of everything measured ("unknown" where one cannot be read).
pub(super) fn versions(bins: &Binaries) -> Versions {
    let package = bins.node_dir().join("node_modules/socket.io/package.json");
    let socket_io = fs::read_to_string(package)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| Some(json.get("version")?.as_str()?.to_owned()));
    Versions {
        rtchat: first_line_of(Command::new(&bins.rtchat).arg("--version")),
        rustc: first_line_of(Command::new("rustc").arg("--version")),
        node: first_line_of(Command::new("node").arg("--version")),
        socket_io: socket_io.unwrap_or_else(unknown),
        socketioxide: lock_version(CARGO_LOCK, "socketioxide").unwrap_or_else(unknown),
    }
}

/// What a version or machine detail says when it cannot be read.
fn unknown() -> String {
    "unknown".to_owned()
}

/// The first line a command prints, or "unknown".
fn first_line_of(cmd: &mut Command) -> String {
    match cmd.stdin(Stdio::null()).stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_owned()
        }
        _ => unknown(),
    }
}

/// The version of `package` in a Cargo.lock.
fn lock_version(lock: &str, package: &str) -> Option<String> {
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| *l == name)?;
    let version = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
    Some(version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socketioxide_version_comes_from_the_lock_file() {
        let lock = "[[package]]\nname = \"socketioxide-core\"\nversion = \"0.17.0\"\n\n[[package]]\nname = \"socketioxide\"\nversion = \"0.18.9\"\n";
        assert_eq!(lock_version(lock, "socketioxide").as_deref(), Some("0.18.9"));
        assert!(lock_version(CARGO_LOCK, "socketioxide").is_some());
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("--only=fanout,idle"), "--only=fanout,idle");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
