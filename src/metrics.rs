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
    ready: String,
}

/// The controller's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    failures: Family<ReconcileLabels, Counter>,
    duration: Histogram,
    calls: Family<CallLabels, Counter>,
    launches: Family<ReadyLabels, Gauge>,
    events: Family<EventLabels, Counter>,
    /// Ready status by object uid, to keep the `launches` gauge exact.
    ready_by_uid: Mutex<HashMap<String, &'static str>>,
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
        let launches = Family::<ReadyLabels, Gauge>::default();
        registry.register(
            "launches",
            "Launch resources by Ready condition status",
            launches.clone(),
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
            launches,
            ready_by_uid: Mutex::new(HashMap::new()),
        }
    }

    pub fn reconciled(&self, reason: &str, ready: bool, took: Duration) {
        let labels = ReconcileLabels {
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

    /// Records the Ready status (`True` or `False`) of an object, or its removal.
    pub fn set_ready(&self, uid: &str, ready: Option<&'static str>) {
        let Ok(mut map) = self.ready_by_uid.lock() else {
            return;
        };
        let previous = match ready {
            Some(r) => map.insert(uid.to_string(), r),
            None => map.remove(uid),
        };
        if previous == ready {
            return;
        }
        if let Some(p) = previous {
            self.launches
                .get_or_create(&ReadyLabels { ready: p.into() })
                .dec();
        }
        if let Some(r) = ready {
            self.launches
                .get_or_create(&ReadyLabels { ready: r.into() })
                .inc();
        }
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_gauge_counts_each_object_once() {
        let m = Metrics::new();
        m.set_ready("a", Some("False"));
        m.set_ready("a", Some("True"));
        m.set_ready("b", Some("True"));
        m.set_ready("b", Some("True"));
        let text = m.encode();
        assert!(
            text.contains("launch_operator_launches{ready=\"True\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("launch_operator_launches{ready=\"False\"} 0"),
            "{text}"
        );
        m.set_ready("a", None);
        assert!(
            m.encode()
                .contains("launch_operator_launches{ready=\"True\"} 1")
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
