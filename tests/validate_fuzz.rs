//! No input makes the validator panic: arbitrary text, arbitrary JSON/YAML values as a Launch,
//! and valid examples with any one node replaced by an arbitrary value.

use launch_operator::{
    crd::validate_spec,
    manifests::{Report, check_text},
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::from),
        "[a-z]{1,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z:]{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn example_spec() -> Value {
    let text = include_str!("../examples/segment-overrides.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    serde_json::to_value(doc).unwrap()["spec"].clone()
}

/// Every JSON pointer inside `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let mut report = Report::default();
        check_text("fuzz", &text, &mut report);
    }

    #[test]
    fn arbitrary_values_as_a_launch_never_panic(spec in arb_json(), metadata in arb_json()) {
        let doc = json!({
            "apiVersion": "evidently.launch-operator.io/v1alpha1",
            "kind": "Launch",
            "metadata": metadata,
            "spec": spec,
        });
        let text = serde_yaml::to_string(&doc).unwrap();
        let mut report = Report::default();
        check_text("fuzz", &text, &mut report);
        prop_assert_eq!(report.checked, 1);
    }

    #[test]
    fn any_node_of_a_valid_spec_replaced_never_panics(index in any::<prop::sample::Index>(), value in arb_json()) {
        let mut spec = example_spec();
        let mut all = Vec::new();
        pointers(&spec, String::new(), &mut all);
        let pointer = index.get(&all).clone();
        *spec.pointer_mut(&pointer).unwrap() = value;
        let _ = validate_spec(&spec, "fuzzed");
    }
}

#[test]
fn the_unmodified_example_is_valid() {
    assert!(validate_spec(&example_spec(), "semantic-search").is_ok());
}
