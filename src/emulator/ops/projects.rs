//! CreateProject, GetProject, ListProjects, UpdateProject, UpdateProjectDataDelivery,
//! DeleteProject (refused while features or launches are left, naming them).
//!
//! Project counters (`featureCount`, `launchCount`, `activeLaunchCount`) are counted at read
//! time; experiments are not emulated, so their counters are always 0.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    PageRequest, Reply, check_quota, load, page, require_project, save, tag_violations, with_token,
};
use crate::{
    emulator::{
        arn::Arns,
        error::{self, ApiError},
        resources::{Project, Tags, now},
        store::{Key, Kind, Reader, Tx},
    },
    rules::LaunchStatus,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProjectInput {
    pub name: String,
    pub description: Option<String>,
    pub data_delivery: Option<Value>,
    pub app_config_resource: Option<Value>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInput {
    pub project: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProjectInput {
    pub project: String,
    pub description: Option<String>,
    pub app_config_resource: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDataDeliveryInput {
    pub project: String,
    pub s3_destination: Option<Value>,
    pub cloud_watch_logs: Option<Value>,
}

/// The response's `ProjectAppConfigResource` requires a configuration profile id that the
/// request's config cannot carry; the emulator makes one up.
fn app_config(config: Option<Value>) -> Option<Value> {
    config.map(|mut c| {
        if c.get("configurationProfileId").is_none() {
            let id: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .take(7)
                .collect();
            c["configurationProfileId"] = Value::String(id);
        }
        c
    })
}

/// The project as GetProject returns it (with counters), or as a ListProjects summary.
fn view(r: &dyn Reader, project: &Project, summary: bool) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(project).map_err(crate::emulator::store::StoreError::from)?;
    let p = project.name.as_str();
    v["featureCount"] = r.count(Kind::Feature, p, None)?.into();
    v["launchCount"] = r.count(Kind::Launch, p, None)?.into();
    v["activeLaunchCount"] = r
        .count(Kind::Launch, p, Some(LaunchStatus::Running.as_str()))?
        .into();
    v["experimentCount"] = 0.into();
    v["activeExperimentCount"] = 0.into();
    if summary && let Some(o) = v.as_object_mut() {
        o.remove("dataDelivery");
        o.remove("appConfigResource");
    }
    Ok(v)
}

pub fn create(tx: &mut dyn Tx, arns: &Arns, input: CreateProjectInput) -> Result<Reply, ApiError> {
    let tags = input.tags.unwrap_or_default();
    let violations = tag_violations(&tags, "tags");
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let key = Key::new(Kind::Project, "", &input.name);
    let arn = arns.project(&input.name);
    if tx.get(&key)?.is_some() {
        return Err(ApiError::conflict(
            Kind::Project,
            &arn,
            format!("Project with arn '{arn}' already exists."),
        ));
    }
    check_quota(
        tx.count(Kind::Project, "", None)?,
        error::PROJECTS,
        Kind::Project,
        arn.clone(),
    )?;
    let t = now();
    let project = Project {
        arn,
        name: input.name,
        status: "AVAILABLE".into(),
        description: input.description,
        created_time: t,
        last_updated_time: t,
        data_delivery: input.data_delivery,
        app_config_resource: app_config(input.app_config_resource),
        tags,
    };
    save(tx, &key, None, &project)?;
    Reply::json(&json!({"project": view(tx, &project, false)?}))
}

pub fn get(r: &dyn Reader, arns: &Arns, input: ProjectInput) -> Result<Reply, ApiError> {
    let name = arns.project_name(&input.project)?;
    let project = require_project(r, arns, &name)?;
    Reply::json(&json!({"project": view(r, &project, false)?}))
}

pub fn list(r: &dyn Reader, _arns: &Arns, input: PageRequest) -> Result<Reply, ApiError> {
    let (records, next) = page(r, Kind::Project, "", None, &input, 50)?;
    let mut projects = Vec::with_capacity(records.len());
    for record in records {
        let project: Project =
            serde_json::from_str(&record.doc).map_err(crate::emulator::store::StoreError::from)?;
        projects.push(view(r, &project, true)?);
    }
    Reply::json(&with_token(json!({"projects": projects}), next))
}

pub fn update(tx: &mut dyn Tx, arns: &Arns, input: UpdateProjectInput) -> Result<Reply, ApiError> {
    let name = arns.project_name(&input.project)?;
    let mut project = require_project(tx, arns, &name)?;
    if let Some(d) = input.description {
        project.description = Some(d);
    }
    if input.app_config_resource.is_some() {
        project.app_config_resource = app_config(input.app_config_resource);
    }
    project.last_updated_time = now();
    save(tx, &Key::new(Kind::Project, "", &name), None, &project)?;
    Reply::json(&json!({"project": view(tx, &project, false)?}))
}

/// UpdateProjectDataDelivery: the destinations given replace the project's (none given: the
/// project keeps no data delivery).
pub fn update_data_delivery(
    tx: &mut dyn Tx,
    arns: &Arns,
    input: UpdateDataDeliveryInput,
) -> Result<Reply, ApiError> {
    let name = arns.project_name(&input.project)?;
    let mut project = require_project(tx, arns, &name)?;
    let mut delivery = serde_json::Map::new();
    if let Some(s3) = input.s3_destination {
        delivery.insert("s3Destination".into(), s3);
    }
    if let Some(cw) = input.cloud_watch_logs {
        delivery.insert("cloudWatchLogs".into(), cw);
    }
    project.data_delivery = (!delivery.is_empty()).then_some(Value::Object(delivery));
    project.last_updated_time = now();
    save(tx, &Key::new(Kind::Project, "", &name), None, &project)?;
    Reply::json(&json!({"project": view(tx, &project, false)?}))
}

/// The names of up to ten resources of `kind` in project `name`, for messages.
fn some_names(r: &dyn Reader, kind: Kind, name: &str) -> Result<Vec<String>, ApiError> {
    let request = PageRequest {
        max_results: Some(10),
        next_token: None,
    };
    let (records, next) = page(r, kind, name, None, &request, 10)?;
    let mut names: Vec<String> = records.into_iter().map(|r| r.name).collect();
    if next.is_some() {
        names.push("...".into());
    }
    Ok(names)
}

pub fn delete(tx: &mut dyn Tx, arns: &Arns, input: ProjectInput) -> Result<Reply, ApiError> {
    let name = arns.project_name(&input.project)?;
    let key = Key::new(Kind::Project, "", &name);
    if load::<Project>(tx, &key)?.is_none() {
        return Err(ApiError::not_found(Kind::Project, arns.project(&name)));
    }
    if tx.count(Kind::Feature, &name, None)? + tx.count(Kind::Launch, &name, None)? > 0 {
        let mut held = Vec::new();
        for (kind, what) in [(Kind::Feature, "feature(s)"), (Kind::Launch, "launch(es)")] {
            let names = some_names(tx, kind, &name)?;
            if !names.is_empty() {
                held.push(format!("{what}: {}", names.join(", ")));
            }
        }
        return Err(ApiError::conflict(
            Kind::Project,
            arns.project(&name),
            format!("Project has sub-resources: {}.", held.join("; ")),
        ));
    }
    tx.delete(&key)?;
    Ok(Reply::empty())
}
