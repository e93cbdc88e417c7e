//! The durable store: one SQLite file in the data directory, WAL journal; a write is on disk
//! (the WAL fsynced after its commit) before its request gets an answer.
//!
//! Three threads, so that no thread waits for the disk while it could be doing work:
//!
//! * The **writer** owns the read-write connection. Requests queue their closures to it; it
//!   runs each as it arrives in one open transaction (each inside its own savepoint, so a
//!   failing one leaves the others alone) and commits when the syncer is free: group commit,
//!   one commit per fsync however many writes arrived during the last one (more only when
//!   [`MAX_BATCH`] writes are waiting). The connection runs
//!   with `synchronous=NORMAL`, so the commit only writes the WAL; the writer hands the batch to
//!   the syncer and goes on with the next one.
//! * The **syncer** fsyncs the WAL file and only then answers the batches committed before the
//!   fsync began: as with `synchronous=FULL`, a write is on disk before its answer, with one
//!   fsync for every batch that waited on it and the writer never waiting on one. A failed
//!   fsync answers its batches with an error and stops all later writes and checkpoints (the
//!   disk may have dropped them), which also fails `/readyz`.
//! * The **checkpointer**, with its own connection, copies the WAL into the database file
//!   (passive checkpoints) whenever the WAL has grown by [`CHECKPOINT_FRAMES`], off the
//!   writer's path. Only when the WAL reaches [`WRITER_CHECKPOINT_FRAMES`] (sustained writes
//!   keep a concurrent checkpoint from ever catching up, and the WAL can only start over once
//!   one has) does the writer checkpoint between two batches itself.
//!
//! Reads run on a small pool of read-only connections on the blocking thread pool; in WAL mode
//! they never wait for the writer. Unlike `synchronous=FULL`, a read can see a write whose
//! fsync is still running (its writer has not been answered yet); only an operating-system
//! crash or power loss in that window could then take it back. And where FULL would leave a
//! commit whose fsync failed invisible, here it stays visible to reads until a restart, after
//! which the database holds every acknowledged write and perhaps some of the writes that were
//! answered with the fsync error. Both need the disk or the OS to fail.
//!
//! The schema is versioned with `PRAGMA user_version` and upgraded by ordered migration steps
//! at open. Documents are opaque JSON text here; this file knows nothing about Evidently.

use std::{
    ffi::c_int,
    fs::File,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc,
    },
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, hooks::Wal, params, wal::CheckpointMode};
use tokio::sync::oneshot;

