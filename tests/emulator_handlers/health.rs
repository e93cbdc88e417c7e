//! Health, readiness and the metrics page.

use super::*;

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
