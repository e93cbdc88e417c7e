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

use std::{future::Future, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

pub use http::router;

use self::{
    arn::Arns,
    metrics::Metrics,
    store::{PostgresStore, SqliteStore},
};
use crate::cli::EmulatorArgs;

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            body_limit: 1024 * 1024,
            response_delays: Vec::new(),
        }
    }
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
        })
    }

    pub fn arns(&self) -> &Arns {
        &self.arns
    }
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

/// Runs the emulator until SIGTERM/SIGINT, on PostgreSQL if `--database-url` is given and on
/// SQLite in `--data-dir` otherwise.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let settings = Settings {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        body_limit: args.body_limit,
        response_delays: args.fault_delay.clone(),
    };
    match &args.database_url {
        Some(url) => {
            let store = PostgresStore::connect(url, args.database_pool_size)
                .await
                .context("opening the PostgreSQL store")?;
            let database = format!("postgres://{}", store.target());
            listen_and_serve(store, &args, &settings, &database).await
        }
        None => {
            let data_dir = args.data_dir.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir))
                .await
                .context("opening the store")??;
            let database = args.data_dir.display().to_string();
            listen_and_serve(store, &args, &settings, &database).await
        }
    }
}

async fn listen_and_serve<S: store::Store>(
    store: S,
    args: &EmulatorArgs,
    settings: &Settings,
    database: &str,
) -> anyhow::Result<()> {
    let emulator = Emulator::new(store, settings);
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
    serve(listener, emulator, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("Evidently emulator stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
