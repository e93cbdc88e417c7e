//! Generation of the CustomResourceDefinitions of every kind.
//!
//! `kube`'s derive gives the structure; this module then copies every constraint of the API model
//! that a structural schema can express (lengths, patterns, ranges, sizes, enums, date-time
//! formats) from the rules table onto the matching spec properties, and adds CEL rules
//! (`x-kubernetes-validations`) for what a schema cannot say: map-key rules, the cross-field
//! rules and immutability. It does not check event patterns (CEL cannot parse JSON): the
//! controller and `launch-operator validate` do.

use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::{Feature, Launch, Project, Segment};
use crate::rules::{
    self,
    launch::MAX_TAGS,
    shape::{Bounds, Constraints, Kind, Shape},
};

/// Tags a spec may list: Evidently's limit less the operator's ownership tag.
pub const MAX_SPEC_TAGS: usize = MAX_TAGS - 1;

/// The kinds, in the order `crds` prints them (dependencies first).
pub const KINDS: [&str; 4] = ["Project", "Segment", "Feature", "Launch"];

/// What the generation needs to know of a kind beyond its derived structure.
struct KindSchema {
    crd: Value,
    /// The model shape that `spec` mirrors.
    shape: &'static str,
    /// The model shape of the Evidently name (which defaults to `metadata.name`).
    name_shape: &'static str,
    /// The kind's Evidently noun, for messages.
    noun: &'static str,
    /// Required spec members that cannot change after creation.
    immutable: &'static [&'static str],
    /// Optional spec members that cannot be set, changed or removed after creation (besides
    /// `name`, which is immutable in every kind).
    immutable_optional: &'static [&'static str],
    /// CEL rules on `spec` for what a schema cannot say.
    spec_rules: Vec<Value>,
}

fn derived<K: CustomResourceExt>() -> Value {
    serde_json::to_value(K::crd()).expect("the derived CRD serializes")
}

fn kind_schema(kind: &str) -> Option<KindSchema> {
    Some(match kind {
        "Launch" => KindSchema {
            crd: derived::<Launch>(),
            shape: "CreateLaunchRequest",
            name_shape: "LaunchName",
            noun: "launch",
            immutable: &["project"],
            immutable_optional: &[],
            spec_rules: launch_rules(),
        },
        "Project" => KindSchema {
            crd: derived::<Project>(),
            shape: "CreateProjectRequest",
            name_shape: "ProjectName",
            noun: "project",
            immutable: &[],
            immutable_optional: &[],
            spec_rules: vec![],
        },
        "Feature" => KindSchema {
            crd: derived::<Feature>(),
            shape: "CreateFeatureRequest",
            name_shape: "FeatureName",
            noun: "feature",
            immutable: &["project"],
            immutable_optional: &[],
            spec_rules: feature_rules(),
        },
        "Segment" => KindSchema {
            crd: derived::<Segment>(),
            shape: "CreateSegmentRequest",
            name_shape: "SegmentName",
            noun: "segment",
            immutable: &["pattern"],
            immutable_optional: &["description"],
            spec_rules: vec![],
        },
        _ => return None,
    })
}

/// The CRD of `kind` as installed (JSON: integer bounds stay integers, which the typed form
/// would turn into floats).
pub fn crd_of(kind: &str) -> Option<Value> {
    kind_schema(kind).map(crd_json)
}

