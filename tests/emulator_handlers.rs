//! Handler tests of the Evidently emulator: requests through the axum router with
//! `tower::ServiceExt::oneshot`, on the in-memory store (and on SQLite where durability or
//! concurrency is the point). Each test is one behaviour of the wire contract
//! (shared/reference/evidently-api.md) or one decision documented in docs/emulator.md.

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

// ---------------------------------------------------------------- wire protocol

#[tokio::test]
async fn every_response_has_a_request_id() {
    let api = Api::memory();
    let ok = api.post("/projects", json!({"name": "p"})).await;
    let err = api.get("/projects/nope").await;
    let health = api.get("/healthz").await;
    let unknown = api.get("/what").await;
    let ids: Vec<String> = [&ok, &err, &health, &unknown]
        .iter()
        .map(|a| a.request_id.clone().expect("x-amzn-RequestId"))
        .collect();
    for id in &ids {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn responses_are_json_with_epoch_second_timestamps() {
    let api = Api::memory();
    let a = api.post("/projects", json!({"name": "p"})).await;
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    let created = a.ok()["project"]["createdTime"].as_f64().unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((created - now).abs() < 60.0, "{created} vs {now}");
}

#[tokio::test]
async fn errors_carry_the_code_header_and_the_modeled_members() {
    let api = Api::memory();
    let a = api.get("/projects/nope").await;
    let body = a.error(404, "ResourceNotFoundException");
    assert_eq!(body["resourceType"], "project");
    assert_eq!(body["resourceId"], format!("{ACCOUNT}:project/nope"));
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert!(body.get("__type").is_none());
}

#[tokio::test]
async fn a_percent_encoded_project_arn_in_the_path_names_the_project() {
    let api = Api::fixture().await;
    let arn = enc(&format!("{ACCOUNT}:project/p"));
    assert_eq!(
        api.get(&format!("/projects/{arn}")).await.ok()["project"]["name"],
        "p"
    );
    let a = api
        .post(&format!("/projects/{arn}/launches"), launch_body("l"))
        .await;
    assert_eq!(a.ok()["launch"]["project"], format!("{ACCOUNT}:project/p"));
    assert_eq!(
        api.get(&format!("/projects/{arn}/launches/l")).await.ok()["launch"]["name"],
        "l"
    );
}

#[tokio::test]
async fn a_project_arn_of_another_region_is_not_found() {
    let api = Api::fixture().await;
    let arn = enc("arn:aws:evidently:eu-west-1:123456789012:project/p");
    api.get(&format!("/projects/{arn}"))
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn the_host_header_is_ignored() {
    let api = Api::fixture().await;
    let request = Request::builder()
        .uri("/projects/p")
        .header("host", "dataplane.elsewhere.example:1234")
        .body(Body::empty())
        .unwrap();
    api.send(request).await.ok();
}

#[tokio::test]
async fn an_empty_body_an_empty_object_and_no_content_type_are_all_accepted() {
    let api = Api::fixture().await;
    for name in ["a", "b", "c"] {
        api.launch(name).await;
    }
    // StartLaunch as the Rust SDK sends it: no body, no Content-Type.
    api.raw("POST", "/projects/p/launches/a/start", "")
        .await
        .ok();
    // StopLaunch as botocore sends it without members: `{}`.
    api.post("/projects/p/launches/a/cancel", json!({}))
        .await
        .ok();
    // And with neither body nor Content-Type.
    api.raw("POST", "/projects/p/launches/b/start", "")
        .await
        .ok();
    api.raw("POST", "/projects/p/launches/b/cancel", "")
        .await
        .ok();
    // `{}` where there is nothing to send.
    api.post("/projects/p/launches/c/start", json!({}))
        .await
        .ok();
}

#[tokio::test]
async fn malformed_json_is_a_validation_exception_that_cannot_be_parsed() {
    let api = Api::memory();
    for body in ["{\"name\":", "[1,2]", "not json", "\"p\""] {
        let a = api.raw("POST", "/projects", body).await;
        assert_eq!(a.error(400, "ValidationException")["reason"], "cannotParse");
    }
}

#[tokio::test]
async fn wrong_json_types_name_each_bad_member() {
    let api = Api::fixture().await;
    let a = api
        .post(
            "/projects/p/features",
            json!({"name": 5, "variations": "v", "tags": []}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["name", "tags", "variations"]);
    let a = api
        .post(
            "/projects/p/launches",
            json!({"name": "l", "groups": [{"name": "g", "feature": "f", "variation": "v1"}],
                   "scheduledSplitsConfig": {"steps": [{"startTime": "yesterday", "groupWeights": {"g": 1}}]}}),
        )
        .await;
    assert_eq!(
        a.invalid_fields(),
        vec!["scheduledSplitsConfig.steps[0].startTime"]
    );
}

#[tokio::test]
async fn validation_errors_list_every_field_with_aws_wording() {
    let api = Api::fixture().await;
    let mut body = launch_body("bad name");
    body["groups"][0]["variation"] = json!("");
    body["scheduledSplitsConfig"]["steps"][0]["groupWeights"]["nobody"] = json!(100001);
    let a = api.post("/projects/p/launches", body).await;
    let fields = a.invalid_fields();
    assert!(fields.contains(&"name".to_string()), "{fields:?}");
    assert!(
        fields.contains(&"groups[0].variation".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"scheduledSplitsConfig.steps[0].groupWeights[nobody]".to_string()),
        "{fields:?}"
    );
    let message = a.body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{} validation errors detected: ", fields.len())),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_unknown_operations() {
    let api = Api::memory();
    for (method, uri) in [
        ("GET", "/nothing/here"),
        ("PUT", "/projects"),
        ("POST", "/projects/p"),
        ("GET", "/projects/p/launches/l/start"),
    ] {
        let a = api.call(method, uri, None).await;
        assert_eq!(
            a.error(400, "ValidationException")["reason"],
            "unknownOperation",
            "{method} {uri}"
        );
    }
}

#[tokio::test]
async fn model_operations_the_emulator_does_not_serve_are_unknown_operations() {
    let api = Api::fixture().await;
    let a = api.get("/projects/p/experiments/e").await;
    assert_eq!(
        a.error(400, "ValidationException")["reason"],
        "unknownOperation"
    );
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("GetExperiment")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_aws_shape() {
    let api = Api::with_settings(Settings {
        body_limit: 64,
        ..Settings::default()
    });
    let big = json!({"name": "p", "description": "x".repeat(100)});
    let a = api.post("/projects", big).await;
    assert_eq!(a.error(413, "ValidationException")["reason"], "other");
    api.post("/projects", json!({"name": "p"})).await.ok();
}

#[tokio::test]
async fn invalid_percent_encoding_is_a_validation_exception() {
    let api = Api::memory();
    api.get("/projects/%FF%FE")
        .await
        .error(400, "ValidationException");
}

// ---------------------------------------------------------------- projects

#[tokio::test]
async fn create_project_returns_the_project_with_arn_status_and_counters() {
    let api = Api::memory();
    let a = api
        .post(
            "/projects",
            json!({"name": "p", "description": "d", "tags": {"k": "v"}}),
        )
        .await;
    let p = &a.ok()["project"];
    assert_eq!(p["arn"], format!("{ACCOUNT}:project/p"));
    assert_eq!(p["status"], "AVAILABLE");
    assert_eq!(p["description"], "d");
    assert_eq!(p["tags"], json!({"k": "v"}));
    assert_eq!(p["featureCount"], 0);
    assert_eq!(p["createdTime"], p["lastUpdatedTime"]);
}

#[tokio::test]
async fn a_duplicate_project_is_a_conflict() {
    let api = Api::memory();
    api.project("p").await;
    let a = api.post("/projects", json!({"name": "p"})).await;
    let body = a.error(409, "ConflictException");
    assert_eq!(body["resourceType"], "project");
    assert_eq!(body["resourceId"], format!("{ACCOUNT}:project/p"));
}

#[tokio::test]
async fn the_51st_project_exceeds_the_quota_with_402() {
    let api = Api::memory();
    for i in 0..50 {
        api.project(&format!("p{i}")).await;
    }
    let a = api.post("/projects", json!({"name": "one-more"})).await;
    let body = a.error(402, "ServiceQuotaExceededException");
    assert_eq!(body["serviceCode"], "evidently");
    assert_eq!(body["quotaCode"], "projects-per-account");
    assert_eq!(body["resourceType"], "project");
    assert_eq!(body["resourceId"], format!("{ACCOUNT}:project/one-more"));
}

#[tokio::test]
async fn a_project_needs_a_name() {
    let api = Api::memory();
    assert_eq!(
        api.post("/projects", json!({})).await.invalid_fields(),
        vec!["name"]
    );
    assert_eq!(
        api.raw("POST", "/projects", "").await.invalid_fields(),
        vec!["name"]
    );
}

#[tokio::test]
async fn more_than_50_tags_are_rejected() {
    let api = Api::memory();
    let tags: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let a = api
        .post("/projects", json!({"name": "p", "tags": tags}))
        .await;
    assert_eq!(a.invalid_fields(), vec!["tags"]);
}

#[tokio::test]
async fn project_counters_count_features_launches_and_running_launches() {
    let api = Api::fixture().await;
    api.launch("a").await;
    api.launch("b").await;
    api.post("/projects/p/launches/a/start", json!({}))
        .await
        .ok();
    let p = api.get("/projects/p").await.ok()["project"].clone();
    assert_eq!(p["featureCount"], 1);
    assert_eq!(p["launchCount"], 2);
    assert_eq!(p["activeLaunchCount"], 1);
    assert_eq!(p["experimentCount"], 0);
}

#[tokio::test]
async fn list_projects_pages_never_repeat_a_token_and_omit_it_on_the_last_page() {
    let api = Api::memory();
    for i in 0..5 {
        api.project(&format!("p{i}")).await;
    }
    let mut names = Vec::new();
    let mut tokens = Vec::new();
    let mut uri = "/projects?maxResults=2".to_string();
    loop {
        let a = api.get(&uri).await;
        let page = a.ok();
        for p in page["projects"].as_array().unwrap() {
            names.push(p["name"].as_str().unwrap().to_string());
            assert!(p.get("dataDelivery").is_none());
            assert!(p["featureCount"].is_number());
        }
        match page.get("nextToken") {
            Some(t) => {
                let t = t.as_str().unwrap().to_string();
                assert!(!t.is_empty());
                assert!(!tokens.contains(&t), "token {t} returned twice");
                uri = format!("/projects?maxResults=2&nextToken={}", enc(&t));
                tokens.push(t);
            }
            None => break,
        }
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!(tokens.len(), 2);
}

#[tokio::test]
async fn list_paging_parameters_are_validated() {
    let api = Api::memory();
    assert_eq!(
        api.get("/projects?maxResults=0").await.invalid_fields(),
        vec!["maxResults"]
    );
    assert_eq!(
        api.get("/projects?maxResults=51").await.invalid_fields(),
        vec!["maxResults"]
    );
    assert_eq!(
        api.get("/projects?maxResults=ten").await.invalid_fields(),
        vec!["maxResults"]
    );
    assert_eq!(
        api.get("/projects?nextToken=%25%25%25")
            .await
            .invalid_fields(),
        vec!["nextToken"]
    );
}

#[tokio::test]
async fn update_project_changes_the_description_and_bumps_last_updated_time() {
    let api = Api::memory();
    api.project("p").await;
    let before = api.get("/projects/p").await.ok()["project"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let after = api
        .patch("/projects/p", json!({"description": "new"}))
        .await
        .ok()["project"]
        .clone();
    assert_eq!(after["description"], "new");
    assert_eq!(after["createdTime"], before["createdTime"]);
    assert!(after["lastUpdatedTime"].as_f64() > before["lastUpdatedTime"].as_f64());
    api.patch("/projects/nope", json!({"description": "x"}))
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn update_project_data_delivery_replaces_the_destinations() {
    let api = Api::fixture().await;
    let body = api
        .patch(
            "/projects/p/data-delivery",
            json!({"s3Destination": {"bucket": "events", "prefix": "shop/"}}),
        )
        .await
        .ok()["project"]
        .clone();
    assert_eq!(
        body["dataDelivery"],
        json!({"s3Destination": {"bucket": "events", "prefix": "shop/"}})
    );
    let body = api
        .patch(
            "/projects/p/data-delivery",
            json!({"cloudWatchLogs": {"logGroup": "shop"}}),
        )
        .await
        .ok()["project"]
        .clone();
    assert_eq!(
        body["dataDelivery"],
        json!({"cloudWatchLogs": {"logGroup": "shop"}})
    );
    api.patch(
        "/projects/p/data-delivery",
        json!({"s3Destination": {"bucket": "Not_A_Bucket"}}),
    )
    .await
    .error(400, "ValidationException");
    api.patch("/projects/nope/data-delivery", json!({}))
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn delete_project_with_features_is_a_conflict() {
    let api = Api::fixture().await;
    let a = api.delete("/projects/p").await;
    let body = a.error(409, "ConflictException");
    assert_eq!(body["message"], "Project has sub-resources: feature(s): f.");
    assert_eq!(body["resourceType"], "project");
    assert_eq!(body["resourceId"], format!("{ACCOUNT}:project/p"));
}

#[tokio::test]
async fn delete_project_removes_it_and_a_second_delete_is_not_found() {
    let api = Api::memory();
    api.project("p").await;
    assert_eq!(api.delete("/projects/p").await.ok(), &json!({}));
    api.get("/projects/p")
        .await
        .error(404, "ResourceNotFoundException");
    api.delete("/projects/p")
        .await
        .error(404, "ResourceNotFoundException");
}

// ---------------------------------------------------------------- features

#[tokio::test]
async fn create_feature_defaults_strategy_default_variation_and_value_type() {
    let api = Api::fixture().await;
    let f = api.get("/projects/p/features/f").await.ok()["feature"].clone();
    assert_eq!(f["arn"], format!("{ACCOUNT}:project/p/feature/f"));
    assert_eq!(f["project"], format!("{ACCOUNT}:project/p"));
    assert_eq!(f["status"], "AVAILABLE");
    assert_eq!(f["evaluationStrategy"], "ALL_RULES");
    assert_eq!(f["defaultVariation"], "v1");
    assert_eq!(f["valueType"], "STRING");
    assert_eq!(f["evaluationRules"], json!([]));
    assert_eq!(
        f["variations"][1],
        json!({"name": "v2", "value": {"stringValue": "two"}})
    );
}

#[tokio::test]
async fn the_value_type_follows_the_union_member_used() {
    let api = Api::fixture().await;
    for (member, value, ty) in [
        ("boolValue", json!(true), "BOOLEAN"),
        ("longValue", json!(7), "LONG"),
        ("doubleValue", json!(0.5), "DOUBLE"),
    ] {
        let a = api
            .post(
                "/projects/p/features",
                json!({"name": format!("f-{ty}"), "variations": [{"name": "x", "value": {member: value}}]}),
            )
            .await;
        assert_eq!(a.ok()["feature"]["valueType"], ty);
    }
}

#[tokio::test]
async fn variations_of_mixed_types_are_rejected() {
    let api = Api::fixture().await;
    let a = api
        .post(
            "/projects/p/features",
            json!({"name": "g", "variations": [
                {"name": "a", "value": {"stringValue": "x"}},
                {"name": "b", "value": {"longValue": 1}}
            ]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["variations[1].value"]);
}

#[tokio::test]
async fn the_default_variation_must_be_one_of_the_variations() {
    let api = Api::fixture().await;
    let a = api
        .post(
            "/projects/p/features",
            json!({"name": "g", "defaultVariation": "zzz",
                   "variations": [{"name": "a", "value": {"stringValue": "x"}}]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["defaultVariation"]);
}

#[tokio::test]
async fn a_variation_value_must_set_exactly_one_member() {
    let api = Api::fixture().await;
    let a = api
        .post(
            "/projects/p/features",
            json!({"name": "g", "variations": [{"name": "a", "value": {"stringValue": "x", "longValue": 1}}]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["variations[0].value"]);
}

#[tokio::test]
async fn create_feature_in_a_missing_project_is_not_found() {
    let api = Api::memory();
    let a = api
        .post(
            "/projects/nope/features",
            json!({"name": "f", "variations": [{"name": "a", "value": {"boolValue": true}}]}),
        )
        .await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "project"
    );
}

#[tokio::test]
async fn a_duplicate_feature_is_a_conflict() {
    let api = Api::fixture().await;
    let a = api
        .post(
            "/projects/p/features",
            json!({"name": "f", "variations": [{"name": "a", "value": {"boolValue": true}}]}),
        )
        .await;
    assert_eq!(a.error(409, "ConflictException")["resourceType"], "feature");
}

#[tokio::test]
async fn the_101st_feature_of_a_project_exceeds_the_quota() {
    let api = Api::fixture().await;
    for i in 1..100 {
        api.feature("p", &format!("f{i}")).await;
    }
    let a = api
        .post(
            "/projects/p/features",
            json!({"name": "last", "variations": [{"name": "a", "value": {"boolValue": true}}]}),
        )
        .await;
    let body = a.error(402, "ServiceQuotaExceededException");
    assert_eq!(body["quotaCode"], "features-per-project");
    assert_eq!(body["resourceType"], "feature");
}

#[tokio::test]
async fn get_feature_of_a_missing_feature_or_project_is_not_found() {
    let api = Api::fixture().await;
    let body = api
        .get("/projects/p/features/nope")
        .await
        .error(404, "ResourceNotFoundException")
        .clone();
    assert_eq!(body["resourceType"], "feature");
    assert_eq!(
        body["resourceId"],
        format!("{ACCOUNT}:project/p/feature/nope")
    );
    let a = api.get("/projects/nope/features/f").await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "project"
    );
}

#[tokio::test]
async fn list_features_gives_summaries_page_by_page() {
    let api = Api::fixture().await;
    api.feature("p", "g").await;
    api.feature("p", "h").await;
    let first = api.get("/projects/p/features?maxResults=2").await;
    let page = first.ok();
    assert_eq!(page["features"].as_array().unwrap().len(), 2);
    assert!(page["features"][0].get("variations").is_none());
    assert_eq!(page["features"][0]["evaluationStrategy"], "ALL_RULES");
    let token = enc(page["nextToken"].as_str().unwrap());
    let second = api
        .get(&format!(
            "/projects/p/features?maxResults=2&nextToken={token}"
        ))
        .await;
    let page = second.ok();
    assert_eq!(page["features"][0]["name"], "h");
    assert!(page.get("nextToken").is_none());
    api.get("/projects/nope/features")
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn update_feature_upserts_and_removes_variations() {
    let api = Api::fixture().await;
    let a = api
        .patch(
            "/projects/p/features/f",
            json!({
                "addOrUpdateVariations": [
                    {"name": "v2", "value": {"stringValue": "TWO"}},
                    {"name": "v3", "value": {"stringValue": "three"}}
                ],
                "removeVariations": ["v1", "not-there"],
                "defaultVariation": "v3",
                "evaluationStrategy": "DEFAULT_VARIATION",
                "description": "d"
            }),
        )
        .await;
    let f = &a.ok()["feature"];
    let names: Vec<&str> = f["variations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v2", "v3"]);
    assert_eq!(f["variations"][0]["value"]["stringValue"], "TWO");
    assert_eq!(f["defaultVariation"], "v3");
    assert_eq!(f["evaluationStrategy"], "DEFAULT_VARIATION");
    assert_eq!(f["description"], "d");
}

#[tokio::test]
async fn update_feature_cannot_remove_the_default_variation_or_mix_types() {
    let api = Api::fixture().await;
    let a = api
        .patch(
            "/projects/p/features/f",
            json!({"removeVariations": ["v1"]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["removeVariations"]);
    let a = api
        .patch(
            "/projects/p/features/f",
            json!({"addOrUpdateVariations": [{"name": "v9", "value": {"longValue": 9}}]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["variations[2].value"]);
}

#[tokio::test]
async fn a_variation_used_by_a_launch_cannot_be_removed() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.patch(
        "/projects/p/features/f",
        json!({"removeVariations": ["v2"]}),
    )
    .await
    .error(409, "ConflictException");
}

#[tokio::test]
async fn update_of_a_missing_feature_is_not_found() {
    let api = Api::fixture().await;
    api.patch("/projects/p/features/nope", json!({"description": "x"}))
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn evaluation_rules_list_the_launches_serving_the_feature_until_they_stop() {
    let api = Api::fixture().await;
    api.launch("l").await;
    let rules = |a: Answer| a.ok()["feature"]["evaluationRules"].clone();
    assert_eq!(
        rules(api.get("/projects/p/features/f").await),
        json!([{"name": "l", "type": "aws.evidently.splits"}])
    );
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    api.post("/projects/p/launches/l/cancel", json!({}))
        .await
        .ok();
    assert_eq!(rules(api.get("/projects/p/features/f").await), json!([]));
}

#[tokio::test]
async fn delete_feature_used_by_a_launch_is_a_conflict() {
    let api = Api::fixture().await;
    api.launch("l").await;
    let a = api.delete("/projects/p/features/f").await;
    assert_eq!(a.error(409, "ConflictException")["resourceType"], "feature");
    api.delete("/projects/p/launches/l").await.ok();
    api.delete("/projects/p/features/f").await.ok();
    api.get("/projects/p/features/f")
        .await
        .error(404, "ResourceNotFoundException");
    api.delete("/projects/p/features/f")
        .await
        .error(404, "ResourceNotFoundException");
}

// ---------------------------------------------------------------- launches

#[tokio::test]
async fn create_launch_answers_with_arns_defaults_and_no_execution() {
    let api = Api::fixture().await;
    let l = api.launch("l").await["launch"].clone();
    assert_eq!(l["arn"], format!("{ACCOUNT}:project/p/launch/l"));
    assert_eq!(l["project"], format!("{ACCOUNT}:project/p"));
    assert_eq!(l["status"], "CREATED");
    assert_eq!(l["type"], "aws.evidently.splits");
    assert_eq!(l["randomizationSalt"], "l");
    assert!(l.get("execution").is_none());
    assert_eq!(
        l["groups"][1],
        json!({"name": "treatment", "description": "new", "featureVariations": {"f": "v2"}})
    );
    let steps = &l["scheduledSplitsDefinition"]["steps"];
    assert_eq!(steps[0]["startTime"].as_f64(), Some(1750000000.0));
    assert_eq!(steps[1]["startTime"].as_f64(), Some(1750600000.5));
    assert_eq!(steps[0]["segmentOverrides"], json!([]));
    assert_eq!(
        steps[1]["segmentOverrides"][0]["segment"],
        format!("{ACCOUNT}:segment/s")
    );
    assert_eq!(l["tags"], json!({"team": "shop"}));
}

#[tokio::test]
async fn get_launch_returns_what_create_returned_including_tags() {
    let api = Api::fixture().await;
    let created = api.launch("l").await;
    let got = api.get("/projects/p/launches/l").await.ok().clone();
    assert_eq!(got, created);
}

#[tokio::test]
async fn create_launch_with_a_missing_project_feature_or_segment_is_not_found() {
    let api = Api::fixture().await;
    let a = api.post("/projects/nope/launches", launch_body("l")).await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "project"
    );

    let mut body = launch_body("l");
    body["groups"][0]["feature"] = json!("ghost");
    let a = api.post("/projects/p/launches", body).await;
    let e = a.error(404, "ResourceNotFoundException");
    assert_eq!(e["resourceType"], "feature");
    assert_eq!(
        e["resourceId"],
        format!("{ACCOUNT}:project/p/feature/ghost")
    );

    let mut body = launch_body("l");
    body["scheduledSplitsConfig"]["steps"][1]["segmentOverrides"][0]["segment"] = json!("ghost");
    let a = api.post("/projects/p/launches", body).await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "segment"
    );
}

#[tokio::test]
async fn a_group_may_name_a_variation_its_feature_does_not_declare_as_aws_accepted() {
    let api = Api::fixture().await;
    let mut body = launch_body("l");
    body["groups"][1]["variation"] = json!("v9");
    let l = api.post("/projects/p/launches", body).await.ok()["launch"].clone();
    assert_eq!(l["groups"][1]["featureVariations"], json!({"f": "v9"}));
    let mut update = json!({"groups": launch_body("l")["groups"].clone()});
    update["groups"][0]["variation"] = json!("v7");
    let l = api.patch("/projects/p/launches/l", update).await.ok()["launch"].clone();
    assert_eq!(l["groups"][0]["featureVariations"], json!({"f": "v7"}));
}

#[tokio::test]
async fn a_segment_override_may_name_the_segment_by_arn() {
    let api = Api::fixture().await;
    let mut body = launch_body("l");
    body["scheduledSplitsConfig"]["steps"][1]["segmentOverrides"][0]["segment"] =
        json!(format!("{ACCOUNT}:segment/s"));
    let l = api.post("/projects/p/launches", body).await.ok()["launch"].clone();
    assert_eq!(
        l["scheduledSplitsDefinition"]["steps"][1]["segmentOverrides"][0]["segment"],
        format!("{ACCOUNT}:segment/s")
    );
}

#[tokio::test]
async fn a_duplicate_launch_is_a_conflict() {
    let api = Api::fixture().await;
    api.launch("l").await;
    let a = api.post("/projects/p/launches", launch_body("l")).await;
    let body = a.error(409, "ConflictException");
    assert_eq!(body["resourceType"], "launch");
    assert_eq!(body["resourceId"], format!("{ACCOUNT}:project/p/launch/l"));
}

#[tokio::test]
async fn the_501st_launch_of_a_project_exceeds_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::sqlite(dir.path());
    api.project("p").await;
    api.feature("p", "f").await;
    api.segment("s").await;
    for i in 0..500 {
        api.launch(&format!("l{i}")).await;
    }
    let a = api.post("/projects/p/launches", launch_body("last")).await;
    let body = a.error(402, "ServiceQuotaExceededException");
    assert_eq!(body["quotaCode"], "launches-per-project");
    assert_eq!(body["resourceType"], "launch");
}

#[tokio::test]
async fn the_51st_running_launch_of_a_project_exceeds_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::sqlite(dir.path());
    api.project("p").await;
    api.feature("p", "f").await;
    api.segment("s").await;
    for i in 0..51 {
        api.launch(&format!("l{i}")).await;
    }
    for i in 0..50 {
        api.post(&format!("/projects/p/launches/l{i}/start"), json!({}))
            .await
            .ok();
    }
    let a = api.post("/projects/p/launches/l50/start", json!({})).await;
    assert_eq!(
        a.error(402, "ServiceQuotaExceededException")["quotaCode"],
        "running-launches-per-project"
    );
}

#[tokio::test]
async fn get_launch_of_a_missing_launch_or_project_is_not_found() {
    let api = Api::fixture().await;
    let a = api.get("/projects/p/launches/nope").await;
    let body = a.error(404, "ResourceNotFoundException");
    assert_eq!(body["resourceType"], "launch");
    assert_eq!(
        body["resourceId"],
        format!("{ACCOUNT}:project/p/launch/nope")
    );
    let a = api.get("/projects/nope/launches/l").await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "project"
    );
}

#[tokio::test]
async fn list_launches_filters_by_status_and_pages() {
    let api = Api::fixture().await;
    for name in ["a", "b", "c", "d", "e"] {
        api.launch(name).await;
    }
    for name in ["b", "c", "e"] {
        api.post(&format!("/projects/p/launches/{name}/start"), json!({}))
            .await
            .ok();
    }
    let names = |v: &Value| -> Vec<String> {
        v["launches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = api
        .get("/projects/p/launches?status=RUNNING&maxResults=2")
        .await;
    let page = first.ok();
    assert_eq!(names(page), ["b", "c"]);
    let token = enc(page["nextToken"].as_str().unwrap());
    let second = api
        .get(&format!(
            "/projects/p/launches?status=RUNNING&maxResults=2&nextToken={token}"
        ))
        .await;
    let page = second.ok();
    assert_eq!(names(page), ["e"]);
    assert!(page.get("nextToken").is_none());
    assert_eq!(
        names(api.get("/projects/p/launches?status=CREATED").await.ok()),
        ["a", "d"]
    );
    assert_eq!(names(api.get("/projects/p/launches").await.ok()).len(), 5);
    assert_eq!(
        api.get("/projects/p/launches?status=PAUSED")
            .await
            .invalid_fields(),
        vec!["status"]
    );
    api.get("/projects/nope/launches")
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn update_launch_replaces_given_members_and_keeps_the_others() {
    let api = Api::fixture().await;
    let before = api.launch("l").await["launch"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let a = api
        .patch(
            "/projects/p/launches/l",
            json!({"description": "d", "randomizationSalt": "salt",
                   "metricMonitors": [{"metricDefinition": {"name": "m", "entityIdKey": "e", "valueKey": "v"}}]}),
        )
        .await;
    let after = a.ok()["launch"].clone();
    assert_eq!(after["description"], "d");
    assert_eq!(after["randomizationSalt"], "salt");
    assert_eq!(after["metricMonitors"][0]["metricDefinition"]["name"], "m");
    assert_eq!(after["groups"], before["groups"]);
    assert_eq!(
        after["scheduledSplitsDefinition"],
        before["scheduledSplitsDefinition"]
    );
    assert_eq!(after["status"], "CREATED");
    assert_eq!(after["createdTime"], before["createdTime"]);
    assert!(after["lastUpdatedTime"].as_f64() > before["lastUpdatedTime"].as_f64());

    // An empty list clears the monitors.
    let a = api
        .patch("/projects/p/launches/l", json!({"metricMonitors": []}))
        .await;
    assert_eq!(a.ok()["launch"]["metricMonitors"], json!([]));
    assert_eq!(
        api.get("/projects/p/launches/l").await.ok()["launch"]["description"],
        "d"
    );
}

#[tokio::test]
async fn update_launch_checks_weights_against_the_merged_groups() {
    let api = Api::fixture().await;
    api.launch("l").await;
    let a = api
        .patch(
            "/projects/p/launches/l",
            json!({"groups": [{"name": "only", "feature": "f", "variation": "v1"}]}),
        )
        .await;
    let fields = a.invalid_fields();
    assert!(
        fields.contains(&"scheduledSplitsConfig.steps[0].groupWeights[control]".to_string()),
        "{fields:?}"
    );
}

#[tokio::test]
async fn update_launch_keeps_a_running_launch_running() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    let a = api
        .patch("/projects/p/launches/l", json!({"description": "x"}))
        .await;
    assert_eq!(a.ok()["launch"]["status"], "RUNNING");
}

#[tokio::test]
async fn update_of_a_stopped_launch_is_a_conflict() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    api.post("/projects/p/launches/l/cancel", json!({}))
        .await
        .ok();
    api.patch("/projects/p/launches/l", json!({"description": "x"}))
        .await
        .error(409, "ConflictException");
}

#[tokio::test]
async fn update_of_a_missing_launch_or_unknown_feature_is_not_found() {
    let api = Api::fixture().await;
    api.patch("/projects/p/launches/nope", json!({"description": "x"}))
        .await
        .error(404, "ResourceNotFoundException");
    api.launch("l").await;
    let a = api
        .patch(
            "/projects/p/launches/l",
            json!({"groups": [{"name": "control", "feature": "ghost", "variation": "v1"},
                              {"name": "treatment", "feature": "f", "variation": "v2"}]}),
        )
        .await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "feature"
    );
}

#[tokio::test]
async fn start_launch_runs_a_created_launch_once() {
    let api = Api::fixture().await;
    api.launch("l").await;
    let a = api.raw("POST", "/projects/p/launches/l/start", "").await;
    let l = a.ok()["launch"].clone();
    assert_eq!(l["status"], "RUNNING");
    assert!(l["execution"]["startedTime"].is_number());
    assert!(l["execution"].get("endedTime").is_none());
    let a = api.raw("POST", "/projects/p/launches/l/start", "").await;
    assert_eq!(a.error(409, "ConflictException")["resourceType"], "launch");
    api.raw("POST", "/projects/p/launches/nope/start", "")
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn stop_launch_completes_by_default_and_returns_the_end_time() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    let a = api.post("/projects/p/launches/l/cancel", json!({})).await;
    let ended = a.ok()["endedTime"].as_f64().unwrap();
    let l = api.get("/projects/p/launches/l").await.ok()["launch"].clone();
    assert_eq!(l["status"], "COMPLETED");
    assert_eq!(l["execution"]["endedTime"].as_f64(), Some(ended));
    assert!(l["execution"]["startedTime"].is_number());
}

#[tokio::test]
async fn stop_launch_can_cancel_with_a_reason() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    api.post(
        "/projects/p/launches/l/cancel",
        json!({"desiredState": "CANCELLED", "reason": "error rate"}),
    )
    .await
    .ok();
    let l = api.get("/projects/p/launches/l").await.ok()["launch"].clone();
    assert_eq!(l["status"], "CANCELLED");
    assert_eq!(l["statusReason"], "error rate");
}

#[tokio::test]
async fn stop_launch_of_a_launch_that_is_not_running_is_a_validation_exception() {
    let api = Api::fixture().await;
    api.launch("l").await;
    let a = api.post("/projects/p/launches/l/cancel", json!({})).await;
    assert_eq!(a.error(400, "ValidationException")["reason"], "other");
    assert_eq!(
        api.post(
            "/projects/p/launches/l/cancel",
            json!({"desiredState": "PAUSED"})
        )
        .await
        .invalid_fields(),
        vec!["desiredState"]
    );
    api.post("/projects/p/launches/nope/cancel", json!({}))
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn a_running_launch_cannot_be_deleted_until_stopped() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    api.delete("/projects/p/launches/l")
        .await
        .error(409, "ConflictException");
    api.post("/projects/p/launches/l/cancel", json!({}))
        .await
        .ok();
    assert_eq!(api.delete("/projects/p/launches/l").await.ok(), &json!({}));
    api.get("/projects/p/launches/l")
        .await
        .error(404, "ResourceNotFoundException");
    api.delete("/projects/p/launches/l")
        .await
        .error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn deleting_a_launch_frees_its_feature_and_segment() {
    let api = Api::fixture().await;
    api.launch("l").await;
    api.delete("/projects/p/launches/l").await.ok();
    api.delete("/segments/s").await.ok();
    api.delete("/projects/p/features/f").await.ok();
    api.delete("/projects/p").await.ok();
}

// ---------------------------------------------------------------- segments

#[tokio::test]
async fn segments_are_created_read_by_name_or_arn_listed_and_deleted() {
    let api = Api::memory();
    let a = api
        .post(
            "/segments",
            json!({"name": "s", "pattern": "{\"a\":[1]}", "description": "d", "tags": {"k": "v"}}),
        )
        .await;
    let s = a.ok()["segment"].clone();
    assert_eq!(s["arn"], format!("{ACCOUNT}:segment/s"));
    assert_eq!(s["pattern"], "{\"a\":[1]}");
    assert_eq!(s["launchCount"], 0);
    let by_arn = api
        .get(&format!(
            "/segments/{}",
            enc(&format!("{ACCOUNT}:segment/s"))
        ))
        .await;
    assert_eq!(by_arn.ok()["segment"], s);
    api.segment("t").await;
    let page = api.get("/segments?maxResults=1").await;
    let body = page.ok();
    assert_eq!(body["segments"][0]["name"], "s");
    assert!(body["nextToken"].is_string());
    api.delete("/segments/s").await.ok();
    api.get("/segments/s")
        .await
        .error(404, "ResourceNotFoundException");
    let a = api.delete("/segments/s").await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["resourceType"],
        "segment"
    );
}

#[tokio::test]
async fn a_segment_pattern_must_compile_and_the_error_names_the_problem() {
    let api = Api::memory();
    let a = api
        .post("/segments", json!({"name": "s", "pattern": "{nope"}))
        .await;
    assert_eq!(a.invalid_fields(), vec!["pattern"]);
    let a = api
        .post(
            "/segments",
            json!({"name": "s", "pattern": "{\"Price\":[{\"numeric\":[\"~\",1]}]}"}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["pattern"]);
    let message = a.body["fieldList"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Price[0].numeric[0]") && message.contains("unknown comparison '~'"),
        "{message}"
    );
    let a = api.post("/segments", json!({"name": "s"})).await;
    assert_eq!(a.invalid_fields(), vec!["pattern"]);
}

#[tokio::test]
async fn a_duplicate_segment_is_a_conflict() {
    let api = Api::memory();
    api.segment("s").await;
    let a = api
        .post("/segments", json!({"name": "s", "pattern": "{}"}))
        .await;
    assert_eq!(a.error(409, "ConflictException")["resourceType"], "segment");
}

#[tokio::test]
async fn the_501st_segment_exceeds_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::sqlite(dir.path());
    for i in 0..500 {
        api.segment(&format!("s{i}")).await;
    }
    let a = api
        .post("/segments", json!({"name": "last", "pattern": "{}"}))
        .await;
    assert_eq!(
        a.error(402, "ServiceQuotaExceededException")["quotaCode"],
        "segments-per-account"
    );
}

#[tokio::test]
async fn delete_segment_used_by_a_launch_is_a_conflict_even_when_it_is_not_running() {
    let api = Api::fixture().await;
    api.launch("l").await;
    assert_eq!(
        api.get("/segments/s").await.ok()["segment"]["launchCount"],
        1
    );
    let a = api.delete("/segments/s").await;
    assert_eq!(a.error(409, "ConflictException")["resourceType"], "segment");
}

// ---------------------------------------------------------------- tags

#[tokio::test]
async fn every_kind_of_resource_can_be_tagged_untagged_and_listed() {
    let api = Api::fixture().await;
    api.launch("l").await;
    for arn in [
        format!("{ACCOUNT}:project/p"),
        format!("{ACCOUNT}:project/p/feature/f"),
        format!("{ACCOUNT}:project/p/launch/l"),
        format!("{ACCOUNT}:segment/s"),
    ] {
        let path = format!("/tags/{}", enc(&arn));
        api.post(&path, json!({"tags": {"a": "1", "b": "2"}}))
            .await
            .ok();
        api.post(&path, json!({"tags": {"b": "3"}})).await.ok();
        api.delete(&format!("{path}?tagKeys=a&tagKeys=zzz"))
            .await
            .ok();
        let tags = api.get(&path).await.ok()["tags"].clone();
        assert_eq!(tags["b"], "3", "{arn}");
        assert!(tags.get("a").is_none(), "{arn}");
    }
    // Launch tags show in GetLaunch, and the launch keeps its status (ListLaunches filter).
    let l = api.get("/projects/p/launches/l").await.ok()["launch"].clone();
    assert_eq!(l["tags"], json!({"team": "shop", "b": "3"}));
    let created = api.get("/projects/p/launches?status=CREATED").await;
    assert_eq!(created.ok()["launches"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tagging_a_missing_resource_is_not_found() {
    let api = Api::fixture().await;
    for (arn, kind) in [
        (format!("{ACCOUNT}:project/p/launch/ghost"), "launch"),
        (format!("{ACCOUNT}:segment/ghost"), "segment"),
        (
            "arn:aws:evidently:eu-west-1:123456789012:project/p".to_string(),
            "project",
        ),
    ] {
        let path = format!("/tags/{}", enc(&arn));
        let a = api.post(&path, json!({"tags": {"a": "1"}})).await;
        assert_eq!(
            a.error(404, "ResourceNotFoundException")["resourceType"],
            kind
        );
        api.get(&path).await.error(404, "ResourceNotFoundException");
    }
}

#[tokio::test]
async fn tag_operations_validate_the_arn_the_tags_and_the_keys() {
    let api = Api::fixture().await;
    let project = format!("/tags/{}", enc(&format!("{ACCOUNT}:project/p")));
    assert_eq!(
        api.post("/tags/not-an-arn", json!({"tags": {"a": "1"}}))
            .await
            .invalid_fields(),
        vec!["resourceArn"]
    );
    assert_eq!(
        api.post(&project, json!({})).await.invalid_fields(),
        vec!["tags"]
    );
    assert_eq!(
        api.post(&project, json!({"tags": {"aws:reserved": "1"}}))
            .await
            .invalid_fields(),
        vec!["tags[aws:reserved]"]
    );
    assert_eq!(api.delete(&project).await.invalid_fields(), vec!["tagKeys"]);
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(
        api.post(&project, json!({"tags": many}))
            .await
            .invalid_fields(),
        vec!["tags"]
    );
}

// ---------------------------------------------------------------- health and metrics

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let dir = tempfile::tempdir().unwrap();
    for api in [Api::memory(), Api::sqlite(dir.path())] {
        assert_eq!(api.get("/healthz").await.status, 200);
        assert_eq!(api.get("/readyz").await.status, 200);
    }
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_code_without_resource_names() {
    let api = Api::fixture().await;
    api.get("/projects/secret-name-1").await;
    api.get("/nothing").await;
    let text = api.get("/metrics").await.text;
    assert!(
        text.contains(
            r#"evidently_emulator_requests_total{operation="CreateProject",code="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"evidently_emulator_requests_total{operation="GetProject",code="404"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"operation="UnknownOperation",code="400""#));
    assert!(text.contains("evidently_emulator_request_duration_seconds_bucket"));
    assert!(!text.contains("secret-name-1"));
}

// ---------------------------------------------------------------- SQLite

#[tokio::test]
async fn acknowledged_writes_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let created = {
        let api = Api::sqlite(dir.path());
        api.project("p").await;
        api.feature("p", "f").await;
        api.segment("s").await;
        api.launch("l").await
    };
    let api = Api::sqlite(dir.path());
    assert_eq!(api.get("/projects/p/launches/l").await.ok(), &created);
    // References survive too: the feature is still in use.
    api.delete("/projects/p/features/f")
        .await
        .error(409, "ConflictException");
}

#[tokio::test]
async fn concurrent_creates_of_one_name_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::sqlite(dir.path()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { api.post("/projects", json!({"name": "p"})).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_exceed_a_quota() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::sqlite(dir.path()));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                api.post("/projects", json!({"name": format!("p{i}")}))
                    .await
                    .status
            })
        })
        .collect();
    let mut ok = 0;
    let mut quota = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            402 => quota += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, quota), (50, 10));
}

// ---------------------------------------------------------------- data plane: evaluation

use launch_operator::emulator::eval::bucket;

impl Api {
    /// EvaluateFeature of feature `f` in project `p`.
    async fn evaluate(&self, entity: &str, context: Option<Value>) -> Value {
        let mut body = json!({"entityId": entity});
        if let Some(c) = context {
            body["evaluationContext"] = json!(c.to_string());
        }
        self.post("/projects/p/evaluations/f", body)
            .await
            .ok()
            .clone()
    }

    /// Creates launch `name` on feature `f` with these steps, and starts it.
    async fn running_launch(&self, name: &str, groups: Value, steps: Value) {
        self.post(
            "/projects/p/launches",
            json!({"name": name, "groups": groups, "scheduledSplitsConfig": {"steps": steps}}),
        )
        .await
        .ok();
        self.post(&format!("/projects/p/launches/{name}/start"), json!({}))
            .await
            .ok();
    }
}

fn two_groups() -> Value {
    json!([
        {"name": "control", "feature": "f", "variation": "v1"},
        {"name": "treatment", "feature": "f", "variation": "v2"}
    ])
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The group a split gives `entity`, computed from the published bucketing function: weights
/// laid end to end in group-name order; none for the rest.
fn expected_group<'a>(
    salt: &str,
    layer: &str,
    entity: &str,
    weights: &[(&'a str, u64)],
) -> Option<&'a str> {
    let position = bucket::position(salt, layer, entity);
    let mut end = 0;
    weights.iter().find_map(|(g, w)| {
        end += w;
        (position < end).then_some(*g)
    })
}

#[test]
fn bucketing_test_vectors_never_change() {
    // Computed independently (Python hashlib) from the definition in docs/emulator.md. A
    // failure here means users would move between groups: never change these values.
    let vectors = [
        ("checkout-v2", "", "user-1", 24910),
        ("checkout-v2", "", "user-2", 76204),
        ("checkout-v2", "beta-users", "user-1", 17282),
        ("salt", "", "alice@example.com", 24986),
        ("", "", "", 92286),
        ("ünïcode", "seg", "ñ", 18570),
        ("spring-sale", "", "42", 72811),
    ];
    for (salt, layer, entity, position) in vectors {
        assert_eq!(
            bucket::position(salt, layer, entity),
            position,
            "{salt:?} {layer:?} {entity:?}"
        );
    }
}

#[tokio::test]
async fn without_a_launch_the_default_variation_is_served_with_reason_default() {
    let api = Api::fixture().await;
    let e = api.evaluate("u1", None).await;
    assert_eq!(
        e,
        json!({"variation": "v1", "value": {"stringValue": "one"}, "reason": "DEFAULT", "details": "{}"})
    );
}

#[tokio::test]
async fn the_value_is_the_variations_typed_value() {
    let api = Api::fixture().await;
    api.post(
        "/projects/p/features",
        json!({"name": "n", "defaultVariation": "big", "variations": [
            {"name": "small", "value": {"longValue": 1}},
            {"name": "big", "value": {"longValue": 9007199254740991i64}}
        ]}),
    )
    .await
    .ok();
    let e = api
        .post("/projects/p/evaluations/n", json!({"entityId": "u"}))
        .await;
    assert_eq!(e.ok()["value"], json!({"longValue": 9007199254740991i64}));
    assert_eq!(e.ok()["variation"], "big");
}

#[tokio::test]
async fn strategy_default_variation_beats_overrides_and_launches() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"treatment": 100000}}]),
    )
    .await;
    api.patch(
        "/projects/p/features/f",
        json!({"evaluationStrategy": "DEFAULT_VARIATION", "entityOverrides": {"u1": "v2"}}),
    )
    .await
    .ok();
    for entity in ["u1", "u2"] {
        let e = api.evaluate(entity, None).await;
        assert_eq!(
            (e["variation"].as_str(), e["reason"].as_str()),
            (Some("v1"), Some("DEFAULT"))
        );
    }
}

#[tokio::test]
async fn an_entity_override_beats_a_running_launch() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"control": 100000}}]),
    )
    .await;
    api.patch(
        "/projects/p/features/f",
        json!({"entityOverrides": {"vip": "v2"}}),
    )
    .await
    .ok();
    let e = api.evaluate("vip", None).await;
    assert_eq!(
        e,
        json!({"variation": "v2", "value": {"stringValue": "two"}, "reason": "ENTITY_OVERRIDES_MATCH", "details": "{}"})
    );
    let other = api.evaluate("someone", None).await;
    assert_eq!(other["reason"], "LAUNCH_RULE_MATCH");
    assert_eq!(other["variation"], "v1");
}

