//! The stored documents: each resource exactly as its Get operation returns it on the wire
//! (camelCase members, epoch-second timestamps, references as ARNs), minus the members that
//! are computed from other resources at read time (project counters, a feature's
//! `evaluationRules`, a segment's `launchCount`).
//!
//! Pure data; no storage, no HTTP, no rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules::{
    LaunchGroupConfig, LaunchStatus, MetricMonitorConfig, ScheduledSplitsLaunchConfig,
};

pub type Tags = BTreeMap<String, String>;

/// The `type` of every launch.
pub const LAUNCH_TYPE: &str = "aws.evidently.splits";

/// Now, in epoch seconds with millisecond precision, as timestamps travel on the wire.
pub fn now() -> f64 {
    k8s_openapi::jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub arn: String,
    pub name: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_time: f64,
    pub last_updated_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_delivery: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_config_resource: Option<Value>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variation {
    pub name: String,
    /// The `VariableValue` union: an object with exactly one member.
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feature {
    pub arn: String,
    pub name: String,
    /// The project ARN.
    pub project: String,
    pub status: String,
    pub created_time: f64,
    pub last_updated_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub evaluation_strategy: String,
    pub value_type: String,
    pub variations: Vec<Variation>,
    pub default_variation: String,
    #[serde(default)]
    pub entity_overrides: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchExecution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_time: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// One entry: feature name → variation name.
    pub feature_variations: BTreeMap<String, String>,
}

impl LaunchGroup {
    pub fn from_config(g: &LaunchGroupConfig) -> LaunchGroup {
        LaunchGroup {
            name: g.name.clone(),
            description: g.description.clone(),
            feature_variations: BTreeMap::from([(g.feature.clone(), g.variation.clone())]),
        }
    }

    pub fn to_config(&self) -> LaunchGroupConfig {
        LaunchGroupConfig::from_feature_variations(
            &self.name,
            self.description.as_deref(),
            &self.feature_variations,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    pub arn: String,
    pub name: String,
    /// The project ARN.
    pub project: String,
    pub status: LaunchStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_time: f64,
    pub last_updated_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<LaunchExecution>,
    pub groups: Vec<LaunchGroup>,
    /// Same members as the response's `MetricMonitor`.
    pub metric_monitors: Vec<MetricMonitorConfig>,
    pub randomization_salt: String,
    #[serde(rename = "type")]
    pub launch_type: String,
    /// Same members as the response's `ScheduledSplitsLaunchDefinition`; segments as ARNs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_splits_definition: Option<ScheduledSplitsLaunchConfig>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub arn: String,
    pub name: String,
    pub pattern: String,
    pub created_time: f64,
    pub last_updated_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
}
