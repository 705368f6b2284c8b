//! Files: uploaded to a room over REST, attached to messages, served back.
//!
//! What comes back is never rendered as a page on rtchat's origin: only an
//! allow-list of media types is served as itself, everything else (HTML and
//! SVG included) as a download, and every answer carries `nosniff` and a
//! sandboxing Content-Security-Policy. Ids are 130 random bits and bytes
//! never change, so answers are cached for good.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use socketioxide::adapter::Adapter;

use super::AppState;
use super::api::{ApiError, ApiPath, ApiQuery, bearer};
use crate::chat::access::{self, Pass};
use crate::chat::actions::spend_address;
use crate::chat::error::{ChatError, ErrorCode};
use crate::chat::protocol::Wire;
use crate::chat::validate;
use crate::model::File;

/// Media types served as themselves; anything else is a download.
const SERVED_AS_IS: [&str; 13] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "audio/mpeg",
    "audio/ogg",
    "video/ogg",
    "application/ogg",
    "application/pdf",
    "text/plain",
];

/// Room for the multipart framing around an upload's bytes.
const MULTIPART_SLACK: u64 = 64 * 1024;

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    name: Option<String>,
    key: Option<String>,
}

/// The body limit the upload route needs for `--max-upload`.
pub(super) fn upload_body_limit(max_upload: u64) -> usize {
    usize::try_from(max_upload.saturating_add(MULTIPART_SLACK)).unwrap_or(usize::MAX)
}

/// `POST /api/rooms/{room}/files?name=&key=`: the file as the body (its
/// `Content-Type` kept), or as the `file` part of a `multipart/form-data` body.
pub(super) async fn upload<A: Adapter>(
    State(state): State<AppState<A>>,
    ApiPath(room): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let chat = &state.chat;
    let room = access::existing_room(chat.store.as_ref(), validate::room_id(&room)?).await?;
    access::admit(&room, Pass::Key(q.key.as_deref()))?;
    let addr = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (part_name, media_type, bytes) = read_upload(request, chat.settings.max_upload).await?;
    let name = validate::file_name(q.name.as_deref().or(part_name.as_deref()).unwrap_or("file"))?;
    let size = bytes.len() as u64;
    if size > chat.settings.max_upload {
        return Err(too_large(chat.settings.max_upload).into());
    }
    chat.health.check()?;
    spend_address(chat, addr)?;
    if chat.store.files_size().await?.saturating_add(size) > chat.settings.max_storage {
        return Err(ChatError::new(
            ErrorCode::TooLarge,
            "this server's file storage is full (--max-storage); delete old rooms or messages with files",
        )
        .into());
    }
    let (width, height) = match media_type.starts_with("image/") {
        true => imagesize::blob_size(&bytes)
            .map_or((None, None), |s| (u32::try_from(s.width).ok(), u32::try_from(s.height).ok())),
        false => (None, None),
    };
    let file = File { id: validate::file_id(), room: room.id.clone(), name, media_type, size, width, height };
    chat.store.put_file(file.clone(), bytes.to_vec()).await?;
    tracing::info!(room = %room.id, size, "file uploaded");
    let mut body = serde_json::to_value(Wire(&file)).expect("a file always serializes");
    if let (true, Some(key)) = (room.private, q.key.as_deref()) {
        let url = format!("{}?key={}", body["url"].as_str().unwrap_or_default(), urlencode(key));
        body["url"] = json!(url);
    }
    Ok((StatusCode::CREATED, Json(json!({ "ok": true, "file": body }))).into_response())
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn too_large(max: u64) -> ChatError {
    ChatError::new(ErrorCode::TooLarge, format!("a file is at most {max} bytes (--max-upload)"))
}

/// The upload's file name (from a multipart part), media type and bytes.
async fn read_upload(
    request: Request,
    max: u64,
) -> Result<(Option<String>, String, bytes::Bytes), ChatError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let multipart = content_type.is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let media_type = essence(content_type);
        let limit = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
        let bytes = axum::body::to_bytes(request.into_body(), limit).await.map_err(|_| too_large(max))?;
        return Ok((None, media_type, bytes));
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ChatError::bad_request(format!("a bad multipart body: {}", e.body_text())))?;
    loop {
        let field = form.next_field().await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(max),
            _ => ChatError::bad_request(format!("a bad multipart body: {}", e.body_text())),
        })?;
        let Some(field) = field else {
            return Err(ChatError::bad_request("a multipart upload needs a part named file"));
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_owned);
        let media_type = essence(field.content_type());
        let bytes = field.bytes().await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(max),
            _ => ChatError::bad_request(format!("a bad multipart body: {}", e.body_text())),
        })?;
        return Ok((name, media_type, bytes));
    }
}

