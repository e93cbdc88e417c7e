//! Kubernetes Events, published off the reconcile path.
//!
//! A reconcile pass hands its event to a bounded queue and goes on; one task writes the queued
//! events to the API server, one at a time, in order. Events are for people reading
//! `kubectl describe`, so they must not slow the writes that converge resources (the status):
//! the writer gives way to reconcile passes. An event is written once no pass has started for
//! [`GIVE_WAY`], or once it has waited [`MAX_DELAY`], whichever comes first; so during a burst
//! of new resources (a GitOps sync of a whole directory) the API server sees the status writes
//! first, and the events follow: each waits at most [`MAX_DELAY`] for the passes to pause, then
//! its turn in the queue (BENCHMARKS.md, part 6). When more
//! than [`QUEUE`] wait, new ones are dropped and counted (`launch_operator_events_total{outcome=
//! "Dropped"}`), as client-go's event broadcaster does; the status always says the same.
//!
//! The `events.k8s.io/v1` Event is built when the pass publishes it, so its `eventTime` is the
//! pass's, however long it waits. kube's `Recorder` is not used: it stamps the time when it sends,
//! and it keeps every event it sent for 6 minutes to merge repeats into a series (about 3.5 KiB
//! each, 70 MiB after 10,000 new launches). This controller publishes on transitions only, so
//! repeats are rare; one becomes a new Event.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event as Record},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::PostParams,
    runtime::events::{Event, EventType, Reporter},
};
use tokio::{
    sync::mpsc::{self, error::TrySendError},
    task::JoinHandle,
    time::Instant,
};
use tracing::warn;

use super::metrics::Metrics;

/// Events waiting to be written before new ones are dropped: a burst's worth (an event is about
/// 1 KiB queued).
pub const QUEUE: usize = 4096;

/// How long no reconcile pass must have started before a queued event is written.
pub const GIVE_WAY: Duration = Duration::from_millis(250);

/// The longest an event waits for the passes to pause.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// The sending side, shared by every reconcile pass.
pub struct Events {
    queue: mpsc::Sender<(Record, Instant)>,
    reporter: Reporter,
    metrics: Arc<Metrics>,
    activity: Arc<Activity>,
}

/// When the last reconcile pass started, for the writer to give way to passes.
#[derive(Debug)]
struct Activity {
    origin: Instant,
    /// Milliseconds from `origin` to the start of the last pass.
    last_pass: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            last_pass: AtomicU64::new(0),
        }
    }

    fn pass(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_pass.fetch_max(ms, Ordering::Relaxed);
    }

    /// Returns once no pass has started for [`GIVE_WAY`], or at `deadline`.
    async fn quiet_or(&self, deadline: Instant) {
        loop {
            let last = self.origin + Duration::from_millis(self.last_pass.load(Ordering::Relaxed));
            let quiet_at = last + GIVE_WAY;
            let now = Instant::now();
            if now >= quiet_at || now >= deadline {
                return;
            }
            tokio::time::sleep_until(quiet_at.min(deadline)).await;
        }
    }
}

/// The writing task; it ends when every [`Events`] is dropped and the queue is written.
pub struct Writer(JoinHandle<()>);

impl Events {
    pub fn start(client: Client, reporter: Reporter, metrics: Arc<Metrics>) -> (Events, Writer) {
        let (queue, pending) = mpsc::channel(QUEUE);
        let activity = Arc::new(Activity::new());
        let task = tokio::spawn(write(client, metrics.clone(), activity.clone(), pending));
        (
            Events {
                queue,
                reporter,
                metrics,
                activity,
            },
            Writer(task),
        )
    }

    /// A reconcile pass starts: queued events wait (see the module's documentation).
    pub fn pass_started(&self) {
        self.activity.pass();
    }

