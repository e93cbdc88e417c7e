//! `launch-operator validate`: offline checking of manifest files, for CI pipelines before a
//! manifest reaches Git or a cluster.
//!
//! Reads files, directories and standard input, splits multi-document YAML (and `kind: List`),
//! and checks every `Project`, `Feature`, `Segment` and `Launch` with the same functions the
//! controller runs (`Managed::validate`). It does not contact a cluster and does not evaluate the CRD's CEL rules separately:
//! the rules module enforces the same rules.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde::Deserialize;
use serde_json::Value;

use crate::{
    crd::{API_VERSION, Feature, GROUP, Launch, Project, Segment, schema::KINDS},
    kinds::Managed,
    rules::Violation,
};

/// Checks a spec (as JSON) of an object of the given name.
type Validator = fn(&Value, &str) -> Result<(), Vec<Violation>>;

/// The check of one kind's spec.
fn validator(kind: &str) -> Option<Validator> {
    fn check<K: Managed>(spec: &Value, name: &str) -> Result<(), Vec<Violation>> {
        K::validate(spec, name).map(|_| ())
    }
    Some(match kind {
        "Project" => check::<Project>,
        "Feature" => check::<Feature>,
        "Segment" => check::<Segment>,
        "Launch" => check::<Launch>,
        _ => return None,
    })
}

/// One problem in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `file:document`, with `items[i]` for entries of a `kind: List`.
    pub location: String,
    /// `field: rule`, or a parse error.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.detail)
    }
}

/// What checking some manifests found.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Problem>,
    /// Documents that are not resources of this operator, as `location: apiVersion kind`.
    pub skipped: Vec<String>,
    /// Documents checked (resources of this operator, of any kind).
    pub checked: usize,
    pub files: usize,
}

/// Runs the command: prints problems to stdout and a summary to stderr.
pub fn run(paths: &[PathBuf]) -> ExitCode {
    let report = check_paths(paths);
    for p in &report.problems {
        println!("{p}");
    }
    for s in &report.skipped {
        eprintln!("{s}: skipped (not a {GROUP} resource)");
    }
    eprintln!(
        "checked {} manifest(s) ({}) in {} file(s): {} problem(s)",
        report.checked,
        KINDS.join(", "),
        report.files,
        report.problems.len()
    );
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Checks files, directories (recursively, `*.yaml`, `*.yml`, `*.json`) and `-` (stdin).
pub fn check_paths(paths: &[PathBuf]) -> Report {
    let mut report = Report::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => check_text("<stdin>", &text, &mut report),
                Err(e) => report.problems.push(Problem {
                    location: "<stdin>".into(),
                    detail: format!("cannot read: {e}"),
                }),
            }
            report.files += 1;
            continue;
        }
        let mut files = Vec::new();
        if let Err(e) = collect(path, &mut files, true) {
            report.problems.push(Problem {
                location: path.display().to_string(),
                detail: format!("cannot read: {e}"),
            });
        }
        for file in files {
            report.files += 1;
            match std::fs::read_to_string(&file) {
                Ok(text) => check_text(&file.display().to_string(), &text, &mut report),
                Err(e) => report.problems.push(Problem {
                    location: file.display().to_string(),
                    detail: format!("cannot read: {e}"),
                }),
            }
        }
    }
    report
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Files named explicitly are checked whatever their extension; inside directories only
/// manifest extensions are, in sorted order.
fn collect(path: &Path, out: &mut Vec<PathBuf>, explicit: bool) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            collect(&entry, out, false)?;
        }
    } else if explicit || is_manifest(path) {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Checks every document of one file's text.
pub fn check_text(name: &str, text: &str, report: &mut Report) {
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let location = format!("{name}:{index}");
        let yaml = match serde_yaml::Value::deserialize(document) {
            Ok(v) => v,
            Err(e) => {
                let at = e
                    .location()
                    .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                    .unwrap_or_default();
                report.problems.push(Problem {
                    location,
                    detail: format!("cannot parse YAML{at}: {e}"),
                });
                // The stream cannot be resumed after a syntax error.
                return;
            }
        };
        match serde_json::to_value(&yaml) {
            Ok(value) => check_document(&location, &value, report),
            Err(e) => report.problems.push(Problem {
                location,
                detail: format!("not a Kubernetes object: {e}"),
            }),
        }
    }
}

fn check_document(location: &str, doc: &Value, report: &mut Report) {
    if doc.is_null() {
        return;
    }
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "List" && api_version == "v1" {
        for (i, item) in doc
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            check_document(&format!("{location}:items[{i}]"), item, report);
        }
        return;
    }
    let is_our_group = api_version.split('/').next() == Some(GROUP);
    let check = validator(kind).filter(|_| is_our_group);
    let Some(check) = check else {
        let what = if doc.is_object() {
            format!("{api_version} {kind}").trim().to_string()
        } else {
            "not an object".to_string()
        };
        report.skipped.push(format!("{location}: {what}"));
        return;
    };
    report.checked += 1;
    let mut push = |detail: String| {
        report.problems.push(Problem {
            location: location.to_string(),
            detail,
        })
    };
    if api_version != API_VERSION {
        push(format!(
            "apiVersion: unsupported version {api_version:?}; this operator serves {API_VERSION}"
        ));
        return;
    }
    let name = doc.pointer("/metadata/name").and_then(Value::as_str);
    if name.is_none_or(str::is_empty) {
        push("metadata.name: Member must not be null".into());
    }
    match doc.get("spec") {
        None | Some(Value::Null) => push("spec: Member must not be null".into()),
        Some(spec) => {
            if let Err(violations) = check(spec, name.unwrap_or_default()) {
                for v in violations {
                    push(v.to_string());
                }
            }
        }
    }
}
