//! `Feature`: CreateFeature, GetFeature, one UpdateFeature computed from the diff
//! (`addOrUpdateVariations`, `removeVariations`, `defaultVariation`, `entityOverrides`,
//! `evaluationStrategy`, `description`), and DeleteFeature (refused by Evidently while a launch
//! uses the feature).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Locator, Managed, blank};
use crate::{
    crd::{
        Feature, FeatureSpec, FeatureStatus, feature::EvaluationRuleStatus,
        spec::validate_feature_spec,
    },
    evidently::{Evidently, EvidentlyError, FeatureUpdate, ObservedFeature},
    rules::{Violation, feature::CreateFeatureInput},
    time::rfc3339,
};

/// The default variation a spec stands for: its own, else the first variation (as Evidently
/// picks).
fn default_of(d: &CreateFeatureInput) -> String {
    d.default_variation
        .clone()
        .or_else(|| d.variations.first().map(|v| v.name.clone()))
        .unwrap_or_default()
}

fn strategy_of(d: &CreateFeatureInput) -> &str {
    d.evaluation_strategy.as_deref().unwrap_or("ALL_RULES")
}

fn variations(v: &[crate::rules::feature::VariationConfig]) -> BTreeMap<&str, &Value> {
    v.iter().map(|v| (v.name.as_str(), &v.value)).collect()
}

/// The one UpdateFeature that brings `o` to `d`.
pub fn update_of(d: &CreateFeatureInput, o: &ObservedFeature) -> FeatureUpdate {
    let want = variations(&d.variations);
    let have = variations(&o.variations);
    let default = default_of(d);
    let overrides = d.entity_overrides.clone().unwrap_or_default();
    let variations_changed = want != have;
    FeatureUpdate {
        description: (blank(&d.description) != blank(&o.description))
            .then(|| blank(&d.description).to_string()),
        add_or_update_variations: d
            .variations
            .iter()
            .filter(|v| have.get(v.name.as_str()) != Some(&&v.value))
            .cloned()
            .collect(),
        remove_variations: o
            .variations
            .iter()
            .filter(|v| !want.contains_key(v.name.as_str()))
            .map(|v| v.name.clone())
            .collect(),
        // Sent with any change of the variations too: removing the old default needs the new
        // one in the same call.
        default_variation: (variations_changed
            || o.default_variation.as_deref() != Some(default.as_str()))
        .then_some(default),
        entity_overrides: (overrides != o.entity_overrides).then_some(overrides),
        evaluation_strategy: (strategy_of(d) != o.evaluation_strategy)
            .then(|| strategy_of(d).to_string()),
    }
}

impl Managed for Feature {
    type Spec = FeatureSpec;
    type Status = FeatureStatus;
    type Desired = CreateFeatureInput;
    type Observed = ObservedFeature;

