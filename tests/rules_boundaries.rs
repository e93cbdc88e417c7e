//! Every length, size and range constraint of the CreateLaunch and UpdateLaunch inputs, tested
//! at its boundary: the last valid value is accepted and the first invalid one is rejected with
//! a violation at that member's path. The cases are derived from the generated model table, so a
//! constraint added to the model is tested without editing this file.

use launch_operator::rules::{
    self,
    shape::{Bounds, Constraints, Kind},
    validate_shape,
};
use serde_json::{Value, json};

/// A request with every optional member present, valid in every respect.
fn full_create_request() -> Value {
    json!({
        "project": "shop",
        "name": "checkout-v2",
        "description": "roll-out",
        "groups": [
            {"name": "control", "description": "old", "feature": "checkout", "variation": "legacy"},
            {"name": "treatment", "feature": "checkout", "variation": "v2"}
        ],
        "metricMonitors": [{"metricDefinition": {
            "name": "latency", "entityIdKey": "user.id", "valueKey": "details.ms",
            "eventPattern": "{}", "unitLabel": "ms"
        }}],
        "randomizationSalt": "salt",
        "scheduledSplitsConfig": {"steps": [{
            "startTime": 1_800_000_000,
            "groupWeights": {"control": 50000, "treatment": 50000},
            "segmentOverrides": [{"segment": "beta", "evaluationOrder": 1, "weights": {"treatment": 100000}}]
        }]},
        "tags": {"team": "payments"}
    })
}

fn full_update_request() -> Value {
    let mut v = full_create_request();
    let o = v.as_object_mut().unwrap();
    o.remove("name");
    o.remove("tags");
    o.insert("launch".into(), json!("checkout-v2"));
    v
}

/// A constrained place in the request: JSON pointer, display path, and what is constrained.
struct Case {
    pointer: String,
    path: String,
    kind: Kind,
    constraints: Constraints,
}

