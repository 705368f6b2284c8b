//! Turns command-line flags into a validated [`Config`]; every refusal is one
//! sentence that names the fix.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::chat::ChatSettings;
use crate::cli::{ServeArgs, UiPort, default_db_path};
use crate::http::cors::CorsPolicy;
use crate::http::hosts::HostPolicy;
use crate::http::proxy::AppConfig;
use crate::scale::RedisConfig;
use crate::store::DbTarget;
use crate::tunnel::TunnelConfig;

/// Everything `rtchat serve` runs with, already checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (`--host`; every interface with `--lan`).
    pub host: IpAddr,
    /// The address to print for phones, from --lan-host; detected when `None`.
    pub lan_host: Option<IpAddr>,
    /// Whether to print a QR code (when stdout is a terminal).
    pub qr: bool,
    /// The room printed links open.
    pub room: Option<String>,
    /// The backend port (0 picks a free one).
    pub port: u16,
    /// The second port (0 picks a free one); `None` when everything is
    /// served on the backend port (`--ui-port off`).
    pub ui_port: Option<u16>,
    /// Where history is kept.
    pub db: DbTarget,
    /// The chat's limits and access token.
    pub chat: ChatSettings,
    /// The browser origins allowed to call the server; the tunnel adds to it.
    pub cors: CorsPolicy,
    /// The names the server is reachable as (`Host`); the tunnel adds to it.
    pub hosts: HostPolicy,
    /// Print one JSON line per event instead of the banner.
    pub json: bool,
    /// Set with `--tunnel`.
    pub tunnel: Option<TunnelConfig>,
    /// Set with `--redis`: where several processes meet.
    pub redis: Option<RedisConfig>,
    /// The access token was generated at start (for the tunnel), not given.
    pub token_generated: bool,
    /// Open Engine.IO sessions allowed per client address; `0` for no limit.
    pub max_connections_per_ip: usize,
    /// Set with `--app`: the developer's dev server, served on the UI port.
    pub app: Option<AppConfig>,
}

/// The UI port without `--ui-port`.
pub const DEFAULT_UI_PORT: u16 = 5173;
/// The UI port with `--app` and without `--ui-port`: not 5173, where Vite's
/// dev server (the usual app) listens.
pub const APP_UI_PORT: u16 = 3001;

