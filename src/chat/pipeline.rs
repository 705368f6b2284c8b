//! The send pipeline: group commit, then fan-out, in one ordered hand-off.
//!
//! Handlers submit accepted messages to one task. It drains whatever has queued
//! into a batch, stores the batch in one transaction, broadcasts each stored
//! message in id order, and only then answers each submitter. So a message is
//! durable before anyone sees it, every client sees a room's messages in id
//! order, and a resend with a known `clientId` is answered without a second
//! broadcast. While one batch commits the next one gathers, so a slow disk makes
//! batches larger, not the chat slower.
//!
//! A batch refused because the database missed its deadline may still have
//! committed. Its senders are told `unavailable` and resend with the same
//! `clientId`; the resend finds the stored copy, which nobody has seen yet, so
//! it is broadcast then, once ([`Unsettled`]).

use std::collections::HashSet;
use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::error::ChatError;
use super::protocol::{Wire, event, file_url};
use super::{evict, rooms};
use crate::info::ServerInfo;
use crate::model::{Message, NewMessage};
use crate::store::{Appended, Store, StoreError};

/// Most messages stored in one transaction.
const MAX_BATCH: usize = 2048;
/// Submissions waiting for the pipeline before submitters wait in turn.
const QUEUE: usize = 16 * 1024;

/// What to do with a message's outcome: called once, in the pipeline's task,
/// right after the message is broadcast (or refused). Answering there rather
/// than waking the handler puts a sender's ack in its socket's queue together
/// with the batch's deliveries, so both go out in one write.
pub type Answer = Box<dyn FnOnce(Result<Appended, ChatError>) + Send>;

/// An [`Answer`] that is owed: if its job is dropped unanswered (the pipeline
/// stopped), it answers that the server is shutting down.
struct Owed(Option<Answer>);

impl Owed {
    fn answer(mut self, result: Result<Appended, ChatError>) {
        if let Some(answer) = self.0.take() {
            answer(result);
        }
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        if let Some(answer) = self.0.take() {
            answer(Err(stopped()));
        }
    }
}

enum Job {
    Send(NewMessage, Owed),
    Drain(oneshot::Sender<()>),
}

/// The submitting side of the pipeline; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    tx: mpsc::Sender<Job>,
}

/// The receiving side, handed to [`run`] once the Socket.IO server exists.
pub struct PipelineInbox {
    rx: mpsc::Receiver<Job>,
}

/// Creates a pipeline and the inbox its task will read.
pub fn channel() -> (Pipeline, PipelineInbox) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Pipeline { tx }, PipelineInbox { rx })
}

impl Pipeline {
    /// Queues a message; messages are stored and delivered in the order
    /// queued, and `answer` is called exactly once with the outcome.
    pub async fn enqueue(&self, message: NewMessage, answer: Answer) {
        // If the pipeline has stopped, the returned job drops and answers so.
        let _ = self.tx.send(Job::Send(message, Owed(Some(answer)))).await;
    }

    /// Waits until everything submitted before this call is stored and delivered.
    pub async fn drain(&self) {
        let (done, answer) = oneshot::channel();
        if self.tx.send(Job::Drain(done)).await.is_ok() {
            let _ = answer.await;
        }
    }
}

fn stopped() -> ChatError {
    ChatError::unavailable("the server is shutting down; try again in a moment")
}

/// Where plain clients are told files are: the server's best-known public
/// address (see [`ServerInfo::file_base`]).
pub type Addresses = Arc<std::sync::RwLock<ServerInfo>>;

