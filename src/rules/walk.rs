//! The model-driven validator: walks a JSON value (the request as it travels on the wire) along
//! a shape of the generated table and reports every constraint it breaks, with AWS's wording.
//!
//! It checks member presence, JSON types, lengths, sizes, ranges, patterns and enums. It does
//! not know the cross-field rules (see `launch.rs`) and never stops at the first problem.

use std::{collections::HashMap, sync::OnceLock};

use regex::Regex;
use serde_json::Value;

use super::{
    Violation,
    model::SHAPES,
    shape::{Bounds, Constraints, Kind, Member, Shape},
};

/// Looks a shape up by name in the generated table.
pub fn shape(name: &str) -> Option<&'static Shape> {
    SHAPES
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &SHAPES[i])
}

/// The members of a structure shape (empty for any other kind).
pub fn members(shape_name: &str) -> &'static [Member] {
    match shape(shape_name).map(|s| s.kind) {
        Some(Kind::Structure { members }) => members,
        _ => &[],
    }
}

/// Validates `value` against the shape `shape_name`; `path` prefixes every reported field path.
pub fn validate_shape(shape_name: &str, value: &Value, path: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    match shape(shape_name) {
        Some(s) => walk(s, &Constraints::NONE, value, path, &mut out),
        None => out.push(Violation::new(path, format!("unknown shape {shape_name}"))),
    }
    out
}

/// Validates `input` against the shape `shape_name` and, when it decodes as `T`, against the
/// cross-field `rules` too: they run even when members are invalid, so that one report names
/// every problem. A decoding error is reported only when the model found nothing (its messages
/// say more).
pub fn validate_typed<T: serde::de::DeserializeOwned>(
    shape_name: &str,
    input: Value,
    rules: impl FnOnce(&T) -> Vec<Violation>,
) -> Result<T, Vec<Violation>> {
    let mut violations = validate_shape(shape_name, &input, "");
    match serde_json::from_value::<T>(input) {
        Ok(typed) => {
            violations.extend(rules(&typed));
            if violations.is_empty() {
                Ok(typed)
            } else {
                Err(violations)
            }
        }
        Err(e) if violations.is_empty() => Err(vec![Violation::new(
            "",
            format!("cannot parse the request: {e}"),
        )]),
        Err(_) => Err(violations),
    }
}

/// A model pattern compiled for Rust's `regex`, which has no look-ahead: a leading `^(?!lit)`
/// is checked as a forbidden prefix.
#[derive(Debug)]
struct Pattern {
    forbidden_prefix: Option<&'static str>,
    regex: Regex,
}

/// Splits a model pattern into one without look-ahead and a forbidden prefix: `^(?!lit)rest`
/// becomes (`^rest`, `lit`). Neither Rust's `regex` nor RE2 (which Kubernetes uses for CRD
/// patterns) has look-ahead; the model uses it only that way.
pub fn split_lookahead(source: &str) -> (String, Option<&str>) {
    if let Some(rest) = source.strip_prefix("^(?!")
        && let Some(end) = rest.find(')')
    {
        return (format!("^{}", &rest[end + 1..]), Some(&rest[..end]));
    }
    (source.to_string(), None)
}

impl Pattern {
    fn compile(source: &'static str) -> Result<Pattern, regex::Error> {
        let (regex, forbidden_prefix) = split_lookahead(source);
        Ok(Pattern {
            forbidden_prefix,
            regex: Regex::new(&regex)?,
        })
    }

    fn is_match(&self, s: &str) -> bool {
        self.forbidden_prefix.is_none_or(|p| !s.starts_with(p)) && self.regex.is_match(s)
    }
}

/// Every pattern of the model, compiled once. A pattern that does not compile is left out and
/// reported by `compiled_patterns_cover_the_model` in the tests, never at request time.
fn patterns() -> &'static HashMap<&'static str, Pattern> {
    static PATTERNS: OnceLock<HashMap<&'static str, Pattern>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        all_patterns()
            .filter_map(|p| Pattern::compile(p).ok().map(|c| (p, c)))
            .collect()
    })
}

/// Every pattern the model uses, on shapes and on members.
pub fn all_patterns() -> impl Iterator<Item = &'static str> {
    SHAPES.iter().flat_map(|s| {
        let member_patterns: Vec<&'static str> = match s.kind {
            Kind::Structure { members } | Kind::Union { members } => members
                .iter()
                .filter_map(|m| m.constraints.pattern)
                .collect(),
            _ => Vec::new(),
        };
        s.constraints.pattern.into_iter().chain(member_patterns)
    })
}

