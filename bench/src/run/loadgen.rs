//! Running the load generator (`rtchat-bench load`, a pinned child process)
//! against a started server and reading back its report.

use std::time::Duration;

use anyhow::{Context, Result, ensure};

use super::process::{output_within, pinned};
use super::server::Running;
use super::{Runner, Server};
use crate::load::{LoadArgs, Mode, Report};
use crate::report::Run;

/// How much longer than its planned phases a load run may take before it is killed.
const LOAD_GRACE: Duration = Duration::from_secs(30);
/// How long a client may take to connect and join before it counts as an error.
const CONNECT_TIMEOUT_SECS: f64 = 60.0;

/// The `rtchat-bench load` arguments for `args`; every option is spelt out,
/// so the JSON records exactly what ran.
fn load_argv(a: &LoadArgs) -> Vec<String> {
    let mode = match a.mode {
        Mode::Seed => "seed",
        Mode::Rich => "rich",
    };
    let mut options = vec![
        ("--addr", a.addr.clone()),
        ("--clients", a.clients.to_string()),
        ("--room-size", a.room_size.to_string()),
        ("--senders", a.senders.to_string()),
        ("--rate", a.rate.to_string()),
        ("--mode", mode.to_owned()),
        ("--duration", a.duration.to_string()),
        ("--warmup", a.warmup.to_string()),
        ("--drain", a.drain.to_string()),
        ("--connect-concurrency", a.connect_concurrency.to_string()),
        ("--connect-timeout", a.connect_timeout.to_string()),
        ("--text-len", a.text_len.to_string()),
        ("--settle", a.settle.to_string()),
    ];
    if let Some(pid) = a.server_pid {
        options.push(("--server-pid", pid.to_string()));
    }
    let mut argv = vec!["load".to_owned()];
    for (flag, value) in options {
        argv.push(flag.to_owned());
        argv.push(value);
    }
    argv
}

/// How long a load run may take before it is killed.
fn load_limit(a: &LoadArgs) -> Duration {
    Duration::from_secs_f64(a.connect_timeout + a.settle + a.duration + a.drain) + LOAD_GRACE
}

impl Runner {
    /// Load generator options shared by every scenario.
    pub(super) fn base(&self, clients: usize) -> LoadArgs {
        LoadArgs {
            addr: String::new(),
            clients,
            room_size: 0,
            senders: 10,
            rate: 0.0,
            mode: Mode::Seed,
            duration: self.sizes.duration,
            warmup: self.sizes.warmup,
            drain: self.sizes.drain,
            connect_concurrency: self.sizes.connect_concurrency,
            connect_timeout: CONNECT_TIMEOUT_SECS,
            text_len: 32,
            server_pid: None,
            settle: 0.0,
        }
    }

    /// Runs the load generator, pinned, against `server` and reads its report.
    pub(super) fn load(&mut self, server: &mut Running, mut args: LoadArgs) -> Result<Run> {
        args.addr = format!("127.0.0.1:{}", server.port);
        args.server_pid = Some(server.pid());
        let mut cmd = pinned(self.pin.load_cpu(), &self.bins.me);
        cmd.args(load_argv(&args));
        let output = output_within(cmd, load_limit(&args)).context("the load generator failed")?;
        ensure!(
            output.status.success(),
            "the load generator failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let report: Report = serde_json::from_slice(&output.stdout)
            .context("the load generator's output is not its JSON report")?;
        server.ensure_alive()?;
        let run = Run { args, report };
        if self.smoke {
            self.smoke_check(server.server, &run);
        }
        Ok(run)
    }

    /// Records a smoke run that lost connections, deliveries or acks.
    fn smoke_check(&mut self, server: Server, run: &Run) {
        let r = &run.report;
        let mut flaws = Vec::new();
        if r.connect_errors > 0 {
            let why = r.first_error.as_deref().unwrap_or("no error message");
            flaws.push(format!("{} of {} clients did not connect ({why})", r.connect_errors, r.clients));
        }
        if run.args.rate > 0.0 && r.received == 0 {
            flaws.push("a sending run received no deliveries".to_owned());
        }
        if run.args.rate > 0.0 && run.args.mode == Mode::Rich && r.acks == 0 {
            flaws.push("no message was acked".to_owned());
        }
        for flaw in flaws {
            let message = format!("{server}, {}: {flaw}", self.scenario);
            eprintln!("smoke: {message}");
            self.problems.push(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_arguments_round_trip_through_the_cli() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Sub,
        }
        #[derive(clap::Subcommand)]
        enum Sub {
            Load(LoadArgs),
        }
        let args =
            LoadArgs { addr: "127.0.0.1:1".to_owned(), server_pid: Some(7), rate: 12.5, ..full_load_args() };
        let argv = std::iter::once("rtchat-bench".to_owned()).chain(load_argv(&args));
        let Sub::Load(parsed) = Cli::parse_from(argv).command;
        assert_eq!(serde_json::to_value(&parsed).unwrap(), serde_json::to_value(&args).unwrap());
    }

    /// Load options as a full history run would give them.
    fn full_load_args() -> LoadArgs {
        LoadArgs {
            addr: String::new(),
            clients: 1000,
            room_size: 2,
            senders: 0,
            rate: 0.0,
            mode: Mode::Rich,
            duration: 5.0,
            warmup: 1.0,
            drain: 5.0,
            connect_concurrency: 500,
            connect_timeout: CONNECT_TIMEOUT_SECS,
            text_len: 32,
            server_pid: None,
            settle: 2.0,
        }
    }
}
