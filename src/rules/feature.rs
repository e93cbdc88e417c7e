//! Feature requests as plain structs and the rules on a feature's variation set that the API
//! model cannot state: unique names, one value type, a default and entity overrides that name
//! variations. The emulator and the controller both check features with these functions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Violation;

/// A variation: a name and a `VariableValue` (an object with exactly one member set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariationConfig {
    pub name: String,
    pub value: Value,
}

/// CreateFeature's input: the `{project}` label plus the body members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeatureInput {
    pub project: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub variations: Vec<VariationConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_variation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_overrides: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// The `VariableValue` members and the `valueType` each stands for.
pub const VALUE_MEMBERS: [(&str, &str); 4] = [
    ("boolValue", "BOOLEAN"),
    ("stringValue", "STRING"),
    ("longValue", "LONG"),
    ("doubleValue", "DOUBLE"),
];

/// The member a `VariableValue` sets and its `valueType`.
pub fn value_type(value: &Value) -> Option<(&'static str, &'static str)> {
    let object = value.as_object()?;
    VALUE_MEMBERS
        .into_iter()
        .find(|(member, _)| object.get(*member).is_some_and(|v| !v.is_null()))
}

/// Checks a feature's variation set; returns its value type. `variations_path` and
/// `default_path` name the members in violations.
pub fn check_variations<'a>(
    variations: impl IntoIterator<Item = (&'a str, &'a Value)>,
    variations_path: &str,
    default: &str,
    default_path: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<&'static str, Vec<Violation>> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    let mut first_type: Option<(&str, &str)> = None;
    for (i, (name, value)) in variations.into_iter().enumerate() {
        if !names.insert(name) {
            out.push(Violation::with_value(
                &format!("{variations_path}[{i}].name"),
                "variation names must be unique within a feature",
                Some(name.to_string()),
            ));
        }
        if let Some((member, ty)) = value_type(value) {
            match first_type {
                None => first_type = Some((member, ty)),
                Some((first, _)) if first != member => out.push(Violation::new(
                    &format!("{variations_path}[{i}].value"),
                    format!("all variations of a feature must set the same value member ({first})"),
                )),
                Some(_) => {}
            }
        }
    }
    if !names.contains(default) {
        out.push(Violation::with_value(
            default_path,
            "the default variation must be one of the feature's variations",
            Some(default.to_string()),
        ));
    }
    for (entity, variation) in overrides {
        if !names.contains(variation.as_str()) {
            out.push(Violation::with_value(
                &format!("entityOverrides[{entity}]"),
                "entity overrides must name one of the feature's variations",
                Some(variation.clone()),
            ));
        }
    }
    match first_type {
        Some((_, ty)) if out.is_empty() => Ok(ty),
        _ if out.is_empty() => Err(vec![Violation::new(
            variations_path,
            "a feature needs at least one variation",
        )]),
        _ => Err(out),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_consistent_set_gives_its_value_type() {
        let a = json!({"stringValue": "x"});
        let b = json!({"stringValue": "y"});
        let ty = check_variations(
            [("a", &a), ("b", &b)],
            "variations",
            "b",
            "d",
            &BTreeMap::new(),
        );
        assert_eq!(ty, Ok("STRING"));
    }

    #[test]
    fn every_broken_rule_is_named() {
        let a = json!({"stringValue": "x"});
        let b = json!({"longValue": 1});
        let overrides = BTreeMap::from([("user-1".to_string(), "zzz".to_string())]);
        let err = check_variations(
            [("a", &a), ("a", &b)],
            "spec.variations",
            "missing",
            "spec.defaultVariation",
            &overrides,
        )
        .unwrap_err();
        let paths: Vec<&str> = err.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.variations[1].name",
                "spec.variations[1].value",
                "spec.defaultVariation",
                "entityOverrides[user-1]"
            ]
        );
    }
}
