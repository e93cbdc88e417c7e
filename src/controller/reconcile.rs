//! One idempotent reconcile pass, written once for every kind (`../shared/design/ARCHITECTURE.md` §3 and §8):
//! finalizer, validation, create or adopt, compare, update, tags, status, requeue — and the
//! deletion path. What differs between kinds is behind [`Managed`]; this file sequences the IO.
//!
//! The pass never branches on why it was triggered. Decisions that are pure live in
//! `status.rs` and in each kind's module.

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
    cache::{Cached, DecodeError},
    events::Events,
    metrics::Metrics,
    signals::Signals,
    status::{Outcome, Retry, next_status, now, ready_of},
};
use crate::{
    crd::{
        ADOPT_ANNOTATION, API_VERSION, CommonStatus, DeletionPolicy, FIELD_MANAGER, FINALIZER,
        OWNER_TAG,
    },
    evidently::{Evidently, EvidentlyError},
    kinds::{Managed, with_owner},
    rules::Violation,
    text::truncate,
};

/// Longest condition message written (the API server allows 32768).
const MAX_MESSAGE: usize = 4000;

/// How long a new object whose dependency is missing waits quietly: its first passes write no
/// status and no event until it is this old. A GitOps apply sends its documents in any order,
/// so a launch often arrives a moment before its feature; saying `DependencyNotFound` for each
/// would double the API writes of a setup and flood `kubectl get events` with warnings that
/// resolve themselves. After this, a missing dependency is said as usual.
pub const QUIET_WAIT: Duration = Duration::from_secs(10);

/// An event's note is at most 1 KiB (events.k8s.io/v1 validation); kept a little under.
const NOTE_BYTES: usize = 1000;

/// What every reconcile pass shares.
pub struct Context {
    pub client: Client,
    pub evidently: Evidently,
    pub metrics: Arc<Metrics>,
    /// Where events go (written off the reconcile path).
    pub events: Events,
    pub resync: Duration,
    /// Tells the controllers of other kinds that an object became Ready or was deleted.
    pub signals: Signals,
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
            signals: Signals::new(),
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
    #[error("deleting from Evidently: {0}")]
    Cleanup(#[source] EvidentlyError),
    #[error("deletion waits: {0}")]
    Blocked(String),
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
            Error::Finalizer(e) => match e.as_ref() {
                kube::runtime::finalizer::Error::CleanupFailed(Error::Blocked(_)) => {
                    "DeletionBlocked"
                }
                _ => "FinalizerError",
            },
            Error::Cleanup(_) => "CleanupFailed",
            Error::Blocked(_) => "DeletionBlocked",
            Error::MissingNamespace => "MissingNamespace",
            Error::Decode(_) => "DecodeError",
        }
    }
}

