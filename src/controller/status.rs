//! The outcome of a reconcile pass and the status it leads to: pure functions, no IO.
//!
//! `Ready`'s `lastTransitionTime` changes only when the condition's status flips, and messages
//! carry no timestamps, so a pass that changes nothing computes a status equal to the stored
//! one and nothing is written.

use std::time::Duration;

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

use crate::{
    crd::{CommonStatus, READY},
    evidently::EvidentlyError,
    kinds::Managed,
};

/// How a pass ended, as the `Ready` condition reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The launch exists in Evidently and matches the spec.
    Reconciled,
    /// The spec breaks a rule; the message names every bad field.
    InvalidSpec(String),
    /// Evidently refused the request as invalid.
    EvidentlyRejected(String),
    /// The project, a feature or a segment the launch needs does not exist (yet).
    DependencyNotFound(String),
    /// A launch of that name exists in Evidently and is not owned by this resource.
    AlreadyExists(String),
    AccessDenied(String),
    QuotaExceeded(String),
    /// Throttling, 5xx, timeouts, connection errors.
    EvidentlyUnavailable(String),
    /// The launch has COMPLETED or was CANCELLED in Evidently and no longer accepts changes.
    LaunchEnded(String),
    /// Deletion waits: Evidently still holds resources that use this one (features or launches
    /// of a project, launches of a feature or segment).
    DeletionBlocked(String),
}

/// When to look at the object again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Only when the object changes (or at the resync interval).
    OnChange,
    /// Exponential backoff from `base`, capped at `max`.
    Backoff { base: Duration, max: Duration },
}

impl Outcome {
    pub fn reason(&self) -> &'static str {
        match self {
            Outcome::Reconciled => "Reconciled",
            Outcome::InvalidSpec(_) => "InvalidSpec",
            Outcome::EvidentlyRejected(_) => "EvidentlyRejected",
            Outcome::DependencyNotFound(_) => "DependencyNotFound",
            Outcome::AlreadyExists(_) => "AlreadyExists",
            Outcome::AccessDenied(_) => "AccessDenied",
            Outcome::QuotaExceeded(_) => "QuotaExceeded",
            Outcome::EvidentlyUnavailable(_) => "EvidentlyUnavailable",
            Outcome::LaunchEnded(_) => "LaunchEnded",
            Outcome::DeletionBlocked(_) => "DeletionBlocked",
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Outcome::Reconciled)
    }

    pub fn message<K: Managed>(&self, observed: Option<&K::Observed>) -> String {
        match self {
            Outcome::Reconciled => match observed {
                Some(o) => K::ready_message(o),
                None => format!("{} matches the spec", K::NOUN),
            },
            Outcome::InvalidSpec(m)
            | Outcome::EvidentlyRejected(m)
            | Outcome::DependencyNotFound(m)
            | Outcome::AlreadyExists(m)
            | Outcome::AccessDenied(m)
            | Outcome::QuotaExceeded(m)
            | Outcome::EvidentlyUnavailable(m)
            | Outcome::LaunchEnded(m)
            | Outcome::DeletionBlocked(m) => m.clone(),
        }
    }

    pub fn retry(&self) -> Retry {
        let backoff = |base: u64, max: u64| Retry::Backoff {
            base: Duration::from_secs(base),
            max: Duration::from_secs(max),
        };
        match self {
            Outcome::Reconciled
            | Outcome::InvalidSpec(_)
            | Outcome::EvidentlyRejected(_)
            | Outcome::AlreadyExists(_)
            | Outcome::LaunchEnded(_) => Retry::OnChange,
            Outcome::DependencyNotFound(_) | Outcome::EvidentlyUnavailable(_) => backoff(1, 300),
            Outcome::AccessDenied(_) | Outcome::QuotaExceeded(_) => backoff(30, 900),
            Outcome::DeletionBlocked(_) => backoff(1, 30),
        }
    }

    /// The outcome of a failed Evidently call made for the object (not on deletion).
    pub fn from_error(e: &EvidentlyError) -> Outcome {
        match e {
            EvidentlyError::Rejected(m) => Outcome::EvidentlyRejected(m.clone()),
            EvidentlyError::NotFound { message, .. } => {
                Outcome::DependencyNotFound(message.clone())
            }
            EvidentlyError::Conflict(m) => Outcome::AlreadyExists(m.clone()),
            EvidentlyError::AccessDenied(m) => Outcome::AccessDenied(m.clone()),
            EvidentlyError::QuotaExceeded(m) => Outcome::QuotaExceeded(m.clone()),
            EvidentlyError::Unavailable(m) => Outcome::EvidentlyUnavailable(m.clone()),
        }
    }
}

