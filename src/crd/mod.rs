//! The custom resources of `evidently.launch-operator.io/v1alpha1`: `Project`, `Feature`,
//! `Segment` and `Launch`, one module each, and what they share: the identifiers the controller
//! puts on objects (finalizer, ownership tag, adopt annotation, field manager), the deletion
//! policy, and the status fields every kind carries.
//!
//! Each spec mirrors its Evidently Create request member for member. The constraints are not
//! written here: `schema.rs` copies them from the rules module into the generated CRDs, and
//! `spec.rs` checks a spec with the same rules.

pub mod feature;
pub mod launch;
pub mod project;
pub mod schema;
pub mod segment;
pub mod spec;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use feature::{Feature, FeatureSpec, FeatureStatus};
pub use launch::{
    ExecutionAction, ExecutionStatusSpec, Launch, LaunchExecutionStatus, LaunchSpec, LaunchStatus,
    StopState,
};
pub use project::{Project, ProjectSpec, ProjectStatus};
pub use schema::{all_crds_yaml, crd_of};
pub use segment::{Segment, SegmentSpec, SegmentStatus};
pub use spec::validate_spec;

/// API group of the resources.
pub const GROUP: &str = "evidently.launch-operator.io";
/// API version of the resources, as written in manifests.
pub const API_VERSION: &str = "evidently.launch-operator.io/v1alpha1";
/// Condition type that says whether Evidently matches the spec.
pub const READY: &str = "Ready";
/// Finalizer that keeps a resource until its Evidently counterpart is deleted (or retained).
pub const FINALIZER: &str = "evidently.launch-operator.io/cleanup";
/// Tag the operator puts on everything it creates in Evidently: `<namespace>/<name>` of the
/// resource (compared only with resources of the same Evidently type).
pub const OWNER_TAG: &str = "launch-operator.io/owner";
/// Annotation that allows adopting an existing Evidently resource not created by this one.
pub const ADOPT_ANNOTATION: &str = "evidently.launch-operator.io/adopt";
/// Prefix of the annotations the controller reads.
pub const OWN_ANNOTATIONS: &str = "evidently.launch-operator.io/";
/// Field manager of the controller's writes.
pub const FIELD_MANAGER: &str = "launch-operator";

/// What deleting a resource does to its Evidently counterpart.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete it in Evidently (a running launch is stopped first).
    #[default]
    Delete,
    /// Leave it in Evidently.
    Retain,
}

/// The status fields that every kind has and the generic reconcile pass writes.
pub trait CommonStatus {
    fn arn(&self) -> Option<&str>;
    fn conditions(&self) -> &[Condition];
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn set_observed_generation(&mut self, generation: Option<i64>);
}

macro_rules! common_status {
    ($($status:ty),*) => {$(
        impl CommonStatus for $status {
            fn arn(&self) -> Option<&str> {
                self.arn.as_deref()
            }
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
        }
    )*};
}

common_status!(LaunchStatus, ProjectStatus, FeatureStatus, SegmentStatus);

/// The `Ready` condition of a status, if any.
pub fn ready_condition<S: CommonStatus>(status: &S) -> Option<&Condition> {
    status.conditions().iter().find(|c| c.type_ == READY)
}