fn crd_json(k: KindSchema) -> Value {
    let KindSchema {
        mut crd,
        shape,
        name_shape,
        noun,
        immutable,
        immutable_optional,
        spec_rules,
    } = k;
    let kind = crd["spec"]["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let version = &mut crd["spec"]["versions"][0];
    let root = &mut version["schema"]["openAPIV3Schema"];

    root["properties"]["status"]["description"] =
        json!("What the operator observed in Evidently, and whether it matches the spec.");
    let spec = &mut root["properties"]["spec"];
    let request = shape.trim_end_matches("Request");
    spec["description"] = json!(format!(
        "The desired {noun}. Members mirror Evidently's {request} request: same names, shapes and constraints."
    ));
    apply_structure(spec, shape);
    if spec["properties"].get("executionStatus").is_some() {
        apply_structure(
            &mut spec["properties"]["executionStatus"],
            "StopLaunchRequest",
        );
    }
    let mut rules = spec_rules;
    for member in ["name"].iter().chain(immutable_optional) {
        rules.push(rule(
            &format!(
                "has(self.{member}) == has(oldSelf.{member}) && (!has(self.{member}) || self.{member} == oldSelf.{member})"
            ),
            &format!("{member} is immutable: it cannot be set, changed or removed after creation"),
            Some(&format!(".{member}")),
        ));
    }
    add_rules(spec, rules);
    for member in immutable {
        add_rules(
            &mut spec["properties"][*member],
            vec![rule(
                "self == oldSelf",
                &format!("{member} is immutable; create a new {kind} to change it"),
                None,
            )],
        );
    }
    // The operator adds its ownership tag, which takes one of Evidently's tag slots.
    spec["properties"]["tags"]["maxProperties"] = json!(MAX_SPEC_TAGS);

    add_rules(root, name_rules(name_shape, noun));

    let conditions = &mut root["properties"]["status"]["properties"]["conditions"];
    conditions["x-kubernetes-list-type"] = json!("map");
    conditions["x-kubernetes-list-map-keys"] = json!(["type"]);
    paragraphs(&mut crd);
    crd
}

/// Doc comments wrap at 100 columns; `kubectl explain` would show those breaks mid-sentence.
/// Single line breaks in descriptions become spaces (blank lines stay paragraph breaks).
fn paragraphs(node: &mut Value) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text) if key == "description" => {
                        *text = text
                            .split("\n\n")
                            .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
                            .collect::<Vec<_>>()
                            .join("\n\n");
                    }
                    _ => paragraphs(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(paragraphs),
        _ => {}
    }
}

/// Every CRD, as JSON, in [`KINDS`] order.
pub fn all_crds_json() -> Vec<Value> {
    KINDS.iter().filter_map(|k| crd_of(k)).collect()
}

