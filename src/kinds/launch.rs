//! `Launch`: CreateLaunch, GetLaunch, UpdateLaunch, StartLaunch/StopLaunch for
//! `executionStatus`, and StopLaunch + DeleteLaunch on deletion.

use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;

use super::{Locator, Managed};
use crate::{
    crd::{
        ExecutionAction, ExecutionStatusSpec, Launch, LaunchExecutionStatus, LaunchSpec,
        LaunchStatus, validate_spec,
    },
    evidently::{Evidently, EvidentlyError, ObservedLaunch, diff, launch::segment_name},
    rules::{CreateLaunchInput, LaunchStatus as EvidentlyStatus, ScheduledSplitConfig, Violation},
    time::rfc3339,
};

/// A validated Launch spec.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchDesired {
    pub input: CreateLaunchInput,
    pub execution: Option<ExecutionStatusSpec>,
}

/// Whether StartLaunch or StopLaunch is due for the `executionStatus` asked for.
fn execution_due(execution: Option<&ExecutionStatusSpec>, status: EvidentlyStatus) -> bool {
    match execution.map(|e| e.status) {
        Some(ExecutionAction::Start) => status == EvidentlyStatus::Created || status.is_terminal(),
        Some(ExecutionAction::Stop) => status == EvidentlyStatus::Running,
        None => false,
    }
}

/// The step serving traffic at `now` (1-based: the last step, in spec order, whose start is not
/// after now) and the next start after `now`.
pub fn schedule_at(steps: &[ScheduledSplitConfig], now: f64) -> (Option<i64>, Option<f64>) {
    let active = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.start_time <= now)
        .map(|(i, _)| i as i64 + 1)
        .next_back();
    let next = steps
        .iter()
        .map(|s| s.start_time)
        .filter(|t| *t > now)
        .min_by(f64::total_cmp);
    (active, next)
}

impl Managed for Launch {
    type Spec = LaunchSpec;
    type Status = LaunchStatus;
    type Desired = LaunchDesired;
    type Observed = ObservedLaunch;

