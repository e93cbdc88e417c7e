//! The data plane's inputs read straight from the request: the body into the input struct, the
//! path labels moved in, each string checked against the model's rules for its member.
//!
//! This is the hot path of EvaluateFeature and BatchEvaluateFeature. The generic path
//! (`wire::input`, then `ops::typed`) builds a JSON tree of the whole input, walks it along the
//! model and copies it into the struct; that costs about as much as the evaluation itself. Here
//! a request that is valid in every respect and has only the members the SDKs send skips the
//! tree. Anything else answers `None`, and the caller takes the generic path, which answers it
//! as it always did (refusing it in the model's words when it is invalid): a member missing, of
//! the wrong type or breaking a rule, a structure that is not a JSON object, a duplicate
//! member, a member the model does not define (serde would skip its value without checking it
//! is valid JSON, which the generic path's tree does), and a request with a query string (the
//! generic path checks it decodes). So both paths accept exactly the same requests.

use std::{fmt, marker::PhantomData, sync::OnceLock};

use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, Visitor, value::MapAccessDeserializer},
};

use super::{BatchEvaluateFeatureInput, EvaluateFeatureInput, EvaluationRequest};
use crate::{
    emulator::wire::Matched,
    rules::{self, shape::Bounds, walk::StringRule},
};

/// The model's rules for the members read here, resolved once.
struct Rules {
    project: StringRule,
    feature: StringRule,
    entity_id: StringRule,
    batch_project: StringRule,
    batch_size: Bounds,
    item_feature: StringRule,
    item_entity_id: StringRule,
}

fn resolve() -> Option<Rules> {
    let batch = rules::members("BatchEvaluateFeatureRequest")
        .iter()
        .find(|m| m.name == "requests")?;
    let batch_size = rules::shape(batch.target)?
        .constraints
        .overridden_by(&batch.constraints)
        .length?;
    Some(Rules {
        project: StringRule::of("EvaluateFeatureRequest", "project")?,
        feature: StringRule::of("EvaluateFeatureRequest", "feature")?,
        entity_id: StringRule::of("EvaluateFeatureRequest", "entityId")?,
        batch_project: StringRule::of("BatchEvaluateFeatureRequest", "project")?,
        batch_size,
        item_feature: StringRule::of("EvaluationRequest", "feature")?,
        item_entity_id: StringRule::of("EvaluationRequest", "entityId")?,
    })
}

/// The rules, or none if the model lacks a member this module reads (a test makes sure it
/// does not; every request would then take the generic path, slower but still right).
fn model_rules() -> Option<&'static Rules> {
    static RULES: OnceLock<Option<Rules>> = OnceLock::new();
    RULES.get_or_init(resolve).as_ref()
}

/// A structure read only from a JSON object: serde would also read one from an array of its
/// members' values, which the model refuses.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Only<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(Only(PhantomData))
    }
}

