//! The command line: a clap `Cli` whose doc comments are the help text.
//! Every `serve` flag can also come from an `RTCHAT_*` environment variable.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Real-time chat in one binary: Socket.IO rooms, durable history and a web UI
/// that phones and laptops share.
///
/// `rtchat` alone runs `serve`, and takes serve's flags: `rtchat --lan` is
/// `rtchat serve --lan`.
#[derive(Debug, Parser)]
#[command(name = "rtchat", version, propagate_version = true, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (`serve` when left out).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `serve`'s flags, for `rtchat` without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,

    /// Log more (-v debug, -vv trace); RUST_LOG overrides both -v and -q.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log less (-q warnings only, -qq errors only).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
}

/// The subcommands.
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

    /// Second port serving the same UI, Socket.IO and API, where a Vite
    /// frontend usually lives (0 picks a free port); `off` serves everything on
    /// --port. [default: 5173, or 3001 with --app]
    #[arg(long, env = "RTCHAT_UI_PORT", value_name = "PORT|off", value_parser = parse_ui_port)]
    pub ui_port: Option<UiPort>,

    /// Your own frontend's dev server (for example http://localhost:5173): rtchat
    /// serves it on the UI port, behind the tunnel, the QR code and the access
    /// token, keeping /socket.io/, /api/, /files/, /healthz and /metrics for the
    /// chat; its own chat UI moves to /rtchat/.
    #[arg(long, env = "RTCHAT_APP", value_name = "URL")]
    pub app: Option<String>,

    /// With --app: the path prefixes rtchat keeps for itself instead of the
    /// default ones (repeatable, or comma-separated); /rtchat/ is always kept.
    #[arg(long = "app-keep", env = "RTCHAT_APP_KEEP", value_delimiter = ',', value_name = "PATH")]
    pub app_keep: Vec<String>,

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

    /// A name this server is reachable as besides IP addresses, localhost,
    /// *.localhost and this machine's name (repeatable, or comma-separated).
    /// `.example.com` allows that domain and every name under it; `*` or `all`
    /// turns the check off. Requests for other names get 403 (this stops DNS rebinding).
    #[arg(long = "allowed-host", env = "RTCHAT_ALLOWED_HOST", value_delimiter = ',', value_name = "NAME")]
    pub allowed_hosts: Vec<String>,

    /// Longest message accepted, in characters.
    #[arg(long, env = "RTCHAT_MAX_MESSAGE_LEN", default_value_t = 4000)]
    pub max_message_len: usize,

    /// Messages per second per connection, bursts of twice that; 0 turns the limit off.
    #[arg(long, env = "RTCHAT_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,

    /// Requests other than messages (typing, joins, room creation, history,
    /// room lists) per second per connection, bursts of twice that; 0 turns
    /// this limit off.
    #[arg(long, env = "RTCHAT_RATE_LIMIT_REQUESTS", default_value_t = 10)]
    pub rate_limit_requests: u32,

    /// Most rooms the server keeps; joining or creating a new room beyond it
    /// is refused. Public rooms that never held a message go when emptied.
    #[arg(long, env = "RTCHAT_MAX_ROOMS", default_value_t = 10_000, value_name = "N")]
    pub max_rooms: usize,

    /// Largest file one upload may carry (bytes, or with KB, MB or GB).
    #[arg(long, env = "RTCHAT_MAX_UPLOAD", default_value = "10MB", value_parser = parse_size, value_name = "SIZE")]
    pub max_upload: u64,

    /// Most bytes all uploaded files may take together (bytes, or with KB, MB or GB).
    #[arg(long, env = "RTCHAT_MAX_STORAGE", default_value = "1GB", value_parser = parse_size, value_name = "SIZE")]
    pub max_storage: u64,

    /// Messages per second from one client address across all its
    /// connections, bursts of twice that; 0 turns this limit off.
    #[arg(long, env = "RTCHAT_RATE_LIMIT_PER_IP", default_value_t = 60)]
    pub rate_limit_per_ip: u32,
    /// Open Socket.IO connections (Engine.IO sessions) allowed from one client
    /// address, counting this machine like any other; 0 turns the limit off.
    #[arg(long, env = "RTCHAT_MAX_CONNECTIONS_PER_IP", default_value_t = 256, value_name = "N")]
    pub max_connections_per_ip: usize,

    /// Open the chat in the default browser once it is ready ($BROWSER, if set, says which).
    #[arg(long, env = "RTCHAT_OPEN")]
    pub open: bool,

    /// Print one machine-readable JSON `ready` line with every URL instead of the
    /// banner (and a `tunnel` line at every tunnel state change).
    #[arg(long, env = "RTCHAT_JSON")]
    pub json: bool,

    /// Run as one of several processes sharing one chat: fan messages out
    /// through this Redis (redis://host:port). Use with --db postgres://...
    #[arg(long, env = "RTCHAT_REDIS", hide_env_values = true, value_name = "URL")]
    pub redis: Option<String>,

    /// Prefix of the Redis channels, so several chats can share one Redis.
    #[arg(long, env = "RTCHAT_REDIS_PREFIX", default_value = "rtchat", value_name = "PREFIX")]
    pub redis_prefix: String,

    /// The `--tunnel` flags.
    #[command(flatten)]
    pub tunnel: TunnelArgs,
}

