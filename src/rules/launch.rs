//! Launch requests as plain structs (the CreateLaunch / UpdateLaunch wire bodies) and the
//! cross-field rules that the API model cannot state.
//!
//! Deliberately not stricter than the service: segment-override weights may sum past 100000,
//! `evaluationOrder` values need not be contiguous or unique, steps need not be sorted, and a
//! `startTime` in the past is accepted (real Evidently accepted all of these).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Violation, walk::validate_typed};

/// The documented per-resource tag limit ("up to 50 tags"); the model's TagMap has no size trait.
pub const MAX_TAGS: usize = 50;

/// A launch's status in Evidently (the model's `LaunchStatus`), as the emulator keeps it and
/// the controller reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchStatus {
    Created,
    Updating,
    Running,
    Completed,
    Cancelled,
}

impl LaunchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchStatus::Created => "CREATED",
            LaunchStatus::Updating => "UPDATING",
            LaunchStatus::Running => "RUNNING",
            LaunchStatus::Completed => "COMPLETED",
            LaunchStatus::Cancelled => "CANCELLED",
        }
    }

    /// Stopped for good: COMPLETED or CANCELLED.
    pub fn is_terminal(self) -> bool {
        matches!(self, LaunchStatus::Completed | LaunchStatus::Cancelled)
    }
}

impl std::fmt::Display for LaunchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group of a launch: one variation of one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchGroupConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub feature: String,
    pub variation: String,
}

