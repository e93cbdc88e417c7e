//! Tags on every kind of resource, and their validation.

use super::*;

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
