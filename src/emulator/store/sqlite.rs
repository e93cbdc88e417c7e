//! The durable store: one SQLite file in the data directory, WAL journal, `synchronous=FULL`,
//! so a write is on disk before its request gets a 200.
//!
//! * One writer thread owns the read-write connection. Requests queue their closures to it; it
//!   runs every closure already queued in one transaction (each inside its own savepoint, so a
//!   failing one leaves the others alone) and commits once: group commit, one fsync for many
//!   writers, and a reply to each only after the commit.
//! * Reads run on a small pool of read-only connections on the blocking thread pool; in WAL
//!   mode they never wait for the writer.
//! * The schema is versioned with `PRAGMA user_version` and upgraded by ordered migration steps
//!   at open.
//!
//! Documents are opaque JSON text here; this file knows nothing about Evidently.

use std::{
    any::Any,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Key, Kind, Reader, Record, Store, StoreError, Tx};

/// The schema, one step per version: step `i` takes `user_version` from `i` to `i + 1`.
/// Never edit a released step; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: documents and the launch → feature/segment references.
    "CREATE TABLE resources (
         kind   TEXT NOT NULL,
         scope  TEXT NOT NULL,
         name   TEXT NOT NULL,
         status TEXT,
         doc    TEXT NOT NULL,
         PRIMARY KEY (kind, scope, name)
     ) WITHOUT ROWID;
     CREATE INDEX resources_by_status ON resources (kind, scope, status, name);
     CREATE TABLE refs (
         src_kind  TEXT NOT NULL,
         src_scope TEXT NOT NULL,
         src_name  TEXT NOT NULL,
         dst_kind  TEXT NOT NULL,
         dst_scope TEXT NOT NULL,
         dst_name  TEXT NOT NULL,
         PRIMARY KEY (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name)
     ) WITHOUT ROWID;
     CREATE INDEX refs_by_target ON refs (dst_kind, dst_scope, dst_name);",
];

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "evidently.db";

/// Read-only connections; reads beyond this many at once wait for one to be free.
const READERS: usize = 4;

/// Most closures committed together.
const MAX_BATCH: usize = 128;

/// A write queued to the writer thread.
trait Job: Send {
    /// Runs the closure; true if its changes are to be kept.
    fn run(&mut self, tx: &mut dyn Tx) -> bool;
    /// Replies, once the batch's commit has succeeded or failed.
    fn finish(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct WriteJob<F, R, E> {
    f: Option<F>,
    result: Option<Result<R, E>>,
    reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for WriteJob<F, R, E>
where
    F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send,
    R: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, tx: &mut dyn Tx) -> bool {
        let Some(f) = self.f.take() else { return false };
        let result = match std::panic::catch_unwind(AssertUnwindSafe(|| f(tx))) {
            Ok(r) => r,
            Err(panic) => Err(E::from(StoreError::Task(panic_message(&panic)))),
        };
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn finish(self: Box<Self>, committed: Result<(), &StoreError>) {
        let reply = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(r)), Ok(())) => Ok(r),
            (_, Err(e)) => Err(E::from(StoreError::Commit(e.to_string()))),
            (None, Ok(())) => Err(E::from(StoreError::Commit("not run".into()))),
        };
        // The requester may have gone away (client disconnected); the write stands anyway.
        let _ = self.reply.send(reply);
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

struct Inner {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writer: mpsc::Sender<Box<dyn Job>>,
}

/// The SQLite store. Clones share the connections and the writer thread; the writer thread
/// ends (after committing what is queued) when the last clone is dropped.
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
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
        )?;
        migrate(&mut conn)?;

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

        let (writer, queue) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(conn, queue))
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;

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

/// Applies the migration steps the database has not seen yet, each in its own transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn write_loop(conn: Connection, queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = run_batch(&conn, &mut batch);
        if outcome.is_err() {
            // Leave no transaction open behind a failed batch.
            let _ = conn.execute_batch("ROLLBACK");
        }
        for job in batch {
            job.finish(outcome.as_ref().map(|_| ()));
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let exec = |sql: &str| -> Result<(), StoreError> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    exec("BEGIN IMMEDIATE")?;
    if let [job] = batch {
        // Alone in its batch: the transaction is the job's.
        if job.run(&mut Conn(conn)) {
            exec("COMMIT")?;
        } else {
            exec("ROLLBACK")?;
        }
        return Ok(());
    }
    for job in batch.iter_mut() {
        exec("SAVEPOINT job")?;
        let keep = job.run(&mut Conn(conn));
        if !keep {
            exec("ROLLBACK TO job")?;
        }
        exec("RELEASE job")?;
    }
    exec("COMMIT")?;
    Ok(())
}

