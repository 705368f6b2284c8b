use std::process::ExitCode;

use clap::Parser;
use rtchat::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(cli.log_filter()));
    let filter = rtchat::cli::SECRET_SAFE_LOGS
        .iter()
        .fold(filter, |f, d| f.add_directive(d.parse().expect("the directives are valid")));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Command::Serve(args) = cli.subcommand();
    let result = runtime.block_on(rtchat::serve(&args));
    let Err(e) = result else { return ExitCode::SUCCESS };
    let (message, code) = match e.is::<rtchat::config::ConfigError>() {
        true => (e.to_string(), ExitCode::from(2)),
        false => (format!("{e:#}"), ExitCode::FAILURE),
    };
    eprintln!("error: {message}");
    if args.json {
        // Whoever reads the `ready` line learns of a failed start the same way.
        println!("{}", serde_json::json!({ "event": "error", "message": message }));
    }
    code
}
