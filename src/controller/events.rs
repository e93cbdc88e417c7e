//! Kubernetes Events, published off the reconcile path.
//!
//! A reconcile pass hands its event to a bounded queue and goes on; one task writes the queued
//! events to the API server, one at a time, in order. Events are for people reading
//! `kubectl describe`, so they must not slow the writes that converge launches (the finalizer
//! and the status): during a burst of new launches they take one request in flight instead of
//! one per reconcile pass, and catch up afterwards (BENCHMARKS.md). When more than
//! [`QUEUE`] wait, new ones are dropped and counted (`launch_operator_events_total{outcome=
//! "Dropped"}`), as client-go's event broadcaster does; the status always says the same.
//!
//! Each event goes through a fresh `Recorder`: kube's keeps every event it sent for 6 minutes to
//! merge repeats into a series, about 3.5 KiB each, 70 MiB after 10,000 new launches. This
//! controller publishes on transitions only, so repeats are rare; one becomes a new Event
//! instead of a series patch.

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Client,
    runtime::events::{Event, Recorder, Reporter},
};
use tokio::{sync::mpsc, task::JoinHandle};
use tracing::warn;

use crate::metrics::Metrics;

/// Events waiting to be written before new ones are dropped.
pub const QUEUE: usize = 1024;

/// The sending side, shared by every reconcile pass.
pub struct Events {
    queue: mpsc::Sender<(Event, ObjectReference)>,
    metrics: Arc<Metrics>,
}

/// The writing task; it ends when every [`Events`] is dropped and the queue is written.
pub struct Writer(JoinHandle<()>);

impl Events {
    pub fn start(client: Client, reporter: Reporter, metrics: Arc<Metrics>) -> (Events, Writer) {
        let (queue, pending) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write(client, reporter, metrics.clone(), pending));
        (Events { queue, metrics }, Writer(task))
    }

    /// Queues `event` about `object`; never waits.
    pub fn publish(&self, event: Event, object: ObjectReference) {
        if let Err(e) = self.queue.try_send((event, object)) {
            let dropped = self.metrics.event("Dropped");
            // The first drop of a burst and then every 1024th, not one line per event.
            if dropped == 1 || dropped.is_multiple_of(1024) {
                let (event, _) = e.into_inner();
                warn!(
                    reason = event.reason,
                    dropped, "event queue full ({QUEUE}); dropping events"
                );
            }
        }
    }
}

impl Writer {
    /// Waits up to `grace` for the queued events to be written (after the last [`Events`] is
    /// dropped).
    pub async fn flush(self, grace: Duration) {
        if tokio::time::timeout(grace, self.0).await.is_err() {
            warn!(?grace, "events still queued at exit; not written");
        }
    }
}

async fn write(
    client: Client,
    reporter: Reporter,
    metrics: Arc<Metrics>,
    mut pending: mpsc::Receiver<(Event, ObjectReference)>,
) {
    while let Some((event, object)) = pending.recv().await {
        let recorder = Recorder::new(client.clone(), reporter.clone());
        match recorder.publish(&event, &object).await {
            Ok(()) => {
                metrics.event("Published");
            }
            Err(e) => {
                metrics.event("Failed");
                warn!(error = %e, reason = event.reason, "cannot publish event");
            }
        }
    }
}
