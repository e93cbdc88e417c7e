//! `src/rules/model.rs` is generated from the Evidently Smithy model by this test, so the rules
//! never carry a hand-typed number. The test renders the table from the model and fails when
//! the committed file differs; `UPDATE_API_MODEL=1 cargo test --test api_model` rewrites it.
//!
//! The model is `evidently-2021-02-01.smithy.json` (Smithy 2.0 JSON AST, published by AWS in
//! `aws/api-models-aws`). It is looked up at `$EVIDENTLY_SMITHY_MODEL`, else at
//! `../shared/reference/` beside the repository.

use std::{collections::BTreeMap, fmt::Write as _, path::PathBuf};

use serde_json::Value;

const NAMESPACE: &str = "com.amazonaws.evidently#";
const GENERATED: &str = "src/rules/model.rs";

fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("EVIDENTLY_SMITHY_MODEL") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/evidently-2021-02-01.smithy.json")
}

fn load_model() -> Value {
    let path = model_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read the Evidently Smithy model at {}: {err}\n\
             Set EVIDENTLY_SMITHY_MODEL to a copy of evidently-2021-02-01.smithy.json \
             (aws/api-models-aws, evidently/service/2021-02-01/).",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the Smithy model is JSON")
}

fn short(target: &str) -> String {
    target.strip_prefix(NAMESPACE).unwrap_or(target).to_string()
}

fn bounds(v: &Value) -> String {
    let side = |k: &str| match v.get(k).and_then(Value::as_i64) {
        Some(n) => format!("Some({n})"),
        None => "None".into(),
    };
    format!(
        "Some(Bounds {{ min: {}, max: {} }})",
        side("min"),
        side("max")
    )
}

fn constraints(traits: Option<&Value>) -> String {
    let Some(t) = traits else {
        return "Constraints::NONE".into();
    };
    let length = t.get("smithy.api#length").map(bounds);
    let range = t.get("smithy.api#range").map(bounds);
    let pattern = t
        .get("smithy.api#pattern")
        .and_then(Value::as_str)
        .map(|p| format!("Some({p:?})"));
    let enums: Vec<String> = t
        .get("smithy.api#enum")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(|v| format!("{v:?}"))
                .collect()
        })
        .unwrap_or_default();
    if length.is_none() && range.is_none() && pattern.is_none() && enums.is_empty() {
        return "Constraints::NONE".into();
    }
    format!(
        "Constraints {{ length: {}, range: {}, pattern: {}, enum_values: &[{}] }}",
        length.unwrap_or_else(|| "None".into()),
        range.unwrap_or_else(|| "None".into()),
        pattern.unwrap_or_else(|| "None".into()),
        enums.join(", ")
    )
}

fn prelude_kind(target: &str) -> &'static str {
    match target {
        "smithy.api#String" => "Kind::String",
        "smithy.api#Integer" | "smithy.api#PrimitiveInteger" => "Kind::Integer",
        "smithy.api#Long" | "smithy.api#PrimitiveLong" => "Kind::Long",
        "smithy.api#Double" | "smithy.api#PrimitiveDouble" => "Kind::Double",
        "smithy.api#Boolean" | "smithy.api#PrimitiveBoolean" => "Kind::Boolean",
        "smithy.api#Timestamp" => "Kind::Timestamp",
        "smithy.api#Blob" => "Kind::Blob",
        "smithy.api#Document" => "Kind::Document",
        other => panic!("unsupported prelude shape {other}"),
    }
}

fn members(shape: &Value) -> String {
    let mut out = String::from("&[");
    let Some(members) = shape.get("members").and_then(Value::as_object) else {
        return "&[]".into();
    };
    for (name, member) in members {
        let traits = member.get("traits");
        let has = |t: &str| traits.and_then(|tr| tr.get(t)).is_some();
        let location = if has("smithy.api#httpLabel") {
            "Location::Label".to_string()
        } else if let Some(q) = traits
            .and_then(|tr| tr.get("smithy.api#httpQuery"))
            .and_then(Value::as_str)
        {
            format!("Location::Query({q:?})")
        } else {
            "Location::Body".to_string()
        };
        let target = short(member["target"].as_str().expect("member target"));
        write!(
            out,
            "\n        Member {{ name: {name:?}, target: {target:?}, required: {}, location: {location}, constraints: {} }},",
            has("smithy.api#required"),
            constraints(traits)
        )
        .unwrap();
    }
    out.push_str("\n    ]");
    out
}

