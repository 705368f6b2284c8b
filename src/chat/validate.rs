//! Input rules shared by the Socket.IO handlers and the REST API.

use super::error::{ChatError, ErrorCode};

/// The room a client is in until it joins another.
pub const DEFAULT_ROOM: &str = "lobby";
/// Longest room id.
pub const MAX_ROOM_LEN: usize = 64;
/// Longest display name, counted in characters after trimming.
pub const MAX_NAME_LEN: usize = 32;
/// Longest `clientId`.
pub const MAX_CLIENT_ID_LEN: usize = 64;
/// Default page of history.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;
/// Largest page of history.
pub const MAX_HISTORY_LIMIT: usize = 100;
/// What a bad `limit` is told.
const LIMIT_RULE: &str = "limit must be a positive integer (at most 100)";

/// Checks a room id: 1..=64 characters of `[A-Za-z0-9_.-]`.
pub fn room_id(room: &str) -> Result<&str, ChatError> {
    let ok = !room.is_empty()
        && room.len() <= MAX_ROOM_LEN
        && room.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(room)
    } else {
        Err(ChatError::bad_request("a room id is 1 to 64 characters of letters, digits, '_', '.' or '-'"))
    }
}

/// Trims a display name and checks it is 1..=32 printable characters.
pub fn display_name(name: &str) -> Result<String, ChatError> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ChatError::bad_request(
            "a display name is 1 to 32 characters with no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Checks a message text: not blank and at most `max_len` characters.
pub fn message_text(text: &str, max_len: usize) -> Result<(), ChatError> {
    if text.trim().is_empty() {
        return Err(ChatError::bad_request("a message cannot be empty"));
    }
    // Counting chars is linear; skip it when even one byte per char fits.
    if text.len() > max_len && text.chars().count() > max_len {
        return Err(ChatError::new(
            ErrorCode::TooLarge,
            format!("a message is at most {max_len} characters"),
        ));
    }
    Ok(())
}

/// Checks an optional `clientId`: 1..=64 printable characters.
pub fn client_id(id: Option<&str>) -> Result<(), ChatError> {
    match id {
        Some(id) if id.is_empty() || id.len() > MAX_CLIENT_ID_LEN || id.chars().any(char::is_control) => {
            Err(ChatError::bad_request("a clientId is 1 to 64 printable characters"))
        }
        _ => Ok(()),
    }
}

/// Turns a requested page size into one the store accepts.
pub fn history_limit(limit: Option<i64>) -> Result<usize, ChatError> {
    match limit {
        None => Ok(DEFAULT_HISTORY_LIMIT),
        Some(n) if n >= 1 => Ok((n as usize).min(MAX_HISTORY_LIMIT)),
        Some(_) => Err(ChatError::bad_request(LIMIT_RULE)),
    }
}

/// A `limit` from a query string (empty means none), checked by [`history_limit`] later.
pub fn history_limit_param(limit: Option<&str>) -> Result<Option<i64>, ChatError> {
    match limit.filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) => l.parse().map(Some).map_err(|_| ChatError::bad_request(LIMIT_RULE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids() {
        for ok in ["lobby", "a", "Room_1.x-y", &"r".repeat(64)] {
            assert!(room_id(ok).is_ok(), "{ok:?} should be accepted");
        }
        for bad in ["", "has space", "slash/", "é", "#x", &"r".repeat(65)] {
            assert_eq!(room_id(bad).unwrap_err().code, ErrorCode::BadRequest, "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(display_name("  Ada  ").unwrap(), "Ada");
        assert_eq!(display_name(&"é".repeat(32)).unwrap().chars().count(), 32);
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(33)] {
            assert!(display_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts() {
        assert!(message_text("hi", 10).is_ok());
        assert!(message_text(&"é".repeat(10), 10).is_ok());
        assert_eq!(message_text(" \n ", 10).unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(message_text(&"x".repeat(11), 10).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn limits() {
        assert_eq!(history_limit(None).unwrap(), 50);
        assert_eq!(history_limit(Some(7)).unwrap(), 7);
        assert_eq!(history_limit(Some(1000)).unwrap(), 100);
        assert!(history_limit(Some(0)).is_err());
        assert!(history_limit(Some(-3)).is_err());
        assert_eq!(history_limit_param(None).unwrap(), None);
        assert_eq!(history_limit_param(Some("")).unwrap(), None);
        assert_eq!(history_limit_param(Some("7")).unwrap(), Some(7));
        assert_eq!(history_limit_param(Some("x")).unwrap_err(), history_limit(Some(0)).unwrap_err());
    }
}
