//! Input rules shared by the Socket.IO handlers and the REST API.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

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

/// Checks a room id: 1..=64 characters of `[A-Za-z0-9_.-]`, not `.` or `..`.
pub fn room_id(room: &str) -> Result<&str, ChatError> {
    let ok = !room.is_empty()
        && room.len() <= MAX_ROOM_LEN
        && room.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !matches!(room, "." | "..");
    if ok {
        Ok(room)
    } else {
        Err(ChatError::bad_request(
            "a room id is 1 to 64 characters of letters, digits, '_', '.' or '-' (not . or ..)",
        ))
    }
}

/// Normalises a display name (NFKC, trimmed) and checks it is 1..=32
/// visible characters: no control, format (zero-width, bidi override),
/// separator, private-use or unassigned characters, so that a name cannot
/// hide or reorder what it shows.
pub fn display_name(name: &str) -> Result<String, ChatError> {
    visible(name, MAX_NAME_LEN).ok_or_else(|| {
        ChatError::bad_request(
            "a display name is 1 to 32 visible characters, without control, zero-width or \
             direction-changing characters",
        )
    })
}

/// A private room's name: the same rules as a display name, 1..=64 characters.
pub fn room_name(name: &str) -> Result<String, ChatError> {
    visible(name, MAX_ROOM_LEN).ok_or_else(|| {
        ChatError::bad_request(
            "a room name is 1 to 64 visible characters, without control or zero-width characters",
        )
    })
}

/// `text` normalised (NFKC, trimmed) if it is 1..=`max` visible characters.
fn visible(text: &str, max: usize) -> Option<String> {
    let text: String = text.nfkc().collect();
    let text = text.trim();
    let len = text.chars().count();
    (len > 0 && len <= max && !text.chars().any(hidden)).then(|| text.to_owned())
}

/// The prefix of private rooms' ids, which only the server hands out.
const PRIVATE_PREFIX: &str = "p-";
/// The alphabet of the random part of a private room's id.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Random characters in a private room's id: 16 of 5 bits, 80 bits.
const PRIVATE_RANDOM_LEN: usize = 16;

/// A new private room's id: `p-` and 16 random base32 characters (80 bits).
pub fn private_room_id() -> String {
    let mut bytes = [0u8; PRIVATE_RANDOM_LEN];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let id: String = bytes.iter().map(|b| char::from(BASE32[usize::from(b % 32)])).collect();
    format!("{PRIVATE_PREFIX}{id}")
}

/// Whether `id` has the shape of a private room's id, which public rooms may
/// not take (other ids starting with `p-`, such as a lesson's `p-7`, are free).
pub fn is_private_id(id: &str) -> bool {
    id.strip_prefix(PRIVATE_PREFIX)
        .is_some_and(|rest| rest.len() == PRIVATE_RANDOM_LEN && rest.bytes().all(|b| BASE32.contains(&b)))
}

/// Characters a name may not hold: they are invisible or change how the
/// characters around them show.
fn hidden(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        c.general_category(),
        Control | Format | LineSeparator | ParagraphSeparator | PrivateUse | Surrogate | Unassigned
    ) || matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
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

/// Checks a message's text: like [`message_text`], but it may be empty when
/// the message carries files.
pub fn message_body(text: &str, max_len: usize, has_files: bool) -> Result<(), ChatError> {
    match message_text(text, max_len) {
        Err(e) if has_files && e.code == ErrorCode::BadRequest => Ok(()),
        other => other,
    }
}

/// Most files one message carries.
pub const MAX_FILES: usize = 10;
/// Length of a file id: base32 characters, 130 random bits.
pub const FILE_ID_LEN: usize = 26;

/// A new file's id: [`FILE_ID_LEN`] random base32 characters.
pub fn file_id() -> String {
    let mut bytes = [0u8; FILE_ID_LEN];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().map(|b| char::from(BASE32[usize::from(b % 32)])).collect()
}

/// Checks the file ids a message asks to carry: at most [`MAX_FILES`], each
/// of a file id's shape, none twice.
pub fn file_ids(ids: Option<Vec<String>>) -> Result<Vec<String>, ChatError> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_FILES {
        return Err(ChatError::bad_request(format!("a message carries at most {MAX_FILES} files")));
    }
    let shaped = |id: &String| id.len() == FILE_ID_LEN && id.bytes().all(|b| BASE32.contains(&b));
    if !ids.iter().all(shaped) {
        return Err(ChatError::bad_request("files must be the ids the upload answered"));
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err(ChatError::bad_request("a file is attached twice"));
    }
    Ok(ids)
}

/// Checks an uploaded file's name: 1 to 128 characters, no path separators
/// or control characters.
pub fn file_name(name: &str) -> Result<String, ChatError> {
    let name = name.trim();
    let ok = (1..=128).contains(&name.chars().count())
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
        && name != "."
        && name != "..";
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ChatError::bad_request(
            "a file name is 1 to 128 characters, without / or \\ or control characters",
        ))
    }
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

