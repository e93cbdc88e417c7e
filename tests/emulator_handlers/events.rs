//! The data plane: PutProjectEvents.

use super::*;

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