fn collect(
    shape_name: &str,
    value: &Value,
    pointer: &str,
    path: &str,
    member: Constraints,
    out: &mut Vec<Case>,
) {
    let shape = rules::shape(shape_name).expect("shape in table");
    let c = shape.constraints.overridden_by(&member);
    if c.length.is_some() || c.range.is_some() {
        out.push(Case {
            pointer: pointer.to_string(),
            path: path.to_string(),
            kind: shape.kind,
            constraints: c,
        });
    }
    match (shape.kind, value) {
        (Kind::Structure { members }, Value::Object(o)) => {
            for m in members {
                if let Some(v) = o.get(m.name) {
                    let p = if path.is_empty() {
                        m.name.to_string()
                    } else {
                        format!("{path}.{}", m.name)
                    };
                    collect(
                        m.target,
                        v,
                        &format!("{pointer}/{}", m.name),
                        &p,
                        m.constraints,
                        out,
                    );
                }
            }
        }
        (Kind::List { member }, Value::Array(items)) if !items.is_empty() => {
            collect(
                member,
                &items[0],
                &format!("{pointer}/0"),
                &format!("{path}[0]"),
                Constraints::NONE,
                out,
            );
        }
        (Kind::Map { value: vs, .. }, Value::Object(o)) => {
            if let Some((k, v)) = o.iter().next() {
                collect(
                    vs,
                    v,
                    &format!("{pointer}/{k}"),
                    &format!("{path}[{k}]"),
                    Constraints::NONE,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// The value at the case's place, resized to `n` characters / items / entries, or set to `n`.
fn sized(original: &Value, kind: Kind, n: i64) -> Value {
    match kind {
        Kind::String => Value::String("a".repeat(n as usize)),
        Kind::Integer | Kind::Long => json!(n),
        Kind::List { .. } => {
            let first = original
                .as_array()
                .and_then(|a| a.first())
                .cloned()
                .unwrap_or(json!({}));
            Value::Array(vec![first; n as usize])
        }
        Kind::Map { .. } => {
            let first = original
                .as_object()
                .and_then(|o| o.values().next())
                .cloned()
                .unwrap_or(json!(0));
            Value::Object((0..n).map(|i| (format!("k{i}"), first.clone())).collect())
        }
        other => panic!("no boundary values for {other:?}"),
    }
}

fn violations_at(shape: &str, request: &Value, path: &str) -> Vec<String> {
    validate_shape(shape, request, "")
        .into_iter()
        .filter(|v| v.path == path)
        .map(|v| v.message)
        .collect()
}

fn check_boundaries(shape: &str, base: Value) -> usize {
    let mut cases = Vec::new();
    collect(shape, &base, "", "", Constraints::NONE, &mut cases);
    assert!(
        validate_shape(shape, &base, "").is_empty(),
        "the base request must be valid"
    );
    let mut checked = 0;
    for case in &cases {
        let original = base.pointer(&case.pointer).unwrap().clone();
        let bounds: Bounds = case.constraints.length.or(case.constraints.range).unwrap();
        let mut probe = |n: i64, valid: bool| {
            let mut request = base.clone();
            *request.pointer_mut(&case.pointer).unwrap() = sized(&original, case.kind, n);
            let found = violations_at(shape, &request, &case.path);
            if valid {
                assert!(
                    found.is_empty(),
                    "{}: {n} must be accepted, got {found:?}",
                    case.path
                );
            } else {
                assert!(!found.is_empty(), "{}: {n} must be rejected", case.path);
            }
            checked += 1;
        };
        if let Some(max) = bounds.max {
            probe(max, true);
            probe(max + 1, false);
        }
        if let Some(min) = bounds
            .min
            .filter(|m| *m > 0 || matches!(case.kind, Kind::Integer | Kind::Long))
        {
            probe(min, true);
            probe(min - 1, false);
        }
    }
    checked
}

#[test]
fn every_create_launch_length_size_and_range_holds_at_its_boundary() {
    let checked = check_boundaries("CreateLaunchRequest", full_create_request());
    // groups, group fields, monitors, metric fields, steps, weights, overrides, tags, ...
    assert!(checked >= 50, "only {checked} boundary probes ran");
}

#[test]
fn every_update_launch_length_size_and_range_holds_at_its_boundary() {
    let checked = check_boundaries("UpdateLaunchRequest", full_update_request());
    assert!(checked >= 40, "only {checked} boundary probes ran");
}

#[test]
fn every_required_member_is_reported_when_missing() {
    let base = full_create_request();
    let mut cases = Vec::new();
    fn required(
        shape: &str,
        value: &Value,
        pointer: &str,
        path: &str,
        out: &mut Vec<(String, String)>,
    ) {
        let s = rules::shape(shape).unwrap();
        match (s.kind, value) {
            (Kind::Structure { members }, Value::Object(o)) => {
                for m in members {
                    let p = if path.is_empty() {
                        m.name.to_string()
                    } else {
                        format!("{path}.{}", m.name)
                    };
                    let ptr = format!("{pointer}/{}", m.name);
                    if m.required {
                        out.push((ptr.clone(), p.clone()));
                    }
                    if let Some(v) = o.get(m.name) {
                        required(m.target, v, &ptr, &p, out);
                    }
                }
            }
            (Kind::List { member }, Value::Array(items)) if !items.is_empty() => {
                required(
                    member,
                    &items[0],
                    &format!("{pointer}/0"),
                    &format!("{path}[0]"),
                    out,
                );
            }
            _ => {}
        }
    }
    required("CreateLaunchRequest", &base, "", "", &mut cases);
    assert!(cases.len() >= 12, "{} required members found", cases.len());
    for (pointer, path) in cases {
        let mut request = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        request
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        let found = violations_at("CreateLaunchRequest", &request, &path);
        assert_eq!(found, vec!["Member must not be null".to_string()], "{path}");
    }
}

#[test]
fn name_patterns_accept_allowed_characters_and_reject_others() {
    let mut request = full_create_request();
    request["groups"][1]["name"] = json!("Treatment-2_b.x");
    assert!(violations_at("CreateLaunchRequest", &request, "groups[1].name").is_empty());
    request["groups"][1]["name"] = json!("bad name");
    assert_eq!(
        violations_at("CreateLaunchRequest", &request, "groups[1].name"),
        vec!["Member must satisfy regular expression pattern: ^[-a-zA-Z0-9._]*$".to_string()]
    );
}

#[test]
fn project_accepts_a_name_or_a_project_arn() {
    let mut request = full_create_request();
    request["project"] = json!("arn:aws:evidently:us-east-1:123456789012:project/shop");
    assert!(violations_at("CreateLaunchRequest", &request, "project").is_empty());
    request["project"] = json!("shop/other");
    assert_eq!(
        violations_at("CreateLaunchRequest", &request, "project").len(),
        1
    );
}

#[test]
fn tag_keys_starting_with_aws_are_reserved() {
    let mut request = full_create_request();
    request["tags"] = json!({"aws:owner": "x"});
    assert_eq!(
        violations_at("CreateLaunchRequest", &request, "tags[aws:owner]").len(),
        1
    );
    // The model's character class `+-=` is a range: digits and `;` are allowed.
    request["tags"] = json!({"awsome:team-1;x": "x"});
    assert!(violations_at("CreateLaunchRequest", &request, "tags[awsome:team-1;x]").is_empty());
}

#[test]
fn metric_name_must_not_contain_white_space() {
    let mut request = full_create_request();
    request["metricMonitors"][0]["metricDefinition"]["name"] = json!("page load");
    assert_eq!(
        violations_at(
            "CreateLaunchRequest",
            &request,
            "metricMonitors[0].metricDefinition.name"
        )
        .len(),
        1
    );
}

#[test]
fn wrong_json_types_are_reported_not_panicked_on() {
    let mut request = full_create_request();
    request["groups"] = json!("not-a-list");
    request["scheduledSplitsConfig"]["steps"][0]["startTime"] = json!("tomorrow");
    let found = validate_shape("CreateLaunchRequest", &request, "");
    let paths: Vec<&str> = found.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["groups", "scheduledSplitsConfig.steps[0].startTime"]
    );
}

#[test]
fn every_model_pattern_compiles() {
    for pattern in rules::walk::all_patterns() {
        assert!(
            rules::walk::pattern_compiles(pattern),
            "pattern {pattern} does not compile"
        );
    }
}

/// `StringRule::fits` (the data plane's check without a JSON tree) agrees with the walk on
/// every string member of every structure of the model, for strings at, inside and outside
/// each member's length bounds, matching and not matching its pattern, and its enum values.
#[test]
fn string_rules_agree_with_the_walk_on_every_string_member() {
    use rules::{model::SHAPES, walk::StringRule};
    let mut checked = 0;
    for s in SHAPES {
        let Kind::Structure { members } = s.kind else {
            continue;
        };
        for m in members {
            let Some(rule) = StringRule::of(s.name, m.name) else {
                assert!(
                    !matches!(rules::shape(m.target).map(|t| t.kind), Some(Kind::String)),
                    "{}.{} is a string member without a rule",
                    s.name,
                    m.name
                );
                continue;
            };
            let target = rules::shape(m.target).unwrap();
            let c = target.constraints.overridden_by(&m.constraints);
            let mut candidates: Vec<String> = vec![
                String::new(),
                "a".into(),
                "name-1.x_Y".into(),
                " spaced out ".into(),
                "line\nbreak".into(),
                "é".repeat(3),
                "arn:aws:evidently:us-east-1:123456789012:project/p".into(),
                "aws:reserved".into(),
            ];
            if let Some(b) = c.length {
                for n in [b.min, b.max].into_iter().flatten() {
                    for len in [n - 1, n, n + 1] {
                        if let Ok(len) = usize::try_from(len) {
                            candidates.push("a".repeat(len.min(5_000)));
                        }
                    }
                }
            }
            candidates.extend(c.enum_values.iter().map(|v| v.to_string()));
            for candidate in candidates {
                let mut input = serde_json::Map::new();
                input.insert(m.name.to_string(), Value::String(candidate.clone()));
                let reported = validate_shape(s.name, &Value::Object(input), "")
                    .into_iter()
                    .any(|v| v.path == m.name);
                assert_eq!(
                    rule.fits(&candidate),
                    !reported,
                    "{}.{} on {candidate:?}",
                    s.name,
                    m.name
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 500,
        "only {checked} cases: the model table looks empty"
    );
}
