//! Evidently's segment rule patterns: compiling a pattern (a JSON object, as CreateSegment and
//! TestSegmentPattern receive it) and matching it against an `evaluationContext`.
//!
//! The language, as AWS documents it ("Segment rule pattern syntax"):
//! * `{"key": [v1, v2]}` — the context's `key` equals one of the values (several values: OR);
//!   several keys: AND; a nested object descends into a nested context object;
//! * values are JSON strings, numbers, `true`, `false` and `null`; `""` matches the empty
//!   string and `null` a present `null`;
//! * `{"prefix": "s"}`, `{"suffix": "s"}` (strings only);
//! * `{"anything-but": v}` / `{"anything-but": [v1, v2]}` (any present scalar except those),
//!   `{"anything-but": {"prefix": "s"}}`, `{"anything-but": {"suffix": "s"}}` (strings only);
//! * `{"numeric": ["=", 100]}`, `{"numeric": [">", 10, "<=", 20]}` (`=`, `<`, `<=`, `>`, `>=`;
//!   one or two comparisons, all must hold; the context value must be a JSON number);
//! * `{"exists": true}` / `{"exists": false}` (the key is present, with any value, or absent);
//! * `{"$or": [pattern, pattern, ...]}` — any of the sub-patterns matches (beside other keys: AND).
//!
//! Matching is exact and case-sensitive; context keys the pattern does not name are ignored;
//! a context value that is an array matches when one of its elements does. Literal numbers
//! compare by their JSON text, as AWS documents (`300`, `300.0` and `3.0e2` are three different
//! values); `numeric` compares as IEEE-754 doubles.
//!
//! Bounded cost: a pattern has at most [`MAX_PATTERN_CHARS`] characters and
//! [`MAX_DEPTH`] levels of nesting; a context at most [`MAX_DEPTH`] levels (deeper values are
//! kept opaque: a pattern cannot reach them) and arrays of at most [`MAX_CONTEXT_ARRAY`]
//! elements. Matching one context is then linear in the pattern's size times that array bound.
//! Nothing here panics on any input (see the property tests).
//!
//! Not here: where patterns are stored or which segment a launch uses (the emulator).

use std::collections::HashMap;

use serde_json::value::RawValue;

/// The model's limit on `SegmentPattern` (CreateSegment, TestSegmentPattern).
pub const MAX_PATTERN_CHARS: usize = 1024;
/// Levels of objects (and `$or`) in a pattern, and the depth to which a context is read.
pub const MAX_DEPTH: usize = 8;
/// Elements of one array in an evaluation context.
pub const MAX_CONTEXT_ARRAY: usize = 100;

/// Why a pattern or a context cannot be used: where (a path such as `Price[0].numeric`) and
/// what rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("at {path}: ") })]
pub struct PatternError {
    pub path: String,
    pub message: String,
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError {
        path: path.to_string(),
        message: message.into(),
    })
}

/// A JSON value as read from a pattern or a context: numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number {
        text: String,
        value: f64,
    },
    String(String),
    Array(Vec<Json>),
    Object(HashMap<String, Json>),
    /// A value nested deeper than [`MAX_DEPTH`] in a context: present, never matched.
    Opaque,
}

/// Reads `text` as one JSON document, keeping numbers' text. Values below `depth` levels are
/// [`Json::Opaque`] when `opaque_below` is set, an error otherwise.
fn read(text: &str, depth: usize, opaque_below: bool) -> Result<Json, PatternError> {
    let raw: &RawValue =
        serde_json::from_str(text).or_else(|e| err("", format!("not JSON: {e}")))?;
    convert(raw, &At::Root, depth, opaque_below)
}

