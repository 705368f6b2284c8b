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
    // The server has closed its store and connections by now. A tunnel
    // provider's HTTP request may still be waiting on the blocking pool (an
    // unanswering LocalTunnel server holds one for 10 s): do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
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
