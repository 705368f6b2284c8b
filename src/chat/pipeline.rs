//! The send pipeline: group commit, then fan-out, in one ordered hand-off.
//!
//! Handlers submit accepted messages to one task. It drains whatever has queued
//! into a batch, stores the batch in one transaction, broadcasts each stored
//! message in id order, and only then answers each submitter. So a message is
//! durable before anyone sees it, every client sees a room's messages in id
//! order, and a resend with a known `clientId` is answered without a second
//! broadcast. While one batch commits the next one gathers, so a slow disk makes
//! batches larger, not the chat slower.

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::error::ChatError;
use super::protocol::{Wire, event};
use super::{evict, rooms};
use crate::model::{Message, NewMessage};
use crate::store::{Appended, Store};

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

/// Runs the pipeline until every [`Pipeline`] handle is dropped.
pub async fn run<A: Adapter>(mut inbox: PipelineInbox, store: Arc<dyn Store>, io: SocketIo<A>) {
    let mut batch = Vec::new();
    let mut waiters = Vec::new();
    let mut drained = Vec::new();
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
            store_and_deliver(store.as_ref(), &io, &mut batch, &mut waiters).instrument(span).await;
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
    io: &SocketIo<A>,
    batch: &mut Vec<NewMessage>,
    waiters: &mut Vec<Owed>,
) {
    match store.append(std::mem::take(batch)).await {
        Ok(results) => {
            for (appended, done) in results.into_iter().zip(waiters.drain(..)) {
                if !appended.duplicate {
                    broadcast(io, &appended.message).await;
                }
                done.answer(Ok(appended));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "storing messages failed");
            let refusal = ChatError::unavailable("the message could not be stored; try again");
            for done in waiters.drain(..) {
                done.answer(Err(refusal.clone()));
            }
        }
    }
}

/// Delivers a stored message: `message:new` to rich members, the plain text to
/// seed-style clients whose current room it is. A member whose queue is full
/// is dropped before the next message (see [`evict`]).
async fn broadcast<A: Adapter>(io: &SocketIo<A>, message: &Message) {
    let (rich, seed) = rooms::delivery_rooms(&message.room);
    if let Err(e) = io.to(rich).emit(event::MESSAGE_NEW, &Wire(message)).await {
        evict::after_broadcast(io, &rooms::rich_room(&message.room), e);
    }
    if let Err(e) = io.to(seed).emit(event::MESSAGE, &message.text).await {
        evict::after_broadcast(io, &rooms::seed_room(&message.room), e);
    }
}
