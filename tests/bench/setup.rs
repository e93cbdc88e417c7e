//! Part 6: a whole setup from empty (projects, features, segments and launches applied at once
//! in a shuffled order) against the same client writing the same objects with no controller.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams},
    core::ApiResource,
    runtime::watcher,
};
use launch_operator::crd::{Feature, Launch, Project, Segment};
use serde_json::{Value, json};

use crate::{
    operator::{
        API_VERSION, Layout, PER_NAMESPACE, controller, converge_timeout, set_admission_policy,
    },
    procfs::{cpu_seconds, pid},
    report::Row,
    settings::Settings,
    support::{http_get, namespace, start_emulator},
};

/// Sizes of part 6 (`BENCH_SETUP`): Evidently projects, features, segments and launches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct SetupSizes {
    pub(crate) projects: usize,
    pub(crate) features: usize,
    pub(crate) segments: usize,
    pub(crate) launches: usize,
}

/// Every `RUNNING_EVERY`-th launch asks to run (`executionStatus: START`).
pub(crate) const RUNNING_EVERY: usize = 20;
/// Every `OVERRIDE_EVERY`-th launch gives a segment its own split.
pub(crate) const OVERRIDE_EVERY: usize = 3;
/// The emulator's per-project quotas.
pub(crate) const MAX_PROJECTS: usize = 50;
pub(crate) const MAX_FEATURES_PER_PROJECT: usize = 100;
pub(crate) const MAX_LAUNCHES_PER_PROJECT: usize = 500;
pub(crate) const MAX_RUNNING_PER_PROJECT: usize = 50;
/// The operator's kinds, in the order their objects are listed (the order of dependencies).
pub(crate) const SETUP_KINDS: [&str; 4] = ["Project", "Segment", "Feature", "Launch"];

impl SetupSizes {
    /// `BENCH_SETUP`: "projects,features,segments,launches" (default "3,200,20,1000").
    pub(crate) fn from_env() -> SetupSizes {
        let text = std::env::var("BENCH_SETUP").unwrap_or_else(|_| "3,200,20,1000".into());
        let n: Vec<usize> = text
            .split(',')
            .map(|s| {
                s.trim().parse().unwrap_or_else(|_| {
                    panic!("BENCH_SETUP={text}: projects,features,segments,launches")
                })
            })
            .collect();
        let [projects, features, segments, launches] = n[..] else {
            panic!("BENCH_SETUP={text}: four counts, projects,features,segments,launches");
        };
        SetupSizes {
            projects,
            features,
            segments,
            launches,
        }
    }

    pub(crate) fn objects(&self) -> usize {
        self.projects + self.features + self.segments + self.launches
    }

    pub(crate) fn is_running(i: usize) -> bool {
        i.is_multiple_of(RUNNING_EVERY)
    }

    pub(crate) fn running(&self) -> usize {
        (0..self.launches).filter(|i| Self::is_running(*i)).count()
    }

    /// Features of project `p`: those numbered `p`, `p + projects`, `p + 2 × projects`, …
    pub(crate) fn features_of(&self, p: usize) -> usize {
        self.features.saturating_sub(p).div_ceil(self.projects)
    }

    /// Panics unless the setup fits the emulator's quotas (and every project has a feature).
    pub(crate) fn check(&self) {
        let per_project = |count: usize| count.div_ceil(self.projects.max(1));
        assert!(
            (1..=MAX_PROJECTS).contains(&self.projects),
            "BENCH_SETUP: 1 to {MAX_PROJECTS} projects"
        );
        assert!(
            self.features >= self.projects
                && per_project(self.features) <= MAX_FEATURES_PER_PROJECT,
            "BENCH_SETUP: at least one and at most {MAX_FEATURES_PER_PROJECT} features per project"
        );
        assert!(
            per_project(self.launches) <= MAX_LAUNCHES_PER_PROJECT,
            "BENCH_SETUP: at most {MAX_LAUNCHES_PER_PROJECT} launches per project"
        );
        for p in 0..self.projects {
            let running = (0..self.launches)
                .filter(|i| i % self.projects == p && Self::is_running(*i))
                .count();
            assert!(
                running <= MAX_RUNNING_PER_PROJECT,
                "BENCH_SETUP: {running} running launches in one project; the emulator allows {MAX_RUNNING_PER_PROJECT}"
            );
        }
    }
}

