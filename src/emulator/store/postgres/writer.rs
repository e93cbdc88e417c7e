//! Writes: each in its own READ COMMITTED transaction that first takes one transaction-scoped
//! advisory lock ([`WRITE_LOCK`]), so writes from all replicas run one after the other, and
//! every statement after the lock sees every write committed before it. A duplicate name
//! created by two replicas at once, the count-then-insert of a quota and a delete racing an
//! update are therefore as atomic as on the single SQLite writer, without retries (a
//! [`Store::write`](crate::emulator::store::Store::write) closure is `FnOnce`, so it cannot be
//! run again after a serialization failure). A write that changed something sends a `NOTIFY`
//! on [`CHANNEL`] (delivered at commit) for the other replicas' evaluation views (see
//! `super::availability`). Not here: the SQL of each write (`super::sql`).

use std::panic::AssertUnwindSafe;

use deadpool_postgres::Pool;
use tokio::runtime::Handle;
use tokio_postgres::IsolationLevel;

use super::{
    availability::{CHANNEL, pg_error, pool_error},
    sql::Conn,
};
use crate::emulator::store::{StoreError, Tx, panicked};

/// Advisory lock every write transaction holds: writes run one at a time across replicas.
const WRITE_LOCK: i64 = 0x4c61_756e_6368_0001;

/// Runs `f` in a write transaction under [`WRITE_LOCK`] and commits it when `f` succeeds;
/// blocks on `handle`, so it runs on the blocking thread pool.
pub(super) fn write<R, E, F>(handle: &Handle, pool: &Pool, f: F) -> Result<R, E>
where
    F: FnOnce(&mut dyn Tx) -> Result<R, E>,
    E: From<StoreError>,
{
    let mut client = handle.block_on(pool.get()).map_err(pool_error)?;
    let tx = handle
        .block_on(
            client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start(),
        )
        .map_err(pg_error)?;
    handle
        .block_on(tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]))
        .map_err(pg_error)?;
    let mut conn = Conn {
        handle,
        tx: &tx,
        wrote: false,
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut conn)))
        .unwrap_or_else(|panic| Err(E::from(panicked(panic))));
    let wrote = conn.wrote;
    if result.is_err() {
        let _ = handle.block_on(tx.rollback());
        return result;
    }
    handle
        .block_on(async {
            if wrote {
                tx.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await?;
            }
            tx.commit().await
        })
        // A commit whose answer was lost may have happened: the client hears 503
        // and retries, which the operations' conflict checks make safe.
        .map_err(|e| E::from(pg_error(e)))?;
    result
}
