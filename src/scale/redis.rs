//! The Redis driver behind the Socket.IO adapter when several processes share
//! one chat.
//!
//! socketioxide-redis ships a driver on a plain multiplexed connection, which
//! stays broken after Redis restarts. This one sits on redis-rs's
//! `ConnectionManager`, which reconnects with backoff and re-subscribes to the
//! adapter's channels by itself, so a process recovers when Redis comes back.
//! Messages published while a process is cut off are not replayed (Redis
//! pub/sub keeps nothing); clients catch up from the store with `history`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushInfo, PushKind, RedisError};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

/// Channel name -> where its messages go.
type Routes = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// How often the connection is checked. A check on a lost connection makes
/// the manager reconnect and re-subscribe even when nobody is publishing.
const KEEPALIVE: Duration = Duration::from_millis(250);
/// How long a check may take before Redis counts as down: with
/// [`KEEPALIVE`], a stalled Redis shows in `/healthz` within 1 s. A healthy
/// Redis answers a PING in well under a millisecond.
const PING_DEADLINE: Duration = Duration::from_millis(750);

/// A [`Driver`] that survives Redis restarts.
#[derive(Clone)]
pub struct RedisFanout {
    conn: ConnectionManager,
    routes: Routes,
    up: Arc<AtomicBool>,
}

impl RedisFanout {
    /// Whether Redis answered the last check: shared with the health flags.
    pub fn up(&self) -> Arc<AtomicBool> {
        self.up.clone()
    }

    /// Connects, failing fast when Redis is not there at start, and keeps
    /// checking the connection in the background.
    pub async fn connect(client: redis::Client) -> Result<Self, RedisError> {
        let routes: Routes = Default::default();
        let deliver = routes.clone();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push: PushInfo| {
                route(push, &deliver);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        let up = Arc::new(AtomicBool::new(true));
        tokio::spawn(keepalive(conn.clone(), Arc::downgrade(&up)));
        Ok(Self { conn, routes, up })
    }
}

async fn keepalive(mut conn: ConnectionManager, up: std::sync::Weak<AtomicBool>) {
    loop {
        tokio::time::sleep(KEEPALIVE).await;
        let Some(up) = up.upgrade() else { return };
        let ping = redis::cmd("PING");
        let answer = tokio::time::timeout(PING_DEADLINE, ping.query_async::<String>(&mut conn)).await;
        let ok = matches!(answer, Ok(Ok(_)));
        if up.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("redis is reachable again; messages fan out across processes again");
            } else {
                tracing::error!(
                    "lost redis: refusing new messages until it is back (the chat keeps its connections)"
                );
            }
        }
    }
}

/// Hands a published message to the subscriber of its channel.
fn route(push: PushInfo, routes: &Routes) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(channel), Some(payload)) = (data.next(), data.next()) else { return };
    let (Ok(channel), Ok(payload)) =
        (redis::from_redis_value::<String>(channel), redis::from_redis_value::<Vec<u8>>(payload))
    else {
        tracing::warn!("unreadable message from redis");
        return;
    };
    if let Some(tx) = routes.read().unwrap_or_else(|p| p.into_inner()).get(&channel)
        && tx.try_send((channel, payload)).is_err()
    {
        tracing::warn!("redis subscriber is not keeping up; a message was dropped");
    }
}

impl Driver for RedisFanout {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), RedisError> {
        // While Redis is known to be down, fail at once: each publish would
        // otherwise wait out the response timeout, and broadcasts wait on it.
        if !self.up.load(Ordering::Relaxed) {
            return Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "redis is unreachable",
            )));
        }
        self.conn.clone().publish::<_, _, redis::Value>(chan, val).await?;
        Ok(())
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, RedisError> {
        let (tx, rx) = mpsc::channel(size);
        self.routes.write().unwrap_or_else(|p| p.into_inner()).insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan.as_str()).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), RedisError> {
        self.routes.write().unwrap_or_else(|p| p.into_inner()).remove(&chan);
        self.conn.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, RedisError> {
        let (_, count): (String, u16) =
            redis::cmd("PUBSUB").arg("NUMSUB").arg(chan).query_async(&mut self.conn.clone()).await?;
        Ok(count)
    }
}