fn convert(
    raw: &RawValue,
    at: &At<'_>,
    depth: usize,
    opaque_below: bool,
) -> Result<Json, PatternError> {
    let text = raw.get();
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    let nested = matches!(first, b'{' | b'[');
    if nested && depth == 0 {
        return if opaque_below {
            Ok(Json::Opaque)
        } else {
            err(
                &at.render(),
                format!("nested deeper than {MAX_DEPTH} levels"),
            )
        };
    }
    let invalid = |e: serde_json::Error| PatternError {
        path: at.render(),
        message: format!("not JSON: {e}"),
    };
    Ok(match first {
        b'{' => {
            let members: HashMap<String, &RawValue> =
                serde_json::from_str(text).map_err(invalid)?;
            let mut object = HashMap::with_capacity(members.len());
            for (key, value) in members {
                let v = convert(value, &At::Key(at, &key), depth - 1, opaque_below)?;
                object.insert(key, v);
            }
            Json::Object(object)
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid)?;
            if opaque_below && items.len() > MAX_CONTEXT_ARRAY {
                return err(
                    &at.render(),
                    format!("arrays of more than {MAX_CONTEXT_ARRAY} values are not supported"),
                );
            }
            let mut array = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                array.push(convert(item, &At::Index(at, i), depth - 1, opaque_below)?);
            }
            Json::Array(array)
        }
        b'"' => Json::String(serde_json::from_str(text).map_err(invalid)?),
        b't' => Json::Bool(true),
        b'f' => Json::Bool(false),
        b'n' => Json::Null,
        _ => {
            // RawValue only holds valid JSON, so this is a number; Rust's float syntax is a
            // superset of JSON's.
            let value = text.parse::<f64>().unwrap_or(f64::NAN);
            Json::Number {
                text: text.to_string(),
                value,
            }
        }
    })
}

/// Where [`convert`] is in a document: a chain to the root, written out only for an error (a
/// context is read on every evaluation; its paths are almost never needed).
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => join(&parent.render(), key),
            At::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// An evaluation context (EvaluateFeature's `evaluationContext`, TestSegmentPattern's
/// `payload`): a JSON object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    fields: HashMap<String, Json>,
}

impl Context {
    /// The empty context (an evaluation without `evaluationContext`).
    pub fn empty() -> Context {
        Context::default()
    }

    /// Reads a context; it must be a JSON object, without arrays longer than
    /// [`MAX_CONTEXT_ARRAY`]. Values nested deeper than [`MAX_DEPTH`] are kept but opaque.
    pub fn parse(text: &str) -> Result<Context, PatternError> {
        match read(text, MAX_DEPTH + 1, true)? {
            Json::Object(fields) => Ok(Context { fields }),
            _ => err("", "must be a JSON object"),
        }
    }
}

/// A literal value of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Null,
    Bool(bool),
    /// The number's JSON text.
    Number(String),
    String(String),
}

impl Literal {
    fn of(value: &Json) -> Option<Literal> {
        match value {
            Json::Null => Some(Literal::Null),
            Json::Bool(b) => Some(Literal::Bool(*b)),
            Json::Number { text, .. } => Some(Literal::Number(text.clone())),
            Json::String(s) => Some(Literal::String(s.clone())),
            _ => None,
        }
    }

    fn equals(&self, value: &Json) -> bool {
        match (self, value) {
            (Literal::Null, Json::Null) => true,
            (Literal::Bool(a), Json::Bool(b)) => a == b,
            (Literal::Number(a), Json::Number { text, .. }) => a == text,
            (Literal::String(a), Json::String(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    fn parse(op: &str) -> Option<Comparison> {
        Some(match op {
            "=" => Comparison::Eq,
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            ">" => Comparison::Gt,
            ">=" => Comparison::Ge,
            _ => return None,
        })
    }

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Comparison::Eq => value == bound,
            Comparison::Lt => value < bound,
            Comparison::Le => value <= bound,
            Comparison::Gt => value > bound,
            Comparison::Ge => value >= bound,
        }
    }
}

/// One element of a key's value list.
#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Equals(Literal),
    Prefix(String),
    Suffix(String),
    AnythingBut(Vec<Literal>),
    AnythingButPrefix(String),
    AnythingButSuffix(String),
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
}

impl Matcher {
    fn matches(&self, value: Option<&Json>) -> bool {
        match (self, value) {
            (Matcher::Exists(wanted), v) => *wanted == v.is_some(),
            (_, None) => false,
            (_, Some(Json::Array(items))) => items.iter().any(|item| self.matches_one(item)),
            (_, Some(v)) => self.matches_one(v),
        }
    }

