//! End-to-end: the controller, running as its own process with the deploy/ ServiceAccount's
//! token and RBAC (not as admin), against a real kube-apiserver + etcd and the emulator as a
//! real process. Each test has its own namespace, emulator and controller.

// AWS marked the Evidently client deprecated; the emulator keeps it alive.
#![allow(deprecated)]

mod support;

use std::{collections::HashMap, time::Duration};

use aws_sdk_evidently::{
    Client as Evidently,
    types::{LaunchStopDesiredState, VariableValue, VariationConfig},
};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use launch_operator::crd::{FINALIZER, Feature, Launch, Project, Segment};
use serde_json::{Value, json};
use support::{
    ControlPlane, Process, controller_passes, emulator_calls, emulator_mutating_calls, events,
    eventually, evidently_client, http_get, metric_sum, metrics_text, namespace, start_controller,
    start_emulator, wait_event, with_logs,
};

const WAIT: Duration = Duration::from_secs(60);

async fn seed_project(ev: &Evidently, project: &str) {
    ev.create_project()
        .name(project)
        .send()
        .await
        .expect("create project");
}

/// The project and feature the checkout example needs.
async fn seed_checkout(ev: &Evidently) {
    seed_project(ev, "shop").await;
    seed_feature(ev, "shop", "checkout", &["legacy", "v2"]).await;
}

/// GetLaunch of a launch in project `shop`.
async fn get_launch(
    ev: &Evidently,
    name: &str,
) -> Result<
    aws_sdk_evidently::types::Launch,
    aws_sdk_evidently::error::SdkError<aws_sdk_evidently::operation::get_launch::GetLaunchError>,
> {
    ev.get_launch()
        .project("shop")
        .launch(name)
        .send()
        .await
        .map(|out| out.launch().cloned().expect("GetLaunch returns the launch"))
}

async fn seed_feature(ev: &Evidently, project: &str, feature: &str, variations: &[&str]) {
    let mut req = ev.create_feature().project(project).name(feature);
    for v in variations {
        req = req.variations(
            VariationConfig::builder()
                .name(*v)
                .value(VariableValue::StringValue(format!("value-{v}")))
                .build()
                .unwrap(),
        );
    }
    req.send().await.expect("create feature");
}

/// A launch of `examples/`, in `ns`, without `executionStatus`: these tests are about launches
/// the operator never starts or stops (e2e_gitops.rs covers `executionStatus`).
fn example(file: &str, ns: &str) -> Value {
    let mut v = support::example_documents(file, ns).remove(0);
    if let Some(spec) = v["spec"].as_object_mut() {
        spec.remove("executionStatus");
    }
    v
}

async fn apply(admin: &Client, ns: &str, manifest: &Value) {
    let api: Api<Launch> = Api::namespaced(admin.clone(), ns);
    let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
    api.patch(
        &name,
        &PatchParams::apply("e2e-user"),
        &Patch::Apply(manifest),
    )
    .await
    .expect("apply Launch");
}

