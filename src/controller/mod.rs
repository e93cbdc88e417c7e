//! The controller (`launch-operator controller`): wiring of the Kubernetes client, the
//! Evidently client, leader election, the admin endpoints and one kube-runtime controller per
//! kind (`Project`, `Segment`, `Feature`, `Launch`).
//!
//! The reconcile algorithm is in `reconcile.rs`, the status rules in `status.rs`, the
//! dependency triggers between kinds in `signals.rs`; this file only starts and stops things.

pub mod admin;
pub mod cache;
pub mod events;
pub mod metrics;
pub mod reconcile;
pub mod signals;
pub mod status;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Context as _;
use futures::{FutureExt, StreamExt, future::BoxFuture, future::join_all, stream};
use kube::{
    Api, Client,
    runtime::{
        WatchStreamExt, applier,
        controller::{Config, ReconcileRequest, trigger_self},
        events::Reporter,
        reflector, watcher,
    },
};
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{info, warn};

pub use reconcile::{Context, error_policy, reconcile};

use crate::{
    crd::{Feature, Launch, Project, Segment},
    evidently::Evidently,
    kinds::Managed,
};
use cache::Cached;
use metrics::Metrics;

/// How long queued events may still be written at exit (after [`SHUTDOWN_GRACE`]; together
/// under the Deployment's 30 s).
const EVENT_FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Name of the leader-election Lease.
pub const LEASE_NAME: &str = "launch-operator";

/// How long reconcile passes in flight may go on after SIGTERM before the process exits anyway
/// (the Deployment's termination grace period is 30 s). A watch that cannot reach the API
/// server would otherwise keep it alive.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Reconciles the objects of kind `K` of `api` until `shutdown`: what
/// `kube::runtime::Controller` does (cache, one trigger per change, reconciles as tasks,
/// in-flight passes finish on shutdown), assembled from its parts so that objects are pruned
/// and kept compact ([`cache`]) before they are cached, and so that the objects waiting for
/// another kind are triggered when it moves ([`signals`]).
async fn control<K: Managed>(
    api: Api<Cached<K>>,
    ctx: Arc<Context>,
    concurrency: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (store, writer) = reflector::store();
    let changes = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(Cached::<K>::prune)
        .reflect(writer)
        .applied_objects()
        // The controller's own status writes do not call for another pass.
        .predicate_filter(trigger_hash::<K>, Default::default());
    let waiting = ctx
        .signals
        .waiting::<K>(store.clone())
        .map(|r| Ok(ReconcileRequest::from(r)));
    let queue = stream::select(trigger_self(changes, ()), waiting).take_until(shutdown);
    applier(
        |object, ctx| {
            let pass = tokio::spawn(reconcile::<K>(object, ctx));
            Box::pin(async move {
                match pass.await {
                    Ok(result) => result,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            })
        },
        error_policy::<K>,
        ctx,
        store,
        queue,
        Config::default().concurrency(concurrency),
    )
    .for_each(|result| async move {
        if let Err(e) = result {
            warn!(kind = K::KIND, error = %e, "controller");
        }
    })
    .await;
}

/// What a pass depends on besides the status: the spec (through `generation`), deletion, the
/// finalizers and the controller's annotations. A change of anything else (the status above
/// all, which the pass writes itself) triggers nothing; the resync and the scheduled requeues
/// still come.
fn trigger_hash<K: Managed>(object: &Cached<K>) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let m = &object.metadata;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.uid.hash(&mut h);
    m.generation.hash(&mut h);
    m.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    m.finalizers.hash(&mut h);
    m.annotations.hash(&mut h);
    Some(h.finish())
}

/// The controller of `K` for each watched namespace (or the whole cluster).
fn controllers_of<K: Managed>(
    client: &Client,
    namespaces: &[String],
    ctx: &Arc<Context>,
    concurrency: u16,
    shutdown: &(impl std::future::Future<Output = ()> + Clone + Send + 'static),
) -> Vec<BoxFuture<'static, ()>> {
    let apis: Vec<Api<Cached<K>>> = if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    apis.into_iter()
        .map(|api| control::<K>(api, ctx.clone(), concurrency, shutdown.clone()).boxed())
        .collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("launch-operator-{}", uuid::Uuid::new_v4()))
}

