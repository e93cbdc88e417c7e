//! Prometheus metrics of the controller. Every label is a bounded category (operation names,
//! outcome categories, condition reasons, True/False), never an object name.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    /// The resource kind (`Project`, `Feature`, `Segment`, `Launch`).
    kind: String,
    /// `Ready` reason of the pass (e.g. `Reconciled`, `DependencyNotFound`).
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    /// `Published`, `Failed` (the API server refused it) or `Dropped` (the queue was full).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadyLabels {
    kind: String,
    ready: String,
}

/// The controller's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    failures: Family<ReconcileLabels, Counter>,
    duration: Histogram,
    calls: Family<CallLabels, Counter>,
    resources: Family<ReadyLabels, Gauge>,
    events: Family<EventLabels, Counter>,
    /// Kind and Ready status by object uid, to keep the `resources` gauge exact.
    ready_by_uid: Mutex<HashMap<String, (&'static str, &'static str)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("launch_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconcile passes, by the Ready condition reason they ended with",
            reconciles.clone(),
        );
        let failures = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconcile_failures",
            "Reconcile passes that ended with Ready=False, by reason",
            failures.clone(),
        );
        let duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconcile passes",
            duration.clone(),
        );
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "evidently_requests",
            "Evidently API calls, by operation and outcome (Success or an error category)",
            calls.clone(),
        );
        let resources = Family::<ReadyLabels, Gauge>::default();
        registry.register(
            "resources",
            "Resources by kind and Ready condition status",
            resources.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Kubernetes Events, by outcome: Published, Failed or Dropped (queue full)",
            events.clone(),
        );
        Metrics {
            registry,
            events,
            reconciles,
            failures,
            duration,
            calls,
            resources,
            ready_by_uid: Mutex::new(HashMap::new()),
        }
    }

    pub fn reconciled(&self, kind: &str, reason: &str, ready: bool, took: Duration) {
        let labels = ReconcileLabels {
            kind: kind.to_string(),
            reason: reason.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        if !ready {
            self.failures.get_or_create(&labels).inc();
        }
        self.duration.observe(took.as_secs_f64());
    }

    pub fn evidently_call(&self, operation: &'static str, outcome: &'static str) {
        self.calls
            .get_or_create(&CallLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts a Kubernetes Event by outcome (`Published`, `Failed`, `Dropped`); returns the
    /// count so far for that outcome.
    pub fn event(&self, outcome: &'static str) -> u64 {
        self.events
            .get_or_create(&EventLabels {
                outcome: outcome.to_string(),
            })
            .inc()
            + 1
    }

    /// Records the Ready status (`True` or `False`) of an object of `kind`, or its removal.
    pub fn set_ready(&self, kind: &'static str, uid: &str, ready: Option<&'static str>) {
        let Ok(mut map) = self.ready_by_uid.lock() else {
            return;
        };
        let now = ready.map(|r| (kind, r));
        let previous = match now {
            Some(entry) => map.insert(uid.to_string(), entry),
            None => map.remove(uid),
        };
        if previous == now {
            return;
        }
        let gauge = |(kind, ready): (&str, &str)| {
            self.resources.get_or_create(&ReadyLabels {
                kind: kind.into(),
                ready: ready.into(),
            })
        };
        if let Some(p) = previous {
            gauge(p).dec();
        }
        if let Some(n) = now {
            gauge(n).inc();
        }
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        crate::telemetry::encode_metrics(&self.registry)
    }
}

impl crate::evidently::Recorder for Metrics {
    fn call(&self, operation: &'static str, outcome: &'static str) {
        self.evidently_call(operation, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_gauge_counts_each_object_once() {
        let m = Metrics::new();
        m.set_ready("Launch", "a", Some("False"));
        m.set_ready("Launch", "a", Some("True"));
        m.set_ready("Launch", "b", Some("True"));
        m.set_ready("Launch", "b", Some("True"));
        let text = m.encode();
        assert!(
            text.contains("launch_operator_resources{kind=\"Launch\",ready=\"True\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("launch_operator_resources{kind=\"Launch\",ready=\"False\"} 0"),
            "{text}"
        );
        m.set_ready("Launch", "a", None);
        assert!(
            m.encode()
                .contains("launch_operator_resources{kind=\"Launch\",ready=\"True\"} 1")
        );
    }

    #[test]
    fn calls_are_labelled_by_operation_and_outcome() {
        let m = Metrics::new();
        m.evidently_call("GetLaunch", "Success");
        m.evidently_call("GetLaunch", "Success");
        let text = m.encode();
        assert!(
            text.contains("launch_operator_evidently_requests_total{operation=\"GetLaunch\",outcome=\"Success\"} 2"),
            "{text}"
        );
    }
}