#[tokio::test]
async fn a_running_launch_serves_its_group_with_details_naming_launch_and_group() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"control": 0, "treatment": 100000}}]),
    )
    .await;
    let e = api.evaluate("u1", None).await;
    assert_eq!(e["variation"], "v2");
    assert_eq!(e["value"], json!({"stringValue": "two"}));
    assert_eq!(e["reason"], "LAUNCH_RULE_MATCH");
    let details: Value = serde_json::from_str(e["details"].as_str().unwrap()).unwrap();
    assert_eq!(details, json!({"launch": "l", "group": "treatment"}));
}

#[tokio::test]
async fn created_and_stopped_launches_do_not_apply() {
    let api = Api::fixture().await;
    api.post(
        "/projects/p/launches",
        json!({"name": "l", "groups": two_groups(), "scheduledSplitsConfig": {"steps": [
            {"startTime": 1, "groupWeights": {"treatment": 100000}}]}}),
    )
    .await
    .ok();
    assert_eq!(api.evaluate("u", None).await["reason"], "DEFAULT");
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    assert_eq!(api.evaluate("u", None).await["reason"], "LAUNCH_RULE_MATCH");
    api.post("/projects/p/launches/l/cancel", json!({}))
        .await
        .ok();
    assert_eq!(api.evaluate("u", None).await["reason"], "DEFAULT");
}

