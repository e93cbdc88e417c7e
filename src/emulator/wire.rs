//! The restJson1 request side: which operation a request is (method + raw path, with the URI
//! templates taken from the API model), and its input as one JSON object (path labels, query
//! parameters and body members under their model member names), ready for the rules module.
//!
//! Labels are split on `/` *before* percent-decoding, so a project ARN (`arn%3A...%2F...`) is
//! one label. Query values are percent-decoded only (`+` stays `+`: both SDKs encode spaces as
//! `%20`). The body is ignored for operations whose input has no body member; otherwise an
//! empty body means `{}`, and `Content-Type` is never looked at. No validation beyond "is it
//! JSON" happens here.

use std::sync::OnceLock;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::error::{ApiError, ValidationReason};
use crate::rules::{
    self,
    model::OPERATIONS,
    shape::{Kind, Location, Operation},
};

enum Part {
    Literal(&'static str),
    Label(&'static str),
}

struct Route {
    op: &'static Operation,
    parts: Vec<Part>,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        OPERATIONS
            .iter()
            .map(|op| Route {
                op,
                parts: op
                    .uri
                    .trim_start_matches('/')
                    .split('/')
                    .map(
                        |p| match p.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
                            Some(label) => Part::Label(label),
                            None => Part::Literal(p),
                        },
                    )
                    .collect(),
            })
            .collect()
    })
}

/// A request matched to an operation of the model.
#[derive(Debug)]
pub struct Matched {
    pub op: &'static Operation,
    /// Decoded path labels, by member name.
    pub labels: Vec<(&'static str, String)>,
}

impl Matched {
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

fn unknown_operation(method: &str, path: &str) -> ApiError {
    ApiError::validation(
        ValidationReason::UnknownOperation,
        format!("No Evidently operation matches {method} {path}."),
    )
}

/// Finds the operation for `method` and the raw (still percent-encoded) `path`.
pub fn route(method: &str, path: &str) -> Result<Matched, ApiError> {
    let raw: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(&Route, usize)> = None;
    for r in routes() {
        if r.op.method != method || r.parts.len() != raw.len() {
            continue;
        }
        let fits = r.parts.iter().zip(&raw).all(|(part, segment)| match part {
            Part::Literal(l) => l == segment,
            Part::Label(_) => !segment.is_empty(),
        });
        let literals = r
            .parts
            .iter()
            .filter(|p| matches!(p, Part::Literal(_)))
            .count();
        if fits && best.is_none_or(|(_, n)| literals > n) {
            best = Some((r, literals));
        }
    }
    let Some((r, _)) = best else {
        return Err(unknown_operation(method, path));
    };
    let mut labels = Vec::new();
    for (part, segment) in r.parts.iter().zip(&raw) {
        if let Part::Label(name) = part {
            labels.push((*name, decode(segment, name)?));
        }
    }
    Ok(Matched { op: r.op, labels })
}

fn decode(s: &str, what: &str) -> Result<String, ApiError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            ApiError::validation(
                ValidationReason::CannotParse,
                format!("'{what}' is not valid percent-encoded UTF-8."),
            )
        })
}

/// Whether the operation's input has members that travel in the body.
pub fn has_body_members(op: &Operation) -> bool {
    rules::members(op.input)
        .iter()
        .any(|m| m.location == Location::Body)
}

/// The operation's whole input as one JSON object: the body's members, then the query
/// parameters and path labels of the model under their member names.
pub fn input(matched: &Matched, query: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    let mut object = if has_body_members(matched.op) {
        parse_body(body)?
    } else {
        Map::new()
    };
    let pairs = parse_query(query.unwrap_or_default())?;
    for m in rules::members(matched.op.input) {
        match m.location {
            Location::Body => {}
            Location::Label => {
                object.insert(
                    m.name.to_string(),
                    Value::String(matched.label(m.name).to_string()),
                );
            }
            Location::Query(key) => {
                let values: Vec<&String> = pairs
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v)
                    .collect();
                if let Some(v) = query_value(m.target, &values) {
                    object.insert(m.name.to_string(), v);
                }
            }
        }
    }
    Ok(Value::Object(object))
}

/// A query parameter as the JSON value its target shape expects. A number that does not parse
/// stays a string, for the validator to report.
fn query_value(target: &str, values: &[&String]) -> Option<Value> {
    let first = values.first()?;
    Some(match rules::shape(target).map(|s| s.kind) {
        Some(Kind::List { .. }) => values.iter().map(|v| Value::String((*v).clone())).collect(),
        Some(Kind::Integer | Kind::Long) => first
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String((*first).clone())),
        _ => Value::String((*first).clone()),
    })
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::validation(
            ValidationReason::CannotParse,
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::validation(
            ValidationReason::CannotParse,
            format!("The request body is not valid JSON: {e}."),
        )),
    }
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k, "query")?, decode(v, k)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_project_arn_label_is_decoded_after_splitting() {
        let m = route(
            "GET",
            "/projects/arn%3Aaws%3Aevidently%3Aus-east-1%3A123456789012%3Aproject%2Fp/launches/l",
        )
        .unwrap();
        assert_eq!(m.op.name, "GetLaunch");
        assert_eq!(
            m.label("project"),
            "arn:aws:evidently:us-east-1:123456789012:project/p"
        );
        assert_eq!(m.label("launch"), "l");
    }

    #[test]
    fn stop_launch_is_post_cancel() {
        assert_eq!(
            route("POST", "/projects/p/launches/l/cancel")
                .unwrap()
                .op
                .name,
            "StopLaunch"
        );
    }

    #[test]
    fn unknown_paths_wrong_methods_and_empty_labels_are_unknown_operations() {
        for (method, path) in [
            ("GET", "/nope"),
            ("PUT", "/projects"),
            ("GET", "/projects/"),
            ("GET", "/projects//launches"),
        ] {
            let err = route(method, path).unwrap_err();
            assert!(
                matches!(
                    err,
                    ApiError::Validation {
                        reason: ValidationReason::UnknownOperation,
                        ..
                    }
                ),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn query_parameters_become_typed_members() {
        let m = route("GET", "/projects/p/launches").unwrap();
        let v = input(&m, Some("maxResults=2&status=RUNNING&nextToken=a%2Bb"), b"").unwrap();
        assert_eq!(
            v,
            json!({"project": "p", "maxResults": 2, "status": "RUNNING", "nextToken": "a+b"})
        );
        let m = route("DELETE", "/tags/arn").unwrap();
        let v = input(&m, Some("tagKeys=a&tagKeys=b"), b"").unwrap();
        assert_eq!(v["tagKeys"], json!(["a", "b"]));
    }

    #[test]
    fn an_empty_body_is_an_empty_object_and_bodies_of_get_are_ignored() {
        let m = route("POST", "/projects/p/launches/l/cancel").unwrap();
        assert_eq!(
            input(&m, None, b"").unwrap(),
            json!({"project": "p", "launch": "l"})
        );
        let m = route("GET", "/projects/p").unwrap();
        assert_eq!(
            input(&m, None, b"{not json").unwrap(),
            json!({"project": "p"})
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_cannot_be_parsed() {
        let m = route("POST", "/projects").unwrap();
        for body in [&b"{"[..], b"[1]", b"\"x\""] {
            assert!(matches!(
                input(&m, None, body),
                Err(ApiError::Validation {
                    reason: ValidationReason::CannotParse,
                    ..
                })
            ));
        }
    }
}
