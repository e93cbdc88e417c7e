//! Checking a spec of any kind with the rules module, the way the controller and
//! `launch-operator validate` do before anything reaches Evidently.
//!
//! Works on the spec as JSON, so it reports precise paths even for manifests that do not
//! deserialize into the spec types (wrong types, unknown fields). Each function returns the
//! Create request the spec stands for.

use serde_json::{Map, Value};

use super::schema::MAX_SPEC_TAGS;
use crate::rules::{
    self, CreateLaunchInput, Violation,
    feature::{CreateFeatureInput, check_variations},
    launch::validate_create_launch,
    project::CreateProjectInput,
    segment::{CreateSegmentInput, check_pattern},
};

/// The spec of a `Launch` (as JSON) named `metadata_name`: the CreateLaunch input it stands for.
/// Violation paths start with `spec.` (or `metadata.name` when the name defaults to it).
pub fn validate_spec(
    spec: &Value,
    metadata_name: &str,
) -> Result<CreateLaunchInput, Vec<Violation>> {
    let mut s = Spec::new(
        spec,
        "CreateLaunchRequest",
        metadata_name,
        &["executionStatus"],
    )?;
    if let Some(execution) = s.body.remove("executionStatus") {
        s.violations.extend(check_execution(&execution));
    }
    // RFC 3339 in the manifest, epoch seconds on the wire.
    if let Some(steps) = s
        .body
        .get_mut("scheduledSplitsConfig")
        .and_then(|c| c.get_mut("steps"))
        .and_then(Value::as_array_mut)
    {
        for (i, step) in steps.iter_mut().enumerate() {
            let Some(start) = step.get_mut("startTime") else {
                continue;
            };
            match start.as_str().and_then(crate::time::parse_rfc3339) {
                Some(secs) => *start = Value::from(secs),
                _ => {
                    s.violations.push(Violation::with_value(
                        &format!("scheduledSplitsConfig.steps[{i}].startTime"),
                        "must be an RFC 3339 timestamp, e.g. 2026-12-01T09:00:00Z",
                        Some(shown(start)),
                    ));
                    // Keep walking the rest of the spec with a placeholder.
                    *start = Value::from(0);
                }
            }
        }
    }
    let project = s.project();
    let body = std::mem::take(&mut s.body);
    let result = validate_create_launch(&project, Value::Object(body));
    s.finish(result, project.is_empty())
}

/// The spec of a `Feature`: the CreateFeature input it stands for.
pub fn validate_feature_spec(
    spec: &Value,
    metadata_name: &str,
) -> Result<CreateFeatureInput, Vec<Violation>> {
    let mut s = Spec::new(spec, "CreateFeatureRequest", metadata_name, &[])?;
    let project = s.project();
    s.body
        .insert("project".into(), Value::String(project.clone()));
    let body = Value::Object(std::mem::take(&mut s.body));
    let result = rules::validate_typed(
        "CreateFeatureRequest",
        body,
        |input: &CreateFeatureInput| {
            let default = input
                .default_variation
                .clone()
                .or_else(|| input.variations.first().map(|v| v.name.clone()))
                .unwrap_or_default();
            check_variations(
                input.variations.iter().map(|v| (v.name.as_str(), &v.value)),
                "variations",
                &default,
                "defaultVariation",
                &input.entity_overrides.clone().unwrap_or_default(),
            )
            .err()
            .unwrap_or_default()
        },
    );
    s.finish(result, project.is_empty())
}

/// The spec of a `Project`: the CreateProject input it stands for.
pub fn validate_project_spec(
    spec: &Value,
    metadata_name: &str,
) -> Result<CreateProjectInput, Vec<Violation>> {
    let mut s = Spec::new(spec, "CreateProjectRequest", metadata_name, &[])?;
    let body = Value::Object(std::mem::take(&mut s.body));
    let result = rules::validate_typed(
        "CreateProjectRequest",
        body,
        |_: &CreateProjectInput| vec![],
    );
    s.finish(result, false)
}

/// The spec of a `Segment`: the CreateSegment input it stands for.
pub fn validate_segment_spec(
    spec: &Value,
    metadata_name: &str,
) -> Result<CreateSegmentInput, Vec<Violation>> {
    let mut s = Spec::new(spec, "CreateSegmentRequest", metadata_name, &[])?;
    let body = Value::Object(std::mem::take(&mut s.body));
    let result = rules::validate_typed(
        "CreateSegmentRequest",
        body,
        |input: &CreateSegmentInput| check_pattern(&input.pattern, "pattern"),
    );
    s.finish(result, false)
}