#[tokio::test]
async fn group_weights_below_100000_leave_the_rest_to_the_default() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"control": 25000, "treatment": 25000}}]),
    )
    .await;
    let weights = [("control", 25000), ("treatment", 25000)];
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..200 {
        let entity = format!("user-{i}");
        let e = api.evaluate(&entity, None).await;
        let (variation, reason) = match expected_group("l", "", &entity, &weights) {
            Some("control") => ("v1", "LAUNCH_RULE_MATCH"),
            Some(_) => ("v2", "LAUNCH_RULE_MATCH"),
            None => ("v1", "DEFAULT"),
        };
        assert_eq!(
            (
                e["variation"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            ),
            (variation, reason),
            "{entity}"
        );
        seen.insert((variation, reason));
    }
    // All three outcomes occurred, so the comparison above covered each of them.
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test]
async fn the_split_puts_100000_entities_in_each_group_within_one_percent_of_its_weight() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        json!([
            {"name": "a", "feature": "f", "variation": "v1"},
            {"name": "b", "feature": "f", "variation": "v2"}
        ]),
        json!([{"startTime": 1, "groupWeights": {"a": 20000, "b": 50000}}]),
    )
    .await;
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for batch in 0..5000 {
        let requests: Vec<Value> = (0..20)
            .map(|i| json!({"feature": "f", "entityId": format!("entity-{}", batch * 20 + i)}))
            .collect();
        let results = api
            .post("/projects/p/evaluations", json!({ "requests": requests }))
            .await;
        for r in results.ok()["results"].as_array().unwrap() {
            let key = match r["reason"].as_str().unwrap() {
                "LAUNCH_RULE_MATCH" => {
                    let d: Value = serde_json::from_str(r["details"].as_str().unwrap()).unwrap();
                    d["group"].as_str().unwrap().to_string()
                }
                other => other.to_string(),
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    assert_eq!(counts.values().sum::<usize>(), 100_000);
    for (group, share) in [("a", 0.20), ("b", 0.50), ("DEFAULT", 0.30)] {
        let got = counts.get(group).copied().unwrap_or(0) as f64 / 100_000.0;
        assert!(
            (got - share).abs() <= 0.01,
            "{group}: {got} vs {share} ({counts:?})"
        );
    }
}

#[tokio::test]
async fn the_active_step_is_the_last_started_one_and_a_future_step_takes_over_at_its_start_time() {
    let api = Api::fixture().await;
    let start = (now_secs() + 2.0).ceil();
    api.running_launch(
        "l",
        two_groups(),
        // Listed out of order on purpose: steps are ordered by startTime.
        json!([
            {"startTime": start, "groupWeights": {"treatment": 100000}},
            {"startTime": 1, "groupWeights": {"control": 100000}}
        ]),
    )
    .await;
    assert_eq!(api.evaluate("u", None).await["variation"], "v1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let before = now_secs();
        let e = api.evaluate("u", None).await;
        if e["variation"] == "v2" {
            // The new step never serves before its startTime.
            assert!(now_secs() >= start, "served {e} at {before} < {start}");
            break;
        }
        assert!(
            before < start + 1.0,
            "still the old step 1 s after {start}: {e}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "step never became active"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_launch_whose_steps_all_start_in_the_future_does_not_apply_yet() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": now_secs() + 3600.0, "groupWeights": {"treatment": 100000}}]),
    )
    .await;
    assert_eq!(api.evaluate("u", None).await["reason"], "DEFAULT");
}

