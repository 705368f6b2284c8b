//! The command line: a clap `Cli` whose doc comments are the help text.
//! Every `serve` flag can also come from an `RTCHAT_*` environment variable.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Real-time chat in one binary: Socket.IO rooms, durable history and a web UI
/// that phones and laptops share.
#[derive(Debug, Parser)]
#[command(name = "rtchat", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log more (-v debug, -vv trace); RUST_LOG overrides both -v and -q.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log less (-q warnings only, -qq errors only).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the chat server.
    Serve(ServeArgs),
}

/// Flags of `rtchat serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1, or 0.0.0.0 with --lan].
    #[arg(long, env = "RTCHAT_HOST")]
    pub host: Option<String>,

    /// Let phones and laptops on the same network join: listen on every
    /// interface and print the Network URLs and a QR code.
    #[arg(long, env = "RTCHAT_LAN")]
    pub lan: bool,

    /// The address to print for phones instead of the detected one (implies --lan).
    #[arg(long, env = "RTCHAT_LAN_HOST", value_name = "ADDR")]
    pub lan_host: Option<String>,

    /// Do not print a QR code.
    #[arg(long, env = "RTCHAT_NO_QR")]
    pub no_qr: bool,

    /// A room for the printed links and QR code to open.
    #[arg(long, env = "RTCHAT_ROOM")]
    pub room: Option<String>,

    /// Backend port: Socket.IO at /socket.io/, the REST API and the UI (0 picks a free port).
    #[arg(long, env = "RTCHAT_PORT", default_value_t = 3000)]
    pub port: u16,

    /// Second port serving the same UI, Socket.IO and API, where the seed's Vite
    /// frontend lived; 0 serves everything on the backend port only.
    #[arg(long, env = "RTCHAT_UI_PORT", default_value_t = 5173)]
    pub ui_port: u16,

    /// History database: a file path, a sqlite: URL, or `memory` (lost on exit).
    /// Defaults to rtchat.db in your data directory.
    #[arg(long, env = "RTCHAT_DB")]
    pub db: Option<String>,

    /// Require this access token from every client (auth.token, or a Bearer
    /// header or ?token= for the REST API).
    #[arg(long, env = "RTCHAT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Extra origin allowed to call the server from a browser (repeatable, or
    /// comma-separated). Pages on localhost are always allowed; `*` allows any site.
    #[arg(long = "cors-origin", env = "RTCHAT_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Longest message accepted, in characters.
    #[arg(long, env = "RTCHAT_MAX_MESSAGE_LEN", default_value_t = 4000)]
    pub max_message_len: usize,

    /// Messages per second per connection, bursts of twice that; 0 turns the limit off.
    #[arg(long, env = "RTCHAT_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,

    /// Print one machine-readable JSON `ready` line with every URL instead of the banner.
    #[arg(long, env = "RTCHAT_JSON")]
    pub json: bool,
}

impl Cli {
    /// The log filter -v and -q ask for, used when RUST_LOG is not set.
    pub fn log_filter(&self) -> &'static str {
        match (self.verbose, self.quiet) {
            (0, 0) => "rtchat=info",
            (1, _) => "rtchat=debug,socketioxide=info",
            (v, _) if v >= 2 => "rtchat=trace,socketioxide=debug,engineioxide=debug",
            (_, 1) => "rtchat=warn",
            _ => "rtchat=error",
        }
    }
}

/// The default database file: `rtchat/rtchat.db` in the user's data directory.
pub fn default_db_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("rtchat").join("rtchat.db"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let argv = ["rtchat", "serve"].iter().chain(args);
        Cli::try_parse_from(argv).map(|c| match c.command {
            Command::Serve(s) => s,
        })
    }

    #[test]
    fn defaults_match_the_seed() {
        let s = serve(&[]).unwrap();
        assert_eq!((s.host, s.port, s.ui_port), (None, 3000, 5173));
        assert!(!s.lan && !s.no_qr);
        assert_eq!((s.max_message_len, s.rate_limit), (4000, 20));
    }

    #[test]
    fn flags_parse() {
        let s = serve(&[
            "--port",
            "0",
            "--ui-port",
            "0",
            "--cors-origin",
            "https://a.example,https://b.example",
            "--cors-origin",
            "*",
        ])
        .unwrap();
        assert_eq!(s.cors_origins, ["https://a.example", "https://b.example", "*"]);
        for bad in [&["--port", "70000"][..], &["--rate-limit", "-1"], &["--bogus"]] {
            assert!(serve(bad).is_err(), "{bad:?}");
        }
    }
}
