//! The programs a run starts, where it writes, and the sizes of the Rust
//! servers' binaries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};

use super::{RunArgs, Runner, Server, TempDir};
use crate::report::{Binary, Measured};

/// The programs a run starts, and where it writes.
pub(super) struct Binaries {
    /// This program, for the load generator.
    pub(super) me: PathBuf,
    pub(super) rtchat: PathBuf,
    pub(super) bare: PathBuf,
    pub(super) node_server: PathBuf,
    /// target/bench: server logs and the default JSON.
    pub(super) out_dir: PathBuf,
}

impl Binaries {
    /// Finds rtchat and bare-sio next to this program and checks that every
    /// selected server can be started.
    pub(super) fn locate(args: &RunArgs) -> Result<Self> {
        let me = std::env::current_exe().context("could not find this program's own path")?;
        let dir = me.parent().context("this program's path has no directory")?;
        let bins = Binaries {
            rtchat: dir.join("rtchat"),
            bare: dir.join("bare-sio"),
            node_server: args.node_server.clone(),
            out_dir: dir.parent().unwrap_or(dir).join("bench"),
            me: me.clone(),
        };
        for &server in &args.servers {
            bins.check(server)?;
        }
        Ok(bins)
    }

    /// Fails, saying how to fix it, when `server` cannot be started.
    fn check(&self, server: Server) -> Result<()> {
        match server {
            Server::Rtchat | Server::RtchatMemory => ensure!(
                self.rtchat.is_file(),
                "{} is missing: build it with `cargo build --release -p rtchat`",
                self.rtchat.display()
            ),
            Server::Bare => ensure!(
                self.bare.is_file(),
                "{} is missing: build it with `cargo build --release -p rtchat-bench`",
                self.bare.display()
            ),
            Server::Node => {
                ensure!(
                    self.node_server.is_file(),
                    "the Node peer {} is missing",
                    self.node_server.display()
                );
                ensure!(
                    self.node_dir().join("node_modules/socket.io").is_dir(),
                    "socket.io is not installed for the Node peer: run `npm ci --prefix {}`",
                    self.node_dir().display()
                );
            }
        }
        Ok(())
    }

    /// The Node peer's directory, holding its node_modules.
    pub(super) fn node_dir(&self) -> &Path {
        self.node_server.parent().unwrap_or(Path::new("."))
    }
}

impl Runner {
    /// The sizes of the selected Rust servers' binaries, as built and stripped.
    pub(super) fn binary_sizes(&self) -> Result<Vec<Measured<Binary>>> {
        let scratch = TempDir::new("strip")?;
        let binaries = [(Server::Bare, &self.bins.bare), (Server::Rtchat, &self.bins.rtchat)];
        let chosen = binaries.into_iter().filter(|(server, _)| self.selected(*server));
        let measure = |(server, path): (Server, &PathBuf)| {
            let result = fs::metadata(path)
                .map(|m| Binary { bytes: m.len(), stripped_bytes: stripped_size(path, scratch.path()) })
                .map_err(|e| format!("{}: {e}", path.display()));
            Measured { server, result }
        };
        Ok(chosen.map(measure).collect())
    }
}

/// The size of a copy of `binary` without symbols or debug info, made with
/// `strip` in `scratch`; `None` when strip is not available.
fn stripped_size(binary: &Path, scratch: &Path) -> Option<u64> {
    let copy = scratch.join(binary.file_name()?);
    let status =
        Command::new("strip").arg("-o").arg(&copy).arg(binary).stderr(Stdio::null()).status().ok()?;
    if !status.success() {
        return None;
    }
    fs::metadata(&copy).ok().map(|m| m.len())
}