#[tokio::test]
async fn segment_overrides_apply_in_evaluation_order_and_fall_through_to_the_group_weights() {
    let api = Api::fixture().await;
    api.post(
        "/segments",
        json!({"name": "beta", "pattern": r#"{"beta":[true]}"#}),
    )
    .await
    .ok();
    api.post(
        "/segments",
        json!({"name": "de", "pattern": r#"{"country":["DE"]}"#}),
    )
    .await
    .ok();
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"control": 100000},
        "segmentOverrides": [
            {"segment": "de", "evaluationOrder": 2, "weights": {"treatment": 100000}},
            {"segment": "beta", "evaluationOrder": 1, "weights": {"control": 50000}}
        ]}]),
    )
    .await;
    // No segment matches: the group weights (all control).
    for i in 0..20 {
        let e = api
            .evaluate(&format!("u{i}"), Some(json!({"country": "FR"})))
            .await;
        assert_eq!(e["variation"], "v1");
    }
    // Only `de` matches: all treatment.
    for i in 0..20 {
        let e = api
            .evaluate(&format!("u{i}"), Some(json!({"country": "DE"})))
            .await;
        assert_eq!(e["variation"], "v2");
        assert!(e["details"].as_str().unwrap().contains("treatment"));
    }
    // Both match: `beta` (order 1) first; its 50 % rest falls through to `de`.
    let mut outcomes = std::collections::BTreeSet::new();
    for i in 0..100 {
        let entity = format!("u{i}");
        let e = api
            .evaluate(&entity, Some(json!({"country": "DE", "beta": true})))
            .await;
        let expected = match expected_group("l", "beta", &entity, &[("control", 50000)]) {
            Some(_) => "v1",
            None => "v2",
        };
        assert_eq!(e["variation"], expected, "{entity}");
        outcomes.insert(expected);
    }
    assert_eq!(outcomes.len(), 2, "both branches were exercised");
}

