//! The operations: what each Evidently call does to the stored resources, given its input
//! already checked against the API model. One module per resource kind; each operation is a
//! plain function over a store snapshot (`&dyn Reader`) or transaction (`&mut dyn Tx`), so
//! every check it makes (existence, duplicates, quotas, references) is atomic with its write.
//!
//! Knows nothing about HTTP (see `super::http`) or SQL (see `super::store`). Model constraints
//! are never restated here: they come from `crate::rules`.

pub mod features;
pub mod launches;
pub mod projects;
pub mod segments;
pub mod tags;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{
    arn::Arns,
    error::{ApiError, Quota},
    resources::{Project, Tags},
    store::{Key, Kind, Reader, Record, StoreError, Tx},
};
use crate::rules::{self, Violation, launch::MAX_TAGS};

/// A successful response body: JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(pub String);

impl Reply {
    pub fn json<T: Serialize>(value: &T) -> Result<Reply, ApiError> {
        serde_json::to_string(value)
            .map(Reply)
            .map_err(|e| ApiError::Internal(StoreError::Document(e)))
    }

    /// The body of operations without output members.
    pub fn empty() -> Reply {
        Reply("{}".into())
    }
}

/// Reads a stored document into its type.
pub(crate) fn load<T: DeserializeOwned>(r: &dyn Reader, key: &Key) -> Result<Option<T>, ApiError> {
    match r.get(key)? {
        Some(doc) => Ok(Some(
            serde_json::from_str(&doc).map_err(StoreError::Document)?,
        )),
        None => Ok(None),
    }
}

/// Stores a document; returns its text.
pub(crate) fn save<T: Serialize>(
    tx: &mut dyn Tx,
    key: &Key,
    status: Option<&str>,
    doc: &T,
) -> Result<String, ApiError> {
    let text = serde_json::to_string(doc).map_err(StoreError::Document)?;
    tx.put(key, status, &text)?;
    Ok(text)
}

/// Stores a new document with its references (see [`Tx::insert`]); returns its text.
pub(crate) fn save_new<T: Serialize>(
    tx: &mut dyn Tx,
    key: &Key,
    status: Option<&str>,
    doc: &T,
    refs: &[Key],
) -> Result<String, ApiError> {
    let text = serde_json::to_string(doc).map_err(StoreError::Document)?;
    tx.insert(key, status, &text, refs)?;
    Ok(text)
}

/// ResourceNotFoundException unless the project exists (without decoding its document).
pub(crate) fn project_exists(r: &dyn Reader, arns: &Arns, project: &str) -> Result<(), ApiError> {
    match r.get(&Key::new(Kind::Project, "", project))? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(Kind::Project, arns.project(project))),
    }
}

/// The project, or ResourceNotFoundException.
pub(crate) fn require_project(
    r: &dyn Reader,
    arns: &Arns,
    project: &str,
) -> Result<Project, ApiError> {
    load(r, &Key::new(Kind::Project, "", project))?
        .ok_or_else(|| ApiError::not_found(Kind::Project, arns.project(project)))
}

/// ServiceQuotaExceededException when `count` has reached the quota.
pub(crate) fn check_quota(
    count: u64,
    quota: Quota,
    kind: Kind,
    id: String,
) -> Result<(), ApiError> {
    if count >= quota.limit {
        Err(ApiError::QuotaExceeded { quota, kind, id })
    } else {
        Ok(())
    }
}

/// The documented limit of 50 tags per resource (the model's TagMap has no size trait).
pub(crate) fn tag_violations(tags: &Tags, path: &str) -> Vec<Violation> {
    if tags.len() > MAX_TAGS {
        vec![Violation::new(
            path,
            format!(
                "a resource can have at most {MAX_TAGS} tags, got {}",
                tags.len()
            ),
        )]
    } else {
        Vec::new()
    }
}

/// Checks `input` against the operation's input shape and reads it into `T`.
pub fn typed<T: DeserializeOwned>(input_shape: &str, input: Value) -> Result<T, ApiError> {
    let violations = rules::validate_shape(input_shape, &input, "");
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    serde_json::from_value(input).map_err(|e| {
        ApiError::validation(
            super::error::ValidationReason::CannotParse,
            format!("The request cannot be read: {e}."),
        )
    })
}

/// Page parameters of the List operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageRequest {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

/// One page of documents, and the token of the next page (none on the last). A token is the
/// base64 of the last name returned, so tokens only ever grow and none is handed out twice.
pub(crate) fn page(
    r: &dyn Reader,
    kind: Kind,
    scope: &str,
    status: Option<&str>,
    request: &PageRequest,
    default_size: usize,
) -> Result<(Vec<Record>, Option<String>), ApiError> {
    let size = request
        .max_results
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(default_size);
    let after = match &request.next_token {
        Some(token) => Some(decode_token(token)?),
        None => None,
    };
    let mut records = r.list(kind, scope, after.as_deref(), status, size + 1)?;
    let next = if records.len() > size {
        records.truncate(size);
        records
            .last()
            .map(|last| aws_smithy_types::base64::encode(&last.name))
    } else {
        None
    };
    Ok((records, next))
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    aws_smithy_types::base64::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::invalid_field(
                "nextToken",
                "Member must be a token returned by a previous call",
                Some(token.to_string()),
            )
        })
}

/// Adds `"nextToken"` to a list response when there is a next page.
pub(crate) fn with_token(mut body: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        body["nextToken"] = Value::String(token);
    }
    body
}
