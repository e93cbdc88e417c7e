//! The controller (`launch-operator controller`): wiring of the Kubernetes client, the
//! Evidently client, leader election, the admin endpoints and the kube-runtime `Controller`.
//!
//! The reconcile algorithm is in `reconcile.rs`, the status rules in `status.rs`; this file
//! only starts and stops things.

pub mod reconcile;
pub mod status;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Context as _;
use futures::{FutureExt, StreamExt, future::join_all};
use kube::{
    Api, Client,
    runtime::{
        Controller,
        controller::Config,
        events::{Recorder, Reporter},
        watcher,
    },
};
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{info, warn};

pub use reconcile::{Context, error_policy, reconcile};

use crate::{admin, cli::ControllerArgs, crd::Launch, evidently::Evidently, metrics::Metrics};

/// Name of the leader-election Lease.
pub const LEASE_NAME: &str = "launch-operator";

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("launch-operator-{}", uuid::Uuid::new_v4()))
}

/// Runs the controller until SIGTERM/SIGINT, or until the leader lease is lost (an error, so
/// the process exits and no two replicas ever reconcile at once).
pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let client = Client::try_default().await.context(
        "cannot configure the Kubernetes client (in-cluster service account or KUBECONFIG)",
    )?;
    let metrics = Arc::new(Metrics::new());
    let evidently = Evidently::from_env(args.evidently_endpoint.as_deref(), metrics.clone()).await;
    let identity = args.identity.clone().unwrap_or_else(hostname);
    let shutdown = shutdown_signal().shared();
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

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "launch-operator".into(),
            instance: Some(identity),
        },
    );
    let ctx = Arc::new(Context::new(
        client.clone(),
        evidently,
        metrics,
        recorder,
        args.resync_interval,
    ));
    let apis: Vec<Api<Launch>> = if args.namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        args.namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    let controllers = join_all(apis.into_iter().map(|api| {
        Controller::new(api, watcher::Config::default())
            .with_config(Config::default().concurrency(args.concurrency))
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                if let Err(e) = result {
                    warn!(error = %e, "controller");
                }
            })
    }));
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
    match admin.await {
        Ok(Err(e)) => warn!(error = %e, "admin server"),
        Err(e) => warn!(error = %e, "admin server task"),
        Ok(Ok(())) => {}
    }
    outcome
}
