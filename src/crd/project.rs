//! The `Project` custom resource: spec mirrors Evidently's CreateProject request.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeletionPolicy;

/// The desired Evidently project; members mirror the CreateProject request.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "evidently.launch-operator.io",
    version = "v1alpha1",
    kind = "Project",
    plural = "projects",
    namespaced,
    doc = "A CloudWatch Evidently project: the container of features, segments' uses and launches. The operator creates it in Evidently, keeps it in step with the spec, and reports its ARN and counters in status.",
    status = "ProjectStatus",
    shortname = "evproject",
    category = "evidently",
    printcolumn = r#"{"name":"Features","type":"integer","jsonPath":".status.featureCount","description":"Features in the project"}"#,
    printcolumn = r#"{"name":"Launches","type":"integer","jsonPath":".status.launchCount","description":"Launches in the project"}"#,
    printcolumn = r#"{"name":"Running","type":"integer","jsonPath":".status.activeLaunchCount","description":"Launches running now"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"Whether Evidently matches the spec"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".status.arn","priority":1,"description":"Evidently project ARN"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSpec {
    /// Name of the project in Evidently. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where Evidently stores evaluation events: CloudWatch Logs or S3 (not both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_delivery: Option<DataDeliverySpec>,
    /// The AppConfig application and environment that the project's feature evaluations use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_config_resource: Option<AppConfigResourceSpec>,
    /// Tags of the project in Evidently. The operator adds its own ownership tag
    /// (`launch-operator.io/owner`), which is not listed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// What deleting this resource does in Evidently: `Delete` (default) deletes the project
    /// once nothing in it is left, `Retain` leaves it in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Where evaluation events go.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataDeliverySpec {
    /// A CloudWatch Logs log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs: Option<CloudWatchLogsSpec>,
    /// An S3 bucket and prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_destination: Option<S3DestinationSpec>,
}

/// A CloudWatch Logs destination.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchLogsSpec {
    /// Name of the log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
}

/// An S3 destination.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3DestinationSpec {
    /// Name of the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Prefix of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// An AppConfig application and environment.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppConfigResourceSpec {
    /// AppConfig application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// AppConfig environment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
}

/// What the operator observed in Evidently, and whether it matches the spec.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatus {
    /// ARN of the project in Evidently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Evidently's status of the project: AVAILABLE or UPDATING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Features in the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_count: Option<i64>,
    /// Launches in the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_count: Option<i64>,
    /// Launches of the project that are running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_launch_count: Option<i64>,
    /// When Evidently created the project (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When Evidently last updated the project (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<String>,
    /// The `metadata.generation` that the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` says whether the project exists in Evidently and matches the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