/// Whether the model pattern `source` compiled (all of them must; a test checks).
pub fn pattern_compiles(source: &str) -> bool {
    patterns().contains_key(source)
}

/// Whether `s` satisfies the model pattern `source`.
pub fn matches_pattern(source: &'static str, s: &str) -> bool {
    patterns().get(source).is_some_and(|p| p.is_match(s))
}

/// The constraints a structure's string member puts on its value, resolved once: for callers
/// that read a few members straight from a request body and need to know, without a JSON tree,
/// whether the walk would report anything (a hot path checks with [`StringRule::fits`] and
/// leaves every refusal, with its wording, to [`validate_shape`]).
#[derive(Debug, Clone, Copy)]
pub struct StringRule {
    constraints: Constraints,
    pattern: Option<&'static Pattern>,
}

impl StringRule {
    /// The rule of `member` of the structure `structure`; none when the model has no such
    /// string member.
    pub fn of(structure: &str, member: &str) -> Option<StringRule> {
        let m = members(structure).iter().find(|m| m.name == member)?;
        let target = shape(m.target).filter(|t| matches!(t.kind, Kind::String))?;
        let constraints = target.constraints.overridden_by(&m.constraints);
        let pattern = match constraints.pattern {
            Some(p) => Some(patterns().get(p)?),
            None => None,
        };
        Some(StringRule {
            constraints,
            pattern,
        })
    }

    /// Whether `s` meets every constraint (the walk reports nothing for it).
    pub fn fits(&self, s: &str) -> bool {
        let c = &self.constraints;
        let length_fits = c.length.is_none_or(|b| {
            let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
            b.min.is_none_or(|min| len >= min) && b.max.is_none_or(|max| len <= max)
        });
        length_fits
            && self.pattern.is_none_or(|p| p.is_match(s))
            && (c.enum_values.is_empty() || c.enum_values.contains(&s))
    }
}

fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// How a value is quoted in a message: strings as they are, collections by their size.
fn show(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{} items]", items.len()),
        Value::Object(entries) => format!("{{{} entries}}", entries.len()),
        other => other.to_string(),
    })
}

fn check_length(
    len: usize,
    bounds: Option<Bounds>,
    value: &Value,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let Some(b) = bounds else { return };
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if let Some(max) = b.max
        && len > max
    {
        out.push(Violation::with_value(
            path,
            format!("Member must have length less than or equal to {max}"),
            show(value),
        ));
    }
    if let Some(min) = b.min
        && len < min
    {
        out.push(Violation::with_value(
            path,
            format!("Member must have length greater than or equal to {min}"),
            show(value),
        ));
    }
}

fn check_range(
    n: f64,
    bounds: Option<Bounds>,
    value: &Value,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let Some(b) = bounds else { return };
    if let Some(max) = b.max
        && n > max as f64
    {
        out.push(Violation::with_value(
            path,
            format!("Member must have value less than or equal to {max}"),
            show(value),
        ));
    }
    if let Some(min) = b.min
        && n < min as f64
    {
        out.push(Violation::with_value(
            path,
            format!("Member must have value greater than or equal to {min}"),
            show(value),
        ));
    }
}

fn check_string(s: &str, c: &Constraints, value: &Value, path: &str, out: &mut Vec<Violation>) {
    check_length(s.chars().count(), c.length, value, path, out);
    if let Some(p) = c.pattern
        && !matches_pattern(p, s)
    {
        out.push(Violation::with_value(
            path,
            format!("Member must satisfy regular expression pattern: {p}"),
            show(value),
        ));
    }
    if !c.enum_values.is_empty() && !c.enum_values.contains(&s) {
        out.push(Violation::with_value(
            path,
            format!(
                "Member must satisfy enum value set: [{}]",
                c.enum_values.join(", ")
            ),
            show(value),
        ));
    }
}

fn type_error(path: &str, expected: &str, value: &Value, out: &mut Vec<Violation>) {
    out.push(Violation::with_value(
        path,
        format!("Member must be {expected}"),
        show(value),
    ));
}

