//! Child processes and scratch space: pinning to a core, killing on drop,
//! running with a time limit, and temp dirs removed on drop.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// Which cores the servers and the load generator run on.
#[derive(Debug, Clone)]
pub(super) enum Pinning {
    Cores {
        server: usize,
        load: usize,
    },
    /// Not pinned, and why.
    Off(String),
}

impl Pinning {
    /// Pins with `taskset` when there are two CPUs and taskset works.
    pub(super) fn detect(server: usize, load: usize) -> Self {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            return Pinning::Off(format!(
                "not pinned: this machine has {cpus} CPU, so the servers and the load generator share it"
            ));
        }
        let taskset =
            Command::new("taskset").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        match taskset {
            Ok(status) if status.success() => Pinning::Cores { server, load },
            _ => Pinning::Off("not pinned: `taskset` (util-linux) was not found".to_owned()),
        }
    }

    /// The servers' CPU, when pinned.
    pub(super) fn server_cpu(&self) -> Option<usize> {
        match self {
            Pinning::Cores { server, .. } => Some(*server),
            Pinning::Off(_) => None,
        }
    }

    /// The load generator's CPU, when pinned.
    pub(super) fn load_cpu(&self) -> Option<usize> {
        match self {
            Pinning::Cores { load, .. } => Some(*load),
            Pinning::Off(_) => None,
        }
    }

    /// For the report.
    pub(super) fn describe(&self) -> String {
        match self {
            Pinning::Cores { server, load } => {
                format!(
                    "each server on CPU {server} and the load generator on CPU {load}, pinned with `taskset`"
                )
            }
            Pinning::Off(why) => why.clone(),
        }
    }
}

/// A command for `program`, run under `taskset -c cpu` when pinned.
pub(super) fn pinned(cpu: Option<usize>, program: impl AsRef<OsStr>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpu.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub(super) struct Reaper(pub(super) Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        // It may have exited already; either way it is gone afterwards.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory under the system's temp dir, removed when dropped.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    /// Creates a new, empty directory whose name includes `tag`.
    pub(super) fn new(tag: &str) -> Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("rtchat-bench-{}-{n}-{tag}", std::process::id()));
        fs::create_dir(&path).with_context(|| format!("could not create {}", path.display()))?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a command to completion with its output captured, killing it if it
/// takes longer than `limit`.
pub(super) fn output_within(mut cmd: Command, limit: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = Reaper(cmd.spawn().with_context(|| format!("could not start {cmd:?}"))?);
    let stdout = child.0.stdout.take().context("stdout was not piped")?;
    let stderr = child.0.stderr.take().context("stderr was not piped")?;
    let (done, finished) = mpsc::channel();
    let out_reader = thread::spawn(move || {
        let read = read_all(stdout);
        let _ = done.send(());
        read
    });
    let err_reader = thread::spawn(move || read_all(stderr));
    if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
        // Dropping the reaper kills it, which closes the pipes and ends the readers.
        bail!("it did not finish within {} s", limit.as_secs());
    }
    let status = child.0.wait().context("could not wait for it")?;
    let joined = |reader: thread::JoinHandle<io::Result<Vec<u8>>>| {
        reader.join().map_err(|_| anyhow!("a pipe reader panicked"))?.context("could not read its output")
    };
    Ok(Output { status, stdout: joined(out_reader)?, stderr: joined(err_reader)? })
}

/// Everything from a pipe until its end.
fn read_all(mut pipe: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes)?;
    Ok(bytes)
}