use super::{Key, Kind, Reader, Record, Store, StoreError, Tx, panicked, storable_status};

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
    // 2: every create wrote four B-trees (the documents, the status index, the references by
    // source and by target), so each commit wrote about four pages per create. Now two:
    // * counts per (kind, scope) (status '') and per (kind, scope, status), kept by triggers,
    //   replace counting rows, and the status index goes (a list by status scans its scope);
    // * references are kept by target only; each source's own list of targets is a column of
    //   its row, which is written anyway.
    "CREATE TABLE counts (
         kind   TEXT NOT NULL,
         scope  TEXT NOT NULL,
         status TEXT NOT NULL,
         n      INTEGER NOT NULL,
         PRIMARY KEY (kind, scope, status)
     ) WITHOUT ROWID;
     INSERT INTO counts (kind, scope, status, n)
         SELECT kind, scope, '', count(*) FROM resources GROUP BY kind, scope;
     INSERT INTO counts (kind, scope, status, n)
         SELECT kind, scope, status, count(*) FROM resources WHERE status IS NOT NULL
         GROUP BY kind, scope, status;
     CREATE TRIGGER resources_counted AFTER INSERT ON resources BEGIN
         INSERT INTO counts (kind, scope, status, n) VALUES (NEW.kind, NEW.scope, '', 1)
             ON CONFLICT (kind, scope, status) DO UPDATE SET n = n + 1;
         INSERT INTO counts (kind, scope, status, n)
             SELECT NEW.kind, NEW.scope, NEW.status, 1 WHERE NEW.status IS NOT NULL
             ON CONFLICT (kind, scope, status) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER resources_recounted AFTER UPDATE OF status ON resources
     WHEN OLD.status IS NOT NEW.status BEGIN
         UPDATE counts SET n = n - 1
             WHERE kind = OLD.kind AND scope = OLD.scope AND status = OLD.status;
         INSERT INTO counts (kind, scope, status, n)
             SELECT NEW.kind, NEW.scope, NEW.status, 1 WHERE NEW.status IS NOT NULL
             ON CONFLICT (kind, scope, status) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER resources_uncounted AFTER DELETE ON resources BEGIN
         UPDATE counts SET n = n - 1
             WHERE kind = OLD.kind AND scope = OLD.scope AND status IN ('', OLD.status);
     END;
     DROP INDEX resources_by_status;
     ALTER TABLE resources ADD COLUMN refs TEXT;
     CREATE TABLE referrers (
         dst_kind  TEXT NOT NULL,
         dst_scope TEXT NOT NULL,
         dst_name  TEXT NOT NULL,
         src_kind  TEXT NOT NULL,
         src_scope TEXT NOT NULL,
         src_name  TEXT NOT NULL,
         PRIMARY KEY (dst_kind, dst_scope, dst_name, src_kind, src_scope, src_name)
     ) WITHOUT ROWID;
     INSERT INTO referrers SELECT dst_kind, dst_scope, dst_name, src_kind, src_scope, src_name
         FROM refs WHERE EXISTS (
             SELECT 1 FROM resources WHERE kind = refs.src_kind AND scope = refs.src_scope
               AND name = refs.src_name);
     UPDATE resources SET refs = (
         SELECT json_group_array(json_array(dst_kind, dst_scope, dst_name)) FROM refs
         WHERE src_kind = resources.kind AND src_scope = resources.scope
           AND src_name = resources.name)
     WHERE EXISTS (
         SELECT 1 FROM refs WHERE src_kind = resources.kind AND src_scope = resources.scope
           AND src_name = resources.name);
     DROP TABLE refs;",
];

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "evidently.db";

/// Read-only connections; reads beyond this many at once wait for one to be free.
const READERS: usize = 4;

/// Most closures committed together.
const MAX_BATCH: usize = 128;

/// WAL growth (in pages) after which the checkpointer copies the WAL into the database.
const CHECKPOINT_FRAMES: c_int = 1000;

/// WAL size (in pages, 4 KiB each) at which the writer checkpoints itself after a commit, so
/// that the WAL can start over and stays bounded however long writes go on (unless a read
/// holds its snapshot for longer than the writes take to fill it).
const WRITER_CHECKPOINT_FRAMES: c_int = 8000;

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
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(tx)))
            .unwrap_or_else(|panic| Err(E::from(panicked(panic))));
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

/// Set when an fsync of the WAL failed: nothing is written after that.
#[derive(Clone, Default)]
struct Broken(Arc<AtomicBool>);

impl Broken {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn error() -> StoreError {
        StoreError::Commit(
            "an earlier write could not be synced to disk, so the emulator takes no more \
             writes; restart it (the database keeps every acknowledged write)"
                .into(),
        )
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
        migrate(&mut conn)?;
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

/// The writer's WAL hook, called after each commit with the WAL's size: wakes the
/// checkpointer each time the WAL has grown by [`CHECKPOINT_FRAMES`], and checkpoints on the
/// writer at [`WRITER_CHECKPOINT_FRAMES`]. (Installing it turns SQLite's own automatic
/// checkpoints off.) It never fails the commit: an error here would report a commit that
/// happened as failed.
fn checkpoint_hook(
    wake: mpsc::SyncSender<()>,
    broken: Broken,
) -> impl FnMut(&mut Wal, c_int) -> rusqlite::Result<()> + Send + 'static {
    let (mut woken_at, mut last): (c_int, c_int) = (0, 0);
    move |wal, frames| {
        // After a failed fsync, as in the checkpointer: no WAL frame goes into the database.
        if broken.is_set() {
            return Ok(());
        }
        if frames < last {
            // The WAL started over.
            woken_at = 0;
        }
        last = frames;
        if frames >= WRITER_CHECKPOINT_FRAMES {
            if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                tracing::debug!(error = %e, frames, "writer checkpoint did not run");
            }
        } else if frames - woken_at >= CHECKPOINT_FRAMES {
            // A wake-up already queued is as good as a second one.
            let _ = wake.try_send(());
            woken_at = frames;
        }
        Ok(())
    }
}

