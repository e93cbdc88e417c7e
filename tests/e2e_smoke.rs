//! Smoke suite on a real kube-apiserver + etcd: the CRD installs and is served, the examples
//! are accepted, broken manifests are refused with the field named, the status subresource
//! works, `kubectl get -o wide` shows the printer columns, `kubectl apply -k` of each overlay
//! succeeds, and the finalizer admission policy works where the server serves it.
//!
//! `make test` runs this suite on the oldest and the newest supported Kubernetes versions
//! (README, "Supported Kubernetes versions"); every verdict is the same on both except the
//! admission policy's, which each branch asserts.

mod support;

use std::{path::Path, process::Command, time::Duration};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, ResourceExt,
    api::{DynamicObject, Patch, PatchParams},
};
use launch_operator::crd::Launch;
use serde_json::{Value, json};
use support::{ControlPlane, namespace, repo_root};

const WAIT: Duration = Duration::from_secs(30);

fn read_manifest(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap()).unwrap()
}

/// The roll-out example, `checkout-v2`.
fn checkout_example() -> Value {
    read_manifest(&repo_root().join("examples/checkout-rollout.yaml"))
}

async fn create(ns: &str, mut manifest: Value) -> Result<DynamicObject, String> {
    let admin = ControlPlane::shared().admin().await;
    manifest["metadata"]["namespace"] = json!(ns);
    let kind = manifest["kind"].as_str().unwrap_or("Launch").to_string();
    let obj: DynamicObject = serde_json::from_value(manifest).unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(admin, ns, &support::kind_resource(&kind));
    // Server-side apply with strict field validation, as `kubectl apply --server-side` does.
    let params = PatchParams::apply("e2e").validation_strict();
    api.patch(&obj.name_any(), &params, &Patch::Apply(&obj))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_crd_is_established_and_served() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let crd = Api::<CustomResourceDefinition>::all(admin)
        .get("launches.evidently.launch-operator.io")
        .await
        .unwrap();
    let conditions = crd.status.unwrap().conditions.unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True"),
        "{conditions:?}"
    );
    println!("control plane start-up took {:?}", cp.startup);
}

#[tokio::test]
async fn every_example_is_accepted() {
    let admin = ControlPlane::shared().admin().await;
    let ns = namespace(&admin, "smoke-examples").await;
    let mut count = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for doc in support::example_documents(&file, &ns) {
            let created = create(&ns, doc).await;
            assert!(created.is_ok(), "{}: {:?}", path.display(), created.err());
            count += 1;
        }
    }
    assert_eq!(count, 11);
}

/// Every broken manifest that admission can judge is refused, and the message names the field
/// or the rule. (Event-pattern JSON and unparsable YAML are the `validate` command's job.)
#[tokio::test]
async fn broken_manifests_are_refused_naming_the_field() {
    let admin = ControlPlane::shared().admin().await;
    let ns = namespace(&admin, "smoke-invalid").await;
    let cases = [
        ("bad-group-name.yaml", "spec.groups[1].name"),
        ("too-many-groups.yaml", "spec.groups: Too many"),
        ("weight-too-large.yaml", "less than or equal to 100000"),
        (
            "unknown-weight-key.yaml",
            "groupWeights keys must be names of this launch's groups",
        ),
        (
            "duplicate-group.yaml",
            "group names must be unique within a launch",
        ),
        ("reserved-tag.yaml", "not starting with 'aws:'"),
        (
            "bad-start-time.yaml",
            "spec.scheduledSplitsConfig.steps[0].startTime",
        ),
        ("missing-project.yaml", "spec.project: Required value"),
        (
            "long-metadata-name.yaml",
            "metadata.name is used as the launch name",
        ),
        (
            "bad-deletion-policy.yaml",
            "spec.deletionPolicy: Unsupported value",
        ),
        (
            "typo-field.yaml",
            ".spec.scheduledSplitsConfig.steps[0].groupWeight: field not declared in schema",
        ),
    ];
    for (file, expected) in cases {
        let manifest = read_manifest(&repo_root().join("tests/data/invalid").join(file));
        match create(&ns, manifest).await {
            Ok(_) => panic!("{file} was accepted"),
            Err(message) => assert!(message.contains(expected), "{file}: {message}"),
        }
    }
}