    /// Queues `event` about `object`, stamped now; never waits.
    pub fn publish(&self, event: Event, object: ObjectReference) {
        let record = record(&self.reporter, event, object, Timestamp::now());
        match self.queue.try_send((record, Instant::now())) {
            Ok(()) => {}
            Err(TrySendError::Full((record, _))) => {
                let dropped = self.metrics.event("Dropped");
                // The first drop since the start and then one in every QUEUE, not one line
                // per event.
                if dropped == 1 || dropped.is_multiple_of(QUEUE as u64) {
                    warn!(
                        reason = record.reason,
                        dropped, "event queue full ({QUEUE}); dropping events"
                    );
                }
            }
            Err(TrySendError::Closed((record, _))) => {
                self.metrics.event("Dropped");
                warn!(
                    reason = record.reason,
                    "the event writer has stopped; event dropped"
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

/// The `events.k8s.io/v1` Event for `event` about `regarding`, at `at`.
fn record(reporter: &Reporter, event: Event, regarding: ObjectReference, at: Timestamp) -> Record {
    let name = regarding.name.clone().unwrap_or_default();
    Record {
        metadata: ObjectMeta {
            // Unique per event, as client-go and kube name them.
            name: Some(format!(
                "{name}.{}",
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            )),
            namespace: regarding.namespace.clone(),
            ..ObjectMeta::default()
        },
        action: Some(event.action),
        event_time: Some(MicroTime(at)),
        note: event.note,
        reason: Some(event.reason),
        regarding: Some(regarding),
        related: event.secondary,
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(
            reporter
                .instance
                .clone()
                .unwrap_or_else(|| reporter.controller.clone()),
        ),
        type_: Some(
            match event.type_ {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .into(),
        ),
        ..Record::default()
    }
}

async fn write(
    client: Client,
    metrics: Arc<Metrics>,
    activity: Arc<Activity>,
    mut pending: mpsc::Receiver<(Record, Instant)>,
) {
    while let Some((record, queued)) = pending.recv().await {
        activity.quiet_or(queued + MAX_DELAY).await;
        let namespace = record.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<Record> = Api::namespaced(client.clone(), namespace);
        match api.create(&PostParams::default(), &record).await {
            Ok(_) => {
                metrics.event("Published");
            }
            Err(e) => {
                metrics.event("Failed");
                warn!(error = %e, reason = record.reason, "cannot publish event");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: None,
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    fn launch_ref() -> ObjectReference {
        ObjectReference {
            name: Some("checkout".into()),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        }
    }

    #[tokio::test]
    async fn beyond_the_queue_events_are_dropped_and_counted_without_waiting() {
        // An API server that never answers: the writer stays on its first event. It says when
        // the request arrives, so the test knows the writer took that event off the queue.
        let requested = Arc::new(tokio::sync::Notify::new());
        let arrived = requested.clone();
        let hung = tower::service_fn(move |_: http::Request<kube::client::Body>| {
            arrived.notify_one();
            std::future::pending::<Result<http::Response<kube::client::Body>, std::io::Error>>()
        });
        let client = Client::new(hung, "default");
        let metrics = Arc::new(Metrics::new());
        let reporter = Reporter {
            controller: "launch-operator".into(),
            instance: None,
        };
        let (events, writer) = Events::start(client, reporter, metrics.clone());
        events.publish(event("First"), launch_ref());
        tokio::time::timeout(Duration::from_secs(5), requested.notified())
            .await
            .expect("the writer sends the first event");
        // The writer holds the first; the queue takes QUEUE more; the last two are dropped.
        let started = std::time::Instant::now();
        for _ in 0..QUEUE + 2 {
            events.publish(event("Created"), launch_ref());
        }
        assert!(started.elapsed() < Duration::from_secs(1), "publish waited");
        let text = metrics.encode();
        assert!(
            text.contains("launch_operator_events_total{outcome=\"Dropped\"} 2"),
            "{text}"
        );
        drop(events);
        // Nothing can be written: flush gives up after its grace instead of hanging.
        tokio::time::timeout(
            Duration::from_secs(5),
            writer.flush(Duration::from_millis(100)),
        )
        .await
        .expect("flush returns after its grace");
    }

    /// Events and an API server that reports when each event arrives (and answers 500).
    fn recorded() -> (Events, Writer, mpsc::UnboundedReceiver<Instant>) {
        let (arrivals, arrived) = mpsc::unbounded_channel();
        let server = tower::service_fn(move |_: http::Request<kube::client::Body>| {
            let _ = arrivals.send(Instant::now());
            async {
                Ok::<_, std::io::Error>(
                    http::Response::builder()
                        .status(500)
                        .body(kube::client::Body::empty())
                        .unwrap(),
                )
            }
        });
        let reporter = Reporter {
            controller: "launch-operator".into(),
            instance: None,
        };
        let (events, writer) = Events::start(
            Client::new(server, "default"),
            reporter,
            Arc::new(Metrics::new()),
        );
        (events, writer, arrived)
    }

    #[tokio::test(start_paused = true)]
    async fn events_wait_until_passes_pause() {
        let (events, _writer, mut arrived) = recorded();
        let queued = Instant::now();
        events.pass_started();
        events.publish(event("Created"), launch_ref());
        // Passes every 100 ms for 3 s: the event waits.
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            events.pass_started();
            assert!(arrived.try_recv().is_err(), "written while passes ran");
        }
        let last_pass = Instant::now();
        let at = arrived.recv().await.expect("the event is written");
        assert!(at >= last_pass + GIVE_WAY, "{:?}", at - last_pass);
        assert!(at < last_pass + GIVE_WAY + Duration::from_millis(50));
        assert!(at - queued < MAX_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn events_wait_no_longer_than_the_max_delay() {
        let (events, _writer, mut arrived) = recorded();
        let queued = Instant::now();
        events.publish(event("Created"), launch_ref());
        events.pass_started();
        // Passes without pause: the event goes out at its deadline all the same.
        let busy = async {
            for _ in 0..400 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                events.pass_started();
            }
        };
        let at = tokio::select! {
            at = arrived.recv() => at.expect("the event is written"),
            () = busy => panic!("not written in 20 s of passes"),
        };
        assert!(at >= queued + MAX_DELAY, "{:?}", at - queued);
        assert!(at < queued + MAX_DELAY + Duration::from_millis(50));
    }

    #[test]
    fn an_event_record_carries_the_given_time_and_names_its_object_and_reporter() {
        let reporter = Reporter {
            controller: "launch-operator".into(),
            instance: Some("pod-1".into()),
        };
        let regarding = ObjectReference {
            api_version: Some("evidently.launch-operator.io/v1alpha1".into()),
            kind: Some("Launch".into()),
            name: Some("checkout".into()),
            namespace: Some("shop".into()),
            uid: Some("u1".into()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: "InvalidSpec".into(),
            note: Some("spec.groups: bad".into()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let at = Timestamp::from_second(1_790_000_000).unwrap();
        let r = record(&reporter, event, regarding.clone(), at);
        let event_name = r.metadata.name.clone().unwrap();
        assert!(event_name.starts_with("checkout."), "{event_name}");
        assert_eq!(event_name.len(), "checkout.".len() + 16);
        assert_eq!(r.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(r.event_time, Some(MicroTime(at)));
        assert_eq!(r.type_.as_deref(), Some("Warning"));
        assert_eq!(r.reason.as_deref(), Some("InvalidSpec"));
        assert_eq!(r.regarding, Some(regarding));
        assert_eq!(r.reporting_controller.as_deref(), Some("launch-operator"));
        assert_eq!(r.reporting_instance.as_deref(), Some("pod-1"));
    }
}