/// What every kind's check shares: the spec as a request body with its name defaulted, the
/// operator's own fields checked and removed, unknown fields and the tag limit reported.
struct Spec {
    body: Map<String, Value>,
    violations: Vec<Violation>,
    name_defaulted: bool,
}

/// Spec fields that are not members of any Create request.
pub const OPERATOR_FIELDS: &[&str] = &["deletionPolicy"];

impl Spec {
    fn new(
        spec: &Value,
        shape: &str,
        metadata_name: &str,
        extra: &[&str],
    ) -> Result<Spec, Vec<Violation>> {
        let Some(object) = spec.as_object() else {
            return Err(vec![Violation::new("spec", "must be an object")]);
        };
        let operator: Vec<&str> = OPERATOR_FIELDS.iter().chain(extra).copied().collect();
        let mut body = object.clone();
        let mut violations = rules::walk::unknown_fields(shape, spec, "", &operator);

        match body.remove("deletionPolicy") {
            None | Some(Value::Null) => {}
            Some(Value::String(p)) if p == "Delete" || p == "Retain" => {}
            Some(other) => violations.push(Violation::with_value(
                "deletionPolicy",
                "must be one of: Delete, Retain",
                Some(shown(&other)),
            )),
        }
        if let Some(Value::Object(tags)) = body.get("tags")
            && tags.len() > MAX_SPEC_TAGS
        {
            violations.push(Violation::new(
                "tags",
                format!(
                    "at most {MAX_SPEC_TAGS} tags: Evidently allows 50 and the operator adds launch-operator.io/owner, got {}",
                    tags.len()
                ),
            ));
        }
        let name_defaulted = matches!(body.get("name"), None | Some(Value::Null));
        if name_defaulted {
            body.insert("name".into(), Value::String(metadata_name.to_string()));
        }
        Ok(Spec {
            body,
            violations,
            name_defaulted,
        })
    }

    /// Takes `project` out of the body (it is a path label on the wire); empty when missing or
    /// mistyped, which is reported.
    fn project(&mut self) -> String {
        match self.body.remove("project") {
            Some(Value::String(p)) => p,
            None | Some(Value::Null) => {
                self.violations
                    .push(Violation::new("project", "Member must not be null"));
                String::new()
            }
            Some(other) => {
                self.violations.push(Violation::with_value(
                    "project",
                    "Member must be a string",
                    Some(other.to_string()),
                ));
                String::new()
            }
        }
    }

    /// Merges the request's own check with the spec-level violations, paths under `spec.`.
    fn finish<T>(
        mut self,
        result: Result<T, Vec<Violation>>,
        skip_project: bool,
    ) -> Result<T, Vec<Violation>> {
        match result {
            Ok(input) if self.violations.is_empty() => Ok(input),
            Ok(_) => Err(prefix(self.violations, self.name_defaulted)),
            Err(more) => {
                // A missing or mistyped project was reported already.
                self.violations.extend(
                    more.into_iter()
                        .filter(|v| !(skip_project && v.path == "project")),
                );
                Err(prefix(self.violations, self.name_defaulted))
            }
        }
    }
}

