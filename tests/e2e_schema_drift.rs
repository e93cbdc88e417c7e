//! An object that predates the current schema (written while a looser CRD was installed) is
//! judged by the controller's own rules: `InvalidSpec`, a Warning event, and no Evidently call.
//! This binary swaps the CRD, so it has a control plane of its own.

#![allow(deprecated)]

mod support;

use std::time::Duration;

use kube::{
    Api,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
};
use launch_operator::crd::Launch;
use serde_json::json;
use support::{
    ControlPlane, emulator_mutating_calls, eventually, evidently_client, namespace, repo_root,
    start_controller, start_emulator, wait_event, with_logs,
};

#[tokio::test]
async fn an_invalid_object_from_before_the_schema_is_reported_and_never_sent_to_evidently() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, "drift").await;

    // 1. A permissive CRD, as an older release might have installed.
    let mut loose: serde_json::Value =
        launch_operator::crd::crd_of("Launch").expect("Launch is a kind");
    let schema = &mut loose["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    schema["properties"]["spec"] =
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    schema
        .as_object_mut()
        .unwrap()
        .remove("x-kubernetes-validations");
    let crds: Api<DynamicObject> = Api::all_with(
        admin.clone(),
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    let name = "launches.evidently.launch-operator.io";
    let obj: DynamicObject = serde_json::from_value(loose).unwrap();
    crds.patch(
        name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap();

    // 2. An object the real schema would refuse: a group name with a space, and weights keyed
    //    by a group that does not exist.
    let launches: Api<Launch> = Api::namespaced(admin.clone(), &ns);
    let bad = json!({
        "apiVersion": "evidently.launch-operator.io/v1alpha1", "kind": "Launch",
        "metadata": {"name": "legacy", "namespace": ns},
        "spec": {"project": "shop", "groups": [
            {"name": "control", "feature": "checkout", "variation": "legacy"},
            {"name": "new checkout", "feature": "checkout", "variation": "v2"}],
            "scheduledSplitsConfig": {"steps": [{"startTime": "2027-01-04T09:00:00Z",
                "groupWeights": {"control": 50000, "nobody": 50000}}]}}
    });
    eventually(
        "the loose CRD to accept the object",
        Duration::from_secs(30),
        || async {
            launches
                .patch("legacy", &PatchParams::apply("e2e"), &Patch::Apply(&bad))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;

    // 3. The current CRD again.
    support::control_plane::apply_file(&admin, &repo_root().join("crds/crds.yaml")).await;

    let emulator = start_emulator(&[]).await;
    let ev = evidently_client(&emulator.url());
    ev.create_project().name("shop").send().await.unwrap();
    // The test's own CreateProject; the controller must add nothing to it.
    let seeded = emulator_mutating_calls(&emulator).await;
    let controller = start_controller(&emulator.url(), &ns, &[]).await;
    with_logs(vec![controller.log.clone(), emulator.log.clone()], async {
        let l = eventually("Ready=False InvalidSpec", Duration::from_secs(60), || async {
            let l = launches.get("legacy").await.map_err(|e| e.to_string())?;
            let c = l.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready").cloned());
            match c {
                Some(c) if c.status == "False" && c.reason == "InvalidSpec" => Ok(c),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert!(l.message.contains("spec.groups[1].name: Member must satisfy regular expression pattern"), "{}", l.message);
        assert!(
            l.message.contains("spec.scheduledSplitsConfig.steps[0].groupWeights[nobody]: weight keys must be names"),
            "{}",
            l.message
        );
        // Events are written after the pass, by a background writer.
        let seen = wait_event(&admin, &ns, "InvalidSpec").await;
        assert!(seen.iter().filter(|e| e.reason == "InvalidSpec").all(|e| e.type_ == "Warning"), "{seen:?}");

        // Nothing reached Evidently.
        assert_eq!(emulator_mutating_calls(&emulator).await, seeded);
        let listed = ev.list_launches().project("shop").send().await.unwrap();
        assert!(listed.launches().is_empty());

        // An invalid object can still be deleted: the deletion path does not validate.
        launches.delete("legacy", &DeleteParams::default()).await.unwrap();
        eventually("the invalid object to be deleted", Duration::from_secs(60), || async {
            match launches.get_opt("legacy").await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(_) => Err("still there".into()),
            }
        })
        .await;
    })
    .await;
}
