//! The shared services scaled-out tests need: Redis and PostgreSQL, named by
//! `RTCHAT_TEST_REDIS_URL` and `RTCHAT_TEST_DATABASE_URL`. Each test gets its
//! own fresh database and Redis channel prefix, so tests never see each other.

use tokio_postgres::NoTls;

pub struct Services {
    pub redis: String,
    admin: String,
}

/// A database created for one test; dropped (forcibly) with it.
pub struct Database {
    pub url: String,
    name: String,
    admin: String,
}

impl Services {
    /// The services from the environment. Tests that need them are
    /// `#[ignore]`d; run with `--include-ignored` without them, they fail here
    /// saying what to set.
    #[track_caller]
    pub fn from_env() -> Services {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        match (var("RTCHAT_TEST_REDIS_URL"), var("RTCHAT_TEST_DATABASE_URL")) {
            (Some(redis), Some(admin)) => Services { redis, admin },
            _ => panic!(
                "this test needs Redis and PostgreSQL: set RTCHAT_TEST_REDIS_URL and RTCHAT_TEST_DATABASE_URL (see the README's \"Test it\")"
            ),
        }
    }

    /// A fresh, empty database.
    pub async fn database(&self) -> Database {
        let name = format!("rtchat_t_{}", rtchat::chat::random_hex(6));
        let (client, conn) =
            tokio_postgres::connect(&self.admin, NoTls).await.expect("connect to the test database");
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
        Database { url: with_database(&self.admin, &name), name, admin: self.admin.clone() }
    }

    /// A Redis channel prefix no other test uses.
    pub fn prefix(&self) -> String {
        format!("rtchat-test-{}", rtchat::chat::random_hex(6))
    }

    /// The Redis server's `host:port`.
    pub fn redis_addr(&self) -> String {
        let (_, authority, _) = split_authority(&self.redis);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            host_port.to_owned()
        } else {
            format!("{host_port}:6379")
        }
    }

    /// The Redis URL, credentials and database kept, pointing at `addr` instead.
    pub fn redis_at(&self, addr: std::net::SocketAddr) -> String {
        let (scheme, authority, rest) = split_authority(&self.redis);
        let user = authority.rsplit_once('@').map_or(String::new(), |(u, _)| format!("{u}@"));
        format!("{scheme}{user}{addr}{rest}")
    }
}

/// `url` as (`scheme://`, authority, path and query).
fn split_authority(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    (&url[..start], &url[start..end], &url[end..])
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Best effort, on a thread with its own runtime: Drop cannot await.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&admin, NoTls).await {
                    tokio::spawn(conn);
                    let _ =
                        client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}