#[tokio::test]
async fn an_override_with_weights_below_100000_and_no_later_override_falls_to_the_group_weights() {
    let api = Api::fixture().await;
    api.segment("s2").await;
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"control": 30000, "treatment": 30000},
            "segmentOverrides": [{"segment": "s2", "evaluationOrder": 0, "weights": {"treatment": 40000}}]}]),
    )
    .await;
    let mut outcomes = std::collections::BTreeSet::new();
    for i in 0..300 {
        let entity = format!("e{i}");
        let e = api.evaluate(&entity, Some(json!({"country": "DE"}))).await;
        let expected = match expected_group("l", "s2", &entity, &[("treatment", 40000)]) {
            Some(_) => ("v2", "LAUNCH_RULE_MATCH"),
            None => match expected_group(
                "l",
                "",
                &entity,
                &[("control", 30000), ("treatment", 30000)],
            ) {
                Some("control") => ("v1", "LAUNCH_RULE_MATCH"),
                Some(_) => ("v2", "LAUNCH_RULE_MATCH"),
                None => ("v1", "DEFAULT"),
            },
        };
        assert_eq!(
            (
                e["variation"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            ),
            expected,
            "{entity}"
        );
        outcomes.insert(expected);
    }
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
}

#[tokio::test]
async fn the_randomization_salt_decides_the_position() {
    let api = Api::fixture().await;
    api.post(
        "/projects/p/launches",
        json!({"name": "l", "randomizationSalt": "pepper", "groups": two_groups(),
            "scheduledSplitsConfig": {"steps": [{"startTime": 1, "groupWeights": {"control": 50000, "treatment": 50000}}]}}),
    )
    .await
    .ok();
    api.post("/projects/p/launches/l/start", json!({}))
        .await
        .ok();
    for i in 0..50 {
        let entity = format!("x{i}");
        let expected = match expected_group(
            "pepper",
            "",
            &entity,
            &[("control", 50000), ("treatment", 50000)],
        ) {
            Some("control") => "v1",
            _ => "v2",
        };
        assert_eq!(
            api.evaluate(&entity, None).await["variation"],
            expected,
            "{entity}"
        );
    }
}

