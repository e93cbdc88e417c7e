//! `Segment`: CreateSegment, GetSegment, DeleteSegment (refused by Evidently while a launch
//! uses the segment). Evidently has no UpdateSegment: the CRD makes the pattern and the
//! description immutable, and a segment changed behind the operator's back (deleted and
//! re-created by hand with another pattern) is reported, not repaired.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Locator, Managed, blank};
use crate::{
    crd::{Segment, SegmentSpec, SegmentStatus, spec::validate_segment_spec},
    evidently::{Evidently, EvidentlyError, ObservedSegment},
    rules::{Violation, segment::CreateSegmentInput},
    time::rfc3339,
};

/// Patterns compare as JSON documents (white space and key order do not matter).
fn same_pattern(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

impl Managed for Segment {
    type Spec = SegmentSpec;
    type Status = SegmentStatus;
    type Desired = CreateSegmentInput;
    type Observed = ObservedSegment;

    const KIND: &'static str = "Segment";
    const NOUN: &'static str = "segment";
    const NEEDS: &'static [&'static str] = &[];
    const HELD_BY: &'static [&'static str] = &["Launch"];

    super::plain_accessors!(Segment, SegmentSpec, SegmentStatus);

    fn validate(spec: &Value, metadata_name: &str) -> Result<CreateSegmentInput, Vec<Violation>> {
        validate_segment_spec(spec, metadata_name)
    }
    fn located(d: &CreateSegmentInput) -> Locator {
        Locator {
            project: None,
            name: d.name.clone(),
        }
    }
    fn user_tags(d: &CreateSegmentInput) -> BTreeMap<String, String> {
        d.tags.clone().unwrap_or_default()
    }

    async fn read(ev: &Evidently, at: &Locator) -> Result<ObservedSegment, EvidentlyError> {
        ev.get_segment(&at.name).await
    }
    async fn create(
        ev: &Evidently,
        d: &CreateSegmentInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedSegment, EvidentlyError> {
        ev.create_segment(d, tags).await
    }
    fn compare(d: &CreateSegmentInput, o: &ObservedSegment) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if !same_pattern(&d.pattern, &o.pattern) {
            changed.push("pattern");
        }
        if blank(&d.description) != blank(&o.description) {
            changed.push("description");
        }
        changed
    }
    async fn update(
        _ev: &Evidently,
        d: &CreateSegmentInput,
        _o: &ObservedSegment,
        changed: &[&'static str],
    ) -> Result<ObservedSegment, EvidentlyError> {
        Err(EvidentlyError::Rejected(format!(
            "segment {} differs from the spec in {}, and Evidently cannot update a segment: \
             delete it in Evidently (the operator then re-creates it) or change the spec",
            d.name,
            changed.join(", ")
        )))
    }
    async fn delete(
        ev: &Evidently,
        at: &Locator,
        _o: &ObservedSegment,
    ) -> Result<(), EvidentlyError> {
        ev.delete_segment(&at.name).await
    }

    fn arn(o: &ObservedSegment) -> &str {
        &o.arn
    }
    fn tags(o: &ObservedSegment) -> &BTreeMap<String, String> {
        &o.tags
    }
    fn tags_mut(o: &mut ObservedSegment) -> &mut BTreeMap<String, String> {
        &mut o.tags
    }
    fn ready_message(_o: &ObservedSegment) -> String {
        "segment exists in Evidently and matches the spec".into()
    }
    fn observe(status: &mut SegmentStatus, o: &ObservedSegment, _d: Option<&CreateSegmentInput>) {
        status.arn = Some(o.arn.clone());
        status.launch_count = o.launch_count;
        status.created_time = rfc3339(o.created_time);
        status.last_updated_time = rfc3339(o.last_updated_time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compare_as_json() {
        assert!(same_pattern(
            r#"{"a": [1], "b": ["x"]}"#,
            r#"{"b":["x"],"a":[1]}"#
        ));
        assert!(!same_pattern(r#"{"a": [1]}"#, r#"{"a": [2]}"#));
    }
}