fn checkpoint_loop(conn: Connection, woken: mpsc::Receiver<()>, broken: Broken) {
    while woken.recv().is_ok() {
        // After a failed fsync the WAL may hold commits that were answered with an error; they
        // are not copied into the database.
        if broken.is_set() {
            continue;
        }
        if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            tracing::warn!(error = %e, "checkpoint failed");
        }
    }
}

/// What the writer's queue carries.
enum Msg {
    /// A write to run.
    Job(Box<dyn Job>),
    /// The syncer has answered everything handed to it.
    Synced,
    /// The store is gone: commit what is open and stop.
    Shutdown,
}

/// The writer: runs each job as it arrives, inside one open transaction (each job in its own
/// savepoint), and commits when the syncer is free to fsync what it commits. While the syncer
/// is busy the transaction stays open and takes every job that arrives: those jobs would wait
/// for the next fsync anyway, and one commit of many writes costs the writer far less than
/// many commits (the pages they share are written to the WAL once).
fn write_loop(
    conn: Connection,
    queue: mpsc::Receiver<Msg>,
    to_sync: mpsc::Sender<Vec<Box<dyn Job>>>,
    broken: Broken,
) {
    let mut open = Open::default();
    // Whether a committed batch is with the syncer.
    let mut syncing = false;
    let mut running = true;
    while running {
        let mut next = Some(queue.recv().unwrap_or(Msg::Shutdown));
        while let Some(msg) = next.take() {
            match msg {
                Msg::Job(job) => open.run(&conn, job, &broken),
                Msg::Synced => syncing = false,
                Msg::Shutdown => running = false,
            }
            if open.jobs.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !open.jobs.is_empty() && (!syncing || !running || open.jobs.len() >= MAX_BATCH) {
            syncing |= open.commit(&conn, &to_sync, &broken);
        }
    }
}

/// The writer's open transaction and the jobs run in it, not committed yet.
#[derive(Default)]
struct Open {
    jobs: Vec<Box<dyn Job>>,
}

impl Open {
    /// Runs `job` in its own savepoint of the open transaction (beginning one if needed). A job
    /// whose closure fails leaves no trace but is answered with the others, after the fsync: a
    /// ConflictException may be about a write of this transaction, not on disk yet.
    fn run(&mut self, conn: &Connection, mut job: Box<dyn Job>, broken: &Broken) {
        if broken.is_set() {
            job.finish(Err(&Broken::error()));
            return;
        }
        let ran = (|| {
            if self.jobs.is_empty() {
                exec(conn, "BEGIN IMMEDIATE")?;
            }
            exec(conn, "SAVEPOINT job")?;
            if !job.run(&mut Conn(conn)) {
                exec(conn, "ROLLBACK TO job")?;
            }
            exec(conn, "RELEASE job")
        })();
        match ran {
            Ok(()) => self.jobs.push(job),
            Err(e) => {
                // The transaction is in no known state: none of it is kept.
                let _ = conn.execute_batch("ROLLBACK");
                for job in self.jobs.drain(..).chain([job]) {
                    job.finish(Err(&e));
                }
            }
        }
    }

    /// Commits and hands the jobs to the syncer; false if nothing was handed over. After a
    /// failed fsync (which may have come while these jobs ran) nothing is committed any more.
    fn commit(
        &mut self,
        conn: &Connection,
        to_sync: &mpsc::Sender<Vec<Box<dyn Job>>>,
        broken: &Broken,
    ) -> bool {
        let jobs = std::mem::take(&mut self.jobs);
        let committed = if broken.is_set() {
            Err(Broken::error())
        } else {
            exec(conn, "COMMIT")
        };
        if let Err(e) = committed {
            let _ = conn.execute_batch("ROLLBACK");
            for job in jobs {
                job.finish(Err(&e));
            }
            return false;
        }
        match to_sync.send(jobs) {
            Ok(()) => true,
            Err(mpsc::SendError(jobs)) => {
                for job in jobs {
                    job.finish(Err(&StoreError::Closed));
                }
                false
            }
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Answers committed batches once an fsync of the WAL that began after their commit is done,
/// then tells the writer (`synced`), which holds its next commit until then.
fn sync_loop(
    wal: File,
    committed: mpsc::Receiver<Vec<Box<dyn Job>>>,
    synced: mpsc::Sender<Msg>,
    broken: Broken,
) {
    while let Ok(first) = committed.recv() {
        let mut batches = vec![first];
        while let Ok(more) = committed.try_recv() {
            batches.push(more);
        }
        let result = if broken.is_set() {
            Err(Broken::error())
        } else {
            wal.sync_data().map_err(|e| {
                tracing::error!(error = %e, "fsync of the WAL failed; no more writes are taken");
                broken.set();
                StoreError::Commit(format!("the write could not be synced to disk: {e}"))
            })
        };
        for job in batches.into_iter().flatten() {
            job.finish(result.as_ref().map(|_| ()));
        }
        // The writer may be gone (shutting down): nothing waits for this then.
        let _ = synced.send(Msg::Synced);
    }
}

/// A connection inside a transaction, seen through the store traits.
struct Conn<'a>(&'a Connection);

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
        // Kept by triggers; status '' is the count of all.
        let n: i64 = self
            .0
            .prepare_cached("SELECT n FROM counts WHERE kind = ?1 AND scope = ?2 AND status = ?3")?
            .query_row(
                params![kind.as_str(), scope, status.unwrap_or_default()],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or_default())
    }

    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT src_kind, src_scope, src_name FROM referrers
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
                kind: Kind::parse(&kind)?,
                scope,
                name,
            });
        }
        Ok(out)
    }
}