fn ready(l: &Launch) -> Option<(String, String, String)> {
    l.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the Launch's Ready condition has `status` and `reason`.
async fn wait_ready(api: &Api<Launch>, name: &str, status: &str, reason: &str) -> Launch {
    eventually(
        &format!("{name} Ready={status} ({reason})"),
        WAIT,
        || async {
            let l = api.get(name).await.map_err(|e| e.to_string())?;
            match ready(&l) {
                Some((s, r, _)) if s == status && r == reason => Ok(l),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// Deletes a Launch and waits until it is gone (its finalizer has run).
async fn delete_and_wait(api: &Api<Launch>, name: &str) {
    api.delete(name, &DeleteParams::default()).await.unwrap();
    eventually(&format!("{name} to be gone"), WAIT, || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".into()),
        }
    })
    .await;
}

struct Env {
    admin: Client,
    ns: String,
    api: Api<Launch>,
    emulator: Process,
    controller: Process,
    ev: Evidently,
}

async fn env(prefix: &str) -> Env {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, prefix).await;
    let emulator = start_emulator(&[]).await;
    let ev = evidently_client(&emulator.url());
    let controller = start_controller(&emulator.url(), &ns, &[]).await;
    let api = Api::namespaced(admin.clone(), &ns);
    Env {
        admin,
        ns,
        api,
        emulator,
        controller,
        ev,
    }
}

impl Env {
    fn logs(&self) -> Vec<std::path::PathBuf> {
        vec![self.controller.log.clone(), self.emulator.log.clone()]
    }
}

#[tokio::test]
async fn a_launch_is_created_updated_retagged_and_deleted_in_evidently() {
    let e = env("lifecycle").await;
    let logs = e.logs();
    with_logs(logs, async {
        seed_checkout(&e.ev).await;
        apply(&e.admin, &e.ns, &example("checkout-rollout.yaml", &e.ns)).await;

        let l = wait_ready(&e.api, "checkout-v2", "True", "Reconciled").await;
        let status = l.status.unwrap();
        assert_eq!(
            status.arn.as_deref(),
            Some("arn:aws:evidently:us-east-1:123456789012:project/shop/launch/checkout-v2")
        );
        assert_eq!(status.status.as_deref(), Some("CREATED"));
        assert_eq!(status.observed_generation, Some(1));
        let launch = get_launch(&e.ev, "checkout-v2").await.unwrap();
        let tags = launch.tags().unwrap();
        assert_eq!(
            tags.get("launch-operator.io/owner").map(String::as_str),
            Some(format!("{}/checkout-v2", e.ns).as_str())
        );
        assert_eq!(tags.get("team").map(String::as_str), Some("payments"));
        wait_event(&e.admin, &e.ns, "Created").await;

        // A spec change reaches Evidently.
        let mut changed = example("checkout-rollout.yaml", &e.ns);
        changed["spec"]["description"] = json!("faster roll-out");
        changed["spec"]["scheduledSplitsConfig"]["steps"][0]["groupWeights"] =
            json!({"control": 80000, "treatment": 20000});
        changed["spec"]["tags"] = json!({"team": "search"});
        apply(&e.admin, &e.ns, &changed).await;
        eventually("the new weights and tags in Evidently", WAIT, || async {
            let l = get_launch(&e.ev, "checkout-v2")
                .await
                .map_err(|e| e.to_string())?;
            let step = &l.scheduled_splits_definition().unwrap().steps()[0];
            let weights: HashMap<String, i64> = step.group_weights().cloned().unwrap_or_default();
            let tags = l.tags().cloned().unwrap_or_default();
            let ok = weights.get("treatment") == Some(&20000)
                && l.description() == Some("faster roll-out")
                && tags.get("team").map(String::as_str) == Some("search")
                && !tags.contains_key("cost-center")
                && tags.contains_key("launch-operator.io/owner");
            if ok {
                Ok(())
            } else {
                Err(format!("{weights:?} {tags:?} {:?}", l.description()))
            }
        })
        .await;
        let l = wait_ready(&e.api, "checkout-v2", "True", "Reconciled").await;
        assert_eq!(l.status.unwrap().observed_generation, Some(2));
        // One event said the launch was created and Ready; the Updated event, written after it
        // in order, shows no Ready-transition event came in between.
        let evs = wait_event(&e.admin, &e.ns, "Updated").await;
        let created: Vec<_> = evs.iter().filter(|e| e.reason == "Created").collect();
        assert_eq!(created.len(), 1, "{evs:?}");
        assert!(created[0].note.contains("matches the spec"), "{evs:?}");
        assert!(!evs.iter().any(|e| e.reason == "Reconciled"), "{evs:?}");

        // The finalizer came from the admission policy; removed by hand, the controller puts
        // it back itself (what it does on clusters without the policy).
        e.api
            .patch(
                "checkout-v2",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await
            .unwrap();
        eventually("the controller to put its finalizer back", WAIT, || async {
            let l = e.api.get("checkout-v2").await.map_err(|e| e.to_string())?;
            if l.finalizers() == [FINALIZER.to_string()] {
                Ok(())
            } else {
                Err(format!("{:?}", l.finalizers()))
            }
        })
        .await;

        // Delete: the finalizer deletes the Evidently launch first.
        delete_and_wait(&e.api, "checkout-v2").await;
        let err = get_launch(&e.ev, "checkout-v2").await.unwrap_err();
        assert!(err.into_service_error().is_resource_not_found_exception());
    })
    .await;
}

#[tokio::test]
async fn a_retained_launch_stays_in_evidently_after_the_resource_is_deleted() {
    let e = env("retain").await;
    let logs = e.logs();
    with_logs(logs, async {
        seed_project(&e.ev, "shop").await;
        seed_feature(&e.ev, "shop", "recommendations", &["off", "on"]).await;
        // The example leaves deletionPolicy at its default (Delete): retain it here.
        let mut manifest = example("metric-monitors.yaml", &e.ns);
        manifest["spec"]["deletionPolicy"] = json!("Retain");
        apply(&e.admin, &e.ns, &manifest).await;
        wait_ready(&e.api, "recommendations-widget", "True", "Reconciled").await;
        delete_and_wait(&e.api, "recommendations-widget").await;
        let got = get_launch(&e.ev, "recommendations-widget").await.unwrap();
        assert_eq!(got.metric_monitors().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_missing_feature_is_reported_and_picked_up_once_it_exists() {
    let e = env("dependency").await;
    let logs = e.logs();
    with_logs(logs, async {
        seed_project(&e.ev, "shop").await;
        apply(&e.admin, &e.ns, &example("checkout-rollout.yaml", &e.ns)).await;
        let l = wait_ready(&e.api, "checkout-v2", "False", "DependencyNotFound").await;
        let (_, _, message) = ready(&l).unwrap();
        assert!(message.contains("checkout"), "{message}");
        wait_event(&e.admin, &e.ns, "DependencyNotFound").await;

        // Nobody touches the resource: the backoff retry finds the feature.
        seed_feature(&e.ev, "shop", "checkout", &["legacy", "v2"]).await;
        let l = wait_ready(&e.api, "checkout-v2", "True", "Reconciled").await;
        assert_eq!(l.metadata.generation, Some(1));
    })
    .await;
}

#[tokio::test]
async fn out_of_band_changes_in_evidently_are_reported_and_repaired() {
    let e = env("out-of-band").await;
    let logs = e.logs();
    with_logs(logs, async {
        seed_checkout(&e.ev).await;
        apply(&e.admin, &e.ns, &example("checkout-rollout.yaml", &e.ns)).await;
        wait_ready(&e.api, "checkout-v2", "True", "Reconciled").await;

        // Deleted behind the operator's back: reported, then re-created.
        e.ev.delete_launch()
            .project("shop")
            .launch("checkout-v2")
            .send()
            .await
            .unwrap();
        wait_event(&e.admin, &e.ns, "LaunchMissing").await;
        eventually("the launch to be re-created", WAIT, || async {
            get_launch(&e.ev, "checkout-v2")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;

        // Weights changed behind its back: put back.
        e.ev.update_launch()
            .project("shop")
            .launch("checkout-v2")
            .description("edited in the console")
            .send()
            .await
            .unwrap();
        eventually("the description to be restored", WAIT, || async {
            let got = get_launch(&e.ev, "checkout-v2")
                .await
                .map_err(|e| e.to_string())?;
            match got.description() {
                Some("Gradual roll-out of the redesigned checkout") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;

        // Started and stopped out of band: the status follows.
        e.ev.start_launch()
            .project("shop")
            .launch("checkout-v2")
            .send()
            .await
            .unwrap();
        eventually("status RUNNING", WAIT, || async {
            let l = e.api.get("checkout-v2").await.map_err(|e| e.to_string())?;
            let s = l.status.unwrap_or_default();
            if s.status.as_deref() == Some("RUNNING")
                && s.execution.and_then(|x| x.started_time).is_some()
            {
                Ok(())
            } else {
                Err(format!("{:?}", s.status))
            }
        })
        .await;
        e.ev.stop_launch()
            .project("shop")
            .launch("checkout-v2")
            .desired_state(LaunchStopDesiredState::Cancelled)
            .reason("error rate too high")
            .send()
            .await
            .unwrap();
        eventually("status CANCELLED with its reason", WAIT, || async {
            let l = e.api.get("checkout-v2").await.map_err(|e| e.to_string())?;
            let s = l.status.unwrap_or_default();
            if s.status.as_deref() == Some("CANCELLED")
                && s.status_reason.as_deref() == Some("error rate too high")
            {
                Ok(())
            } else {
                Err(format!("{:?} {:?}", s.status, s.status_reason))
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn evidently_down_for_30_seconds_is_reported_and_recovered_from() {
    let mut e = env("outage").await;
    let logs = e.logs();
    seed_checkout(&e.ev).await;
    apply(&e.admin, &e.ns, &example("checkout-rollout.yaml", &e.ns)).await;
    // A second launch, deleted while Evidently is down.
    let mut doomed = example("checkout-rollout.yaml", &e.ns);
    doomed["metadata"]["name"] = json!("checkout-v3");
    apply(&e.admin, &e.ns, &doomed).await;
    with_logs(logs.clone(), async {
        wait_ready(&e.api, "checkout-v2", "True", "Reconciled").await;
        wait_ready(&e.api, "checkout-v3", "True", "Reconciled").await;
    })
    .await;

    e.emulator.kill();
    let down = std::time::Instant::now();
    with_logs(
        logs.clone(),
        wait_ready(&e.api, "checkout-v2", "False", "EvidentlyUnavailable").map_unit(),
    )
    .await;
    // The deletion waits for Evidently, and says why once, not on every retry.
    e.api
        .delete("checkout-v3", &DeleteParams::default())
        .await
        .unwrap();
    with_logs(logs.clone(), async {
        let seen = wait_event(&e.admin, &e.ns, "NotDeleted").await;
        let not_deleted: Vec<_> = seen.iter().filter(|e| e.reason == "NotDeleted").collect();
        assert_eq!(not_deleted[0].type_, "Warning", "{not_deleted:?}");
        assert!(
            not_deleted[0]
                .note
                .contains("cannot delete launch checkout-v3 in project shop from Evidently yet"),
            "{not_deleted:?}"
        );
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
    let stuck = e.api.get("checkout-v3").await.unwrap();
    assert!(stuck.metadata.deletion_timestamp.is_some());
    let said = events(&e.admin, &e.ns).await;
    assert_eq!(
        said.iter().filter(|e| e.reason == "NotDeleted").count(),
        1,
        "one NotDeleted event for the whole outage: {said:?}"
    );
    e.emulator.restart();
    e.emulator.wait_healthy().await;
    let api = e.api.clone();
    with_logs(logs, async move {
        let l = tokio::time::timeout(
            Duration::from_secs(120),
            wait_ready(&api, "checkout-v2", "True", "Reconciled"),
        )
        .await
        .expect("recovered within 2 minutes of the emulator's return");
        assert_eq!(l.status.unwrap().status.as_deref(), Some("CREATED"));
        eventually("checkout-v3 to be gone", WAIT, || async {
            match api
                .get_opt("checkout-v3")
                .await
                .map_err(|e| e.to_string())?
            {
                None => Ok(()),
                Some(_) => Err("still there".into()),
            }
        })
        .await;
    })
    .await;
    let err = get_launch(&e.ev, "checkout-v3").await.unwrap_err();
    assert!(
        err.into_service_error().is_resource_not_found_exception(),
        "deleted from Evidently once it was back"
    );
}

/// The operator's ServiceAccount can do its job (every test above runs under it) and nothing
/// more: these requests are refused with 403.
#[tokio::test]
async fn the_operator_service_account_is_refused_what_it_does_not_need() {
    let cp = ControlPlane::shared();
    let op = cp.operator().await;
    let forbidden = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(s)) => s.code == 403,
        _ => false,
    };
    assert!(forbidden(
        Api::<Secret>::all(op.clone())
            .list(&ListParams::default())
            .await
            .map(|_| ())
    ));
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(op.clone());
    assert!(forbidden(
        crds.patch(
            "launches.evidently.launch-operator.io",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))
        )
        .await
        .map(|_| ())
    ));
    // It may read Launches but not create or delete them.
    let admin = cp.admin().await;
    let ns = namespace(&admin, "rbac").await;
    let launches: Api<Launch> = Api::namespaced(op.clone(), &ns);
    assert!(launches.list(&ListParams::default()).await.is_ok());
    let manifest = example("checkout-rollout.yaml", &ns);
    assert!(forbidden(
        launches
            .create(
                &Default::default(),
                &serde_json::from_value(manifest).unwrap()
            )
            .await
            .map(|_| ())
    ));
    assert!(forbidden(
        launches
            .delete("x", &DeleteParams::default())
            .await
            .map(|_| ())
    ));
    // The same for the other kinds.
    async fn read_only<K>(op: &Client, ns: &str, manifest: Value) -> Result<(), String>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        let api: Api<K> = Api::namespaced(op.clone(), ns);
        api.list(&ListParams::default())
            .await
            .map_err(|e| format!("list: {e}"))?;
        let object: K = serde_json::from_value(manifest).unwrap();
        match api.create(&Default::default(), &object).await {
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            other => return Err(format!("create: {other:?}")),
        }
        match api.delete("x", &DeleteParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 403 => Ok(()),
            other => Err(format!("delete: {other:?}")),
        }
    }
    let mut documents = support::example_documents("project.yaml", &ns);
    documents.extend(support::example_documents("features.yaml", &ns));
    documents.extend(support::example_documents("segments.yaml", &ns));
    for doc in documents {
        let result = match doc["kind"].as_str().unwrap() {
            "Project" => read_only::<Project>(&op, &ns, doc.clone()).await,
            "Feature" => read_only::<Feature>(&op, &ns, doc.clone()).await,
            "Segment" => read_only::<Segment>(&op, &ns, doc.clone()).await,
            other => panic!("unexpected {other}"),
        };
        assert_eq!(result, Ok(()), "{}", doc["kind"]);
    }
}

trait MapUnit {
    async fn map_unit(self);
}

impl<F: Future<Output = Launch>> MapUnit for F {
    async fn map_unit(self) {
        self.await;
    }
}

/// The resourceVersion of every Launch in the namespace: any write to an object (spec, status,
/// metadata) changes it, so equal maps mean no writes.
async fn resource_versions(api: &Api<Launch>) -> std::collections::BTreeMap<String, String> {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|l| {
            (
                l.metadata.name.unwrap_or_default(),
                l.metadata.resource_version.unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits until the controller has finished `passes` Launch passes during which no Launch object
/// was written and Evidently got no mutating call; returns the resource versions and the
/// mutating calls then.
async fn wait_quiet(e: &Env, passes: f64) -> (std::collections::BTreeMap<String, String>, f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let snapshot = || async {
        (
            resource_versions(&e.api).await,
            emulator_mutating_calls(&e.emulator).await,
            controller_passes(&e.controller, "Launch").await,
        )
    };
    let mut start = snapshot().await;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = snapshot().await;
        if (&now.0, now.1) != (&start.0, start.1) {
            // Something was written: a new round starts.
            start = now;
        } else if now.2 - start.2 >= passes {
            return (now.0, now.1);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {passes} passes without a write within 60 s"
        );
    }
}

#[tokio::test]
async fn a_hundred_ready_launches_cost_no_writes_when_nothing_changes() {
    let e = env("steady").await;
    let logs = e.logs();
    with_logs(logs, async {
        seed_checkout(&e.ev).await;
        for i in 0..100 {
            let mut m = example("checkout-rollout.yaml", &e.ns);
            m["metadata"]["name"] = json!(format!("launch-{i:03}"));
            apply(&e.admin, &e.ns, &m).await;
        }
        eventually("100 Ready launches", Duration::from_secs(180), || async {
            let list = e.api.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
            let ready = list.items.iter().filter(|l| matches!(ready(l), Some((s, _, _)) if s == "True")).count();
            if ready == 100 { Ok(()) } else { Err(format!("{ready} ready")) }
        })
        .await;
        // Settled: a round of passes over every launch (the 2 s resync) that wrote nothing,
        // neither a Launch object nor Evidently. Then two idle minutes are measured.
        let (versions_before, mutating_before) = wait_quiet(&e, 100.0).await;
        // One create per launch, none repeated (and the operation label the idle count relies on
        // is the one the emulator uses).
        assert_eq!(emulator_calls(&e.emulator, "CreateLaunch").await, 100.0);
        let gets_before = emulator_calls(&e.emulator, "GetLaunch").await;
        tokio::time::sleep(Duration::from_secs(120)).await;
        let versions_after = resource_versions(&e.api).await;
        let writes = versions_before.iter().filter(|(k, v)| versions_after.get(*k) != Some(v)).count();
        let mutating = emulator_mutating_calls(&e.emulator).await - mutating_before;
        let gets = emulator_calls(&e.emulator, "GetLaunch").await - gets_before;
        println!("idle 120 s with 100 launches: {writes} Launch objects written, {mutating} mutating Evidently calls, {gets} GetLaunch");
        assert_eq!(versions_before.len(), 100);
        assert_eq!(writes, 0, "Launch objects written while idle");
        assert_eq!(mutating, 0.0, "mutating Evidently calls while idle");
        // The resync (2 s in tests) keeps comparing with Evidently.
        assert!(gets > 100.0, "only {gets} GetLaunch calls: the resync is not running");
    })
    .await;
}

#[tokio::test]
async fn a_foreign_launch_of_the_same_name_is_not_taken_over_without_the_adopt_annotation() {
    let e = env("foreign").await;
    let logs = e.logs();
    with_logs(logs, async {
        seed_checkout(&e.ev).await;
        // Someone else's launch, created directly in Evidently.
        e.ev.create_launch()
            .project("shop")
            .name("checkout-v2")
            .groups(
                aws_sdk_evidently::types::LaunchGroupConfig::builder()
                    .name("only")
                    .feature("checkout")
                    .variation("legacy")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        apply(&e.admin, &e.ns, &example("checkout-rollout.yaml", &e.ns)).await;
        let l = wait_ready(&e.api, "checkout-v2", "False", "AlreadyExists").await;
        let (_, _, message) = ready(&l).unwrap();
        assert!(
            message.contains("evidently.launch-operator.io/adopt=true"),
            "{message}"
        );
        let got = get_launch(&e.ev, "checkout-v2").await.unwrap();
        assert_eq!(
            got.groups().len(),
            1,
            "the foreign launch must be left alone"
        );

        // The explicit opt-in adopts it and brings it in line with the spec.
        let mut m = example("checkout-rollout.yaml", &e.ns);
        m["metadata"]["annotations"] = json!({"evidently.launch-operator.io/adopt": "true"});
        apply(&e.admin, &e.ns, &m).await;
        wait_ready(&e.api, "checkout-v2", "True", "Reconciled").await;
        let launch = get_launch(&e.ev, "checkout-v2").await.unwrap();
        assert_eq!(launch.groups().len(), 2);
        assert_eq!(
            launch
                .tags()
                .unwrap()
                .get("launch-operator.io/owner")
                .map(String::as_str),
            Some(format!("{}/checkout-v2", e.ns).as_str())
        );
        wait_event(&e.admin, &e.ns, "Adopted").await;
    })
    .await;
}

/// Two replicas with leader election: only the lease holder is ready and reconciles; when it
/// dies, the other takes over. SIGTERM ends a controller cleanly.
#[tokio::test]
async fn only_the_lease_holder_reconciles_and_a_standby_takes_over() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, "leader").await;
    let emulator = start_emulator(&[]).await;
    let ev = evidently_client(&emulator.url());
    seed_checkout(&ev).await;
    let election = [
        "--leader-election=true",
        "--leader-election-namespace=launch-operator",
    ];
    let mut first = start_controller(
        &emulator.url(),
        &ns,
        &[&election[..], &["--identity=first"]].concat(),
    )
    .await;
    let readyz = |p: &Process| {
        let url = format!("{}/readyz", p.url());
        async move { http_get(&url).await.map(|(s, _)| s).unwrap_or(0) }
    };
    eventually("the first replica to lead", WAIT, || async {
        if readyz(&first).await == 200 {
            Ok(())
        } else {
            Err("not ready".into())
        }
    })
    .await;
    let mut second = start_controller(
        &emulator.url(),
        &ns,
        &[&election[..], &["--identity=second"]].concat(),
    )
    .await;
    let logs = vec![first.log.clone(), second.log.clone(), emulator.log.clone()];
    with_logs(logs, async {
        // The leader works: it reconciles a launch, then goes on resyncing it (every 2 s)...
        let api: Api<Launch> = Api::namespaced(admin.clone(), &ns);
        apply(&admin, &ns, &example("checkout-rollout.yaml", &ns)).await;
        wait_ready(&api, "checkout-v2", "True", "Reconciled").await;
        let passes = controller_passes(&first, "Launch").await;
        eventually("three more passes of the leader", WAIT, || async {
            let now = controller_passes(&first, "Launch").await;
            if now >= passes + 3.0 {
                Ok(())
            } else {
                Err(format!("{now} passes"))
            }
        })
        .await;
        // ...while the standby, watching the same namespace, does nothing: not ready, no pass
        // (the duration histogram is always exposed, so its zero count is read, not missing),
        // no Evidently call.
        assert_eq!(
            readyz(&second).await,
            503,
            "the standby must not be ready while the lease is held"
        );
        let standby = metrics_text(&second).await;
        assert!(
            standby
                .lines()
                .any(|l| l == "launch_operator_reconcile_duration_seconds_count 0"),
            "the standby reconciled: {standby}"
        );
        assert_eq!(
            metric_sum(&standby, "launch_operator_reconciles_total", ""),
            0.0,
            "the standby reconciled: {standby}"
        );
        assert_eq!(
            metric_sum(&standby, "launch_operator_evidently_requests_total", ""),
            0.0,
            "the standby called Evidently: {standby}"
        );

        first.kill();
        eventually(
            "the standby to take over",
            Duration::from_secs(60),
            || async {
                if readyz(&second).await == 200 {
                    Ok(())
                } else {
                    Err("standby not ready".into())
                }
            },
        )
        .await;
        // It reconciles now.
        eventually("passes of the new leader", WAIT, || async {
            let now = controller_passes(&second, "Launch").await;
            if now > 0.0 {
                Ok(())
            } else {
                Err("no pass".into())
            }
        })
        .await;
        wait_ready(&api, "checkout-v2", "True", "Reconciled").await;

        let status = second.terminate();
        assert!(
            status.success(),
            "SIGTERM must end the controller cleanly: {status:?}"
        );
    })
    .await;
}

/// A crash between CreateLaunch and the status write: the emulator holds CreateLaunch's answer
/// for 6 s after committing it, and the controller is SIGKILLed in that window. The restarted
/// controller finds no ARN in the status, gets a ConflictException, sees its ownership tag and
/// adopts the launch: exactly one launch, no duplicate.
#[tokio::test]
async fn a_controller_killed_between_create_and_status_write_adopts_its_launch_after_restart() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, "crash").await;
    let emulator = start_emulator(&["--fault-delay=CreateLaunch=6s"]).await;
    let ev = evidently_client(&emulator.url());
    seed_checkout(&ev).await;
    let mut controller = start_controller(&emulator.url(), &ns, &[]).await;
    let logs = vec![controller.log.clone(), emulator.log.clone()];
    with_logs(logs, async {
        let api: Api<Launch> = Api::namespaced(admin.clone(), &ns);
        apply(&admin, &ns, &example("checkout-rollout.yaml", &ns)).await;
        eventually(
            "the launch to be committed in the emulator",
            WAIT,
            || async {
                get_launch(&ev, "checkout-v2")
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        )
        .await;
        controller.kill();
        let l = api.get("checkout-v2").await.unwrap();
        assert!(
            l.status.as_ref().and_then(|s| s.arn.as_ref()).is_none(),
            "the status must not have been written yet"
        );

        controller.restart();
        let l = wait_ready(&api, "checkout-v2", "True", "Reconciled").await;
        assert_eq!(
            l.status.unwrap().arn.as_deref(),
            Some("arn:aws:evidently:us-east-1:123456789012:project/shop/launch/checkout-v2")
        );
        let listed = ev.list_launches().project("shop").send().await.unwrap();
        assert_eq!(listed.launches().len(), 1, "exactly one launch");
        wait_event(&admin, &ns, "Adopted").await;
    })
    .await;
}