/// A connection inside a transaction, seen through the store traits.
struct Conn<'a>(&'a Connection);

fn kind_of(s: String) -> Result<Kind, StoreError> {
    Kind::parse(&s).ok_or_else(|| StoreError::Task(format!("unknown kind {s:?} in the database")))
}

impl Reader for Conn<'_> {
    fn get(&self, key: &Key) -> Result<Option<String>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT doc FROM resources WHERE kind = ?1 AND scope = ?2 AND name = ?3",
        )?;
        Ok(stmt
            .query_row(params![key.kind.as_str(), key.scope, key.name], |row| {
                row.get(0)
            })
            .optional()?)
    }

    fn list(
        &self,
        kind: Kind,
        scope: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT name, doc FROM resources
             WHERE kind = ?1 AND scope = ?2 AND name > ?3 AND (?4 IS NULL OR status = ?4)
             ORDER BY name LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                kind.as_str(),
                scope,
                after.unwrap_or(""),
                status,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| {
                Ok(Record {
                    name: row.get(0)?,
                    doc: row.get(1)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count(&self, kind: Kind, scope: &str, status: Option<&str>) -> Result<u64, StoreError> {
        // Counted on the (kind, scope, status, name) index, not the table: the quota checks
        // of every create count up to 500 rows, and the table's rows carry whole documents.
        let n: i64 = match status {
            None => self
                .0
                .prepare_cached(
                    "SELECT count(*) FROM resources INDEXED BY resources_by_status
                     WHERE kind = ?1 AND scope = ?2",
                )?
                .query_row(params![kind.as_str(), scope], |row| row.get(0))?,
            Some(status) => self
                .0
                .prepare_cached(
                    "SELECT count(*) FROM resources INDEXED BY resources_by_status
                     WHERE kind = ?1 AND scope = ?2 AND status = ?3",
                )?
                .query_row(params![kind.as_str(), scope, status], |row| row.get(0))?,
        };
        Ok(u64::try_from(n).unwrap_or_default())
    }

    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT src_kind, src_scope, src_name FROM refs
             WHERE dst_kind = ?1 AND dst_scope = ?2 AND dst_name = ?3
             ORDER BY src_kind, src_scope, src_name",
        )?;
        let rows = stmt.query_map(
            params![target.kind.as_str(), target.scope, target.name],
            |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, scope, name) = row?;
            out.push(Key {
                kind: kind_of(kind)?,
                scope,
                name,
            });
        }
        Ok(out)
    }
}

impl Tx for Conn<'_> {
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, scope, name) DO UPDATE SET status = excluded.status, doc = excluded.doc",
        )?;
        stmt.execute(params![key.kind.as_str(), key.scope, key.name, status, doc])?;
        Ok(())
    }

    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        let mut clear = self.0.prepare_cached(
            "DELETE FROM refs WHERE src_kind = ?1 AND src_scope = ?2 AND src_name = ?3",
        )?;
        clear.execute(params![source.kind.as_str(), source.scope, source.name])?;
        let mut insert = self.0.prepare_cached(
            "INSERT OR IGNORE INTO refs (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for t in targets {
            insert.execute(params![
                source.kind.as_str(),
                source.scope,
                source.name,
                t.kind.as_str(),
                t.scope,
                t.name
            ])?;
        }
        Ok(())
    }

    fn delete(&mut self, key: &Key) -> Result<bool, StoreError> {
        self.set_refs(key, &[])?;
        let mut stmt = self
            .0
            .prepare_cached("DELETE FROM resources WHERE kind = ?1 AND scope = ?2 AND name = ?3")?;
        Ok(stmt.execute(params![key.kind.as_str(), key.scope, key.name])? > 0)
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
            match task.await {
                Ok(result) => result,
                Err(e) => Err(E::from(StoreError::Task(e.to_string()))),
            }
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
        let queued = self.inner.writer.send(job).is_ok();
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

    #[tokio::test]
    async fn a_failed_closure_leaves_no_trace_and_does_not_undo_its_batch_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let ok = store.write(|tx| tx.put(&Key::new(Kind::Segment, "", "a"), None, "{}"));
        let failed = store.write(|tx| {
            tx.put(&Key::new(Kind::Segment, "", "b"), None, "{}")?;
            Err::<(), StoreError>(StoreError::Closed)
        });
        let (ok, failed) = tokio::join!(ok, failed);
        ok.unwrap();
        assert!(failed.is_err());
        let names = store
            .read(|r| r.list(Kind::Segment, "", None, None, 10))
            .await
            .unwrap();
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].name, "a");
    }

    #[test]
    fn the_database_is_in_wal_mode_with_the_latest_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = Connection::open(store.path()).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_database_from_a_newer_emulator_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(dir.path()),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
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
