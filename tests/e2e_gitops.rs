//! End-to-end, GitOps from an empty cluster: the whole `examples/` directory (a project,
//! features of every value type, segments, launches with overrides and monitors, one running)
//! applied in any order and deleted in any order, against a real kube-apiserver, the controller
//! under its own ServiceAccount and the emulator as a real process. Nothing is seeded through the
//! Evidently API: the manifests alone are enough.

// AWS marked the Evidently client deprecated; the emulator keeps it alive.
#![allow(deprecated)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use aws_sdk_evidently::{Client as Evidently, types::LaunchStopDesiredState};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, DynamicObject, ListParams},
};
use rand::{SeedableRng, seq::SliceRandom};
use serde_json::{Value, json};
use support::{
    ControlPlane, Process, emulator_mutating_calls, eventually, evidently_client,
    example_documents, http_get, metric, namespace, start_controller, start_emulator, wait_event,
    with_logs,
};

const WAIT: Duration = Duration::from_secs(90);
const FILES: [&str; 6] = [
    "project.yaml",
    "features.yaml",
    "segments.yaml",
    "checkout-rollout.yaml",
    "segment-overrides.yaml",
    "metric-monitors.yaml",
];
const KINDS: [&str; 4] = ["Project", "Segment", "Feature", "Launch"];

fn api(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &support::kind_resource(kind))
}

/// Every document of `examples/`, in namespace `ns`.
fn setup(ns: &str) -> Vec<Value> {
    FILES
        .iter()
        .flat_map(|f| example_documents(f, ns))
        .collect()
}

/// `kind/name` → (Ready status, reason, message) of every object of the operator's kinds.
async fn readiness(admin: &Client, ns: &str) -> BTreeMap<String, (String, String, String)> {
    let mut out = BTreeMap::new();
    for kind in KINDS {
        for o in api(admin, ns, kind)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
        {
            let current = o.data["status"]["observedGeneration"].as_i64() == o.metadata.generation;
            let ready = o.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .filter(|_| current)
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                    (s("status"), s("reason"), s("message"))
                })
                .unwrap_or_default();
            out.insert(format!("{kind}/{}", o.name_any()), ready);
        }
    }
    out
}

async fn wait_all_ready(admin: &Client, ns: &str, expected: usize) {
    eventually("every resource Ready", WAIT, || async {
        let seen = readiness(admin, ns).await;
        let not_ready: Vec<_> = seen.iter().filter(|(_, r)| r.0 != "True").collect();
        if seen.len() == expected && not_ready.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} of {expected} seen; not ready: {not_ready:?}",
                seen.len()
            ))
        }
    })
    .await
}

/// What Evidently holds, in a form the manifests can be compared with.
#[derive(Debug, PartialEq, Eq, Default)]
struct Holdings {
    projects: BTreeSet<String>,
    /// name → (default variation, variation → value JSON)
    features: BTreeMap<String, (String, BTreeMap<String, String>)>,
    /// name → pattern JSON
    segments: BTreeMap<String, String>,
    /// name → (status, groups as group:feature:variation)
    launches: BTreeMap<String, (String, Vec<String>)>,
}

fn json_text(s: &str) -> String {
    serde_json::from_str::<Value>(s).unwrap().to_string()
}

fn value_text(v: Option<&aws_sdk_evidently::types::VariableValue>) -> String {
    use aws_sdk_evidently::types::VariableValue as V;
    match v {
        Some(V::BoolValue(b)) => json!({"boolValue": b}),
        Some(V::StringValue(s)) => json!({"stringValue": s}),
        Some(V::LongValue(l)) => json!({"longValue": l}),
        Some(V::DoubleValue(d)) => json!({"doubleValue": d}),
        _ => Value::Null,
    }
    .to_string()
}