/// Renders the whole generated file from the model.
fn render(model: &Value) -> String {
    let shapes = model["shapes"].as_object().expect("shapes");
    let get = |name: &str| -> Option<&Value> { shapes.get(&format!("{NAMESPACE}{name}")) };

    // Operations, and the closure of shapes reachable from their inputs.
    let mut operations = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    for (id, shape) in shapes {
        if shape["type"] == "operation" {
            let input = short(shape["input"]["target"].as_str().expect("operation input"));
            pending.push(input.clone());
            operations.insert(short(id), (shape, input));
        }
    }
    let mut reachable: BTreeMap<String, Option<&Value>> = BTreeMap::new();
    while let Some(name) = pending.pop() {
        if reachable.contains_key(&name) {
            continue;
        }
        let shape = get(&name);
        reachable.insert(name.clone(), shape);
        let Some(shape) = shape else { continue };
        let mut targets: Vec<&str> = Vec::new();
        for key in ["member", "key", "value"] {
            if let Some(t) = shape.get(key).and_then(|m| m["target"].as_str()) {
                targets.push(t);
            }
        }
        if let Some(ms) = shape.get("members").and_then(Value::as_object) {
            targets.extend(ms.values().filter_map(|m| m["target"].as_str()));
        }
        pending.extend(targets.into_iter().map(short));
    }

    let mut out = String::new();
    out.push_str(
        "//! GENERATED by `tests/api_model.rs` from the Evidently Smithy model\n\
         //! (evidently-2021-02-01.smithy.json); do not edit. Regenerate with\n\
         //! `UPDATE_API_MODEL=1 cargo test --test api_model`.\n\
         //!\n\
         //! Every shape reachable from an operation's input, sorted by name, and every operation.\n\n\
         use super::shape::*;\n\n",
    );
    out.push_str("pub static SHAPES: &[Shape] = &[\n");
    for (name, shape) in &reachable {
        let (kind, traits) = match shape {
            None => (prelude_kind(name).to_string(), None),
            Some(s) => {
                let kind = match s["type"].as_str().unwrap_or_default() {
                    "string" => "Kind::String".to_string(),
                    "integer" => "Kind::Integer".to_string(),
                    "long" => "Kind::Long".to_string(),
                    "double" => "Kind::Double".to_string(),
                    "boolean" => "Kind::Boolean".to_string(),
                    "timestamp" => "Kind::Timestamp".to_string(),
                    "blob" => "Kind::Blob".to_string(),
                    "document" => "Kind::Document".to_string(),
                    "list" => format!(
                        "Kind::List {{ member: {:?} }}",
                        short(s["member"]["target"].as_str().unwrap())
                    ),
                    "map" => format!(
                        "Kind::Map {{ key: {:?}, value: {:?} }}",
                        short(s["key"]["target"].as_str().unwrap()),
                        short(s["value"]["target"].as_str().unwrap())
                    ),
                    "structure" => format!("Kind::Structure {{ members: {} }}", members(s)),
                    "union" => format!("Kind::Union {{ members: {} }}", members(s)),
                    other => panic!("unsupported shape type {other} for {name}"),
                };
                (kind, s.get("traits"))
            }
        };
        writeln!(
            out,
            "    Shape {{ name: {name:?}, kind: {kind}, constraints: {} }},",
            constraints(traits)
        )
        .unwrap();
    }
    out.push_str("];\n\npub static OPERATIONS: &[Operation] = &[\n");
    for (name, (op, input)) in &operations {
        let http = &op["traits"]["smithy.api#http"];
        let errors: Vec<String> = op
            .get("errors")
            .and_then(Value::as_array)
            .map(|es| {
                es.iter()
                    .map(|e| format!("{:?}", short(e["target"].as_str().unwrap())))
                    .collect()
            })
            .unwrap_or_default();
        writeln!(
            out,
            "    Operation {{ name: {name:?}, method: {:?}, uri: {:?}, code: {}, input: {input:?}, errors: &[{}] }},",
            http["method"].as_str().unwrap(),
            http["uri"].as_str().unwrap(),
            http.get("code").and_then(Value::as_u64).unwrap_or(200),
            errors.join(", ")
        )
        .unwrap();
    }
    out.push_str("];\n");
    out
}

#[test]
fn generated_rules_table_matches_the_api_model() {
    let rendered = render(&load_model());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(GENERATED);
    if std::env::var_os("UPDATE_API_MODEL").is_some() {
        std::fs::write(&path, &rendered).expect("write generated table");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{GENERATED} is out of date with the API model; regenerate it with \
         `UPDATE_API_MODEL=1 cargo test --test api_model`"
    );
}
