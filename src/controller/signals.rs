//! Dependencies between kinds, watched rather than polled, and targeted.
//!
//! A pass that makes an object Ready says which resource is now there ([`Signals::ready`]:
//! its kind and `Locator::key`), and a pass that deleted an object from Evidently says which
//! resources it held ([`Signals::deleted`]: its `Managed::references`). The controller of each
//! kind listens, and reconciles exactly its objects that wait for that resource: those whose
//! `Ready` reason is `DependencyNotFound` and whose references include it (a Launch waiting
//! for feature `shop/checkout` wakes when that feature is Ready, not when any feature is), or
//! whose reason is `DeletionBlocked` and which the deleted object held (a Project waits for
//! its features and launches to go).
//!
//! Every object whose last pass found a dependency missing is also remembered here by uid
//! ([`Signals::wait_for_dependency`]) until a pass ends otherwise, and counts as
//! `DependencyNotFound` whatever the cache says: the cache shows its status only once the
//! status write comes back through the watch, and a dependency that becomes Ready in between
//! must still wake it (missed, it would wait for its backoff, up to 30 s). An object that finds
//! a dependency missing in its first seconds waits *quietly*: no status and no event are
//! written yet (see `reconcile::QUIET_WAIT`), since in a GitOps apply the order of the
//! documents is arbitrary and most such waits end within seconds; it has no `Ready` reason to
//! be found by at all, and is woken the same way.
//!
//! Signals travel on one broadcast channel; a listener that falls behind (more than
//! [`CAPACITY`] signals unread) wakes every waiting object once, and the backoff of the waiting
//! objects stays as the safety net for dependencies created outside the cluster.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use futures::{Stream, StreamExt, stream};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::broadcast::{self, error::RecvError};

use super::cache::Cached;
use crate::kinds::Managed;

/// Signals buffered per listener before it falls behind.
pub const CAPACITY: usize = 16 * 1024;

/// What happened to a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signal {
    /// The resource (kind, key) is Ready.
    Ready(&'static str, String),
    /// A resource of kind `.0` was deleted; it held these resources (kind, key).
    Deleted(&'static str, Vec<(&'static str, String)>),
}

/// The signal channel, shared by every controller of the process.
pub struct Signals {
    tx: broadcast::Sender<Arc<Signal>>,
    /// Uids of the objects whose last pass found a dependency missing.
    quiet: Arc<Mutex<HashSet<String>>>,
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}

impl Signals {
    pub fn new() -> Self {
        Signals {
            tx: broadcast::channel(CAPACITY).0,
            quiet: Arc::default(),
        }
    }

    /// The last pass of object `uid` found a dependency missing (said in its status or not).
    pub fn wait_for_dependency(&self, uid: &str) {
        self.quiet
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_string());
    }

    /// The object `uid` no longer waits for a dependency (its pass ended otherwise, or it is
    /// gone).
    pub fn stop_waiting(&self, uid: &str) {
        self.quiet
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }

    /// The resource `key` of `kind` became Ready.
    pub fn ready(&self, kind: &'static str, key: String) {
        // No listener (yet): nobody waits.
        let _ = self.tx.send(Arc::new(Signal::Ready(kind, key)));
    }

    /// An object of `kind` was deleted from Evidently; it held `references`.
    pub fn deleted(&self, kind: &'static str, references: Vec<(&'static str, String)>) {
        let _ = self.tx.send(Arc::new(Signal::Deleted(kind, references)));
    }

    /// The objects of `K` in `store` to reconcile again because something they wait for
    /// happened, as a stream that ends when the signals are dropped.
    pub fn waiting<K: Managed>(
        &self,
        store: Store<Cached<K>>,
    ) -> impl Stream<Item = ObjectRef<Cached<K>>> + Send + 'static {
        let rx = self.tx.subscribe();
        let quiet = self.quiet.clone();
        stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(signal) => Some((Some(signal), rx)),
                Err(RecvError::Lagged(_)) => Some((None, rx)),
                Err(RecvError::Closed) => None,
            }
        })
        .flat_map(move |signal| stream::iter(woken(&store, &quiet, signal.as_deref())))
    }
}