/// A configuration mistake, worded for the person who made it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Config {
    /// Checks the flags and resolves defaults.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        let lan = args.lan || args.lan_host.is_some();
        let host = match &args.host {
            Some(host) => parse_host(host, "--host")?,
            None if lan => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let lan_host = args.lan_host.as_deref().map(|h| parse_host(h, "--lan-host")).transpose()?;
        if lan && host.is_loopback() {
            return Err(ConfigError(format!(
                "--lan needs the server to listen beyond this machine, but --host is {host}; drop --host or use --host 0.0.0.0"
            )));
        }
        let room = match &args.room {
            Some(room) => Some(
                crate::chat::validate::room_id(room)
                    .map_err(|_| {
                        ConfigError(format!(
                            "--room {room:?} is not a room id; use 1 to 64 letters, digits, '_', '.' or '-'"
                        ))
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        let app = match &args.app {
            Some(url) => Some(AppConfig::new(url, &args.app_keep).map_err(ConfigError)?),
            None if !args.app_keep.is_empty() => {
                return Err(ConfigError(
                    "--app-keep only applies with --app; add --app URL or drop --app-keep".into(),
                ));
            }
            None => None,
        };
        let default_ui_port = if app.is_some() { APP_UI_PORT } else { DEFAULT_UI_PORT };
        let ui_port = match args.ui_port.unwrap_or(UiPort::Port(default_ui_port)) {
            UiPort::Off => None,
            UiPort::Port(p) if p != 0 && p == args.port => {
                return Err(ConfigError(format!(
                    "--ui-port {p} is the same as --port; choose another UI port, or --ui-port off to serve everything on one port"
                )));
            }
            UiPort::Port(p) => Some(p),
        };
        if let Some(app) = &app
            && let Some(port) = app.loops_back_to([Some(args.port), ui_port], &crate::lan::addresses())
        {
            return Err(ConfigError(format!(
                "--app {} is rtchat's own port {port}; point --app at your dev server (for example http://localhost:5173), \
                 or move rtchat with --port or --ui-port",
                app.target
            )));
        }
        let db = match &args.db {
            Some(db) => in_existing_directory(parse_db(db)?)?,
            None => DbTarget::Sqlite(default_db_path().ok_or_else(|| {
                ConfigError(
                    "cannot find a data directory for the history database; pass one with --db PATH".into(),
                )
            })?),
        };
        let tunnel = TunnelConfig::from_args(&args.tunnel).map_err(ConfigError)?;
        let token_generated = tunnel.is_some() && args.token.is_none() && !args.tunnel.public;
        let token = match args.token.as_deref() {
            // A tunnel is public: require a token unless told otherwise.
            None if token_generated => Some(crate::chat::random_hex(16)),
            None => None,
            Some(t) if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(ConfigError(
                    "--token must be non-empty with no spaces; pick another token".into(),
                ));
            }
            Some(t) => Some(t.to_owned()),
        };
        if args.max_message_len == 0 {
            return Err(ConfigError("--max-message-len must be at least 1".into()));
        }
        Ok(Self {
            host,
            lan_host,
            qr: !args.no_qr,
            room,
            port: args.port,
            ui_port,
            db,
            chat: ChatSettings {
                token,
                max_message_len: args.max_message_len,
                rate_limit: args.rate_limit,
                rate_limit_per_ip: args.rate_limit_per_ip,
                max_rooms: args.max_rooms,
                rate_limit_requests: args.rate_limit_requests,
                max_upload: args.max_upload,
                max_storage: args.max_storage,
            },
            cors: CorsPolicy::new(&args.cors_origins).map_err(ConfigError)?,
            hosts: HostPolicy::for_this_machine(&args.allowed_hosts).map_err(ConfigError)?,
            json: args.json,
            tunnel,
            token_generated,
            max_connections_per_ip: args.max_connections_per_ip,
            app,
            redis: args
                .redis
                .as_deref()
                .map(|url| RedisConfig::new(url, &args.redis_prefix))
                .transpose()
                .map_err(ConfigError)?,
        })
    }
}

fn parse_host(host: &str, flag: &str) -> Result<IpAddr, ConfigError> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.trim_matches(['[', ']']).parse().map_err(|_| {
        ConfigError(format!(
            "{flag} {host:?} is not an IP address; use 127.0.0.1 for this machine only or 0.0.0.0 for every network"
        ))
    })
}

/// `memory`, `sqlite::memory:`, `sqlite:PATH`, `sqlite://PATH` or a plain path.
fn parse_db(db: &str) -> Result<DbTarget, ConfigError> {
    let db = db.trim();
    if db.is_empty() {
        return Err(ConfigError("--db is empty; pass a file path, a sqlite: URL or `memory`".into()));
    }
    if matches!(db, "memory" | ":memory:" | "sqlite::memory:" | "sqlite://:memory:") {
        return Ok(DbTarget::Memory);
    }
    if let Some(rest) = db.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(ConfigError(format!("--db {db:?} names no file; write it as sqlite:PATH")));
        }
        return Ok(DbTarget::Sqlite(PathBuf::from(path)));
    }
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        if db.parse::<tokio_postgres::Config>().is_err() {
            return Err(ConfigError(format!(
                "--db {:?} is not a valid PostgreSQL URL; write it as postgres://user[:password]@host[:port]/database",
                crate::store::redact(db)
            )));
        }
        return Ok(DbTarget::Postgres(db.to_owned()));
    }
    if let Some((scheme, _)) = db.split_once("://") {
        return Err(ConfigError(format!(
            "--db scheme {scheme:?} is not supported; pass a file path, a sqlite: URL, `memory` or a postgres:// URL"
        )));
    }
    Ok(DbTarget::Sqlite(PathBuf::from(db)))
}

