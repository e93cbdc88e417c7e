//! The four kinds the controller reconciles, each as an implementation of [`Managed`]: what the
//! generic pass in `crate::controller::reconcile` needs to know of a kind (its validation, its
//! Evidently calls, its semantic diff and its status). A kind is a file here, not a copy of the
//! pass.
//!
//! The shape follows ACK's resource manager (ReadOne, Create, Update, Delete, Compare) and
//! Crossplane's external client (Observe, Create, Update, Delete).

pub mod feature;
pub mod launch;
pub mod project;
pub mod segment;

use std::{collections::BTreeMap, fmt::Debug, future::Future, time::Duration};

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::Resource;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    crd::{CommonStatus, DeletionPolicy},
    evidently::{Evidently, EvidentlyError},
    rules::Violation,
};

/// Where a resource lives in Evidently: its project (for features and launches) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    pub project: Option<String>,
    pub name: String,
}

impl Locator {
    /// How dependencies name the resource: `<project>/<name>` inside a project, `<name>`
    /// otherwise; a project given by ARN counts by its name.
    pub fn key(&self) -> String {
        match &self.project {
            Some(p) => format!("{}/{}", project_name(p), self.name),
            None => self.name.clone(),
        }
    }
}

/// The project name of a project reference (a name or a project ARN).
pub fn project_name(reference: &str) -> &str {
    match reference.split_once(":project/") {
        Some((_, rest)) if reference.starts_with("arn:") => rest.split('/').next().unwrap_or(rest),
        _ => reference,
    }
}

impl std::fmt::Display for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.project {
            Some(p) => write!(f, "{} in project {p}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A kind the generic reconcile pass manages.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    type Spec: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static;
    type Status: CommonStatus
        + Serialize
        + DeserializeOwned
        + Default
        + Clone
        + PartialEq
        + Debug
        + Send
        + Sync
        + 'static;
    /// The validated spec: the Create request it stands for, and what else the kind acts on.
    type Desired: Debug + Send + Sync + 'static;
    /// The resource as Evidently reports it.
    type Observed: Clone + Debug + Send + Sync + 'static;

    /// The kind, as in manifests (`Launch`).
    const KIND: &'static str;
    /// The Evidently noun, for messages (`launch`).
    const NOUN: &'static str;
    /// Kinds whose objects becoming Ready may let an object of this kind that waits with
    /// `DependencyNotFound` go on.
    const NEEDS: &'static [&'static str];
    /// Kinds whose objects being deleted may let the deletion of an object of this kind that
    /// waits with `DeletionBlocked` go on.
    const HELD_BY: &'static [&'static str];

    /// The resources this one needs in Evidently, as (kind, [`Locator::key`]): a launch's
    /// project, features and segments, a feature's project. A resource waiting for one of them
    /// is reconciled when it becomes Ready; one whose deletion waits is retried when an object
    /// that needs it is deleted.
    fn references(_spec: &Self::Spec) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn from_parts(metadata: ObjectMeta, spec: Self::Spec, status: Option<Self::Status>) -> Self;
    fn spec(&self) -> &Self::Spec;
    fn status(&self) -> Option<&Self::Status>;
    fn deletion_policy(&self) -> DeletionPolicy;
    /// Where the resource lives, from the spec as it is (the deletion path never validates).
    fn locate(&self) -> Locator;

    /// Checks a spec (as JSON) of an object named `metadata_name` with the rules module.
    fn validate(spec: &Value, metadata_name: &str) -> Result<Self::Desired, Vec<Violation>>;
    fn located(desired: &Self::Desired) -> Locator;
    /// The tags the spec lists (the operator adds its own).
    fn user_tags(desired: &Self::Desired) -> BTreeMap<String, String>;

    fn read(
        ev: &Evidently,
        at: &Locator,
    ) -> impl Future<Output = Result<Self::Observed, EvidentlyError>> + Send;
    fn create(
        ev: &Evidently,
        desired: &Self::Desired,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Self::Observed, EvidentlyError>> + Send;
    /// The members (not tags) whose desired and observed values differ, semantically.
    fn compare(desired: &Self::Desired, observed: &Self::Observed) -> Vec<&'static str>;
    /// Why the resource can no longer change (a launch that ended), if so.
    fn frozen(_observed: &Self::Observed, _changed: &[&'static str]) -> Option<String> {
        None
    }
    /// The calls that bring the `changed` members to `desired`; what Evidently reports after
    /// (tags as observed before).
    fn update(
        ev: &Evidently,
        desired: &Self::Desired,
        observed: &Self::Observed,
        changed: &[&'static str],
    ) -> impl Future<Output = Result<Self::Observed, EvidentlyError>> + Send;
    /// Deletes the resource (stopping it first where Evidently requires).
    fn delete(
        ev: &Evidently,
        at: &Locator,
        observed: &Self::Observed,
    ) -> impl Future<Output = Result<(), EvidentlyError>> + Send;
    /// What still uses the resource when Evidently refuses to delete it (`message` is
    /// Evidently's answer).
    fn holders(
        _ev: &Evidently,
        _at: &Locator,
        message: String,
    ) -> impl Future<Output = String> + Send {
        async move { message }
    }

    fn arn(observed: &Self::Observed) -> &str;
    fn tags(observed: &Self::Observed) -> &BTreeMap<String, String>;
    fn tags_mut(observed: &mut Self::Observed) -> &mut BTreeMap<String, String>;
    /// The `Ready=True` message, e.g. `launch is RUNNING in Evidently and matches the spec`.
    fn ready_message(observed: &Self::Observed) -> String;
    /// Copies what Evidently reports into the kind's own status fields.
    fn observe(
        status: &mut Self::Status,
        observed: &Self::Observed,
        desired: Option<&Self::Desired>,
    );
    /// When a Ready object is looked at again: the resync interval, or sooner.
    fn next_check(
        _desired: &Self::Desired,
        _observed: &Self::Observed,
        resync: Duration,
    ) -> Duration {
        resync
    }
}

/// The accessors every kind implements the same way: its parts, its deletion policy, and where
/// it lives in Evidently (`project` is the spec member naming the project, for kinds inside
/// one).
macro_rules! plain_accessors {
    ($kind:ident, $spec:ty, $status:ty $(, project = $project:ident)?) => {
        fn from_parts(
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            spec: $spec,
            status: Option<$status>,
        ) -> Self {
            $kind { metadata, spec, status }
        }
        fn spec(&self) -> &$spec {
            &self.spec
        }
        fn status(&self) -> Option<&$status> {
            self.status.as_ref()
        }
        fn deletion_policy(&self) -> crate::crd::DeletionPolicy {
            self.spec.deletion_policy.unwrap_or_default()
        }
        fn locate(&self) -> crate::kinds::Locator {
            #[allow(unused_mut, unused_assignments)]
            let mut project = None;
            $(project = Some(self.spec.$project.clone());)?
            crate::kinds::Locator {
                project,
                name: self
                    .spec
                    .name
                    .clone()
                    .or_else(|| self.metadata.name.clone())
                    .unwrap_or_default(),
            }
        }
    };
}
pub(crate) use plain_accessors;

/// The union of the tags of the spec and the operator's ownership tag.
pub fn with_owner(mut tags: BTreeMap<String, String>, owner: &str) -> BTreeMap<String, String> {
    tags.insert(crate::crd::OWNER_TAG.into(), owner.to_string());
    tags
}

/// Absent and empty mean the same to Evidently.
pub fn blank(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}