    fn matches_one(&self, value: &Json) -> bool {
        match self {
            Matcher::Equals(literal) => literal.equals(value),
            Matcher::Prefix(p) => matches!(value, Json::String(s) if s.starts_with(p.as_str())),
            Matcher::Suffix(p) => matches!(value, Json::String(s) if s.ends_with(p.as_str())),
            Matcher::AnythingBut(excluded) => {
                Literal::of(value).is_some() && !excluded.iter().any(|l| l.equals(value))
            }
            Matcher::AnythingButPrefix(p) => {
                matches!(value, Json::String(s) if !s.starts_with(p.as_str()))
            }
            Matcher::AnythingButSuffix(p) => {
                matches!(value, Json::String(s) if !s.ends_with(p.as_str()))
            }
            Matcher::Numeric(conditions) => match value {
                Json::Number { value, .. } => conditions.iter().all(|(c, b)| c.holds(*value, *b)),
                _ => false,
            },
            Matcher::Exists(_) => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// The context's value must be an object matching this one (or, for `exists: false`
    /// inside, may be absent).
    Nested(Object),
    /// Any of these matches the context's value.
    AnyOf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Object {
    fields: Vec<(String, Field)>,
    /// Each `$or`: one of the alternatives must match.
    alternatives: Vec<Vec<Object>>,
}

impl Object {
    fn matches(&self, context: &HashMap<String, Json>) -> bool {
        self.fields.iter().all(|(key, field)| {
            let value = context.get(key);
            match field {
                Field::AnyOf(matchers) => matchers.iter().any(|m| m.matches(value)),
                Field::Nested(object) => match value {
                    Some(Json::Object(inner)) => object.matches(inner),
                    // Under a value that is not an object, no nested key exists.
                    _ => object.matches(&HashMap::new()),
                },
            }
        }) && self
            .alternatives
            .iter()
            .all(|alternatives| alternatives.iter().any(|o| o.matches(context)))
    }
}

/// A compiled segment pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Object,
}

impl Pattern {
    /// Compiles a pattern, or says which part of it is wrong and why.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let chars = text.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return err(
                "",
                format!("is {chars} characters long; at most {MAX_PATTERN_CHARS} are allowed"),
            );
        }
        match read(text, MAX_DEPTH, false)? {
            Json::Object(members) => Ok(Pattern {
                root: compile_object(&members, "")?,
            }),
            _ => err("", "must be a JSON object"),
        }
    }

    /// Whether the context is in the segment.
    pub fn matches(&self, context: &Context) -> bool {
        self.root.matches(&context.fields)
    }
}

fn compile_object(members: &HashMap<String, Json>, path: &str) -> Result<Object, PatternError> {
    let mut object = Object::default();
    // Sorted, so that errors and compiled forms do not depend on hash order.
    let mut keys: Vec<&String> = members.keys().collect();
    keys.sort();
    for key in keys {
        let value = &members[key];
        let at = join(path, key);
        if key == "$or" {
            let Json::Array(items) = value else {
                return err(&at, "$or needs an array of patterns");
            };
            if items.is_empty() {
                return err(&at, "$or needs at least one pattern");
            }
            let mut alternatives = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let item_at = format!("{at}[{i}]");
                let Json::Object(inner) = item else {
                    return err(&item_at, "each $or alternative must be a JSON object");
                };
                alternatives.push(compile_object(inner, &item_at)?);
            }
            object.alternatives.push(alternatives);
            continue;
        }
        let field = match value {
            Json::Object(inner) => Field::Nested(compile_object(inner, &at)?),
            Json::Array(items) => {
                if items.is_empty() {
                    return err(&at, "needs at least one value to match");
                }
                let mut matchers = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    matchers.push(compile_matcher(item, &format!("{at}[{i}]"))?);
                }
                Field::AnyOf(matchers)
            }
            _ => {
                return err(
                    &at,
                    "must be an array of values (e.g. [\"a\", \"b\"]) or a nested object",
                );
            }
        };
        object.fields.push((key.clone(), field));
    }
    Ok(object)
}

