//! `--app`: the developer's own dev server, served through rtchat.
//!
//! Every request on the UI port's paths that rtchat does not keep for itself
//! goes to the app: any method, the body streamed both ways, WebSocket (and
//! any other) upgrades spliced, so a dev server's hot-reload socket works on a
//! phone. rtchat keeps `/socket.io/`, `/api/`, `/files/`, `/healthz`,
//! `/metrics` (or what `--app-keep` says) and always `/rtchat/`, where its own
//! chat UI moves.
//!
//! The app sees itself addressed as it is configured (`Host` is the app's own
//! host and port, so a dev server's allowed-hosts check passes with no
//! configuration) and learns the rest from `X-Forwarded-Host`, `-Proto` and
//! `-For`. When the server has an access token, the app is behind it too:
//! the link rtchat prints carries the token once (`?rtchat_token=`), which is
//! turned into an HttpOnly cookie and taken out of the address, so the app's
//! own requests, assets and sockets are let in without changing the app.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::{Authority, PathAndQuery};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::chat::access;
use crate::connection::Via;

/// Where rtchat's own chat UI lives when an app has the root.
pub const CHAT_PATH: &str = "/rtchat/";
/// The cookie carrying the access token for the app's requests.
pub const TOKEN_COOKIE: &str = "rtchat_token";
/// The query parameter that carries the token on the first visit.
pub const TOKEN_PARAM: &str = "rtchat_token";
/// What rtchat keeps for itself without `--app-keep`.
pub const DEFAULT_KEEP: [&str; 5] = ["/socket.io/", "/api/", "/files/", "/healthz", "/metrics"];
/// How long connecting to the app may take before it counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the "your app is not running" page retries, in seconds.
const DOWN_RETRY_SECS: u32 = 2;
/// How long the token cookie lasts, in seconds: a week of testing.
const COOKIE_MAX_AGE: u32 = 7 * 24 * 3600;

/// `--app` and `--app-keep`, checked.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The app's origin, as given (`http://localhost:5173`).
    pub target: String,
    authority: Authority,
    keep: Vec<String>,
}

impl AppConfig {
    /// Checks `--app URL` and `--app-keep` (empty: the defaults); the error names the flag.
    pub fn new(url: &str, keep: &[String]) -> Result<Self, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|_| format!("--app {url:?} is not a URL such as http://localhost:5173"))?;
        let authority = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority))
                if authority.host() != "" && !authority.as_str().contains('@') =>
            {
                authority.clone()
            }
            (Some("https"), _) => {
                return Err(format!(
                    "--app {url}: rtchat reaches the dev server over plain http (the tunnel adds HTTPS); serve it over http"
                ));
            }
            _ => return Err(format!("--app {url:?} must be an http:// URL such as http://localhost:5173")),
        };
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "--app {url}: give the dev server's address without a path, such as http://localhost:5173"
            ));
        }
        let mut kept = Vec::new();
        for path in keep.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let valid = path.starts_with('/')
                && path.chars().all(|c| c.is_ascii_graphic())
                && !path.contains(['?', '#']);
            if !valid {
                return Err(format!("--app-keep {path:?} must be a path prefix such as /api/"));
            }
            kept.push(path.to_owned());
        }
        if kept.is_empty() {
            kept = DEFAULT_KEEP.iter().map(|p| (*p).to_owned()).collect();
        }
        kept.push(CHAT_PATH.to_owned());
        Ok(Self { target: format!("http://{authority}"), authority, keep: kept })
    }

    /// Whether rtchat answers `path` itself rather than the app: `/api/` keeps
    /// `/api` and everything under `/api/`; `/healthz` keeps that path and
    /// what is under it.
    pub fn keeps(&self, path: &str) -> bool {
        self.keep.iter().any(|prefix| {
            let bare = prefix.trim_end_matches('/');
            path == bare || path.starts_with(&format!("{bare}/")) || (bare.is_empty() && prefix == "/")
        })
    }

    /// One of rtchat's own `ports`, when the app's address is this machine
    /// (a loopback name or address, or one of `own` addresses) at it.
    pub fn loops_back_to(&self, ports: [Option<u16>; 2], own: &[IpAddr]) -> Option<u16> {
        let host = self.authority.host().trim_start_matches('[').trim_end_matches(']');
        let local = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified() || own.contains(&ip));
        let port = self.authority.port_u16().unwrap_or(80);
        (local && port != 0).then_some(port).filter(|p| ports.contains(&Some(*p)))
    }
}

/// The proxy to the app; a cheap clone.
#[derive(Clone)]
pub struct AppProxy {
    config: Arc<AppConfig>,
    client: Client<HttpConnector, Body>,
    token: Option<Arc<str>>,
    hinted: Arc<AtomicBool>,
}

impl AppProxy {
    /// A proxy to `config`'s app, behind `token` when the server has one.
    pub fn new(config: AppConfig, token: Option<&str>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self { config: Arc::new(config), client, token: token.map(Arc::from), hinted: Arc::default() }
    }

