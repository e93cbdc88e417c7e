//! The `Segment` custom resource: spec mirrors Evidently's CreateSegment request. Evidently
//! cannot update a segment, so every member but the tags is immutable.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeletionPolicy;

/// The desired Evidently segment; members mirror the CreateSegment request.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "evidently.launch-operator.io",
    version = "v1alpha1",
    kind = "Segment",
    plural = "segments",
    namespaced,
    doc = "A CloudWatch Evidently audience segment: a pattern over the evaluation context that launches can give their own traffic split. The operator creates it in Evidently and reports its ARN and use in status.",
    status = "SegmentStatus",
    shortname = "evsegment",
    category = "evidently",
    printcolumn = r#"{"name":"Launches","type":"integer","jsonPath":".status.launchCount","description":"Launches that override traffic for the segment"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"Whether Evidently matches the spec"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".status.arn","priority":1,"description":"Evidently segment ARN"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SegmentSpec {
    /// Name of the segment in Evidently. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the segment. Immutable (Evidently has no UpdateSegment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The segment pattern, a JSON document in a string, e.g.
    /// `{"Country": ["FR", "DE"]}`. Immutable (Evidently has no UpdateSegment).
    pub pattern: String,
    /// Tags of the segment in Evidently. The operator adds its own ownership tag
    /// (`launch-operator.io/owner`), which is not listed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// What deleting this resource does in Evidently: `Delete` (default) deletes the segment
    /// once no launch uses it, `Retain` leaves it in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// What the operator observed in Evidently, and whether it matches the spec.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentStatus {
    /// ARN of the segment in Evidently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Launches that use the segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_count: Option<i64>,
    /// When Evidently created the segment (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When Evidently last updated the segment (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<String>,
    /// The `metadata.generation` that the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` says whether the segment exists in Evidently and matches the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
