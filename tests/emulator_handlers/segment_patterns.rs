//! TestSegmentPattern and ListSegmentReferences.

use super::*;

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
