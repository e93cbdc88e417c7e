//! CreateSegment's input as a plain struct, and the rule the model cannot state: the pattern
//! is a JSON object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Violation;

/// CreateSegment's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSegmentInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The pattern, a JSON document in a string.
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// The pattern must be a JSON object (the emulator checks its rules further).
pub fn check_pattern(pattern: &str, path: &str) -> Vec<Violation> {
    match serde_json::from_str::<serde_json::Value>(pattern) {
        Ok(serde_json::Value::Object(_)) => vec![],
        Ok(_) => vec![Violation::new(
            path,
            "the segment pattern must be a JSON object",
        )],
        Err(e) => vec![Violation::new(
            path,
            format!("the segment pattern must be a JSON object: {e}"),
        )],
    }
}
