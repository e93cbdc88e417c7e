//! The data plane: EvaluateFeature and BatchEvaluateFeature (defaults, overrides, launches, splits,
//! segment overrides, validation).

use super::*;

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
    // What serde alone would read into the inputs (an array for a structure, a number for a
    // string): the data plane's fast path leaves them to the model, which refuses them.
    let a = api
        .raw("POST", "/projects/p/evaluations/f", r#"["u", null]"#)
        .await;
    assert!(
        a.error(400, "ValidationException")["message"]
            .as_str()
            .unwrap()
            .contains("JSON object")
    );
    let a = api
        .raw("POST", "/projects/p/evaluations/f", r#"{"entityId": 5}"#)
        .await;
    assert_eq!(a.invalid_fields(), vec!["entityId"]);
    let a = api
        .raw(
            "POST",
            "/projects/p/evaluations",
            r#"{"requests": [["f", "u", null]]}"#,
        )
        .await;
    assert_eq!(a.invalid_fields(), vec!["requests[0]"]);
    // Members the model does not define are read by the generic path, which checks them.
    let a = api
        .raw(
            "POST",
            "/projects/p/evaluations/f",
            r#"{"entityId": "u", "x": 1e400}"#,
        )
        .await;
    a.error(400, "ValidationException");
    // As is a query string (the operations define none), which must decode.
    let a = api
        .raw(
            "POST",
            "/projects/p/evaluations/f?a=%FF",
            r#"{"entityId": "u"}"#,
        )
        .await;
    a.error(400, "ValidationException");
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
