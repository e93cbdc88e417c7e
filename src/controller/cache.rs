//! The form in which the controller caches objects of every kind.
//!
//! The cache holds every object in the cluster for the life of the process, so its size per
//! object is the controller's memory at scale. An object decoded into its Rust types costs
//! several times its JSON: every string and map is its own allocation, and a `BTreeMap` of two
//! step weights allocates an eleven-slot node. The cache therefore keeps `spec` and `status`
//! as compact JSON text ([`JsonText`]), and decodes them into the kind's types at the start of
//! each reconcile pass, which costs microseconds against the pass's network round trips.
//! Measured in BENCHMARKS.md.
//!
//! Decoding per pass has a second benefit: an object whose spec does not decode (a resource
//! written under another CRD version) fails its own pass with a clear error instead of failing
//! the watch, and with it every other object.

use std::{borrow::Cow, marker::PhantomData};

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::Resource;
use serde::Deserialize;

use crate::{
    crd::{GROUP, OWN_ANNOTATIONS, READY},
    kinds::Managed,
};

/// An object as the controller caches it: metadata, and spec and status as JSON text.
#[derive(Debug, Deserialize)]
pub struct Cached<K> {
    pub metadata: ObjectMeta,
    pub spec: JsonText,
    pub status: Option<JsonText>,
    #[serde(skip)]
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Cached<K> {
    fn clone(&self) -> Self {
        Cached {
            metadata: self.metadata.clone(),
            spec: self.spec.clone(),
            status: self.status.clone(),
            kind: PhantomData,
        }
    }
}

/// A JSON value kept as its compact text.
///
/// Decoded through `serde_json::Value` rather than as a `RawValue`: serde buffers a watch
/// event's `object` when the event's `type` comes after it, and a `RawValue` cannot be read
/// from a buffer. The API server writes `type` first, but the cache must not depend on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonText(Box<str>);

impl JsonText {
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(JsonText(value.to_string().into_boxed_str()))
    }
}

impl<K: Managed> Resource for Cached<K> {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Why a cached object could not be decoded into its kind's types.
#[derive(Debug, thiserror::Error)]
#[error("{part} does not match the {kind} type of this controller ({GROUP}): {error}")]
pub struct DecodeError {
    pub kind: &'static str,
    pub part: &'static str,
    #[source]
    pub error: serde_json::Error,
}

impl<K: Managed> Cached<K> {
    /// Drops what the controller never reads before the object enters the cache:
    /// `managedFields` (more than half of an object as the API server sends it), labels, owner
    /// references, and every annotation but the controller's own (kubectl's
    /// `last-applied-configuration` alone would double the spec).
    pub fn prune(&mut self) {
        let m = &mut self.metadata;
        m.managed_fields = None;
        m.labels = None;
        m.owner_references = None;
        if let Some(annotations) = m.annotations.as_mut() {
            annotations.retain(|k, _| k.starts_with(OWN_ANNOTATIONS));
            if annotations.is_empty() {
                m.annotations = None;
            }
        }
    }

    /// The status alone; `None` when absent or not decodable (the pass then writes a new one).
    pub fn decode_status(&self) -> Option<K::Status> {
        self.status
            .as_ref()
            .and_then(|s| serde_json::from_str(s.get()).ok())
    }

    /// The stored `Ready` condition's (status, reason), read without decoding the rest.
    pub fn ready(&self) -> Option<(String, String)> {
        #[derive(Deserialize)]
        struct Conditions {
            #[serde(default)]
            conditions: Vec<Condition>,
        }
        #[derive(Deserialize)]
        struct Condition {
            #[serde(rename = "type")]
            type_: String,
            status: String,
            #[serde(default)]
            reason: String,
        }
        let text = self.status.as_ref()?;
        let status: Conditions = serde_json::from_str(text.get()).ok()?;
        status
            .conditions
            .into_iter()
            .find(|c| c.type_ == READY)
            .map(|c| (c.status, c.reason))
    }