/// References as the `refs` column stores them: `[kind, scope, name]` triples.
fn ref_triples(targets: &[Key]) -> Vec<(&str, &str, &str)> {
    targets
        .iter()
        .map(|t| (t.kind.as_str(), t.scope.as_str(), t.name.as_str()))
        .collect()
}

impl Conn<'_> {
    /// Runs `sql` (parameters: target kind, scope, name, then source kind, scope, name) once
    /// per target of `source`: adds or removes `referrers` rows.
    fn referrer_rows<'t>(
        &self,
        sql: &str,
        source: &Key,
        targets: impl IntoIterator<Item = (&'t str, &'t str, &'t str)>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        for (kind, scope, name) in targets {
            stmt.execute(params![
                kind,
                scope,
                name,
                source.kind.as_str(),
                source.scope,
                source.name
            ])?;
        }
        Ok(())
    }
}

/// Adds a `referrers` row (target first, then source).
const ADD_REFERRER: &str = "INSERT OR IGNORE INTO referrers
     (dst_kind, dst_scope, dst_name, src_kind, src_scope, src_name)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Removes a `referrers` row (target first, then source).
const REMOVE_REFERRER: &str = "DELETE FROM referrers
     WHERE dst_kind = ?1 AND dst_scope = ?2 AND dst_name = ?3
     AND src_kind = ?4 AND src_scope = ?5 AND src_name = ?6";