/// Whether the request has no query string (the two operations define no query parameter).
fn no_query(query: Option<&str>) -> bool {
    query.is_none_or(str::is_empty)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EvaluateBody {
    entity_id: String,
    evaluation_context: Option<String>,
}

/// EvaluateFeature's input, when the request is valid in every respect.
pub fn evaluate_feature(
    matched: &Matched,
    query: Option<&str>,
    body: &[u8],
) -> Option<EvaluateFeatureInput> {
    let rules = model_rules().filter(|_| no_query(query))?;
    let Object(b) = serde_json::from_slice::<Object<EvaluateBody>>(body).ok()?;
    let project = matched.label("project");
    let feature = matched.label("feature");
    (rules.project.fits(project)
        && rules.feature.fits(feature)
        && rules.entity_id.fits(&b.entity_id))
    .then(|| EvaluateFeatureInput {
        project: project.to_string(),
        feature: feature.to_string(),
        entity_id: b.entity_id,
        evaluation_context: b.evaluation_context,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    requests: Vec<Object<Item>>,
}

/// One request of a batch.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Item {
    feature: String,
    entity_id: String,
    evaluation_context: Option<String>,
}

/// BatchEvaluateFeature's input, when the request is valid in every respect.
pub fn batch_evaluate_feature(
    matched: &Matched,
    query: Option<&str>,
    body: &[u8],
) -> Option<BatchEvaluateFeatureInput> {
    let rules = model_rules().filter(|_| no_query(query))?;
    let Object(b) = serde_json::from_slice::<Object<BatchBody>>(body).ok()?;
    let project = matched.label("project");
    let size = i64::try_from(b.requests.len()).unwrap_or(i64::MAX);
    let valid = rules.batch_project.fits(project)
        && rules.batch_size.min.is_none_or(|min| size >= min)
        && rules.batch_size.max.is_none_or(|max| size <= max)
        && b.requests.iter().all(|Object(r)| {
            rules.item_feature.fits(&r.feature) && rules.item_entity_id.fits(&r.entity_id)
        });
    valid.then(|| BatchEvaluateFeatureInput {
        project: project.to_string(),
        requests: b
            .requests
            .into_iter()
            .map(|Object(r)| EvaluationRequest {
                feature: r.feature,
                entity_id: r.entity_id,
                evaluation_context: r.evaluation_context,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::wire;

    fn matched(path: &str) -> Matched {
        wire::route("POST", path).unwrap()
    }

    #[test]
    fn the_model_has_every_member_read_here() {
        assert!(model_rules().is_some());
    }

    #[test]
    fn a_valid_evaluation_is_read_without_the_tree() {
        let m = matched("/projects/shop/evaluations/checkout");
        let body = br#" {"entityId":"u-1","evaluationContext":"{\"a\":1}"}"#;
        let i = evaluate_feature(&m, None, body).unwrap();
        assert_eq!(
            (
                i.project.as_str(),
                i.feature.as_str(),
                i.entity_id.as_str(),
                i.evaluation_context.as_deref()
            ),
            ("shop", "checkout", "u-1", Some(r#"{"a":1}"#))
        );
        let i =
            evaluate_feature(&m, None, br#"{"entityId":"u","evaluationContext":null}"#).unwrap();
        assert_eq!(i.evaluation_context, None);
    }

    #[test]
    fn anything_the_model_refuses_goes_to_the_generic_path() {
        let m = matched("/projects/shop/evaluations/checkout");
        let long = format!(r#"{{"entityId":"{}"}}"#, "x".repeat(513));
        for body in [
            &b""[..],
            b"{}",
            br#"["u", null]"#,
            br#"{"entityId":""}"#,
            br#"{"entityId":5}"#,
            br#"{"entityId":"a","entityId":"b"}"#,
            br#"{"entityId":"u","evaluationContext":{"a":1}}"#,
            // Members the model does not define: serde would skip them unchecked.
            br#"{"entityId":"u","x":1e400}"#,
            br#"{"entityId":"u","x":"\ud800"}"#,
            br#"{"entityId":"u","x":[1]}"#,
            long.as_bytes(),
            b"{not json",
        ] {
            assert!(
                evaluate_feature(&m, None, body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let ok = br#"{"entityId":"u"}"#;
        assert!(evaluate_feature(&m, Some(""), ok).is_some());
        assert!(evaluate_feature(&m, Some("a=%FF"), ok).is_none());
        let bad_feature = matched("/projects/shop/evaluations/a%20b");
        assert!(evaluate_feature(&bad_feature, None, br#"{"entityId":"u"}"#).is_none());
    }

    #[test]
    fn a_batch_is_read_when_every_request_is_valid() {
        let one = r#"{"feature":"f","entityId":"u"}"#;
        let body = format!(r#"{{"requests":[{one},{one}]}}"#);
        let m = matched("/projects/shop/evaluations");
        let i = batch_evaluate_feature(&m, None, body.as_bytes()).unwrap();
        assert_eq!((i.project.as_str(), i.requests.len()), ("shop", 2));

        let too_many = format!(r#"{{"requests":[{}]}}"#, vec![one; 21].join(","));
        let bad_item = r#"{"requests":[{"feature":"f","entityId":""}]}"#;
        let array_item = r#"{"requests":[["f","u",null]]}"#;
        for body in [
            r#"{"requests":[]}"#,
            too_many.as_str(),
            bad_item,
            array_item,
            r#"{"requests":[null]}"#,
            r#"{"requests":null}"#,
            r#"{"requests":[{"feature":"f","entityId":"u","x":1e400}]}"#,
            r#"{"requests":[{"feature":"f","entityId":"u"}],"x":1}"#,
            "{}",
        ] {
            assert!(
                batch_evaluate_feature(&m, None, body.as_bytes()).is_none(),
                "{body}"
            );
        }
    }
}
