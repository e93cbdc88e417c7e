//! The writer thread: it owns the read-write connection, and every write runs on it. Requests
//! queue their closures to it; it runs each as it arrives in one open transaction (each inside
//! its own savepoint, so a failing one leaves the others alone) and commits when the syncer
//! (`super::durability`) is free: group commit, one commit per fsync however many writes
//! arrived during the last one (more only when [`MAX_BATCH`] writes are waiting). The
//! connection runs with `synchronous=NORMAL`, so the commit only writes the WAL; the writer
//! hands the batch to the syncer, which answers it once it is on disk, and goes on with the
//! next one. Not here: the fsync and the checkpoints (`super::durability`), the SQL of each
//! write (`super::sql`).

use std::{panic::AssertUnwindSafe, sync::mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{durability::Broken, sql::Conn};
use crate::emulator::store::{StoreError, Tx, panicked};

/// Most closures committed together.
pub(super) const MAX_BATCH: usize = 128;

/// A write queued to the writer thread.
pub(super) trait Job: Send {
    /// Runs the closure; true if its changes are to be kept.
    fn run(&mut self, tx: &mut dyn Tx) -> bool;
    /// Replies, once the batch's commit has succeeded or failed.
    fn finish(self: Box<Self>, committed: Result<(), &StoreError>);
}

/// A closure to run, its result until the commit is known, and where to send the answer.
pub(super) struct WriteJob<F, R, E> {
    pub(super) f: Option<F>,
    pub(super) result: Option<Result<R, E>>,
    pub(super) reply: oneshot::Sender<Result<R, E>>,
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

/// What the writer's queue carries.
pub(super) enum Msg {
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
pub(super) fn write_loop(
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
pub(super) struct Open {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{
        Key, Kind, Store,
        sqlite::{
            SqliteStore,
            schema::MIGRATIONS,
            testing::{hold_writer, launch},
        },
    };

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
}