/// Turns a requested page size (of history or of rooms) into one the store accepts.
pub fn page_limit(limit: Option<i64>) -> Result<usize, ChatError> {
    match limit {
        None => Ok(DEFAULT_HISTORY_LIMIT),
        Some(n) if n >= 1 => Ok((n as usize).min(MAX_HISTORY_LIMIT)),
        Some(_) => Err(ChatError::bad_request(LIMIT_RULE)),
    }
}

/// A `limit` from a query string (empty means none), checked by [`page_limit`] later.
pub fn limit_param(limit: Option<&str>) -> Result<Option<i64>, ChatError> {
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
        for bad in ["", ".", "..", "has space", "slash/", "é", "#x", &"r".repeat(65)] {
            assert_eq!(room_id(bad).unwrap_err().code, ErrorCode::BadRequest, "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(display_name("  Ada  ").unwrap(), "Ada");
        assert_eq!(display_name(&"é".repeat(32)).unwrap().chars().count(), 32);
        assert_eq!(
            display_name("ａｌｉｃｅ").unwrap(),
            "alice",
            "fullwidth forms fold to their plain letters"
        );
        assert_eq!(display_name("e\u{301}").unwrap(), "é", "combining sequences are composed");
        assert_eq!(display_name("Zoë 🦀").unwrap(), "Zoë 🦀");
        let bad = [
            "",
            "   ",
            "a\u{7}b",
            "alice\u{200b}",
            "\u{202e}ecila",
            "a\u{2066}b",
            "\u{feff}bob",
            "a\u{2028}b",
            "\u{3164}",
            "\u{e000}x",
        ];
        for bad in bad.iter().copied().chain([&*"x".repeat(33)]) {
            assert_eq!(display_name(bad).unwrap_err().code, ErrorCode::BadRequest, "{bad:?}");
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
    fn private_ids() {
        let id = private_room_id();
        assert!(is_private_id(&id) && room_id(&id).is_ok(), "{id}");
        assert_ne!(private_room_id(), id);
        for public in
            ["p-7", "p-project", "p-aaaaaaaaaaaaaaa", "p-aaaaaaaaaaaaaaaa1", "p-AAAAAAAAAAAAAAAA", "lobby"]
        {
            assert!(!is_private_id(public), "{public}");
        }
    }

    #[test]
    fn limits() {
        assert_eq!(page_limit(None).unwrap(), 50);
        assert_eq!(page_limit(Some(7)).unwrap(), 7);
        assert_eq!(page_limit(Some(1000)).unwrap(), 100);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(-3)).is_err());
        assert_eq!(limit_param(None).unwrap(), None);
        assert_eq!(limit_param(Some("")).unwrap(), None);
        assert_eq!(limit_param(Some("7")).unwrap(), Some(7));
        assert_eq!(limit_param(Some("x")).unwrap_err(), page_limit(Some(0)).unwrap_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn room_ids_are_exactly_the_documented_set(room in "\\PC{0,70}|[A-Za-z0-9_.-]{0,70}") {
            let documented = (1..=MAX_ROOM_LEN).contains(&room.len())
                && room.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && room != "." && room != "..";
            prop_assert_eq!(room_id(&room).is_ok(), documented);
        }

        #[test]
        fn accepted_names_are_normal_visible_and_stable(name in "\\PC{0,40}|[\\u{200b}-\\u{206f}a-z ]{0,40}") {
            if let Ok(clean) = display_name(&name) {
                prop_assert!((1..=MAX_NAME_LEN).contains(&clean.chars().count()));
                prop_assert!(!clean.chars().any(hidden), "{:?}", clean);
                prop_assert_eq!(clean.trim(), clean.as_str());
                let again = display_name(&clean);
                prop_assert_eq!(again.as_deref(), Ok(clean.as_str()), "normalising twice changes nothing");
            }
        }

        #[test]
        fn texts_are_accepted_by_length_and_content(text in "\\PC{0,30}|\\s{0,5}", max in 1usize..25) {
            let expected = !text.trim().is_empty() && text.chars().count() <= max;
            prop_assert_eq!(message_text(&text, max).is_ok(), expected);
        }

        #[test]
        fn limits_parse_like_integers(raw in "-?[0-9]{0,22}|\\PC{0,6}") {
            match limit_param(Some(&raw)) {
                Ok(None) => prop_assert!(raw.is_empty()),
                Ok(Some(n)) => prop_assert_eq!(Some(n), raw.parse::<i64>().ok()),
                Err(e) => prop_assert!(raw.parse::<i64>().is_err() && e.code == ErrorCode::BadRequest),
            }
            if let Ok(Some(n)) = limit_param(Some(&raw)) {
                let limit = page_limit(Some(n));
                prop_assert_eq!(limit.is_ok(), n >= 1);
                prop_assert!(limit.is_ok_and(|l| (1..=MAX_HISTORY_LIMIT).contains(&l)) || n < 1);
            }
        }

        #[test]
        fn client_ids_are_short_and_printable(id in "\\PC{0,70}|[\\x00-\\x1f]{1,3}") {
            let expected = !id.is_empty() && id.len() <= MAX_CLIENT_ID_LEN && !id.chars().any(char::is_control);
            prop_assert_eq!(client_id(Some(&id)).is_ok(), expected);
        }
    }
}
