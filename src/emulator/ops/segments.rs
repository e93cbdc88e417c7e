//! CreateSegment, GetSegment, ListSegments, DeleteSegment, TestSegmentPattern,
//! ListSegmentReferences.
//!
//! Segments live at account level (not in a project) and are named by name or ARN. A segment
//! that any launch references, running or not, cannot be deleted. `launchCount` counts those
//! launches; experiments are not emulated (`experimentCount` is 0, and references of type
//! EXPERIMENT are always none). Patterns are compiled by `crate::pattern`: CreateSegment and
//! TestSegmentPattern refuse one that does not compile, naming the problem.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{PageRequest, Reply, check_quota, load, page, save, tag_violations, with_token};
use crate::{
    emulator::{
        arn::Arns,
        error::{self, ApiError},
        resources::{Launch, Segment, Tags, now},
        store::{Key, Kind, Reader, StoreError, Tx},
    },
    pattern::{Context, Pattern},
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestSegmentPatternInput {
    pub pattern: String,
    pub payload: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSegmentReferencesInput {
    pub segment: String,
    #[serde(rename = "type")]
    pub reference_type: String,
    #[serde(flatten)]
    pub page: PageRequest,
}

/// Compiles a pattern or answers a ValidationException on `field` naming the problem.
fn compile(pattern: &str, field: &str) -> Result<Pattern, ApiError> {
    Pattern::parse(pattern).map_err(|e| {
        ApiError::invalid_field(
            field,
            format!("Member must be a valid segment rule pattern: {e}"),
            Some(pattern.to_string()),
        )
    })
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
    compile(&input.pattern, "pattern")?;
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

/// TestSegmentPattern: whether `payload` (an evaluation context) is in the pattern's segment.
pub fn test_pattern(input: TestSegmentPatternInput) -> Result<Reply, ApiError> {
    let pattern = compile(&input.pattern, "pattern")?;
    let payload = Context::parse(&input.payload).map_err(|e| {
        ApiError::invalid_field(
            "payload",
            format!("Member must be an evaluation context: {e}"),
            Some(input.payload.clone()),
        )
    })?;
    Reply::json(&json!({"match": pattern.matches(&payload)}))
}

/// A launch as a `RefResource`. The model types its times as strings; they are the epoch
/// seconds of the launch's own timestamps, as text.
fn reference(launch: &Launch) -> Value {
    let mut v = json!({
        "name": launch.name,
        "type": "LAUNCH",
        "arn": launch.arn,
        "status": launch.status.as_str(),
        "lastUpdatedOn": launch.last_updated_time.to_string(),
    });
    if let Some(e) = &launch.execution {
        if let Some(t) = e.started_time {
            v["startTime"] = Value::String(t.to_string());
        }
        if let Some(t) = e.ended_time {
            v["endTime"] = Value::String(t.to_string());
        }
    }
    v
}

/// ListSegmentReferences: the launches (any status) whose steps use the segment, by project
/// and name; `type=EXPERIMENT` lists none (experiments are not emulated). Pages of
/// `maxResults` (default 50); the token is the base64 of the last `project/launch` returned.
pub fn references(
    r: &dyn Reader,
    arns: &Arns,
    input: ListSegmentReferencesInput,
) -> Result<Reply, ApiError> {
    let segment = require_segment(r, arns, &input.segment)?;
    if input.reference_type != "LAUNCH" {
        return Reply::json(&json!({"referencedBy": []}));
    }
    let size = input
        .page
        .max_results
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(50);
    let after = match &input.page.next_token {
        Some(token) => Some(
            aws_smithy_types::base64::decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "nextToken",
                        "Member must be a token returned by a previous call",
                        Some(token.clone()),
                    )
                })?,
        ),
        None => None,
    };
    let key = Key::new(Kind::Segment, "", &segment.name);
    let mut users: Vec<(String, Key)> = r
        .referrers(&key)?
        .into_iter()
        .filter(|k| k.kind == Kind::Launch)
        .map(|k| (format!("{}/{}", k.scope, k.name), k))
        .filter(|(id, _)| after.as_ref().is_none_or(|a| id > a))
        .collect();
    users.sort_by(|a, b| a.0.cmp(&b.0));
    let next = if users.len() > size {
        users.truncate(size);
        users
            .last()
            .map(|(id, _)| aws_smithy_types::base64::encode(id))
    } else {
        None
    };
    let mut referenced = Vec::with_capacity(users.len());
    for (_, k) in &users {
        if let Some(launch) = load::<Launch>(r, k)? {
            referenced.push(reference(&launch));
        }
    }
    Reply::json(&with_token(json!({"referencedBy": referenced}), next))
}
