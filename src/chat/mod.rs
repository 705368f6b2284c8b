//! The chat: the protocol it speaks, the handshake and event handlers, and the
//! send pipeline.
//!
//! - [`protocol`]: event names, requests and replies (the public API, see
//!   docs/protocol.md); [`wire`]: how the domain types look on the wire;
//!   [`error`]: refusals;
//! - [`handshake`]: who connects, and whether they may; [`identity`]: the
//!   stable user ids derived from clients' `userKey`;
//! - [`evict`]: closing a refused handshake, and a client that stopped reading;
//! - [`handlers`]: what each client event does, [`request`]: the request each
//!   takes (order, span, one answer), and [`actions`]: the steps they share;
//! - [`access`]: the access token and private-room admission, for every path;
//! - [`session`]: what the server keeps per connection (order, rate, typing);
//! - [`rooms`]: chat rooms as adapter rooms, and presence read back from them;
//! - [`pipeline`]: group commit then ordered fan-out;
//! - [`validate`] and [`ratelimit`]: the input rules;
//! - [`metrics`]: the counters behind `GET /metrics`.

pub mod access;
pub mod actions;
pub mod error;
pub mod evict;
pub mod handlers;
pub mod handshake;
pub mod identity;
pub mod metrics;
pub mod pipeline;
pub mod protocol;
pub mod ratelimit;
pub mod request;
pub mod rooms;
pub mod session;
pub mod validate;
pub mod wire;

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::handler::ConnectHandler;
use socketioxide_core::adapter::DefinedAdapter;

use crate::scale::Health;
use crate::store::Store;
use pipeline::Pipeline;

/// Installs the chat on the default namespace; adapters that connect to a
/// remote service return a future that must be awaited.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.ns("/", handlers::on_connect::<A>.with(evict::admit_or_close::<A>))
}

/// The limits and access rules the chat enforces.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// Required in the handshake when set.
    pub token: Option<String>,
    /// Longest message, in characters.
    pub max_message_len: usize,
    /// Messages per second per connection; `0` turns limiting off.
    pub rate_limit: u32,
    /// Messages per second per client address, across its connections; `0` turns it off.
    pub rate_limit_per_ip: u32,
    /// Most rooms the server keeps.
    pub max_rooms: usize,
    /// Requests other than messages per second per connection; `0` turns it off.
    pub rate_limit_requests: u32,
    /// Largest upload, in bytes.
    pub max_upload: u64,
    /// Most bytes all files may take together.
    pub max_storage: u64,
}

/// Everything a handler needs; a cheap clone around an `Arc`.
#[derive(Clone)]
pub struct ChatState(Arc<ChatInner>);

/// The shared parts behind [`ChatState`].
pub struct ChatInner {
    /// Durable history.
    pub store: Arc<dyn Store>,
    /// Where accepted messages go to be stored and delivered.
    pub pipeline: Pipeline,
    /// Limits and the access token.
    pub settings: ChatSettings,
    /// Whether the services a scaled-out chat shares are reachable.
    pub health: Health,
    /// This process's counters.
    pub metrics: metrics::Metrics,
    /// The message budget of each client address.
    pub per_address: ratelimit::PerAddress,
    /// How `userKey`s become user ids.
    pub identities: identity::Identities,
}

impl ChatState {
    /// The chat's shared state.
    pub fn new(
        store: Arc<dyn Store>,
        pipeline: Pipeline,
        settings: ChatSettings,
        health: Health,
        identities: identity::Identities,
    ) -> Self {
        let per_address = ratelimit::PerAddress::new(settings.rate_limit_per_ip);
        Self(Arc::new(ChatInner {
            store,
            pipeline,
            settings,
            health,
            metrics: Default::default(),
            per_address,
            identities,
        }))
    }
}

impl std::ops::Deref for ChatState {
    type Target = ChatInner;
    fn deref(&self) -> &ChatInner {
        &self.0
    }
}

/// A random lowercase hex string of `bytes` random bytes, for keys and tokens.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