/// Now, to the second (what the API server stores).
pub fn now() -> Time {
    let t = Timestamp::now();
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// The status after a pass: Evidently's view where this pass saw it (the previous one where it
/// did not, so the ARN is never lost), and the `Ready` condition for `outcome`.
pub fn next_status<K: Managed>(
    previous: Option<&K::Status>,
    observed: Option<&K::Observed>,
    desired: Option<&K::Desired>,
    outcome: &Outcome,
    generation: Option<i64>,
    now: Time,
) -> K::Status {
    let mut status = previous.cloned().unwrap_or_default();
    if let Some(o) = observed {
        K::observe(&mut status, o, desired);
    }
    status.set_observed_generation(generation);

    let ready = if outcome.is_ready() { "True" } else { "False" };
    let previous_ready = status.conditions().iter().find(|c| c.type_ == READY);
    let last_transition_time = match previous_ready {
        Some(c) if c.status == ready => c.last_transition_time.clone(),
        _ => now,
    };
    let condition = Condition {
        type_: READY.into(),
        status: ready.into(),
        reason: outcome.reason().into(),
        message: outcome.message::<K>(observed),
        observed_generation: generation,
        last_transition_time,
    };
    let conditions = status.conditions_mut();
    conditions.retain(|c| c.type_ != READY);
    conditions.push(condition);
    status
}

/// The stored `Ready` condition's (status, reason), to detect transitions.
pub fn ready_of<S: CommonStatus>(status: Option<&S>) -> Option<(String, String)> {
    status?
        .conditions()
        .iter()
        .find(|c| c.type_ == READY)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        crd::{Launch, LaunchStatus},
        evidently::ObservedLaunch,
        rules::LaunchStatus as EvidentlyStatus,
    };

    fn next_status(
        previous: Option<&LaunchStatus>,
        observed: Option<&ObservedLaunch>,
        outcome: &Outcome,
        generation: Option<i64>,
        now: Time,
    ) -> LaunchStatus {
        super::next_status::<Launch>(previous, observed, None, outcome, generation, now)
    }

    fn observed(status: EvidentlyStatus) -> ObservedLaunch {
        ObservedLaunch {
            arn: "arn:aws:evidently:r:a:project/p/launch/l".into(),
            name: "l".into(),
            project: None,
            status,
            status_reason: Some(String::new()),
            description: None,
            created_time: 1_700_000_000,
            last_updated_time: 1_700_000_100,
            started_time: Some(1_700_000_200),
            ended_time: None,
            groups: vec![],
            metric_monitors: vec![],
            randomization_salt: None,
            steps: vec![],
            tags: Default::default(),
        }
    }

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn ready_status_carries_what_evidently_reported() {
        let s = next_status(
            None,
            Some(&observed(EvidentlyStatus::Running)),
            &Outcome::Reconciled,
            Some(3),
            at(10),
        );
        assert_eq!(
            s.arn.as_deref(),
            Some("arn:aws:evidently:r:a:project/p/launch/l")
        );
        assert_eq!(s.status.as_deref(), Some("RUNNING"));
        assert_eq!(s.status_reason, None);
        assert_eq!(s.created_time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(
            s.execution.unwrap().started_time.as_deref(),
            Some("2023-11-14T22:16:40Z")
        );
        assert_eq!(s.observed_generation, Some(3));
        let c = &s.conditions[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "Reconciled")
        );
        assert_eq!(
            c.message,
            "launch is RUNNING in Evidently and matches the spec"
        );
    }

    #[test]
    fn transition_time_changes_only_when_the_status_flips() {
        let first = next_status(
            None,
            None,
            &Outcome::EvidentlyUnavailable("down".into()),
            Some(1),
            at(10),
        );
        let same = next_status(
            Some(&first),
            None,
            &Outcome::DependencyNotFound("no feature".into()),
            Some(1),
            at(20),
        );
        assert_eq!(same.conditions[0].last_transition_time, at(10));
        assert_eq!(same.conditions[0].reason, "DependencyNotFound");
        let flipped = next_status(
            Some(&same),
            Some(&observed(EvidentlyStatus::Created)),
            &Outcome::Reconciled,
            Some(1),
            at(30),
        );
        assert_eq!(flipped.conditions[0].last_transition_time, at(30));
    }

    #[test]
    fn a_repeated_pass_computes_an_identical_status() {
        let first = next_status(
            None,
            Some(&observed(EvidentlyStatus::Created)),
            &Outcome::Reconciled,
            Some(2),
            at(10),
        );
        let again = next_status(
            Some(&first),
            Some(&observed(EvidentlyStatus::Created)),
            &Outcome::Reconciled,
            Some(2),
            at(99),
        );
        assert_eq!(first, again);
    }

    #[test]
    fn a_failed_pass_keeps_the_known_arn() {
        let ok = next_status(
            None,
            Some(&observed(EvidentlyStatus::Created)),
            &Outcome::Reconciled,
            Some(1),
            at(10),
        );
        let failed = next_status(
            Some(&ok),
            None,
            &Outcome::EvidentlyUnavailable("x".into()),
            Some(2),
            at(20),
        );
        assert_eq!(failed.arn, ok.arn);
        assert_eq!(failed.conditions[0].status, "False");
        assert_eq!(failed.observed_generation, Some(2));
    }

    #[test]
    fn error_categories_map_to_the_documented_reasons() {
        let r = |e: EvidentlyError| Outcome::from_error(&e).reason();
        assert_eq!(r(EvidentlyError::Rejected("m".into())), "EvidentlyRejected");
        assert_eq!(
            r(EvidentlyError::NotFound {
                message: "m".into()
            }),
            "DependencyNotFound"
        );
        assert_eq!(r(EvidentlyError::AccessDenied("m".into())), "AccessDenied");
        assert_eq!(
            r(EvidentlyError::QuotaExceeded("m".into())),
            "QuotaExceeded"
        );
        assert_eq!(
            r(EvidentlyError::Unavailable("m".into())),
            "EvidentlyUnavailable"
        );
    }

    #[test]
    fn only_transient_failures_back_off() {
        assert_eq!(Outcome::InvalidSpec("x".into()).retry(), Retry::OnChange);
        assert!(matches!(
            Outcome::DependencyNotFound("x".into()).retry(),
            Retry::Backoff { .. }
        ));
        assert!(
            matches!(Outcome::AccessDenied("x".into()).retry(), Retry::Backoff { base, .. } if base.as_secs() == 30)
        );
    }
}
