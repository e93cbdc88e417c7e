//! One idempotent reconcile pass over a `Launch` (ARCHITECTURE §3): finalizer, validation,
//! create or adopt, compare, update, status, requeue — and the deletion path.
//!
//! The pass never branches on why it was triggered. Decisions that are pure live in
//! `status.rs` and `crate::evidently::launch`; this file sequences the IO.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use backon::{BackoffBuilder, ExponentialBuilder};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event as KubeEvent, EventType},
        finalizer::{Event as Finalizer, finalizer},
    },
};
use serde_json::json;
use tracing::{Instrument, info, info_span, warn};

use super::{
    cache::{CachedLaunch, DecodeError},
    events::Events,
    status::{Outcome, Retry, next_status, now, ready_of},
};
use crate::{
    crd::{DeletionPolicy, Launch, LaunchStatus, validate_spec},
    evidently::{Evidently, EvidentlyError, ObservedLaunch, diff},
    metrics::Metrics,
    rules::{CreateLaunchInput, Violation},
};

/// Finalizer that keeps a `Launch` until its Evidently launch is deleted (or retained).
pub const FINALIZER: &str = "evidently.launch-operator.io/cleanup";
/// Tag the operator puts on every launch it creates: `<namespace>/<name>` of the resource.
pub const OWNER_TAG: &str = "launch-operator.io/owner";
/// Annotation that allows adopting an existing launch not created by this resource.
pub const ADOPT_ANNOTATION: &str = "evidently.launch-operator.io/adopt";
/// Field manager of the status writes.
pub const FIELD_MANAGER: &str = "launch-operator";

const API_VERSION: &str = "evidently.launch-operator.io/v1alpha1";
/// Longest condition message written (the API server allows 32768).
const MAX_MESSAGE: usize = 4000;

/// An event's note is at most 1 KiB (events.k8s.io/v1 validation); kept a little under.
const NOTE_BYTES: usize = 1000;

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
    }
    s
}

/// What every reconcile pass shares.
pub struct Context {
    pub client: Client,
    pub evidently: Evidently,
    pub metrics: Arc<Metrics>,
    /// Where events go (written off the reconcile path).
    pub events: Events,
    pub resync: Duration,
    /// Consecutive failures by object uid, for per-object backoff.
    failures: Mutex<HashMap<String, usize>>,
    /// Objects whose deletion from Evidently is failing (and has been said so).
    deleting: Mutex<HashSet<String>>,
}

impl Context {
    pub fn new(
        client: Client,
        evidently: Evidently,
        metrics: Arc<Metrics>,
        events: Events,
        resync: Duration,
    ) -> Self {
        Context {
            client,
            evidently,
            metrics,
            events,
            resync,
            failures: Mutex::new(HashMap::new()),
            deleting: Mutex::new(HashSet::new()),
        }
    }

    /// The next delay for a failing object: exponential from `base` to `max`, with jitter.
    fn backoff(&self, uid: &str, base: Duration, max: Duration) -> Duration {
        let attempt = {
            let Ok(mut map) = self.failures.lock() else {
                return max;
            };
            let n = map.entry(uid.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        ExponentialBuilder::default()
            .with_min_delay(base)
            .with_max_delay(max)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(attempt - 1)
            .unwrap_or(max)
    }

    /// Whether the object's last pass failed (it is backing off).
    fn failing(&self, uid: &str) -> bool {
        self.failures
            .lock()
            .map(|map| map.contains_key(uid))
            .unwrap_or(false)
    }

    /// Records that the object's deletion from Evidently failed; true the first time since it
    /// last succeeded (or ever).
    fn deletion_failed(&self, uid: &str) -> bool {
        self.deleting
            .lock()
            .map(|mut set| set.insert(uid.to_string()))
            .unwrap_or(false)
    }

    /// The object is gone (its finalizer released): forgets its failures.
    fn forget(&self, uid: &str) {
        if let Ok(mut set) = self.deleting.lock() {
            set.remove(uid);
        }
        self.succeeded(uid);
    }

    fn succeeded(&self, uid: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(uid);
        }
    }
}

/// Failures of a pass that are not Evidently outcomes (those end up in the status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("deleting the Evidently launch: {0}")]
    Cleanup(EvidentlyError),
    #[error("the object has no namespace")]
    MissingNamespace,
    #[error("cannot read the resource: {0}")]
    Decode(#[from] DecodeError),
}

impl Error {
    /// Bounded label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubeError",
            Error::Finalizer(_) => "FinalizerError",
            Error::Cleanup(_) => "CleanupFailed",
            Error::MissingNamespace => "MissingNamespace",
            Error::Decode(_) => "DecodeError",
        }
    }
}

