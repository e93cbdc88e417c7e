//! CreateFeature, GetFeature, ListFeatures, UpdateFeature, DeleteFeature.
//!
//! A feature's variations all carry the same `VariableValue` member, which gives its
//! `valueType`. `evaluationRules` lists the launches that still serve the feature (CREATED or
//! RUNNING; a stopped launch stops being an evaluation rule). Not emulated: the transient
//! UPDATING status (an update is complete when it returns) and evaluation itself.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    PageRequest, Reply, check_quota, load, page, require_project, save, tag_violations, with_token,
};
use crate::{
    emulator::{
        arn::Arns,
        error::{self, ApiError},
        resources::{Feature, LAUNCH_TYPE, Launch, Tags, Variation, now},
        store::{Key, Kind, Reader, StoreError, Tx},
    },
    rules::{self, feature::value_type},
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeatureInput {
    pub project: String,
    pub name: String,
    pub evaluation_strategy: Option<String>,
    pub description: Option<String>,
    pub variations: Vec<Variation>,
    pub default_variation: Option<String>,
    pub tags: Option<Tags>,
    pub entity_overrides: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureInput {
    pub project: String,
    pub feature: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListFeaturesInput {
    pub project: String,
    #[serde(flatten)]
    pub page: PageRequest,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateFeatureInput {
    pub project: String,
    pub feature: String,
    pub evaluation_strategy: Option<String>,
    pub description: Option<String>,
    pub add_or_update_variations: Option<Vec<Variation>>,
    pub remove_variations: Option<Vec<String>>,
    pub default_variation: Option<String>,
    pub entity_overrides: Option<BTreeMap<String, String>>,
}

/// Keeps only the union member that is set (drops `null`s, `__type` and unknown keys).
fn normalise(mut v: Variation) -> Variation {
    if let Some((member, _)) = value_type(&v.value) {
        v.value = json!({member: v.value[member].clone()});
    }
    v
}

/// The rules on a feature's variation set that the model cannot state (`rules::feature`).
fn check_variations(
    variations: &[Variation],
    variations_path: &str,
    default: &str,
    default_path: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<&'static str, ApiError> {
    rules::feature::check_variations(
        variations.iter().map(|v| (v.name.as_str(), &v.value)),
        variations_path,
        default,
        default_path,
        overrides,
    )
    .map_err(ApiError::invalid)
}

/// The launches that use a feature, loaded.
fn launches_using(r: &dyn Reader, key: &Key) -> Result<Vec<Launch>, ApiError> {
    let mut out = Vec::new();
    for source in r.referrers(key)? {
        if source.kind == Kind::Launch
            && let Some(launch) = load::<Launch>(r, &source)?
        {
            out.push(launch);
        }
    }
    Ok(out)
}

fn view(
    r: &dyn Reader,
    project: &str,
    feature: &Feature,
    summary: bool,
) -> Result<Value, ApiError> {
    let key = Key::new(Kind::Feature, project, &feature.name);
    let rules: Vec<Value> = launches_using(r, &key)?
        .into_iter()
        .filter(|l| !l.status.is_terminal())
        .map(|l| json!({"name": l.name, "type": LAUNCH_TYPE}))
        .collect();
    let mut v = serde_json::to_value(feature).map_err(StoreError::from)?;
    v["evaluationRules"] = Value::Array(rules);
    if summary && let Some(o) = v.as_object_mut() {
        for member in ["description", "valueType", "variations", "entityOverrides"] {
            o.remove(member);
        }
    }
    Ok(v)
}

fn require_feature(
    r: &dyn Reader,
    arns: &Arns,
    project: &str,
    feature: &str,
) -> Result<Feature, ApiError> {
    require_project(r, arns, project)?;
    load(r, &Key::new(Kind::Feature, project, feature))?
        .ok_or_else(|| ApiError::not_found(Kind::Feature, arns.feature(project, feature)))
}

pub fn create(tx: &mut dyn Tx, arns: &Arns, input: CreateFeatureInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let variations: Vec<Variation> = input.variations.into_iter().map(normalise).collect();
    let default = input
        .default_variation
        .clone()
        .or_else(|| variations.first().map(|v| v.name.clone()))
        .unwrap_or_default();
    let overrides = input.entity_overrides.unwrap_or_default();
    let value_type = check_variations(
        &variations,
        "variations",
        &default,
        "defaultVariation",
        &overrides,
    )?;
    let tags = input.tags.unwrap_or_default();
    let violations = tag_violations(&tags, "tags");
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }

    require_project(tx, arns, &project)?;
    let key = Key::new(Kind::Feature, &project, &input.name);
    let arn = arns.feature(&project, &input.name);
    if tx.get(&key)?.is_some() {
        return Err(ApiError::conflict(
            Kind::Feature,
            &arn,
            format!("Feature with arn '{arn}' already exists."),
        ));
    }
    check_quota(
        tx.count(Kind::Feature, &project, None)?,
        error::FEATURES,
        Kind::Feature,
        arn.clone(),
    )?;
    let t = now();
    let feature = Feature {
        arn,
        name: input.name,
        project: arns.project(&project),
        status: "AVAILABLE".into(),
        created_time: t,
        last_updated_time: t,
        description: input.description,
        evaluation_strategy: input
            .evaluation_strategy
            .unwrap_or_else(|| "ALL_RULES".into()),
        value_type: value_type.into(),
        variations,
        default_variation: default,
        entity_overrides: overrides,
        tags,
    };
    save(tx, &key, None, &feature)?;
    Reply::json(&json!({"feature": view(tx, &project, &feature, false)?}))
}

pub fn get(r: &dyn Reader, arns: &Arns, input: FeatureInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let feature = require_feature(r, arns, &project, &input.feature)?;
    Reply::json(&json!({"feature": view(r, &project, &feature, false)?}))
}

pub fn list(r: &dyn Reader, arns: &Arns, input: ListFeaturesInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    require_project(r, arns, &project)?;
    let (records, next) = page(r, Kind::Feature, &project, None, &input.page, 100)?;
    let mut features = Vec::with_capacity(records.len());
    for record in records {
        let feature: Feature = serde_json::from_str(&record.doc).map_err(StoreError::from)?;
        features.push(view(r, &project, &feature, true)?);
    }
    Reply::json(&with_token(json!({"features": features}), next))
}

pub fn update(tx: &mut dyn Tx, arns: &Arns, input: UpdateFeatureInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let mut feature = require_feature(tx, arns, &project, &input.feature)?;
    let key = Key::new(Kind::Feature, &project, &feature.name);

    let mut variations = feature.variations.clone();
    if let Some(remove) = &input.remove_variations {
        // A variation still served by a launch cannot go away.
        for launch in launches_using(tx, &key)?
            .into_iter()
            .filter(|l| !l.status.is_terminal())
        {
            for group in &launch.groups {
                if let Some(v) = group.feature_variations.get(&feature.name)
                    && remove.contains(v)
                {
                    return Err(ApiError::conflict(
                        Kind::Feature,
                        &feature.arn,
                        format!("Variation '{v}' is used by launch '{}'.", launch.name),
                    ));
                }
            }
        }
        variations.retain(|v| !remove.contains(&v.name));
    }
    for new in input
        .add_or_update_variations
        .into_iter()
        .flatten()
        .map(normalise)
    {
        match variations.iter_mut().find(|v| v.name == new.name) {
            Some(existing) => *existing = new,
            None => variations.push(new),
        }
    }
    // The resulting set obeys the same model limits as CreateFeature's `variations`.
    let as_json = serde_json::to_value(&variations).map_err(StoreError::from)?;
    let violations = rules::validate_shape("VariationConfigsList", &as_json, "variations");
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let default = input
        .default_variation
        .clone()
        .unwrap_or_else(|| feature.default_variation.clone());
    let overrides = input
        .entity_overrides
        .clone()
        .unwrap_or_else(|| feature.entity_overrides.clone());
    let default_path = if input.default_variation.is_some() {
        "defaultVariation"
    } else {
        "removeVariations"
    };
    let value_type = check_variations(
        &variations,
        "variations",
        &default,
        default_path,
        &overrides,
    )?;

    if let Some(s) = input.evaluation_strategy {
        feature.evaluation_strategy = s;
    }
    if let Some(d) = input.description {
        feature.description = Some(d);
    }
    feature.variations = variations;
    feature.value_type = value_type.into();
    feature.default_variation = default;
    feature.entity_overrides = overrides;
    feature.last_updated_time = now();
    save(tx, &key, None, &feature)?;
    Reply::json(&json!({"feature": view(tx, &project, &feature, false)?}))
}

pub fn delete(tx: &mut dyn Tx, arns: &Arns, input: FeatureInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let feature = require_feature(tx, arns, &project, &input.feature)?;
    let key = Key::new(Kind::Feature, &project, &feature.name);
    let users: Vec<String> = tx
        .referrers(&key)?
        .into_iter()
        .filter(|k| k.kind == Kind::Launch)
        .map(|k| k.name)
        .collect();
    if !users.is_empty() {
        return Err(ApiError::conflict(
            Kind::Feature,
            &feature.arn,
            format!("Feature is used by launch(es): {}.", users.join(", ")),
        ));
    }
    tx.delete(&key)?;
    Ok(Reply::empty())
}