/// `--ui-port`: a port number (0 picks a free one) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiPort {
    /// Everything is served on the backend port.
    Off,
    /// A second port; 0 lets the system pick a free one.
    Port(u16),
}

fn parse_ui_port(value: &str) -> Result<UiPort, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(UiPort::Off);
    }
    value
        .parse()
        .map(UiPort::Port)
        .map_err(|_| format!("{value:?} is not a port; use 0 to 65535, or `off` for one port"))
}

/// Flags of `--tunnel`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Public tunnel")]
pub struct TunnelArgs {
    /// Open public HTTPS URLs for both ports and print them with a QR code,
    /// through ngrok, cloudflare or localtunnel. Left out, PROVIDER is ngrok when
    /// an authtoken is known, else cloudflare when cloudflared is installed,
    /// else localtunnel; the last two need no account. An access token is
    /// generated unless you pass --token or --public.
    #[arg(
        long,
        env = "RTCHAT_TUNNEL",
        num_args = 0..=1,
        require_equals = false,
        default_missing_value = "auto",
        value_name = "PROVIDER",
        value_parser = parse_tunnel
    )]
    pub tunnel: Option<TunnelChoice>,

    /// Let anyone with the tunnel URL chat, without an access token.
    #[arg(long, env = "RTCHAT_PUBLIC")]
    pub public: bool,

    /// ngrok authtoken; defaults to the one in your ngrok agent config (ngrok.yml).
    #[arg(long, env = "NGROK_AUTHTOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub ngrok_authtoken: Option<String>,

    /// ngrok: a reserved domain for the UI's public URL.
    #[arg(long, env = "RTCHAT_TUNNEL_DOMAIN", value_name = "DOMAIN")]
    pub tunnel_domain: Option<String>,

    /// ngrok: ask visitors for this user name and password at the tunnel (password 8 to 128 characters).
    #[arg(long, env = "RTCHAT_TUNNEL_BASIC_AUTH", hide_env_values = true, value_name = "USER:PASS")]
    pub tunnel_basic_auth: Option<String>,

    /// ngrok: make visitors sign in with this OAuth provider at the tunnel (google, github, microsoft, gitlab, ...).
    #[arg(long, env = "RTCHAT_TUNNEL_OAUTH", value_name = "PROVIDER")]
    pub tunnel_oauth: Option<String>,

    /// ngrok, with --tunnel-oauth: an email address or a domain allowed in (repeatable).
    #[arg(
        long = "tunnel-oauth-allow",
        env = "RTCHAT_TUNNEL_OAUTH_ALLOW",
        value_delimiter = ',',
        value_name = "EMAIL|DOMAIN"
    )]
    pub tunnel_oauth_allow: Vec<String>,

    /// ngrok, advanced: the tunnel edge to use instead of ngrok's (host:port).
    #[arg(long, env = "RTCHAT_TUNNEL_SERVER_ADDR", value_name = "HOST:PORT")]
    pub tunnel_server_addr: Option<String>,

    /// ngrok, advanced: PEM certificate(s) to trust for --tunnel-server-addr.
    #[arg(long, env = "RTCHAT_TUNNEL_CA_CERT", value_name = "PATH")]
    pub tunnel_ca_cert: Option<PathBuf>,

    /// The cloudflared to run for a Cloudflare quick tunnel [default: cloudflared on the PATH].
    #[arg(long, env = "RTCHAT_CLOUDFLARED", value_name = "PATH")]
    pub cloudflared: Option<PathBuf>,

    /// The LocalTunnel server to use (a self-hosted one, say).
    #[arg(long, env = "RTCHAT_LOCALTUNNEL_HOST", value_name = "URL", default_value = crate::tunnel::localtunnel::DEFAULT_HOST)]
    pub localtunnel_host: String,

    /// With LocalTunnel: the name to ask for, as in https://NAME.loca.lt
    /// (the backend's URL gets NAME-backend).
    #[arg(long, env = "RTCHAT_TUNNEL_SUBDOMAIN", value_name = "NAME")]
    pub tunnel_subdomain: Option<String>,
}

