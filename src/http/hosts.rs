//! Which names the server answers to: the `Host` check that stops DNS rebinding.
//!
//! A page on `http://evil.example:3000` whose name the attacker later points at
//! 127.0.0.1 is same-origin with the server as far as the browser is
//! concerned, so CORS cannot help; only the `Host` header it sends tells the
//! two apart. The server answers to any IP literal, `localhost` and
//! `*.localhost`, this machine's name (and `NAME.local`), each
//! `--allowed-host` (`.example.com` for a domain and its subdomains, `*` or
//! `all` for any name) and the tunnel's public hosts once it is up. This is
//! the rule Vite's dev server adopted (`server.allowedHosts`).

use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, RwLock};

use axum::http::Uri;
use axum::http::uri::Authority;

/// The host names the server may be reached as; clones share the names the
/// tunnel adds while running.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// `--allowed-host '*'` (or `all`): the check is off.
    any: bool,
    /// Exact names, lower case: this machine's and `--allowed-host NAME`.
    names: Vec<String>,
    /// Domains from `--allowed-host .DOMAIN`, without the dot: the domain and
    /// every name under it.
    domains: Vec<String>,
    /// Names added while running (the tunnel's public hosts).
    added: Arc<RwLock<Vec<String>>>,
}

impl HostPolicy {
    /// The policy for `--allowed-host` values, given this machine's name
    /// (`None` when it cannot be read). The error is one sentence naming the fix.
    pub fn new(allowed: &[String], machine: Option<&str>) -> Result<Self, String> {
        let mut policy = Self::default();
        if let Some(machine) = machine.map(normalize).filter(|m| is_host_name(m)) {
            policy.names.push(format!("{}.local", machine.strip_suffix(".local").unwrap_or(&machine)));
            policy.names.push(machine);
        }
        for given in allowed.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
            let name = normalize(given);
            match name.strip_prefix('.') {
                _ if name == "*" || name == "all" => policy.any = true,
                Some(domain) if is_host_name(domain) => policy.domains.push(domain.to_owned()),
                None if is_host_name(&name) => policy.names.push(name),
                _ => {
                    return Err(format!(
                        "--allowed-host {given:?} is not a host name; write it as NAME or .DOMAIN, without scheme or port"
                    ));
                }
            }
        }
        Ok(policy)
    }

    /// The policy for this machine: its name read from the system, and `allowed`.
    pub fn for_this_machine(allowed: &[String]) -> Result<Self, String> {
        let machine = hostname::get().ok().and_then(|n| n.into_string().ok());
        Self::new(allowed, machine.as_deref())
    }

    /// Whether a request whose `Host` header (or request-target authority) is
    /// `host` — `name[:port]` — is addressed to this server.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let Some(name) = host_of(host) else { return false };
        if name.starts_with('[') || name.parse::<IpAddr>().is_ok() {
            return true; // host_of only keeps a bracketed name that is an IPv6 address
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || self.names.contains(&name)
            || self
                .domains
                .iter()
                .any(|d| name == *d || name.strip_suffix(d.as_str()).is_some_and(|s| s.ends_with('.')))
            || self.added.read().unwrap_or_else(|p| p.into_inner()).contains(&name)
    }

    /// Allows the host of `url` (the tunnel's public URL) from now on.
    pub fn allow_url(&self, url: &str) {
        let Some(name) = url.parse::<Uri>().ok().and_then(|u| u.host().map(normalize)) else { return };
        let mut added = self.added.write().unwrap_or_else(|p| p.into_inner());
        if !added.contains(&name) {
            added.push(name);
        }
    }
}

/// The name in a `Host` value, lower case without a trailing dot; `None`
/// when the value is not `name[:port]` (or `[v6]:port`).
pub fn host_of(host: &str) -> Option<String> {
    let authority = host.parse::<Authority>().ok().filter(|a| {
        let has_port = a.as_str().len() > a.host().len();
        !a.as_str().contains('@') && (!has_port || a.port_u16().is_some())
    })?;
    let name = normalize(authority.host());
    let valid = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
        None => is_host_name(&name),
    };
    valid.then_some(name)
}

fn normalize(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.strip_suffix('.') {
        Some(bare) if !bare.is_empty() => bare.to_owned(),
        _ => name,
    }
}

/// Letters, digits, `-`, `_` and dots between non-empty labels.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> HostPolicy {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        HostPolicy::new(&allowed, Some("MyBox")).unwrap()
    }

    #[test]
    fn names_the_server_is_reachable_as() {
        let p = policy(&["chat.example", ".corp.example"]);
        for ok in [
            "127.0.0.1:3000",
            "10.0.0.7",
            "[::1]:3000",
            "[fe80::1]",
            "localhost:5173",
            "LOCALHOST",
            "localhost.",
            "app.localhost:3000",
            "mybox:3000",
            "mybox.local",
            "chat.example",
            "Chat.Example:443",
            "corp.example",
            "a.b.corp.example:8080",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:3000",
            "localhost.evil.example",
            "evilcorp.example",
            "chat.example.evil",
            "mybox.evil",
            "[not-v6]",
            "user@localhost",
            "",
            "a b",
            "127.0.0.1:port",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }

    #[test]
    fn any_name_with_star_or_all() {
        for any in ["*", "all", "ALL"] {
            assert!(policy(&[any]).allows("whatever.example"), "{any}");
        }
    }

    #[test]
    fn tunnel_hosts_are_added_for_every_clone() {
        let p = policy(&[]);
        assert!(!p.allows("abc.ngrok.app"));
        p.clone().allow_url("https://abc.ngrok.app/");
        assert!(p.allows("abc.ngrok.app") && p.allows("abc.ngrok.app:443"));
        assert!(!p.allows("x.abc.ngrok.app"));
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        for bad in ["http://x.example", "x.example:3000", ".", "..x", "a..b", "a b", "ex*ample"] {
            let err = HostPolicy::new(&[bad.to_owned()], None).unwrap_err();
            assert!(err.contains("--allowed-host"), "{bad}: {err}");
        }
        assert!(HostPolicy::new(&[" ".to_owned()], None).is_ok(), "blank values are skipped");
    }
}
