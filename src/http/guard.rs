//! The gate in front of every request: hostile web pages stop here, before
//! Socket.IO, the REST API or the UI see the request.
//!
//! Two checks, in this order:
//! - **Host** ([`HostPolicy`]): the request must name the server as it is
//!   reachable (stops DNS rebinding). A request without a `Host` header
//!   (HTTP/1.0) is refused with 400: every browser, Node and Rust client
//!   sends one.
//! - **Origin** ([`CorsPolicy`]): a request that carries an `Origin` (every
//!   browser WebSocket, every cross-site fetch) must come from a page the CORS
//!   policy allows, or from the server's own pages (the `Origin` names the same
//!   host and port as `Host`, as with the UI opened on a LAN address). This
//!   stops cross-site WebSocket hijacking: browsers do not apply CORS to
//!   WebSockets, so without it any site could open a session. Requests with
//!   no `Origin` (native clients) pass.
//!
//! A refusal is a plain-text sentence naming the flag that would allow the
//! request; no Engine.IO session exists for it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::cors::CorsPolicy;
use super::hosts::{HostPolicy, host_of};

/// The policies the gate applies; a cheap clone.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Allowed browser origins.
    pub cors: CorsPolicy,
    /// Names the server is reachable as.
    pub hosts: HostPolicy,
}

/// The middleware: passes the request on, or answers 400/403 in one sentence.
pub async fn check(State(guard): State<Guard>, req: Request) -> Result<Request, Response> {
    guard.refusal(&req).map_or(Ok(req), Err)
}

impl Guard {
    /// Why `req` is refused, as the response to send; `None` when it may pass.
    fn refusal(&self, req: &Request) -> Option<Response> {
        let headers = req.headers();
        // The Host header, and the authority of an absolute-form request
        // target, which HTTP/1.1 says takes precedence over it: both must pass.
        let hosts = headers.get_all(header::HOST).iter().map(|h| h.to_str().unwrap_or(""));
        let mut host = None;
        for given in hosts.chain(req.uri().authority().map(|a| a.as_str())) {
            if !self.hosts.allows(given) {
                tracing::debug!(host = given, "refused a request for another host name");
                return Some(refuse(StatusCode::FORBIDDEN, unknown_host(given)));
            }
            host = Some(given);
        }
        if host.is_none() {
            let sentence = "the request has no Host header; send one (every HTTP/1.1 client does)";
            return Some(refuse(StatusCode::BAD_REQUEST, sentence.into()));
        }
        for origin in headers.get_all(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.cors.allows(origin) && !same_host(origin, host) {
                tracing::debug!(origin, "refused a request from another site's page");
                return Some(refuse(StatusCode::FORBIDDEN, foreign_origin(origin)));
            }
        }
        None
    }
}

/// The refusal of a `Host` the server is not reachable as; the name is
/// repeated only when it is one.
fn unknown_host(given: &str) -> String {
    match host_of(given) {
        Some(name) => format!(
            "this server is not reachable as {name}; if that is your name for it, restart with --allowed-host {name}"
        ),
        None => "this server is not reachable by the name in the Host header; if you reach it by another name, restart with --allowed-host NAME".into(),
    }
}

/// The refusal of another site's page; the origin is repeated only when it is one.
fn foreign_origin(origin: &str) -> String {
    let parsed = origin.parse::<Uri>().ok().and_then(|uri| {
        let scheme = uri.scheme_str().filter(|s| matches!(*s, "http" | "https"))?;
        let name = host_of(uri.authority()?.as_str())?;
        Some(match uri.port_u16() {
            Some(port) => format!("{scheme}://{name}:{port}"),
            None => format!("{scheme}://{name}"),
        })
    });
    match parsed {
        Some(origin) => format!(
            "pages at {origin} may not use this server; if that site is yours, restart with --cors-origin {origin}"
        ),
        None => "pages at this origin may not use this server; allow a site with --cors-origin https://host"
            .into(),
    }
}

/// Whether `origin` is one of the server's own pages: it names the host and
/// port the request was sent to (the scheme may differ behind a TLS proxy).
fn same_host(origin: &str, host: Option<&str>) -> bool {
    let (Ok(origin), Some(host)) = (origin.parse::<Uri>(), host) else { return false };
    let Some(authority) =
        origin.authority().filter(|_| matches!(origin.scheme_str(), Some("http" | "https")))
    else {
        return false;
    };
    authority.as_str().eq_ignore_ascii_case(host)
}

fn refuse(status: StatusCode, sentence: String) -> Response {
    let mut response = (status, Body::from(sentence + "\n")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard {
            cors: CorsPolicy::new(&["https://app.example".into()]).unwrap(),
            hosts: HostPolicy::new(&[], Some("mybox")).unwrap(),
        }
    }

    fn status(host: Option<&str>, origin: Option<&str>) -> Option<StatusCode> {
        let mut req = Request::builder().uri("/socket.io/?EIO=4&transport=websocket");
        if let Some(host) = host {
            req = req.header(header::HOST, host);
        }
        if let Some(origin) = origin {
            req = req.header(header::ORIGIN, origin);
        }
        guard().refusal(&req.body(Body::empty()).unwrap()).map(|r| r.status())
    }

    #[test]
    fn hosts_and_origins() {
        let forbidden = Some(StatusCode::FORBIDDEN);
        let cases = [
            (Some("127.0.0.1:3000"), None, None),
            (Some("127.0.0.1:3000"), Some("http://localhost:5173"), None),
            (Some("127.0.0.1:3000"), Some("https://app.example"), None),
            (Some("192.168.1.9:5173"), Some("http://192.168.1.9:5173"), None),
            (Some("mybox:5173"), Some("http://MyBox:5173"), None),
            (Some("127.0.0.1:3000"), Some("http://evil.example"), forbidden),
            (Some("127.0.0.1:3000"), Some("null"), forbidden),
            (Some("192.168.1.9:5173"), Some("http://192.168.1.9:3000"), forbidden),
            (Some("evil.example:3000"), None, forbidden),
            (Some("evil.example:3000"), Some("http://evil.example:3000"), forbidden),
            (None, None, Some(StatusCode::BAD_REQUEST)),
        ];
        for (host, origin, want) in cases {
            assert_eq!(status(host, origin), want, "{host:?} {origin:?}");
        }
    }

    #[tokio::test]
    async fn a_refusal_is_one_sentence_naming_the_flag() {
        let body = |host: &str, origin: Option<&str>| {
            let mut req = Request::builder().uri("/api/rooms").header(header::HOST, host);
            if let Some(origin) = origin {
                req = req.header(header::ORIGIN, origin);
            }
            let response = guard().refusal(&req.body(Body::empty()).unwrap()).unwrap();
            async move {
                assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
                let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
                String::from_utf8(bytes.to_vec()).unwrap()
            }
        };
        assert_eq!(
            body("Evil.Example:3000", None).await,
            "this server is not reachable as evil.example; if that is your name for it, restart with --allowed-host evil.example\n"
        );
        assert!(
            body("127.0.0.1", Some("http://evil.example:81"))
                .await
                .contains("--cors-origin http://evil.example:81")
        );
        assert!(body("127.0.0.1", Some("<script>")).await.contains("--cors-origin https://host"));
    }
}