/// `--tunnel`'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelChoice {
    /// `--tunnel` alone: the best provider available.
    Auto,
    /// `--tunnel PROVIDER`.
    Provider(crate::tunnel::Provider),
    /// No tunnel (`RTCHAT_TUNNEL=0`, `false`, `no` or `off`).
    Off,
}

fn parse_tunnel(value: &str) -> Result<TunnelChoice, String> {
    use crate::tunnel::Provider;
    match value.trim().to_ascii_lowercase().as_str() {
        "auto" | "" | "1" | "true" | "yes" | "on" => Ok(TunnelChoice::Auto),
        "0" | "false" | "no" | "off" => Ok(TunnelChoice::Off),
        "ngrok" => Ok(TunnelChoice::Provider(Provider::Ngrok)),
        "cloudflare" | "cloudflared" => Ok(TunnelChoice::Provider(Provider::Cloudflare)),
        "localtunnel" | "lt" => Ok(TunnelChoice::Provider(Provider::LocalTunnel)),
        _ => Err(format!("{value:?} is not a tunnel provider; use ngrok, cloudflare or localtunnel")),
    }
}

impl Cli {
    /// What to do: the subcommand given, else `serve` with the top level's flags.
    pub fn subcommand(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }

    /// The log filter -v and -q ask for, used when RUST_LOG is not set.
    pub fn log_filter(&self) -> &'static str {
        match (self.verbose, self.quiet) {
            (0, 0) => "rtchat=info",
            (1, _) => "rtchat=debug,socketioxide=info",
            (v, _) if v >= 2 => "rtchat=trace",
            (_, 1) => "rtchat=warn",
            _ => "rtchat=error",
        }
    }
}

/// Log directives added to every filter, whatever RUST_LOG or -v ask: these
/// dependencies print whole packets or requests at debug or trace level, and
/// a connect packet carries the access token and the user's key.
pub const SECRET_SAFE_LOGS: [&str; 6] = [
    "socketioxide=info",
    "engineioxide=info",
    "tungstenite=info",
    "tokio_tungstenite=info",
    "hyper=info",
    "hyper_util=info",
];