/// The objects of one setup: their manifests, in dependency order, spread over namespaces.
pub(crate) struct Setup {
    pub(crate) sizes: SetupSizes,
    pub(crate) namespaces: Vec<String>,
    pub(crate) prefix: String,
    /// Every object's manifest (namespace included), projects first and launches last.
    pub(crate) manifests: Vec<Value>,
}

pub(crate) fn setup_resource(kind: &str) -> ApiResource {
    match kind {
        "Project" => ApiResource::erase::<Project>(&()),
        "Feature" => ApiResource::erase::<Feature>(&()),
        "Segment" => ApiResource::erase::<Segment>(&()),
        "Launch" => ApiResource::erase::<Launch>(&()),
        other => panic!("not a kind of this operator: {other}"),
    }
}

pub(crate) fn object_key(kind: &str, ns: &str, name: &str) -> String {
    format!("{kind}/{ns}/{name}")
}

impl Setup {
    pub(crate) async fn new(admin: &Client, prefix: &str, sizes: SetupSizes) -> Setup {
        sizes.check();
        let mut namespaces = Vec::new();
        for _ in 0..sizes.objects().div_ceil(PER_NAMESPACE).max(1) {
            namespaces.push(namespace(admin, prefix).await);
        }
        let mut setup = Setup {
            sizes,
            namespaces,
            prefix: prefix.to_string(),
            manifests: Vec::new(),
        };
        let mut specs: Vec<(&str, String, Value)> = Vec::new();
        for p in 0..sizes.projects {
            let spec = json!({"description": "benchmark setup", "tags": {"team": "bench"}});
            specs.push(("Project", setup.project(p), spec));
        }
        for s in 0..sizes.segments {
            specs.push(("Segment", setup.segment(s), setup.segment_spec(s)));
        }
        for f in 0..sizes.features {
            specs.push(("Feature", setup.feature(f), setup.feature_spec(f)));
        }
        for l in 0..sizes.launches {
            specs.push(("Launch", format!("{prefix}-l{l:05}"), setup.launch_spec(l)));
        }
        setup.manifests = specs
            .into_iter()
            .enumerate()
            .map(|(k, (kind, name, spec))| {
                json!({
                    "apiVersion": API_VERSION,
                    "kind": kind,
                    "metadata": {"name": name, "namespace": setup.namespaces[k / PER_NAMESPACE]},
                    "spec": spec,
                })
            })
            .collect();
        setup
    }

    pub(crate) fn project(&self, p: usize) -> String {
        format!("{}-p{p}", self.prefix)
    }

    pub(crate) fn feature(&self, f: usize) -> String {
        format!("{}-f{f:04}", self.prefix)
    }

    pub(crate) fn segment(&self, s: usize) -> String {
        format!("{}-s{s:03}", self.prefix)
    }

    /// Feature `f` lives in project `f % projects`.
    pub(crate) fn feature_spec(&self, f: usize) -> Value {
        json!({
            "project": self.project(f % self.sizes.projects),
            "description": "benchmark feature",
            "variations": [
                {"name": "v1", "value": {"stringValue": "one"}},
                {"name": "v2", "value": {"stringValue": "two"}}
            ],
            "defaultVariation": "v1"
        })
    }

    pub(crate) fn segment_spec(&self, s: usize) -> Value {
        json!({
            "description": "benchmark segment",
            "pattern": json!({"tier": [format!("t{s}")]}).to_string()
        })
    }

