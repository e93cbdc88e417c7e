//! Storage of the emulator's resources behind one trait, so the operations (`super::ops`) never
//! see SQL: documents (the JSON each Get operation returns) keyed by kind, scope and name, plus
//! the references from launches to the features and segments they use.
//!
//! Three implementations: [`SqliteStore`] (the default: durable, WAL, group commit, one
//! replica), [`PostgresStore`] (several stateless replicas on one shared database, chosen with
//! `--database-url`) and [`MemoryStore`] (tests only). None knows the Evidently rules: quotas, duplicates and
//! reference checks are done by the operations inside one [`Store::write`] call, which is what
//! makes them atomic.

mod memory;
mod postgres;
mod sqlite;

use std::{future::Future, sync::Arc};

pub use memory::MemoryStore;
pub use postgres::{CHANNEL as POSTGRES_CHANNEL, PostgresStore};
pub use sqlite::SqliteStore;

/// What a store shared with other processes tells this process about their writes, for what it
/// keeps in memory (the evaluation views).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// Another process may have changed what is stored.
    Changed,
    /// Other processes' writes can no longer be heard (the listening connection is lost):
    /// nothing kept in memory can be trusted until [`Foreign::Listening`].
    Deaf,
    /// Listening (again); writes may have been missed while deaf.
    Listening,
}

/// Called with each [`Foreign`] event, from the store's own task.
pub type Listener = Arc<dyn Fn(Foreign) + Send + Sync>;

/// The four kinds of resource the emulator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Project,
    Feature,
    Launch,
    Segment,
}

impl Kind {
    /// The lowercase name used in storage and in `resourceType` of error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Project => "project",
            Kind::Feature => "feature",
            Kind::Launch => "launch",
            Kind::Segment => "segment",
        }
    }

    /// The capitalised name used in error messages.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Project => "Project",
            Kind::Feature => "Feature",
            Kind::Launch => "Launch",
            Kind::Segment => "Segment",
        }
    }

    /// The kind stored as `s`.
    fn parse(s: &str) -> Result<Kind, StoreError> {
        match s {
            "project" => Ok(Kind::Project),
            "feature" => Ok(Kind::Feature),
            "launch" => Ok(Kind::Launch),
            "segment" => Ok(Kind::Segment),
            _ => Err(StoreError::UnknownKind(s.to_string())),
        }
    }
}

/// Identity of a stored resource. `scope` is the project name for features and launches and
/// empty for projects and segments (which live at account level).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub scope: String,
    pub name: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.scope, self.name)
    }
}

impl Key {
    pub fn new(kind: Kind, scope: &str, name: &str) -> Key {
        Key {
            kind,
            scope: scope.to_string(),
            name: name.to_string(),
        }
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    /// The JSON document, as text.
    pub doc: String,
}

/// What can go wrong below the operations. Always an internal error for the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database {path} (is the data directory writable?): {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot open the write-ahead log {path}: {source}")]
    Wal {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the database has schema version {found}, newer than this emulator's {known}; \
         use a newer emulator"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored document is not valid: {0}")]
    Document(#[from] serde_json::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("references of {0}, which is not stored")]
    NotStored(Key),
    #[error("the store is shut down")]
    Closed,
    #[error("the database URL is not valid: {0}")]
    DatabaseUrl(String),
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "PostgreSQL at {target} is version {found} (server_version_num); \
         the emulator needs {minimum} or newer"
    )]
    UnsupportedServer {
        target: String,
        found: i32,
        minimum: i32,
    },
    /// The database cannot be reached now; the request may be retried.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Postgres(String),
    #[error("TLS to the database: {0}")]
    Tls(String),
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    #[error("cannot start the store's {name} thread: {source}")]
    Thread {
        name: &'static str,
        source: std::io::Error,
    },
    /// A [`Store::read`] or [`Store::write`] closure panicked; its changes are not kept.
    #[error("a store operation panicked: {0}")]
    Panicked(String),
    /// The blocking task that ran a closure ended without an answer (it panicked outside the
    /// closure, or the runtime is shutting down and cancelled it).
    #[error("a store task ended without an answer: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("the database holds a resource of unknown kind {0:?}")]
    UnknownKind(String),
    /// '' is the status the stores count every document under, so no document may have it.
    #[error("an empty status cannot be stored")]
    EmptyStatus,
}

/// '' is the "all" row of the counts (see [`StoreError::EmptyStatus`]).
fn storable_status(status: Option<&str>) -> Result<(), StoreError> {
    if status == Some("") {
        Err(StoreError::EmptyStatus)
    } else {
        Ok(())
    }
}

/// A closure's panic as an error, with the panic's message when it has one.
fn panicked(panic: Box<dyn std::any::Any + Send>) -> StoreError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    StoreError::Panicked(message)
}

/// Read access, inside one consistent snapshot.
pub trait Reader {
    fn get(&self, key: &Key) -> Result<Option<String>, StoreError>;
    /// Documents of `kind` in `scope` with a name after `after`, by name, at most `limit`;
    /// only those with `status` when given.
    fn list(
        &self,
        kind: Kind,
        scope: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError>;
    /// How many documents of `kind` in `scope` (with `status` when given).
    fn count(&self, kind: Kind, scope: &str, status: Option<&str>) -> Result<u64, StoreError>;
    /// The resources whose references include `target`, sorted.
    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError>;
}

/// Write access, inside one atomic transaction.
pub trait Tx: Reader {
    /// Inserts or replaces a document; `status` is the value [`Reader::list`] and
    /// [`Reader::count`] filter on.
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError>;
    /// Replaces the references of `source`, which must be stored already (see [`Tx::put`])
    /// unless `targets` is empty.
    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError>;
    /// Stores a new document with its references: [`Tx::put`] then [`Tx::set_refs`], which a
    /// store may do in fewer steps. The key must not be stored yet.
    fn insert(
        &mut self,
        key: &Key,
        status: Option<&str>,
        doc: &str,
        refs: &[Key],
    ) -> Result<(), StoreError> {
        self.put(key, status, doc)?;
        self.set_refs(key, refs)
    }
    /// Deletes a document and its references; false if there was none.
    fn delete(&mut self, key: &Key) -> Result<bool, StoreError>;
}

/// A place to keep resources. `read` and `write` run the closure on a blocking thread (SQLite,
/// PostgreSQL) and never on the async runtime's workers.
pub trait Store: Send + Sync + 'static {
    /// Runs `f` against a consistent snapshot.
    fn read<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&dyn Reader) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static;

    /// Runs `f` in a transaction: all its changes are kept and on disk when it returns `Ok`,
    /// none are when it returns `Err`.
    fn write<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static;

    /// Registers `listener` for other processes' writes. A store only this process writes
    /// (SQLite, memory) never calls it.
    fn follow(&self, listener: Listener) {
        let _ = listener;
    }

    /// Whether reads and writes work (for `/readyz`).
    fn ready(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async {
            self.read(|r| r.count(Kind::Project, "", None).map(|_| ()))
                .await?;
            self.write(|_| Ok::<(), StoreError>(())).await
        }
    }
}
