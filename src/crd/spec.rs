//! Checking a `Launch` spec with the rules module, the way the controller and
//! `launch-operator validate` do before anything reaches Evidently.
//!
//! Works on the spec as JSON, so it reports precise paths even for manifests that do not
//! deserialize into [`super::LaunchSpec`] (wrong types, unknown fields).

use chrono::DateTime;
use serde_json::Value;

use super::schema::{MAX_SPEC_TAGS, SPEC_SHAPE};
use crate::rules::{self, CreateLaunchInput, Violation, launch::validate_create_launch};

/// Spec fields that are not CreateLaunch members.
pub const OPERATOR_FIELDS: &[&str] = &["deletionPolicy"];

/// Validates a spec (as JSON) of a Launch named `metadata_name`, and returns the CreateLaunch
/// input it stands for. Violation paths start with `spec.` (or `metadata.name` when the launch
/// name defaults to it).
pub fn validate_spec(
    spec: &Value,
    metadata_name: &str,
) -> Result<CreateLaunchInput, Vec<Violation>> {
    let Some(object) = spec.as_object() else {
        return Err(vec![Violation::new("spec", "must be an object")]);
    };
    let mut body = object.clone();
    let mut violations = rules::walk::unknown_fields(SPEC_SHAPE, spec, "", OPERATOR_FIELDS);

    match body.remove("deletionPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if p == "Delete" || p == "Retain" => {}
        Some(other) => violations.push(Violation::with_value(
            "deletionPolicy",
            "must be one of: Delete, Retain",
            Some(match other {
                Value::String(s) => s,
                v => v.to_string(),
            }),
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

    // RFC 3339 in the manifest, epoch seconds on the wire.
    if let Some(steps) = body
        .get_mut("scheduledSplitsConfig")
        .and_then(|c| c.get_mut("steps"))
        .and_then(Value::as_array_mut)
    {
        for (i, step) in steps.iter_mut().enumerate() {
            let Some(start) = step.get_mut("startTime") else {
                continue;
            };
            match start.as_str().map(DateTime::parse_from_rfc3339) {
                Some(Ok(t)) => *start = Value::from(t.timestamp()),
                _ => {
                    violations.push(Violation::with_value(
                        &format!("scheduledSplitsConfig.steps[{i}].startTime"),
                        "must be an RFC 3339 timestamp, e.g. 2026-12-01T09:00:00Z",
                        Some(match &*start {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }),
                    ));
                    // Keep walking the rest of the spec with a placeholder.
                    *start = Value::from(0);
                }
            }
        }
    }

    let project = body.remove("project");
    let project_str = match &project {
        Some(Value::String(p)) => p.clone(),
        None | Some(Value::Null) => {
            violations.push(Violation::new("project", "Member must not be null"));
            String::new()
        }
        Some(other) => {
            violations.push(Violation::with_value(
                "project",
                "Member must be a string",
                Some(other.to_string()),
            ));
            String::new()
        }
    };

    let result = validate_create_launch(&project_str, Value::Object(body));
    match result {
        Ok(input) if violations.is_empty() => Ok(input),
        Ok(_) => Err(prefix(violations, name_defaulted)),
        Err(more) => {
            // The project checks above already reported a missing or mistyped project.
            let skip_project = project_str.is_empty();
            violations.extend(
                more.into_iter()
                    .filter(|v| !(skip_project && v.path == "project")),
            );
            Err(prefix(violations, name_defaulted))
        }
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
                        "{} (metadata.name is the launch name when spec.name is unset)",
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
}