    /// Says once, when a page calls rtchat's Socket.IO from another origin, that
    /// an app should use `io()` on its own origin, which works on a phone too.
    fn hint_cross_origin(&self, req: &Request) {
        if !req.uri().path().starts_with("/socket.io") || self.hinted.load(Ordering::Relaxed) {
            return;
        }
        let headers = req.headers();
        let (Some(origin), Some(host)) =
            (header_str(headers, header::ORIGIN), header_str(headers, header::HOST))
        else {
            return;
        };
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin_host.eq_ignore_ascii_case(host) || self.hinted.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            "a page at {origin} connects to rtchat at http://{host} directly; on a phone that address is not this machine. \
             In your app, use io() or io(window.location.origin) instead of io(\"http://{host}\"), and open the app through \
             rtchat's link"
        );
    }

    async fn forward(&self, mut req: Request) -> Response {
        let proto = forwarded_proto(&req);
        if let Some(token) = &self.token {
            match self.gate(&req, token, proto) {
                Gate::Pass => {}
                Gate::Answer(response) => return response,
            }
        }
        let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let upgrade = wants_upgrade(req.headers());
        let from_client = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let Ok(uri) = format!("{}{path}", self.config.target).parse::<Uri>() else {
            return (StatusCode::BAD_REQUEST, "bad request target").into_response();
        };
        let original_host = header_str(&parts.headers, header::HOST).map(str::to_owned);
        let upgrade_to = parts.headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(&mut parts.headers);
        strip_token_cookie(&mut parts.headers);
        let h = &mut parts.headers;
        h.insert(
            header::HOST,
            HeaderValue::from_str(self.config.authority.as_str()).expect("an authority is a header value"),
        );
        if let Some(host) = original_host.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(HeaderName::from_static("x-forwarded-host"), host);
        }
        h.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static(proto));
        h.remove(HeaderName::from_static("x-forwarded-for"));
        if let Some(ip) = client.and_then(|ip| HeaderValue::from_str(&ip.to_string()).ok()) {
            h.insert(HeaderName::from_static("x-forwarded-for"), ip);
        }
        if let (true, Some(protocol)) = (upgrade, upgrade_to) {
            h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            h.insert(header::UPGRADE, protocol);
        }
        parts.uri = uri;
        let method = parts.method.clone();
        let html = accepts_html(&parts.headers);
        let mut response = match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(error = %e, target = %self.config.target, "the app did not answer");
                return self.app_down(&method, html);
            }
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(from_client) = from_client {
                let to_app = hyper::upgrade::on(&mut response);
                tokio::spawn(async move {
                    if let (Ok(client), Ok(app)) = tokio::join!(from_client, to_app) {
                        let _ =
                            tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(app))
                                .await;
                    }
                });
            }
        } else {
            strip_hop_by_hop(response.headers_mut());
        }
        response.map(Body::new)
    }

    /// Lets a request with the token cookie through; turns a first visit's
    /// `?rtchat_token=` into the cookie; answers anything else 401.
    fn gate(&self, req: &Request, token: &str, proto: &str) -> Gate {
        let query = req.uri().query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        if let Some((_, given)) = pairs.iter().find(|(k, _)| k == TOKEN_PARAM) {
            if access::check_token(Some(token), Some(given)).is_err() {
                return Gate::Answer(self.refused(req.headers()));
            }
            let rest: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != TOKEN_PARAM).collect();
            let rest = serde_urlencoded::to_string(&rest).unwrap_or_default();
            // One leading slash: `//host/…` would send the browser to another site.
            let path = format!("/{}", req.uri().path().trim_start_matches(['/', '\\']));
            let location = match rest.as_str() {
                "" => path,
                rest => format!("{path}?{rest}"),
            };
            let secure = if proto == "https" { "; Secure" } else { "" };
            let cookie = format!(
                "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={COOKIE_MAX_AGE}{secure}",
                percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
            );
            let mut response = StatusCode::SEE_OTHER.into_response();
            let h = response.headers_mut();
            h.insert(
                header::LOCATION,
                HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
            );
            h.insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).expect("an encoded cookie is a header value"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Gate::Answer(response);
        }
        if access::check_token(Some(token), cookie_token(req.headers()).as_deref()).is_ok() {
            return Gate::Pass;
        }
        Gate::Answer(self.refused(req.headers()))
    }

    fn refused(&self, headers: &HeaderMap) -> Response {
        let sentence = "This app is shared through rtchat and needs its access link: open the link rtchat printed, \
                        or scan its QR code, on this device.";
        page(StatusCode::UNAUTHORIZED, accepts_html(headers), "Open the link rtchat printed", sentence, None)
    }

    fn app_down(&self, method: &Method, html: bool) -> Response {
        let target = &self.config.target;
        let sentence = format!(
            "Your app at {target} is not running, or does not answer. Start its dev server (for example npm run dev); \
             this page tries again every {DOWN_RETRY_SECS} seconds."
        );
        let retry = (method == Method::GET).then_some(DOWN_RETRY_SECS);
        let mut response =
            page(StatusCode::SERVICE_UNAVAILABLE, html, "Your app is not running", &sentence, retry);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(DOWN_RETRY_SECS));
        response
    }
}