    /// Launch `l` lives in project `l % projects` and rolls out one of that project's features;
    /// every third gives a segment its own split, every twentieth runs.
    pub(crate) fn launch_spec(&self, l: usize) -> Value {
        let projects = self.sizes.projects;
        let p = l % projects;
        let feature = self.feature(p + projects * ((l / projects) % self.sizes.features_of(p)));
        let mut first = json!({
            "startTime": "2030-01-07T09:00:00Z",
            "groupWeights": {"control": 90000, "treatment": 10000}
        });
        if self.sizes.segments > 0 && l.is_multiple_of(OVERRIDE_EVERY) {
            first["segmentOverrides"] = json!([{
                "segment": self.segment((l / OVERRIDE_EVERY) % self.sizes.segments),
                "evaluationOrder": 1,
                "weights": {"treatment": 100000}
            }]);
        }
        let mut spec = json!({
            "project": self.project(p),
            "description": "benchmark roll-out",
            "groups": [
                {"name": "control", "feature": feature, "variation": "v1"},
                {"name": "treatment", "feature": feature, "variation": "v2"}
            ],
            "scheduledSplitsConfig": {"steps": [
                first,
                {"startTime": "2030-01-21T09:00:00Z", "groupWeights": {"control": 0, "treatment": 100000}}
            ]},
            "tags": {"team": "bench"}
        });
        if SetupSizes::is_running(l) {
            spec["executionStatus"] = json!({"status": "START"});
        }
        spec
    }

    pub(crate) fn kind_of(m: &Value) -> &str {
        m["kind"].as_str().unwrap_or_default()
    }

    pub(crate) fn key(m: &Value) -> String {
        object_key(
            Self::kind_of(m),
            m["metadata"]["namespace"].as_str().unwrap_or_default(),
            m["metadata"]["name"].as_str().unwrap_or_default(),
        )
    }

    pub(crate) fn keys(&self) -> Vec<String> {
        self.manifests.iter().map(Self::key).collect()
    }

    pub(crate) fn api(admin: &Client, m: &Value) -> Api<DynamicObject> {
        Api::namespaced_with(
            admin.clone(),
            m["metadata"]["namespace"].as_str().unwrap_or_default(),
            &setup_resource(Self::kind_of(m)),
        )
    }

    /// The manifests in the order a GitOps tool might apply a directory: shuffled, dependencies
    /// anywhere (the same order for every run of the same sizes).
    pub(crate) fn shuffled(&self) -> Vec<&Value> {
        use rand::{SeedableRng, seq::SliceRandom};
        let mut order: Vec<&Value> = self.manifests.iter().collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(14));
        order
    }

    pub(crate) async fn apply(admin: &Client, m: &Value) -> DynamicObject {
        let name = m["metadata"]["name"].as_str().unwrap_or_default();
        Self::api(admin, m)
            .patch(name, &PatchParams::apply("bench"), &Patch::Apply(m))
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", Self::key(m)))
    }

    /// Deletes every object at once, kind after kind in dependency order (the order that makes
    /// the controller wait most), and waits until all are gone.
    pub(crate) async fn delete_all(&self, admin: &Client, timeout: Duration) {
        for kind in SETUP_KINDS {
            for ns in &self.namespaces {
                Api::<DynamicObject>::namespaced_with(admin.clone(), ns, &setup_resource(kind))
                    .delete_collection(&DeleteParams::default(), &ListParams::default())
                    .await
                    .unwrap_or_else(|e| panic!("delete the {kind}s of {ns}: {e}"));
            }
        }
        crate::support::eventually("every object of the setup gone", timeout, || async {
            let mut left = Vec::new();
            for kind in SETUP_KINDS {
                for ns in &self.namespaces {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(admin.clone(), ns, &setup_resource(kind));
                    let some = api
                        .list(&ListParams::default().limit(1))
                        .await
                        .map_err(|e| e.to_string())?;
                    if let Some(o) = some.items.first() {
                        left.push(format!("{kind}/{ns}/{}", o.name_any()));
                    }
                }
            }
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still there, e.g. {left:?}"))
            }
        })
        .await;
    }
}