/// The reconcile entry point given to the applier: decodes the cached object, then runs the
/// pass under the finalizer.
pub async fn reconcile<K: Managed>(
    cached: Arc<Cached<K>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    ctx.events.pass_started();
    let ns = cached.namespace().ok_or(Error::MissingNamespace)?;
    let span = info_span!("reconcile", kind = K::KIND, namespace = %ns, name = %cached.name_any(), generation = cached.metadata.generation);
    async move {
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        let object = match cached.decode() {
            Ok(object) => Arc::new(object),
            // Nothing was created from a spec that cannot be read: say so in the status.
            Err(e) if cached.metadata.deletion_timestamp.is_none() => {
                let outcome = undecodable::<K>(&cached, &e);
                let previous = cached.decode_status();
                return report::<K, _>(
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
            // Which resource to delete is not known; retried with backoff until the CRD and the
            // controller agree, or until someone removes the finalizer. Said once per streak of
            // failed deletions, like a failing delete (whatever failed before the deletion).
            Err(e) => {
                if ctx.deletion_failed(&cached.uid().unwrap_or_default()) {
                    publish(
                        &ctx,
                        cached.as_ref(),
                        EventType::Warning,
                        "NotDeleted",
                        &format!("Delete{}", K::KIND),
                        format!(
                            "{e}; the Evidently {} cannot be identified for deletion: fix the \
                             resource or remove the finalizer {FINALIZER} to leave it in Evidently",
                            K::NOUN
                        ),
                    );
                }
                return Err(Error::Decode(e));
            }
        };
        finalizer(&api, FINALIZER, object, |event| async {
            match event {
                Finalizer::Apply(o) => apply(o, &ctx).await,
                Finalizer::Cleanup(o) => cleanup(o, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)))
    }
    .instrument(span)
    .await
}

/// The error policy given to the applier: per-object backoff; a deletion that waits for other
/// resources to go is retried sooner (and as soon as one of them goes).
pub fn error_policy<K: Managed>(
    object: Arc<Cached<K>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let max = if error.category() == "DeletionBlocked" {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(300)
    };
    let delay = ctx.backoff(
        &object.uid().unwrap_or_default(),
        Duration::from_secs(1),
        max,
    );
    warn!(kind = K::KIND, name = %object.name_any(), category = error.category(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn publish<R: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &R,
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
    ctx.events.publish(event, object.object_ref(&()));
}

fn owner_of<R: Resource>(object: &R) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

async fn apply<K: Managed>(object: Arc<K>, ctx: &Context) -> Result<Action, Error> {
    let started = Instant::now();
    let mut created = false;
    let (outcome, observed, desired) = converge(object.as_ref(), ctx, &mut created).await;
    report::<K, K>(
        object.as_ref(),
        object.status(),
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
/// (unless `announce_ready` is false: a pass that created the resource says it in one `Created`
/// event), and picks the next pass.
#[allow(clippy::too_many_arguments)]
async fn report<K: Managed, R: Resource<DynamicType = ()>>(
    object: &R,
    previous: Option<&K::Status>,
    outcome: &Outcome,
    observed: Option<&K::Observed>,
    desired: Option<&K::Desired>,
    announce_ready: bool,
    started: Instant,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = object.uid().unwrap_or_default();
    let quiet = quiet_for(object, previous, outcome);
    // Remembered before the status is written: a dependency that becomes Ready before this
    // status is back in the cache still wakes the object (signals.rs).
    if matches!(outcome, Outcome::DependencyNotFound(_)) {
        ctx.signals.wait_for_dependency(&uid);
    } else {
        ctx.signals.stop_waiting(&uid);
    }
    if quiet.is_none() {
        let status = next_status::<K>(
            previous,
            observed,
            desired,
            outcome,
            object.meta().generation,
            now(),
        );
        write_status::<K>(object, previous, &status, ctx).await?;
    }

    let ready = if outcome.is_ready() { "True" } else { "False" };
    let transition = ready_of(previous) != Some((ready.to_string(), outcome.reason().to_string()));
    if transition && quiet.is_none() && (announce_ready || !outcome.is_ready()) {
        let type_ = if outcome.is_ready() {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(
            ctx,
            object,
            type_,
            outcome.reason(),
            "Reconcile",
            outcome.message::<K>(observed),
        );
    }
    if outcome.is_ready()
        && ready_of(previous).is_none_or(|(s, _)| s != "True")
        && let Some(d) = desired
    {
        ctx.signals.ready(K::KIND, K::located(d).key());
    }

    ctx.metrics.set_ready(K::KIND, &uid, Some(ready));
    ctx.metrics.reconciled(
        K::KIND,
        outcome.reason(),
        outcome.is_ready(),
        started.elapsed(),
    );
    info!(reason = outcome.reason(), ready, "reconciled");

    Ok(match outcome.retry() {
        Retry::OnChange => {
            ctx.succeeded(&uid);
            let next = match (desired, observed) {
                (Some(d), Some(o)) => K::next_check(d, o, ctx.resync),
                _ => ctx.resync,
            };
            Action::requeue(next)
        }
        // A quiet wait ends on time: the pass after it says what is missing.
        Retry::Backoff { base, max } => {
            let delay = ctx.backoff(&uid, base, max);
            Action::requeue(quiet.map_or(delay, |left| delay.min(left)))
        }
    })
}

/// For a pass that would say `DependencyNotFound` about an object that has never had a `Ready`
/// condition and is younger than [`QUIET_WAIT`]: how much of its quiet wait is left (a little
/// more, so that the pass after it is past the end).
fn quiet_for<S: CommonStatus>(
    object: &impl Resource,
    previous: Option<&S>,
    outcome: &Outcome,
) -> Option<Duration> {
    if !matches!(outcome, Outcome::DependencyNotFound(_)) || ready_of(previous).is_some() {
        return None;
    }
    let created = object.meta().creation_timestamp.as_ref()?.0;
    // A creation time ahead of this clock (skew with the API server's) counts as age zero, so
    // a quiet wait never lasts longer than QUIET_WAIT.
    let age = k8s_openapi::jiff::Timestamp::now()
        .duration_since(created)
        .max(k8s_openapi::jiff::SignedDuration::ZERO);
    let left = k8s_openapi::jiff::SignedDuration::try_from(QUIET_WAIT).ok()? - age;
    if left.is_positive() {
        Duration::try_from(left)
            .ok()
            .map(|d| d + Duration::from_millis(100))
    } else {
        None
    }
}

/// Server-side apply of the status subresource, only when it differs from `previous`.
async fn write_status<K: Managed>(
    object: &impl Resource<DynamicType = ()>,
    previous: Option<&K::Status>,
    status: &K::Status,
    ctx: &Context,
) -> Result<(), Error> {
    if previous == Some(status) {
        return Ok(());
    }
    let patch = json!({ "apiVersion": API_VERSION, "kind": K::KIND, "status": status });
    // The answer is read in the cache's lenient form: it must not fail on a spec that does not
    // decode (the InvalidSpec status of such a spec is written here too).
    let namespace = object.meta().namespace.as_deref().unwrap_or_default();
    let api: Api<Cached<K>> = Api::namespaced(ctx.client.clone(), namespace);
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// `InvalidSpec` for a spec that does not decode: the rules name each bad field by its path;
/// serde's message is the fallback.
fn undecodable<K: Managed>(cached: &Cached<K>, error: &DecodeError) -> Outcome {
    serde_json::from_str(cached.spec.get())
        .ok()
        .and_then(|spec| K::validate(&spec, &cached.name_any()).err())
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
        message = truncate(message, MAX_MESSAGE) + "...";
    }
    Outcome::InvalidSpec(message)
}

/// Brings Evidently in line with the spec; returns the outcome, what Evidently last reported,
/// and the validated desired state.
async fn converge<K: Managed>(
    object: &K,
    ctx: &Context,
    created: &mut bool,
) -> (Outcome, Option<K::Observed>, Option<K::Desired>) {
    let spec = match serde_json::to_value(object.spec()) {
        Ok(v) => v,
        Err(e) => return (Outcome::InvalidSpec(format!("spec: {e}")), None, None),
    };
    let desired = match K::validate(&spec, &object.name_any()) {
        Ok(d) => d,
        Err(violations) => return (invalid_spec(&violations), None, None),
    };
    let owner = owner_of(object);
    let tags = with_owner(K::user_tags(&desired), &owner);
    let (outcome, observed) = converge_valid(object, ctx, &desired, &tags, &owner, created).await;
    (outcome, observed, Some(desired))
}

async fn converge_valid<K: Managed>(
    object: &K,
    ctx: &Context,
    desired: &K::Desired,
    tags: &BTreeMap<String, String>,
    owner: &str,
    created: &mut bool,
) -> (Outcome, Option<K::Observed>) {
    let ev = &ctx.evidently;
    let at = K::located(desired);
    let known = object.status().and_then(|s| s.arn()).is_some();

    let existing = if known {
        match K::read(ev, &at).await {
            Ok(o) => Some(o),
            Err(EvidentlyError::NotFound { .. }) => {
                publish(
                    ctx,
                    object,
                    EventType::Warning,
                    &format!("{}Missing", K::KIND),
                    "Recreate",
                    format!(
                        "{} {at} no longer exists in Evidently; re-creating it",
                        K::NOUN
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
        None => match K::create(ev, desired, tags).await {
            Ok(o) => {
                publish(
                    ctx,
                    object,
                    EventType::Normal,
                    "Created",
                    &format!("Create{}", K::KIND),
                    format!(
                        "created {} {}; {}",
                        K::NOUN,
                        K::arn(&o),
                        K::ready_message(&o)
                    ),
                );
                *created = true;
                if K::compare(desired, &o).is_empty() {
                    return (Outcome::Reconciled, Some(o));
                }
                o
            }
            Err(EvidentlyError::Conflict(_)) => match K::read(ev, &at).await {
                Ok(o) => {
                    let ours = K::tags(&o).get(OWNER_TAG).map(String::as_str) == Some(owner);
                    let opted_in = object
                        .annotations()
                        .get(ADOPT_ANNOTATION)
                        .map(String::as_str)
                        == Some("true");
                    if !ours && !opted_in {
                        let holder = K::tags(&o)
                            .get(OWNER_TAG)
                            .map_or("no launch-operator resource".to_string(), |h| {
                                format!("the {} resource {h}", K::KIND)
                            });
                        return (
                            Outcome::AlreadyExists(format!(
                                "{} {at} already exists and belongs to {holder}; annotate this \
                                 resource with {ADOPT_ANNOTATION}=true to adopt it",
                                K::NOUN
                            )),
                            None,
                        );
                    }
                    publish(
                        ctx,
                        object,
                        EventType::Normal,
                        "Adopted",
                        &format!("Adopt{}", K::KIND),
                        format!("adopted {} {}", K::NOUN, K::arn(&o)),
                    );
                    o
                }
                Err(e) => return (Outcome::from_error(&e), None),
            },
            Err(e) => return (Outcome::from_error(&e), None),
        },
    };

    let changed = K::compare(desired, &observed);
    if !changed.is_empty() {
        if let Some(message) = K::frozen(&observed, &changed) {
            return (Outcome::LaunchEnded(message), Some(observed));
        }
        match K::update(ev, desired, &observed, &changed).await {
            Ok(o) => {
                publish(
                    ctx,
                    object,
                    EventType::Normal,
                    "Updated",
                    &format!("Update{}", K::KIND),
                    format!("updated {} in Evidently", changed.join(", ")),
                );
                observed = o;
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

    let arn = K::arn(&observed).to_string();
    let tags_to_set: BTreeMap<String, String> = tags
        .iter()
        .filter(|(k, v)| K::tags(&observed).get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !tags_to_set.is_empty() {
        if let Err(e) = ev.tag_resource(&arn, &tags_to_set).await {
            return (Outcome::from_error(&e), Some(observed));
        }
        K::tags_mut(&mut observed).extend(tags_to_set);
    }
    let tags_to_remove: Vec<String> = K::tags(&observed)
        .keys()
        .filter(|k| !tags.contains_key(*k))
        .cloned()
        .collect();
    if !tags_to_remove.is_empty() {
        if let Err(e) = ev.untag_resource(&arn, &tags_to_remove).await {
            return (Outcome::from_error(&e), Some(observed));
        }
        for k in &tags_to_remove {
            K::tags_mut(&mut observed).remove(k);
        }
    }
    (Outcome::Reconciled, Some(observed))
}

/// Why a deletion did not happen yet.
enum Removal {
    /// Evidently still holds resources that use this one; the message names them.
    Blocked(String),
    Failed(EvidentlyError),
}

/// Deletion: delete (or retain) the Evidently resource, then let the finalizer go. Never
/// validates: a resource whose spec is invalid must still be deletable.
async fn cleanup<K: Managed>(object: Arc<K>, ctx: &Context) -> Result<Action, Error> {
    let uid = object.uid().unwrap_or_default();
    let at = object.locate();
    match remove(object.as_ref(), &at, ctx).await {
        Ok(action) => {
            ctx.forget(&uid);
            ctx.signals.stop_waiting(&uid);
            ctx.signals.deleted(K::KIND, K::references(object.spec()));
            Ok(action)
        }
        Err(Removal::Blocked(message)) => {
            // Said once per streak in an event, and in the status, so that `kubectl get` and
            // `kubectl describe` tell why the resource stays; retried with backoff, and as soon
            // as a resource that holds it is deleted.
            let message = format!(
                "cannot delete {} {at} from Evidently yet: {message}; retried until they are gone",
                K::NOUN
            );
            if ctx.deletion_failed(&uid) {
                publish(
                    ctx,
                    object.as_ref(),
                    EventType::Warning,
                    "DeletionBlocked",
                    &format!("Delete{}", K::KIND),
                    message.clone(),
                );
            }
            let outcome = Outcome::DeletionBlocked(message.clone());
            let status = next_status::<K>(
                object.status(),
                None,
                None,
                &outcome,
                object.meta().generation,
                now(),
            );
            write_status::<K>(object.as_ref(), object.status(), &status, ctx).await?;
            Err(Error::Blocked(message))
        }
        Err(Removal::Failed(e)) => {
            if ctx.deletion_failed(&uid) {
                publish(
                    ctx,
                    object.as_ref(),
                    EventType::Warning,
                    "NotDeleted",
                    &format!("Delete{}", K::KIND),
                    format!(
                        "cannot delete {} {at} from Evidently yet: {e}; retried with backoff, \
                         the resource stays until then (or until the finalizer {FINALIZER} is \
                         removed)",
                        K::NOUN
                    ),
                );
            }
            Err(Error::Cleanup(e))
        }
    }
}

/// The deletion itself: delete the resource in Evidently if it is this object's.
async fn remove<K: Managed>(
    object: &K,
    at: &crate::kinds::Locator,
    ctx: &Context,
) -> Result<Action, Removal> {
    let uid = object.uid().unwrap_or_default();
    ctx.metrics.set_ready(K::KIND, &uid, None);
    let action = &format!("Delete{}", K::KIND);
    if object.deletion_policy() == DeletionPolicy::Retain {
        publish(
            ctx,
            object,
            EventType::Normal,
            "Retained",
            action,
            format!("left {} {at} in Evidently (deletionPolicy Retain)", K::NOUN),
        );
        return Ok(Action::await_change());
    }
    let ev = &ctx.evidently;
    let observed = match K::read(ev, at).await {
        Ok(o) => o,
        // Nothing to delete: gone already, or identifiers Evidently cannot even accept.
        Err(EvidentlyError::NotFound { .. } | EvidentlyError::Rejected(_)) => {
            return Ok(Action::await_change());
        }
        Err(e) => return Err(Removal::Failed(e)),
    };
    let ours = K::tags(&observed).get(OWNER_TAG) == Some(&owner_of(object))
        || object.status().and_then(|s| s.arn()) == Some(K::arn(&observed));
    if !ours {
        publish(
            ctx,
            object,
            EventType::Normal,
            "NotDeleted",
            action,
            format!(
                "{} {at} in Evidently is not owned by this resource; left in place",
                K::NOUN
            ),
        );
        return Ok(Action::await_change());
    }
    match K::delete(ev, at, &observed).await {
        Ok(()) | Err(EvidentlyError::NotFound { .. }) => {}
        Err(EvidentlyError::Conflict(m)) => {
            return Err(Removal::Blocked(K::holders(ev, at, m).await));
        }
        Err(e) => return Err(Removal::Failed(e)),
    }
    publish(
        ctx,
        object,
        EventType::Normal,
        "Deleted",
        action,
        format!("deleted {} {} from Evidently", K::NOUN, K::arn(&observed)),
    );
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::Launch;

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
        let cached: Cached<Launch> = serde_json::from_value(object).unwrap();
        let error = cached.decode().unwrap_err();
        let Outcome::InvalidSpec(message) = undecodable(&cached, &error) else {
            panic!("not InvalidSpec");
        };
        assert!(
            message.contains("spec.scheduledSplitsConfig.steps[0].groupWeights[a]"),
            "{message}"
        );
    }
}
