//! The shared store: PostgreSQL, so that several stateless emulator replicas serve one set of
//! resources from a database the user already runs (and replicates).
//!
//! Driver: `tokio-postgres` (the async client of rust-postgres, the most used PostgreSQL driver
//! for Rust) with the `deadpool-postgres` pool (bounded, with wait/create timeouts, which is
//! what turns a database that is down into a quick 503 rather than a hang). The [`Store`]
//! closures are synchronous, so each runs on the blocking thread pool and drives its queries
//! with [`Handle::block_on`]: the trait stays as it is, and the async runtime's workers never
//! wait for the database.
//!
//! Consistency across replicas without retries (a [`Store::write`] closure is `FnOnce`, so it
//! cannot be run again after a serialization failure): every write transaction first takes one
//! transaction-scoped advisory lock ([`WRITE_LOCK`]), so writes from all replicas run one after
//! the other, each in READ COMMITTED, where every statement after the lock sees every write
//! committed before it. A duplicate name created by two replicas at once, the count-then-insert
//! of a quota and a delete racing an update are therefore as atomic as on the single SQLite
//! writer. Reads take no lock: each runs in one REPEATABLE READ, read-only snapshot. A write
//! that changed something sends a `NOTIFY` on [`CHANNEL`] (delivered at commit), which every
//! replica's listener turns into [`Foreign::Changed`] for its evaluation views; a listener that
//! lost its connection reports [`Foreign::Deaf`] until it listens again.
//!
//! Errors that mean "the database cannot be reached now" (refused or broken connections, a
//! server shutting down, a pool wait that timed out) become [`StoreError::Unavailable`], which
//! the API answers with 503 `ServiceUnavailableException`; the pool drops broken connections
//! and opens new ones once the database is back, with nothing to restart.
//!
//! Not here: TLS to the database (the connection is plain TCP, see docs/emulator.md), the
//! Evidently rules (the operations in `super::super::ops` run inside the closures).

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Duration,
};

use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
};
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio_postgres::{
    AsyncMessage, Config, IsolationLevel, NoTls, Row, error::SqlState, types::ToSql,
};

use super::{
    Foreign, Key, Kind, Listener, Reader, Record, Store, StoreError, Tx, panicked, storable_status,
};

/// The schema, one step per version: step `i` takes the version from `i` to `i + 1`, recorded
/// in `emulator_schema_version`. Never edit a released step; append a new one. Names compare
/// byte by byte (`COLLATE "C"`), as in SQLite, whatever the database's default collation: list
/// order and pagination tokens must not depend on the server's locale.
const MIGRATIONS: &[&str] = &[
    // 1: documents, and the references from launches to the features and segments they use.
    "CREATE TABLE resources (
         kind   text COLLATE \"C\" NOT NULL,
         scope  text COLLATE \"C\" NOT NULL,
         name   text COLLATE \"C\" NOT NULL,
         status text COLLATE \"C\",
         doc    text NOT NULL,
         PRIMARY KEY (kind, scope, name)
     );
     CREATE INDEX resources_by_status ON resources (kind, scope, status, name);
     CREATE TABLE refs (
         src_kind  text COLLATE \"C\" NOT NULL,
         src_scope text COLLATE \"C\" NOT NULL,
         src_name  text COLLATE \"C\" NOT NULL,
         dst_kind  text COLLATE \"C\" NOT NULL,
         dst_scope text COLLATE \"C\" NOT NULL,
         dst_name  text COLLATE \"C\" NOT NULL,
         PRIMARY KEY (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name),
         FOREIGN KEY (src_kind, src_scope, src_name)
             REFERENCES resources (kind, scope, name) ON DELETE CASCADE
     );
     CREATE INDEX refs_by_target ON refs (dst_kind, dst_scope, dst_name);",
];

/// Oldest server accepted (`server_version_num`): 13, the oldest release still supported by the
/// PostgreSQL project when this store was written.
const MIN_SERVER_VERSION: i32 = 130_000;

/// Advisory lock every write transaction holds: writes run one at a time across replicas.
const WRITE_LOCK: i64 = 0x4c61_756e_6368_0001;

/// Advisory lock of the migrations, so that replicas starting together migrate once.
const MIGRATION_LOCK: i64 = 0x4c61_756e_6368_0002;

/// The notification channel of committed writes.
pub const CHANNEL: &str = "launch_operator_emulator_writes";

/// How long a request waits for a connection (or for one to be opened) before it gets 503.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// First delay before the listener reconnects; doubled up to [`LISTEN_RETRY_MAX`].
const LISTEN_RETRY: Duration = Duration::from_millis(100);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(2);

/// Who follows other replicas' writes, and whether the listener hears them now.
#[derive(Default)]
struct Hub {
    listening: bool,
    listeners: Vec<Listener>,
}