/// The objects of `store` that `signal` concerns (`None`: signals were missed; every waiting
/// object). An object waiting quietly counts as `DependencyNotFound`.
fn woken<K: Managed>(
    store: &Store<Cached<K>>,
    quiet: &Mutex<HashSet<String>>,
    signal: Option<&Signal>,
) -> Vec<ObjectRef<Cached<K>>> {
    // Most signals concern no object of this kind (every Launch that becomes Ready sends one,
    // and nothing waits for a launch): answered without looking at the store, whose scan
    // decodes each object's status (with 10,000 launches, a scan per launch made converging
    // them quadratic).
    let concerned = match signal {
        None => true,
        Some(Signal::Ready(kind, _)) => K::NEEDS.contains(kind),
        Some(Signal::Deleted(kind, _)) => K::HELD_BY.contains(kind),
    };
    if !concerned {
        return Vec::new();
    }
    // A copy: the lock is not held while specs are decoded (every pass takes it).
    let quiet = quiet.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let reason = |o: &Cached<K>| {
        if o.metadata
            .uid
            .as_ref()
            .is_some_and(|uid| quiet.contains(uid))
        {
            Some("DependencyNotFound".to_string())
        } else {
            o.ready().map(|(_, r)| r)
        }
    };
    store
        .state()
        .iter()
        .filter(|o| match (signal, reason(o).as_deref()) {
            (None, Some("DependencyNotFound" | "DeletionBlocked")) => true,
            (Some(Signal::Ready(kind, key)), Some("DependencyNotFound")) => {
                serde_json::from_str::<K::Spec>(o.spec.get()).is_ok_and(|spec| {
                    K::references(&spec)
                        .iter()
                        .any(|(k, v)| k == kind && v == key)
                })
            }
            (Some(Signal::Deleted(_, held)), Some("DeletionBlocked")) => {
                o.decode().is_ok_and(|object| {
                    let own = object.locate().key();
                    held.iter().any(|(k, v)| *k == K::KIND && *v == own)
                })
            }
            _ => false,
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use super::*;
    use crate::crd::{Launch, Project};

    fn launch(name: &str, feature: &str, reason: Option<&str>) -> Cached<Launch> {
        let mut v = json!({
            "apiVersion": "evidently.launch-operator.io/v1alpha1", "kind": "Launch",
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"project": "arn:aws:evidently:us-east-1:1:project/shop",
                     "groups": [{"name": "g", "feature": feature, "variation": "v"}]}
        });
        if let Some(r) = reason {
            v["status"] = json!({"conditions": [{"type": "Ready", "status": "False", "reason": r,
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
        }
        serde_json::from_value(v).unwrap()
    }

    fn project(name: &str, reason: &str) -> Cached<Project> {
        serde_json::from_value(json!({
            "apiVersion": "evidently.launch-operator.io/v1alpha1", "kind": "Project",
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": reason,
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .unwrap()
    }

    async fn next_names<K: Managed>(
        woken: &mut (impl Stream<Item = ObjectRef<Cached<K>>> + Unpin),
    ) -> Option<String> {
        tokio::time::timeout(Duration::from_millis(100), woken.next())
            .await
            .ok()
            .flatten()
            .map(|r| r.name)
    }

    #[tokio::test]
    async fn a_ready_dependency_wakes_exactly_the_objects_waiting_for_it() {
        let signals = Signals::new();
        let (store, mut writer) = reflector::store::<Cached<Launch>>();
        for l in [
            launch("waits-for-checkout", "checkout", Some("DependencyNotFound")),
            launch("waits-for-search", "search", Some("DependencyNotFound")),
            launch("invalid", "checkout", Some("InvalidSpec")),
            launch("new", "checkout", None),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(l));
        }
        let mut woken = Box::pin(signals.waiting::<Launch>(store));
        signals.ready("Feature", "shop/recommendations".into());
        signals.ready("Feature", "shop/checkout".into());
        assert_eq!(
            next_names(&mut woken).await.as_deref(),
            Some("waits-for-checkout")
        );
        assert_eq!(next_names(&mut woken).await, None, "nothing else");
        // The project (named by ARN in the launches) wakes both.
        signals.ready("Project", "shop".into());
        let mut both = vec![
            next_names(&mut woken).await.unwrap(),
            next_names(&mut woken).await.unwrap(),
        ];
        both.sort();
        assert_eq!(both, ["waits-for-checkout", "waits-for-search"]);
    }

    #[tokio::test]
    async fn an_object_waiting_quietly_is_woken_like_one_that_said_so() {
        let signals = Signals::new();
        let (store, mut writer) = reflector::store::<Cached<Launch>>();
        writer.apply_watcher_event(&watcher::Event::Apply(launch("quiet", "checkout", None)));
        writer.apply_watcher_event(&watcher::Event::Apply(launch("new", "checkout", None)));
        let mut woken = Box::pin(signals.waiting::<Launch>(store));
        signals.wait_for_dependency("quiet");
        signals.ready("Feature", "shop/checkout".into());
        assert_eq!(next_names(&mut woken).await.as_deref(), Some("quiet"));
        assert_eq!(
            next_names(&mut woken).await,
            None,
            "not the one that waits for nothing"
        );
        // Once its pass ended otherwise, it is no longer woken.
        signals.stop_waiting("quiet");
        signals.ready("Feature", "shop/checkout".into());
        assert_eq!(next_names(&mut woken).await, None);
    }

    #[tokio::test]
    async fn an_object_whose_waiting_status_is_not_cached_yet_is_woken() {
        // Its last pass found the feature missing and wrote that; the cache still shows the
        // status before (here: another reason), as it does until the write comes back.
        let signals = Signals::new();
        let (store, mut writer) = reflector::store::<Cached<Launch>>();
        writer.apply_watcher_event(&watcher::Event::Apply(launch(
            "stale",
            "checkout",
            Some("EvidentlyUnavailable"),
        )));
        let mut woken = Box::pin(signals.waiting::<Launch>(store));
        signals.ready("Feature", "shop/checkout".into());
        assert_eq!(next_names(&mut woken).await, None, "not waiting yet");
        signals.wait_for_dependency("stale");
        signals.ready("Feature", "shop/checkout".into());
        assert_eq!(next_names(&mut woken).await.as_deref(), Some("stale"));
    }

    #[tokio::test]
    async fn a_deletion_wakes_the_blocked_objects_it_held() {
        let signals = Signals::new();
        let (store, mut writer) = reflector::store::<Cached<Project>>();
        writer.apply_watcher_event(&watcher::Event::Apply(project("shop", "DeletionBlocked")));
        writer.apply_watcher_event(&watcher::Event::Apply(project("other", "DeletionBlocked")));
        let mut woken = Box::pin(signals.waiting::<Project>(store));
        // A segment does not hold projects; a launch of project shop does.
        signals.deleted("Segment", vec![("Project", "shop".into())]);
        assert_eq!(next_names(&mut woken).await, None);
        signals.deleted(
            "Launch",
            vec![
                ("Project", "shop".into()),
                ("Feature", "shop/checkout".into()),
            ],
        );
        assert_eq!(next_names(&mut woken).await.as_deref(), Some("shop"));
        assert_eq!(next_names(&mut woken).await, None);
    }
}
