//! Which browser origins may call the server, and the CORS layer that says so.
//!
//! Pages on this machine are always allowed; `--cors-origin` adds origins (or
//! `*`, any); the tunnel adds its public hosts while it runs, so the policy is
//! runtime state shared by every clone.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use axum::http::{HeaderValue, Method, Uri, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Which browser origins may call the server across origins; clones share
/// the origins added while running.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    /// `--cors-origin '*'`: any origin.
    any: bool,
    /// Origins allowed besides pages on this machine, as `scheme://host[:port]`.
    origins: Vec<String>,
    /// Origins added while running (the tunnel's public hosts).
    added: Arc<RwLock<Vec<String>>>,
}

impl CorsPolicy {
    /// The policy for `--cors-origin` values: origins (`https://host`,
    /// `http://host:port`) or `*`. The error is one sentence naming the fix.
    pub fn new(origins: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for given in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            match given {
                "*" => policy.any = true,
                _ => match parse_origin(given) {
                    Some((origin, true)) => policy.origins.push(origin),
                    _ => {
                        return Err(format!(
                            "--cors-origin {given:?} is not an origin; write it as https://host or http://host:port"
                        ));
                    }
                },
            }
        }
        Ok(policy)
    }

    /// Whether a browser page at `origin` may call the server.
    pub fn allows(&self, origin: &str) -> bool {
        self.any
            || self.origins.iter().any(|o| o == origin)
            || is_loopback_origin(origin)
            || self.added.read().unwrap_or_else(|p| p.into_inner()).iter().any(|o| o == origin)
    }

    /// Allows the origin of `url` (an http or https URL) from now on.
    pub fn allow_url(&self, url: &str) {
        let Some((origin, _)) = parse_origin(url) else { return };
        let mut added = self.added.write().unwrap_or_else(|p| p.into_inner());
        if !added.contains(&origin) {
            added.push(origin);
        }
    }

    /// The CORS layer that applies this policy, as it is at each request.
    pub fn layer(&self) -> CorsLayer {
        let policy = self.clone();
        let origin = AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| policy.allows(o))
        });
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
    }
}

/// The origin (`scheme://host[:port]`) of an http or https URL, and whether
/// the URL is only that origin (no path beyond `/`, no query).
fn parse_origin(url: &str) -> Option<(String, bool)> {
    let uri = url.parse::<Uri>().ok()?;
    let scheme = uri.scheme_str().filter(|s| matches!(*s, "http" | "https"))?;
    let authority = uri.authority().filter(|a| !a.as_str().contains('@') && !a.host().is_empty())?;
    let bare = matches!(uri.path(), "" | "/") && uri.query().is_none() && !url.ends_with('?');
    Some((format!("{scheme}://{authority}"), bare))
}

/// Pages served from this machine (localhost, 127.0.0.0/8, [::1]) on any port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(uri) = origin.parse::<Uri>().ok().filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
    else {
        return false;
    };
    let host = uri.host().unwrap_or_default();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_one_way() {
        let cases = [
            ("https://app.example", Some(("https://app.example", true))),
            ("https://app.example/", Some(("https://app.example", true))),
            ("http://10.0.0.2:8080", Some(("http://10.0.0.2:8080", true))),
            ("https://abc.ngrok.app/some/path", Some(("https://abc.ngrok.app", false))),
            ("https://x?q", Some(("https://x", false))),
            ("app.example", None),
            ("ftp://x", None),
            ("https://user@x", None),
        ];
        for (url, want) in cases {
            let got = parse_origin(url);
            assert_eq!(got.as_ref().map(|(o, bare)| (o.as_str(), *bare)), want, "{url}");
        }
    }

    #[test]
    fn loopback_pages_are_always_allowed() {
        let policy = CorsPolicy::default();
        for local in
            ["http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000", "https://localhost"]
        {
            assert!(policy.allows(local), "{local}");
        }
        for other in ["http://localhost.evil.example", "http://10.0.0.1", "null", "file://"] {
            assert!(!policy.allows(other), "{other}");
        }
    }
}
