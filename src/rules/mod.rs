//! The Evidently constraints, in one place.
//!
//! * `model.rs` is generated from the API model (see `tests/api_model.rs`): every length,
//!   pattern, range, size, enum and required member of every operation input.
//! * `walk.rs` checks a JSON request against that table, with AWS's messages.
//! * `arn.rs` splits an Evidently ARN into its account prefix and its resource.
//! * `launch.rs` adds the cross-field rules of launches (weights keyed by group names, unique
//!   group names, event patterns that are JSON, the tag limit) and the typed request structs;
//!   `feature.rs`, `project.rs` and `segment.rs` do the same for the other kinds.
//!
//! The CRD schema (`crate::crd::schema`), the controller, the `validate` command and the
//! emulator all call these functions; none of them restates a rule. This module knows nothing
//! about Kubernetes or HTTP.

pub mod arn;
pub mod feature;
pub mod launch;
#[rustfmt::skip]
pub mod model;
pub mod project;
pub mod segment;
pub mod shape;
pub mod walk;

pub use launch::{
    CreateLaunchInput, LaunchGroupConfig, LaunchStatus, MetricDefinitionConfig,
    MetricMonitorConfig, ScheduledSplitConfig, ScheduledSplitsLaunchConfig, SegmentOverride,
    UpdateLaunchInput,
};
pub use walk::{matches_pattern, members, shape, validate_shape, validate_typed};

/// One broken rule: where, and what the rule says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path, e.g. `scheduledSplitsConfig.steps[0].groupWeights[control]`.
    pub path: String,
    /// The rule, in AWS's wording where AWS has one.
    pub message: String,
    /// The offending value, when there is one to show.
    pub value: Option<String>,
}

impl Violation {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        Violation {
            path: path.to_string(),
            message: message.into(),
            value: None,
        }
    }

    pub fn with_value(path: &str, message: impl Into<String>, value: Option<String>) -> Self {
        Violation {
            path: path.to_string(),
            message: message.into(),
            value,
        }
    }

    /// The same violation under a parent path (e.g. `spec`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = if self.path.is_empty() {
            prefix.to_string()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(v) = &self.value {
            let shown: String = v.chars().take(80).collect();
            let ellipsis = if v.chars().count() > 80 { "..." } else { "" };
            write!(f, " (got {shown:?}{ellipsis})")?;
        }
        Ok(())
    }
}

/// AWS's summary line for a ValidationException: `N validation error(s) detected: ...`.
pub fn summary(violations: &[Violation]) -> String {
    let details: Vec<String> = violations
        .iter()
        .map(|v| match &v.value {
            Some(value) => format!(
                "Value '{value}' at '{}' failed to satisfy constraint: {}",
                v.path, v.message
            ),
            None => format!(
                "Value at '{}' failed to satisfy constraint: {}",
                v.path, v.message
            ),
        })
        .collect();
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    format!("{n} validation {noun} detected: {}", details.join("; "))
}
