//! The `Launch` custom resource: spec mirrors Evidently's CreateLaunch request member for
//! member (same camelCase names and shapes); the additions are `deletionPolicy`,
//! `executionStatus` (CloudFormation's `ExecutionStatus`), and RFC 3339 strings for `startTime`
//! where the wire uses epoch seconds.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeletionPolicy;

/// The desired Evidently launch; members mirror the CreateLaunch request.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "evidently.launch-operator.io",
    version = "v1alpha1",
    kind = "Launch",
    plural = "launches",
    namespaced,
    doc = "A CloudWatch Evidently launch: a gradual roll-out of feature variations over scheduled traffic splits. The operator creates it in Evidently, keeps it in step with the spec, and reports its ARN and Evidently status in status.",
    status = "LaunchStatus",
    shortname = "evlaunch",
    category = "evidently",
    printcolumn = r#"{"name":"Project","type":"string","jsonPath":".spec.project","description":"Evidently project"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status","description":"Evidently launch status"}"#,
    printcolumn = r#"{"name":"Step","type":"integer","jsonPath":".status.activeStep","description":"Scheduled step serving traffic now (1 is the first)"}"#,
    printcolumn = r#"{"name":"Next-Step","type":"string","jsonPath":".status.nextStepTime","description":"When the next scheduled step starts"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"Whether Evidently matches the spec"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".status.arn","priority":1,"description":"Evidently launch ARN"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSpec {
    /// Name or ARN of the Evidently project that holds the launch. The project must exist.
    /// Immutable.
    pub project: String,
    /// Name of the launch in Evidently. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The launch groups: each serves one variation of one feature. Group names are unique and
    /// are the keys of the step weights.
    pub groups: Vec<LaunchGroupSpec>,
    /// Metrics that Evidently monitors during the launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_monitors: Option<Vec<MetricMonitorSpec>>,
    /// Salt that Evidently combines with the entity ID to assign it to a group. Defaults (in
    /// Evidently) to the launch name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randomization_salt: Option<String>,
    /// The scheduled traffic splits of the launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_splits_config: Option<ScheduledSplitsConfigSpec>,
    /// Tags of the launch in Evidently. The operator adds its own ownership tag
    /// (`launch-operator.io/owner`), which is not listed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Whether the operator starts or stops the launch (CloudFormation's `ExecutionStatus`).
    /// Absent: the operator never starts or stops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_status: Option<ExecutionStatusSpec>,
    /// What deleting this resource does in Evidently: `Delete` (default) deletes the launch,
    /// `Retain` leaves it in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Whether the launch should run: the semantics of CloudFormation's
/// `AWS::Evidently::Launch` `ExecutionStatus`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatusSpec {
    /// `START` runs the launch (StartLaunch, once, from CREATED); `STOP` ends it (StopLaunch,
    /// when it is running). An ended launch cannot run again.
    pub status: ExecutionAction,
    /// The state a stopped launch ends in: `COMPLETED` (default) or `CANCELLED`. Only with `STOP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_state: Option<StopState>,
    /// Why the launch is stopped; Evidently keeps it as the status reason. Only with `STOP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Run or end a launch.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionAction {
    /// Start the launch.
    Start,
    /// Stop the launch.
    Stop,
}

/// The state a stopped launch ends in.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopState {
    /// The launch completed.
    #[default]
    Completed,
    /// The launch was cancelled.
    Cancelled,
}

impl StopState {
    pub fn as_str(self) -> &'static str {
        match self {
            StopState::Completed => "COMPLETED",
            StopState::Cancelled => "CANCELLED",
        }
    }
}

/// A launch group: the variation of a feature that its share of traffic is served.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LaunchGroupSpec {
    /// Group name, unique within the launch; the key of this group in step weights.
    pub name: String,
    /// Description of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Name of the feature (in the launch's project) that this group serves.
    pub feature: String,
    /// Name of the feature variation that this group serves.
    pub variation: String,
}

/// A metric that Evidently monitors during the launch.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricMonitorSpec {
    /// How the metric is computed from events.
    pub metric_definition: MetricDefinitionSpec,
}

/// How a monitored metric is computed from the project's events.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricDefinitionSpec {
    /// Metric name (no white space).
    pub name: String,
    /// JSON path of the entity ID in an event, e.g. `userDetails.userID`.
    pub entity_id_key: String,
    /// JSON path of the tracked value in an event, e.g. `details.loadTime`.
    pub value_key: String,
    /// EventBridge event pattern that selects the events, as a JSON document in a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Label of the metric's unit, e.g. `ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_label: Option<String>,
}

/// The steps of the launch's traffic schedule.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSplitsConfigSpec {
    /// The steps; each applies from its `startTime` until the next step's.
    pub steps: Vec<ScheduledSplitStepSpec>,
}

/// One step of the traffic schedule.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSplitStepSpec {
    /// When the step starts, as an RFC 3339 timestamp (e.g. `2026-12-01T09:00:00Z`). Evidently
    /// keeps whole seconds.
    pub start_time: String,
    /// Traffic share of each group during this step, keyed by group name, in thousandths of a
    /// percent (50000 = 50%). Traffic not allocated is not part of the launch.
    pub group_weights: BTreeMap<String, i64>,
    /// Different splits for audience segments, evaluated by ascending `evaluationOrder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_overrides: Option<Vec<SegmentOverrideSpec>>,
}

/// A traffic split for the users in one audience segment.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentOverrideSpec {
    /// Name or ARN of the Evidently segment.
    pub segment: String,
    /// Order in which overrides are evaluated; lower first.
    pub evaluation_order: i64,
    /// Traffic share of each group for this segment, keyed by group name, in thousandths of a
    /// percent.
    pub weights: BTreeMap<String, i64>,
}

/// What the operator observed in Evidently, and whether it matches the spec.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LaunchStatus {
    /// ARN of the launch in Evidently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Evidently's status of the launch: CREATED, UPDATING, RUNNING, COMPLETED or CANCELLED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Evidently's reason for the status (e.g. the reason given when it was stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When Evidently created the launch (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When Evidently last updated the launch (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<String>,
    /// When the launch started and ended running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<LaunchExecutionStatus>,
    /// The scheduled step that serves traffic now (1 is the first step), while the launch runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_step: Option<i64>,
    /// When the next scheduled step starts (RFC 3339), while the launch runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step_time: Option<String>,
    /// The `metadata.generation` that the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` says whether the launch exists in Evidently and matches the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Start and end of the launch's execution in Evidently.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LaunchExecutionStatus {
    /// When the launch started running (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<String>,
    /// When the launch stopped (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_time: Option<String>,
}

impl Launch {
    /// The launch's name in Evidently: `spec.name`, else `metadata.name`.
    pub fn launch_name(&self) -> String {
        self.spec
            .name
            .clone()
            .or_else(|| self.metadata.name.clone())
            .unwrap_or_default()
    }
}
