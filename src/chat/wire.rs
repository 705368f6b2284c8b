//! How the domain types look on the wire: borrowing views of
//! [`crate::model`] values, so a broadcast serializes a stored message
//! without copying it, and a wire rename never touches storage.

use serde::{Serialize, Serializer};

use crate::model::{File, Message, User};

/// A domain value as the protocol puts it on the wire.
pub struct Wire<'a, T>(pub &'a T);

#[derive(Serialize)]
struct UserOut<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageOut<'a> {
    id: &'a str,
    room: &'a str,
    user: UserOut<'a>,
    text: &'a str,
    ts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edited: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(skip_serializing_if = "Files::is_empty")]
    files: Files<'a>,
}

/// A message's files on the wire, each with its `url`.
struct Files<'a>(&'a [File]);

impl Files<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Wire))
    }
}

#[derive(Serialize)]
struct FileOut<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    media_type: &'a str,
    size: u64,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
}

/// What a file name keeps unescaped in a URL path: letters, digits and `-._~`.
const NAME_IN_PATH: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Where a file's bytes are, relative to the server: `/files/<id>/<name>`.
pub fn file_url(file: &File) -> String {
    format!("/files/{}/{}", file.id, percent_encoding::utf8_percent_encode(&file.name, NAME_IN_PATH))
}

impl Serialize for Wire<'_, File> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        FileOut {
            id: &f.id,
            name: &f.name,
            media_type: &f.media_type,
            size: f.size,
            url: file_url(f),
            width: f.width,
            height: f.height,
        }
        .serialize(s)
    }
}

fn user_out(user: &User) -> UserOut<'_> {
    UserOut { id: &user.id, name: &user.name }
}

impl Serialize for Wire<'_, User> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        user_out(self.0).serialize(s)
    }
}

impl Serialize for Wire<'_, Message> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        MessageOut {
            id: &m.id,
            room: &m.room,
            user: user_out(&m.user),
            text: &m.text,
            ts: m.ts,
            client_id: m.client_id.as_deref(),
            edited: m.edited,
            deleted: m.deleted,
            files: Files(&m.files),
        }
        .serialize(s)
    }
}

impl Serialize for Wire<'_, Vec<User>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Wire))
    }
}

impl Serialize for Wire<'_, Vec<Message>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Wire))
    }
}

/// `serialize_with` for fields that hold domain types.
pub(super) fn wire<T, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error>
where
    for<'b> Wire<'b, T>: Serialize,
{
    Wire(value).serialize(s)
}
