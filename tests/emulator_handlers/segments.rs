//! Segments: create, read by name or ARN, list, patterns that must compile, quotas, delete.

use super::*;

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
    a.not_found("segment", None);
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
