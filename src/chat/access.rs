//! Who may do what: the access token and private-room admission, decided here
//! for the Socket.IO handshake and handlers and for the REST API alike.

use super::error::{ChatError, ErrorCode};
use crate::model::{Room, secrets_match};
use crate::store::Store;

/// How a request shows it may use a room.
#[derive(Debug, Clone, Copy)]
pub enum Pass<'a> {
    /// The room's invite key, as the request carried it (or did not).
    Key(Option<&'a str>),
    /// Whether the connection has already joined the room (and so once had its key).
    Member(bool),
}

/// Lets a request into a room: public rooms admit everyone; a private room
/// admits members and the holders of its key.
pub fn admit(room: &Room, pass: Pass<'_>) -> Result<(), ChatError> {
    if !room.private {
        return Ok(());
    }
    match pass {
        Pass::Member(true) => Ok(()),
        Pass::Key(Some(key)) if room.opens_with(key) => Ok(()),
        Pass::Key(Some(_)) => Err(ChatError::forbidden("that key does not open this room")),
        Pass::Key(None) | Pass::Member(false) => {
            Err(ChatError::forbidden("this room is private; it opens with its invite key"))
        }
    }
}

/// The room `id`, or `not_found`.
pub async fn existing_room(store: &dyn Store, id: &str) -> Result<Room, ChatError> {
    store.room(id).await?.ok_or_else(|| ChatError::not_found(format!("there is no room {id:?}")))
}

/// Checks the access token a client gave against the server's, if it has one.
pub fn check_token(expected: Option<&str>, given: Option<&str>) -> Result<(), ChatError> {
    match expected {
        Some(expected) if !given.is_some_and(|t| secrets_match(t, expected)) => Err(ChatError::new(
            ErrorCode::Unauthorized,
            "this server needs its access token: open the link it printed, or send the token \
             (auth.token, Authorization: Bearer <token> or ?token=<token>)",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_rooms_admit_members_and_key_holders_only() {
        let public = Room::public("lobby");
        let private = Room::private("den", "k3y");
        let cases = [
            (&public, Pass::Key(None), None),
            (&public, Pass::Member(false), None),
            (&private, Pass::Member(true), None),
            (&private, Pass::Key(Some("k3y")), None),
            (&private, Pass::Key(Some("nope")), Some("that key does not open this room")),
            (&private, Pass::Key(None), Some("this room is private; it opens with its invite key")),
            (&private, Pass::Member(false), Some("this room is private; it opens with its invite key")),
        ];
        for (room, pass, refusal) in cases {
            let got = admit(room, pass);
            assert_eq!(got.as_ref().err().map(|e| e.message.as_str()), refusal, "{} {pass:?}", room.id);
            if let Err(e) = got {
                assert_eq!(e.code, ErrorCode::Forbidden);
            }
        }
    }

    #[test]
    fn tokens() {
        assert!(check_token(None, None).is_ok());
        assert!(check_token(Some("t0k"), Some("t0k")).is_ok());
        for given in [None, Some(""), Some("t0"), Some("t0k!")] {
            assert_eq!(
                check_token(Some("t0k"), given).unwrap_err().code,
                ErrorCode::Unauthorized,
                "{given:?}"
            );
        }
    }
}