/// What the controller writes for a Ready object, for the baseline to write itself.
pub(crate) fn setup_ready_status(m: &Value) -> Value {
    let kind = Setup::kind_of(m);
    let name = m["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &m["spec"];
    let arn = format!(
        "arn:aws:evidently:us-east-1:123456789012:{}",
        match kind {
            "Project" => format!("project/{name}"),
            "Segment" => format!("segment/{name}"),
            "Feature" => format!(
                "project/{}/feature/{name}",
                spec["project"].as_str().unwrap_or_default()
            ),
            _ => format!(
                "project/{}/launch/{name}",
                spec["project"].as_str().unwrap_or_default()
            ),
        }
    );
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "status": {
            "arn": arn,
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1,
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": format!("{} matches the spec", kind.to_lowercase()),
                "observedGeneration": 1,
                "lastTransitionTime": "2026-01-01T00:00:00Z"
            }]
        }
    })
}

/// Ready=True for the object's current generation.
pub(crate) fn is_ready_now(o: &DynamicObject) -> bool {
    let status = &o.data["status"];
    status["observedGeneration"].as_i64() == o.metadata.generation
        && o.metadata.generation.is_some()
        && status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Follows every object of the four kinds in the cluster and remembers when each was first
/// seen Ready for its current generation.
pub(crate) struct KindsTracker {
    pub(crate) ready: tokio::sync::watch::Receiver<HashMap<String, Instant>>,
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl KindsTracker {
    pub(crate) async fn start(admin: &Client) -> KindsTracker {
        let (tx, ready) = tokio::sync::watch::channel(HashMap::new());
        let tx = Arc::new(tx);
        let mut tasks = Vec::new();
        for kind in SETUP_KINDS {
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let api: Api<DynamicObject> = Api::all_with(admin.clone(), &setup_resource(kind));
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let mut started = Some(started_tx);
                let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
                while let Some(event) = events.next().await {
                    let now = Instant::now();
                    match event {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))
                            if is_ready_now(&o) =>
                        {
                            let key = object_key(
                                kind,
                                o.metadata.namespace.as_deref().unwrap_or_default(),
                                o.metadata.name.as_deref().unwrap_or_default(),
                            );
                            tx.send_if_modified(|map| {
                                let new = !map.contains_key(&key);
                                map.entry(key).or_insert(now);
                                new
                            });
                        }
                        Ok(watcher::Event::InitDone) => {
                            if let Some(tx) = started.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(_) => {}
                        Err(e) => eprintln!("bench watch of {kind}: {e}"),
                    }
                }
            }));
            tokio::time::timeout(Duration::from_secs(30), started_rx)
                .await
                .unwrap_or_else(|_| panic!("the bench watch of {kind} started"))
                .unwrap();
        }
        KindsTracker { ready, tasks }
    }

    /// Waits until every key is Ready; returns the latest Ready instant.
    pub(crate) async fn wait_all(&self, keys: &[String], timeout: Duration) -> Instant {
        let mut rx = self.ready.clone();
        let all = |map: &HashMap<String, Instant>| keys.iter().all(|k| map.contains_key(k));
        if tokio::time::timeout(timeout, rx.wait_for(all))
            .await
            .is_err()
        {
            let map = self.ready.borrow();
            let missing: Vec<&String> = keys.iter().filter(|k| !map.contains_key(*k)).collect();
            panic!(
                "{} of {} not Ready within {timeout:?}, e.g. {:?}",
                missing.len(),
                keys.len(),
                &missing[..missing.len().min(5)]
            );
        }
        let map = self.ready.borrow();
        keys.iter()
            .filter_map(|k| map.get(k))
            .max()
            .copied()
            .unwrap_or_else(Instant::now)
    }
}