/// A media type without its parameters, lowercase; `application/octet-stream`
/// when missing or not of the `type/subtype` shape.
fn essence(content_type: Option<&str>) -> String {
    let essence =
        content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    match essence.split_once('/') {
        Some((kind, sub)) if essence.len() <= 100 && token(kind) && token(sub) => essence,
        _ => "application/octet-stream".to_owned(),
    }
}

#[derive(Deserialize)]
pub(super) struct DownloadQuery {
    key: Option<String>,
    token: Option<String>,
}

/// `GET /files/{id}/{name}?key=&token=`: a file's bytes, whole or one range.
pub(super) async fn download<A: Adapter>(
    State(state): State<AppState<A>>,
    ApiPath((id, _name)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chat = &state.chat;
    let cookie = super::proxy::cookie_token(&headers);
    let given = bearer(&headers).or(q.token.as_deref()).or(cookie.as_deref());
    access::check_token(chat.settings.token.as_deref(), given)?;
    let missing = || ChatError::not_found("there is no such file (a private room's file needs ?key=)");
    let (file, bytes) = chat.store.file(&id).await?.ok_or_else(missing)?;
    let room = chat.store.room(&file.room).await?.ok_or_else(missing)?;
    access::admit(&room, Pass::Key(q.key.as_deref())).map_err(|_| missing())?;

    let mut response = match range(&headers, bytes.len()) {
        Some(Ok((start, end))) => {
            let mut r = (StatusCode::PARTIAL_CONTENT, bytes[start..=end].to_vec()).into_response();
            let span = format!("bytes {start}-{end}/{}", bytes.len());
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&span).expect("ascii"));
            r
        }
        Some(Err(())) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let span = format!("bytes */{}", bytes.len());
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&span).expect("ascii"));
            r
        }
        None => bytes.into_response(),
    };
    set_file_headers(response.headers_mut(), &file, room.private);
    Ok(response)
}

/// The headers that make a file safe to serve from rtchat's origin.
fn set_file_headers(h: &mut HeaderMap, file: &File, private: bool) {
    let as_is = SERVED_AS_IS.contains(&file.media_type.as_str());
    let media_type = match file.media_type.as_str() {
        "text/plain" => "text/plain; charset=utf-8",
        t if as_is => t,
        _ => "application/octet-stream",
    };
    let disposition = if as_is { "inline" } else { "attachment" };
    let disposition = format!("{disposition}; filename*=UTF-8''{}", urlencode(&file.name));
    let cache = if private { "private" } else { "public" };
    let pairs = [
        (header::CONTENT_TYPE, media_type.to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox".to_owned()),
        (header::CACHE_CONTROL, format!("{cache}, max-age=31536000, immutable")),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
    ];
    for (name, value) in pairs {
        h.insert(name, HeaderValue::from_str(&value).expect("file headers are ASCII"));
    }
}

/// The one byte range a request asks for, as inclusive bounds within `len`
/// bytes: `None` to answer the whole file (no range, or one this server does
/// not serve, such as several), `Err` when it lies outside the file.
fn range(headers: &HeaderMap, len: usize) -> Option<Result<(usize, usize), ()>> {
    let spec = headers.get(header::RANGE)?.to_str().ok()?.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let bounds = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: usize = suffix.parse().ok()?;
            (n > 0 && len > 0).then(|| (len.saturating_sub(n), len - 1))
        }
        (start, "") => {
            let start: usize = start.parse().ok()?;
            (start < len).then(|| (start, len - 1))
        }
        (start, end) => {
            let (start, end): (usize, usize) = (start.parse().ok()?, end.parse().ok()?);
            (start <= end && start < len).then(|| (start, end.min(len - 1)))
        }
    };
    Some(bounds.ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn ranges() {
        let cases = [
            ("bytes=0-9", Some(Ok((0, 9)))),
            ("bytes=10-", Some(Ok((10, 99)))),
            ("bytes=-10", Some(Ok((90, 99)))),
            ("bytes=90-200", Some(Ok((90, 99)))),
            ("bytes=100-", Some(Err(()))),
            ("bytes=5-1", Some(Err(()))),
            ("bytes=0-1,5-6", None),
            ("items=0-1", None),
            ("bytes=x-1", None),
        ];
        for (value, want) in cases {
            assert_eq!(range(&asking(value), 100), want, "{value}");
        }
        assert_eq!(range(&HeaderMap::new(), 100), None);
    }

    #[test]
    fn media_types_are_reduced_to_their_essence() {
        assert_eq!(essence(Some("Image/PNG; charset=x")), "image/png");
        assert_eq!(essence(Some("text/html")), "text/html");
        for junk in [None, Some(""), Some("png"), Some("a/b c"), Some("/x")] {
            assert_eq!(essence(junk), "application/octet-stream", "{junk:?}");
        }
    }
}
