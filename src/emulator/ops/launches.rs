//! CreateLaunch, GetLaunch, ListLaunches, UpdateLaunch, DeleteLaunch, StartLaunch, StopLaunch.
//!
//! Lifecycle: CreateLaunch → CREATED (no `execution`); StartLaunch (only from CREATED) →
//! RUNNING with `execution.startedTime`; StopLaunch (only from RUNNING) → COMPLETED (default)
//! or CANCELLED with `statusReason` and `execution.endedTime`. UpdateLaunch works on CREATED
//! and RUNNING launches and keeps the status (UPDATING is not a state the emulator passes
//! through). A RUNNING launch cannot be deleted; stop it first. Launches never start or end by
//! themselves when a step's `startTime` passes.
//!
//! Request validation is `crate::rules::launch`; this module adds what needs the store: the
//! project, the groups' features and the overrides' segments must exist (a group's variation
//! need not: AWS accepted undeclared ones).

use serde::Deserialize;
use serde_json::json;

use super::{
    PageRequest, Reply, check_quota, load, project_exists, require_project, save, save_new,
};
use crate::{
    emulator::{
        arn::Arns,
        error::{self, ApiError, ValidationReason},
        resources::{LAUNCH_TYPE, Launch, LaunchExecution, LaunchGroup, now},
        store::{Key, Kind, Reader, Tx},
    },
    rules::{
        CreateLaunchInput, LaunchGroupConfig, LaunchStatus, ScheduledSplitsLaunchConfig,
        UpdateLaunchInput, launch::check_launch,
    },
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchInput {
    pub project: String,
    pub launch: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListLaunchesInput {
    pub project: String,
    pub status: Option<String>,
    #[serde(flatten)]
    pub page: PageRequest,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopLaunchInput {
    pub project: String,
    pub launch: String,
    pub desired_state: Option<String>,
    pub reason: Option<String>,
}

/// Checks that every group's feature and every override's segment exist; returns the
/// references to store and the splits with segments as ARNs.
///
/// A group's variation need not be declared by its feature: AWS accepted such launches (the
/// Terraform provider's scheduled-splits acceptance tests created them against real AWS), and
/// evaluation serves such a group the feature's default variation (docs/emulator.md).
fn resolve_references(
    r: &dyn Reader,
    arns: &Arns,
    project: &str,
    groups: &[LaunchGroupConfig],
    splits: Option<&ScheduledSplitsLaunchConfig>,
) -> Result<(Vec<Key>, Option<ScheduledSplitsLaunchConfig>), ApiError> {
    let mut refs = Vec::new();
    for g in groups {
        let key = Key::new(Kind::Feature, project, &g.feature);
        // Groups often share a feature: each is read once.
        if refs.contains(&key) {
            continue;
        }
        if r.get(&key)?.is_none() {
            return Err(ApiError::not_found(
                Kind::Feature,
                arns.feature(project, &g.feature),
            ));
        }
        refs.push(key);
    }
    let mut splits = splits.cloned();
    for step in splits.iter_mut().flat_map(|s| s.steps.iter_mut()) {
        let overrides = step.segment_overrides.get_or_insert_with(Vec::new);
        for over in overrides.iter_mut() {
            let name = arns.segment_name(&over.segment)?;
            let key = Key::new(Kind::Segment, "", &name);
            if r.get(&key)?.is_none() {
                return Err(ApiError::not_found(Kind::Segment, arns.segment(&name)));
            }
            over.segment = arns.segment(&name);
            if !refs.contains(&key) {
                refs.push(key);
            }
        }
    }
    Ok((refs, splits))
}

/// The stored launch, or ResourceNotFoundException for it or for its project.
fn require_launch(
    r: &dyn Reader,
    arns: &Arns,
    project: &str,
    launch: &str,
) -> Result<Launch, ApiError> {
    match load(r, &Key::new(Kind::Launch, project, launch))? {
        Some(l) => Ok(l),
        None => {
            require_project(r, arns, project)?;
            Err(ApiError::not_found(
                Kind::Launch,
                arns.launch(project, launch),
            ))
        }
    }
}

/// `{"launch": <the stored document>}`, from its text as stored: nothing decoded or encoded.
fn launch_reply(doc: &str) -> Reply {
    Reply(format!("{{\"launch\":{doc}}}"))
}

/// Stores the launch; returns the stored text (which is also the reply's `launch`).
fn store(tx: &mut dyn Tx, project: &str, launch: &Launch) -> Result<String, ApiError> {
    save(
        tx,
        &Key::new(Kind::Launch, project, &launch.name),
        Some(launch.status.as_str()),
        launch,
    )
}

pub fn create(tx: &mut dyn Tx, arns: &Arns, input: CreateLaunchInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    project_exists(tx, arns, &project)?;
    let key = Key::new(Kind::Launch, &project, &input.name);
    let arn = arns.launch(&project, &input.name);
    if tx.get(&key)?.is_some() {
        return Err(ApiError::conflict(
            Kind::Launch,
            &arn,
            format!("Launch with arn '{arn}' already exists."),
        ));
    }
    check_quota(
        tx.count(Kind::Launch, &project, None)?,
        error::LAUNCHES,
        Kind::Launch,
        arn.clone(),
    )?;
    let (refs, splits) = resolve_references(
        tx,
        arns,
        &project,
        &input.groups,
        input.scheduled_splits_config.as_ref(),
    )?;
    let t = now();
    let launch = Launch {
        arn,
        randomization_salt: input
            .randomization_salt
            .unwrap_or_else(|| input.name.clone()),
        name: input.name,
        project: arns.project(&project),
        status: LaunchStatus::Created,
        status_reason: None,
        description: input.description,
        created_time: t,
        last_updated_time: t,
        execution: None,
        groups: input.groups.iter().map(LaunchGroup::from_config).collect(),
        metric_monitors: input.metric_monitors.unwrap_or_default(),
        launch_type: LAUNCH_TYPE.into(),
        scheduled_splits_definition: splits,
        tags: input.tags.unwrap_or_default(),
    };
    let text = save_new(tx, &key, Some(launch.status.as_str()), &launch, &refs)?;
    Ok(launch_reply(&text))
}

/// GetLaunch answers with the stored document as it is: no parsing on the hottest path.
pub fn get(r: &dyn Reader, arns: &Arns, input: LaunchInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    match r.get(&Key::new(Kind::Launch, &project, &input.launch))? {
        Some(doc) => Ok(launch_reply(&doc)),
        None => {
            require_project(r, arns, &project)?;
            Err(ApiError::not_found(
                Kind::Launch,
                arns.launch(&project, &input.launch),
            ))
        }
    }
}

pub fn list(r: &dyn Reader, arns: &Arns, input: ListLaunchesInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    require_project(r, arns, &project)?;
    let (records, next) = super::page(
        r,
        Kind::Launch,
        &project,
        input.status.as_deref(),
        &input.page,
        100,
    )?;
    let docs: Vec<&str> = records.iter().map(|r| r.doc.as_str()).collect();
    let mut body = format!("{{\"launches\":[{}]", docs.join(","));
    if let Some(token) = next {
        let token = serde_json::Value::String(token).to_string();
        body.push_str(&format!(",\"nextToken\":{token}"));
    }
    body.push('}');
    Ok(Reply(body))
}

pub fn update(tx: &mut dyn Tx, arns: &Arns, input: UpdateLaunchInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let mut launch = require_launch(tx, arns, &project, &input.launch)?;
    if launch.status.is_terminal() {
        return Err(ApiError::conflict(
            Kind::Launch,
            &launch.arn,
            format!(
                "Launch is {} and can no longer be updated.",
                launch.status.as_str()
            ),
        ));
    }
    let groups = match input.groups {
        Some(g) => g,
        None => launch.groups.iter().map(LaunchGroup::to_config).collect(),
    };
    let monitors = input
        .metric_monitors
        .unwrap_or_else(|| launch.metric_monitors.clone());
    let splits = input
        .scheduled_splits_config
        .or_else(|| launch.scheduled_splits_definition.clone());
    let violations = check_launch(&groups, &monitors, splits.as_ref(), None);
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let (refs, splits) = resolve_references(tx, arns, &project, &groups, splits.as_ref())?;

    if let Some(d) = input.description {
        launch.description = Some(d);
    }
    if let Some(salt) = input.randomization_salt {
        launch.randomization_salt = salt;
    }
    launch.groups = groups.iter().map(LaunchGroup::from_config).collect();
    launch.metric_monitors = monitors;
    launch.scheduled_splits_definition = splits;
    launch.last_updated_time = now();
    store(tx, &project, &launch)?;
    tx.set_refs(&Key::new(Kind::Launch, &project, &launch.name), &refs)?;
    Reply::json(&json!({"launch": launch}))
}

pub fn delete(tx: &mut dyn Tx, arns: &Arns, input: LaunchInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let launch = require_launch(tx, arns, &project, &input.launch)?;
    if launch.status == LaunchStatus::Running {
        return Err(ApiError::conflict(
            Kind::Launch,
            &launch.arn,
            "Launch is RUNNING; stop it before deleting it.",
        ));
    }
    tx.delete(&Key::new(Kind::Launch, &project, &launch.name))?;
    Ok(Reply::empty())
}

pub fn start(tx: &mut dyn Tx, arns: &Arns, input: LaunchInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let mut launch = require_launch(tx, arns, &project, &input.launch)?;
    if launch.status != LaunchStatus::Created {
        return Err(ApiError::conflict(
            Kind::Launch,
            &launch.arn,
            format!(
                "Launch is {}; only a CREATED launch can be started.",
                launch.status.as_str()
            ),
        ));
    }
    check_quota(
        tx.count(Kind::Launch, &project, Some(LaunchStatus::Running.as_str()))?,
        error::RUNNING_LAUNCHES,
        Kind::Launch,
        launch.arn.clone(),
    )?;
    let t = now();
    launch.status = LaunchStatus::Running;
    launch.execution = Some(LaunchExecution {
        started_time: Some(t),
        ended_time: None,
    });
    launch.last_updated_time = t;
    let text = store(tx, &project, &launch)?;
    Ok(launch_reply(&text))
}

pub fn stop(tx: &mut dyn Tx, arns: &Arns, input: StopLaunchInput) -> Result<Reply, ApiError> {
    let project = arns.project_name(&input.project)?;
    let mut launch = require_launch(tx, arns, &project, &input.launch)?;
    if launch.status != LaunchStatus::Running {
        // ConflictException is not a modeled error of StopLaunch; ValidationException is.
        return Err(ApiError::validation(
            ValidationReason::Other,
            format!(
                "Launch is {}; only a RUNNING launch can be stopped.",
                launch.status.as_str()
            ),
        ));
    }
    let t = now();
    launch.status = match input.desired_state.as_deref() {
        Some("CANCELLED") => LaunchStatus::Cancelled,
        _ => LaunchStatus::Completed,
    };
    launch.status_reason = input.reason;
    let started = launch.execution.as_ref().and_then(|e| e.started_time);
    launch.execution = Some(LaunchExecution {
        started_time: started,
        ended_time: Some(t),
    });
    launch.last_updated_time = t;
    store(tx, &project, &launch)?;
    Reply::json(&json!({"endedTime": t}))
}