impl Drop for KindsTracker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Samples of a Prometheus counter family as (labels, value).
pub(crate) fn samples(text: &str, family: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let prefix = format!("{family}{{");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            let labels = labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect();
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

#[derive(Debug, Default)]
pub(crate) struct SetupResults {
    pub(crate) sizes: SetupSizes,
    pub(crate) running: usize,
    /// No controller, no admission policy: every object created and its status patched by the
    /// client.
    pub(crate) baseline: Duration,
    /// Applied at once in a shuffled order → every object Ready.
    pub(crate) converge: Duration,
    /// Time for the client to submit the applies (during the controller run).
    pub(crate) submit: Duration,
    pub(crate) converge_cpu: f64,
    /// Evidently requests answered during convergence: operation → (all, refused).
    pub(crate) calls: BTreeMap<String, (f64, f64)>,
    /// The controller's reconcile passes during convergence: kind → reason → passes.
    pub(crate) passes: BTreeMap<String, BTreeMap<String, f64>>,
    /// Everything deleted at once → gone.
    pub(crate) deletion: Duration,
}

impl SetupResults {
    pub(crate) fn objects(&self) -> usize {
        self.sizes.objects()
    }

    pub(crate) fn ratio(&self) -> f64 {
        self.converge.as_secs_f64() / self.baseline.as_secs_f64()
    }

    /// One create per object and one StartLaunch per running launch: the least any
    /// controller needs.
    pub(crate) fn minimum_calls(&self) -> usize {
        self.objects() + self.running
    }

    pub(crate) fn total_calls(&self) -> f64 {
        self.calls.values().map(|c| c.0).sum()
    }

    pub(crate) fn rows(&self) -> Vec<Row> {
        let verdict = if self.ratio() <= 1.5 {
            "met"
        } else {
            "NOT met"
        };
        let SetupSizes {
            projects,
            features,
            segments,
            launches,
        } = self.sizes;
        let n = self.objects();
        let per_second = |d: Duration| n as f64 / d.as_secs_f64();
        let row = |metric: String, value: String, goal: String| Row {
            section: "setup",
            metric,
            value,
            goal,
        };
        let calls = self
            .calls
            .iter()
            .map(|(op, (all, refused))| {
                if *refused > 0.0 {
                    format!("{op} {all} ({refused} refused)")
                } else {
                    format!("{op} {all}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let passes = self
            .passes
            .iter()
            .map(|(kind, reasons)| {
                let by_reason = reasons
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect::<Vec<_>>()
                    .join(" + ");
                format!("{kind} {by_reason}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        vec![
            row(
                format!(
                    "{projects} projects, {features} features, {segments} segments, {launches} launches ({} running) applied at once in a shuffled order → all {n} Ready",
                    self.running
                ),
                format!(
                    "{:.1} s ({:.0} objects/s); applies submitted in {:.1} s; controller CPU {:.1} s",
                    self.converge.as_secs_f64(),
                    per_second(self.converge),
                    self.submit.as_secs_f64(),
                    self.converge_cpu
                ),
                String::new(),
            ),
            row(
                format!(
                    "baseline, no controller, no admission policy: {n} creates + {n} status patches, same order"
                ),
                format!(
                    "{:.1} s ({:.0} objects/s)",
                    self.baseline.as_secs_f64(),
                    per_second(self.baseline)
                ),
                String::new(),
            ),
            row(
                "controller / baseline".into(),
                format!("{:.2}", self.ratio()),
                format!("≤ 1.5: {verdict}"),
            ),
            row(
                format!(
                    "Evidently calls until all Ready (minimum {}: {n} creates + {} StartLaunch)",
                    self.minimum_calls(),
                    self.running
                ),
                format!(
                    "{} ({:.2}× the minimum): {calls}",
                    self.total_calls(),
                    self.total_calls() / self.minimum_calls() as f64
                ),
                String::new(),
            ),
            row(
                "reconcile passes until all Ready, by kind and Ready reason".into(),
                passes,
                String::new(),
            ),
            row(
                format!("all {n} deleted at once (kind by kind, projects first) → gone"),
                format!("{:.1} s", self.deletion.as_secs_f64()),
                String::new(),
            ),
        ]
    }
}

/// Part 6: the baseline (the client writes every object and its status, no controller), then
/// the same objects applied at once with the controller running, then everything deleted.
/// Leaves the admission policy bound and the cluster without objects of the four kinds.
pub(crate) async fn setup_bench(admin: &Client, s: &Settings, probe: &Layout) -> SetupResults {
    let sizes = s.setup;
    let mut r = SetupResults {
        sizes,
        running: sizes.running(),
        ..SetupResults::default()
    };

    // The baseline: the bare control plane.
    set_admission_policy(admin, probe, false).await;
    let bare = Setup::new(admin, "setup-baseline", sizes).await;
    let started = Instant::now();
    stream::iter(bare.shuffled())
        .for_each_concurrent(s.client_concurrency, |m| async move {
            Setup::apply(admin, m).await;
            Setup::api(admin, m)
                .patch_status(
                    m["metadata"]["name"].as_str().unwrap_or_default(),
                    &PatchParams::apply("bench-baseline").force(),
                    &Patch::Apply(setup_ready_status(m)),
                )
                .await
                .unwrap_or_else(|e| panic!("status patch {}: {e}", Setup::key(m)));
        })
        .await;
    r.baseline = started.elapsed();
    // Gone before the controller starts, which would otherwise adopt them.
    bare.delete_all(admin, converge_timeout(sizes.objects()))
        .await;
    println!("setup baseline: {:?}", r.baseline);

    // The controller, with the admission policy of deploy/.
    set_admission_policy(admin, probe, true).await;
    let tracker = KindsTracker::start(admin).await;
    let setup = Setup::new(admin, "setup", sizes).await;
    let emulator = start_emulator(&[]).await;
    let mut ctl = controller(&emulator, s).await;
    let ctl_pid = pid(&ctl);
    let cpu_before = cpu_seconds(ctl_pid);
    let started = Instant::now();
    stream::iter(setup.shuffled())
        .for_each_concurrent(s.client_concurrency, |m| async move {
            Setup::apply(admin, m).await;
        })
        .await;
    r.submit = started.elapsed();
    let last = tracker
        .wait_all(&setup.keys(), converge_timeout(sizes.objects()))
        .await;
    r.converge = last - started;
    r.converge_cpu = cpu_seconds(ctl_pid) - cpu_before;
    let (_, text) = http_get(&format!("{}/metrics", emulator.url()))
        .await
        .expect("emulator /metrics");
    for (labels, value) in samples(&text, "evidently_emulator_requests_total") {
        let calls = r.calls.entry(labels["operation"].clone()).or_default();
        calls.0 += value;
        if labels.get("code").map(String::as_str) != Some("200") {
            calls.1 += value;
        }
    }
    let (_, text) = http_get(&format!("{}/metrics", ctl.url()))
        .await
        .expect("controller /metrics");
    for (labels, value) in samples(&text, "launch_operator_reconciles_total") {
        *r.passes
            .entry(labels["kind"].clone())
            .or_default()
            .entry(labels["reason"].clone())
            .or_default() += value;
    }
    println!(
        "setup: {:?} (baseline {:?}), {} Evidently calls (minimum {}): {:?}; passes {:?}",
        r.converge,
        r.baseline,
        r.total_calls(),
        r.minimum_calls(),
        r.calls,
        r.passes
    );

    let t = Instant::now();
    setup
        .delete_all(admin, converge_timeout(sizes.objects()))
        .await;
    r.deletion = t.elapsed();
    println!("setup deletion: {:?}", r.deletion);
    ctl.kill();
    r
}
