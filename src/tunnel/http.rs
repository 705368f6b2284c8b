//! The few HTTP requests the tunnel providers make (LocalTunnel's
//! registration and password, cloudflared's metrics), with ureq on the
//! blocking pool: each is bounded in time and in the size of what it reads.

use std::time::Duration;

/// The longest any one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most body text read from an answer.
const BODY_LIMIT: u64 = 64 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer: the server could not be reached, or took too long.
    #[error("{0}")]
    Unreachable(String),
    /// An answer with an error status, and its body.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The body, as text (cut at the limit).
        body: String,
    },
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("rtchat/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// `GET url`: the status and the body.
async fn get(url: &str) -> Result<(u16, String), HttpError> {
    let url = url.to_owned();
    let request = move || {
        let mut response = agent().get(&url).call().map_err(|e| HttpError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(|e| HttpError::Unreachable(e.to_string()))?;
        Ok((status, body))
    };
    tokio::task::spawn_blocking(request).await.map_err(|e| HttpError::Unreachable(e.to_string()))?
}

/// `GET url`: the body of a 2xx answer, else an error.
pub async fn get_text(url: &str) -> Result<String, HttpError> {
    match get(url).await? {
        (status, body) if (200..300).contains(&status) => Ok(body),
        (status, body) => Err(HttpError::Status { status, body }),
    }
}

/// `GET url`: the status alone.
pub async fn status(url: &str) -> Result<u16, HttpError> {
    get(url).await.map(|(status, _)| status)
}