/// Reads a size: a number of bytes, or one with `KB`, `MB` or `GB` (powers of
/// 1000, in any case; `KiB`, `MiB` and `GiB` are powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a size such as 10MB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("{text:?}: the unit must be KB, MB or GB")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("{text:?} is too large"))
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
        Cli::try_parse_from(argv).map(|c| match c.subcommand() {
            Command::Serve(s) => s,
        })
    }

    #[test]
    fn sizes_parse() {
        let cases = [
            ("10MB", 10_000_000),
            ("100kb", 100_000),
            ("1GB", 1_000_000_000),
            ("512", 512),
            ("2MiB", 2 << 20),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "MB", "10XB", "-1MB", "99999999999999999999GB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let s = serve(&[]).unwrap();
        assert_eq!((s.max_upload, s.max_storage), (10_000_000, 1_000_000_000));
    }

    #[test]
    fn rtchat_alone_is_serve() {
        let Command::Serve(bare) =
            Cli::try_parse_from(["rtchat", "--lan", "--port", "0"]).unwrap().subcommand();
        assert!(bare.lan);
        assert_eq!(bare.port, 0);
        let Command::Serve(plain) = Cli::try_parse_from(["rtchat"]).unwrap().subcommand();
        assert_eq!(plain.port, 3000);
        assert!(
            Cli::try_parse_from(["rtchat", "--lan", "serve"]).is_err(),
            "flags go after serve, or without it"
        );
        assert!(serve(&["--lan", "-v"]).unwrap().lan);
    }

    #[test]
    fn tunnel_takes_an_optional_provider() {
        use crate::tunnel::Provider;
        assert_eq!(serve(&[]).unwrap().tunnel.tunnel, None);
        assert_eq!(serve(&["--tunnel"]).unwrap().tunnel.tunnel, Some(TunnelChoice::Auto));
        assert_eq!(serve(&["--tunnel", "--lan"]).unwrap().tunnel.tunnel, Some(TunnelChoice::Auto));
        for (name, provider) in [
            ("ngrok", Provider::Ngrok),
            ("cloudflare", Provider::Cloudflare),
            ("localtunnel", Provider::LocalTunnel),
        ] {
            assert_eq!(
                serve(&["--tunnel", name]).unwrap().tunnel.tunnel,
                Some(TunnelChoice::Provider(provider))
            );
        }
        // RTCHAT_TUNNEL=1 (or true) meant --tunnel before providers existed.
        assert_eq!(parse_tunnel("1"), Ok(TunnelChoice::Auto));
        assert_eq!(parse_tunnel("off"), Ok(TunnelChoice::Off));
        let err = serve(&["--tunnel", "gopher"]).unwrap_err().to_string();
        assert!(err.contains("ngrok, cloudflare or localtunnel"), "{err}");
    }

    #[test]
    fn defaults_match_the_seed() {
        let s = serve(&[]).unwrap();
        assert_eq!(
            (s.host, s.port, s.ui_port),
            (None, 3000, None),
            "5173 (or 3001 with --app) is the config's default"
        );
        assert!(!s.lan && !s.no_qr);
        assert_eq!((s.max_message_len, s.rate_limit), (4000, 20));
        assert_eq!(s.max_connections_per_ip, 256);
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
        let hosts =
            serve(&["--allowed-host", "chat.example,.corp.example", "--allowed-host", "box"]).unwrap();
        assert_eq!(hosts.allowed_hosts, ["chat.example", ".corp.example", "box"]);
        assert_eq!(s.ui_port, Some(UiPort::Port(0)));
        assert_eq!(serve(&["--ui-port", "off"]).unwrap().ui_port, Some(UiPort::Off));
        assert_eq!(serve(&["--ui-port", "OFF"]).unwrap().ui_port, Some(UiPort::Off));
        for bad in [&["--port", "70000"][..], &["--ui-port", "none"], &["--rate-limit", "-1"], &["--bogus"]] {
            assert!(serve(bad).is_err(), "{bad:?}");
        }
    }
}