impl Hub {
    fn tell(&mut self, event: Foreign) {
        match event {
            Foreign::Deaf => self.listening = false,
            Foreign::Listening => self.listening = true,
            Foreign::Changed => {}
        }
        for listener in &self.listeners {
            listener(event);
        }
    }
}

struct Inner {
    pool: Pool,
    /// The database, without its password, for logs and errors.
    target: String,
    hub: Arc<Mutex<Hub>>,
    listener: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The PostgreSQL store. Clones share the pool and the listener, which stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.inner.target)
            .finish()
    }
}

/// `user@host:port/dbname` of a connection configuration: never the password.
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => format!("{}:{port}", p.display()),
        })
        .collect();
    format!(
        "{}@{}/{}",
        config.get_user().unwrap_or("(default user)"),
        hosts.join(","),
        config.get_dbname().unwrap_or("(default database)")
    )
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` string), checks
    /// its version, migrates its schema and starts listening for other replicas' writes.
    /// Fails, with the database (not its password) in the message, when it cannot be reached,
    /// is older than PostgreSQL 13 or holds a newer schema.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::DatabaseUrl(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("launch-operator-emulator");
        }
        let target = describe(&config);
        let connect_error = |e: tokio_postgres::Error| StoreError::Connect {
            target: target.clone(),
            reason: e.to_string(),
        };
        let (mut client, connection) = config.connect(NoTls).await.map_err(connect_error)?;
        let connection = tokio::spawn(connection);
        let version: String = client
            .query_one("SHOW server_version_num", &[])
            .await
            .map_err(connect_error)?
            .get(0);
        let version: i32 = version.trim().parse().unwrap_or(0);
        if version < MIN_SERVER_VERSION {
            return Err(StoreError::UnsupportedServer {
                target,
                found: version,
                minimum: MIN_SERVER_VERSION,
            });
        }
        migrate(&mut client).await?;
        drop(client);
        let _ = connection.await;

        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // Fast: a connection the server closed is noticed (`is_closed`) without a query.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let hub = Arc::new(Mutex::new(Hub::default()));
        let listener = tokio::spawn(listen_loop(config, hub.clone())).abort_handle();
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                target,
                hub,
                listener,
            }),
        })
    }

    /// The database, as `user@host:port/dbname`.
    pub fn target(&self) -> &str {
        &self.inner.target
    }
}

/// Applies the steps the database has not seen yet, in one transaction under
/// [`MIGRATION_LOCK`] (PostgreSQL's DDL is transactional: a failed step leaves nothing).
async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS emulator_schema_version (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg_error)?;
    let found: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM emulator_schema_version",
            &[],
        )
        .await
        .map_err(pg_error)?
        .get(0);
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(step).await.map_err(pg_error)?;
        tx.execute(
            "INSERT INTO emulator_schema_version (version) VALUES ($1)",
            &[&(version as i32 + 1)],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)
}

/// Listens on [`CHANNEL`] on a connection of its own, for as long as the store lives; when the
/// connection is lost the followers hear [`Foreign::Deaf`], and [`Foreign::Listening`] once it
/// listens again (the writes in between were missed).
async fn listen_loop(config: Config, hub: Arc<Mutex<Hub>>) {
    let tell = |event| hub.lock().unwrap_or_else(|e| e.into_inner()).tell(event);
    let mut retry = LISTEN_RETRY;
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (heard, mut notifications) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if heard.send(()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the notification connection failed");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        retry = LISTEN_RETRY;
                        tell(Foreign::Listening);
                        while notifications.recv().await.is_some() {
                            tell(Foreign::Changed);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN for other replicas' writes")
                    }
                }
                driver.abort();
                tell(Foreign::Deaf);
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot connect to listen for other replicas' writes");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LISTEN_RETRY_MAX);
    }
}

/// Whether an error means the database cannot be reached now (a retry later may work).
fn unreachable(e: &tokio_postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        // No answer from the server: I/O, a closed connection, a timeout.
        return true;
    };
    let code = db.code();
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ]
        .contains(code)
}

fn pg_error(e: tokio_postgres::Error) -> StoreError {
    if unreachable(&e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Postgres(e.to_string())
    }
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_error(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// A transaction seen through the store traits; its methods block on the runtime.
struct Conn<'a> {
    handle: &'a Handle,
    tx: &'a Transaction<'a>,
    /// Whether anything was written (only then do other replicas hear of it).
    wrote: bool,
}

impl Conn<'_> {
    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.handle
            .block_on(async {
                let statement = self.tx.prepare_cached(sql).await?;
                self.tx.query(&statement, params).await
            })
            .map_err(pg_error)
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.wrote = true;
        self.handle
            .block_on(async {
                let statement = self.tx.prepare_cached(sql).await?;
                self.tx.execute(&statement, params).await
            })
            .map_err(pg_error)
    }
}

impl Reader for Conn<'_> {
    fn get(&self, key: &Key) -> Result<Option<String>, StoreError> {
        let rows = self.query(
            "SELECT doc FROM resources WHERE kind = $1 AND scope = $2 AND name = $3",
            &[&key.kind.as_str(), &key.scope, &key.name],
        )?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn list(
        &self,
        kind: Kind,
        scope: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT name, doc FROM resources
             WHERE kind = $1 AND scope = $2 AND name > $3 AND ($4::text IS NULL OR status = $4)
             ORDER BY name LIMIT $5",
            &[
                &kind.as_str(),
                &scope,
                &after.unwrap_or(""),
                &status,
                &limit,
            ],
        )?;
        Ok(rows
            .iter()
            .map(|row| Record {
                name: row.get(0),
                doc: row.get(1),
            })
            .collect())
    }

    fn count(&self, kind: Kind, scope: &str, status: Option<&str>) -> Result<u64, StoreError> {
        let rows = self.query(
            "SELECT count(*) FROM resources
             WHERE kind = $1 AND scope = $2 AND ($3::text IS NULL OR status = $3)",
            &[&kind.as_str(), &scope, &status],
        )?;
        let n: i64 = rows.first().map(|row| row.get(0)).unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or_default())
    }

    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError> {
        let rows = self.query(
            "SELECT src_kind, src_scope, src_name FROM refs
             WHERE dst_kind = $1 AND dst_scope = $2 AND dst_name = $3
             ORDER BY src_kind, src_scope, src_name",
            &[&target.kind.as_str(), &target.scope, &target.name],
        )?;
        rows.iter()
            .map(|row| {
                Ok(Key {
                    kind: Kind::parse(row.get(0))?,
                    scope: row.get(1),
                    name: row.get(2),
                })
            })
            .collect()
    }
}

const ADD_REF: &str =
    "INSERT INTO refs (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

impl Conn<'_> {
    fn add_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        for t in targets {
            self.execute(
                ADD_REF,
                &[
                    &source.kind.as_str(),
                    &source.scope,
                    &source.name,
                    &t.kind.as_str(),
                    &t.scope,
                    &t.name,
                ],
            )?;
        }
        Ok(())
    }
}

impl Tx for Conn<'_> {
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError> {
        storable_status(status)?;
        self.execute(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (kind, scope, name)
             DO UPDATE SET status = excluded.status, doc = excluded.doc",
            &[&key.kind.as_str(), &key.scope, &key.name, &status, &doc],
        )?;
        Ok(())
    }

    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        if !targets.is_empty() && self.get(source)?.is_none() {
            return Err(StoreError::NotStored(source.clone()));
        }
        self.execute(
            "DELETE FROM refs WHERE src_kind = $1 AND src_scope = $2 AND src_name = $3",
            &[&source.kind.as_str(), &source.scope, &source.name],
        )?;
        self.add_refs(source, targets)
    }

    fn insert(
        &mut self,
        key: &Key,
        status: Option<&str>,
        doc: &str,
        refs: &[Key],
    ) -> Result<(), StoreError> {
        storable_status(status)?;
        self.execute(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES ($1, $2, $3, $4, $5)",
            &[&key.kind.as_str(), &key.scope, &key.name, &status, &doc],
        )?;
        self.add_refs(key, refs)
    }

    fn delete(&mut self, key: &Key) -> Result<bool, StoreError> {
        // The references go with the row (ON DELETE CASCADE).
        let n = self.execute(
            "DELETE FROM resources WHERE kind = $1 AND scope = $2 AND name = $3",
            &[&key.kind.as_str(), &key.scope, &key.name],
        )?;
        Ok(n > 0)
    }
}

impl Store for PostgresStore {
    fn read<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&dyn Reader) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.inner.pool.clone();
        async move {
            let handle = Handle::current();
            let task = tokio::task::spawn_blocking(move || {
                let mut client = handle.block_on(pool.get()).map_err(pool_error)?;
                let tx = handle
                    .block_on(
                        client
                            .build_transaction()
                            .isolation_level(IsolationLevel::RepeatableRead)
                            .read_only(true)
                            .start(),
                    )
                    .map_err(pg_error)?;
                let conn = Conn {
                    handle: &handle,
                    tx: &tx,
                    wrote: false,
                };
                let result = f(&conn);
                // Only a snapshot to end; an error here changes nothing that was read.
                let _ = handle.block_on(tx.rollback());
                result
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
        let pool = self.inner.pool.clone();
        async move {
            let handle = Handle::current();
            let task = tokio::task::spawn_blocking(move || {
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
                    handle: &handle,
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
            });
            task.await
                .unwrap_or_else(|e| Err(E::from(StoreError::Join(e))))
        }
    }

    fn follow(&self, listener: Listener) {
        let mut hub = self.inner.hub.lock().unwrap_or_else(|e| e.into_inner());
        // Until the listener first listens, the follower must not trust what it keeps.
        listener(if hub.listening {
            Foreign::Listening
        } else {
            Foreign::Deaf
        });
        hub.listeners.push(listener);
    }
}