#[tokio::test]
async fn a_group_with_an_undeclared_variation_serves_the_default_as_the_launchs_decision() {
    let api = Api::fixture().await;
    api.running_launch(
        "l",
        json!([{"name": "ghost", "feature": "f", "variation": "v9"}]),
        json!([{"startTime": 1, "groupWeights": {"ghost": 100000}}]),
    )
    .await;
    let e = api.evaluate("u", None).await;
    assert_eq!(e["variation"], "v1");
    assert_eq!(e["value"], json!({"stringValue": "one"}));
    assert_eq!(e["reason"], "LAUNCH_RULE_MATCH");
    assert_eq!(
        serde_json::from_str::<Value>(e["details"].as_str().unwrap()).unwrap(),
        json!({"launch": "l", "group": "ghost"})
    );
    // Once the feature declares the variation, the group serves it (the view follows writes).
    api.patch(
        "/projects/p/features/f",
        json!({"addOrUpdateVariations": [{"name": "v9", "value": {"stringValue": "nine"}}]}),
    )
    .await
    .ok();
    let e = api.evaluate("u", None).await;
    assert_eq!(e["variation"], "v9");
    assert_eq!(e["value"], json!({"stringValue": "nine"}));
}

#[tokio::test]
async fn a_launch_group_on_another_feature_does_not_decide_for_this_one() {
    let api = Api::fixture().await;
    api.feature("p", "g").await;
    api.running_launch(
        "l",
        json!([
            {"name": "on-f", "feature": "f", "variation": "v2"},
            {"name": "on-g", "feature": "g", "variation": "v2"}
        ]),
        json!([{"startTime": 1, "groupWeights": {"on-f": 50000, "on-g": 50000}}]),
    )
    .await;
    for i in 0..50 {
        let entity = format!("m{i}");
        let e = api.evaluate(&entity, None).await;
        let expected = match expected_group("l", "", &entity, &[("on-f", 50000), ("on-g", 50000)]) {
            Some("on-f") => "LAUNCH_RULE_MATCH",
            _ => "DEFAULT",
        };
        assert_eq!(e["reason"], expected, "{entity}");
    }
}

