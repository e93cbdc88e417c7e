//! Durability: a write is on disk before its request gets an answer, and the WAL stays bounded.
//!
//! * The **syncer** thread fsyncs the WAL file and only then answers the batches the writer
//!   (`super::writer`) committed before the fsync began: as with `synchronous=FULL`, a write
//!   is on disk before its answer, with one fsync for every batch that waited on it and the
//!   writer never waiting on one. A failed fsync answers its batches with an error and stops
//!   all later writes and checkpoints ([`Broken`]; the disk may have dropped them), which also
//!   fails `/readyz`.
//! * The **checkpointer** thread, with its own connection, copies the WAL into the database
//!   file (passive checkpoints) whenever the WAL has grown by [`CHECKPOINT_FRAMES`], off the
//!   writer's path. Only when the WAL reaches [`WRITER_CHECKPOINT_FRAMES`] (sustained writes
//!   keep a concurrent checkpoint from ever catching up, and the WAL can only start over once
//!   one has) does the writer checkpoint between two batches itself.
//!
//! Unlike `synchronous=FULL`, a read can see a write whose fsync is still running (its writer
//! has not been answered yet); only an operating-system crash or power loss in that window
//! could then take it back. And where FULL would leave a commit whose fsync failed invisible,
//! here it stays visible to reads until a restart, after which the database holds every
//! acknowledged write and perhaps some of the writes that were answered with the fsync error.
//! Both need the disk or the OS to fail.

use std::{
    ffi::c_int,
    fs::File,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
};

use rusqlite::{Connection, hooks::Wal, wal::CheckpointMode};

use super::writer::{Job, Msg};
use crate::emulator::store::StoreError;

/// WAL growth (in pages) after which the checkpointer copies the WAL into the database.
const CHECKPOINT_FRAMES: c_int = 1000;

/// WAL size (in pages, 4 KiB each) at which the writer checkpoints itself after a commit, so
/// that the WAL can start over and stays bounded however long writes go on (unless a read
/// holds its snapshot for longer than the writes take to fill it).
const WRITER_CHECKPOINT_FRAMES: c_int = 8000;

/// Set when an fsync of the WAL failed: nothing is written after that.
#[derive(Clone, Default)]
pub(super) struct Broken(Arc<AtomicBool>);

impl Broken {
    pub(super) fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub(super) fn error() -> StoreError {
        StoreError::Commit(
            "an earlier write could not be synced to disk, so the emulator takes no more \
             writes; restart it (the database keeps every acknowledged write)"
                .into(),
        )
    }
}

/// The writer's WAL hook, called after each commit with the WAL's size: wakes the
/// checkpointer each time the WAL has grown by [`CHECKPOINT_FRAMES`], and checkpoints on the
/// writer at [`WRITER_CHECKPOINT_FRAMES`]. (Installing it turns SQLite's own automatic
/// checkpoints off.) It never fails the commit: an error here would report a commit that
/// happened as failed.
pub(super) fn checkpoint_hook(
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

pub(super) fn checkpoint_loop(conn: Connection, woken: mpsc::Receiver<()>, broken: Broken) {
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

/// Answers committed batches once an fsync of the WAL that began after their commit is done,
/// then tells the writer (`synced`), which holds its next commit until then.
pub(super) fn sync_loop(
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

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::emulator::store::{
        Key, Kind, Store, Tx,
        sqlite::{
            SqliteStore,
            testing::launch,
            writer::{MAX_BATCH, WriteJob, write_loop},
        },
    };

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
}