/// Refuses a database file in a directory that does not exist: a typo in
/// `--db` should not quietly make directories. (Only the default data
/// directory is created.)
fn in_existing_directory(db: DbTarget) -> Result<DbTarget, ConfigError> {
    if let DbTarget::Sqlite(path) = &db
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(ConfigError(format!(
            "--db {}: the directory {} does not exist; create it first or choose another path",
            path.display(),
            dir.display()
        )));
    }
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::ProviderConfig;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = ["rtchat", "serve"].iter().chain(args);
        let crate::cli::Command::Serve(serve) = crate::cli::Cli::try_parse_from(argv).unwrap().subcommand();
        Config::from_args(&serve)
    }

    #[test]
    fn databases() {
        let cases: &[(&str, DbTarget)] = &[
            ("memory", DbTarget::Memory),
            ("sqlite::memory:", DbTarget::Memory),
            ("chat.db", DbTarget::Sqlite("chat.db".into())),
            ("sqlite:chat.db", DbTarget::Sqlite("chat.db".into())),
            ("sqlite:///var/x.db", DbTarget::Sqlite("/var/x.db".into())),
            ("sqlite://data/x.db?mode=rwc", DbTarget::Sqlite("data/x.db".into())),
            (
                "postgres://u:p@127.0.0.1:5432/test",
                DbTarget::Postgres("postgres://u:p@127.0.0.1:5432/test".into()),
            ),
        ];
        for (arg, want) in cases {
            assert_eq!(&parse_db(arg).unwrap(), want, "{arg}");
        }
        assert_eq!(config(&["--db", "sqlite:///var/x.db"]).unwrap().db, DbTarget::Sqlite("/var/x.db".into()));
        let missing = config(&["--db", "no-such-dir/x.db"]).unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{missing}");
        for bad in ["", "sqlite:", "mysql://x/y", "redis://localhost", "postgres://host:notaport/db"] {
            let err = config(&["--db", bad]).unwrap_err().to_string();
            assert!(err.contains("--db"), "{bad}: {err}");
        }
    }

    #[test]
    fn ports_hosts_and_tokens() {
        assert_eq!(config(&["--ui-port", "off"]).unwrap().ui_port, None);
        assert_eq!(config(&["--port", "0", "--ui-port", "0"]).unwrap().ui_port, Some(0), "two free ports");
        assert!(
            config(&["--port", "4000", "--ui-port", "4000"])
                .unwrap_err()
                .to_string()
                .contains("--ui-port off")
        );
        assert_eq!(config(&["--host", "localhost"]).unwrap().host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(config(&["--host", "::"]).unwrap().host.is_unspecified());
        assert!(config(&["--host", "example.com"]).is_err());
        assert!(config(&["--token", "has space"]).is_err());
        assert_eq!(config(&["--token", "s3cret"]).unwrap().chat.token.as_deref(), Some("s3cret"));
        assert!(config(&["--max-message-len", "0"]).is_err());
    }

    #[test]
    fn tunnel_flags() {
        let c = config(&["--tunnel", "--ngrok-authtoken", "tok"]).unwrap();
        let ngrok = |c: Config| match c.tunnel.map(|t| t.provider) {
            Some(ProviderConfig::Ngrok(n)) => n,
            other => panic!("not ngrok: {other:?}"),
        };
        assert!(c.token_generated);
        assert_eq!(c.chat.token.as_deref().map(str::len), Some(32), "a tunnel gets a token by default");
        assert_eq!(ngrok(c).authtoken, "tok");
        let c = config(&["--tunnel", "--ngrok-authtoken", "tok", "--public"]).unwrap();
        assert!(c.chat.token.is_none() && !c.token_generated);
        let c = config(&["--tunnel", "--ngrok-authtoken", "tok", "--token", "mine"]).unwrap();
        assert_eq!((c.chat.token.as_deref(), c.token_generated), (Some("mine"), false));
        let c = config(&[
            "--tunnel",
            "--ngrok-authtoken",
            "tok",
            "--tunnel-basic-auth",
            "ann:longenough",
            "--tunnel-oauth",
            "google",
            "--tunnel-oauth-allow",
            "ann@example.com,example.org",
        ])
        .unwrap();
        let t = ngrok(c);
        assert_eq!(t.basic_auth, Some(("ann".into(), "longenough".into())));
        let o = t.oauth.unwrap();
        assert_eq!(
            (o.allow_emails, o.allow_domains),
            (vec!["ann@example.com".to_owned()], vec!["example.org".to_owned()])
        );
        for (bad, names) in [
            (&["--public"][..], "--tunnel"),
            (
                &["--tunnel", "--ngrok-authtoken", "t", "--tunnel-basic-auth", "ann:short"],
                "--tunnel-basic-auth",
            ),
            (&["--tunnel", "--ngrok-authtoken", "t", "--tunnel-oauth-allow", "x.org"], "--tunnel-oauth"),
            (
                &["--tunnel", "--ngrok-authtoken", "t", "--tunnel-server-addr", "nohost"],
                "--tunnel-server-addr",
            ),
            (&["--tunnel", "--ngrok-authtoken", "t", "--tunnel-ca-cert", "/no/such.pem"], "--tunnel-ca-cert"),
        ] {
            let err = config(bad).unwrap_err().to_string();
            assert!(err.contains(names), "{bad:?}: {err}");
        }
    }

    #[test]
    fn tunnel_providers() {
        let c = config(&["--tunnel", "localtunnel", "--tunnel-subdomain", "my-chat"]).unwrap();
        let t = c.tunnel.unwrap();
        match t.provider {
            ProviderConfig::LocalTunnel(lt) => {
                assert_eq!(
                    (lt.host.as_str(), lt.subdomain.as_deref()),
                    ("https://localtunnel.me", Some("my-chat"))
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(c.token_generated, "every provider's tunnel gets a token");
        let c = config(&["--tunnel", "cloudflare", "--cloudflared", "/bin/sh"]).unwrap();
        assert!(
            matches!(c.tunnel.unwrap().provider, ProviderConfig::Cloudflare(cf) if cf.cloudflared.ends_with("sh"))
        );
        let c = config(&["--tunnel", "--ngrok-authtoken", "tok"]).unwrap();
        assert!(matches!(c.tunnel.unwrap().provider, ProviderConfig::Ngrok(_)), "an authtoken picks ngrok");
        let c = config(&["--tunnel", "--ngrok-authtoken", "tok", "--tunnel-subdomain", "abcd"]).unwrap();
        assert!(
            matches!(c.tunnel.unwrap().provider, ProviderConfig::LocalTunnel(_)),
            "a LocalTunnel-only flag wins"
        );
        let c = config(&["--tunnel", "--ngrok-authtoken", "tok", "--cloudflared", "/bin/sh"]).unwrap();
        assert!(matches!(c.tunnel.unwrap().provider, ProviderConfig::Cloudflare(_)), "so does --cloudflared");
        assert!(config(&["--tunnel", "off", "--ngrok-authtoken", "tok"]).unwrap().tunnel.is_none());
        for (bad, names) in [
            (&["--tunnel", "cloudflare", "--cloudflared", "/no/such/cloudflared"][..], "--cloudflared"),
            (
                &["--tunnel", "cloudflare", "--cloudflared", "/bin/sh", "--tunnel-domain", "x.example"],
                "only works with ngrok",
            ),
            (&["--tunnel", "localtunnel", "--tunnel-basic-auth", "ann:longenough"], "--tunnel-basic-auth"),
            (
                &["--tunnel", "ngrok", "--ngrok-authtoken", "t", "--tunnel-subdomain", "abcd"],
                "--tunnel-subdomain",
            ),
            (&["--tunnel", "localtunnel", "--tunnel-subdomain", "No_Good"], "--tunnel-subdomain"),
            (&["--tunnel", "localtunnel", "--localtunnel-host", "ftp://x"], "--localtunnel-host"),
            (&["--tunnel-subdomain", "abcd"], "add --tunnel"),
        ] {
            let err = match config(bad) {
                Ok(_) => panic!("{bad:?} was accepted"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(names), "{bad:?}: {err}");
        }
    }

    #[test]
    fn runtime_cors_origins() {
        let c = config(&[]).unwrap();
        assert!(!c.cors.allows("https://abc.ngrok.app"));
        c.cors.clone().allow_url("https://abc.ngrok.app/some/path");
        assert!(c.cors.allows("https://abc.ngrok.app"), "clones share what is added");
        assert!(!c.cors.allows("https://abc.ngrok.app.evil.example"));
    }

    #[test]
    fn lan_and_room() {
        let c = config(&["--lan"]).unwrap();
        assert!(c.host.is_unspecified() && c.lan_host.is_none() && c.qr);
        let c = config(&["--lan-host", "192.168.1.9", "--no-qr"]).unwrap();
        assert!(c.host.is_unspecified(), "--lan-host implies --lan");
        assert_eq!(c.lan_host, Some("192.168.1.9".parse().unwrap()));
        assert!(!c.qr);
        assert_eq!(config(&["--lan", "--host", "10.0.0.2"]).unwrap().host.to_string(), "10.0.0.2");
        assert!(
            config(&["--lan", "--host", "127.0.0.1"]).unwrap_err().to_string().contains("--host 0.0.0.0")
        );
        assert!(config(&["--lan-host", "phone.local"]).unwrap_err().to_string().contains("--lan-host"));
        assert_eq!(config(&["--room", "standup"]).unwrap().room.as_deref(), Some("standup"));
        assert!(config(&["--room", "no spaces"]).unwrap_err().to_string().contains("--room"));
    }

    #[test]
    fn allowed_hosts() {
        let c = config(&["--allowed-host", "chat.example,.corp.example"]).unwrap();
        assert!(c.hosts.allows("chat.example:3000") && c.hosts.allows("a.corp.example"));
        assert!(c.hosts.allows("127.0.0.1:3000") && c.hosts.allows("localhost"));
        assert!(!c.hosts.allows("evil.example"));
        assert!(config(&["--allowed-host", "all"]).unwrap().hosts.allows("evil.example"));
        let err = config(&["--allowed-host", "http://x"]).unwrap_err().to_string();
        assert!(err.contains("--allowed-host"), "{err}");
    }

    #[test]
    fn cors() {
        let c = config(&["--cors-origin", "https://app.example/", "--cors-origin", "http://10.0.0.2:8080"])
            .unwrap();
        assert!(c.cors.allows("https://app.example"));
        assert!(c.cors.allows("http://10.0.0.2:8080"));
        assert!(!c.cors.allows("https://evil.example"));
        for local in
            ["http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000", "https://localhost"]
        {
            assert!(c.cors.allows(local), "{local}");
        }
        assert!(!c.cors.allows("http://localhost.evil.example"));
        assert!(config(&["--cors-origin", "*"]).unwrap().cors.allows("https://anything.example"));
        for bad in ["app.example", "ftp://x", "https://x/path", "https://x?q"] {
            assert!(config(&["--cors-origin", bad]).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::scale::RedisConfig;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_db_value_is_a_target_or_an_error_naming_the_flag(db in "\\PC{0,40}|(sqlite:|postgres://|memory)\\PC{0,20}") {
            match parse_db(&db) {
                Ok(DbTarget::Sqlite(path)) => prop_assert!(!path.as_os_str().is_empty()),
                Ok(_) => {}
                Err(e) => prop_assert!(e.to_string().contains("--db"), "{}", e),
            }
        }

        #[test]
        fn hosts_are_ip_addresses_or_refused(host in "\\PC{0,20}|[0-9.:\\[\\]a-f]{1,20}") {
            match parse_host(&host, "--host") {
                Ok(ip) => prop_assert!(host.eq_ignore_ascii_case("localhost") || host.trim_matches(['[', ']']).parse::<IpAddr>() == Ok(ip)),
                Err(e) => prop_assert!(e.to_string().starts_with("--host")),
            }
        }

        #[test]
        fn cors_origins_are_origins_or_refused(origin in "\\PC{0,30}|https?://[a-z.]{1,12}(:[0-9]{1,5})?/?") {
            match CorsPolicy::new(std::slice::from_ref(&origin)) {
                Ok(policy) => prop_assert!(origin.trim().is_empty() || origin.trim() == "*" || policy.allows(origin.trim().trim_end_matches('/'))),
                Err(e) => prop_assert!(e.contains("--cors-origin")),
            }
        }

        #[test]
        fn redis_urls_never_leak_their_password(pass in "[a-zA-Z0-9]{6,12}", rest in "\\PC{0,20}") {
            let url = format!("redis://user:{pass}@{rest}");
            if let Err(e) = RedisConfig::new(&url, "p") {
                prop_assert!(!e.contains(&pass), "{}", e);
            }
        }
    }
}