#[tokio::test]
async fn every_write_is_seen_by_the_next_evaluation() {
    let api = Api::fixture().await;
    assert_eq!(api.evaluate("u", None).await["variation"], "v1");
    api.patch("/projects/p/features/f", json!({"defaultVariation": "v2"}))
        .await
        .ok();
    assert_eq!(api.evaluate("u", None).await["variation"], "v2");
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"control": 100000}}]),
    )
    .await;
    assert_eq!(api.evaluate("u", None).await["variation"], "v1");
    api.patch(
        "/projects/p/launches/l",
        json!({"scheduledSplitsConfig": {"steps": [{"startTime": 1, "groupWeights": {"treatment": 100000}}]}}),
    )
    .await
    .ok();
    assert_eq!(api.evaluate("u", None).await["variation"], "v2");
    api.patch(
        "/projects/p/launches/l",
        json!({"randomizationSalt": "new"}),
    )
    .await
    .ok();
    assert_eq!(api.evaluate("u", None).await["reason"], "LAUNCH_RULE_MATCH");
}

#[tokio::test]
async fn evaluations_work_on_the_sqlite_store_and_follow_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::sqlite(dir.path());
    api.project("p").await;
    api.feature("p", "f").await;
    assert_eq!(api.evaluate("u", None).await["reason"], "DEFAULT");
    api.running_launch(
        "l",
        two_groups(),
        json!([{"startTime": 1, "groupWeights": {"treatment": 100000}}]),
    )
    .await;
    assert_eq!(api.evaluate("u", None).await["variation"], "v2");
}