/// The reconcile entry point given to the applier: decodes the cached object, then runs the
/// pass under the finalizer.
pub async fn reconcile(cached: Arc<CachedLaunch>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = cached.namespace().ok_or(Error::MissingNamespace)?;
    let span = info_span!("reconcile", namespace = %ns, name = %cached.name_any(), generation = cached.metadata.generation);
    async move {
        let api: Api<Launch> = Api::namespaced(ctx.client.clone(), &ns);
        let launch = match cached.decode() {
            Ok(launch) => Arc::new(launch),
            // Nothing was created from a spec that cannot be read: say so in the status.
            Err(e) if cached.metadata.deletion_timestamp.is_none() => {
                let outcome = undecodable(&cached, &e);
                let previous = cached.decode_status();
                return report(
                    cached.as_ref(),
                    previous.as_ref(),
                    &outcome,
                    None,
                    None,
                    true,
                    Instant::now(),
                    &ctx,
                )
                .await;
            }
            // Not ours to hold up.
            Err(_) if !cached.finalizers().iter().any(|f| f == FINALIZER) => {
                return Ok(Action::await_change());
            }
            // Which launch to delete is not known; retried with backoff until the CRD and the
            // controller agree, or until someone removes the finalizer. Said once, not on
            // every retry.
            Err(e) => {
                if ctx.failing(&cached.uid().unwrap_or_default()) {
                    return Err(Error::Decode(e));
                }
                publish(
                    &ctx,
                    cached.as_ref(),
                    EventType::Warning,
                    "NotDeleted",
                    "DeleteLaunch",
                    format!(
                        "{e}; the Evidently launch cannot be identified for deletion: fix the \
                         resource or remove the finalizer {FINALIZER} to leave it in Evidently"
                    ),
                );
                return Err(Error::Decode(e));
            }
        };
        finalizer(&api, FINALIZER, launch, |event| async {
            match event {
                Finalizer::Apply(l) => apply(l, &ctx).await,
                Finalizer::Cleanup(l) => cleanup(l, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)))
    }
    .instrument(span)
    .await
}

/// The error policy given to the applier: per-object backoff.
pub fn error_policy(launch: Arc<CachedLaunch>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff(
        &launch.uid().unwrap_or_default(),
        Duration::from_secs(1),
        Duration::from_secs(300),
    );
    warn!(name = %launch.name_any(), category = error.category(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    launch: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(truncate(note, NOTE_BYTES)),
        action: action.into(),
        secondary: None,
    };
    ctx.events.publish(event, launch.object_ref(&()));
}

fn owner_of(launch: &Launch) -> String {
    format!(
        "{}/{}",
        launch.namespace().unwrap_or_default(),
        launch.name_any()
    )
}

async fn apply(launch: Arc<Launch>, ctx: &Context) -> Result<Action, Error> {
    let started = Instant::now();
    let mut created = false;
    let (outcome, observed, desired) = converge(&launch, ctx, &mut created).await;
    report(
        launch.as_ref(),
        launch.status.as_ref(),
        &outcome,
        observed.as_ref(),
        desired.as_ref(),
        !created,
        started,
        ctx,
    )
    .await
}

/// Writes the status the pass arrived at (only when it changed), publishes the transition
/// (unless `announce_ready` is false: a pass that created the launch says it in one `Created`
/// event), and picks the next pass.
#[allow(clippy::too_many_arguments)]
async fn report<K: Resource<DynamicType = ()>>(
    launch: &K,
    previous: Option<&LaunchStatus>,
    outcome: &Outcome,
    observed: Option<&ObservedLaunch>,
    desired: Option<&CreateLaunchInput>,
    announce_ready: bool,
    started: Instant,
    ctx: &Context,
) -> Result<Action, Error> {
    let status = next_status(previous, observed, outcome, launch.meta().generation, now());

    if previous != Some(&status) {
        let patch = json!({ "apiVersion": API_VERSION, "kind": "Launch", "status": status });
        // The answer is read in the cache's lenient form: it must not fail on a spec that
        // does not decode (the InvalidSpec status of such a spec is written here too).
        let namespace = launch.meta().namespace.as_deref().unwrap_or_default();
        let api: Api<CachedLaunch> = Api::namespaced(ctx.client.clone(), namespace);
        api.patch_status(
            &launch.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    }

    let ready = if outcome.is_ready() { "True" } else { "False" };
    let transition = ready_of(previous) != Some((ready.to_string(), outcome.reason().to_string()));
    if transition && (announce_ready || !outcome.is_ready()) {
        let type_ = if outcome.is_ready() {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(
            ctx,
            launch,
            type_,
            outcome.reason(),
            "Reconcile",
            outcome.message(observed),
        );
    }

    let uid = launch.uid().unwrap_or_default();
    ctx.metrics.set_ready(&uid, Some(ready));
    ctx.metrics
        .reconciled(outcome.reason(), outcome.is_ready(), started.elapsed());
    info!(reason = outcome.reason(), ready, "reconciled");

    Ok(match outcome.retry() {
        Retry::OnChange => {
            ctx.succeeded(&uid);
            Action::requeue(next_requeue(desired, ctx.resync))
        }
        Retry::Backoff { base, max } => Action::requeue(ctx.backoff(&uid, base, max)),
    })
}

/// The resync interval, or sooner when a scheduled step starts before it.
fn next_requeue(desired: Option<&CreateLaunchInput>, resync: Duration) -> Duration {
    let now = chrono::Utc::now().timestamp() as f64;
    desired
        .and_then(|d| d.scheduled_splits_config.as_ref())
        .into_iter()
        .flat_map(|c| c.steps.iter())
        .map(|s| s.start_time)
        .filter(|t| *t > now)
        .map(|t| Duration::from_secs_f64(t - now + 1.0))
        .fold(resync, Duration::min)
}

fn is_ended(status: &str) -> bool {
    status == "COMPLETED" || status == "CANCELLED"
}

/// `InvalidSpec` for a spec that does not decode: the rules name each bad field by its path;
/// serde's message is the fallback.
fn undecodable(cached: &CachedLaunch, error: &DecodeError) -> Outcome {
    serde_json::from_str(cached.spec.get())
        .ok()
        .and_then(|spec| validate_spec(&spec, &cached.name_any()).err())
        .filter(|violations| !violations.is_empty())
        .map(|violations| invalid_spec(&violations))
        .unwrap_or_else(|| Outcome::InvalidSpec(error.to_string()))
}

/// `InvalidSpec` naming every violation (field path and rule).
fn invalid_spec(violations: &[Violation]) -> Outcome {
    let mut message: String = violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if message.len() > MAX_MESSAGE {
        message = message.chars().take(MAX_MESSAGE).collect::<String>() + "...";
    }
    Outcome::InvalidSpec(message)
}

/// Brings Evidently in line with the spec; returns the outcome, what Evidently last reported,
/// and the validated desired launch.
async fn converge(
    launch: &Launch,
    ctx: &Context,
    created: &mut bool,
) -> (Outcome, Option<ObservedLaunch>, Option<CreateLaunchInput>) {
    let spec = match serde_json::to_value(&launch.spec) {
        Ok(v) => v,
        Err(e) => return (Outcome::InvalidSpec(format!("spec: {e}")), None, None),
    };
    let desired = match validate_spec(&spec, &launch.name_any()) {
        Ok(d) => d,
        Err(violations) => return (invalid_spec(&violations), None, None),
    };
    let owner = owner_of(launch);
    let mut tags: BTreeMap<String, String> = desired.tags.clone().unwrap_or_default();
    tags.insert(OWNER_TAG.into(), owner.clone());
    let (outcome, observed) = converge_valid(launch, ctx, &desired, &tags, &owner, created).await;
    (outcome, observed, Some(desired))
}

async fn converge_valid(
    launch: &Launch,
    ctx: &Context,
    desired: &CreateLaunchInput,
    tags: &BTreeMap<String, String>,
    owner: &str,
    created: &mut bool,
) -> (Outcome, Option<ObservedLaunch>) {
    let ev = &ctx.evidently;
    let known = launch
        .status
        .as_ref()
        .and_then(|s| s.arn.as_ref())
        .is_some();

    let existing = if known {
        match ev.get_launch(&desired.project, &desired.name).await {
            Ok(o) => Some(o),
            Err(EvidentlyError::NotFound { .. }) => {
                publish(
                    ctx,
                    launch,
                    EventType::Warning,
                    "LaunchMissing",
                    "Recreate",
                    format!(
                        "launch {} no longer exists in Evidently; re-creating it",
                        desired.name
                    ),
                );
                None
            }
            Err(e) => return (Outcome::from_error(&e), None),
        }
    } else {
        None
    };

    let mut observed = match existing {
        Some(o) => o,
        None => match ev.create_launch(desired, tags).await {
            Ok(o) => {
                publish(
                    ctx,
                    launch,
                    EventType::Normal,
                    "Created",
                    "CreateLaunch",
                    format!(
                        "created launch {}; {}",
                        o.arn,
                        Outcome::Reconciled.message(Some(&o))
                    ),
                );
                *created = true;
                return (Outcome::Reconciled, Some(o));
            }
            Err(EvidentlyError::Conflict(_)) => {
                match ev.get_launch(&desired.project, &desired.name).await {
                    Ok(o) => {
                        let ours = o.tags.get(OWNER_TAG).map(String::as_str) == Some(owner);
                        let opted_in = launch
                            .annotations()
                            .get(ADOPT_ANNOTATION)
                            .map(String::as_str)
                            == Some("true");
                        if !ours && !opted_in {
                            let holder = o
                                .tags
                                .get(OWNER_TAG)
                                .map_or("no launch-operator resource".to_string(), |h| {
                                    format!("the Launch resource {h}")
                                });
                            return (
                                Outcome::AlreadyExists(format!(
                                    "launch {} already exists in project {} and belongs to {holder}; \
                                 annotate this resource with {ADOPT_ANNOTATION}=true to adopt it",
                                    desired.name, desired.project
                                )),
                                None,
                            );
                        }
                        publish(
                            ctx,
                            launch,
                            EventType::Normal,
                            "Adopted",
                            "AdoptLaunch",
                            format!("adopted launch {}", o.arn),
                        );
                        o
                    }
                    Err(e) => return (Outcome::from_error(&e), None),
                }
            }
            Err(e) => return (Outcome::from_error(&e), None),
        },
    };

    let drift = diff(desired, tags, &observed);
    if !drift.changed.is_empty() {
        if is_ended(&observed.status) {
            let message = format!(
                "the launch is {} in Evidently and can no longer change; {} differ from the spec",
                observed.status,
                drift.changed.join(", ")
            );
            return (Outcome::LaunchEnded(message), Some(observed));
        }
        match ev.update_launch(desired).await {
            Ok(o) => {
                publish(
                    ctx,
                    launch,
                    EventType::Normal,
                    "Updated",
                    "UpdateLaunch",
                    format!("updated {} in Evidently", drift.changed.join(", ")),
                );
                let tags_before = std::mem::take(&mut observed.tags);
                observed = o;
                observed.tags = tags_before;
            }
            Err(EvidentlyError::Conflict(m)) => {
                return (
                    Outcome::EvidentlyRejected(format!("Evidently refused the update: {m}")),
                    Some(observed),
                );
            }
            Err(e) => return (Outcome::from_error(&e), Some(observed)),
        }
    }
    if !drift.tags_to_set.is_empty() {
        if let Err(e) = ev.tag_resource(&observed.arn, &drift.tags_to_set).await {
            return (Outcome::from_error(&e), Some(observed));
        }
        observed.tags.extend(drift.tags_to_set.clone());
    }
    if !drift.tags_to_remove.is_empty() {
        if let Err(e) = ev
            .untag_resource(&observed.arn, &drift.tags_to_remove)
            .await
        {
            return (Outcome::from_error(&e), Some(observed));
        }
        for k in &drift.tags_to_remove {
            observed.tags.remove(k);
        }
    }
    (Outcome::Reconciled, Some(observed))
}

/// Deletion: delete (or retain) the Evidently launch, then let the finalizer go. Never
/// validates: a resource whose spec is invalid must still be deletable.
async fn cleanup(launch: Arc<Launch>, ctx: &Context) -> Result<Action, Error> {
    let uid = launch.uid().unwrap_or_default();
    match remove(&launch, ctx).await {
        Ok(action) => {
            ctx.forget(&uid);
            Ok(action)
        }
        Err(e) => {
            // Said once per streak of failures, so that `kubectl describe` tells why the
            // resource stays; the pass is retried with backoff.
            if ctx.deletion_failed(&uid) {
                publish(
                    ctx,
                    launch.as_ref(),
                    EventType::Warning,
                    "NotDeleted",
                    "DeleteLaunch",
                    format!(
                        "cannot delete launch {} from Evidently yet: {e}; retried with backoff, \
                         the resource stays until then (or until the finalizer {FINALIZER} is \
                         removed)",
                        launch.launch_name()
                    ),
                );
            }
            Err(Error::Cleanup(e))
        }
    }
}

/// The deletion itself: stop and delete the launch in Evidently if it is this resource's.
async fn remove(launch: &Launch, ctx: &Context) -> Result<Action, EvidentlyError> {
    let uid = launch.uid().unwrap_or_default();
    ctx.metrics.set_ready(&uid, None);
    let project = launch.spec.project.clone();
    let name = launch.launch_name();
    if launch.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Retain {
        publish(
            ctx,
            launch,
            EventType::Normal,
            "Retained",
            "DeleteLaunch",
            format!("left launch {name} in Evidently (deletionPolicy Retain)"),
        );
        return Ok(Action::await_change());
    }
    let ev = &ctx.evidently;
    let observed = match ev.get_launch(&project, &name).await {
        Ok(o) => o,
        // Nothing to delete: gone already, or identifiers Evidently cannot even accept.
        Err(EvidentlyError::NotFound { .. } | EvidentlyError::Rejected(_)) => {
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e),
    };
    let ours = observed.tags.get(OWNER_TAG) == Some(&owner_of(launch))
        || launch.status.as_ref().and_then(|s| s.arn.as_ref()) == Some(&observed.arn);
    if !ours {
        publish(
            ctx,
            launch,
            EventType::Normal,
            "NotDeleted",
            "DeleteLaunch",
            format!("launch {name} in Evidently is not owned by this resource; left in place"),
        );
        return Ok(Action::await_change());
    }
    if observed.status == "RUNNING" {
        match ev
            .stop_launch(&project, &name, "Launch resource deleted")
            .await
        {
            Ok(()) | Err(EvidentlyError::NotFound { .. } | EvidentlyError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    match ev.delete_launch(&project, &name).await {
        Ok(()) | Err(EvidentlyError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    publish(
        ctx,
        launch,
        EventType::Normal,
        "Deleted",
        "DeleteLaunch",
        format!("deleted launch {} from Evidently", observed.arn),
    );
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undecodable_spec_is_reported_field_by_field() {
        let object = serde_json::json!({
            "apiVersion": API_VERSION,
            "kind": "Launch",
            "metadata": {"name": "checkout", "namespace": "shop", "uid": "u1"},
            "spec": {
                "project": "shop",
                "groups": [{"name": "a", "feature": "f", "variation": "v1"}],
                "scheduledSplitsConfig": {"steps": [
                    {"startTime": "2030-01-07T09:00:00Z", "groupWeights": {"a": "all"}}
                ]}
            }
        });
        let cached: CachedLaunch = serde_json::from_value(object).unwrap();
        let error = cached.decode().unwrap_err();
        let Outcome::InvalidSpec(message) = undecodable(&cached, &error) else {
            panic!("not InvalidSpec");
        };
        assert!(
            message.contains("spec.scheduledSplitsConfig.steps[0].groupWeights[a]"),
            "{message}"
        );
    }

    #[test]
    fn a_long_note_is_cut_to_its_byte_limit_on_a_character_boundary() {
        // 'é' is two bytes: 999 of them would be 1998 bytes; the cut may not split one.
        let note = truncate("é".repeat(999), NOTE_BYTES);
        assert_eq!(note.len(), NOTE_BYTES);
        assert!(note.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short".into(), NOTE_BYTES), "short");
    }
}