/// Runs the pipeline until every [`Pipeline`] handle is dropped.
pub async fn run<A: Adapter>(
    mut inbox: PipelineInbox,
    store: Arc<dyn Store>,
    io: SocketIo<A>,
    at: Addresses,
) {
    let mut batch = Vec::new();
    let mut waiters = Vec::new();
    let mut drained = Vec::new();
    let mut unsettled = Unsettled::default();
    while let Some(first) = inbox.rx.recv().await {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Send(message, done) => {
                    batch.push(message);
                    waiters.push(done);
                }
                Job::Drain(done) => drained.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = inbox.rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let span = tracing::info_span!("batch", messages = batch.len());
            let stored =
                store_and_deliver(store.as_ref(), (&io, &at), &mut batch, &mut waiters, &mut unsettled);
            stored.instrument(span).await;
        }
        for done in drained.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Stores one batch in one transaction, then delivers and answers each
/// message in order; if the commit fails, every message in it is refused.
async fn store_and_deliver<A: Adapter>(
    store: &dyn Store,
    (io, at): (&SocketIo<A>, &Addresses),
    batch: &mut Vec<NewMessage>,
    waiters: &mut Vec<Owed>,
    unsettled: &mut Unsettled,
) {
    let resends: Vec<Option<u64>> = batch.iter().map(resend_key).collect();
    match store.append(std::mem::take(batch)).await {
        Ok(results) => {
            for ((appended, done), key) in results.into_iter().zip(waiters.drain(..)).zip(resends) {
                if unsettled.settle(&appended, key) {
                    broadcast(io, at, &appended.message).await;
                }
                done.answer(Ok(appended));
            }
        }
        Err(e) => {
            unsettled.remember(resends.into_iter().flatten().collect());
            tracing::error!(error = %e, "storing messages failed");
            let refusal = match e {
                StoreError::Unavailable(why) => ChatError::unavailable(why),
                _ => ChatError::unavailable("the message could not be stored; try again"),
            };
            for done in waiters.drain(..) {
                done.answer(Err(refusal.clone()));
            }
        }
    }
}

/// Delivers a stored message: `message:new` to rich members, the plain text to
/// seed-style clients whose current room it is. A member whose queue is full
/// is dropped before the next message (see [`evict`]).
async fn broadcast<A: Adapter>(io: &SocketIo<A>, at: &Addresses, message: &Message) {
    let (rich, seed) = rooms::delivery_rooms(&message.room);
    if let Err(e) = io.to(rich).emit(event::MESSAGE_NEW, &Wire(message)).await {
        evict::after_broadcast(io, &rooms::rich_room(&message.room), e);
    }
    if let Err(e) = io.to(seed).emit(event::MESSAGE, &plain_text(at, message)).await {
        evict::after_broadcast(io, &rooms::seed_room(&message.room), e);
    }
}

/// A message as plain clients get it: its text, then each file's absolute
/// URL on a line of its own.
fn plain_text<'a>(at: &Addresses, message: &'a Message) -> std::borrow::Cow<'a, str> {
    if message.files.is_empty() {
        return std::borrow::Cow::Borrowed(&message.text);
    }
    let base = at.read().unwrap_or_else(|p| p.into_inner()).file_base().to_owned();
    let urls = message.files.iter().map(|f| format!("{base}{}", file_url(f)));
    let lines: Vec<String> =
        std::iter::once(message.text.clone()).filter(|t| !t.is_empty()).chain(urls).collect();
    std::borrow::Cow::Owned(lines.join("\n"))
}

/// A send that can be resent, as its key: a hash of its room, author (the
/// parts of [`NewMessage::author`]) and `clientId`. Keys are kept instead of
/// the strings because they are taken for every batch on the send path and
/// needed only when a commit fails.
fn resend_key(m: &NewMessage) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let author = if m.stable { &m.user.id } else { &m.user.name };
    (&m.room, m.stable, author, m.client_id.as_deref()?).hash(&mut hasher);
    Some(hasher.finish())
}

/// Sends with a `clientId` whose batch was refused, so whether they were
/// stored is unknown. Kept until the resend, at most [`MAX_UNSETTLED`]; past
/// that they are forgotten, and a forgotten one's resend is answered but not
/// broadcast (members find it in history).
#[derive(Default)]
struct Unsettled(HashSet<u64>);

/// Most refused sends remembered.
const MAX_UNSETTLED: usize = 4096;

impl Unsettled {
    fn remember(&mut self, refused: Vec<u64>) {
        if self.0.len() + refused.len() > MAX_UNSETTLED {
            self.0.clear();
        }
        self.0.extend(refused);
    }

    /// Whether a stored message is yet to be broadcast: it is new, or it is
    /// the stored copy of a send that was refused (`key` is the send's [`resend_key`]).
    fn settle(&mut self, appended: &Appended, key: Option<u64>) -> bool {
        let refused = !self.0.is_empty() && key.is_some_and(|key| self.0.remove(&key));
        refused || !appended.duplicate
    }
}
