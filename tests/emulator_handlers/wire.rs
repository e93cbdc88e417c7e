//! The wire protocol: request ids, JSON and timestamps, error shapes, paths and ARNs, body parsing
//! and limits, unknown operations.

use super::*;

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
    let now = launch_operator::time::now_secs() as f64;
    assert!((created - now).abs() < 60.0, "{created} vs {now}");
}

#[tokio::test]
async fn errors_carry_the_code_header_and_the_modeled_members() {
    let api = Api::memory();
    let a = api.get("/projects/nope").await;
    a.not_found("project", Some("project/nope"));
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert!(a.body.get("__type").is_none());
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
