//! What can go wrong with a SQLite file under a running server, watched so
//! that `/healthz` says so and sends are refused rather than lost:
//!
//! - **A second server on the same file.** Both would number messages from
//!   their own counter and every commit of one would fail. [`FileGuard::lock`]
//!   takes an OS lock on `<db>.lock` for the process's lifetime, so the second
//!   refuses to start. A separate file, because SQLite itself takes POSIX
//!   locks on the database, and closing any descriptor of a file drops every
//!   POSIX lock the process holds on it.
//! - **The file deleted or replaced.** The open connections keep writing to
//!   the old, unlinked file, whose history vanishes on restart.
//!   [`FileGuard::check`] compares the device and inode at the path with the
//!   file that was opened.
//! - **Writes failing** (a full disk, an I/O error): [`LastWrite`] keeps the
//!   last write's error until a write succeeds again.

use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::StoreError;

/// The refusal while the file is gone, shown to people as is.
pub const GONE: &str = "the history database file was deleted or replaced while the server was \
                        running, so nothing more can be stored; restart the server";

/// The lock and identity of an open database file.
pub struct FileGuard {
    path: PathBuf,
    /// Device and inode of the file that was opened.
    identity: Option<(u64, u64)>,
    lock: Mutex<Option<File>>,
    reported: AtomicBool,
}

fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

impl FileGuard {
    /// Takes the lock for the database at `path`; fails when another process
    /// holds it. Call before opening the database.
    pub fn lock(path: &Path) -> Result<Self, StoreError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", lock_path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Unavailable(format!(
                    "another rtchat server is using it (it holds {})",
                    lock_path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::Backend(format!("cannot lock {}: {e}", lock_path.display())));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            identity: None,
            lock: Mutex::new(Some(file)),
            reported: false.into(),
        })
    }

    /// Remembers which file is open at the path. Call right after opening it.
    pub fn opened(mut self) -> Result<Self, StoreError> {
        let id = identity(&self.path)
            .map_err(|e| StoreError::Backend(format!("cannot read {}: {e}", self.path.display())))?;
        self.identity = Some(id);
        Ok(self)
    }

    /// Fails while the file at the path is not the one that was opened.
    pub fn check(&self) -> Result<(), StoreError> {
        let now = identity(&self.path).ok();
        if now.is_some() && now == self.identity {
            return Ok(());
        }
        if !self.reported.swap(true, Ordering::Relaxed) {
            tracing::error!(
                path = %self.path.display(),
                "the database file was deleted or replaced; refusing writes until the server is restarted"
            );
        }
        Err(StoreError::Unavailable(GONE.into()))
    }

    /// Lets another process open the database (the store is closed).
    pub fn release(&self) {
        self.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The last write's error, until a write succeeds.
#[derive(Default)]
pub struct LastWrite(Mutex<Option<String>>);

impl LastWrite {
    /// Records a write's outcome: a database failure is kept, a success
    /// clears it, and a refusal that is not a failure (a taken room id) changes nothing.
    pub fn record<T>(&self, outcome: &Result<T, StoreError>) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(_) => *last = None,
            Err(StoreError::Backend(e)) => *last = Some(e.clone()),
            Err(_) => {}
        }
    }

    /// Fails with the last write's error, if the last write failed.
    pub fn check(&self) -> Result<(), StoreError> {
        match &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(StoreError::Backend(format!("the last write failed: {e}"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_write_error_is_kept_until_a_write_succeeds() {
        let last = LastWrite::default();
        assert!(last.check().is_ok());
        last.record::<()>(&Err(StoreError::Backend("database or disk is full".into())));
        let err = last.check().unwrap_err().to_string();
        assert!(err.contains("the last write failed: database or disk is full"), "{err}");
        last.record::<()>(&Err(StoreError::RoomExists("a".into())));
        assert!(last.check().is_err(), "a taken room id is no failure and clears nothing");
        last.record(&Ok(()));
        assert!(last.check().is_ok());
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("chat.db");
        let first = FileGuard::lock(&db).unwrap();
        let Err(StoreError::Unavailable(why)) = FileGuard::lock(&db) else { panic!("locked twice") };
        assert!(why.contains("chat.db.lock"), "{why}");
        first.release();
        FileGuard::lock(&db).unwrap();
    }
}
