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
//! Four parts, one file each, as for SQLite:
//!
//! * [`schema`]: the tables, versioned in `emulator_schema_version`, migrated once however
//!   many replicas start together;
//! * [`writer`]: every write transaction, serialised across replicas by one advisory lock,
//!   and the notification that tells the other replicas;
//! * [`availability`]: which errors mean the database cannot be reached now (503, retry), and
//!   the listener that hears other replicas' writes and notices when it can no longer hear
//!   them;
//! * [`sql`]: the statements of reads and writes behind the [`Reader`] and [`Tx`] traits.
//!
//! This file connects (checking the server's version), builds the pool and serves reads: each
//! runs in one REPEATABLE READ, read-only snapshot, and takes no lock. Durability is the
//! server's (its WAL and replication): a write is answered once its commit is.
//!
//! TLS to the database, when the URL asks for it, is [`tls`]'s. Not here: the Evidently rules
//! (the operations in `super::super::ops` run inside the closures).

mod availability;
mod schema;
mod sql;
mod tls;
mod writer;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use tokio_postgres::{Config, IsolationLevel};

pub use availability::CHANNEL;

use super::{Foreign, Listener, Reader, Store, StoreError, Tx};
use availability::{Hub, error_text, listen_loop, pg_error, pool_error};
use sql::Conn;

/// Oldest server accepted (`server_version_num`): 13, the oldest release still supported by the
/// PostgreSQL project when this store was written.
const MIN_SERVER_VERSION: i32 = 130_000;

/// How long a request waits for a connection (or for one to be opened) before it gets 503.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// its version, migrates its schema and starts listening for other replicas' writes. With
    /// `sslmode=require` (or `verify-ca`, `verify-full`) in the URL every connection is TLS, the
    /// server's certificate verified against `ca_file` (PEM) or the system's roots (see
    /// [`tls`]). Fails, with the database (not its password) in the message, when it cannot be
    /// reached or verified, is older than PostgreSQL 13 or holds a newer schema.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        ca_file: Option<&Path>,
    ) -> Result<PostgresStore, StoreError> {
        let mut config = tls::parse_url(url)?;
        let tls = tls::connector(&mut config, ca_file)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("launch-operator-emulator");
        }
        let target = describe(&config);
        let connect_error = |e: tokio_postgres::Error| StoreError::Connect {
            target: target.clone(),
            reason: error_text(&e),
        };
        let (mut client, connection) = config.connect(tls.clone()).await.map_err(connect_error)?;
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
        schema::migrate(&mut client).await?;
        drop(client);
        let _ = connection.await;

        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
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
        let listener = tokio::spawn(listen_loop(config, tls, hub.clone())).abort_handle();
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
            let task = tokio::task::spawn_blocking(move || writer::write(&handle, &pool, f));
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
