//! Features: variations and their types, the default variation, quotas, updates, evaluation rules,
//! delete.

use super::*;

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
    a.not_found("project", None);
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
    a.not_found("project", None);
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
