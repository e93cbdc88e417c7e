//! The emulator's Prometheus metrics: requests by operation and HTTP status code, request
//! latency by operation, and the events PutProjectEvents received by project, type and result.
//!
//! Label values are bounded: `operation` is an operation name from the API model (or
//! `UnknownOperation`), `code` an HTTP status code, `event_type` one of the model's two event
//! types, `result` `accepted` or `failed`. `project` is the one resource name used as a label:
//! at most [`MAX_EVENT_PROJECTS`] distinct names (the project quota is 50); events of any
//! further project are counted under `project="_other"`. Never a path or an entity.

use std::{collections::HashSet, sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    code: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabels {
    operation: &'static str,
    /// The key's name from the key file, or `unknown` (never the access key id or the secret).
    key: String,
    /// The AWS error code the request was refused with.
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    project: String,
    event_type: &'static str,
    result: &'static str,
}

/// Distinct `project` label values of the events counter.
pub const MAX_EVENT_PROJECTS: usize = 64;
/// The `project` label of events beyond [`MAX_EVENT_PROJECTS`] projects.
pub const OTHER_PROJECTS: &str = "_other";

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    events: Family<EventLabels, Counter>,
    refused: Family<AuthLabels, Counter>,
    event_projects: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "evidently_emulator_requests",
            "API requests by operation and HTTP status code",
            requests.clone(),
        );
        registry.register(
            "evidently_emulator_request_duration_seconds",
            "API request latency by operation, in seconds",
            duration.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "evidently_emulator_events",
            "Events received by PutProjectEvents, by project, event type and result (counted, not kept)",
            events.clone(),
        );
        let refused = Family::<AuthLabels, Counter>::default();
        registry.register(
            "evidently_emulator_auth_refused",
            "Requests refused by the signature check or a key's policy, by operation, key name and AWS error code",
            refused.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            events,
            refused,
            event_projects: Mutex::new(HashSet::new()),
        }
    }

    /// Records one answered request.
    pub fn observe(&self, operation: &'static str, code: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { operation, code })
            .inc();
        self.duration
            .get_or_create(&OperationLabels { operation })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request refused by the signature check or the key's policy. `key` is a key
    /// name from the key file (bounded by the file) or `unknown`.
    pub fn refused(&self, operation: &'static str, key: Option<&str>, code: &'static str) {
        self.refused
            .get_or_create(&AuthLabels {
                operation,
                key: key.unwrap_or("unknown").to_string(),
                code,
            })
            .inc();
    }

    /// Counts one event of PutProjectEvents.
    pub fn count_event(&self, project: &str, event_type: &'static str, accepted: bool) {
        let project = {
            let mut seen = self
                .event_projects
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if seen.contains(project) {
                project.to_string()
            } else if seen.len() < MAX_EVENT_PROJECTS {
                seen.insert(project.to_string());
                project.to_string()
            } else {
                OTHER_PROJECTS.to_string()
            }
        };
        self.events
            .get_or_create(&EventLabels {
                project,
                event_type,
                result: if accepted { "accepted" } else { "failed" },
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        crate::telemetry::encode_metrics(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_project_labels_are_bounded() {
        let m = Metrics::new();
        for i in 0..MAX_EVENT_PROJECTS + 10 {
            m.count_event(&format!("p{i}"), "aws.evidently.custom", true);
        }
        m.count_event("p0", "aws.evidently.custom", false);
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("evidently_emulator_events_total{"))
            .count();
        // One series per admitted project, one for the rest, one for p0's failure.
        assert_eq!(series, MAX_EVENT_PROJECTS + 2, "{text}");
        assert!(
            text.contains(
                r#"project="_other",event_type="aws.evidently.custom",result="accepted"} 10"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"project="p0",event_type="aws.evidently.custom",result="failed"} 1"#),
            "{text}"
        );
    }
}