impl LaunchGroupConfig {
    /// A group as Evidently answers with it: `featureVariations`, a map that holds the one
    /// feature of the group and its variation (empty names if it is empty).
    pub fn from_feature_variations<'a>(
        name: &str,
        description: Option<&str>,
        feature_variations: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> LaunchGroupConfig {
        let (feature, variation) = feature_variations
            .into_iter()
            .next()
            .map(|(f, v)| (f.clone(), v.clone()))
            .unwrap_or_default();
        LaunchGroupConfig {
            name: name.to_string(),
            description: description.map(str::to_string),
            feature,
            variation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricMonitorConfig {
    pub metric_definition: MetricDefinitionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricDefinitionConfig {
    pub name: String,
    pub entity_id_key: String,
    pub value_key: String,
    /// An EventBridge event pattern, as a JSON document in a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSplitsLaunchConfig {
    pub steps: Vec<ScheduledSplitConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSplitConfig {
    /// Epoch seconds, possibly fractional, as on the wire.
    pub start_time: f64,
    pub group_weights: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_overrides: Option<Vec<SegmentOverride>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentOverride {
    /// Segment name or ARN.
    pub segment: String,
    pub evaluation_order: i64,
    pub weights: BTreeMap<String, i64>,
}

/// CreateLaunch's input: the `{project}` label plus the body members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLaunchInput {
    pub project: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub groups: Vec<LaunchGroupConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_monitors: Option<Vec<MetricMonitorConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randomization_salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_splits_config: Option<ScheduledSplitsLaunchConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// UpdateLaunch's input: the `{project}` and `{launch}` labels plus the body members; an absent
/// member is left unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateLaunchInput {
    pub project: String,
    pub launch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<LaunchGroupConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_monitors: Option<Vec<MetricMonitorConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randomization_salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_splits_config: Option<ScheduledSplitsLaunchConfig>,
}

/// Adds the path labels to a JSON body (taken, not copied), so the whole input can be walked
/// as one structure.
fn with_labels(body: Value, labels: &[(&str, &str)]) -> Result<Value, Vec<Violation>> {
    let mut object = match body {
        Value::Object(o) => o,
        Value::Null => serde_json::Map::new(),
        _ => {
            return Err(vec![Violation::new(
                "",
                "request body must be a JSON object",
            )]);
        }
    };
    for (k, v) in labels {
        object.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    Ok(Value::Object(object))
}

/// Validates a CreateLaunch request (label + JSON body) completely: model constraints, then the
/// cross-field rules.
pub fn validate_create_launch(
    project: &str,
    body: Value,
) -> Result<CreateLaunchInput, Vec<Violation>> {
    let input = with_labels(body, &[("project", project)])?;
    validate_typed(
        "CreateLaunchRequest",
        input,
        |launch: &CreateLaunchInput| {
            check_launch(
                &launch.groups,
                launch.metric_monitors.as_deref().unwrap_or_default(),
                launch.scheduled_splits_config.as_ref(),
                launch.tags.as_ref(),
            )
        },
    )
}

/// Validates an UpdateLaunch request against the model and against the cross-field rules that
/// can be checked without the stored launch. Weight keys are checked against the groups of the
/// request when it has them; with `groups` absent the caller must check them against the stored
/// groups with [`check_launch`].
pub fn validate_update_launch(
    project: &str,
    launch: &str,
    body: Value,
) -> Result<UpdateLaunchInput, Vec<Violation>> {
    let input = with_labels(body, &[("project", project), ("launch", launch)])?;
    validate_typed(
        "UpdateLaunchRequest",
        input,
        |update: &UpdateLaunchInput| {
            let monitors = update.metric_monitors.as_deref().unwrap_or_default();
            match &update.groups {
                Some(groups) => check_launch(
                    groups,
                    monitors,
                    update.scheduled_splits_config.as_ref(),
                    None,
                ),
                None => check_launch_monitors(monitors),
            }
        },
    )
}

/// The cross-field rules of a launch definition. Paths are relative to the request (no `spec.`).
pub fn check_launch(
    groups: &[LaunchGroupConfig],
    monitors: &[MetricMonitorConfig],
    splits: Option<&ScheduledSplitsLaunchConfig>,
    tags: Option<&BTreeMap<String, String>>,
) -> Vec<Violation> {
    let mut out = Vec::new();

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        if let Some(first) = seen.insert(&g.name, i) {
            // Keep the first index for the message, report the later duplicate.
            seen.insert(&g.name, first);
            out.push(Violation::with_value(
                &format!("groups[{i}].name"),
                format!(
                    "group names must be unique within a launch; groups[{first}] has the same name"
                ),
                Some(g.name.clone()),
            ));
        }
    }
    let names: BTreeSet<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    let known = names.iter().copied().collect::<Vec<_>>().join(", ");

    if let Some(splits) = splits {
        for (s, step) in splits.steps.iter().enumerate() {
            let step_path = format!("scheduledSplitsConfig.steps[{s}]");
            for key in step.group_weights.keys() {
                if !names.contains(key.as_str()) {
                    out.push(Violation::new(
                        &format!("{step_path}.groupWeights[{key}]"),
                        format!("weight keys must be names of this launch's groups ({known})"),
                    ));
                }
            }
            for (o, over) in step.segment_overrides.iter().flatten().enumerate() {
                for key in over.weights.keys() {
                    if !names.contains(key.as_str()) {
                        out.push(Violation::new(
                            &format!("{step_path}.segmentOverrides[{o}].weights[{key}]"),
                            format!("weight keys must be names of this launch's groups ({known})"),
                        ));
                    }
                }
            }
        }
    }

    out.extend(check_launch_monitors(monitors));

    if let Some(tags) = tags
        && tags.len() > MAX_TAGS
    {
        out.push(Violation::new(
            "tags",
            format!(
                "a resource can have at most {MAX_TAGS} tags, got {}",
                tags.len()
            ),
        ));
    }
    out
}

fn check_launch_monitors(monitors: &[MetricMonitorConfig]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, m) in monitors.iter().enumerate() {
        if let Some(pattern) = &m.metric_definition.event_pattern
            && let Err(e) = serde_json::from_str::<Value>(pattern)
        {
            out.push(Violation::with_value(
                &format!("metricMonitors[{i}].metricDefinition.eventPattern"),
                format!("must be a JSON document: {e}"),
                Some(pattern.clone()),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body() -> Value {
        json!({
            "name": "l",
            "groups": [
                {"name": "a", "feature": "f", "variation": "v1"},
                {"name": "b", "feature": "f", "variation": "v2"}
            ],
            "scheduledSplitsConfig": {"steps": [{
                "startTime": 1_800_000_000.5,
                "groupWeights": {"a": 50000, "b": 50000},
                "segmentOverrides": [{"segment": "s", "evaluationOrder": 7, "weights": {"b": 100000}}]
            }]}
        })
    }

    fn paths(result: Result<CreateLaunchInput, Vec<Violation>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    fn a_valid_request_becomes_typed_input() {
        let input = validate_create_launch("shop", body()).unwrap();
        assert_eq!(input.project, "shop");
        assert_eq!(input.groups.len(), 2);
        assert_eq!(
            input.scheduled_splits_config.unwrap().steps[0].start_time,
            1_800_000_000.5
        );
    }

    #[test]
    fn group_names_must_be_unique() {
        let mut b = body();
        b["groups"][1]["name"] = json!("a");
        b["scheduledSplitsConfig"]["steps"][0]["groupWeights"] = json!({"a": 1});
        b["scheduledSplitsConfig"]["steps"][0]["segmentOverrides"] = json!([]);
        assert_eq!(
            paths(validate_create_launch("p", b.clone())),
            vec!["groups[1].name"]
        );
    }

    #[test]
    fn group_weight_keys_must_be_group_names() {
        let mut b = body();
        b["scheduledSplitsConfig"]["steps"][0]["groupWeights"]["c"] = json!(0);
        assert_eq!(
            paths(validate_create_launch("p", b.clone())),
            vec!["scheduledSplitsConfig.steps[0].groupWeights[c]"]
        );
    }

    #[test]
    fn segment_override_weight_keys_must_be_group_names() {
        let mut b = body();
        b["scheduledSplitsConfig"]["steps"][0]["segmentOverrides"][0]["weights"]["z"] = json!(0);
        assert_eq!(
            paths(validate_create_launch("p", b.clone())),
            vec!["scheduledSplitsConfig.steps[0].segmentOverrides[0].weights[z]"]
        );
    }

    #[test]
    fn override_weights_may_sum_past_100000_and_orders_need_not_be_contiguous() {
        // Real Evidently accepted both; the emulator must not be stricter.
        let mut b = body();
        let step = &mut b["scheduledSplitsConfig"]["steps"][0];
        step["segmentOverrides"] = json!([
            {"segment": "s1", "evaluationOrder": 10, "weights": {"a": 60000, "b": 70000}},
            {"segment": "s2", "evaluationOrder": 3, "weights": {"a": 1}}
        ]);
        assert!(validate_create_launch("p", b.clone()).is_ok());
    }

    #[test]
    fn event_pattern_must_be_a_json_document() {
        let mut b = body();
        b["metricMonitors"] = json!([{"metricDefinition": {
            "name": "m", "entityIdKey": "e", "valueKey": "v", "eventPattern": "{not json"
        }}]);
        assert_eq!(
            paths(validate_create_launch("p", b.clone())),
            vec!["metricMonitors[0].metricDefinition.eventPattern"]
        );
        b["metricMonitors"][0]["metricDefinition"]["eventPattern"] = json!("{\"a\":[1]}");
        assert!(validate_create_launch("p", b.clone()).is_ok());
    }

    #[test]
    fn at_most_50_tags() {
        let mut b = body();
        let tags: serde_json::Map<String, Value> = (0..MAX_TAGS)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect();
        b["tags"] = Value::Object(tags.clone());
        assert!(validate_create_launch("p", b.clone()).is_ok());
        let mut more = tags;
        more.insert("one-more".into(), json!("v"));
        b["tags"] = Value::Object(more);
        assert_eq!(paths(validate_create_launch("p", b.clone())), vec!["tags"]);
    }

    #[test]
    fn update_without_groups_skips_weight_keys_until_merged_with_the_stored_launch() {
        let b = json!({"scheduledSplitsConfig": {"steps": [{"startTime": 1, "groupWeights": {"zz": 1}}]}});
        let update = validate_update_launch("p", "l", b).unwrap();
        let stored = vec![LaunchGroupConfig {
            name: "a".into(),
            description: None,
            feature: "f".into(),
            variation: "v".into(),
        }];
        let found = check_launch(&stored, &[], update.scheduled_splits_config.as_ref(), None);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].path,
            "scheduledSplitsConfig.steps[0].groupWeights[zz]"
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_rejected() {
        assert_eq!(paths(validate_create_launch("p", json!([1, 2]))), vec![""]);
    }

    #[test]
    fn aws_summary_counts_and_quotes_violations() {
        let v = vec![
            Violation::with_value(
                "groups",
                "Member must have length less than or equal to 5",
                Some("[6 items]".into()),
            ),
            Violation::new("name", "Member must not be null"),
        ];
        assert_eq!(
            crate::rules::summary(&v),
            "2 validation errors detected: Value '[6 items]' at 'groups' failed to satisfy constraint: \
             Member must have length less than or equal to 5; Value at 'name' failed to satisfy constraint: \
             Member must not be null"
        );
    }
}