/// `executionStatus`: `status` START or STOP; `desiredState` and `reason` only with STOP, as
/// StopLaunch's members.
fn check_execution(execution: &Value) -> Vec<Violation> {
    let path = "executionStatus";
    let Some(object) = execution.as_object() else {
        return vec![Violation::new(path, "must be an object")];
    };
    let mut out = Vec::new();
    for key in object.keys() {
        if !["status", "desiredState", "reason"].contains(&key.as_str()) {
            out.push(Violation::new(
                &format!("{path}.{key}"),
                "unknown field (expected status, desiredState, reason)",
            ));
        }
    }
    let status = object.get("status").and_then(Value::as_str);
    match status {
        Some("START" | "STOP") => {}
        _ => out.push(Violation::with_value(
            &format!("{path}.status"),
            "must be one of: START, STOP",
            object.get("status").map(shown),
        )),
    }
    let stop_members: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| *k == "desiredState" || *k == "reason")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if status == Some("START") && !stop_members.is_empty() {
        out.push(Violation::new(
            path,
            "desiredState and reason apply only to status STOP",
        ));
    }
    // The same constraints as StopLaunch's members.
    let mut request = stop_members;
    request.insert("project".into(), Value::String("p".into()));
    request.insert("launch".into(), Value::String("l".into()));
    out.extend(rules::validate_shape(
        "StopLaunchRequest",
        &Value::Object(request),
        path,
    ));
    out
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn prefix(violations: Vec<Violation>, name_defaulted: bool) -> Vec<Violation> {
    violations
        .into_iter()
        .map(|v| {
            if name_defaulted && v.path == "name" {
                Violation {
                    path: "metadata.name".into(),
                    message: format!(
                        "{} (metadata.name is the Evidently name when spec.name is unset)",
                        v.message
                    ),
                    value: v.value,
                }
            } else {
                v.under("spec")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(tags: usize) -> Value {
        let tags: serde_json::Map<String, Value> =
            (0..tags).map(|i| (format!("k{i}"), json!("v"))).collect();
        json!({"project": "p", "groups": [{"name": "g", "feature": "f", "variation": "v"}], "tags": tags})
    }

    #[test]
    fn a_spec_may_list_49_tags_because_the_operator_adds_one() {
        assert!(validate_spec(&spec(49), "l").is_ok());
        let err = validate_spec(&spec(50), "l").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, "spec.tags");
    }

    #[test]
    fn the_launch_name_defaults_to_metadata_name() {
        let input = validate_spec(&spec(0), "from-metadata").unwrap();
        assert_eq!(input.name, "from-metadata");
        assert_eq!(input.project, "p");
    }

    #[test]
    fn start_times_become_epoch_seconds() {
        let mut s = spec(0);
        s["scheduledSplitsConfig"] = json!({"steps": [{"startTime": "2027-01-04T09:00:00+01:00", "groupWeights": {"g": 1}}]});
        let input = validate_spec(&s, "l").unwrap();
        assert_eq!(
            input.scheduled_splits_config.unwrap().steps[0].start_time,
            1_799_049_600.0
        );
    }

    #[test]
    fn execution_status_is_checked_like_stop_launch() {
        let mut s = spec(0);
        s["executionStatus"] =
            json!({"status": "STOP", "desiredState": "CANCELLED", "reason": "done"});
        assert!(validate_spec(&s, "l").is_ok());
        s["executionStatus"] = json!({"status": "RUN", "desiredState": "PAUSED"});
        let paths: Vec<String> = validate_spec(&s, "l")
            .unwrap_err()
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(
            paths,
            [
                "spec.executionStatus.status",
                "spec.executionStatus.desiredState"
            ]
        );
        s["executionStatus"] = json!({"status": "START", "reason": "x"});
        assert_eq!(
            validate_spec(&s, "l").unwrap_err()[0].path,
            "spec.executionStatus"
        );
    }

    #[test]
    fn a_feature_spec_names_every_broken_rule() {
        let ok = json!({"project": "p", "variations": [
            {"name": "on", "value": {"boolValue": true}},
            {"name": "off", "value": {"boolValue": false}}
        ], "defaultVariation": "off"});
        let input = validate_feature_spec(&ok, "dark-mode").unwrap();
        assert_eq!(
            (input.project.as_str(), input.name.as_str()),
            ("p", "dark-mode")
        );
        let bad = json!({"project": "p", "variations": [
            {"name": "on", "value": {"boolValue": true}},
            {"name": "on", "value": {"stringValue": "x"}}
        ], "defaultVariation": "maybe", "evaluationStrategy": "SOMETIMES"});
        let paths: Vec<String> = validate_feature_spec(&bad, "f")
            .unwrap_err()
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(
            paths,
            [
                "spec.evaluationStrategy",
                "spec.variations[1].name",
                "spec.variations[1].value",
                "spec.defaultVariation"
            ]
        );
    }

    #[test]
    fn a_segment_pattern_must_be_a_json_object() {
        let ok = json!({"pattern": "{\"Country\": [\"FR\"]}"});
        assert_eq!(validate_segment_spec(&ok, "fr").unwrap().name, "fr");
        let bad = json!({"pattern": "[1]"});
        assert_eq!(
            validate_segment_spec(&bad, "fr").unwrap_err()[0].path,
            "spec.pattern"
        );
    }

    #[test]
    fn a_project_spec_is_checked_against_create_project() {
        let ok = json!({"description": "shop", "dataDelivery": {"s3Destination": {"bucket": "my-bucket"}}});
        assert_eq!(validate_project_spec(&ok, "shop").unwrap().name, "shop");
        let bad = json!({"dataDelivery": {"s3Destination": {"bucket": "My-Bucket"}}, "colour": 1});
        let paths: Vec<String> = validate_project_spec(&bad, "shop")
            .unwrap_err()
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(
            paths,
            ["spec.colour", "spec.dataDelivery.s3Destination.bucket"]
        );
        assert_eq!(
            validate_project_spec(&json!({}), &"x".repeat(128)).unwrap_err()[0].path,
            "metadata.name"
        );
    }
}
