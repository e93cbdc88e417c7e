//! Parts 1 to 4: the controller against the test control plane (convergence against the
//! baselines of bare writes, steady state, latency, deletion, memory), and the layout of their
//! launches over namespaces and Evidently projects.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_sdk_evidently::types::{VariableValue, VariationConfig};
use futures::{StreamExt, stream};
use k8s_openapi::api::events::v1::Event;
use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams},
    core::{ApiResource, GroupVersionKind},
    runtime::watcher,
};
use launch_operator::crd::{FINALIZER, Launch};
use serde_json::{Value, json};

use crate::{
    emulator::emulator_bench,
    procfs::{apiserver_writes, controller_ready, cpu_seconds, pid, proc_status_kib},
    report::{Results, mib},
    settings::Settings,
    setup::setup_bench,
    support::{
        ControlPlane, Process, emulator_calls, emulator_mutating_calls, evidently_client,
        namespace, repo_root, start_controller_with, start_emulator,
    },
};

/// Launches per Evidently project (the emulator allows 500).
pub(crate) const PER_PROJECT: usize = 400;
/// Launches per namespace.
pub(crate) const PER_NAMESPACE: usize = 500;
pub(crate) const API_VERSION: &str = "evidently.launch-operator.io/v1alpha1";
/// deploy/'s MutatingAdmissionPolicy that adds the finalizer to new Launches.
pub(crate) const POLICY_FILE: &str =
    "deploy/components/finalizer-at-admission/finalizer-policy.yaml";
pub(crate) const POLICY_BINDING: &str = "launch-operator-finalizer";

/// Where launch number `i` lives: namespace and Evidently project.
pub(crate) struct Layout {
    pub(crate) namespaces: Vec<String>,
    pub(crate) projects: usize,
    pub(crate) prefix: String,
}

impl Layout {
    pub(crate) async fn new(admin: &Client, prefix: &str, launches: usize) -> Layout {
        let mut namespaces = Vec::new();
        for _ in 0..launches.div_ceil(PER_NAMESPACE).max(1) {
            namespaces.push(namespace(admin, prefix).await);
        }
        let projects = launches.div_ceil(PER_PROJECT).max(1);
        assert!(
            projects <= 50,
            "{launches} launches need {projects} projects; the emulator allows 50"
        );
        Layout {
            namespaces,
            projects,
            prefix: prefix.to_string(),
        }
    }

    pub(crate) fn namespace(&self, i: usize) -> &str {
        &self.namespaces[(i / PER_NAMESPACE).min(self.namespaces.len() - 1)]
    }

    pub(crate) fn name(&self, i: usize) -> String {
        format!("{}-{i:05}", self.prefix)
    }

    /// Evidently project number `p` of this layout.
    pub(crate) fn project(&self, p: usize) -> String {
        format!("{}-p{p}", self.prefix)
    }

    pub(crate) fn key(&self, i: usize) -> String {
        format!("{}/{}", self.namespace(i), self.name(i))
    }

