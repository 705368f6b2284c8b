//! The chat's domain types: who sends, what is sent, where it goes.
//!
//! The store reads and writes these; the protocol ([`crate::chat::protocol`])
//! decides how they look on the wire, so renaming a wire field never touches
//! storage and a schema change never touches the wire.

/// A person in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// Who they are: derived from their `userKey` (stable, see
    /// [`crate::chat::identity`]), or their connection's id (unique while connected).
    pub id: String,
    /// Display name, 1 to 32 characters.
    pub name: String,
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Fixed-width id (see [`message_id`]): sorting ids as strings gives the
    /// room's delivery order.
    pub id: String,
    /// The room it was sent to.
    pub room: String,
    /// Its author, as they were when they sent it.
    pub user: User,
    /// The text, as sent.
    pub text: String,
    /// Milliseconds since the Unix epoch, when the server accepted it.
    pub ts: i64,
    /// The sender's own id for it, which makes a resend idempotent.
    pub client_id: Option<String>,
    /// When it was last edited, in milliseconds since the Unix epoch; each
    /// edit of a message gets a later time than the one before.
    pub edited: Option<i64>,
    /// Whether it was deleted (its text is then empty).
    pub deleted: bool,
    /// The files attached to it.
    pub files: Vec<File>,
}

/// A file uploaded to a room, to be attached to messages there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct File {
    /// 26 random base32 characters: unguessable, so it names the file alone.
    pub id: String,
    /// The room it was uploaded to.
    #[serde(skip)]
    pub room: String,
    /// Its name, as uploaded (checked: no path separators or control characters).
    pub name: String,
    /// Its media type, as uploaded.
    #[serde(rename = "type")]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// An image's width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// An image's height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// A message accepted by the chat, not yet stored (so without an id).
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The room it goes to.
    pub room: String,
    /// Its author.
    pub user: User,
    /// The text.
    pub text: String,
    /// When it was accepted, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The sender's own id for it, if any.
    pub client_id: Option<String>,
    /// Whether `user.id` is stable (the sender has a `userKey`): then a
    /// resend is recognised by it, otherwise by the display name.
    pub stable: bool,
    /// The files it carries, already uploaded to its room.
    pub files: Vec<File>,
}

impl NewMessage {
    /// Who a resend must come from to be recognised as one: the stable user
    /// id, or `~` and the display name for senders without one (a user id
    /// never starts with `~`).
    pub fn author(&self) -> String {
        author(&self.user, self.stable)
    }

    /// The message as stored under sequence number `seq`.
    pub fn stored(self, seq: u64) -> Message {
        Message {
            id: message_id(seq),
            room: self.room,
            user: self.user,
            text: self.text,
            ts: self.ts,
            client_id: self.client_id,
            edited: None,
            deleted: false,
            files: self.files,
        }
    }
}

/// See [`NewMessage::author`].
pub fn author(user: &User, stable: bool) -> String {
    if stable { user.id.clone() } else { format!("~{}", user.name) }
}

/// A change to a stored message, by its author.
#[derive(Debug, Clone)]
pub struct Change {
    /// The message's room.
    pub room: String,
    /// The message's sequence number.
    pub seq: u64,
    /// The stable id of whoever asks: only the author may change a message.
    pub by: String,
    /// What changes.
    pub edit: Edit,
    /// When, in milliseconds since the Unix epoch.
    pub at: i64,
}

/// What a [`Change`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Replaces the text.
    Text(String),
    /// Deletes the message: its text is cleared.
    Delete,
}

/// A chat room. Once created it never changes; its creator may delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// 1 to 64 characters of `[A-Za-z0-9_.-]`.
    pub id: String,
    /// Whether entering it takes its invite key.
    pub private: bool,
    /// A private room's display name (its id is random); public rooms go by their id.
    pub name: Option<String>,
    /// SHA-256 of the private room's key; `None` for public rooms.
    pub key_hash: Option<[u8; 32]>,
    /// The stable id of whoever created it with `room:create`, who may delete it.
    pub creator: Option<String>,
}

impl Room {
    /// A public room.
    pub fn public(id: impl Into<String>) -> Self {
        Self { id: id.into(), private: false, name: None, key_hash: None, creator: None }
    }

    /// A private room called `name` that opens with `key`.
    pub fn private(id: impl Into<String>, name: impl Into<String>, key: &str) -> Self {
        Self {
            id: id.into(),
            private: true,
            name: Some(name.into()),
            key_hash: Some(hash_key(key)),
            creator: None,
        }
    }

    /// The same room, recorded as created by the stable user id `creator`.
    pub fn created_by(self, creator: Option<String>) -> Self {
        Self { creator, ..self }
    }

    /// Whether `key` is this private room's key (compared in constant time).
    pub fn opens_with(&self, key: &str) -> bool {
        self.key_hash.is_some_and(|hash| secrets_match(hash_key(key), hash))
    }
}

/// Formats a sequence number as a message id: 16 hex digits, so string order is numeric order.
pub fn message_id(seq: u64) -> String {
    format!("{seq:016x}")
}

/// Parses a message id back into its sequence number.
pub fn parse_message_id(id: &str) -> Option<u64> {
    if id.len() != 16 {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// Hashes a private room's key: only the hash is stored.
fn hash_key(key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).into()
}

/// Compares secrets without leaking where they differ through timing.
pub fn secrets_match(given: impl AsRef<[u8]>, expected: impl AsRef<[u8]>) -> bool {
    let (a, b) = (given.as_ref(), expected.as_ref());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The time messages and rooms are stamped with: milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_numbers_and_round_trip() {
        let ids: Vec<String> = [1u64, 9, 10, 255, 256, 1 << 40].iter().map(|&s| message_id(s)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(parse_message_id(&message_id(12345)), Some(12345));
        for bad in ["", "12", "zzzzzzzzzzzzzzzz", "00000000000000001"] {
            assert_eq!(parse_message_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_private_room_opens_with_its_key_only() {
        let room = Room::private("p-den", "Den", "s3cret");
        assert!(room.opens_with("s3cret"));
        assert!(!room.opens_with("s3cre"));
        assert!(!room.opens_with(""));
        assert!(!Room::public("lobby").opens_with("anything"));
    }
}