#[tokio::test]
async fn project_and_name_are_immutable() {
    let admin = ControlPlane::shared().admin().await;
    let ns = namespace(&admin, "smoke-immutable").await;
    let manifest = checkout_example();
    create(&ns, manifest).await.unwrap();
    let api: Api<Launch> = Api::namespaced(admin, &ns);
    for (patch, expected) in [
        (
            json!({"spec": {"project": "other"}}),
            "project is immutable",
        ),
        (json!({"spec": {"name": "renamed"}}), "name is immutable"),
    ] {
        let err = api
            .patch(
                "checkout-v2",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .expect_err("immutable field changed");
        assert!(err.to_string().contains(expected), "{err}");
    }
    // Other fields still change.
    api.patch(
        "checkout-v2",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"description": "new"}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_status_subresource_is_separate_from_the_spec() {
    let admin = ControlPlane::shared().admin().await;
    let ns = namespace(&admin, "smoke-status").await;
    create(&ns, checkout_example()).await.unwrap();
    let api: Api<Launch> = Api::namespaced(admin, &ns);
    let status = json!({"status": {"arn": "arn:aws:evidently:us-east-1:1:project/shop/launch/checkout-v2", "status": "CREATED"}});
    api.patch_status(
        "checkout-v2",
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await
    .unwrap();
    // A status in a spec write is ignored.
    let with_status = json!({"spec": {"description": "x"}, "status": {"status": "RUNNING"}});
    api.patch(
        "checkout-v2",
        &PatchParams::default(),
        &Patch::Merge(&with_status),
    )
    .await
    .unwrap();
    let launch = api.get("checkout-v2").await.unwrap();
    assert_eq!(
        launch.status.as_ref().unwrap().status.as_deref(),
        Some("CREATED")
    );
    assert_eq!(launch.spec.description.as_deref(), Some("x"));
    assert_eq!(launch.metadata.generation, Some(2));
}

#[tokio::test]
async fn kubectl_get_wide_shows_the_printer_columns() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, "smoke-kubectl").await;
    create(&ns, checkout_example()).await.unwrap();
    let api: Api<Launch> = Api::namespaced(admin, &ns);
    let status = json!({"status": {
        "arn": "arn:aws:evidently:us-east-1:1:project/shop/launch/checkout-v2", "status": "RUNNING",
        "activeStep": 2, "nextStepTime": "2027-01-18T09:00:00Z",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    api.patch_status(
        "checkout-v2",
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await
    .unwrap();

    let out = Command::new("kubectl")
        .args([
            "--kubeconfig",
            cp.admin_kubeconfig.to_str().unwrap(),
            "get",
            "launches",
            "-n",
            &ns,
            "-o",
            "wide",
        ])
        .output()
        .expect("kubectl on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        vec![
            "NAME",
            "PROJECT",
            "STATUS",
            "STEP",
            "NEXT-STEP",
            "READY",
            "ARN",
            "AGE"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..7],
        &[
            "checkout-v2",
            "shop",
            "RUNNING",
            "2",
            "2027-01-18T09:00:00Z",
            "True",
            "arn:aws:evidently:us-east-1:1:project/shop/launch/checkout-v2"
        ]
    );

    // Without -o wide the ARN column (priority 1) is hidden; the category works too.
    let out = Command::new("kubectl")
        .args([
            "--kubeconfig",
            cp.admin_kubeconfig.to_str().unwrap(),
            "get",
            "evidently",
            "-n",
            &ns,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().next().unwrap().split_whitespace().eq([
            "NAME",
            "PROJECT",
            "STATUS",
            "STEP",
            "NEXT-STEP",
            "READY",
            "AGE"
        ]),
        "{text}"
    );
}

/// `kubectl` with the admin kubeconfig, from the repository root; returns (success, stdout +
/// stderr).
fn kubectl(args: &[&str]) -> (bool, String) {
    let cp = ControlPlane::shared();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&cp.admin_kubeconfig)
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("kubectl on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The README's install commands work on this server as written: `kubectl apply -k` of each
/// overlay, client-side (the README) and server-side (Argo CD's `ServerSideApply=true`, Flux).
#[tokio::test]
async fn kubectl_apply_of_each_overlay_succeeds() {
    let cp = ControlPlane::shared();
    for mode in [&[][..], &["--server-side", "--force-conflicts"][..]] {
        for overlay in ["deploy/overlays/emulator", "deploy/overlays/aws"] {
            let mut args = vec!["apply", "-k", overlay];
            args.extend_from_slice(mode);
            let (ok, out) = kubectl(&args);
            assert!(ok, "kubectl {} on {}:\n{out}", args.join(" "), cp.version);
            assert!(
                out.contains("customresourcedefinition.apiextensions.k8s.io/launches.evidently.launch-operator.io")
                    && out.contains("deployment.apps/launch-operator"),
                "{overlay}: {out}"
            );
        }
    }
}

/// The opt-in finalizer admission policy (`deploy/components/finalizer-at-admission`), on the
/// server's terms. The harness installs it where the server serves MutatingAdmissionPolicy v1,
/// which the README promises from Kubernetes 1.36 on.
#[tokio::test]
async fn new_launches_get_the_finalizer_at_admission_where_the_server_serves_the_policy() {
    let cp = ControlPlane::shared();
    assert_eq!(
        cp.serves_admission_policy,
        cp.minor >= 36,
        "the README says MutatingAdmissionPolicy v1 is served from Kubernetes 1.36 on; {} says otherwise",
        cp.version
    );
    // The README's opt-in, checked by the server without changing anything.
    let (ok, out) = kubectl(&[
        "apply",
        "-k",
        "tests/data/with-admission-policy",
        "--dry-run=server",
    ]);
    if cp.serves_admission_policy {
        assert!(ok, "{}: {out}", cp.version);
        assert!(
            out.contains(
                "mutatingadmissionpolicy.admissionregistration.k8s.io/launch-operator-finalizer"
            ),
            "{out}"
        );
        admitted_with_the_finalizer().await;
    } else {
        assert!(!ok, "{} accepted the admission policy: {out}", cp.version);
        assert!(
            out.contains(r#"no matches for kind "MutatingAdmissionPolicy" in version "admissionregistration.k8s.io/v1""#),
            "{out}"
        );
        admitted_without_the_finalizer().await;
    }
}

/// Below 1.36 nothing mutates a new Launch: it is stored as written, and the controller adds
/// its finalizer on its first pass (`tests/e2e_controller.rs` removes it and sees it put back).
async fn admitted_without_the_finalizer() {
    let admin = ControlPlane::shared().admin().await;
    let ns = namespace(&admin, "admission").await;
    let created = create(&ns, checkout_example()).await.unwrap();
    assert_eq!(created.metadata.finalizers, None);
}

/// With the policy: a new Launch carries the controller's finalizer from its first write,
/// server-side apply keeps it (the applier does not own it), a finalizer the manifest lists
/// itself is not doubled, and updates are left alone.
async fn admitted_with_the_finalizer() {
    use launch_operator::crd::FINALIZER;
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = namespace(&admin, "admission").await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(admin, &ns, &support::kind_resource("Launch"));
    let finalizers = |o: &DynamicObject| o.metadata.finalizers.clone().unwrap_or_default();

    // The policy takes effect a moment after it is installed.
    let mut attempt = 0;
    let created = support::eventually("the policy to add the finalizer", WAIT, || {
        attempt += 1;
        let mut manifest = checkout_example();
        manifest["metadata"]["name"] = json!(format!("admitted-{attempt}"));
        let ns = ns.clone();
        async move {
            let created = create(&ns, manifest).await?;
            if created.metadata.finalizers.as_deref() == Some(&[FINALIZER.to_string()][..]) {
                Ok(created)
            } else {
                Err(format!("finalizers {:?}", created.metadata.finalizers))
            }
        }
    })
    .await;
    let name = created.name_any();

    let mut manifest = checkout_example();
    manifest["metadata"]["name"] = json!(name);
    manifest["spec"]["description"] = json!("re-applied");
    let reapplied = create(&ns, manifest).await.unwrap();
    assert_eq!(finalizers(&reapplied), vec![FINALIZER.to_string()]);

    // An update that drops it is not undone (only creates are mutated).
    let patched = api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert!(finalizers(&patched).is_empty());

    let mut listed = checkout_example();
    listed["metadata"]["name"] = json!("listed-itself");
    listed["metadata"]["finalizers"] = json!(["example.com/other", FINALIZER]);
    let created = create(&ns, listed).await.unwrap();
    assert_eq!(
        finalizers(&created),
        vec!["example.com/other".to_string(), FINALIZER.to_string()]
    );
    // Nothing here runs a controller: let the objects go.
    api.patch(
        "listed-itself",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    // The attempts before the policy took effect got no finalizer: nothing holds them.
}
