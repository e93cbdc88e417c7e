//! PutProjectEvents: each event checked and answered on its own (`eventResults` in request
//! order, `failedEventCount`), then counted in the emulator's metrics by project and type.
//! Events are not kept: the emulator has no metrics pipeline, experiments or launch monitors
//! that could read them back.
//!
//! The whole request fails (ValidationException) only where the API model is broken (more than
//! 50 events, a missing or mistyped member, an unknown `type`); an event whose `data` is not a
//! JSON object or whose `timestamp` is before 1970 fails alone.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Views, project_view};
use crate::emulator::{arn::Arns, error::ApiError, metrics::Metrics, ops::Reply, store::Store};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub timestamp: f64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutProjectEventsInput {
    pub project: String,
    pub events: Vec<Event>,
}

/// The event types of the model, as `'static` metric label values.
fn event_type(name: &str) -> &'static str {
    match name {
        "aws.evidently.evaluation" => "aws.evidently.evaluation",
        _ => "aws.evidently.custom",
    }
}

/// Why one event is refused, if it is.
fn problem(event: &Event) -> Option<String> {
    if event.timestamp < 0.0 {
        return Some("timestamp must not be before 1970-01-01 (epoch seconds >= 0)".into());
    }
    match serde_json::from_str::<serde_json::Map<String, Value>>(&event.data) {
        Ok(_) => None,
        Err(e) => Some(format!("data must be a JSON object: {e}")),
    }
}

pub async fn put_project_events<S: Store>(
    store: &S,
    views: &Views,
    arns: &Arc<Arns>,
    metrics: &Metrics,
    input: PutProjectEventsInput,
) -> Result<Reply, ApiError> {
    let view = project_view(store, views, arns, &input.project).await?;
    let mut failed = 0;
    let results: Vec<Value> = input
        .events
        .iter()
        .map(|event| {
            let id = uuid::Uuid::new_v4().to_string();
            let problem = problem(event);
            metrics.count_event(
                view.name(),
                event_type(&event.event_type),
                problem.is_none(),
            );
            match problem {
                None => json!({"eventId": id}),
                Some(message) => {
                    failed += 1;
                    json!({
                        "eventId": id,
                        "errorCode": "ValidationException",
                        "errorMessage": message,
                    })
                }
            }
        })
        .collect();
    Reply::json(&json!({"failedEventCount": failed, "eventResults": results}))
}
