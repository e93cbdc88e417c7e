//! The durable store: one SQLite file in the data directory, WAL journal; a write is on disk
//! (the WAL fsynced after its commit) before its request gets an answer.
//!
//! Four parts, one file each:
//!
//! * [`schema`]: the tables, versioned with `PRAGMA user_version` and upgraded by ordered
//!   migration steps at open;
//! * [`writer`]: the thread that owns the read-write connection and runs every write, many to
//!   a commit (group commit);
//! * [`durability`]: the threads that fsync the WAL before any write is answered and copy the
//!   WAL into the database file (checkpoints), and what a failed fsync stops;
//! * [`sql`]: the statements of reads and writes behind the [`Reader`] and [`Tx`] traits.
//!
//! This file opens the database, starts the three threads (writer, syncer, checkpointer) and
//! serves reads: a small pool of read-only connections on the blocking thread pool, which in
//! WAL mode never wait for the writer. Documents are opaque JSON text here; nothing in this
//! directory knows about Evidently.

mod durability;
mod schema;
mod sql;
mod writer;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

pub use schema::DATABASE_FILE;

use super::{Reader, Store, StoreError, Tx};
use durability::{Broken, checkpoint_hook, checkpoint_loop, sync_loop};
use sql::Conn;
use writer::{Job, Msg, WriteJob, write_loop};

/// Read-only connections; reads beyond this many at once wait for one to be free.
const READERS: usize = 4;

struct Inner {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writer: mpsc::Sender<Msg>,
}

impl Drop for Inner {
    /// The syncer holds a sender of the writer's queue too, so the queue never closes by
    /// itself: the last clone of the store says when to stop.
    fn drop(&mut self) {
        let _ = self.writer.send(Msg::Shutdown);
    }
}

/// The SQLite store. Clones share the connections and the three threads; the writer ends
/// (after committing what is queued), then the syncer (after answering it) and the
/// checkpointer, when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database in `data_dir`, which is created if
    /// missing.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_error)?;
        // journal_mode is the first statement that touches the file, so a read-only
        // directory fails here, with the path in the message.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(open_error)?;
        // NORMAL: the commit does not fsync; the syncer thread does, before any answer.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
        )?;
        schema::migrate(&mut conn)?;
        // The WAL exists once the connection has written in WAL mode; make sure of it, so that
        // the syncer's handle is the file SQLite writes.
        conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")?;
        let wal_path = PathBuf::from(format!("{}-wal", path.display()));
        // Opened for writing (never written): some systems only sync a writable handle.
        let wal = std::fs::OpenOptions::new()
            .write(true)
            .open(&wal_path)
            .map_err(|source| StoreError::Wal {
                path: wal_path.display().to_string(),
                source,
            })?;

        let checkpointer = Connection::open(&path).map_err(open_error)?;
        checkpointer.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")?;
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let broken = Broken::default();
        conn.wal_hook(Some(checkpoint_hook(wake, broken.clone())))?;

        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(open_error)?;
            // Temporary tables and sorts stay in memory: in the cluster the root filesystem is
            // read-only and only the data directory is writable.
            reader.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;")?;
            readers.push(Mutex::new(reader));
        }

        let (writer, queue) = mpsc::channel::<Msg>();
        let (to_sync, committed) = mpsc::channel::<Vec<Box<dyn Job>>>();
        let spawn = |name: &'static str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(drop)
                .map_err(|source| StoreError::Thread { name, source })
        };
        let b = broken.clone();
        spawn(
            "sqlite-checkpoint",
            Box::new(move || checkpoint_loop(checkpointer, woken, b)),
        )?;
        let (b, synced) = (broken.clone(), writer.clone());
        spawn(
            "sqlite-sync",
            Box::new(move || sync_loop(wal, committed, synced, b)),
        )?;
        spawn(
            "sqlite-writer",
            Box::new(move || write_loop(conn, queue, to_sync, broken)),
        )?;

        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers,
                next_reader: AtomicUsize::new(0),
                writer,
            }),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SqliteStore {
    fn read<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&dyn Reader) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        async move {
            let task = tokio::task::spawn_blocking(move || {
                let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
                let conn = inner.readers[i].lock().unwrap_or_else(|e| e.into_inner());
                // One read transaction: every statement of `f` sees the same snapshot. It is
                // rolled back when dropped, which for a reader only ends the snapshot.
                let tx = conn.unchecked_transaction().map_err(StoreError::from)?;
                f(&Conn(&tx))
            });
            task.await
                .unwrap_or_else(|e| Err(E::from(StoreError::Join(e))))
        }
    }

    fn write<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob {
            f: Some(f),
            result: None,
            reply,
        });
        let queued = self.inner.writer.send(Msg::Job(job)).is_ok();
        async move {
            if !queued {
                return Err(E::from(StoreError::Closed));
            }
            answer.await.unwrap_or(Err(E::from(StoreError::Closed)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{Key, Kind};

    #[tokio::test]
    async fn a_committed_write_is_seen_by_a_new_store_on_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::new(Kind::Project, "", "p");
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            let k = key.clone();
            store
                .write(move |tx| tx.put(&k, None, "{\"name\":\"p\"}"))
                .await
                .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let doc = store.read(move |r| r.get(&key)).await.unwrap();
        assert_eq!(doc.as_deref(), Some("{\"name\":\"p\"}"));
    }

    #[test]
    fn an_unusable_data_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = SqliteStore::open(&file.join("data")).unwrap_err();
        assert!(err.to_string().contains("data directory"), "{err}");
    }
}

/// What the tests of the four parts share.
#[cfg(test)]
mod testing {
    use std::future::Future;

    use super::*;
    use crate::emulator::store::{Key, Kind};

    /// Keeps the writer busy until the sender is used, so that the writes queued meanwhile are
    /// committed in one batch, each in its savepoint.
    pub(super) fn hold_writer(
        store: &SqliteStore,
    ) -> (
        impl Future<Output = Result<(), StoreError>>,
        mpsc::Sender<()>,
    ) {
        let (release, held) = mpsc::channel::<()>();
        let write = store.write(move |_| held.recv().map_err(|_| StoreError::Closed));
        (write, release)
    }

    pub(super) async fn referrers(store: &SqliteStore, target: &Key) -> Vec<Key> {
        let target = target.clone();
        store.read(move |r| r.referrers(&target)).await.unwrap()
    }

    pub(super) fn launch(name: &str) -> Key {
        Key::new(Kind::Launch, "p", name)
    }

    pub(super) async fn counts(store: &SqliteStore) -> (u64, u64, u64) {
        store
            .read(|r| {
                Ok::<_, StoreError>((
                    r.count(Kind::Launch, "p", None)?,
                    r.count(Kind::Launch, "p", Some("CREATED"))?,
                    r.count(Kind::Launch, "p", Some("RUNNING"))?,
                ))
            })
            .await
            .unwrap()
    }
}