    pub(crate) fn manifest(&self, i: usize) -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": "Launch",
            "metadata": {"name": self.name(i), "namespace": self.namespace(i)},
            "spec": {
                "project": self.project(i % self.projects),
                "description": "benchmark roll-out",
                "groups": [
                    {"name": "control", "feature": "f", "variation": "v1"},
                    {"name": "treatment", "feature": "f", "variation": "v2"}
                ],
                "scheduledSplitsConfig": {"steps": [
                    {"startTime": "2030-01-07T09:00:00Z", "groupWeights": {"control": 90000, "treatment": 10000}},
                    {"startTime": "2030-01-14T09:00:00Z", "groupWeights": {"control": 50000, "treatment": 50000}},
                    {"startTime": "2030-01-21T09:00:00Z", "groupWeights": {"control": 0, "treatment": 100000}}
                ]},
                "tags": {"team": "bench"}
            }
        })
    }

    pub(crate) async fn seed(&self, emulator: &Process) {
        let ev = evidently_client(&emulator.url());
        for p in 0..self.projects {
            let project = self.project(p);
            ev.create_project()
                .name(&project)
                .send()
                .await
                .expect("create project");
            let mut req = ev.create_feature().project(&project).name("f");
            for v in ["v1", "v2"] {
                req = req.variations(
                    VariationConfig::builder()
                        .name(v)
                        .value(VariableValue::StringValue(format!("value-{v}")))
                        .build()
                        .unwrap(),
                );
            }
            req.send().await.expect("create feature");
        }
    }

    pub(crate) fn api(&self, admin: &Client, i: usize) -> Api<Launch> {
        Api::namespaced(admin.clone(), self.namespace(i))
    }

    pub(crate) async fn apply(&self, admin: &Client, i: usize) {
        self.api(admin, i)
            .patch(
                &self.name(i),
                &PatchParams::apply("bench"),
                &Patch::Apply(self.manifest(i)),
            )
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", self.key(i)));
    }

    /// Applies launches `range` with `concurrency` requests in flight.
    pub(crate) async fn apply_all(
        &self,
        admin: &Client,
        range: std::ops::Range<usize>,
        concurrency: usize,
    ) {
        stream::iter(range)
            .for_each_concurrent(concurrency, |i| self.apply(admin, i))
            .await;
    }

    /// Resource versions of every Launch in the layout's namespaces.
    pub(crate) async fn versions(&self, admin: &Client) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for ns in &self.namespaces {
            let api: Api<Launch> = Api::namespaced(admin.clone(), ns);
            for l in api.list(&ListParams::default()).await.unwrap().items {
                out.insert(
                    format!("{ns}/{}", l.metadata.name.unwrap_or_default()),
                    l.metadata.resource_version.unwrap_or_default(),
                );
            }
        }
        out
    }
}

/// The status the controller writes for a Ready launch (what the baseline writes itself).
pub(crate) fn ready_status(layout: &Layout, i: usize) -> Value {
    let project = layout.project(i % layout.projects);
    json!({
        "apiVersion": API_VERSION,
        "kind": "Launch",
        "status": {
            "arn": format!("arn:aws:evidently:us-east-1:123456789012:project/{project}/launch/{}", layout.name(i)),
            "status": "CREATED",
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1,
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": "launch is CREATED in Evidently and matches the spec",
                "observedGeneration": 1,
                "lastTransitionTime": "2026-01-01T00:00:00Z"
            }]
        }
    })
}

