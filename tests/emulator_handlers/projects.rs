//! Projects: create, read, list and page, update, data delivery, delete, quotas and counters.

use super::*;

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
    clock_past(&before["lastUpdatedTime"]).await;
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
