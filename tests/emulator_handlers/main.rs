//! Handler tests of the Evidently emulator: requests through the axum router with
//! `tower::ServiceExt::oneshot`, on the in-memory store (and on SQLite where durability or
//! concurrency is the point). Each test is one behaviour of the wire contract
//! (shared/reference/evidently-api.md) or one decision documented in docs/emulator.md.
//!
//! This file is the harness (a router and the requests the tests send); each operation family
//! has a file of its own.

mod evaluation;
mod events;
mod features;
mod health;
mod launches;
mod projects;
mod segment_patterns;
mod segments;
mod sqlite;
mod tags;
mod wire;

use std::sync::Arc;

use axum::{Router, body::Body, http::Request};
use http_body_util::BodyExt;
use launch_operator::emulator::{
    Emulator, Settings, router,
    store::{MemoryStore, SqliteStore},
};
use serde_json::{Value, json};
use tower::ServiceExt;

const ACCOUNT: &str = "arn:aws:evidently:us-east-1:123456789012";

#[derive(Debug)]
struct Answer {
    status: u16,
    error_type: Option<String>,
    request_id: Option<String>,
    content_type: Option<String>,
    body: Value,
    text: String,
}

impl Answer {
    /// Asserts an AWS error: status, `x-amzn-ErrorType`, and a `message`.
    #[track_caller]
    fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.error_type.as_deref(), Some(code), "{}", self.text);
        assert!(self.body["message"].is_string(), "{}", self.text);
        &self.body
    }

    /// Asserts a ResourceNotFoundException about a resource of `resource_type` and, if given,
    /// of the ARN `{ACCOUNT}:{id}`.
    #[track_caller]
    fn not_found(&self, resource_type: &str, id: Option<&str>) {
        let body = self.error(404, "ResourceNotFoundException");
        assert_eq!(body["resourceType"], resource_type, "{}", self.text);
        if let Some(id) = id {
            assert_eq!(
                body["resourceId"],
                format!("{ACCOUNT}:{id}"),
                "{}",
                self.text
            );
        }
    }

    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.error_type, None);
        &self.body
    }

    /// The `name`s of a ValidationException's `fieldList`.
    #[track_caller]
    fn invalid_fields(&self) -> Vec<String> {
        let body = self.error(400, "ValidationException");
        assert_eq!(body["reason"], "fieldValidationFailed", "{}", self.text);
        body["fieldList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    }
}

#[derive(Clone)]
struct Api {
    router: Router,
}

impl Api {
    fn memory() -> Api {
        Api::with_settings(Settings::default())
    }

    fn with_settings(settings: Settings) -> Api {
        Api {
            router: router(Emulator::new(MemoryStore::new(), &settings)),
        }
    }

    fn sqlite(dir: &std::path::Path) -> Api {
        let store = SqliteStore::open(dir).unwrap();
        Api {
            router: router(Emulator::new(store, &Settings::default())),
        }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let status = parts.status.as_u16();
        let error_type = header("x-amzn-errortype");
        let request_id = header("x-amzn-requestid");
        let content_type = header("content-type");
        let bytes = body.collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            error_type,
            request_id,
            content_type,
            body,
            text,
        }
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        let builder = Request::builder().method(method).uri(uri);
        let request = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    async fn raw(&self, method: &str, uri: &str, body: &'static str) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call("GET", uri, None).await
    }
    async fn post(&self, uri: &str, body: Value) -> Answer {
        self.call("POST", uri, Some(body)).await
    }
    async fn patch(&self, uri: &str, body: Value) -> Answer {
        self.call("PATCH", uri, Some(body)).await
    }
    async fn delete(&self, uri: &str) -> Answer {
        self.call("DELETE", uri, None).await
    }

    async fn project(&self, name: &str) {
        self.post("/projects", json!({"name": name})).await.ok();
    }

    async fn feature(&self, project: &str, name: &str) {
        self.post(
            &format!("/projects/{project}/features"),
            json!({"name": name, "variations": [
                {"name": "v1", "value": {"stringValue": "one"}},
                {"name": "v2", "value": {"stringValue": "two"}}
            ]}),
        )
        .await
        .ok();
    }

    async fn segment(&self, name: &str) {
        self.post(
            "/segments",
            json!({"name": name, "pattern": "{\"country\":[\"DE\"]}"}),
        )
        .await
        .ok();
    }

    /// Project `p`, feature `f` (variations v1, v2), segment `s`.
    async fn fixture() -> Api {
        let api = Api::memory();
        api.project("p").await;
        api.feature("p", "f").await;
        api.segment("s").await;
        api
    }

    async fn launch(&self, name: &str) -> Value {
        self.post("/projects/p/launches", launch_body(name))
            .await
            .ok()
            .clone()
    }
}

/// Waits until the emulator's clock has passed `timestamp` (an epoch-seconds member of an
/// answer), so that a write now gets a later time than the one that answer shows.
async fn clock_past(timestamp: &Value) {
    let t = timestamp.as_f64().expect("a timestamp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while launch_operator::emulator::resources::now() <= t {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock did not pass {t}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

fn launch_body(name: &str) -> Value {
    json!({
        "name": name,
        "groups": [
            {"name": "control", "feature": "f", "variation": "v1"},
            {"name": "treatment", "feature": "f", "variation": "v2", "description": "new"}
        ],
        "scheduledSplitsConfig": {"steps": [
            {"startTime": 1750000000, "groupWeights": {"control": 90000, "treatment": 10000}},
            {"startTime": 1750600000.5, "groupWeights": {"control": 50000, "treatment": 50000},
             "segmentOverrides": [{"segment": "s", "evaluationOrder": 1, "weights": {"treatment": 100000}}]}
        ]},
        "tags": {"team": "shop"}
    })
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