pub(crate) fn is_ready(l: &Launch) -> bool {
    l.status.as_ref().is_some_and(|s| {
        s.arn.is_some()
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Follows every Launch in the cluster and remembers when each was first seen Ready with an
/// ARN (the moment `kubectl wait` would return).
pub(crate) struct Tracker {
    pub(crate) ready: Arc<Mutex<HashMap<String, Instant>>>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    pub(crate) async fn start(admin: &Client) -> Tracker {
        let ready: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let seen = ready.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let api: Api<Launch> = Api::all(admin.clone());
        let task = tokio::spawn(async move {
            let mut started = Some(started_tx);
            let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
            while let Some(event) = events.next().await {
                let now = Instant::now();
                match event {
                    Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l)) if is_ready(&l) => {
                        let key = format!(
                            "{}/{}",
                            l.metadata.namespace.unwrap_or_default(),
                            l.metadata.name.unwrap_or_default()
                        );
                        seen.lock().unwrap().entry(key).or_insert(now);
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = started.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("bench watch: {e}"),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), started_rx)
            .await
            .expect("the bench watch started")
            .unwrap();
        Tracker { ready, task }
    }

    pub(crate) fn ready_at(&self, key: &str) -> Option<Instant> {
        self.ready.lock().unwrap().get(key).copied()
    }

    /// Waits until every key is Ready; returns the latest Ready instant.
    pub(crate) async fn wait_all(
        &self,
        keys: &[String],
        timeout: Duration,
        poll: Duration,
    ) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let (missing, latest) = {
                let map = self.ready.lock().unwrap();
                let missing: Vec<&String> = keys.iter().filter(|k| !map.contains_key(*k)).collect();
                let latest = keys.iter().filter_map(|k| map.get(k)).max().copied();
                (
                    missing
                        .iter()
                        .take(3)
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>(),
                    latest,
                )
            };
            if missing.is_empty() {
                return latest.unwrap_or_else(Instant::now);
            }
            assert!(
                Instant::now() < deadline,
                "not Ready within {timeout:?}, e.g. {missing:?}"
            );
            tokio::time::sleep(poll).await;
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn converge_timeout(launches: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(200) * launches as u32
}

pub(crate) async fn controller(emulator: &Process, s: &Settings) -> Process {
    let args: Vec<&str> = std::iter::once("--leader-election=false")
        .chain(s.controller_args.iter().map(String::as_str))
        .collect();
    start_controller_with(&emulator.url(), &args, "info").await
}

/// An events.k8s.io/v1 Event like the controller's Recorder creates.
pub(crate) fn event_for(layout: &Layout, i: usize, uid: &str, reason: &str) -> Event {
    serde_json::from_value(json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{}", layout.name(i), &uuid::Uuid::new_v4().simple().to_string()[..16]),
            "namespace": layout.namespace(i),
        },
        "eventTime": format!("{:.6}", k8s_openapi::jiff::Timestamp::now()),
        "reportingController": "launch-operator",
        "reportingInstance": "bench",
        "action": "Reconcile",
        "reason": reason,
        "note": "launch is CREATED in Evidently and matches the spec",
        "type": "Normal",
        "regarding": {
            "apiVersion": API_VERSION,
            "kind": "Launch",
            "name": layout.name(i),
            "namespace": layout.namespace(i),
            "uid": uid,
        },
    }))
    .unwrap()
}

/// What the client writes in a no-controller baseline.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Writes {
    /// Create, then one status patch: the least any controller needs.
    Minimal,
    /// Every write the controller makes for a new launch: create (the finalizer is added at
    /// admission), status patch, and its one event (Created).
    Controller,
}

/// Baseline: no controller; the client writes N objects itself (`writes`), at the same
/// concurrency as the controller run's applies.
pub(crate) async fn baseline(admin: &Client, s: &Settings, writes: Writes) -> Duration {
    let layout = Layout::new(admin, "bench-baseline", s.n).await;
    let started = Instant::now();
    stream::iter(0..s.n)
        .for_each_concurrent(s.client_concurrency, |i| {
            let layout = &layout;
            async move {
                let api = layout.api(admin, i);
                let created = api
                    .patch(
                        &layout.name(i),
                        &PatchParams::apply("bench"),
                        &Patch::Apply(layout.manifest(i)),
                    )
                    .await
                    .expect("create");
                let uid = created.metadata.uid.unwrap_or_default();
                let events: Api<Event> = Api::namespaced(admin.clone(), layout.namespace(i));
                api.patch_status(
                    &layout.name(i),
                    &PatchParams::apply("bench-baseline").force(),
                    &Patch::Apply(ready_status(layout, i)),
                )
                .await
                .expect("status patch");
                if writes == Writes::Controller {
                    events
                        .create(
                            &PostParams::default(),
                            &event_for(layout, i, &uid, "Created"),
                        )
                        .await
                        .expect("event");
                }
            }
        })
        .await;
    let took = started.elapsed();
    // Gone before any controller starts: finalizers (from the admission policy) dropped, then
    // deleted at once.
    {
        stream::iter(0..s.n)
            .for_each_concurrent(s.client_concurrency, |i| {
                let layout = &layout;
                async move {
                    layout
                        .api(admin, i)
                        .patch(
                            &layout.name(i),
                            &PatchParams::default(),
                            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                        )
                        .await
                        .expect("drop the finalizer");
                }
            })
            .await;
    }
    for ns in &layout.namespaces {
        Api::<Launch>::namespaced(admin.clone(), ns)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .expect("delete the baseline's objects");
    }
    took
}

/// Whether a new Launch gets the controller's finalizer at admission right now (dry-run create).
pub(crate) async fn admission_adds_finalizer(admin: &Client, layout: &Layout) -> bool {
    let mut probe: Launch = serde_json::from_value(layout.manifest(0)).unwrap();
    probe.metadata.name = Some("bench-admission-probe".into());
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let created = layout
        .api(admin, 0)
        .create(&params, &probe)
        .await
        .expect("dry-run create");
    created
        .metadata
        .finalizers
        .unwrap_or_default()
        .iter()
        .any(|f| f == FINALIZER)
}

/// Binds (as deploy/ does) or unbinds the finalizer admission policy, and waits until the API
/// server acts on it.
pub(crate) async fn set_admission_policy(admin: &Client, layout: &Layout, on: bool) {
    if on {
        crate::support::control_plane::apply_file(admin, &repo_root().join(POLICY_FILE)).await;
    } else {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingAdmissionPolicyBinding",
            ),
            "mutatingadmissionpolicybindings",
        );
        Api::<DynamicObject>::all_with(admin.clone(), &resource)
            .delete(POLICY_BINDING, &DeleteParams::default())
            .await
            .expect("unbind the admission policy");
    }
    crate::support::eventually(
        &format!(
            "the finalizer admission policy to be {}",
            if on { "on" } else { "off" }
        ),
        Duration::from_secs(30),
        || async {
            if admission_adds_finalizer(admin, layout).await == on {
                Ok(())
            } else {
                Err("not yet".to_string())
            }
        },
    )
    .await;
}

