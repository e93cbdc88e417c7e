//! Launches between our plain structs and `aws-sdk-evidently`'s types, and the semantic
//! comparison of the desired launch with the one Evidently reports.
//!
//! Pure functions only: no client, no IO. "Semantic" means what Evidently normalises is not a
//! difference: a project or segment given by name matches its ARN, an unset salt matches the
//! launch name, timestamps match to the second, absent and empty lists/descriptions match.

use std::collections::BTreeMap;

use aws_sdk_evidently::types as sdk;
use aws_smithy_types::DateTime;

use crate::rules::{
    CreateLaunchInput, LaunchGroupConfig, LaunchStatus, MetricDefinitionConfig,
    MetricMonitorConfig, ScheduledSplitConfig, SegmentOverride,
};

/// A launch as Evidently reports it, in plain types.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedLaunch {
    pub arn: String,
    pub name: String,
    pub project: Option<String>,
    pub status: LaunchStatus,
    pub status_reason: Option<String>,
    pub description: Option<String>,
    /// Epoch seconds.
    pub created_time: i64,
    pub last_updated_time: i64,
    pub started_time: Option<i64>,
    pub ended_time: Option<i64>,
    pub groups: Vec<LaunchGroupConfig>,
    pub metric_monitors: Vec<MetricMonitorConfig>,
    pub randomization_salt: Option<String>,
    pub steps: Vec<ScheduledSplitConfig>,
    pub tags: BTreeMap<String, String>,
}

/// What must change in Evidently for it to match the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Mutable members that differ (for logs and events); non-empty means one UpdateLaunch.
    pub changed: Vec<&'static str>,
    /// Tags to add or overwrite.
    pub tags_to_set: BTreeMap<String, String>,
    /// Tag keys to remove.
    pub tags_to_remove: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.tags_to_set.is_empty() && self.tags_to_remove.is_empty()
    }
}

fn secs(t: &DateTime) -> i64 {
    t.secs()
}

/// The SDK's launch status as the shared enum. A status this SDK does not know (the final model
/// of the retired service has none) reads as UPDATING: not ended, and neither StartLaunch nor
/// StopLaunch is due, so the controller only looks again at the next pass.
fn launch_status(status: &sdk::LaunchStatus) -> LaunchStatus {
    match status {
        sdk::LaunchStatus::Created => LaunchStatus::Created,
        sdk::LaunchStatus::Running => LaunchStatus::Running,
        sdk::LaunchStatus::Completed => LaunchStatus::Completed,
        sdk::LaunchStatus::Cancelled => LaunchStatus::Cancelled,
        sdk::LaunchStatus::Updating => LaunchStatus::Updating,
        _ => LaunchStatus::Updating,
    }
}

/// The name part of a segment reference (`arn:...:segment/<name>` or `<name>`). Any region
/// and account: Evidently answers with ARNs of its own, and the spec names segments by name.
pub fn segment_name(reference: &str) -> &str {
    crate::rules::arn::split(reference)
        .and_then(|(_, resource)| resource.strip_prefix("segment/"))
        .unwrap_or(reference)
}

