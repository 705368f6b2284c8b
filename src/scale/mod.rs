//! Several processes as one chat: the Redis driver behind the Socket.IO
//! adapter ([`redis`]) and whether the shared services answer ([`health`]).
//! PostgreSQL, the history they share, is a store (`crate::store::postgres`).

pub mod health;
pub mod redis;

use std::future::Future;

use socketioxide_redis::{CustomRedisAdapter, InitRes, RedisAdapterConfig, RedisAdapterCtr};

pub use health::Health;
pub use redis::RedisFanout;

use crate::store::redact;

/// How long connecting to Redis at startup may take. With the database's
/// deadline (`store::deadline::OPEN`) and [`SUBSCRIBE_DEADLINE`], a start
/// against a stalled service gives up within 10 s.
const CONNECT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);
/// How long subscribing to the adapter's channels at startup may take.
const SUBSCRIBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a request to every process (a member list, a person's rooms)
/// waits for one that does not answer: a stalled process, or one that just
/// died while Redis still counts its subscription. The adapter's default, 5 s,
/// is as long as a client waits for any ack, so a join right after another
/// process crashed could time out at the client.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The Socket.IO adapter of a scaled-out chat.
pub type RedisAdapter<E> = CustomRedisAdapter<E, RedisFanout>;

/// `--redis` and `--redis-prefix`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The Redis URL, asking for RESP3: the adapter needs push messages (Redis 6+).
    pub url: String,
    /// Prefix of the adapter's channels, so several chats can share one Redis.
    pub prefix: String,
}

impl RedisConfig {
    /// Checks a Redis URL and channel prefix; the error is one sentence naming the fix.
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let url = url.trim();
        let valid = (url.starts_with("redis://") || url.starts_with("rediss://"))
            && ::redis::Client::open(url).is_ok();
        if !valid {
            return Err(format!(
                "--redis {:?} is not a Redis URL; write it as redis://host:port",
                redact(url)
            ));
        }
        let prefix = prefix.trim();
        if prefix.is_empty() || prefix.contains('#') {
            return Err("--redis-prefix must be non-empty and without '#'".into());
        }
        let url = if url.contains("protocol=") {
            url.to_owned()
        } else {
            format!("{url}{}protocol=resp3", if url.contains('?') { '&' } else { '?' })
        };
        Ok(Self { url, prefix: prefix.to_owned() })
    }

    /// Connects to Redis: the adapter's settings and the health flag it keeps.
    /// Fails fast, with the fix in the message, when Redis is not there.
    pub async fn connect(&self) -> anyhow::Result<(RedisAdapterCtr<RedisFanout>, Health)> {
        let fix = "check that Redis is running and the --redis URL is right";
        let client = ::redis::Client::open(self.url.as_str())
            .map_err(|e| anyhow::anyhow!("cannot use Redis at {}: {e}; {fix}", redact(&self.url)))?;
        let driver = match tokio::time::timeout(CONNECT_DEADLINE, RedisFanout::connect(client)).await {
            Ok(connected) => connected.map_err(|e| e.to_string()),
            Err(_) => Err(format!("it did not answer within {CONNECT_DEADLINE:?}")),
        }
        .map_err(|e| anyhow::anyhow!("cannot connect to Redis at {}: {e}; {fix}", redact(&self.url)))?;
        let health = Health::with_redis(driver.up());
        let config =
            RedisAdapterConfig::new().with_prefix(self.prefix.clone()).with_request_timeout(REQUEST_TIMEOUT);
        Ok((RedisAdapterCtr::new_with_driver(driver, config), health))
    }
}

/// An adapter's start, as returned when the chat registers its namespace:
/// done at once in one process, done once subscribed when scaled out.
pub trait AdapterStart {
    /// Waits until the adapter can deliver.
    fn started(self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

impl AdapterStart for () {
    async fn started(self) -> anyhow::Result<()> {
        Ok(())
    }
}

impl AdapterStart for InitRes<RedisFanout> {
    async fn started(self) -> anyhow::Result<()> {
        let subscribed = match tokio::time::timeout(SUBSCRIBE_DEADLINE, self).await {
            Ok(subscribed) => subscribed.map_err(|e| e.to_string()),
            Err(_) => Err(format!("Redis did not answer within {SUBSCRIBE_DEADLINE:?}")),
        };
        subscribed.map_err(|e| {
            anyhow::anyhow!(
                "cannot subscribe to Redis: {e}; check that Redis is running and the --redis URL is right"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_ask_for_resp3_and_bad_ones_name_the_flag() {
        let c = RedisConfig::new(" redis://127.0.0.1:6379 ", "chat").unwrap();
        assert_eq!(
            c,
            RedisConfig { url: "redis://127.0.0.1:6379?protocol=resp3".into(), prefix: "chat".into() }
        );
        assert_eq!(RedisConfig::new("redis://h/0?x=1", "p").unwrap().url, "redis://h/0?x=1&protocol=resp3");
        assert_eq!(
            RedisConfig::new("redis://h?protocol=resp3", "p").unwrap().url,
            "redis://h?protocol=resp3"
        );
        for (url, prefix, flag) in [
            ("http://h", "p", "--redis "),
            ("redis://u:pw@", "p", "--redis "),
            ("redis://h", "", "--redis-prefix"),
        ] {
            let err = RedisConfig::new(url, prefix).unwrap_err();
            assert!(err.contains(flag) && !err.contains("pw"), "{url}: {err}");
        }
    }
}