enum Gate {
    Pass,
    Answer(Response),
}

/// The middleware in front of everything when `--app` is set: rtchat's own
/// paths go on to rtchat, everything else to the app.
pub async fn route(State(proxy): State<AppProxy>, req: Request, next: Next) -> Response {
    if proxy.config.keeps(req.uri().path()) {
        proxy.hint_cross_origin(&req);
        return next.run(req).await;
    }
    proxy.forward(req).await
}

/// `https` for requests through a tunnel (its edge's own header, when it sent
/// one), `http` for requests straight to a port.
fn forwarded_proto(req: &Request) -> &'static str {
    let via = req.extensions().get::<Via>().copied().unwrap_or(Via::Direct);
    if via == Via::Direct {
        return "http";
    }
    match header_str(req.headers(), HeaderName::from_static("x-forwarded-proto")) {
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ => "https",
    }
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn wants_upgrade(headers: &HeaderMap) -> bool {
    let connection = headers.get_all(header::CONNECTION).iter().filter_map(|v| v.to_str().ok());
    headers.contains_key(header::UPGRADE)
        && connection.flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    header_str(headers, header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// Removes the headers that belong to one connection, not to the request.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// The access token in the `rtchat_token` cookie, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .and_then(|(_, value)| {
            percent_encoding::percent_decode_str(value).decode_utf8().ok().map(|v| v.into_owned())
        })
}

/// Takes rtchat's cookie out of what the app is sent: the token is not the app's.
fn strip_token_cookie(headers: &mut HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').is_none_or(|(name, _)| name != TOKEN_COOKIE))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&kept.join("; "))
        && !kept.is_empty()
    {
        headers.insert(header::COOKIE, value);
    }
}

/// A short page (or, for programs, one sentence) saying what happened.
fn page(status: StatusCode, html: bool, title: &str, sentence: &str, refresh: Option<u32>) -> Response {
    if !html {
        return (status, [(header::CACHE_CONTROL, "no-store")], format!("{sentence}\n")).into_response();
    }
    let refresh = refresh.map_or(String::new(), |s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"));
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{title}</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem}}</style>\
         </head><body><h1>{title}</h1><p>{}</p><p><small>rtchat</small></p></body></html>",
        html_escape(sentence)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_url_is_checked() {
        let app = AppConfig::new("http://localhost:5173/", &[]).unwrap();
        assert_eq!(app.target, "http://localhost:5173");
        for bad in [
            "localhost:5173",
            "https://localhost:5173",
            "http://localhost:5173/app",
            "ftp://x",
            "http://u@x:1",
        ] {
            assert!(AppConfig::new(bad, &[]).is_err(), "{bad}");
        }
        assert!(AppConfig::new("http://x", &["api".into()]).is_err(), "a prefix starts with /");
    }

    #[test]
    fn rtchat_keeps_its_own_paths_and_nothing_else() {
        let app = AppConfig::new("http://localhost:5173", &[]).unwrap();
        for kept in [
            "/socket.io/",
            "/api",
            "/api/info",
            "/files/x/y.png",
            "/healthz",
            "/metrics",
            "/rtchat",
            "/rtchat/x.js",
        ] {
            assert!(app.keeps(kept), "{kept}");
        }
        for app_path in
            ["/", "/index.html", "/@vite/client", "/apikeys", "/src/main.js", "/rtchatty", "/healthzz"]
        {
            assert!(!app.keeps(app_path), "{app_path}");
        }
        let own = AppConfig::new("http://localhost:5173", &["/socket.io/".into()]).unwrap();
        assert!(!own.keeps("/api/info"), "--app-keep replaces the defaults");
        assert!(own.keeps("/rtchat/"), "the chat UI is always kept");
    }

    #[test]
    fn the_app_cannot_be_rtchat_itself() {
        let app = AppConfig::new("http://127.0.0.1:3001", &[]).unwrap();
        assert_eq!(app.loops_back_to([Some(3000), Some(3001)], &[]), Some(3001));
        assert_eq!(app.loops_back_to([Some(3000), None], &[]), None);
        let remote = AppConfig::new("http://10.0.0.5:3000", &[]).unwrap();
        assert_eq!(remote.loops_back_to([Some(3000), Some(3001)], &[]), None);
        let mine = ["10.0.0.5".parse().unwrap()];
        assert_eq!(
            remote.loops_back_to([Some(3000), Some(3001)], &mine),
            Some(3000),
            "this machine's LAN address"
        );
    }

    #[test]
    fn the_token_cookie_is_read_and_kept_from_the_app() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; rtchat_token=s%3Bx; b=2"));
        assert_eq!(cookie_token(&headers).as_deref(), Some("s;x"));
        strip_token_cookie(&mut headers);
        assert_eq!(headers[header::COOKIE], "a=1; b=2");
        let mut only = HeaderMap::new();
        only.insert(header::COOKIE, HeaderValue::from_static("rtchat_token=t"));
        strip_token_cookie(&mut only);
        assert!(!only.contains_key(header::COOKIE));
    }
}
