//! The `Feature` custom resource: spec mirrors Evidently's CreateFeature request.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeletionPolicy;

/// The desired Evidently feature; members mirror the CreateFeature request.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "evidently.launch-operator.io",
    version = "v1alpha1",
    kind = "Feature",
    plural = "features",
    namespaced,
    doc = "A CloudWatch Evidently feature: the variations an application can be served, its default, and per-entity overrides. The operator creates it in Evidently, keeps it in step with the spec, and reports its ARN, value type and evaluation rules in status.",
    status = "FeatureStatus",
    shortname = "evfeature",
    category = "evidently",
    printcolumn = r#"{"name":"Project","type":"string","jsonPath":".spec.project","description":"Evidently project"}"#,
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".status.valueType","description":"Value type of the variations"}"#,
    printcolumn = r#"{"name":"Default","type":"string","jsonPath":".status.defaultVariation","description":"Variation served when no rule applies"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"Whether Evidently matches the spec"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".status.arn","priority":1,"description":"Evidently feature ARN"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSpec {
    /// Name or ARN of the Evidently project that holds the feature. Immutable.
    pub project: String,
    /// Name of the feature in Evidently. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The variations: names unique, values all of one type.
    pub variations: Vec<VariationSpec>,
    /// The variation served when no rule applies. Defaults (in Evidently) to the first
    /// variation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_variation: Option<String>,
    /// Variations served to given entity ids, whatever the launches say: entity id to
    /// variation name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_overrides: Option<BTreeMap<String, String>>,
    /// `ALL_RULES` (default: overrides and launches apply) or `DEFAULT_VARIATION` (everyone gets
    /// the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_strategy: Option<String>,
    /// Tags of the feature in Evidently. The operator adds its own ownership tag
    /// (`launch-operator.io/owner`), which is not listed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// What deleting this resource does in Evidently: `Delete` (default) deletes the feature
    /// once no launch uses it, `Retain` leaves it in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// One variation of a feature.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariationSpec {
    /// Variation name, unique within the feature.
    pub name: String,
    /// The value served: exactly one of `boolValue`, `doubleValue`, `longValue`, `stringValue`.
    pub value: VariableValueSpec,
}

/// A typed value: exactly one member is set.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariableValueSpec {
    /// A boolean value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bool_value: Option<bool>,
    /// A floating-point value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_value: Option<f64>,
    /// An integer value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_value: Option<i64>,
    /// A string value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
}

/// What the operator observed in Evidently, and whether it matches the spec.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureStatus {
    /// ARN of the feature in Evidently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Evidently's status of the feature: AVAILABLE or UPDATING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Value type of the variations: STRING, LONG, DOUBLE or BOOLEAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// The variation Evidently serves when no rule applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_variation: Option<String>,
    /// The launches and experiments that decide this feature's evaluations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluation_rules: Vec<EvaluationRuleStatus>,
    /// When Evidently created the feature (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When Evidently last updated the feature (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<String>,
    /// The `metadata.generation` that the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` says whether the feature exists in Evidently and matches the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A launch or experiment that decides some of a feature's evaluations.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationRuleStatus {
    /// Name of the launch or experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `aws.evidently.splits` (a launch) or `aws.evidently.onlineab` (an experiment).
    #[serde(rename = "type")]
    pub type_: String,
}
