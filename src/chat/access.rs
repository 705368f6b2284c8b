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
/// admits members and the holders of its key. To anyone else a private room
/// does not exist: the refusal is the one a missing room gets, word for word,
/// so an id cannot be probed.
pub fn admit(room: &Room, pass: Pass<'_>) -> Result<(), ChatError> {
    let admitted = !room.private
        || match pass {
            Pass::Member(member) => member,
            Pass::Key(key) => key.is_some_and(|key| room.opens_with(key)),
        };
    if admitted { Ok(()) } else { Err(no_such_room(&room.id)) }
}

/// The refusal for a room that does not exist, or that the asker may not know of.
pub fn no_such_room(id: &str) -> ChatError {
    ChatError::not_found(format!(
        "there is no room {id:?} (a private room needs its invite key, or has been left)"
    ))
}

/// The room `id`, or `not_found`.
pub async fn existing_room(store: &dyn Store, id: &str) -> Result<Room, ChatError> {
    store.room(id).await?.ok_or_else(|| no_such_room(id))
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
        let private = Room::private("p-den", "Den", "k3y");
        let cases = [
            (&public, Pass::Key(None), true),
            (&public, Pass::Member(false), true),
            (&private, Pass::Member(true), true),
            (&private, Pass::Key(Some("k3y")), true),
            (&private, Pass::Key(Some("nope")), false),
            (&private, Pass::Key(None), false),
            (&private, Pass::Member(false), false),
        ];
        for (room, pass, admitted) in cases {
            match admit(room, pass) {
                Ok(()) => assert!(admitted, "{} {pass:?}", room.id),
                Err(e) => {
                    assert!(!admitted, "{} {pass:?}", room.id);
                    assert_eq!(e, no_such_room(&room.id), "a refusal looks like a missing room");
                }
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