    /// The object in the controller's types. The status is decoded leniently (see
    /// [`Self::decode_status`]); the spec must decode.
    pub fn decode(&self) -> Result<K, DecodeError> {
        let spec = serde_json::from_str(self.spec.get()).map_err(|error| DecodeError {
            kind: K::KIND,
            part: "spec",
            error,
        })?;
        Ok(K::from_parts(
            self.metadata.clone(),
            spec,
            self.decode_status(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::Launch;
    use serde_json::json;

    type CachedLaunch = Cached<Launch>;

    fn cached(value: serde_json::Value) -> CachedLaunch {
        serde_json::from_str(&value.to_string()).expect("a cached launch")
    }

    fn object() -> serde_json::Value {
        json!({
            "apiVersion": "evidently.launch-operator.io/v1alpha1",
            "kind": "Launch",
            "metadata": {
                "name": "checkout", "namespace": "shop", "uid": "u1", "generation": 2,
                "labels": {"app": "shop"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "evidently.launch-operator.io/adopt": "true"
                },
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                "finalizers": ["evidently.launch-operator.io/cleanup"]
            },
            "spec": {
                "project": "shop",
                "groups": [{"name": "a", "feature": "f", "variation": "v1"}],
                "scheduledSplitsConfig": {"steps": [
                    {"startTime": "2030-01-07T09:00:00Z", "groupWeights": {"a": 100000}}
                ]}
            },
            "status": {"arn": "arn:aws:evidently:us-east-1:1:project/shop/launch/checkout", "observedGeneration": 2}
        })
    }

    #[test]
    fn decodes_to_the_same_launch_as_the_typed_form() {
        let c = cached(object());
        let direct: Launch = serde_json::from_value(object()).unwrap();
        let decoded = c.decode().unwrap();
        assert_eq!(decoded.metadata, direct.metadata);
        assert_eq!(decoded.spec, direct.spec);
        assert_eq!(decoded.status, direct.status);
    }

    #[test]
    fn prune_keeps_what_reconcile_reads() {
        let mut c = cached(object());
        c.prune();
        let m = &c.metadata;
        assert_eq!(m.managed_fields, None);
        assert_eq!(m.labels, None);
        let annotations = m.annotations.as_ref().unwrap();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations["evidently.launch-operator.io/adopt"], "true");
        assert_eq!(m.finalizers.as_ref().unwrap().len(), 1);
        assert_eq!(m.uid.as_deref(), Some("u1"));
        assert_eq!(m.generation, Some(2));
        let launch = c.decode().unwrap();
        assert_eq!(launch.spec.project, "shop");
        assert_eq!(launch.status.unwrap().observed_generation, Some(2));
    }

    #[test]
    fn a_new_launch_without_a_status_decodes() {
        let mut v = object();
        v.as_object_mut().unwrap().remove("status");
        let c = cached(v);
        assert!(c.status.is_none());
        let launch = c.decode().unwrap();
        assert_eq!(launch.status, None);
        assert_eq!(launch.spec.project, "shop");
    }

    #[test]
    fn prune_drops_an_annotation_map_left_empty() {
        let mut v = object();
        v["metadata"]["annotations"] = json!({"note": "x"});
        let mut c = cached(v);
        c.prune();
        assert_eq!(c.metadata.annotations, None);
    }

    #[test]
    fn a_spec_of_another_shape_fails_its_own_decode_with_the_part_named() {
        let mut v = object();
        v["spec"]["groups"] = json!("not a list");
        let c = cached(v);
        let e = c.decode().unwrap_err();
        assert_eq!(e.part, "spec");
        assert!(
            e.to_string()
                .contains("spec does not match the Launch type"),
            "{e}"
        );
    }

    #[test]
    fn the_ready_condition_is_read_without_the_rest_of_the_status() {
        let mut v = object();
        v["status"]["conditions"] = json!([
            {"type": "Other", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "DependencyNotFound", "message": "m",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]);
        let c = cached(v);
        assert_eq!(
            c.ready(),
            Some(("False".to_string(), "DependencyNotFound".to_string()))
        );
        assert_eq!(cached(object()).ready(), None);
    }

    #[test]
    fn an_undecodable_status_reads_as_none() {
        let mut v = object();
        v["status"] = json!({"conditions": "oops"});
        let c = cached(v);
        assert!(c.decode_status().is_none());
        assert!(c.decode().unwrap().status.is_none());
    }

    #[test]
    fn watch_events_decode_into_the_cached_form_whatever_the_member_order() {
        let object = object().to_string();
        for line in [
            format!(r#"{{"type":"MODIFIED","object":{object}}}"#),
            format!(r#"{{"object":{object},"type":"MODIFIED"}}"#),
        ] {
            let event: kube::core::WatchEvent<CachedLaunch> = serde_json::from_str(&line).unwrap();
            match event {
                kube::core::WatchEvent::Modified(c) => {
                    assert!(c.spec.get().contains(r#""project":"shop""#), "{line}");
                    assert_eq!(c.decode().unwrap().spec.groups.len(), 1);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
