//! CreateSegment, GetSegment, ListSegments, DeleteSegment.
//!
//! Segments live at account level (not in a project) and are named by name or ARN. A segment
//! that any launch references, running or not, cannot be deleted. `launchCount` counts those
//! launches; experiments are not emulated (`experimentCount` is 0). Pattern matching
//! (TestSegmentPattern, evaluation) is not emulated; a pattern only has to be a JSON object.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{PageRequest, Reply, check_quota, load, page, save, tag_violations, with_token};
use crate::emulator::{
    arn::Arns,
    error::{self, ApiError},
    resources::{Segment, Tags, now},
    store::{Key, Kind, Reader, StoreError, Tx},
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSegmentInput {
    pub name: String,
    pub pattern: String,
    pub description: Option<String>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentInput {
    pub segment: String,
}

fn view(r: &dyn Reader, segment: &Segment) -> Result<Value, ApiError> {
    let key = Key::new(Kind::Segment, "", &segment.name);
    let launches = r
        .referrers(&key)?
        .iter()
        .filter(|k| k.kind == Kind::Launch)
        .count();
    let mut v = serde_json::to_value(segment).map_err(StoreError::from)?;
    v["launchCount"] = launches.into();
    v["experimentCount"] = 0.into();
    Ok(v)
}

fn require_segment(r: &dyn Reader, arns: &Arns, reference: &str) -> Result<Segment, ApiError> {
    let name = arns.segment_name(reference)?;
    load(r, &Key::new(Kind::Segment, "", &name))?
        .ok_or_else(|| ApiError::not_found(Kind::Segment, arns.segment(&name)))
}

pub fn create(tx: &mut dyn Tx, arns: &Arns, input: CreateSegmentInput) -> Result<Reply, ApiError> {
    if !serde_json::from_str::<Value>(&input.pattern).is_ok_and(|p| p.is_object()) {
        return Err(ApiError::invalid_field(
            "pattern",
            "Member must be a JSON object (a segment rule pattern)",
            Some(input.pattern),
        ));
    }
    let tags = input.tags.unwrap_or_default();
    let violations = tag_violations(&tags, "tags");
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let key = Key::new(Kind::Segment, "", &input.name);
    let arn = arns.segment(&input.name);
    if tx.get(&key)?.is_some() {
        return Err(ApiError::conflict(
            Kind::Segment,
            &arn,
            format!("Segment with arn '{arn}' already exists."),
        ));
    }
    check_quota(
        tx.count(Kind::Segment, "", None)?,
        error::SEGMENTS,
        Kind::Segment,
        arn.clone(),
    )?;
    let t = now();
    let segment = Segment {
        arn,
        name: input.name,
        pattern: input.pattern,
        created_time: t,
        last_updated_time: t,
        description: input.description,
        tags,
    };
    save(tx, &key, None, &segment)?;
    Reply::json(&json!({"segment": view(tx, &segment)?}))
}

pub fn get(r: &dyn Reader, arns: &Arns, input: SegmentInput) -> Result<Reply, ApiError> {
    let segment = require_segment(r, arns, &input.segment)?;
    Reply::json(&json!({"segment": view(r, &segment)?}))
}

pub fn list(r: &dyn Reader, _arns: &Arns, input: PageRequest) -> Result<Reply, ApiError> {
    let (records, next) = page(r, Kind::Segment, "", None, &input, 50)?;
    let mut segments = Vec::with_capacity(records.len());
    for record in records {
        let segment: Segment = serde_json::from_str(&record.doc).map_err(StoreError::from)?;
        segments.push(view(r, &segment)?);
    }
    Reply::json(&with_token(json!({"segments": segments}), next))
}

pub fn delete(tx: &mut dyn Tx, arns: &Arns, input: SegmentInput) -> Result<Reply, ApiError> {
    let segment = require_segment(tx, arns, &input.segment)?;
    let key = Key::new(Kind::Segment, "", &segment.name);
    let users: Vec<String> = tx
        .referrers(&key)?
        .into_iter()
        .map(|k| format!("{}/{}", k.scope, k.name))
        .collect();
    if !users.is_empty() {
        return Err(ApiError::conflict(
            Kind::Segment,
            &segment.arn,
            format!("Segment is used by launch(es): {}.", users.join(", ")),
        ));
    }
    tx.delete(&key)?;
    Ok(Reply::empty())
}