pub(crate) async fn run(s: &Settings) -> Results {
    let cp = ControlPlane::shared();
    // Part 1 measures the admission policy bound and unbound, so it needs a server that serves
    // it: the harness's default version does (README, "Supported Kubernetes versions").
    assert!(
        cp.serves_admission_policy,
        "the benchmarks need Kubernetes 1.36+ (MutatingAdmissionPolicy v1); this server is {}",
        cp.version
    );
    let admin = cp.admin().await;
    let tracker = Tracker::start(&admin).await;
    let mut r = Results {
        n: s.n,
        resync: Duration::from_secs(300),
        ..Results::default()
    };
    if let Some(resync) = s
        .controller_args
        .iter()
        .find_map(|a| a.strip_prefix("--resync-interval="))
    {
        r.resync = humantime::parse_duration(resync).expect("--resync-interval");
    }

    // 5. The emulator alone, first, on a quiet machine.
    r.emulator = emulator_bench(s).await;
    println!("emulator: {:?}", r.emulator);

    // 1. Convergence: baseline, then the controller.
    // The baseline is the bare control plane: no admission policy.
    let probe = Layout::new(&admin, "bench-probe", 1).await;
    set_admission_policy(&admin, &probe, false).await;
    r.baseline = baseline(&admin, s, Writes::Minimal).await;
    set_admission_policy(&admin, &probe, true).await;
    r.baseline_policy = baseline(&admin, s, Writes::Minimal).await;
    r.floor = baseline(&admin, s, Writes::Controller).await;
    println!(
        "baseline: {:?}, the controller's writes: {:?}",
        r.baseline, r.floor
    );
    let emulator = start_emulator(&[]).await;
    let layout = Layout::new(&admin, "bench", s.n + s.seq).await;
    layout.seed(&emulator).await;
    let mut ctl = controller(&emulator, s).await;
    let ctl_pid = pid(&ctl);
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.start_rss_kib = proc_status_kib(ctl_pid, "VmRSS:");
    let cpu_before = cpu_seconds(ctl_pid);
    let started = Instant::now();
    layout.apply_all(&admin, 0..s.n, s.client_concurrency).await;
    r.submit = started.elapsed();
    let keys: Vec<String> = (0..s.n).map(|i| layout.key(i)).collect();
    let last = tracker
        .wait_all(&keys, converge_timeout(s.n), Duration::from_millis(50))
        .await;
    r.converge = last - started;
    r.converge_cpu = cpu_seconds(ctl_pid) - cpu_before;
    r.converge_hwm_kib = proc_status_kib(ctl_pid, "VmHWM:");
    println!("convergence: {:?} (baseline {:?})", r.converge, r.baseline);

    // 2. Steady state: the same launches, left alone.
    tokio::time::sleep(s.settle).await;
    let versions = layout.versions(&admin).await;
    assert_eq!(versions.len(), s.n);
    let writes = apiserver_writes(&admin).await;
    let (mutating, gets) = (
        emulator_mutating_calls(&emulator).await,
        emulator_calls(&emulator, "GetLaunch").await,
    );
    let cpu = cpu_seconds(ctl_pid);
    let window = Instant::now();
    tokio::time::sleep(s.idle).await;
    r.idle = window.elapsed();
    let after = layout.versions(&admin).await;
    r.idle_launch_writes = versions
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .count();
    r.idle_api_writes = apiserver_writes(&admin).await - writes;
    let (mutating_after, gets_after) = (
        emulator_mutating_calls(&emulator).await,
        emulator_calls(&emulator, "GetLaunch").await,
    );
    r.idle_mutating = mutating_after - mutating;
    r.idle_gets = gets_after - gets;
    r.idle_cpu = cpu_seconds(ctl_pid) - cpu;
    r.idle_rss_kib = proc_status_kib(ctl_pid, "VmRSS:");
    println!(
        "steady state: {} launch writes, {} API writes, {} mutating, {} GetLaunch, {:.2} s CPU",
        r.idle_launch_writes, r.idle_api_writes, r.idle_mutating, r.idle_gets, r.idle_cpu
    );

    // 3. Latency: one launch at a time.
    for i in s.n..s.n + s.seq {
        let key = layout.key(i);
        let t = Instant::now();
        layout.apply(&admin, i).await;
        let ready = tracker
            .wait_all(
                std::slice::from_ref(&key),
                Duration::from_secs(60),
                Duration::from_millis(2),
            )
            .await;
        r.latencies.push(ready - t);
        assert!(tracker.ready_at(&key).is_some());
    }
    println!("latency: p50 {:?} p99 {:?}", r.p(0.5), r.p(0.99));

    // 1b. Convergence with the admission policy unbound: the controller adds every finalizer.
    set_admission_policy(&admin, &probe, false).await;
    let plain = Layout::new(&admin, "bench-nopolicy", s.n).await;
    plain.seed(&emulator).await;
    let t = Instant::now();
    plain.apply_all(&admin, 0..s.n, s.client_concurrency).await;
    let keys: Vec<String> = (0..s.n).map(|i| plain.key(i)).collect();
    let last = tracker
        .wait_all(&keys, converge_timeout(s.n), Duration::from_millis(50))
        .await;
    r.converge_no_policy = last - t;
    set_admission_policy(&admin, &probe, true).await;
    println!(
        "convergence without the admission policy: {:?}",
        r.converge_no_policy
    );

    // Deletion of everything, which also leaves the cluster empty for the memory phase.
    r.deleted = s.n + s.seq + s.n;
    let t = Instant::now();
    for ns in layout.namespaces.iter().chain(&plain.namespaces) {
        Api::<Launch>::namespaced(admin.clone(), ns)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .expect("delete launches");
    }
    crate::support::eventually(
        "every launch deleted",
        converge_timeout(r.deleted),
        || async {
            let left = layout.versions(&admin).await.len() + plain.versions(&admin).await.len();
            if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} left"))
            }
        },
    )
    .await;
    r.deletion = t.elapsed();
    println!("deletion: {:?}", r.deletion);
    ctl.kill();
    drop(emulator);

    // 6. A whole setup from empty; it leaves the cluster empty again for the memory phase.
    r.setup = Some(setup_bench(&admin, s, &probe).await);

    // 4. Memory: a fresh controller against M launches (created while no controller runs).
    if let Some(&largest) = s.memory.last() {
        let emulator = start_emulator(&[]).await;
        let layout = Layout::new(&admin, "bench-mem", largest).await;
        layout.seed(&emulator).await;
        let mut created = 0;
        for &m in &s.memory {
            layout
                .apply_all(&admin, created..m, s.client_concurrency.max(32))
                .await;
            created = m;
            let mut ctl = controller(&emulator, s).await;
            let ctl_pid = pid(&ctl);
            let t = Instant::now();
            crate::support::eventually(
                &format!("the controller to reconcile {m} launches to Ready"),
                converge_timeout(m),
                || async {
                    match controller_ready(&ctl).await {
                        n if n >= m => Ok(()),
                        n => Err(format!("{n} Ready")),
                    }
                },
            )
            .await;
            let took = t.elapsed();
            // The passes that follow each status write, then the peak.
            tokio::time::sleep(s.settle).await;
            let hwm = proc_status_kib(ctl_pid, "VmHWM:");
            let cpu = cpu_seconds(ctl_pid);
            println!(
                "memory: {m} launches, peak RSS {:.1} MiB, Ready in {took:?}",
                mib(hwm)
            );
            r.memory.push((m, hwm, took, cpu));
            ctl.kill();
        }
    }
    r
}
