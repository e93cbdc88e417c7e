//! The Evidently emulator (`launch-operator emulator`): CloudWatch Evidently's control-plane
//! REST-JSON API over HTTP, with the service's validation and errors, on durable embedded
//! storage, so that `aws-sdk-evidently`, boto3 and the AWS CLI cannot tell it from the service.
//!
//! Layers, outside in:
//! * [`http`] — axum router, the one API handler, health and metrics endpoints;
//! * [`wire`] — which operation a request is, and its input as JSON (restJson1 rules);
//! * [`error`] — the error enum and its AWS wire form;
//! * [`ops`] — what each operation does, over a store transaction;
//! * [`eval`] — the data plane: evaluations on in-memory compiled views of projects;
//! * [`resources`] — the stored documents; [`arn`] — ARNs and name-or-ARN references;
//! * [`store`] — the `Store` trait, SQLite (durable, the default), PostgreSQL (shared by
//!   several replicas) and in-memory (tests) implementations.
//!
//! Not emulated: experiments, UpdateProjectDataDelivery, request signatures, throttling; events
//! (PutProjectEvents) are validated and counted, not kept. Behaviour where the service is
//! undocumented is listed in `docs/emulator.md`.

pub mod arn;
pub mod auth;
pub mod error;
pub mod eval;
pub mod http;
pub mod metrics;
pub mod ops;
pub mod resources;
pub mod store;
pub mod wire;

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

pub use http::router;

use self::{
    arn::Arns,
    metrics::Metrics,
    store::{PostgresStore, SqliteStore},
};

/// What the emulator needs besides its store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Region in ARNs.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Operations answered only after a delay (after their write committed); a testing aid.
    pub response_delays: Vec<(String, std::time::Duration)>,
    /// The access keys requests must be signed with; `None`: requests are not checked.
    pub auth: Option<Arc<auth::Keys>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            body_limit: 1024 * 1024,
            response_delays: Vec::new(),
            auth: None,
        }
    }
}

/// What [`run`] runs with: the command line's `emulator` flags (`crate::cli` parses them).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Address of the API (and /healthz, /readyz, /metrics).
    pub listen: SocketAddr,
    /// Address of /metrics alone, instead of the API's.
    pub metrics_listen: Option<SocketAddr>,
    pub database: Database,
    pub auth: AuthSettings,
    /// Region, account, body limit and delays; its `auth` is filled in from [`Self::auth`].
    pub settings: Settings,
}

/// Where the resources are kept.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite in this directory (created if missing).
    Sqlite { data_dir: PathBuf },
    /// PostgreSQL, shared by several replicas, with at most `pool_size` connections; with
    /// `sslmode` in the URL, the server's certificate is checked against `ca_file` (PEM) or,
    /// without it, the system's roots.
    Postgres {
        url: String,
        pool_size: usize,
        ca_file: Option<PathBuf>,
    },
}

/// Whether requests must be signed.
#[derive(Debug, Clone)]
pub enum AuthSettings {
    Off,
    /// AWS Signature Version 4 with a key of the file `keys` (required), read again when it
    /// changes, checked every `reload_interval`.
    Sigv4 {
        keys: Option<PathBuf>,
        reload_interval: Duration,
    },
}

/// The emulator's shared state: store, ARN formats, metrics.
#[derive(Debug)]
pub struct Emulator<S> {
    store: S,
    arns: Arc<Arns>,
    metrics: Metrics,
    /// Compiled projects for evaluations; invalidated by every committed write, this
    /// process's or (through the store's notifications) another replica's.
    views: Arc<eval::Views>,
    body_limit: usize,
    response_delays: Vec<(String, std::time::Duration)>,
    auth: Option<Arc<auth::Keys>>,
    region: String,
    account_id: String,
}

impl<S: store::Store> Emulator<S> {
    pub fn new(store: S, settings: &Settings) -> Arc<Emulator<S>> {
        let views = Arc::new(eval::Views::default());
        let followed = views.clone();
        store.follow(Arc::new(move |event| followed.foreign(event)));
        Arc::new(Emulator {
            store,
            arns: Arc::new(Arns::new(&settings.region, &settings.account_id)),
            metrics: Metrics::new(),
            views,
            body_limit: settings.body_limit,
            response_delays: settings.response_delays.clone(),
            auth: settings.auth.clone(),
            region: settings.region.clone(),
            account_id: settings.account_id.clone(),
        })
    }

    pub fn arns(&self) -> &Arns {
        &self.arns
    }
}

/// Serves `/metrics` alone on `listener` (`--metrics-listen`, so a NetworkPolicy can give the
/// API and the metrics different audiences) until `shutdown` completes.
pub async fn serve_metrics<S: store::Store>(
    listener: TcpListener,
    emulator: Arc<Emulator<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::metrics_router(emulator))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the emulator on `listener` until `shutdown` completes; requests in flight then
/// finish before it returns.
pub async fn serve<S: store::Store>(
    listener: TcpListener,
    emulator: Arc<Emulator<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(emulator))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs the emulator until SIGTERM/SIGINT, on PostgreSQL or SQLite as `run.database` says.
pub async fn run(run: RunSettings) -> anyhow::Result<()> {
    let mut settings = run.settings.clone();
    settings.auth = match &run.auth {
        AuthSettings::Off => None,
        AuthSettings::Sigv4 { keys: None, .. } => anyhow::bail!(
            "--auth sigv4 needs --auth-keys (EMULATOR_AUTH_KEYS): the file of access keys"
        ),
        AuthSettings::Sigv4 {
            keys: Some(path),
            reload_interval,
        } => {
            let keys = Arc::new(auth::Keys::load(path)?);
            tracing::info!(path = %path.display(), keys = keys.len(), "requests must be signed (SigV4)");
            keys.clone().watch(*reload_interval);
            Some(keys)
        }
    };
    match &run.database {
        Database::Postgres {
            url,
            pool_size,
            ca_file,
        } => {
            let store = PostgresStore::connect(url, *pool_size, ca_file.as_deref())
                .await
                .context("opening the PostgreSQL store")?;
            let database = format!("postgres://{}", store.target());
            listen_and_serve(store, &run, &settings, &database).await
        }
        Database::Sqlite { data_dir } => {
            let dir = data_dir.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir))
                .await
                .context("opening the store")??;
            let database = data_dir.display().to_string();
            listen_and_serve(store, &run, &settings, &database).await
        }
    }
}

async fn listen_and_serve<S: store::Store>(
    store: S,
    args: &RunSettings,
    settings: &Settings,
    database: &str,
) -> anyhow::Result<()> {
    let emulator = Emulator::new(store, settings);
    // Before the port is bound: once it listens, SIGTERM stops the emulator cleanly.
    let shutdown = futures::FutureExt::shared(crate::telemetry::shutdown_signal());
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %listener.local_addr().unwrap_or(args.listen),
        store = %database,
        region = %settings.region,
        account_id = %settings.account_id,
        "Evidently emulator listening"
    );
    match args.metrics_listen {
        None => serve(listener, emulator, shutdown)
            .await
            .context("serving")?,
        Some(addr) => {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?;
            tracing::info!(listen = %addr, "metrics served on their own port");
            let api = axum::serve(listener, http::api_router(emulator.clone()))
                .with_graceful_shutdown(shutdown.clone());
            let metrics = serve_metrics(metrics_listener, emulator, shutdown);
            let (a, m) = tokio::join!(api.into_future(), metrics);
            a.context("serving")?;
            m.context("serving metrics")?;
        }
    }
    tracing::info!("Evidently emulator stopped");
    Ok(())
}
