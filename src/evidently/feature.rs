//! Features between our plain structs and `aws-sdk-evidently`, and the feature calls.

use std::collections::BTreeMap;

use aws_sdk_evidently::types as sdk;
use serde_json::{Value, json};

use super::{Evidently, EvidentlyError};
use crate::rules::feature::{CreateFeatureInput, VariationConfig};

/// A feature as Evidently reports it, in plain types.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedFeature {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub description: Option<String>,
    pub created_time: i64,
    pub last_updated_time: i64,
    pub evaluation_strategy: String,
    pub value_type: String,
    /// Variations with their value in the wire's JSON form (`{"boolValue": true}`).
    pub variations: Vec<VariationConfig>,
    pub default_variation: Option<String>,
    pub entity_overrides: BTreeMap<String, String>,
    /// `(name, type)` of each evaluation rule.
    pub evaluation_rules: Vec<(Option<String>, String)>,
    pub tags: BTreeMap<String, String>,
}

/// A `VariableValue` in the wire's JSON form.
pub fn value_json(v: Option<&sdk::VariableValue>) -> Value {
    match v {
        Some(sdk::VariableValue::BoolValue(b)) => json!({"boolValue": b}),
        Some(sdk::VariableValue::DoubleValue(d)) => json!({"doubleValue": d}),
        Some(sdk::VariableValue::LongValue(l)) => json!({"longValue": l}),
        Some(sdk::VariableValue::StringValue(s)) => json!({"stringValue": s}),
        _ => Value::Null,
    }
}

/// The SDK's `VariableValue` of the wire's JSON form; `None` for a value that is not one.
pub fn value_sdk(v: &Value) -> Option<sdk::VariableValue> {
    if let Some(b) = v.get("boolValue").and_then(Value::as_bool) {
        Some(sdk::VariableValue::BoolValue(b))
    } else if let Some(l) = v.get("longValue").and_then(Value::as_i64) {
        Some(sdk::VariableValue::LongValue(l))
    } else if let Some(d) = v.get("doubleValue").and_then(Value::as_f64) {
        Some(sdk::VariableValue::DoubleValue(d))
    } else {
        v.get("stringValue")
            .and_then(Value::as_str)
            .map(|s| sdk::VariableValue::StringValue(s.to_string()))
    }
}

impl ObservedFeature {
    pub fn from_sdk(f: &sdk::Feature) -> Self {
        ObservedFeature {
            arn: f.arn.clone(),
            name: f.name.clone(),
            status: f.status.as_str().to_string(),
            description: f.description.clone(),
            created_time: f.created_time.secs(),
            last_updated_time: f.last_updated_time.secs(),
            evaluation_strategy: f.evaluation_strategy.as_str().to_string(),
            value_type: f.value_type.as_str().to_string(),
            variations: f
                .variations
                .iter()
                .map(|v| VariationConfig {
                    name: v.name.clone().unwrap_or_default(),
                    value: value_json(v.value.as_ref()),
                })
                .collect(),
            default_variation: f.default_variation.clone(),
            entity_overrides: f
                .entity_overrides
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            evaluation_rules: f
                .evaluation_rules
                .iter()
                .flatten()
                .map(|r| (r.name.clone(), r.r#type.clone()))
                .collect(),
            tags: f.tags.clone().unwrap_or_default().into_iter().collect(),
        }
    }
}

fn variations_sdk(variations: &[VariationConfig]) -> Result<Vec<sdk::VariationConfig>, String> {
    variations
        .iter()
        .map(|v| {
            sdk::VariationConfig::builder()
                .name(&v.name)
                .set_value(value_sdk(&v.value))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn returned(f: Option<&sdk::Feature>, operation: &str) -> Result<ObservedFeature, EvidentlyError> {
    f.map(ObservedFeature::from_sdk)
        .ok_or_else(|| EvidentlyError::Unavailable(format!("{operation} returned no feature")))
}

/// What one UpdateFeature changes; `None` members are left as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureUpdate {
    pub description: Option<String>,
    pub add_or_update_variations: Vec<VariationConfig>,
    pub remove_variations: Vec<String>,
    pub default_variation: Option<String>,
    pub entity_overrides: Option<BTreeMap<String, String>>,
    pub evaluation_strategy: Option<String>,
}

impl Evidently {
    pub async fn create_feature(
        &self,
        input: &CreateFeatureInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedFeature, EvidentlyError> {
        self.counted("CreateFeature", async {
            let variations = variations_sdk(&input.variations).map_err(EvidentlyError::Rejected)?;
            let out = self
                .client
                .create_feature()
                .project(&input.project)
                .name(&input.name)
                .set_description(input.description.clone())
                .set_variations(Some(variations))
                .set_default_variation(input.default_variation.clone())
                .set_entity_overrides(
                    input
                        .entity_overrides
                        .clone()
                        .map(|m| m.into_iter().collect()),
                )
                .set_evaluation_strategy(
                    input
                        .evaluation_strategy
                        .as_deref()
                        .map(sdk::FeatureEvaluationStrategy::from),
                )
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.feature(), "CreateFeature")
        })
        .await
    }

    pub async fn get_feature(
        &self,
        project: &str,
        name: &str,
    ) -> Result<ObservedFeature, EvidentlyError> {
        self.counted("GetFeature", async {
            let out = self
                .client
                .get_feature()
                .project(project)
                .feature(name)
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.feature(), "GetFeature")
        })
        .await
    }

    pub async fn update_feature(
        &self,
        project: &str,
        name: &str,
        update: &FeatureUpdate,
    ) -> Result<ObservedFeature, EvidentlyError> {
        self.counted("UpdateFeature", async {
            let add = variations_sdk(&update.add_or_update_variations)
                .map_err(EvidentlyError::Rejected)?;
            let out = self
                .client
                .update_feature()
                .project(project)
                .feature(name)
                .set_description(update.description.clone())
                .set_add_or_update_variations((!add.is_empty()).then_some(add))
                .set_remove_variations(
                    (!update.remove_variations.is_empty())
                        .then(|| update.remove_variations.clone()),
                )
                .set_default_variation(update.default_variation.clone())
                .set_entity_overrides(
                    update
                        .entity_overrides
                        .clone()
                        .map(|m| m.into_iter().collect()),
                )
                .set_evaluation_strategy(
                    update
                        .evaluation_strategy
                        .as_deref()
                        .map(sdk::FeatureEvaluationStrategy::from),
                )
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.feature(), "UpdateFeature")
        })
        .await
    }

    pub async fn delete_feature(&self, project: &str, name: &str) -> Result<(), EvidentlyError> {
        self.counted("DeleteFeature", async {
            self.client
                .delete_feature()
                .project(project)
                .feature(name)
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }
}
