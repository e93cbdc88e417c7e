//! TagResource, UntagResource, ListTagsForResource, on the ARN of any project, feature, launch
//! or segment.
//!
//! Tags live inside each resource's document (Get operations return them); TagResource upserts
//! keys, UntagResource ignores keys that are not there. The 50-tag limit applies to the result.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Reply, tag_violations};
use crate::emulator::{
    arn::Arns,
    error::ApiError,
    resources::Tags,
    store::{Key, Kind, Reader, StoreError, Tx},
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    pub resource_arn: String,
    pub tags: Tags,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    pub resource_arn: String,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInput {
    pub resource_arn: String,
}

/// The resource's document and its current tags.
fn load_doc(r: &dyn Reader, arns: &Arns, arn: &str) -> Result<(Key, Value, Tags), ApiError> {
    let key = arns.resource(arn)?;
    let doc = r
        .get(&key)?
        .ok_or_else(|| ApiError::not_found(key.kind, arn))?;
    let doc: Value = serde_json::from_str(&doc).map_err(StoreError::from)?;
    let tags: Tags = serde_json::from_value(doc.get("tags").cloned().unwrap_or(json!({})))
        .map_err(StoreError::from)?;
    Ok((key, doc, tags))
}

fn store_tags(tx: &mut dyn Tx, key: &Key, mut doc: Value, tags: Tags) -> Result<(), ApiError> {
    doc["tags"] = serde_json::to_value(tags).map_err(StoreError::from)?;
    // The status column only matters for launches (ListLaunches filters on it).
    let status = match key.kind {
        Kind::Launch => doc
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };
    tx.put(key, status.as_deref(), &doc.to_string())?;
    Ok(())
}

pub fn tag(tx: &mut dyn Tx, arns: &Arns, input: TagResourceInput) -> Result<Reply, ApiError> {
    let (key, doc, mut tags) = load_doc(tx, arns, &input.resource_arn)?;
    tags.extend(input.tags);
    let violations = tag_violations(&tags, "tags");
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    store_tags(tx, &key, doc, tags)?;
    Ok(Reply::empty())
}

pub fn untag(tx: &mut dyn Tx, arns: &Arns, input: UntagResourceInput) -> Result<Reply, ApiError> {
    let (key, doc, mut tags) = load_doc(tx, arns, &input.resource_arn)?;
    for k in &input.tag_keys {
        tags.remove(k);
    }
    store_tags(tx, &key, doc, tags)?;
    Ok(Reply::empty())
}

pub fn list(r: &dyn Reader, arns: &Arns, input: ResourceInput) -> Result<Reply, ApiError> {
    let (_, _, tags) = load_doc(r, arns, &input.resource_arn)?;
    Reply::json(&json!({"tags": tags}))
}