async fn holdings(ev: &Evidently) -> Holdings {
    let mut h = Holdings::default();
    let projects = ev.list_projects().send().await.unwrap();
    for p in projects.projects() {
        h.projects.insert(p.name().to_string());
        for f in ev
            .list_features()
            .project(p.name())
            .send()
            .await
            .unwrap()
            .features()
        {
            let full = ev
                .get_feature()
                .project(p.name())
                .feature(f.name())
                .send()
                .await
                .unwrap();
            let full = full.feature().unwrap();
            let variations = full
                .variations()
                .iter()
                .map(|v| {
                    (
                        v.name().unwrap_or_default().to_string(),
                        value_text(v.value()),
                    )
                })
                .collect();
            h.features.insert(
                full.name().to_string(),
                (
                    full.default_variation().unwrap_or_default().to_string(),
                    variations,
                ),
            );
        }
        for l in ev
            .list_launches()
            .project(p.name())
            .send()
            .await
            .unwrap()
            .launches()
        {
            let groups = l
                .groups()
                .iter()
                .map(|g| {
                    let (f, v) = g.feature_variations().iter().next().unwrap();
                    format!("{}:{f}:{v}", g.name())
                })
                .collect();
            h.launches.insert(
                l.name().to_string(),
                (l.status().as_str().to_string(), groups),
            );
        }
    }
    for s in ev.list_segments().send().await.unwrap().segments() {
        h.segments
            .insert(s.name().to_string(), json_text(s.pattern()));
    }
    h
}

/// What the manifests say Evidently should hold.
fn expected(docs: &[Value]) -> Holdings {
    let mut h = Holdings::default();
    for d in docs {
        let name = d["metadata"]["name"].as_str().unwrap().to_string();
        let spec = &d["spec"];
        match d["kind"].as_str().unwrap() {
            "Project" => {
                h.projects.insert(name);
            }
            "Feature" => {
                let variations: BTreeMap<String, String> = spec["variations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| {
                        (
                            v["name"].as_str().unwrap().to_string(),
                            v["value"].to_string(),
                        )
                    })
                    .collect();
                let default = spec["defaultVariation"]
                    .as_str()
                    .or(spec["variations"][0]["name"].as_str())
                    .unwrap()
                    .to_string();
                h.features.insert(name, (default, variations));
            }
            "Segment" => {
                h.segments
                    .insert(name, json_text(spec["pattern"].as_str().unwrap()));
            }
            "Launch" => {
                let running = spec["executionStatus"]["status"] == "START";
                let groups = spec["groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| {
                        format!(
                            "{}:{}:{}",
                            g["name"].as_str().unwrap(),
                            g["feature"].as_str().unwrap(),
                            g["variation"].as_str().unwrap()
                        )
                    })
                    .collect();
                let status = if running { "RUNNING" } else { "CREATED" };
                h.launches.insert(name, (status.to_string(), groups));
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    h
}

async fn left_in_cluster(admin: &Client, ns: &str) -> Vec<String> {
    let mut left = Vec::new();
    for kind in KINDS {
        for o in api(admin, ns, kind)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
        {
            left.push(format!("{kind}/{} {:?}", o.name_any(), o.finalizers()));
        }
    }
    left
}

/// The examples applied in a shuffled order, five times in fresh namespaces: every resource
/// Ready and Evidently holding exactly what the manifests say; then deleted in a shuffled order:
/// nothing left in the cluster or in Evidently.
#[tokio::test]
async fn the_examples_converge_from_empty_in_any_order_and_leave_nothing_behind() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let mut namespaces = Vec::new();
    for _ in 0..5 {
        namespaces.push(namespace(&admin, "gitops").await);
    }
    let emulator = start_emulator(&[]).await;
    let ev = evidently_client(&emulator.url());
    let controller = start_controller(&emulator.url(), &namespaces.join(","), &[]).await;
    let logs = vec![controller.log.clone(), emulator.log.clone()];
    with_logs(logs, async {
        let seed: u64 = rand::random();
        eprintln!("shuffle seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for (round, ns) in namespaces.iter().enumerate() {
            let mut docs = setup(ns);
            let count = docs.len();
            docs.shuffle(&mut rng);
            let order: Vec<String> = docs
                .iter()
                .map(|d| format!("{}/{}", d["kind"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap()))
                .collect();
            let started = Instant::now();
            for d in &docs {
                support::apply_document(&admin, ns, d).await;
            }
            wait_all_ready(&admin, ns, count).await;
            let converged = started.elapsed();
            assert_eq!(holdings(&ev).await, expected(&docs), "round {round}, order {order:?}");

            docs.shuffle(&mut rng);
            let started = Instant::now();
            for d in &docs {
                api(&admin, ns, d["kind"].as_str().unwrap())
                    .delete(d["metadata"]["name"].as_str().unwrap(), &DeleteParams::default())
                    .await
                    .unwrap();
            }
            eventually("nothing left in the cluster", WAIT, || async {
                let left = left_in_cluster(&admin, ns).await;
                if left.is_empty() { Ok(()) } else { Err(format!("{left:?}")) }
            })
            .await;
            let emptied = started.elapsed();
            assert_eq!(holdings(&ev).await, Holdings::default(), "round {round}: Evidently not empty");
            eprintln!(
                "round {round}: {count} resources Ready in {:.1} s from an empty cluster; deleted in {:.1} s (orders: {order:?})",
                converged.as_secs_f64(),
                emptied.as_secs_f64()
            );
        }
    })
    .await;
}

struct Env {
    admin: Client,
    ns: String,
    emulator: Process,
    controller: Process,
    ev: Evidently,
}

async fn env(prefix: &str, files: &[&str]) -> Env {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, prefix).await;
    let emulator = start_emulator(&[]).await;
    let ev = evidently_client(&emulator.url());
    let controller = start_controller(&emulator.url(), &ns, &[]).await;
    let docs: Vec<Value> = files
        .iter()
        .flat_map(|f| example_documents(f, &ns))
        .collect();
    for d in &docs {
        support::apply_document(&admin, &ns, d).await;
    }
    wait_all_ready(&admin, &ns, docs.len()).await;
    Env {
        admin,
        ns,
        emulator,
        controller,
        ev,
    }
}