/// Every CRD as multi-document YAML, as committed in `crds/crds.yaml`.
pub fn all_crds_yaml() -> String {
    all_crds_json()
        .iter()
        .map(|crd| serde_yaml::to_string(crd).expect("the CRD serializes to YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The `Launch` CRD as JSON.
pub fn launch_crd_json() -> Value {
    crd_of("Launch").expect("Launch is a kind")
}

fn rule(rule: &str, message: &str, field_path: Option<&str>) -> Value {
    let mut r = json!({ "rule": rule, "message": message });
    if let Some(p) = field_path {
        r["fieldPath"] = json!(p);
    }
    r
}

fn add_rules(node: &mut Value, rules: Vec<Value>) {
    if rules.is_empty() {
        return;
    }
    let list = node
        .as_object_mut()
        .expect("schema node is an object")
        .entry("x-kubernetes-validations")
        .or_insert_with(|| json!([]));
    if let Some(items) = list.as_array_mut() {
        items.extend(rules);
    }
}

/// Cross-field rules on a Launch `spec`: the same ones `rules::launch::check_launch` enforces,
/// and `executionStatus`'s STOP-only members.
fn launch_rules() -> Vec<Value> {
    vec![
        rule(
            "self.groups.all(g, self.groups.exists_one(h, h.name == g.name))",
            "group names must be unique within a launch",
            Some(".groups"),
        ),
        rule(
            "!has(self.scheduledSplitsConfig) || self.scheduledSplitsConfig.steps.all(s, s.groupWeights.all(k, self.groups.exists(g, g.name == k)))",
            "groupWeights keys must be names of this launch's groups",
            Some(".scheduledSplitsConfig"),
        ),
        rule(
            "!has(self.scheduledSplitsConfig) || self.scheduledSplitsConfig.steps.all(s, !has(s.segmentOverrides) || s.segmentOverrides.all(o, o.weights.all(k, self.groups.exists(g, g.name == k))))",
            "segmentOverrides weights keys must be names of this launch's groups",
            Some(".scheduledSplitsConfig"),
        ),
        rule(
            "!has(self.executionStatus) || self.executionStatus.status == 'STOP' || (!has(self.executionStatus.desiredState) && !has(self.executionStatus.reason))",
            "executionStatus: desiredState and reason apply only to status STOP",
            Some(".executionStatus"),
        ),
    ]
}

/// Cross-field rules on a Feature `spec`: the same ones `rules::feature::check_variations`
/// enforces.
fn feature_rules() -> Vec<Value> {
    let same_member = ["boolValue", "doubleValue", "longValue", "stringValue"]
        .iter()
        .map(|m| format!("has(v.value.{m}) == has(self.variations[0].value.{m})"))
        .collect::<Vec<_>>()
        .join(" && ");
    vec![
        rule(
            "self.variations.all(v, self.variations.exists_one(w, w.name == v.name))",
            "variation names must be unique within a feature",
            Some(".variations"),
        ),
        rule(
            &format!("self.variations.all(v, {same_member})"),
            "all variations of a feature must set the same value member",
            Some(".variations"),
        ),
        rule(
            "!has(self.defaultVariation) || self.variations.exists(v, v.name == self.defaultVariation)",
            "the default variation must be one of the feature's variations",
            Some(".defaultVariation"),
        ),
        rule(
            "!has(self.entityOverrides) || self.entityOverrides.all(k, self.variations.exists(v, v.name == self.entityOverrides[k]))",
            "entity overrides must name one of the feature's variations",
            Some(".entityOverrides"),
        ),
    ]
}

/// Rules that need `metadata`: the Evidently name defaults to `metadata.name`, which must then
/// fit Evidently's name rule for the kind.
fn name_rules(name_shape: &str, noun: &str) -> Vec<Value> {
    let name = rules::shape(name_shape).expect("the name shape is in the model");
    let max = name
        .constraints
        .length
        .and_then(|b| b.max)
        .unwrap_or(i64::MAX);
    vec![rule(
        &format!("has(self.spec.name) || size(self.metadata.name) <= {max}"),
        &format!(
            "metadata.name is used as the {noun} name and must be at most {max} characters; set spec.name"
        ),
        None,
    )]
}

fn set_bounds(
    node: &mut Value,
    bounds: Option<Bounds>,
    min_key: &str,
    max_key: &str,
    skip_zero_min: bool,
) {
    let Some(b) = bounds else { return };
    if let Some(min) = b.min
        && !(skip_zero_min && min == 0)
    {
        node[min_key] = json!(min);
    }
    if let Some(max) = b.max {
        node[max_key] = json!(max);
    }
}

/// CEL string literal for `s`.
fn cel_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The CEL condition a map key must meet, or `None` when the key shape has no constraint.
fn key_condition(key: &Shape) -> Option<(String, String)> {
    let c = key.constraints;
    let mut conds = Vec::new();
    let mut words = Vec::new();
    if let Some(b) = c.length {
        if let Some(min) = b.min.filter(|m| *m > 0) {
            conds.push(format!("size(k) >= {min}"));
        }
        if let Some(max) = b.max {
            conds.push(format!("size(k) <= {max}"));
        }
        words.push(format!(
            "{} to {} characters",
            b.min.unwrap_or(0),
            b.max.map_or("any number of".into(), |m| m.to_string())
        ));
    }
    if let Some(p) = c.pattern.filter(|p| *p != ".*") {
        let (re, forbidden) = rules::walk::split_lookahead(p);
        conds.push(format!("k.matches({})", cel_string(&re)));
        words.push(format!("matching {re}"));
        if let Some(prefix) = forbidden {
            conds.push(format!("!k.startsWith({})", cel_string(prefix)));
            words.push(format!("not starting with '{prefix}'"));
        }
    }
    if conds.is_empty() {
        return None;
    }
    Some((conds.join(" && "), words.join(", ")))
}

fn apply_value(node: &mut Value, shape: &Shape, c: Constraints) {
    match shape.kind {
        Kind::String => {
            set_bounds(node, c.length, "minLength", "maxLength", true);
            if let Some(p) = c.pattern.filter(|p| *p != ".*") {
                let (re, forbidden) = rules::walk::split_lookahead(p);
                node["pattern"] = json!(re);
                if let Some(prefix) = forbidden {
                    add_rules(
                        node,
                        vec![rule(
                            &format!("!self.startsWith({})", cel_string(prefix)),
                            &format!("must not start with '{prefix}'"),
                            None,
                        )],
                    );
                }
            }
            if !c.enum_values.is_empty() {
                node["enum"] = json!(c.enum_values);
            }
        }
        Kind::Integer | Kind::Long | Kind::Double => {
            set_bounds(node, c.range, "minimum", "maximum", false);
        }
        Kind::Timestamp => {
            node["format"] = json!("date-time");
        }
        Kind::List { member } => {
            set_bounds(node, c.length, "minItems", "maxItems", true);
            if let (Some(item), Some(items)) = (rules::shape(member), node.get_mut("items")) {
                apply_value(items, item, item.constraints);
            }
        }
        Kind::Map { key, value } => {
            set_bounds(node, c.length, "minProperties", "maxProperties", true);
            if let Some((cond, words)) = rules::shape(key).and_then(key_condition) {
                add_rules(
                    node,
                    vec![rule(
                        &format!("self.all(k, {cond})"),
                        &format!("keys must be {words}"),
                        None,
                    )],
                );
            }
            if let (Some(v), Some(values)) =
                (rules::shape(value), node.get_mut("additionalProperties"))
            {
                apply_value(values, v, v.constraints);
            }
        }
        Kind::Structure { .. } => apply_structure(node, shape.name),
        Kind::Union { members } => {
            // Exactly one member (what the model's union means), each with its constraints.
            let present = members
                .iter()
                .map(|m| format!("has(self.{})", m.name))
                .collect::<Vec<_>>()
                .join(", ");
            add_rules(
                node,
                vec![rule(
                    &format!("[{present}].filter(x, x).size() == 1"),
                    &format!(
                        "exactly one of {} must be set",
                        members
                            .iter()
                            .map(|m| m.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                )],
            );
            if let Some(properties) = node.get_mut("properties").and_then(Value::as_object_mut) {
                for m in members.iter() {
                    if let (Some(prop), Some(target)) =
                        (properties.get_mut(m.name), rules::shape(m.target))
                    {
                        apply_value(
                            prop,
                            target,
                            target.constraints.overridden_by(&m.constraints),
                        );
                    } else if let Some(prop) = properties.get_mut(m.name) {
                        // Prelude shapes (smithy.api#Long, ...) are not in the table.
                        if let Some(r) = m.constraints.range {
                            set_bounds(prop, Some(r), "minimum", "maximum", false);
                        }
                        if let Some(l) = m.constraints.length {
                            set_bounds(prop, Some(l), "minLength", "maxLength", true);
                        }
                    }
                }
            }
        }
        Kind::Boolean | Kind::Blob | Kind::Document => {}
    }
}

/// Applies the members' constraints of `shape_name` to the properties of an object schema.
fn apply_structure(node: &mut Value, shape_name: &str) {
    let Some(properties) = node.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, prop) in properties.iter_mut() {
        let Some(member) = rules::members(shape_name).iter().find(|m| m.name == name) else {
            continue;
        };
        if let Some(target) = rules::shape(member.target) {
            let c = target.constraints.overridden_by(&member.constraints);
            apply_value(prop, target, c);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The CRD's CEL rules evaluated offline with kube's CEL validator (the real API server runs
    //! them again in the end-to-end suite).

    use kube::core::cel::Validator;
    use serde_json::{Value, json};

    use super::*;

    fn schema_of(kind: &str) -> Value {
        crd_of(kind).unwrap()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    }

    fn schema() -> Value {
        schema_of("Launch")
    }

    fn example() -> Value {
        let text = include_str!("../../examples/segment-overrides.yaml");
        serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(text).unwrap()).unwrap()
    }

    fn messages_of(kind: &str, object: &Value, old: Option<&Value>) -> Vec<String> {
        match Validator::new().validate(&schema_of(kind), object, old) {
            Ok(()) => vec![],
            Err(errors) => errors
                .as_slice()
                .iter()
                .map(|e| e.message.clone())
                .collect(),
        }
    }

    fn messages(object: &Value, old: Option<&Value>) -> Vec<String> {
        messages_of("Launch", object, old)
    }

    /// Every document of every example file.
    fn examples() -> Vec<Value> {
        [
            include_str!("../../examples/project.yaml"),
            include_str!("../../examples/features.yaml"),
            include_str!("../../examples/segments.yaml"),
            include_str!("../../examples/checkout-rollout.yaml"),
            include_str!("../../examples/segment-overrides.yaml"),
            include_str!("../../examples/metric-monitors.yaml"),
        ]
        .iter()
        .flat_map(|text| serde_yaml::Deserializer::from_str(text))
        .map(|doc| {
            serde_json::to_value(
                <serde_yaml::Value as serde::Deserialize>::deserialize(doc).unwrap(),
            )
            .unwrap()
        })
        .collect()
    }

    fn feature() -> Value {
        examples()
            .into_iter()
            .find(|o| o["kind"] == "Feature")
            .unwrap()
    }

    #[test]
    fn examples_pass_every_cel_rule() {
        let all = examples();
        assert_eq!(all.len(), 11);
        for object in all {
            let kind = object["kind"].as_str().unwrap().to_string();
            assert_eq!(messages_of(&kind, &object, None), Vec::<String>::new());
            assert_eq!(
                messages_of(&kind, &object, Some(&object)),
                Vec::<String>::new()
            );
        }
    }

    #[test]
    fn cel_rejects_a_feature_value_with_no_or_two_members() {
        let mut object = feature();
        object["spec"]["variations"][0]["value"] = json!({"stringValue": "x", "boolValue": true});
        object["spec"]["variations"][1]["value"] = json!({});
        let found = messages_of("Feature", &object, None);
        let exactly_one = "exactly one of boolValue, doubleValue, longValue, stringValue";
        assert_eq!(
            found.iter().filter(|m| m.starts_with(exactly_one)).count(),
            2,
            "{found:?}"
        );
    }

    #[test]
    fn cel_rejects_a_feature_whose_variations_disagree() {
        let mut object = feature();
        object["spec"]["variations"][1]["name"] = json!("legacy");
        object["spec"]["variations"][1]["value"] = json!({"longValue": 2});
        object["spec"]["defaultVariation"] = json!("nope");
        object["spec"]["entityOverrides"] = json!({"someone": "nope"});
        let mut found = messages_of("Feature", &object, None);
        found.sort();
        assert_eq!(
            found,
            vec![
                "all variations of a feature must set the same value member",
                "entity overrides must name one of the feature's variations",
                "the default variation must be one of the feature's variations",
                "variation names must be unique within a feature",
            ]
        );
    }

    #[test]
    fn cel_keeps_what_evidently_cannot_update() {
        let segment = examples()
            .into_iter()
            .find(|o| o["kind"] == "Segment")
            .unwrap();
        let mut changed = segment.clone();
        changed["spec"]["pattern"] = json!("{\"beta\": [false]}");
        changed["spec"]["description"] = json!("other");
        let mut found = messages_of("Segment", &changed, Some(&segment));
        found.sort();
        assert_eq!(
            found,
            vec![
                "description is immutable: it cannot be set, changed or removed after creation",
                "pattern is immutable; create a new Segment to change it",
            ]
        );
        let old = feature();
        let mut moved = old.clone();
        moved["spec"]["project"] = json!("other");
        moved["spec"]["name"] = json!("renamed");
        let mut found = messages_of("Feature", &moved, Some(&old));
        found.sort();
        assert_eq!(
            found,
            vec![
                "name is immutable: it cannot be set, changed or removed after creation",
                "project is immutable; create a new Feature to change it",
            ]
        );
        // Evidently updates a feature's variations: no CEL rule stops it.
        let mut updated = old.clone();
        updated["spec"]["variations"][1]["value"] = json!({"stringValue": "v3"});
        assert_eq!(
            messages_of("Feature", &updated, Some(&old)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn cel_allows_stop_members_only_with_stop() {
        let mut object = example();
        object["spec"]["executionStatus"] = json!({"status": "START", "reason": "why"});
        assert_eq!(
            messages(&object, None),
            vec!["executionStatus: desiredState and reason apply only to status STOP"]
        );
        object["spec"]["executionStatus"] =
            json!({"status": "STOP", "reason": "why", "desiredState": "CANCELLED"});
        assert_eq!(messages(&object, None), Vec::<String>::new());
    }

    #[test]
    fn descriptions_read_as_paragraphs() {
        let s = schema();
        let description = s["properties"]["spec"]["properties"]["tags"]["description"]
            .as_str()
            .unwrap();
        assert!(!description.contains('\n'), "{description}");
        assert!(
            description.contains("adds its own ownership tag (`launch-operator.io/owner`)"),
            "{description}"
        );
    }

    #[test]
    fn cel_rejects_duplicate_group_names() {
        let mut object = example();
        object["spec"]["groups"][1]["name"] = json!("classic");
        object["spec"]["scheduledSplitsConfig"] = Value::Null;
        object["spec"]
            .as_object_mut()
            .unwrap()
            .remove("scheduledSplitsConfig");
        assert_eq!(
            messages(&object, None),
            vec!["group names must be unique within a launch"]
        );
    }

    #[test]
    fn cel_rejects_group_weights_for_unknown_groups() {
        let mut object = example();
        object["spec"]["scheduledSplitsConfig"]["steps"][1]["groupWeights"]["semantik"] = json!(1);
        assert_eq!(
            messages(&object, None),
            vec!["groupWeights keys must be names of this launch's groups"]
        );
    }

    #[test]
    fn cel_rejects_override_weights_for_unknown_groups() {
        let mut object = example();
        object["spec"]["scheduledSplitsConfig"]["steps"][0]["segmentOverrides"][0]["weights"]["x"] =
            json!(1);
        assert_eq!(
            messages(&object, None),
            vec!["segmentOverrides weights keys must be names of this launch's groups"]
        );
    }

    #[test]
    fn cel_rejects_reserved_tag_keys() {
        let mut object = example();
        object["spec"]["tags"] = json!({"aws:team": "x", "team": "y"});
        let found = messages(&object, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("not starting with 'aws:'"), "{found:?}");
    }

    #[test]
    fn cel_rejects_a_changed_project() {
        let old = example();
        let mut new = old.clone();
        new["spec"]["project"] = json!("other");
        assert_eq!(
            messages(&new, Some(&old)),
            vec!["project is immutable; create a new Launch to change it"]
        );
    }

    #[test]
    fn cel_rejects_setting_changing_or_removing_the_launch_name() {
        let without = example();
        let mut with = without.clone();
        with["spec"]["name"] = json!("explicit");
        let mut changed = with.clone();
        changed["spec"]["name"] = json!("other");
        let expected =
            vec!["name is immutable: it cannot be set, changed or removed after creation"];
        assert_eq!(messages(&with, Some(&without)), expected);
        assert_eq!(messages(&without, Some(&with)), expected);
        assert_eq!(messages(&changed, Some(&with)), expected);
        assert_eq!(messages(&with, Some(&with)), Vec::<String>::new());
    }

    #[test]
    fn cel_rejects_a_metadata_name_too_long_for_a_launch_name_unless_spec_name_is_set() {
        let mut object = example();
        object["metadata"]["name"] = json!("a".repeat(128));
        assert_eq!(messages(&object, None).len(), 1);
        object["spec"]["name"] = json!("short");
        assert_eq!(messages(&object, None), Vec::<String>::new());
    }

    #[test]
    fn schema_carries_the_model_constraints() {
        let s = schema();
        let spec = &s["properties"]["spec"]["properties"];
        assert_eq!(spec["groups"]["maxItems"], json!(5));
        assert_eq!(spec["groups"]["minItems"], json!(1));
        assert_eq!(
            spec["groups"]["items"]["properties"]["name"]["maxLength"],
            json!(127)
        );
        assert_eq!(
            spec["groups"]["items"]["properties"]["name"]["pattern"],
            json!("^[-a-zA-Z0-9._]*$")
        );
        assert_eq!(spec["metricMonitors"]["maxItems"], json!(3));
        let step = &spec["scheduledSplitsConfig"]["properties"]["steps"];
        assert_eq!(step["maxItems"], json!(6));
        assert_eq!(
            step["items"]["properties"]["startTime"]["format"],
            json!("date-time")
        );
        let weights = &step["items"]["properties"]["groupWeights"];
        assert_eq!(weights["maxProperties"], json!(5));
        assert_eq!(
            weights["additionalProperties"]["maximum"].as_f64(),
            Some(100000.0)
        );
        assert_eq!(
            weights["additionalProperties"]["minimum"].as_f64(),
            Some(0.0)
        );
        assert_eq!(spec["tags"]["maxProperties"], json!(MAX_TAGS - 1));
        assert_eq!(
            spec["metricMonitors"]["items"]["properties"]["metricDefinition"]["properties"]["eventPattern"]
                ["maxLength"],
            json!(1024)
        );
        let conditions = &s["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], json!("map"));
    }
}