/// What the controller runs with (the command line's `controller` flags; `crate::cli` parses
/// them).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Namespaces to watch; all when empty.
    pub namespaces: Vec<String>,
    /// Evidently endpoint URL; `None`: the AWS SDK's own resolution.
    pub evidently_endpoint: Option<String>,
    pub resync_interval: std::time::Duration,
    /// Passes run at the same time, per kind.
    pub concurrency: u16,
    pub admin_listen: std::net::SocketAddr,
    pub leader_election: bool,
    pub leader_election_namespace: Option<String>,
    /// This replica's identity in the Lease (default: the host name).
    pub identity: Option<String>,
}

/// Runs the controller until SIGTERM/SIGINT, or until the leader lease is lost (an error, so
/// the process exits and no two replicas ever reconcile at once).
pub async fn run(args: Settings) -> anyhow::Result<()> {
    let client = Client::try_default().await.context(
        "cannot configure the Kubernetes client (in-cluster service account or KUBECONFIG)",
    )?;
    let metrics = Arc::new(Metrics::new());
    let evidently = Evidently::from_env(args.evidently_endpoint.as_deref(), metrics.clone()).await;
    let identity = args.identity.clone().unwrap_or_else(hostname);
    // Before the admin port is bound: once it listens, SIGTERM stops the controller cleanly.
    let shutdown = crate::telemetry::shutdown_signal().shared();
    let ready = Arc::new(AtomicBool::new(false));

    let admin = tokio::spawn(admin::serve(
        args.admin_listen,
        ready.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));

    let mut lease = None;
    if args.leader_election {
        let namespace = args
            .leader_election_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let manager = LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(&namespace)
            .with_identity(&identity)
            .with_duration(15)
            .with_grace(5)
            .build()
            .await
            .with_context(|| {
                format!("cannot set up the leader-election Lease in namespace {namespace}")
            })?;
        let (mut rx, task) = manager.watch().await;
        info!(identity, namespace, "waiting for the leader lease");
        while !*rx.borrow_and_update() {
            tokio::select! {
                changed = rx.changed() => changed.context("the leader-election task stopped")?,
                _ = shutdown.clone() => return Ok(()),
            }
        }
        info!(identity, "holding the leader lease");
        lease = Some((rx, task));
    }

    let reporter = Reporter {
        controller: "launch-operator".into(),
        instance: Some(identity),
    };
    let (events, event_writer) = events::Events::start(client.clone(), reporter, metrics.clone());
    let ctx = Arc::new(Context::new(
        client.clone(),
        evidently,
        metrics,
        events,
        args.resync_interval,
    ));
    let (ns, n) = (&args.namespaces, args.concurrency);
    let mut all = controllers_of::<Project>(&client, ns, &ctx, n, &shutdown);
    all.extend(controllers_of::<Segment>(&client, ns, &ctx, n, &shutdown));
    all.extend(controllers_of::<Feature>(&client, ns, &ctx, n, &shutdown));
    all.extend(controllers_of::<Launch>(&client, ns, &ctx, n, &shutdown));
    let all = join_all(all);
    // The passes hold the rest; the event writer ends once they are all gone.
    drop(ctx);
    let grace = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    let controllers = async move {
        tokio::select! {
            _ = all => {},
            _ = grace => warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running after the shutdown grace period; exiting"),
        }
    };
    ready.store(true, Ordering::Relaxed);
    info!(namespaces = ?args.namespaces, "controller running");

    let outcome = match lease {
        Some((mut rx, _task)) => {
            let lost = async move {
                loop {
                    if rx.changed().await.is_err() || !*rx.borrow() {
                        break;
                    }
                }
            };
            tokio::select! {
                _ = controllers => Ok(()),
                _ = lost => Err(anyhow::anyhow!("lost the leader lease; exiting so that only one replica reconciles")),
            }
        }
        None => {
            controllers.await;
            Ok(())
        }
    };
    ready.store(false, Ordering::Relaxed);
    if outcome.is_err() {
        // Another replica may hold the lease already: no event flush (the passes still running
        // would keep the writer alive for the whole grace), and the admin server, which stops
        // on SIGTERM only, is stopped too.
        admin.abort();
        return outcome;
    }
    event_writer.flush(EVENT_FLUSH_GRACE).await;
    match admin.await {
        Ok(Err(e)) => warn!(error = %e, "admin server"),
        Err(e) => warn!(error = %e, "admin server task"),
        Ok(Ok(())) => {}
    }
    outcome
}
