//! rtchat's benchmark: `load` drives one server with N Socket.IO clients and
//! prints JSON; `run` starts rtchat and its peers side by side, runs every
//! scenario against each, and writes docs/performance.md.

mod load;
mod proc_stats;
mod report;
mod run;
mod wire;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive one server and print what was measured as JSON.
    Load(load::LoadArgs),
    /// Run every scenario against rtchat and its peers; write Markdown and JSON.
    Run(run::RunArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Load(args) => {
            let report = load::run(&args)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Run(args) => run::main(&args)?,
    }
    Ok(())
}