    const KIND: &'static str = "Launch";
    const NOUN: &'static str = "launch";
    const NEEDS: &'static [&'static str] = &["Project", "Feature", "Segment"];
    const HELD_BY: &'static [&'static str] = &[];

    fn references(spec: &LaunchSpec) -> Vec<(&'static str, String)> {
        let project = super::project_name(&spec.project);
        let mut refs = vec![("Project", project.to_string())];
        refs.extend(
            spec.groups
                .iter()
                .map(|g| ("Feature", format!("{project}/{}", g.feature))),
        );
        refs.extend(
            spec.scheduled_splits_config
                .iter()
                .flat_map(|c| c.steps.iter())
                .flat_map(|s| s.segment_overrides.iter().flatten())
                .map(|o| ("Segment", segment_name(&o.segment).to_string())),
        );
        refs.sort();
        refs.dedup();
        refs
    }

    super::plain_accessors!(Launch, LaunchSpec, LaunchStatus, project = project);

    fn validate(spec: &Value, metadata_name: &str) -> Result<LaunchDesired, Vec<Violation>> {
        let input = validate_spec(spec, metadata_name)?;
        let execution = match spec.get("executionStatus") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value(v.clone())
                    .map_err(|e| vec![Violation::new("spec.executionStatus", e.to_string())])?,
            ),
        };
        Ok(LaunchDesired { input, execution })
    }
    fn located(d: &LaunchDesired) -> Locator {
        Locator {
            project: Some(d.input.project.clone()),
            name: d.input.name.clone(),
        }
    }
    fn user_tags(d: &LaunchDesired) -> BTreeMap<String, String> {
        d.input.tags.clone().unwrap_or_default()
    }

    async fn read(ev: &Evidently, at: &Locator) -> Result<ObservedLaunch, EvidentlyError> {
        ev.get_launch(at.project.as_deref().unwrap_or_default(), &at.name)
            .await
    }
    async fn create(
        ev: &Evidently,
        d: &LaunchDesired,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedLaunch, EvidentlyError> {
        ev.create_launch(&d.input, tags).await
    }
    fn compare(d: &LaunchDesired, o: &ObservedLaunch) -> Vec<&'static str> {
        let mut changed = diff(&d.input, &o.tags, o).changed;
        if execution_due(d.execution.as_ref(), o.status) {
            changed.push("executionStatus");
        }
        changed
    }
    fn frozen(o: &ObservedLaunch, changed: &[&'static str]) -> Option<String> {
        if !o.status.is_terminal() {
            return None;
        }
        Some(if changed == ["executionStatus"] {
            format!(
                "the launch is {} in Evidently and cannot run again; create a new Launch to run it",
                o.status
            )
        } else {
            format!(
                "the launch is {} in Evidently and can no longer change; {} differ from the spec",
                o.status,
                changed.join(", ")
            )
        })
    }
    async fn update(
        ev: &Evidently,
        d: &LaunchDesired,
        o: &ObservedLaunch,
        changed: &[&'static str],
    ) -> Result<ObservedLaunch, EvidentlyError> {
        let mut observed = o.clone();
        if changed.iter().any(|c| *c != "executionStatus") {
            observed = ev.update_launch(&d.input).await?;
            observed.tags = o.tags.clone();
        }
        if changed.contains(&"executionStatus")
            && let Some(execution) = &d.execution
        {
            let (project, name) = (&d.input.project, &d.input.name);
            match execution.status {
                ExecutionAction::Start => ev.start_launch(project, name).await?,
                ExecutionAction::Stop => {
                    let state = execution.desired_state.unwrap_or_default();
                    ev.stop_launch(project, name, state.as_str(), execution.reason.as_deref())
                        .await?
                }
            }
            observed = ev.get_launch(project, name).await?;
            observed.tags = o.tags.clone();
        }
        Ok(observed)
    }
    async fn delete(
        ev: &Evidently,
        at: &Locator,
        o: &ObservedLaunch,
    ) -> Result<(), EvidentlyError> {
        let project = at.project.as_deref().unwrap_or_default();
        if o.status == EvidentlyStatus::Running {
            match ev
                .stop_launch(
                    project,
                    &at.name,
                    "CANCELLED",
                    Some("Launch resource deleted"),
                )
                .await
            {
                Ok(()) | Err(EvidentlyError::NotFound { .. } | EvidentlyError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        ev.delete_launch(project, &at.name).await
    }

    fn arn(o: &ObservedLaunch) -> &str {
        &o.arn
    }
    fn tags(o: &ObservedLaunch) -> &BTreeMap<String, String> {
        &o.tags
    }
    fn tags_mut(o: &mut ObservedLaunch) -> &mut BTreeMap<String, String> {
        &mut o.tags
    }
    fn ready_message(o: &ObservedLaunch) -> String {
        format!("launch is {} in Evidently and matches the spec", o.status)
    }
    fn observe(status: &mut LaunchStatus, o: &ObservedLaunch, _desired: Option<&LaunchDesired>) {
        status.arn = Some(o.arn.clone());
        status.status = Some(o.status.as_str().to_string());
        status.status_reason = o.status_reason.clone().filter(|r| !r.is_empty());
        status.created_time = rfc3339(o.created_time);
        status.last_updated_time = rfc3339(o.last_updated_time);
        status.execution = if o.started_time.is_some() || o.ended_time.is_some() {
            Some(LaunchExecutionStatus {
                started_time: o.started_time.and_then(rfc3339),
                ended_time: o.ended_time.and_then(rfc3339),
            })
        } else {
            None
        };
        let (active, next) = if o.status == EvidentlyStatus::Running {
            schedule_at(&o.steps, crate::time::now_secs() as f64)
        } else {
            (None, None)
        };
        status.active_step = active;
        status.next_step_time = next.and_then(|t| rfc3339(t.floor() as i64));
    }
    fn next_check(d: &LaunchDesired, _o: &ObservedLaunch, resync: Duration) -> Duration {
        let now = crate::time::now_secs() as f64;
        d.input
            .scheduled_splits_config
            .iter()
            .flat_map(|c| c.steps.iter())
            .map(|s| s.start_time)
            .filter(|t| *t > now)
            .map(|t| Duration::from_secs_f64(t - now + 1.0))
            .fold(resync, Duration::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(start: f64) -> ScheduledSplitConfig {
        ScheduledSplitConfig {
            start_time: start,
            group_weights: BTreeMap::new(),
            segment_overrides: None,
        }
    }

    #[test]
    fn the_active_step_is_the_last_started_and_the_next_is_the_earliest_ahead() {
        let steps = [step(100.0), step(200.0), step(300.0)];
        assert_eq!(schedule_at(&steps, 50.0), (None, Some(100.0)));
        assert_eq!(schedule_at(&steps, 100.0), (Some(1), Some(200.0)));
        assert_eq!(schedule_at(&steps, 250.0), (Some(2), Some(300.0)));
        assert_eq!(schedule_at(&steps, 999.0), (Some(3), None));
    }

    #[test]
    fn execution_is_due_only_when_evidently_differs() {
        let start = ExecutionStatusSpec {
            status: ExecutionAction::Start,
            desired_state: None,
            reason: None,
        };
        let stop = ExecutionStatusSpec {
            status: ExecutionAction::Stop,
            ..start.clone()
        };
        assert!(execution_due(Some(&start), EvidentlyStatus::Created));
        assert!(!execution_due(Some(&start), EvidentlyStatus::Running));
        assert!(execution_due(Some(&start), EvidentlyStatus::Completed));
        assert!(execution_due(Some(&stop), EvidentlyStatus::Running));
        assert!(!execution_due(Some(&stop), EvidentlyStatus::Created));
        assert!(!execution_due(Some(&stop), EvidentlyStatus::Cancelled));
        assert!(!execution_due(None, EvidentlyStatus::Created));
    }
}
