//! Generation of the `Launch` CustomResourceDefinition.
//!
//! `kube`'s derive gives the structure; this module then copies every constraint of the API model
//! that a structural schema can express (lengths, patterns, ranges, sizes, enums, date-time
//! formats) from the rules table onto the matching spec properties, and adds CEL rules
//! (`x-kubernetes-validations`) for what a schema cannot say: map-key rules, the cross-field
//! rules and immutability. It does not check event patterns (CEL cannot parse JSON): the
//! controller and `launch-operator validate` do.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::Launch;
use crate::rules::{
    self,
    launch::MAX_TAGS,
    shape::{Bounds, Constraints, Kind, Shape},
};

/// Tags a spec may list: Evidently's limit less the operator's ownership tag.
pub const MAX_SPEC_TAGS: usize = MAX_TAGS - 1;

/// The model shape that `spec` mirrors.
pub const SPEC_SHAPE: &str = "CreateLaunchRequest";

/// The CRD as installed: derived structure plus the rules' constraints and CEL rules.
pub fn launch_crd() -> CustomResourceDefinition {
    serde_json::from_value(launch_crd_json()).expect("the adjusted CRD deserializes")
}

/// The CRD as JSON. Kept apart from the typed form so integer bounds stay integers (the typed
/// form holds `minimum`/`maximum` as floats).
fn launch_crd_json() -> Value {
    let mut crd = serde_json::to_value(Launch::crd()).expect("the derived CRD serializes");
    let version = &mut crd["spec"]["versions"][0];
    let root = &mut version["schema"]["openAPIV3Schema"];

    root["properties"]["status"]["description"] =
        json!("What the operator observed in Evidently, and whether it matches the spec.");
    let spec = &mut root["properties"]["spec"];
    spec["description"] = json!(
        "The desired launch. Members mirror Evidently's CreateLaunch request: same names, shapes and constraints."
    );
    apply_structure(spec, SPEC_SHAPE);
    add_rules(spec, spec_rules());
    add_rules(
        &mut spec["properties"]["project"],
        vec![rule(
            "self == oldSelf",
            "project is immutable; create a new Launch to move it",
            None,
        )],
    );
    // The operator adds its ownership tag, which takes one of Evidently's tag slots.
    spec["properties"]["tags"]["maxProperties"] = json!(MAX_SPEC_TAGS);

    add_rules(root, root_rules());

    let conditions = &mut root["properties"]["status"]["properties"]["conditions"];
    conditions["x-kubernetes-list-type"] = json!("map");
    conditions["x-kubernetes-list-map-keys"] = json!(["type"]);
    crd
}

/// The CRD as YAML, as committed under `crds/`.
pub fn launch_crd_yaml() -> String {
    serde_yaml::to_string(&launch_crd_json()).expect("the CRD serializes to YAML")
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

/// Cross-field rules on `spec`: the same ones `rules::launch::check_launch` enforces.
fn spec_rules() -> Vec<Value> {
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
            "has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)",
            "name is immutable: it cannot be set, changed or removed after creation",
            Some(".name"),
        ),
    ]
}

/// Rules that need `metadata`: the launch name defaults to `metadata.name`, which must then fit
/// Evidently's launch-name rule.
fn root_rules() -> Vec<Value> {
    let name = rules::shape("LaunchName").expect("LaunchName is in the model");
    let max = name
        .constraints
        .length
        .and_then(|b| b.max)
        .unwrap_or(i64::MAX);
    vec![rule(
        &format!("has(self.spec.name) || size(self.metadata.name) <= {max}"),
        &format!(
            "metadata.name is used as the launch name and must be at most {max} characters; set spec.name"
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

/// Splits a model pattern into an RE2-compatible pattern and a forbidden prefix (RE2, which
/// Kubernetes uses, has no look-ahead).
fn re2_pattern(pattern: &str) -> (String, Option<&str>) {
    if let Some(rest) = pattern.strip_prefix("^(?!")
        && let Some(end) = rest.find(')')
    {
        return (format!("^{}", &rest[end + 1..]), Some(&rest[..end]));
    }
    (pattern.to_string(), None)
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
        let (re, forbidden) = re2_pattern(p);
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
                let (re, forbidden) = re2_pattern(p);
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
        Kind::Boolean | Kind::Blob | Kind::Document | Kind::Union { .. } => {}
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

    fn schema() -> Value {
        let crd = launch_crd_json();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    }

    fn example() -> Value {
        let text = include_str!("../../examples/segment-overrides.yaml");
        serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(text).unwrap()).unwrap()
    }

    fn messages(object: &Value, old: Option<&Value>) -> Vec<String> {
        match Validator::new().validate(&schema(), object, old) {
            Ok(()) => vec![],
            Err(errors) => errors
                .as_slice()
                .iter()
                .map(|e| e.message.clone())
                .collect(),
        }
    }

    #[test]
    fn examples_pass_every_cel_rule() {
        for text in [
            include_str!("../../examples/checkout-rollout.yaml"),
            include_str!("../../examples/segment-overrides.yaml"),
            include_str!("../../examples/metric-monitors.yaml"),
        ] {
            let object =
                serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(text).unwrap())
                    .unwrap();
            assert_eq!(messages(&object, None), Vec::<String>::new());
            assert_eq!(messages(&object, Some(&object)), Vec::<String>::new());
        }
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
            vec!["project is immutable; create a new Launch to move it"]
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