impl Env {
    fn logs(&self) -> Vec<std::path::PathBuf> {
        vec![self.controller.log.clone(), self.emulator.log.clone()]
    }

    async fn ready_of(&self, kind: &str, name: &str) -> (String, String, String) {
        readiness(&self.admin, &self.ns)
            .await
            .remove(&format!("{kind}/{name}"))
            .unwrap_or_default()
    }

    async fn wait_ready(&self, kind: &str, name: &str, status: &str, reason: &str) -> String {
        eventually(
            &format!("{kind}/{name} Ready={status} {reason}"),
            WAIT,
            || async {
                let (s, r, m) = self.ready_of(kind, name).await;
                if s == status && r == reason {
                    Ok(m)
                } else {
                    Err(format!("{s} {r}: {m}"))
                }
            },
        )
        .await
    }
}

/// Changes made behind the operator's back are reported and, where Evidently allows it,
/// repaired: a feature's variations, a deleted segment, a deleted project (with everything in
/// it), and a running launch stopped by hand (which Evidently cannot run again).
#[tokio::test]
async fn out_of_band_changes_are_reported_and_repaired_where_evidently_allows_it() {
    // Without the launch that uses the segments, so that a segment can be deleted by hand.
    let e = env(
        "oob",
        &[
            "project.yaml",
            "features.yaml",
            "segments.yaml",
            "checkout-rollout.yaml",
            "metric-monitors.yaml",
        ],
    )
    .await;
    with_logs(e.logs(), async {
        // A feature's variations changed by hand: put back.
        e.ev.update_feature()
            .project("shop")
            .feature("search")
            .add_or_update_variations(
                aws_sdk_evidently::types::VariationConfig::builder()
                    .name("fuzzy")
                    .value(aws_sdk_evidently::types::VariableValue::StringValue(
                        "fuzzy".into(),
                    ))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        eventually("an Updated event naming the variations", WAIT, || async {
            let seen = support::events(&e.admin, &e.ns).await;
            if seen
                .iter()
                .any(|ev| ev.reason == "Updated" && ev.note == "updated variations in Evidently")
            {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        })
        .await;
        eventually("search back to its two variations", WAIT, || async {
            let f =
                e.ev.get_feature()
                    .project("shop")
                    .feature("search")
                    .send()
                    .await
                    .unwrap();
            let names: Vec<String> = f
                .feature()
                .unwrap()
                .variations()
                .iter()
                .filter_map(|v| v.name().map(str::to_string))
                .collect();
            if names == ["classic", "semantic"] {
                Ok(())
            } else {
                Err(format!("{names:?}"))
            }
        })
        .await;

        // A segment deleted by hand: re-created.
        e.ev.delete_segment()
            .segment("beta-users")
            .send()
            .await
            .unwrap();
        wait_event(&e.admin, &e.ns, "SegmentMissing").await;
        eventually("beta-users back in Evidently", WAIT, || async {
            e.ev.get_segment()
                .segment("beta-users")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        })
        .await;

        // A launch stopped by hand: reported, and not started again (Evidently cannot).
        e.ev.stop_launch()
            .project("shop")
            .launch("checkout-v2")
            .desired_state(LaunchStopDesiredState::Completed)
            .reason("stopped by hand")
            .send()
            .await
            .unwrap();
        let message = e
            .wait_ready("Launch", "checkout-v2", "False", "LaunchEnded")
            .await;
        assert!(message.contains("cannot run again"), "{message}");
        let launches = api(&e.admin, &e.ns, "Launch");
        let l = launches.get("checkout-v2").await.unwrap();
        assert_eq!(l.data["status"]["status"], "COMPLETED");
        assert_eq!(l.data["status"]["statusReason"], "stopped by hand");

        // The project deleted by hand, with everything in it: all re-created.
        launches
            .delete("checkout-v2", &DeleteParams::default())
            .await
            .unwrap();
        eventually("checkout-v2 gone", WAIT, || async {
            match launches.get_opt("checkout-v2").await.unwrap() {
                None => Ok(()),
                Some(_) => Err("still there".to_string()),
            }
        })
        .await;
        for l in
            e.ev.list_launches()
                .project("shop")
                .send()
                .await
                .unwrap()
                .launches()
        {
            e.ev.delete_launch()
                .project("shop")
                .launch(l.name())
                .send()
                .await
                .unwrap();
        }
        for f in
            e.ev.list_features()
                .project("shop")
                .send()
                .await
                .unwrap()
                .features()
        {
            e.ev.delete_feature()
                .project("shop")
                .feature(f.name())
                .send()
                .await
                .unwrap();
        }
        e.ev.delete_project().project("shop").send().await.unwrap();
        wait_event(&e.admin, &e.ns, "ProjectMissing").await;
        wait_event(&e.admin, &e.ns, "FeatureMissing").await;
        wait_event(&e.admin, &e.ns, "LaunchMissing").await;
        let remaining = setup(&e.ns)
            .into_iter()
            .filter(|d| {
                let name = d["metadata"]["name"].as_str().unwrap();
                name != "checkout-v2" && name != "semantic-search"
            })
            .collect::<Vec<_>>();
        wait_all_ready(&e.admin, &e.ns, remaining.len()).await;
        assert_eq!(holdings(&e.ev).await, expected(&remaining));
    })
    .await;
}

/// With every kind present and Ready, passes at every resync change nothing: no write to the
/// API server, no mutating Evidently call.
#[tokio::test]
async fn idle_with_every_kind_present_writes_nothing() {
    let e = env("idle", &FILES).await;
    with_logs(e.logs(), async {
        let versions = || async {
            let mut v = BTreeMap::new();
            for kind in KINDS {
                for o in api(&e.admin, &e.ns, kind)
                    .list(&ListParams::default())
                    .await
                    .unwrap()
                    .items
                {
                    v.insert(
                        format!("{kind}/{}", o.name_any()),
                        o.resource_version().unwrap_or_default(),
                    );
                }
            }
            v
        };
        let passes = || async {
            let (_, text) = http_get(&format!("{}/metrics", e.controller.url()))
                .await
                .unwrap();
            KINDS
                .iter()
                .map(|k| {
                    metric(
                        &text,
                        &format!(
                            "launch_operator_reconciles_total{{kind=\"{k}\",reason=\"Reconciled\"}}"
                        ),
                    )
                })
                .sum::<f64>()
        };
        // Settled: the project's counters catch up with the features and launches created after
        // its first pass. Then a window in which every object is reconciled at least twice (the
        // resync is 2 s) must show no write and no mutating call. A window with a change starts
        // over; a controller that writes on every pass never gets a quiet window and fails here.
        let objects = versions().await.len() as f64;
        let deadline = Instant::now() + WAIT;
        'window: loop {
            let (v0, c0, p0) = (
                versions().await,
                emulator_mutating_calls(&e.emulator).await,
                passes().await,
            );
            loop {
                assert!(
                    Instant::now() < deadline,
                    "no quiet window of two resyncs within {WAIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
                let (v1, c1, p1) = (
                    versions().await,
                    emulator_mutating_calls(&e.emulator).await,
                    passes().await,
                );
                if v1 != v0 || c1 != c0 {
                    continue 'window;
                }
                if p1 - p0 >= 2.0 * objects {
                    eprintln!(
                        "idle: {} passes over {objects} objects, 0 writes, 0 mutating calls",
                        p1 - p0
                    );
                    break 'window;
                }
            }
        }
    })
    .await;
}

/// `executionStatus` starts and stops a launch from Git; the status says which step serves
/// traffic and when the next one starts, and moves to the next step when its time comes.
#[tokio::test]
async fn launches_are_started_and_stopped_from_git_and_show_their_active_step() {
    let e = env("execution", &["project.yaml", "features.yaml"]).await;
    with_logs(e.logs(), async {
        // A step that started an hour ago and one a few seconds ahead.
        let now = launch_operator::time::now_secs();
        let at = |secs: i64| launch_operator::time::rfc3339(secs).unwrap();
        let next = now + 8;
        let mut launch = example_documents("checkout-rollout.yaml", &e.ns).remove(0);
        launch["spec"]["scheduledSplitsConfig"]["steps"] = json!([
            {"startTime": at(now - 3600), "groupWeights": {"control": 90000, "treatment": 10000}},
            {"startTime": at(next), "groupWeights": {"control": 50000, "treatment": 50000}}
        ]);
        support::apply_document(&e.admin, &e.ns, &launch).await;
        e.wait_ready("Launch", "checkout-v2", "True", "Reconciled")
            .await;
        let launches = api(&e.admin, &e.ns, "Launch");
        let status = eventually("RUNNING at step 1", WAIT, || async {
            let s = launches.get("checkout-v2").await.unwrap().data["status"].clone();
            if s["status"] == "RUNNING" && s["activeStep"] == 1 {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        })
        .await;
        assert_eq!(status["nextStepTime"], json!(at(next)));
        assert!(status["execution"]["startedTime"].is_string(), "{status}");
        let evidently =
            e.ev.get_launch()
                .project("shop")
                .launch("checkout-v2")
                .send()
                .await
                .unwrap();
        assert_eq!(evidently.launch().unwrap().status().as_str(), "RUNNING");

        // The second step's time comes: the status follows without any change to the object.
        eventually("step 2 active", Duration::from_secs(30), || async {
            let s = launches.get("checkout-v2").await.unwrap().data["status"].clone();
            if s["activeStep"] == 2 && s.get("nextStepTime").is_none() {
                Ok(())
            } else {
                Err(s.to_string())
            }
        })
        .await;

        // Stopped from Git, cancelled with a reason.
        launch["spec"]["executionStatus"] =
            json!({"status": "STOP", "desiredState": "CANCELLED", "reason": "rolled back"});
        support::apply_document(&e.admin, &e.ns, &launch).await;
        eventually("CANCELLED", WAIT, || async {
            let s = launches.get("checkout-v2").await.unwrap().data["status"].clone();
            if s["status"] == "CANCELLED"
                && s["statusReason"] == "rolled back"
                && s.get("activeStep").is_none()
            {
                Ok(())
            } else {
                Err(s.to_string())
            }
        })
        .await;
        let evidently =
            e.ev.get_launch()
                .project("shop")
                .launch("checkout-v2")
                .send()
                .await
                .unwrap();
        assert_eq!(evidently.launch().unwrap().status().as_str(), "CANCELLED");
        assert_eq!(e.ready_of("Launch", "checkout-v2").await.1, "Reconciled");

        // An ended launch cannot run again.
        launch["spec"]["executionStatus"] = json!({"status": "START"});
        support::apply_document(&e.admin, &e.ns, &launch).await;
        let message = e
            .wait_ready("Launch", "checkout-v2", "False", "LaunchEnded")
            .await;
        assert!(
            message.contains("CANCELLED") && message.contains("cannot run again"),
            "{message}"
        );
    })
    .await;
}

/// Deleting a project that Evidently still holds features of says so, naming them, and
/// finishes once they are gone.
#[tokio::test]
async fn a_project_deleted_before_its_features_says_what_holds_it_and_goes_after_them() {
    let e = env("blocked", &["project.yaml", "features.yaml"]).await;
    with_logs(e.logs(), async {
        let projects = api(&e.admin, &e.ns, "Project");
        projects
            .delete("shop", &DeleteParams::default())
            .await
            .unwrap();
        let message = e
            .wait_ready("Project", "shop", "False", "DeletionBlocked")
            .await;
        for feature in [
            "checkout",
            "search",
            "recommendations",
            "results-per-page",
            "free-shipping-threshold",
        ] {
            assert!(message.contains(feature), "{message}");
        }
        let events = wait_event(&e.admin, &e.ns, "DeletionBlocked").await;
        assert_eq!(
            events
                .iter()
                .filter(|ev| ev.reason == "DeletionBlocked")
                .count(),
            1,
            "{events:?}"
        );
        assert!(
            e.ev.get_project().project("shop").send().await.is_ok(),
            "still in Evidently"
        );

        let features = api(&e.admin, &e.ns, "Feature");
        let started = Instant::now();
        features
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .unwrap();
        eventually("the project gone too", WAIT, || async {
            let left = left_in_cluster(&e.admin, &e.ns).await;
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        })
        .await;
        eprintln!(
            "project deleted {:.1} s after its features were",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(holdings(&e.ev).await, Holdings::default());
    })
    .await;
}

/// A launch applied before its project and feature waits with DependencyNotFound naming what
/// is missing, and is reconciled as soon as they are Ready: triggered by them, not by its
/// backoff, which by then is long.
#[tokio::test]
async fn a_launch_waiting_for_its_feature_goes_as_soon_as_the_feature_is_ready() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, "deps").await;
    let emulator = start_emulator(&[]).await;
    let controller = start_controller(&emulator.url(), &ns, &[]).await;
    with_logs(vec![controller.log.clone(), emulator.log.clone()], async {
        let launch = example_documents("metric-monitors.yaml", &ns).remove(0);
        support::apply_document(&admin, &ns, &launch).await;
        let failures = || async {
            let (_, text) = http_get(&format!("{}/metrics", controller.url())).await.unwrap();
            metric(
                &text,
                "launch_operator_reconcile_failures_total{kind=\"Launch\",reason=\"DependencyNotFound\"}",
            )
        };
        // Five failures in a row: the next retry is at least 16 s away. The first passes wait
        // quietly (no status for 10 s), so the status is waited for as well.
        let (status, reason, message) = eventually("five DependencyNotFound passes, said in the status", WAIT, || async {
            let n = failures().await;
            match readiness(&admin, &ns).await.remove("Launch/recommendations-widget") {
                Some(ready) if n >= 5.0 && ready.1 == "DependencyNotFound" => Ok(ready),
                other => Err(format!("{n} failures, Ready {other:?}")),
            }
        })
        .await;
        assert_eq!((status.as_str(), reason.as_str()), ("False", "DependencyNotFound"));
        assert!(message.contains("shop"), "names the missing project: {message}");

        for d in example_documents("project.yaml", &ns)
            .into_iter()
            .chain(example_documents("features.yaml", &ns))
        {
            support::apply_document(&admin, &ns, &d).await;
        }
        let feature_ready = eventually("feature recommendations Ready", WAIT, || async {
            match readiness(&admin, &ns).await.remove("Feature/recommendations") {
                Some((s, _, _)) if s == "True" => Ok(Instant::now()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        eventually("the launch Ready", WAIT, || async {
            match readiness(&admin, &ns).await.remove("Launch/recommendations-widget") {
                Some((s, _, _)) if s == "True" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        let after = feature_ready.elapsed();
        eprintln!("launch Ready {:.2} s after its feature", after.as_secs_f64());
        assert!(
            after < Duration::from_secs(8),
            "the launch waited {after:?} after its feature was Ready: not triggered by it"
        );
    })
    .await;
}