/// The `refs` column of a source with these targets (NULL for none).
fn refs_column(targets: &[(&str, &str, &str)]) -> Result<Option<String>, StoreError> {
    Ok((!targets.is_empty())
        .then(|| serde_json::to_string(targets))
        .transpose()?)
}

impl Tx for Conn<'_> {
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError> {
        storable_status(status)?;
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, scope, name) DO UPDATE SET status = excluded.status, doc = excluded.doc",
        )?;
        stmt.execute(params![key.kind.as_str(), key.scope, key.name, status, doc])?;
        Ok(())
    }

    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        let src = params![source.kind.as_str(), source.scope, source.name];
        let stored: Option<Option<String>> = self
            .0
            .prepare_cached(
                "SELECT refs FROM resources WHERE kind = ?1 AND scope = ?2 AND name = ?3",
            )?
            .query_row(src, |row| row.get(0))
            .optional()?;
        let old = match stored {
            Some(refs) => refs,
            None if targets.is_empty() => return Ok(()),
            None => {
                return Err(StoreError::NotStored(source.clone()));
            }
        };
        let old: Vec<(String, String, String)> = match old {
            Some(text) => serde_json::from_str(&text)?,
            None => Vec::new(),
        };
        let old_targets = old
            .iter()
            .map(|(k, s, n)| (k.as_str(), s.as_str(), n.as_str()));
        self.referrer_rows(REMOVE_REFERRER, source, old_targets)?;
        let new = ref_triples(targets);
        self.referrer_rows(ADD_REFERRER, source, new.iter().copied())?;
        if !(old.is_empty() && new.is_empty()) {
            let text = refs_column(&new)?;
            self.0
                .prepare_cached(
                    "UPDATE resources SET refs = ?4 WHERE kind = ?1 AND scope = ?2 AND name = ?3",
                )?
                .execute(params![
                    source.kind.as_str(),
                    source.scope,
                    source.name,
                    text
                ])?;
        }
        Ok(())
    }

    /// One row with its `refs` column, then one referrers row per target: no reading back the
    /// row just written and no second update of it, as `put` + `set_refs` would need.
    fn insert(
        &mut self,
        key: &Key,
        status: Option<&str>,
        doc: &str,
        refs: &[Key],
    ) -> Result<(), StoreError> {
        storable_status(status)?;
        let targets = ref_triples(refs);
        let text = refs_column(&targets)?;
        self.0
            .prepare_cached(
                "INSERT INTO resources (kind, scope, name, status, doc, refs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key.kind.as_str(),
                key.scope,
                key.name,
                status,
                doc,
                text
            ])?;
        self.referrer_rows(ADD_REFERRER, key, targets)
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
        let (held, release) = hold_writer(&store);
        let ok = store.write(|tx| tx.put(&Key::new(Kind::Segment, "", "a"), None, "{}"));
        let failed = store.write(|tx| {
            tx.put(&Key::new(Kind::Segment, "", "b"), None, "{}")?;
            Err::<(), StoreError>(StoreError::Closed)
        });
        release.send(()).unwrap();
        let (held, ok, failed) = tokio::join!(held, ok, failed);
        held.unwrap();
        ok.unwrap();
        assert!(failed.is_err());
        let names = store
            .read(|r| r.list(Kind::Segment, "", None, None, 10))
            .await
            .unwrap();
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].name, "a");
    }

    /// Keeps the writer busy until the sender is used, so that the writes queued meanwhile are
    /// committed in one batch, each in its savepoint.
    fn hold_writer(
        store: &SqliteStore,
    ) -> (
        impl Future<Output = Result<(), StoreError>>,
        mpsc::Sender<()>,
    ) {
        let (release, held) = mpsc::channel::<()>();
        let write = store.write(move |_| held.recv().map_err(|_| StoreError::Closed));
        (write, release)
    }

    async fn referrers(store: &SqliteStore, target: &Key) -> Vec<Key> {
        let target = target.clone();
        store.read(move |r| r.referrers(&target)).await.unwrap()
    }

    fn launch(name: &str) -> Key {
        Key::new(Kind::Launch, "p", name)
    }

    async fn counts(store: &SqliteStore) -> (u64, u64, u64) {
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

    #[tokio::test]
    async fn counts_follow_inserts_status_changes_deletes_and_rolled_back_closures() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        for name in ["a", "b", "c"] {
            store
                .write(move |tx| tx.put(&launch(name), Some("CREATED"), "{}"))
                .await
                .unwrap();
        }
        // A rewrite is not a new document; a status change moves it between statuses.
        store
            .write(|tx| tx.put(&launch("a"), Some("RUNNING"), "{\"v\":2}"))
            .await
            .unwrap();
        store
            .write(|tx| tx.put(&launch("a"), Some("RUNNING"), "{\"v\":3}"))
            .await
            .unwrap();
        assert_eq!(counts(&store).await, (3, 2, 1));
        // '' is the count of all: no document may have it as its status.
        let empty = store
            .write(|tx| tx.put(&launch("z"), Some(""), "{}"))
            .await
            .unwrap_err();
        assert!(empty.to_string().contains("empty status"), "{empty}");
        assert!(store.write(|tx| tx.delete(&launch("b"))).await.unwrap());
        assert!(!store.write(|tx| tx.delete(&launch("b"))).await.unwrap());
        assert_eq!(counts(&store).await, (2, 1, 1));
        // A failed closure's insert is rolled back with its count, its batch neighbour's kept.
        let (held, release) = hold_writer(&store);
        let kept = store.write(|tx| tx.put(&launch("d"), Some("CREATED"), "{}"));
        let failed = store.write(|tx| {
            tx.put(&launch("e"), Some("CREATED"), "{}")?;
            tx.delete(&launch("a"))?;
            Err::<(), StoreError>(StoreError::Closed)
        });
        release.send(()).unwrap();
        let (held, kept, failed) = tokio::join!(held, kept, failed);
        held.unwrap();
        kept.unwrap();
        assert!(failed.is_err());
        assert_eq!(counts(&store).await, (3, 2, 1));
        // Other kinds and scopes are counted apart.
        store
            .write(|tx| tx.put(&Key::new(Kind::Launch, "q", "a"), Some("CREATED"), "{}"))
            .await
            .unwrap();
        store
            .write(|tx| tx.put(&Key::new(Kind::Feature, "p", "f"), None, "{}"))
            .await
            .unwrap();
        assert_eq!(counts(&store).await, (3, 2, 1));
        let features = store
            .read(|r| r.count(Kind::Feature, "p", None))
            .await
            .unwrap();
        assert_eq!(features, 1);
    }

    #[tokio::test]
    async fn references_are_inserted_replaced_and_need_a_stored_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let f = Key::new(Kind::Feature, "p", "f");
        let g = Key::new(Kind::Feature, "p", "g");
        let s = Key::new(Kind::Segment, "", "s");
        let err = store
            .write(|tx| tx.set_refs(&launch("ghost"), &[Key::new(Kind::Feature, "p", "f")]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotStored(k) if *k == launch("ghost")),
            "{err}"
        );
        let put_with_refs = |name: &'static str, targets: Vec<Key>| {
            store.write(move |tx| {
                tx.put(&launch(name), Some("CREATED"), "{}")?;
                tx.set_refs(&launch(name), &targets)
            })
        };
        put_with_refs("a", vec![f.clone(), s.clone()])
            .await
            .unwrap();
        // `insert` stores the same references in one step, readable by `set_refs` and `delete`.
        let targets = vec![g.clone(), s.clone()];
        store
            .write(move |tx| tx.insert(&launch("b"), Some("CREATED"), "{\"v\":1}", &targets))
            .await
            .unwrap();
        let again = store
            .write(|tx| tx.insert(&launch("b"), Some("CREATED"), "{\"v\":2}", &[]))
            .await;
        assert!(again.is_err(), "a second insert of the same key must fail");
        let b = launch("b");
        let doc = store.read(move |r| r.get(&b)).await.unwrap();
        assert_eq!(doc.as_deref(), Some("{\"v\":1}"));
        assert_eq!(referrers(&store, &f).await, vec![launch("a")]);
        assert_eq!(referrers(&store, &s).await, vec![launch("a"), launch("b")]);
        // Replacing drops the old targets; deleting drops them all.
        let targets = vec![g.clone()];
        store
            .write(move |tx| tx.set_refs(&launch("a"), &targets))
            .await
            .unwrap();
        assert_eq!(referrers(&store, &f).await, Vec::<Key>::new());
        assert_eq!(referrers(&store, &g).await, vec![launch("a"), launch("b")]);
        assert_eq!(referrers(&store, &s).await, vec![launch("b")]);
        assert!(store.write(|tx| tx.delete(&launch("b"))).await.unwrap());
        assert_eq!(referrers(&store, &g).await, vec![launch("a")]);
        assert_eq!(referrers(&store, &s).await, Vec::<Key>::new());
    }

    #[tokio::test]
    async fn a_version_1_database_keeps_its_counts_and_references_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.execute_batch(
                "INSERT INTO resources VALUES ('project', '', 'p', NULL, '{}');
                 INSERT INTO resources VALUES ('feature', 'p', 'f', NULL, '{}');
                 INSERT INTO resources VALUES ('launch', 'p', 'a', 'RUNNING', '{}');
                 INSERT INTO resources VALUES ('launch', 'p', 'b', 'CREATED', '{}');
                 INSERT INTO resources VALUES ('launch', 'p', 'c', 'CREATED', '{}');
                 INSERT INTO refs VALUES ('launch', 'p', 'a', 'feature', 'p', 'f');
                 INSERT INTO refs VALUES ('launch', 'p', 'b', 'feature', 'p', 'f');
                 INSERT INTO refs VALUES ('launch', 'p', 'b', 'segment', '', 's');
                 INSERT INTO refs VALUES ('launch', 'p', 'gone', 'feature', 'p', 'f');",
            )
            .unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(counts(&store).await, (3, 2, 1));
        let f = Key::new(Kind::Feature, "p", "f");
        let s = Key::new(Kind::Segment, "", "s");
        // A reference whose launch is gone is not carried over: nothing could ever remove it.
        assert_eq!(referrers(&store, &f).await, vec![launch("a"), launch("b")]);
        assert_eq!(referrers(&store, &s).await, vec![launch("b")]);
        // Each launch's own list came along: replacing b's references drops both old ones.
        store
            .write(|tx| tx.set_refs(&launch("b"), &[]))
            .await
            .unwrap();
        assert_eq!(referrers(&store, &f).await, vec![launch("a")]);
        assert_eq!(referrers(&store, &s).await, Vec::<Key>::new());
    }

    /// A committed job whose answer is `Ok(())` once its batch is synced.
    fn committed_job() -> (Box<dyn Job>, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let job = WriteJob::<fn(&mut dyn Tx) -> Result<(), StoreError>, _, _> {
            f: None,
            result: Some(Ok(())),
            reply,
        };
        (Box::new(job), answer)
    }

    #[test]
    fn writes_still_open_when_an_fsync_fails_are_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("open.db")).unwrap();
        conn.execute_batch(MIGRATIONS.join(";").as_str()).unwrap();
        let broken = Broken::default();
        let (reply, answer) = oneshot::channel();
        let job = WriteJob {
            f: Some(|tx: &mut dyn Tx| tx.put(&launch("x"), None, "{}")),
            result: None,
            reply,
        };
        let mut open = Open::default();
        open.run(&conn, Box::new(job), &broken);
        assert_eq!(open.jobs.len(), 1, "the write ran in the open transaction");
        // The fsync of the batch before fails while this write waits for its commit.
        broken.set();
        let (to_sync, committed) = mpsc::channel();
        assert!(!open.commit(&conn, &to_sync, &broken));
        assert!(committed.try_recv().is_err(), "nothing goes to the syncer");
        let err = answer.blocking_recv().unwrap().unwrap_err();
        assert!(err.to_string().contains("no more writes"), "{err}");
        assert!(conn.is_autocommit(), "the transaction is rolled back");
        let stored: i64 = conn
            .query_row("SELECT count(*) FROM resources", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 0);
    }

    #[test]
    fn a_failed_fsync_answers_its_batch_with_an_error_and_refuses_what_follows() {
        // A pipe cannot be fsynced (EINVAL): the syncer meets a failing disk.
        let (_read, write) = std::io::pipe().unwrap();
        let wal = File::from(std::os::fd::OwnedFd::from(write));
        let broken = Broken::default();
        let (to_sync, committed) = mpsc::channel();
        let (first, first_answer) = committed_job();
        let (second, second_answer) = committed_job();
        to_sync.send(vec![first]).unwrap();
        to_sync.send(vec![second]).unwrap();
        drop(to_sync);
        let (synced, writer_queue) = mpsc::channel();
        sync_loop(wal, committed, synced, broken.clone());
        assert!(broken.is_set());
        // The writer hears that the syncer is free again, error or not.
        assert!(matches!(writer_queue.try_recv(), Ok(Msg::Synced)));
        for answer in [first_answer, second_answer] {
            let err = answer.blocking_recv().unwrap().unwrap_err();
            assert!(err.to_string().contains("synced to disk"), "{err}");
        }
        // And the writer takes nothing more.
        let (queue_in, queue) = mpsc::channel::<Msg>();
        let (to_sync, _committed) = mpsc::channel();
        let (reply, answer) = oneshot::channel();
        let job = WriteJob {
            f: Some(|tx: &mut dyn Tx| tx.put(&launch("x"), None, "{}")),
            result: None,
            reply,
        };
        queue_in.send(Msg::Job(Box::new(job))).unwrap();
        drop(queue_in);
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("unused.db")).unwrap();
        write_loop(conn, queue, to_sync, broken);
        let err = answer.blocking_recv().unwrap().unwrap_err();
        assert!(err.to_string().contains("no more writes"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_sustained_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        // 16 writers × 600 documents of 2 KiB (each a leaf cell plus overflow pages), keys
        // spread over 32 scopes: about 20,000 pages of WAL in all, well over
        // WRITER_CHECKPOINT_FRAMES.
        let doc = format!("{{\"pad\":\"{}\"}}", "x".repeat(2048));
        let writers: Vec<_> = (0..16)
            .map(|w| {
                let (store, doc) = (store.clone(), doc.clone());
                tokio::spawn(async move {
                    for i in 0..600 {
                        let (key, doc) = (
                            Key::new(Kind::Launch, &format!("p{}", i % 32), &format!("w{w}-{i}")),
                            doc.clone(),
                        );
                        store
                            .write(move |tx| tx.put(&key, Some("CREATED"), &doc))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let wal = std::fs::metadata(format!("{}-wal", store.path().display()))
            .unwrap()
            .len();
        let frame = 4096 + 24;
        let bound = (WRITER_CHECKPOINT_FRAMES as u64 + MAX_BATCH as u64 * 8) * frame;
        assert!(
            wal <= bound,
            "the WAL grew to {wal} bytes, more than {bound}"
        );
        let total = store
            .read(|r| r.count(Kind::Launch, "p0", None))
            .await
            .unwrap();
        assert_eq!(total, 16 * (0..600).step_by(32).count() as u64);
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
