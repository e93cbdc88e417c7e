//! Launches: create, read, list by status, update, start and stop, delete, and what they hold on
//! features and segments.

use super::*;

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
    a.not_found("project", None);

    let mut body = launch_body("l");
    body["groups"][0]["feature"] = json!("ghost");
    let a = api.post("/projects/p/launches", body).await;
    a.not_found("feature", Some("project/p/feature/ghost"));

    let mut body = launch_body("l");
    body["scheduledSplitsConfig"]["steps"][1]["segmentOverrides"][0]["segment"] = json!("ghost");
    let a = api.post("/projects/p/launches", body).await;
    a.not_found("segment", None);
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
    a.not_found("launch", Some("project/p/launch/nope"));
    let a = api.get("/projects/nope/launches/l").await;
    a.not_found("project", None);
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
    clock_past(&before["lastUpdatedTime"]).await;
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
    a.not_found("feature", None);
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