#[tokio::test]
async fn unknown_projects_and_features_are_not_found_as_the_data_plane_answers() {
    let api = Api::fixture().await;
    let a = api
        .post("/projects/p/evaluations/nope", json!({"entityId": "u"}))
        .await;
    let body = a.error(404, "ResourceNotFoundException");
    assert_eq!(
        body,
        &json!({"message": format!("Feature does not exist with arn '{ACCOUNT}:project/p/feature/nope'"),
            "resourceId": null, "resourceType": null})
    );
    let a = api
        .post("/projects/q/evaluations/f", json!({"entityId": "u"}))
        .await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException")["message"],
        format!("Project does not exist with arn '{ACCOUNT}:project/q'")
    );
    let a = api
        .post(
            "/projects/q/evaluations",
            json!({"requests": [{"feature": "f", "entityId": "u"}]}),
        )
        .await;
    a.error(404, "ResourceNotFoundException");
    let a = api.post("/events/projects/q", json!({"events": []})).await;
    a.error(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn a_project_arn_works_for_evaluations() {
    let api = Api::fixture().await;
    let a = api
        .post(
            &format!(
                "/projects/{}/evaluations/f",
                enc(&format!("{ACCOUNT}:project/p"))
            ),
            json!({"entityId": "u"}),
        )
        .await;
    assert_eq!(a.ok()["reason"], "DEFAULT");
    let foreign = "arn:aws:evidently:eu-west-1:123456789012:project/p";
    let a = api
        .post(
            &format!("/projects/{}/evaluations/f", enc(foreign)),
            json!({"entityId": "u"}),
        )
        .await;
    assert_eq!(
        a.error(404, "ResourceNotFoundException"),
        &json!({"message": format!("Project does not exist with arn '{foreign}'"),
            "resourceId": null, "resourceType": null})
    );
}

#[tokio::test]
async fn evaluation_requests_are_validated_against_the_model() {
    let api = Api::fixture().await;
    let a = api.post("/projects/p/evaluations/f", json!({})).await;
    assert_eq!(a.invalid_fields(), vec!["entityId"]);
    let a = api
        .post(
            "/projects/p/evaluations/f",
            json!({"entityId": "x".repeat(513)}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["entityId"]);
    for bad in ["[1]", "{nope", "\"s\""] {
        let a = api
            .post(
                "/projects/p/evaluations/f",
                json!({"entityId": "u", "evaluationContext": bad}),
            )
            .await;
        assert_eq!(a.invalid_fields(), vec!["evaluationContext"], "{bad}");
    }
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"feature": "f", "entityId": format!("u{i}")}))
        .collect();
    let a = api
        .post("/projects/p/evaluations", json!({"requests": many}))
        .await;
    assert_eq!(a.invalid_fields(), vec!["requests"]);
    let a = api
        .post("/projects/p/evaluations", json!({"requests": []}))
        .await;
    assert_eq!(a.invalid_fields(), vec!["requests"]);
    let a = api
        .post(
            "/projects/p/evaluations",
            json!({"requests": [{"feature": "f", "entityId": "u", "evaluationContext": "[]"}]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["requests[0].evaluationContext"]);
}

#[tokio::test]
async fn a_context_with_a_huge_array_is_refused_instead_of_slowing_evaluation() {
    let api = Api::fixture().await;
    let big = json!({"tags": (0..101).collect::<Vec<_>>()});
    let a = api
        .post(
            "/projects/p/evaluations/f",
            json!({"entityId": "u", "evaluationContext": big.to_string()}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["evaluationContext"]);
    assert!(a.text.contains("more than 100"), "{}", a.text);
}

#[tokio::test]
async fn batch_evaluation_answers_each_request_in_order_and_reports_unknown_features_inline() {
    let api = Api::fixture().await;
    api.patch(
        "/projects/p/features/f",
        json!({"entityOverrides": {"vip": "v2"}}),
    )
    .await
    .ok();
    let a = api
        .post(
            "/projects/p/evaluations",
            json!({"requests": [
                {"feature": "f", "entityId": "vip"},
                {"feature": "nope", "entityId": "u2"},
                {"feature": "f", "entityId": "u3", "evaluationContext": "{\"a\":1}"}
            ]}),
        )
        .await;
    let results = a.ok()["results"].as_array().unwrap().clone();
    assert_eq!(
        results,
        vec![
            json!({"project": format!("{ACCOUNT}:project/p"), "feature": "f", "entityId": "vip",
                "variation": "v2", "value": {"stringValue": "two"}, "reason": "ENTITY_OVERRIDES_MATCH", "details": "{}"}),
            json!({"project": format!("{ACCOUNT}:project/p"), "feature": format!("{ACCOUNT}:project/p/feature/nope"),
                "entityId": "u2", "reason": format!("Feature does not exist with arn '{ACCOUNT}:project/p/feature/nope'")}),
            json!({"project": format!("{ACCOUNT}:project/p"), "feature": "f", "entityId": "u3",
                "variation": "v1", "value": {"stringValue": "one"}, "reason": "DEFAULT", "details": "{}"}),
        ]
    );
}

// ---------------------------------------------------------------- data plane: events

#[tokio::test]
async fn put_project_events_answers_each_event_and_counts_them_by_project_and_type() {
    let api = Api::fixture().await;
    let a = api
        .post(
            "/events/projects/p",
            json!({"events": [
                {"timestamp": 1627580583, "type": "aws.evidently.evaluation",
                 "data": "{\"feature\":\"f\",\"entityId\":\"u\",\"variation\":\"v1\"}"},
                {"timestamp": 1627580584.5, "type": "aws.evidently.custom", "data": "[1,2]"},
                {"timestamp": -5, "type": "aws.evidently.custom", "data": "{}"},
                {"timestamp": 1627580585, "type": "aws.evidently.custom", "data": "{\"price\":3}"}
            ]}),
        )
        .await;
    let body = a.ok();
    assert_eq!(body["failedEventCount"], 2);
    let results = body["eventResults"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        assert_eq!(r["eventId"].as_str().unwrap().len(), 36, "{r}");
    }
    assert!(results[0].get("errorCode").is_none());
    assert_eq!(results[1]["errorCode"], "ValidationException");
    assert!(
        results[1]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("data must be a JSON object")
    );
    assert!(
        results[2]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("timestamp")
    );
    assert!(results[3].get("errorCode").is_none());
    let metrics = api.get("/metrics").await.text;
    for line in [
        r#"evidently_emulator_events_total{project="p",event_type="aws.evidently.evaluation",result="accepted"} 1"#,
        r#"evidently_emulator_events_total{project="p",event_type="aws.evidently.custom",result="accepted"} 1"#,
        r#"evidently_emulator_events_total{project="p",event_type="aws.evidently.custom",result="failed"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
}

#[tokio::test]
async fn put_project_events_is_validated_against_the_model() {
    let api = Api::fixture().await;
    let event = json!({"timestamp": 1, "type": "aws.evidently.custom", "data": "{}"});
    let a = api
        .post(
            "/events/projects/p",
            json!({"events": vec![event.clone(); 51]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["events"]);
    let a = api
        .post(
            "/events/projects/p",
            json!({"events": [{"timestamp": 1, "type": "other", "data": "{}"}]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["events[0].type"]);
    let a = api
        .post(
            "/events/projects/p",
            json!({"events": [{"timestamp": "now", "type": "aws.evidently.custom", "data": "{}"}]}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["events[0].timestamp"]);
    let a = api
        .post(
            "/events/projects/p",
            json!({"events": [{"type": "aws.evidently.custom"}]}),
        )
        .await;
    let mut fields = a.invalid_fields();
    fields.sort();
    assert_eq!(fields, vec!["events[0].data", "events[0].timestamp"]);
}

// ---------------------------------------------------------------- segment patterns and references

#[tokio::test]
async fn test_segment_pattern_matches_payloads_as_the_pattern_says() {
    let api = Api::memory();
    let pattern = r#"{"Price":[{"numeric":[">",10,"<=",20]}],"Browser":["Chrome","Firefox"]}"#;
    for (payload, expected) in [
        (r#"{"Price":15,"Browser":"Chrome","Extra":1}"#, true),
        (r#"{"Price":25,"Browser":"Chrome"}"#, false),
        (r#"{"Price":15,"Browser":"chrome"}"#, false),
        (r#"{"Price":15}"#, false),
    ] {
        let a = api
            .post(
                "/test-segment-pattern",
                json!({"pattern": pattern, "payload": payload}),
            )
            .await;
        assert_eq!(a.ok(), &json!({"match": expected}), "{payload}");
    }
}

#[tokio::test]
async fn test_segment_pattern_refuses_a_bad_pattern_or_payload_naming_it() {
    let api = Api::memory();
    let a = api
        .post(
            "/test-segment-pattern",
            json!({"pattern": r#"{"a":[{"regex":"x"}]}"#, "payload": "{}"}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["pattern"]);
    assert!(a.text.contains("unknown operator 'regex'"), "{}", a.text);
    let a = api
        .post(
            "/test-segment-pattern",
            json!({"pattern": r#"{"a":[1]}"#, "payload": "[1]"}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["payload"]);
    let a = api
        .post(
            "/test-segment-pattern",
            json!({"pattern": "x".repeat(1025), "payload": "{}"}),
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["pattern"]);
}

#[tokio::test]
async fn list_segment_references_lists_the_launches_using_the_segment_page_by_page() {
    let api = Api::fixture().await;
    for name in ["l1", "l2", "l3"] {
        api.launch(name).await;
    }
    api.post("/projects/p/launches/l2/start", json!({}))
        .await
        .ok();
    let a = api
        .get("/segments/s/references?type=LAUNCH&maxResults=2")
        .await;
    let page = a.ok().clone();
    let names: Vec<&str> = page["referencedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["l1", "l2"]);
    assert_eq!(page["referencedBy"][0]["type"], "LAUNCH");
    assert_eq!(
        page["referencedBy"][0]["arn"],
        format!("{ACCOUNT}:project/p/launch/l1")
    );
    assert_eq!(page["referencedBy"][0]["status"], "CREATED");
    assert_eq!(page["referencedBy"][1]["status"], "RUNNING");
    assert!(page["referencedBy"][1]["startTime"].is_string());
    let token = page["nextToken"].as_str().unwrap();
    let a = api
        .get(&format!(
            "/segments/s/references?type=LAUNCH&maxResults=2&nextToken={}",
            enc(token)
        ))
        .await;
    let last = a.ok();
    assert_eq!(last["referencedBy"].as_array().unwrap().len(), 1);
    assert_eq!(last["referencedBy"][0]["name"], "l3");
    assert!(last.get("nextToken").is_none());
    let a = api.get("/segments/s/references?type=EXPERIMENT").await;
    assert_eq!(a.ok(), &json!({"referencedBy": []}));
}

#[tokio::test]
async fn list_segment_references_needs_a_type_and_an_existing_segment() {
    let api = Api::fixture().await;
    let a = api.get("/segments/s/references").await;
    assert_eq!(a.invalid_fields(), vec!["type"]);
    let a = api.get("/segments/s/references?type=OTHER").await;
    assert_eq!(a.invalid_fields(), vec!["type"]);
    let a = api.get("/segments/nope/references?type=LAUNCH").await;
    a.error(404, "ResourceNotFoundException");
}
