//! `Project`: CreateProject, GetProject, UpdateProject and UpdateProjectDataDelivery, and
//! DeleteProject, which Evidently refuses while features or launches are left in the project.
//!
//! `dataDelivery` and `appConfigResource` are compared only when the spec sets them: Evidently
//! has no call that removes them, so leaving them out of the spec leaves them as they are.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Locator, Managed, blank};
use crate::{
    crd::{Project, ProjectSpec, ProjectStatus, spec::validate_project_spec},
    evidently::{Evidently, EvidentlyError, ObservedProject},
    rules::{Violation, project::CreateProjectInput},
    time::rfc3339,
};

impl Managed for Project {
    type Spec = ProjectSpec;
    type Status = ProjectStatus;
    type Desired = CreateProjectInput;
    type Observed = ObservedProject;

    const KIND: &'static str = "Project";
    const NOUN: &'static str = "project";
    const NEEDS: &'static [&'static str] = &[];
    const HELD_BY: &'static [&'static str] = &["Feature", "Launch"];

    super::plain_accessors!(Project, ProjectSpec, ProjectStatus);

    fn validate(spec: &Value, metadata_name: &str) -> Result<CreateProjectInput, Vec<Violation>> {
        validate_project_spec(spec, metadata_name)
    }
    fn located(d: &CreateProjectInput) -> Locator {
        Locator {
            project: None,
            name: d.name.clone(),
        }
    }
    fn user_tags(d: &CreateProjectInput) -> BTreeMap<String, String> {
        d.tags.clone().unwrap_or_default()
    }

    async fn read(ev: &Evidently, at: &Locator) -> Result<ObservedProject, EvidentlyError> {
        ev.get_project(&at.name).await
    }
    async fn create(
        ev: &Evidently,
        d: &CreateProjectInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedProject, EvidentlyError> {
        ev.create_project(d, tags).await
    }
    fn compare(d: &CreateProjectInput, o: &ObservedProject) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if blank(&d.description) != blank(&o.description) {
            changed.push("description");
        }
        if d.app_config_resource.is_some() && d.app_config_resource != o.app_config_resource {
            changed.push("appConfigResource");
        }
        if d.data_delivery.is_some() && d.data_delivery != o.data_delivery {
            changed.push("dataDelivery");
        }
        changed
    }
    async fn update(
        ev: &Evidently,
        d: &CreateProjectInput,
        o: &ObservedProject,
        changed: &[&'static str],
    ) -> Result<ObservedProject, EvidentlyError> {
        let mut observed = o.clone();
        if changed.contains(&"description") || changed.contains(&"appConfigResource") {
            observed = ev.update_project(d).await?;
        }
        if changed.contains(&"dataDelivery") {
            observed = ev.update_project_data_delivery(d).await?;
        }
        observed.tags = o.tags.clone();
        Ok(observed)
    }
    async fn delete(
        ev: &Evidently,
        at: &Locator,
        _o: &ObservedProject,
    ) -> Result<(), EvidentlyError> {
        ev.delete_project(&at.name).await
    }
    async fn holders(ev: &Evidently, at: &Locator, message: String) -> String {
        match ev.project_contents(&at.name).await {
            Ok((features, launches)) if !features.is_empty() || !launches.is_empty() => {
                let list = |what: &str, names: &[String]| {
                    if names.is_empty() {
                        None
                    } else {
                        Some(format!("{what} {}", names.join(", ")))
                    }
                };
                let parts: Vec<String> = [list("features", &features), list("launches", &launches)]
                    .into_iter()
                    .flatten()
                    .collect();
                format!("project {} still holds {}", at.name, parts.join("; "))
            }
            _ => message,
        }
    }

    fn arn(o: &ObservedProject) -> &str {
        &o.arn
    }
    fn tags(o: &ObservedProject) -> &BTreeMap<String, String> {
        &o.tags
    }
    fn tags_mut(o: &mut ObservedProject) -> &mut BTreeMap<String, String> {
        &mut o.tags
    }
    fn ready_message(o: &ObservedProject) -> String {
        format!("project is {} in Evidently and matches the spec", o.status)
    }
    fn observe(status: &mut ProjectStatus, o: &ObservedProject, _d: Option<&CreateProjectInput>) {
        status.arn = Some(o.arn.clone());
        status.status = Some(o.status.clone());
        status.feature_count = o.feature_count;
        status.launch_count = o.launch_count;
        status.active_launch_count = o.active_launch_count;
        status.created_time = rfc3339(o.created_time);
        status.last_updated_time = rfc3339(o.last_updated_time);
    }
}