impl ObservedLaunch {
    pub fn from_sdk(l: &sdk::Launch) -> Self {
        let groups = l
            .groups()
            .iter()
            .map(|g| {
                LaunchGroupConfig::from_feature_variations(
                    g.name(),
                    g.description(),
                    g.feature_variations(),
                )
            })
            .collect();
        let metric_monitors = l
            .metric_monitors()
            .iter()
            .filter_map(|m| m.metric_definition())
            .map(|d| MetricMonitorConfig {
                metric_definition: MetricDefinitionConfig {
                    name: d.name().unwrap_or_default().to_string(),
                    entity_id_key: d.entity_id_key().unwrap_or_default().to_string(),
                    value_key: d.value_key().unwrap_or_default().to_string(),
                    event_pattern: d.event_pattern().map(str::to_string),
                    unit_label: d.unit_label().map(str::to_string),
                },
            })
            .collect();
        let steps = l
            .scheduled_splits_definition()
            .map(|d| d.steps())
            .unwrap_or_default()
            .iter()
            .map(|s| ScheduledSplitConfig {
                start_time: s.start_time().as_secs_f64(),
                group_weights: s
                    .group_weights()
                    .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                    .unwrap_or_default(),
                segment_overrides: Some(
                    s.segment_overrides()
                        .iter()
                        .map(|o| SegmentOverride {
                            segment: o.segment().to_string(),
                            evaluation_order: o.evaluation_order(),
                            weights: o.weights().iter().map(|(k, v)| (k.clone(), *v)).collect(),
                        })
                        .collect(),
                ),
            })
            .collect();
        ObservedLaunch {
            arn: l.arn().to_string(),
            name: l.name().to_string(),
            project: l.project().map(str::to_string),
            status: launch_status(l.status()),
            status_reason: l.status_reason().map(str::to_string),
            description: l.description().map(str::to_string),
            created_time: secs(l.created_time()),
            last_updated_time: secs(l.last_updated_time()),
            started_time: l.execution().and_then(|e| e.started_time()).map(secs),
            ended_time: l.execution().and_then(|e| e.ended_time()).map(secs),
            groups,
            metric_monitors,
            randomization_salt: l.randomization_salt().map(str::to_string),
            steps,
            tags: l
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }
}

/// SDK request pieces for the mutable members of a launch.
pub struct SdkLaunchConfig {
    pub groups: Vec<sdk::LaunchGroupConfig>,
    pub metric_monitors: Vec<sdk::MetricMonitorConfig>,
    pub splits: Option<sdk::ScheduledSplitsLaunchConfig>,
}

/// Builds the SDK types. The inputs were validated, so required members are present; a builder
/// error would be a bug and is returned as text rather than unwrapped.
pub fn to_sdk(input: &CreateLaunchInput) -> Result<SdkLaunchConfig, String> {
    let err = |e: aws_smithy_types::error::operation::BuildError| e.to_string();
    let groups = input
        .groups
        .iter()
        .map(|g| {
            sdk::LaunchGroupConfig::builder()
                .name(&g.name)
                .set_description(g.description.clone())
                .feature(&g.feature)
                .variation(&g.variation)
                .build()
                .map_err(err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metric_monitors = input
        .metric_monitors
        .iter()
        .flatten()
        .map(|m| {
            let d = &m.metric_definition;
            let def = sdk::MetricDefinitionConfig::builder()
                .name(&d.name)
                .entity_id_key(&d.entity_id_key)
                .value_key(&d.value_key)
                .set_event_pattern(d.event_pattern.clone())
                .set_unit_label(d.unit_label.clone())
                .build()
                .map_err(err)?;
            Ok(sdk::MetricMonitorConfig::builder()
                .metric_definition(def)
                .build())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let splits = match &input.scheduled_splits_config {
        None => None,
        Some(c) => {
            let steps = c
                .steps
                .iter()
                .map(|s| {
                    let overrides = s
                        .segment_overrides
                        .iter()
                        .flatten()
                        .map(|o| {
                            sdk::SegmentOverride::builder()
                                .segment(&o.segment)
                                .evaluation_order(o.evaluation_order)
                                .set_weights(Some(o.weights.clone().into_iter().collect()))
                                .build()
                                .map_err(err)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    sdk::ScheduledSplitConfig::builder()
                        .start_time(DateTime::from_secs(s.start_time.floor() as i64))
                        .set_group_weights(Some(s.group_weights.clone().into_iter().collect()))
                        .set_segment_overrides(Some(overrides))
                        .build()
                        .map_err(err)
                })
                .collect::<Result<Vec<_>, String>>()?;
            Some(
                sdk::ScheduledSplitsLaunchConfig::builder()
                    .set_steps(Some(steps))
                    .build()
                    .map_err(err)?,
            )
        }
    };
    Ok(SdkLaunchConfig {
        groups,
        metric_monitors,
        splits,
    })
}

fn blank(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

fn same_steps(desired: &[ScheduledSplitConfig], observed: &[ScheduledSplitConfig]) -> bool {
    desired.len() == observed.len()
        && desired.iter().zip(observed).all(|(d, o)| {
            let overrides =
                |s: &ScheduledSplitConfig| -> Vec<(String, i64, BTreeMap<String, i64>)> {
                    s.segment_overrides
                        .iter()
                        .flatten()
                        .map(|x| {
                            (
                                segment_name(&x.segment).to_string(),
                                x.evaluation_order,
                                x.weights.clone(),
                            )
                        })
                        .collect()
                };
            d.start_time.floor() as i64 == o.start_time.floor() as i64
                && d.group_weights == o.group_weights
                && overrides(d) == overrides(o)
        })
}

/// Compares the desired launch (validated spec, plus the operator's tags) with Evidently's.
pub fn diff(
    desired: &CreateLaunchInput,
    desired_tags: &BTreeMap<String, String>,
    observed: &ObservedLaunch,
) -> Drift {
    let mut changed = Vec::new();
    if blank(&desired.description) != blank(&observed.description) {
        changed.push("description");
    }
    let groups_equal = desired.groups.len() == observed.groups.len()
        && desired.groups.iter().zip(&observed.groups).all(|(d, o)| {
            d.name == o.name
                && blank(&d.description) == blank(&o.description)
                && d.feature == o.feature
                && d.variation == o.variation
        });
    if !groups_equal {
        changed.push("groups");
    }
    let monitors = |m: &[MetricMonitorConfig]| -> Vec<(String, String, String, String, String)> {
        m.iter()
            .map(|x| {
                let d = &x.metric_definition;
                (
                    d.name.clone(),
                    d.entity_id_key.clone(),
                    d.value_key.clone(),
                    blank(&d.event_pattern).to_string(),
                    blank(&d.unit_label).to_string(),
                )
            })
            .collect()
    };
    if monitors(desired.metric_monitors.as_deref().unwrap_or_default())
        != monitors(&observed.metric_monitors)
    {
        changed.push("metricMonitors");
    }
    let desired_salt = desired
        .randomization_salt
        .as_deref()
        .unwrap_or(&desired.name);
    let observed_salt = observed
        .randomization_salt
        .as_deref()
        .unwrap_or(&observed.name);
    if desired_salt != observed_salt {
        changed.push("randomizationSalt");
    }
    let desired_steps = desired
        .scheduled_splits_config
        .as_ref()
        .map(|c| c.steps.as_slice())
        .unwrap_or_default();
    if !same_steps(desired_steps, &observed.steps) {
        changed.push("scheduledSplitsConfig");
    }

    let tags_to_set = desired_tags
        .iter()
        .filter(|(k, v)| observed.tags.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let tags_to_remove = observed
        .tags
        .keys()
        .filter(|k| !desired_tags.contains_key(*k))
        .cloned()
        .collect();
    Drift {
        changed,
        tags_to_set,
        tags_to_remove,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rules::launch::validate_create_launch;

    fn desired() -> CreateLaunchInput {
        validate_create_launch(
            "shop",
            json!({
                "name": "l",
                "groups": [{"name": "a", "feature": "f", "variation": "v1"}, {"name": "b", "feature": "f", "variation": "v2"}],
                "scheduledSplitsConfig": {"steps": [{"startTime": 1800000000, "groupWeights": {"a": 1, "b": 2},
                    "segmentOverrides": [{"segment": "beta", "evaluationOrder": 1, "weights": {"b": 3}}]}]},
            }),
        )
        .unwrap()
    }

    /// What Evidently reports for `desired()`: ARNs, default salt, sub-second times, empty lists.
    fn observed() -> ObservedLaunch {
        ObservedLaunch {
            arn: "arn:aws:evidently:us-east-1:1:project/shop/launch/l".into(),
            name: "l".into(),
            project: Some("arn:aws:evidently:us-east-1:1:project/shop".into()),
            status: LaunchStatus::Created,
            status_reason: None,
            description: Some(String::new()),
            created_time: 1,
            last_updated_time: 1,
            started_time: None,
            ended_time: None,
            groups: desired().groups,
            metric_monitors: vec![],
            randomization_salt: None,
            steps: vec![ScheduledSplitConfig {
                start_time: 1800000000.4,
                group_weights: [("a".to_string(), 1), ("b".to_string(), 2)].into(),
                segment_overrides: Some(vec![SegmentOverride {
                    segment: "arn:aws:evidently:us-east-1:1:segment/beta".into(),
                    evaluation_order: 1,
                    weights: [("b".to_string(), 3)].into(),
                }]),
            }],
            tags: [("owner".to_string(), "x".to_string())].into(),
        }
    }

    fn owner() -> BTreeMap<String, String> {
        [("owner".to_string(), "x".to_string())].into()
    }

    #[test]
    fn what_evidently_normalises_is_not_drift() {
        assert_eq!(diff(&desired(), &owner(), &observed()), Drift::default());
    }

    #[test]
    fn an_explicit_salt_equal_to_the_name_is_not_drift() {
        let mut d = desired();
        d.randomization_salt = Some("l".into());
        assert!(diff(&d, &owner(), &observed()).is_empty());
    }

    #[test]
    fn changed_weights_group_and_salt_are_drift() {
        let mut o = observed();
        o.steps[0].group_weights.insert("a".into(), 5);
        o.groups[1].variation = "v3".into();
        o.randomization_salt = Some("other".into());
        assert_eq!(
            diff(&desired(), &owner(), &o).changed,
            vec!["groups", "randomizationSalt", "scheduledSplitsConfig"]
        );
    }

    #[test]
    fn a_start_time_moved_by_a_second_is_drift() {
        let mut o = observed();
        o.steps[0].start_time += 1.0;
        assert_eq!(
            diff(&desired(), &owner(), &o).changed,
            vec!["scheduledSplitsConfig"]
        );
    }

    #[test]
    fn tags_are_set_and_removed_to_match() {
        let mut o = observed();
        o.tags.insert("stray".into(), "1".into());
        let mut want = owner();
        want.insert("team".into(), "t".into());
        let d = diff(&desired(), &want, &o);
        assert!(d.changed.is_empty());
        assert_eq!(
            d.tags_to_set,
            [("team".to_string(), "t".to_string())].into()
        );
        assert_eq!(d.tags_to_remove, vec!["stray".to_string()]);
    }

    #[test]
    fn segment_names_are_taken_from_arns() {
        assert_eq!(segment_name("arn:aws:evidently:r:a:segment/beta"), "beta");
        assert_eq!(segment_name("beta"), "beta");
    }

    #[test]
    fn sdk_request_carries_every_member() {
        let c = to_sdk(&desired()).unwrap();
        assert_eq!(c.groups.len(), 2);
        let steps = c.splits.unwrap();
        assert_eq!(steps.steps()[0].start_time().secs(), 1800000000);
        assert_eq!(steps.steps()[0].segment_overrides()[0].segment(), "beta");
    }
}
