//! How chat rooms map onto Socket.IO adapter rooms, and presence read back from them.
//!
//! Membership lives only in the adapter, never in a map of this process, so it
//! stays right when several processes share a Redis adapter:
//! - `m:<room>` holds the rich (`auth.v: 1`) members of a room;
//! - `s:<room>` holds the seed-style clients whose current room it is;
//! - `u:<user json>` is a one-member room per connection that names its user, so
//!   the members of a room are read back as the `u:` rooms of its sockets. It
//!   is also where a connection's current display name lives: a rename moves a
//!   person's connections to a new `u:` room on every process at once;
//! - `i:<user id>` holds every connection of a person with a stable id, on
//!   every process: presence is per person, and a rename reaches them all.

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use socketioxide_core::adapter::Room;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::model::User;

const RICH: &str = "m:";
const SEED: &str = "s:";
const USER: &str = "u:";
const PERSON: &str = "i:";

/// The adapter room of every connection of the person with stable id `id`.
pub fn person_room(id: &str) -> String {
    format!("{PERSON}{id}")
}

/// The adapter room of a chat room's rich members.
pub fn rich_room(room: &str) -> String {
    format!("{RICH}{room}")
}

/// The adapter room of the seed-style clients currently in a chat room.
pub fn seed_room(room: &str) -> String {
    format!("{SEED}{room}")
}

/// Both adapter rooms of a chat room: everyone who receives its messages.
pub fn delivery_rooms(room: &str) -> (String, String) {
    (rich_room(room), seed_room(room))
}

/// A user as a `u:` room names it.
#[derive(Serialize, Deserialize)]
struct UserTag {
    id: String,
    name: String,
}

/// The adapter room that names a connection's user.
pub fn user_tag(user: &User) -> String {
    let tag = UserTag { id: user.id.clone(), name: user.name.clone() };
    format!("{USER}{}", serde_json::to_string(&tag).expect("a user tag always serializes"))
}

/// A connection's adapter rooms, read once: the chat rooms it is in and who it is.
pub struct Joined(Vec<Room>);

impl Joined {
    /// Reads a connection's rooms.
    pub fn of<A: Adapter>(socket: &Socket<A>) -> Self {
        Self(socket.rooms())
    }

    /// Whether it is in a chat room.
    pub fn has(&self, room: &str) -> bool {
        self.0.iter().any(|r| chat_room(r) == Some(room))
    }

    /// The chat rooms it is in.
    pub fn rooms(&self) -> Vec<String> {
        chat_rooms(&self.0)
    }

    /// Who it is now, as its `u:` room says.
    pub fn user(&self) -> Option<User> {
        self.0.iter().find_map(|r| user_from_tag(r))
    }
}

/// The chat room an adapter room delivers, if it is one.
fn chat_room(adapter_room: &str) -> Option<&str> {
    adapter_room.strip_prefix(RICH).or_else(|| adapter_room.strip_prefix(SEED))
}

/// The chat rooms among adapter rooms, each once.
fn chat_rooms(adapter_rooms: &[Room]) -> Vec<String> {
    let unique: HashSet<&str> = adapter_rooms.iter().filter_map(|r| chat_room(r)).collect();
    let mut rooms: Vec<String> = unique.into_iter().map(str::to_owned).collect();
    rooms.sort();
    rooms
}

fn user_from_tag(adapter_room: &str) -> Option<User> {
    let tag: UserTag = serde_json::from_str(adapter_room.strip_prefix(USER)?).ok()?;
    Some(User { id: tag.id, name: tag.name })
}

/// The chat rooms a socket is a member of.
pub fn joined<A: Adapter>(socket: &Socket<A>) -> Vec<String> {
    Joined::of(socket).rooms()
}

/// Whether a socket is a member of a chat room.
pub fn is_member<A: Adapter>(socket: &Socket<A>, room: &str) -> bool {
    Joined::of(socket).has(room)
}

/// The chat rooms the person with stable id `id` is in on connections other
/// than `socket`, on every server the adapter reaches.
pub async fn elsewhere<A: Adapter>(socket: &Socket<A>, id: &str) -> Result<Vec<String>, A::Error> {
    // `to` leaves the asking socket out.
    Ok(chat_rooms(&socket.to(person_room(id)).rooms().await?))
}

/// Everyone in a chat room, on every server the adapter reaches, sorted by name.
pub async fn members<A: Adapter>(io: &SocketIo<A>, room: &str) -> Result<Vec<User>, A::Error> {
    let (rich, seed) = delivery_rooms(room);
    let tags = io.within([rich, seed]).rooms().await?;
    Ok(people(&tags))
}

/// The people named by `u:` rooms, each once (by id; during a rename a
/// person briefly has two names), sorted by name.
fn people(adapter_rooms: &[Room]) -> Vec<User> {
    let mut seen = HashSet::new();
    let mut users: Vec<User> =
        adapter_rooms.iter().filter_map(|t| user_from_tag(t)).filter(|u| seen.insert(u.id.clone())).collect();
    users.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    users
}

/// Whether nobody but `socket` is in a chat room, on every server the adapter
/// reaches (`socket` may be leaving it).
pub async fn only<A: Adapter>(socket: &Socket<A>, room: &str) -> Result<bool, A::Error> {
    let (rich, seed) = delivery_rooms(room);
    let sockets = socket.within([rich, seed]).fetch_sockets().await?;
    Ok(sockets.iter().all(|other| other.data().id == socket.id))
}

/// How many people are in a chat room, on every server the adapter reaches.
pub async fn member_count<A: Adapter>(io: &SocketIo<A>, room: &str) -> Result<usize, A::Error> {
    let (rich, seed) = delivery_rooms(room);
    let tags = io.within([rich, seed]).rooms().await?;
    // A person's connections share one `u:` room, so distinct tags are
    // people (but for the moment of a rename); nothing needs parsing.
    Ok(tags.iter().filter(|t| t.starts_with(USER)).collect::<HashSet<_>>().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(id: &str, name: &str) -> Room {
        user_tag(&User { id: id.into(), name: name.into() }).into()
    }

    #[test]
    fn a_connection_reads_back_its_rooms_and_user() {
        let joined = Joined(vec![
            tag("u1", "ann"),
            rich_room("lobby").into(),
            seed_room("den").into(),
            person_room("u1").into(),
        ]);
        assert!(joined.has("lobby") && joined.has("den") && !joined.has("u1"));
        assert_eq!(joined.rooms(), ["den", "lobby"]);
        assert_eq!(joined.user(), Some(User { id: "u1".into(), name: "ann".into() }));
        assert_eq!(Joined(vec![]).user(), None);
    }

    #[test]
    fn people_are_listed_once_each() {
        let rooms =
            [tag("b", "bob"), tag("a", "ann"), tag("a", "annie"), tag("c", "ann"), rich_room("x").into()];
        let people: Vec<(String, String)> = people(&rooms).into_iter().map(|u| (u.name, u.id)).collect();
        assert_eq!(people.len(), 3, "{people:?}");
        assert_eq!(people.iter().filter(|(_, id)| id == "a").count(), 1);
        assert_eq!(people.last().unwrap().0, "bob");
    }
}