fn walk(shape: &Shape, member: &Constraints, value: &Value, path: &str, out: &mut Vec<Violation>) {
    let c = shape.constraints.overridden_by(member);
    match shape.kind {
        Kind::String => match value.as_str() {
            Some(s) => check_string(s, &c, value, path, out),
            None => type_error(path, "a string", value, out),
        },
        Kind::Integer | Kind::Long => {
            if value.is_i64() || value.is_u64() {
                check_range(
                    value.as_f64().unwrap_or_default(),
                    c.range,
                    value,
                    path,
                    out,
                );
            } else {
                type_error(path, "an integer", value, out);
            }
        }
        Kind::Double => match value.as_f64() {
            Some(n) => check_range(n, c.range, value, path, out),
            None => type_error(path, "a number", value, out),
        },
        Kind::Timestamp => {
            if !value.is_number() {
                type_error(path, "a timestamp in epoch seconds", value, out);
            }
        }
        Kind::Boolean => {
            if !value.is_boolean() {
                type_error(path, "a boolean", value, out);
            }
        }
        Kind::Blob | Kind::Document => {}
        Kind::List { member: item } => match value.as_array() {
            Some(items) => {
                check_length(items.len(), c.length, value, path, out);
                if let Some(item_shape) = self::shape(item) {
                    for (i, v) in items.iter().enumerate() {
                        walk(
                            item_shape,
                            &Constraints::NONE,
                            v,
                            &format!("{path}[{i}]"),
                            out,
                        );
                    }
                }
            }
            None => type_error(path, "a list", value, out),
        },
        Kind::Map {
            key,
            value: value_shape,
        } => match value.as_object() {
            Some(entries) => {
                check_length(entries.len(), c.length, value, path, out);
                let key_shape = self::shape(key);
                let value_shape = self::shape(value_shape);
                for (k, v) in entries {
                    let entry_path = format!("{path}[{k}]");
                    if let Some(ks) = key_shape {
                        let key_value = Value::String(k.clone());
                        check_string(k, &ks.constraints, &key_value, &entry_path, out);
                    }
                    if let Some(vs) = value_shape {
                        walk(vs, &Constraints::NONE, v, &entry_path, out);
                    }
                }
            }
            None => type_error(path, "a map", value, out),
        },
        Kind::Structure { members } => match value.as_object() {
            Some(object) => {
                for m in members {
                    let member_path = field(path, m.name);
                    match object.get(m.name) {
                        None | Some(Value::Null) => {
                            if m.required {
                                out.push(Violation::new(&member_path, "Member must not be null"));
                            }
                        }
                        Some(v) => match self::shape(m.target) {
                            Some(target) => walk(target, &m.constraints, v, &member_path, out),
                            None => out.push(Violation::new(&member_path, "unknown member type")),
                        },
                    }
                }
            }
            None => type_error(path, "a structure", value, out),
        },
        Kind::Union { members } => match value.as_object() {
            Some(object) => {
                let set: Vec<&Member> = members
                    .iter()
                    .filter(|m| object.get(m.name).is_some_and(|v| !v.is_null()))
                    .collect();
                if set.len() != 1 {
                    let names: Vec<&str> = members.iter().map(|m| m.name).collect();
                    out.push(Violation::new(
                        path,
                        format!("Member must set exactly one of: {}", names.join(", ")),
                    ));
                }
                for m in set {
                    if let Some(target) = self::shape(m.target) {
                        walk(
                            target,
                            &m.constraints,
                            &object[m.name],
                            &field(path, m.name),
                            out,
                        );
                    }
                }
            }
            None => type_error(path, "a structure", value, out),
        },
    }
}

/// Fields of `value` that the shape does not define (typos such as `groupWeight`), recursively.
/// `extra_root_fields` are allowed at the top level in addition to the shape's members.
pub fn unknown_fields(
    shape_name: &str,
    value: &Value,
    path: &str,
    extra_root_fields: &[&str],
) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(s) = shape(shape_name) {
        unknown_in(s, value, path, extra_root_fields, &mut out);
    }
    out
}

fn unknown_in(shape: &Shape, value: &Value, path: &str, extra: &[&str], out: &mut Vec<Violation>) {
    match (shape.kind, value) {
        (Kind::Structure { members } | Kind::Union { members }, Value::Object(object)) => {
            for (k, v) in object {
                match members.iter().find(|m| m.name == k) {
                    Some(m) => {
                        if let Some(target) = self::shape(m.target) {
                            unknown_in(target, v, &field(path, k), &[], out);
                        }
                    }
                    None if extra.contains(&k.as_str()) => {}
                    None => out.push(Violation::new(&field(path, k), "unknown field")),
                }
            }
        }
        (Kind::List { member }, Value::Array(items)) => {
            if let Some(item) = self::shape(member) {
                for (i, v) in items.iter().enumerate() {
                    unknown_in(item, v, &format!("{path}[{i}]"), &[], out);
                }
            }
        }
        (
            Kind::Map {
                value: value_shape, ..
            },
            Value::Object(entries),
        ) => {
            if let Some(vs) = self::shape(value_shape) {
                for (k, v) in entries {
                    unknown_in(vs, v, &format!("{path}[{k}]"), &[], out);
                }
            }
        }
        _ => {}
    }
}