    const KIND: &'static str = "Feature";
    const NOUN: &'static str = "feature";
    const NEEDS: &'static [&'static str] = &["Project"];
    const HELD_BY: &'static [&'static str] = &["Launch"];

    fn references(spec: &FeatureSpec) -> Vec<(&'static str, String)> {
        vec![("Project", super::project_name(&spec.project).to_string())]
    }

    super::plain_accessors!(Feature, FeatureSpec, FeatureStatus, project = project);

    fn validate(spec: &Value, metadata_name: &str) -> Result<CreateFeatureInput, Vec<Violation>> {
        validate_feature_spec(spec, metadata_name)
    }
    fn located(d: &CreateFeatureInput) -> Locator {
        Locator {
            project: Some(d.project.clone()),
            name: d.name.clone(),
        }
    }
    fn user_tags(d: &CreateFeatureInput) -> BTreeMap<String, String> {
        d.tags.clone().unwrap_or_default()
    }

    async fn read(ev: &Evidently, at: &Locator) -> Result<ObservedFeature, EvidentlyError> {
        ev.get_feature(at.project.as_deref().unwrap_or_default(), &at.name)
            .await
    }
    async fn create(
        ev: &Evidently,
        d: &CreateFeatureInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedFeature, EvidentlyError> {
        ev.create_feature(d, tags).await
    }
    fn compare(d: &CreateFeatureInput, o: &ObservedFeature) -> Vec<&'static str> {
        let u = update_of(d, o);
        let mut changed = Vec::new();
        if u.description.is_some() {
            changed.push("description");
        }
        if !u.add_or_update_variations.is_empty() || !u.remove_variations.is_empty() {
            changed.push("variations");
        }
        if o.default_variation.as_deref() != Some(default_of(d).as_str()) {
            changed.push("defaultVariation");
        }
        if u.entity_overrides.is_some() {
            changed.push("entityOverrides");
        }
        if u.evaluation_strategy.is_some() {
            changed.push("evaluationStrategy");
        }
        changed
    }
    async fn update(
        ev: &Evidently,
        d: &CreateFeatureInput,
        o: &ObservedFeature,
        _changed: &[&'static str],
    ) -> Result<ObservedFeature, EvidentlyError> {
        let mut observed = ev
            .update_feature(&d.project, &d.name, &update_of(d, o))
            .await?;
        observed.tags = o.tags.clone();
        Ok(observed)
    }
    async fn delete(
        ev: &Evidently,
        at: &Locator,
        _o: &ObservedFeature,
    ) -> Result<(), EvidentlyError> {
        ev.delete_feature(at.project.as_deref().unwrap_or_default(), &at.name)
            .await
    }

    fn arn(o: &ObservedFeature) -> &str {
        &o.arn
    }
    fn tags(o: &ObservedFeature) -> &BTreeMap<String, String> {
        &o.tags
    }
    fn tags_mut(o: &mut ObservedFeature) -> &mut BTreeMap<String, String> {
        &mut o.tags
    }
    fn ready_message(o: &ObservedFeature) -> String {
        format!("feature is {} in Evidently and matches the spec", o.status)
    }
    fn observe(status: &mut FeatureStatus, o: &ObservedFeature, _d: Option<&CreateFeatureInput>) {
        status.arn = Some(o.arn.clone());
        status.status = Some(o.status.clone());
        status.value_type = Some(o.value_type.clone());
        status.default_variation = o.default_variation.clone();
        status.evaluation_rules = o
            .evaluation_rules
            .iter()
            .map(|(name, type_)| EvaluationRuleStatus {
                name: name.clone(),
                type_: type_.clone(),
            })
            .collect();
        status.created_time = rfc3339(o.created_time);
        status.last_updated_time = rfc3339(o.last_updated_time);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rules::feature::VariationConfig;

    fn v(name: &str, value: Value) -> VariationConfig {
        VariationConfig {
            name: name.into(),
            value,
        }
    }

    fn observed() -> ObservedFeature {
        ObservedFeature {
            arn: "arn".into(),
            name: "f".into(),
            status: "AVAILABLE".into(),
            description: None,
            created_time: 0,
            last_updated_time: 0,
            evaluation_strategy: "ALL_RULES".into(),
            value_type: "STRING".into(),
            variations: vec![
                v("a", json!({"stringValue": "1"})),
                v("b", json!({"stringValue": "2"})),
            ],
            default_variation: Some("a".into()),
            entity_overrides: BTreeMap::new(),
            evaluation_rules: vec![],
            tags: BTreeMap::new(),
        }
    }

    fn desired(variations: Vec<VariationConfig>) -> CreateFeatureInput {
        CreateFeatureInput {
            project: "p".into(),
            name: "f".into(),
            description: None,
            variations,
            default_variation: None,
            entity_overrides: None,
            evaluation_strategy: None,
            tags: None,
        }
    }

    #[test]
    fn an_unchanged_feature_needs_no_update() {
        let d = desired(observed().variations);
        assert!(Feature::compare(&d, &observed()).is_empty());
        assert_eq!(update_of(&d, &observed()), FeatureUpdate::default());
    }

    #[test]
    fn the_update_adds_changes_and_removes_variations_in_one_call() {
        let d = desired(vec![
            v("b", json!({"stringValue": "two"})),
            v("c", json!({"stringValue": "3"})),
        ]);
        let u = update_of(&d, &observed());
        assert_eq!(
            u.add_or_update_variations,
            vec![
                v("b", json!({"stringValue": "two"})),
                v("c", json!({"stringValue": "3"}))
            ]
        );
        assert_eq!(u.remove_variations, vec!["a".to_string()]);
        // The old default goes away: the new one (the first variation) comes in the same call.
        assert_eq!(u.default_variation.as_deref(), Some("b"));
        assert_eq!(
            Feature::compare(&d, &observed()),
            vec!["variations", "defaultVariation"]
        );
    }
}