fn compile_matcher(item: &Json, path: &str) -> Result<Matcher, PatternError> {
    if let Some(literal) = Literal::of(item) {
        return Ok(Matcher::Equals(literal));
    }
    let Json::Object(operator) = item else {
        return err(
            path,
            "must be a string, number, true, false, null or an operator object",
        );
    };
    if operator.len() != 1 {
        return err(
            path,
            "an operator object has exactly one key (prefix, suffix, anything-but, numeric or exists)",
        );
    }
    let Some((name, argument)) = operator.iter().next() else {
        return err(path, "an operator object has exactly one key");
    };
    let at = join(path, name);
    match (name.as_str(), argument) {
        ("prefix", Json::String(s)) => Ok(Matcher::Prefix(s.clone())),
        ("suffix", Json::String(s)) => Ok(Matcher::Suffix(s.clone())),
        ("prefix" | "suffix", _) => err(&at, "needs a string"),
        ("exists", Json::Bool(b)) => Ok(Matcher::Exists(*b)),
        ("exists", _) => err(&at, "needs true or false"),
        ("anything-but", Json::Array(items)) => {
            if items.is_empty() {
                return err(&at, "needs at least one value");
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    Literal::of(v).ok_or_else(|| PatternError {
                        path: format!("{at}[{i}]"),
                        message: "must be a string, number, true, false or null".into(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Matcher::AnythingBut)
        }
        ("anything-but", Json::Object(inner)) => {
            match inner.iter().next().filter(|_| inner.len() == 1) {
                Some((op, Json::String(s))) if op == "prefix" => {
                    Ok(Matcher::AnythingButPrefix(s.clone()))
                }
                Some((op, Json::String(s))) if op == "suffix" => {
                    Ok(Matcher::AnythingButSuffix(s.clone()))
                }
                _ => err(
                    &at,
                    "as an object takes exactly {\"prefix\": string} or {\"suffix\": string}",
                ),
            }
        }
        ("anything-but", v) => match Literal::of(v) {
            Some(l) => Ok(Matcher::AnythingBut(vec![l])),
            None => err(
                &at,
                "needs a value, an array of values or a prefix/suffix object",
            ),
        },
        ("numeric", Json::Array(items)) => compile_numeric(items, &at),
        ("numeric", _) => err(&at, "needs an array such as [\">\", 10, \"<=\", 20]"),
        (other, _) => err(
            path,
            format!(
                "unknown operator '{other}' (known: prefix, suffix, anything-but, numeric, exists)"
            ),
        ),
    }
}

fn compile_numeric(items: &[Json], path: &str) -> Result<Matcher, PatternError> {
    if items.is_empty() || !items.len().is_multiple_of(2) || items.len() > 4 {
        return err(
            path,
            "needs one or two comparisons: [op, number] or [op, number, op, number]",
        );
    }
    let mut conditions = Vec::with_capacity(items.len() / 2);
    for (i, pair) in items.chunks(2).enumerate() {
        let Json::String(op) = &pair[0] else {
            return err(
                &format!("{path}[{}]", 2 * i),
                "must be one of =, <, <=, >, >=",
            );
        };
        let Some(comparison) = Comparison::parse(op) else {
            return err(
                &format!("{path}[{}]", 2 * i),
                format!("unknown comparison '{op}' (known: =, <, <=, >, >=)"),
            );
        };
        let bound = match &pair[1] {
            Json::Number { value, .. } if value.is_finite() => *value,
            _ => {
                return err(&format!("{path}[{}]", 2 * i + 1), "must be a finite number");
            }
        };
        conditions.push((comparison, bound));
    }
    Ok(Matcher::Numeric(conditions))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn test(pattern: &str, context: &str) -> bool {
        let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let c = Context::parse(context).unwrap_or_else(|e| panic!("{context}: {e}"));
        p.matches(&c)
    }

    /// Golden table: (pattern, context, match). One row per documented rule.
    const GOLDEN: &[(&str, &str, bool)] = &[
        // equals; case-sensitive; extra keys ignored
        (r#"{"Browser":["Chrome"]}"#, r#"{"Browser":"Chrome"}"#, true),
        (
            r#"{"Browser":["Chrome"]}"#,
            r#"{"Browser":"chrome"}"#,
            false,
        ),
        (
            r#"{"Browser":["Chrome"]}"#,
            r#"{"browser":"Chrome"}"#,
            false,
        ),
        (
            r#"{"Browser":["Chrome"]}"#,
            r#"{"Browser":"Chrome","Os":"Linux"}"#,
            true,
        ),
        (r#"{"Browser":["Chrome"]}"#, r#"{}"#, false),
        // several values: OR
        (r#"{"Pay":["Credit","Debit"]}"#, r#"{"Pay":"Debit"}"#, true),
        (r#"{"Pay":["Credit","Debit"]}"#, r#"{"Pay":"Cash"}"#, false),
        // several keys: AND
        (
            r#"{"City":["NY"],"Day":["Mon"]}"#,
            r#"{"City":"NY","Day":"Mon"}"#,
            true,
        ),
        (
            r#"{"City":["NY"],"Day":["Mon"]}"#,
            r#"{"City":"NY","Day":"Tue"}"#,
            false,
        ),
        // $or across keys
        (
            r#"{"$or":[{"City":["NY"]},{"Day":["Mon"]}]}"#,
            r#"{"Day":"Mon"}"#,
            true,
        ),
        (
            r#"{"$or":[{"City":["NY"]},{"Day":["Mon"]}]}"#,
            r#"{"City":"LA"}"#,
            false,
        ),
        (
            r#"{"Os":["Linux"],"$or":[{"City":["NY"]},{"Day":["Mon"]}]}"#,
            r#"{"Day":"Mon"}"#,
            false,
        ),
        // null and empty
        (r#"{"UserID":[null]}"#, r#"{"UserID":null}"#, true),
        (r#"{"UserID":[null]}"#, r#"{}"#, false),
        (r#"{"UserID":[null]}"#, r#"{"UserID":"null"}"#, false),
        (r#"{"LastName":[""]}"#, r#"{"LastName":""}"#, true),
        (r#"{"LastName":[""]}"#, r#"{"LastName":null}"#, false),
        // booleans
        (r#"{"Beta":[true]}"#, r#"{"Beta":true}"#, true),
        (r#"{"Beta":[true]}"#, r#"{"Beta":"true"}"#, false),
        // numbers compare by their text
        (r#"{"Price":[300]}"#, r#"{"Price":300}"#, true),
        (r#"{"Price":[300]}"#, r#"{"Price":300.0}"#, false),
        (r#"{"Price":[300.0]}"#, r#"{"Price":3.0e2}"#, false),
        (r#"{"Price":[300]}"#, r#"{"Price":"300"}"#, false),
        // prefix, suffix
        (
            r#"{"Name":[{"prefix":"Bob"}]}"#,
            r#"{"Name":"Bobby"}"#,
            true,
        ),
        (
            r#"{"Name":[{"prefix":"Bob"}]}"#,
            r#"{"Name":"bobby"}"#,
            false,
        ),
        (
            r#"{"Name":[{"suffix":"son"}]}"#,
            r#"{"Name":"Jackson"}"#,
            true,
        ),
        (r#"{"Name":[{"suffix":"son"}]}"#, r#"{"Name":5}"#, false),
        // anything-but
        (
            r#"{"Weather":[{"anything-but":["Raining"]}]}"#,
            r#"{"Weather":"Sunny"}"#,
            true,
        ),
        (
            r#"{"Weather":[{"anything-but":["Raining"]}]}"#,
            r#"{"Weather":"Raining"}"#,
            false,
        ),
        (
            r#"{"Weather":[{"anything-but":["Raining"]}]}"#,
            r#"{}"#,
            false,
        ),
        (
            r#"{"Weather":[{"anything-but":"Raining"}]}"#,
            r#"{"Weather":"Snow"}"#,
            true,
        ),
        (
            r#"{"Code":[{"anything-but":[1,2]}]}"#,
            r#"{"Code":3}"#,
            true,
        ),
        (
            r#"{"Code":[{"anything-but":[1,2]}]}"#,
            r#"{"Code":2}"#,
            false,
        ),
        (
            r#"{"Name":[{"anything-but":{"prefix":"test-"}}]}"#,
            r#"{"Name":"alice"}"#,
            true,
        ),
        (
            r#"{"Name":[{"anything-but":{"prefix":"test-"}}]}"#,
            r#"{"Name":"test-1"}"#,
            false,
        ),
        (
            r#"{"Name":[{"anything-but":{"suffix":".bot"}}]}"#,
            r#"{"Name":"a.bot"}"#,
            false,
        ),
        // numeric: comparisons and ranges
        (
            r#"{"Price":[{"numeric":["=",100]}]}"#,
            r#"{"Price":100.0}"#,
            true,
        ),
        (
            r#"{"Price":[{"numeric":["=",100]}]}"#,
            r#"{"Price":1e2}"#,
            true,
        ),
        (
            r#"{"Price":[{"numeric":[">",10,"<=",20]}]}"#,
            r#"{"Price":20}"#,
            true,
        ),
        (
            r#"{"Price":[{"numeric":[">",10,"<=",20]}]}"#,
            r#"{"Price":10}"#,
            false,
        ),
        (
            r#"{"Price":[{"numeric":[">",10,"<=",20]}]}"#,
            r#"{"Price":20.5}"#,
            false,
        ),
        (
            r#"{"Price":[{"numeric":["<",0]}]}"#,
            r#"{"Price":-0.5}"#,
            true,
        ),
        (
            r#"{"Price":[{"numeric":[">=",5]}]}"#,
            r#"{"Price":"6"}"#,
            false,
        ),
        // exists
        (
            r#"{"Product":[{"exists":true}]}"#,
            r#"{"Product":null}"#,
            true,
        ),
        (r#"{"Product":[{"exists":true}]}"#, r#"{}"#, false),
        (r#"{"Product":[{"exists":false}]}"#, r#"{}"#, true),
        (
            r#"{"Product":[{"exists":false}]}"#,
            r#"{"Product":"x"}"#,
            false,
        ),
        // nested objects
        (
            r#"{"Device":{"Os":["iOS"]}}"#,
            r#"{"Device":{"Os":"iOS","V":17}}"#,
            true,
        ),
        (r#"{"Device":{"Os":["iOS"]}}"#, r#"{"Device":"iOS"}"#, false),
        (r#"{"Device":{"Os":[{"exists":false}]}}"#, r#"{}"#, true),
        // a context array matches when one element does
        (r#"{"Tags":["beta"]}"#, r#"{"Tags":["alpha","beta"]}"#, true),
        (r#"{"Tags":["beta"]}"#, r#"{"Tags":["alpha"]}"#, false),
        // the empty pattern matches every context
        (r#"{}"#, r#"{"a":1}"#, true),
    ];

    #[test]
    fn golden_patterns_match_as_documented() {
        for (pattern, context, expected) in GOLDEN {
            assert_eq!(
                test(pattern, context),
                *expected,
                "pattern {pattern} on {context}"
            );
        }
    }

    #[test]
    fn invalid_patterns_name_the_place_and_the_rule() {
        let cases = [
            (r#"["a"]"#, "", "must be a JSON object"),
            (r#"{"a":"x"}"#, "a", "must be an array of values"),
            (r#"{"a":[]}"#, "a", "at least one value"),
            (r#"{"a":[["x"]]}"#, "a[0]", "operator object"),
            (
                r#"{"a":[{"regex":"x"}]}"#,
                "a[0]",
                "unknown operator 'regex'",
            ),
            (r#"{"a":[{"prefix":1}]}"#, "a[0].prefix", "needs a string"),
            (
                r#"{"a":[{"exists":"yes"}]}"#,
                "a[0].exists",
                "true or false",
            ),
            (
                r#"{"a":[{"numeric":[">"]}]}"#,
                "a[0].numeric",
                "one or two comparisons",
            ),
            (
                r#"{"a":[{"numeric":["~",1]}]}"#,
                "a[0].numeric[0]",
                "unknown comparison",
            ),
            (
                r#"{"a":[{"numeric":[">","1"]}]}"#,
                "a[0].numeric[1]",
                "finite number",
            ),
            (
                r#"{"a":[{"prefix":"x","suffix":"y"}]}"#,
                "a[0]",
                "exactly one key",
            ),
            (r#"{"$or":{}}"#, "$or", "array of patterns"),
            (r#"{"$or":[1]}"#, "$or[0]", "JSON object"),
            (
                r#"{"a":[{"anything-but":[]}]}"#,
                "a[0].anything-but",
                "at least one",
            ),
            (r#"{"a":"#, "", "not JSON"),
        ];
        for (pattern, path, message) in cases {
            let e = Pattern::parse(pattern).unwrap_err();
            assert_eq!(e.path, path, "{pattern}: {e}");
            assert!(e.message.contains(message), "{pattern}: {e}");
        }
    }

    #[test]
    fn patterns_are_limited_in_size_and_depth() {
        let long = format!(r#"{{"a":["{}"]}}"#, "x".repeat(MAX_PATTERN_CHARS));
        assert!(Pattern::parse(&long).unwrap_err().message.contains("1024"));
        let deep = format!(
            "{}[1]{}",
            r#"{"a":"#.repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        let e = Pattern::parse(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let ok = format!(
            "{}[1]{}",
            r#"{"a":"#.repeat(MAX_DEPTH - 1),
            "}".repeat(MAX_DEPTH - 1)
        );
        Pattern::parse(&ok).unwrap();
    }

    #[test]
    fn contexts_must_be_objects_with_bounded_arrays_and_deep_values_stay_opaque() {
        assert!(Context::parse("[1]").is_err());
        assert!(Context::parse("\"x\"").is_err());
        let big = format!(
            r#"{{"a":[{}]}}"#,
            vec!["1"; MAX_CONTEXT_ARRAY + 1].join(",")
        );
        assert!(Context::parse(&big).unwrap_err().message.contains("arrays"));
        let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        let c = Context::parse(&deep).unwrap();
        assert!(
            Pattern::parse(r#"{"a":[{"exists":true}]}"#)
                .unwrap()
                .matches(&c)
        );
    }

    /// Arbitrary JSON documents, as text, up to a few levels deep.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i32>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            "[a-zA-Z$ -]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            prop_oneof![
                Just("prefix"),
                Just("suffix"),
                Just("anything-but"),
                Just("numeric"),
                Just("exists"),
                Just("$or"),
                Just("="),
                Just(">"),
                Just("<=")
            ]
            .prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(6, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("a".to_string()),
                            Just("b".to_string()),
                            Just("$or".to_string()),
                            Just("prefix".to_string()),
                            Just("numeric".to_string()),
                            Just("anything-but".to_string()),
                            Just("exists".to_string()),
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| {
                    let members: Vec<String> = kv
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\":{v}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The fuzz: any JSON as a pattern and as a context; never a panic, and a pattern
        /// that compiles answers deterministically.
        #[test]
        fn arbitrary_patterns_and_contexts_never_panic(pattern in json_text(), context in json_text()) {
            if let (Ok(p), Ok(c)) = (Pattern::parse(&pattern), Context::parse(&context)) {
                prop_assert_eq!(p.matches(&c), p.matches(&c));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,64}") {
            let _ = Pattern::parse(&text);
            let _ = Context::parse(&text);
        }

        /// An equals pattern built from a context value matches that context, and only while
        /// the value is unchanged.
        #[test]
        fn an_equals_pattern_matches_its_own_value(key in "[a-zA-Z]{1,8}", value in "[ -~]{0,12}", other in "[ -~]{0,12}") {
            let pattern = serde_json::json!({ key.clone(): [value.clone()] }).to_string();
            let p = Pattern::parse(&pattern).unwrap();
            let same = serde_json::json!({ key.clone(): value.clone() }).to_string();
            prop_assert!(p.matches(&Context::parse(&same).unwrap()));
            let changed = serde_json::json!({ key: other.clone() }).to_string();
            prop_assert_eq!(p.matches(&Context::parse(&changed).unwrap()), other == value);
        }

        /// anything-but is the complement of equals on present strings.
        #[test]
        fn anything_but_is_the_complement_of_equals(value in "[a-c]{0,3}", context in "[a-c]{0,3}") {
            let eq = Pattern::parse(&serde_json::json!({"k": [value.clone()]}).to_string()).unwrap();
            let not = Pattern::parse(&serde_json::json!({"k": [{"anything-but": [value]}]}).to_string()).unwrap();
            let c = Context::parse(&serde_json::json!({"k": context}).to_string()).unwrap();
            prop_assert_ne!(eq.matches(&c), not.matches(&c));
        }

        /// A numeric range agrees with the comparisons it is made of.
        #[test]
        fn numeric_ranges_agree_with_arithmetic(low in -1000i32..1000, high in -1000i32..1000, x in -2000.0f64..2000.0) {
            let p = Pattern::parse(&serde_json::json!({"n": [{"numeric": [">", low, "<=", high]}]}).to_string()).unwrap();
            let c = Context::parse(&format!(r#"{{"n":{x}}}"#)).unwrap();
            prop_assert_eq!(p.matches(&c), x > f64::from(low) && x <= f64::from(high));
        }
    }
}
