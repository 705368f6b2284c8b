//! How chat rooms map onto Socket.IO adapter rooms, and presence read back from them.
//!
//! Membership lives only in the adapter, never in a map of this process, so it
//! stays right when several processes share a Redis adapter:
//! - `m:<room>` holds the rich (`auth.v: 1`) members of a room;
//! - `s:<room>` holds the seed-style clients whose current room it is;
//! - `u:<user json>` is a one-member room per connection that names its user, so
//!   the members of a room are read back as the `u:` rooms of its sockets.

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;

use serde::{Deserialize, Serialize};

use crate::model::User;

const RICH: &str = "m:";
const SEED: &str = "s:";
const USER: &str = "u:";

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

/// The chat rooms a socket is a member of.
pub fn joined<A: Adapter>(socket: &Socket<A>) -> Vec<String> {
    socket
        .rooms()
        .iter()
        .filter_map(|r| r.strip_prefix(RICH).or_else(|| r.strip_prefix(SEED)))
        .map(str::to_owned)
        .collect()
}

/// Whether a socket is a member of a chat room.
pub fn is_member<A: Adapter>(socket: &Socket<A>, room: &str) -> bool {
    let (rich, seed) = delivery_rooms(room);
    socket.rooms().iter().any(|r| *r == rich || *r == seed)
}

/// Everyone in a chat room, on every server the adapter reaches, sorted by name.
pub async fn members<A: Adapter>(io: &SocketIo<A>, room: &str) -> Result<Vec<User>, A::Error> {
    let (rich, seed) = delivery_rooms(room);
    let tags = io.within([rich, seed]).rooms().await?;
    let mut users: Vec<User> = tags
        .iter()
        .filter_map(|t| t.strip_prefix(USER))
        .filter_map(|json| serde_json::from_str::<UserTag>(json).ok())
        .map(|tag| User { id: tag.id, name: tag.name })
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(users)
}

/// How many connections are in a chat room, on every server the adapter reaches.
pub async fn member_count<A: Adapter>(io: &SocketIo<A>, room: &str) -> Result<usize, A::Error> {
    let (rich, seed) = delivery_rooms(room);
    Ok(io.within([rich, seed]).fetch_sockets().await?.len())
}
