//! Dependencies between kinds, watched rather than polled.
//!
//! A pass that makes an object Ready says so here ([`Signals::ready`]), and so does a pass
//! that deleted an object from Evidently ([`Signals::deleted`]). The controller of each kind
//! listens to the kinds it depends on (`Managed::NEEDS`: a Launch needs its project, features
//! and segments) and to the kinds that can hold up its deletion (`Managed::HELD_BY`: a project
//! cannot go while features or launches are in it), and then reconciles its objects that wait
//! for exactly that: those whose `Ready` reason is `DependencyNotFound`, or `DeletionBlocked`.
//!
//! Signals are counters in `tokio::sync::watch` channels: a burst of a thousand Ready objects
//! wakes each listener once or a few times, not a thousand times, and a listener scans only its
//! own cache. The backoff of the waiting objects stays as the safety net.

use std::collections::HashMap;

use futures::{Stream, StreamExt, stream};
use kube::runtime::{reflector::ObjectRef, reflector::Store};
use tokio::sync::watch;

use super::cache::Cached;
use crate::{crd::schema::KINDS, kinds::Managed};

/// What a signal announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Signal {
    Ready,
    Deleted,
}

impl Signal {
    /// The `Ready` reason of the objects that wait for this signal.
    fn waiting_reason(self) -> &'static str {
        match self {
            Signal::Ready => "DependencyNotFound",
            Signal::Deleted => "DeletionBlocked",
        }
    }
}

/// The signal channels, one per kind and signal.
pub struct Signals {
    channels: HashMap<(&'static str, Signal), watch::Sender<u64>>,
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}

impl Signals {
    pub fn new() -> Self {
        let channels = KINDS
            .iter()
            .flat_map(|k| [(*k, Signal::Ready), (*k, Signal::Deleted)])
            .map(|key| (key, watch::channel(0).0))
            .collect();
        Signals { channels }
    }

    fn send(&self, kind: &str, signal: Signal) {
        if let Some((_, tx)) = self
            .channels
            .iter()
            .find(|((k, s), _)| *k == kind && *s == signal)
        {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// An object of `kind` became Ready.
    pub fn ready(&self, kind: &str) {
        self.send(kind, Signal::Ready);
    }

    /// An object of `kind` was deleted from Evidently.
    pub fn deleted(&self, kind: &str) {
        self.send(kind, Signal::Deleted);
    }

    /// The objects of `K` in `store` to reconcile again because something they wait for
    /// happened, as a stream that ends when the signals are dropped.
    pub fn waiting<K: Managed>(
        &self,
        store: Store<Cached<K>>,
    ) -> impl Stream<Item = ObjectRef<Cached<K>>> + Send + 'static {
        let listen = |kinds: &[&str], signal: Signal| -> Vec<_> {
            kinds
                .iter()
                .filter_map(|k| self.channels.get(&(*k, signal)))
                .map(|tx| {
                    let rx = tx.subscribe();
                    stream::unfold(rx, move |mut rx| async move {
                        rx.changed().await.ok().map(|()| (signal, rx))
                    })
                    .boxed()
                })
                .collect()
        };
        let mut wakes = listen(K::NEEDS, Signal::Ready);
        wakes.extend(listen(K::HELD_BY, Signal::Deleted));
        stream::select_all(wakes).flat_map(move |signal| {
            let reason = signal.waiting_reason();
            let refs: Vec<ObjectRef<Cached<K>>> = store
                .state()
                .iter()
                .filter(|o| o.ready().is_some_and(|(_, r)| r == reason))
                .map(|o| ObjectRef::from_obj(o.as_ref()))
                .collect();
            stream::iter(refs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use super::*;
    use crate::crd::{Launch, Project};

    fn launch(name: &str, reason: Option<&str>) -> Cached<Launch> {
        let mut v = json!({
            "apiVersion": "evidently.launch-operator.io/v1alpha1", "kind": "Launch",
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"project": "p", "groups": []}
        });
        if let Some(r) = reason {
            v["status"] = json!({"conditions": [{"type": "Ready", "status": "False", "reason": r,
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
        }
        serde_json::from_value(v).unwrap()
    }

    #[tokio::test]
    async fn a_ready_dependency_wakes_exactly_the_objects_waiting_for_one() {
        let signals = Signals::new();
        let (store, mut writer) = reflector::store::<Cached<Launch>>();
        for l in [
            launch("waits", Some("DependencyNotFound")),
            launch("invalid", Some("InvalidSpec")),
            launch("new", None),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(l));
        }
        let mut woken = Box::pin(signals.waiting::<Launch>(store));
        // Nothing happened yet: nothing is woken.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), woken.next())
                .await
                .is_err()
        );
        // A kind the launches do not depend on: still nothing.
        signals.deleted(<Project as Managed>::KIND);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), woken.next())
                .await
                .is_err()
        );
        signals.ready(<Project as Managed>::KIND);
        let first = woken.next().await.unwrap();
        assert_eq!(first.name, "waits");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), woken.next())
                .await
                .is_err()
        );
    }
}
