//! The install manifests: every overlay renders with `kubectl kustomize`, workloads carry the
//! restrictive security context, the RBAC the end-to-end suite proves is the one installed, the
//! default overlays hold nothing an older supported API server lacks (the admission policy is
//! an opt-in component), and the Argo CD health check maps the Ready condition as documented
//! and installs the way Argo CD documents. Whether the overlays apply on each supported API
//! server is `tests/e2e_smoke.rs`'s job.

use std::process::Command;

use mlua::{Lua, LuaSerdeExt};
use serde::Deserialize;
use serde_json::{Value, json};

fn render(overlay: &str) -> Vec<Value> {
    render_dir(&format!("deploy/overlays/{overlay}"))
}

/// `kubectl kustomize` of a directory relative to the repository root.
fn render_dir(relative: &str) -> Vec<Value> {
    let dir = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("kubectl")
        .args(["kustomize", &dir])
        .output()
        .expect("kubectl on PATH (kubectl kustomize)");
    assert!(
        out.status.success(),
        "{relative}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::Deserializer::from_str(&String::from_utf8(out.stdout).unwrap())
        .map(|d| {
            serde_json::to_value(<serde_yaml::Value as serde::Deserialize>::deserialize(d).unwrap())
                .unwrap()
        })
        .collect()
}

fn kinds(objects: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    k.sort();
    k
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name}"))
}

fn env_of(deployment: &Value) -> Vec<(String, String)> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap_or("<from field>").to_string(),
            )
        })
        .collect()
}

fn assert_restricted(workload: &Value) {
    let pod = &workload["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        json!("RuntimeDefault")
    );
    for c in pod["containers"].as_array().unwrap() {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], json!(true), "{}", c["name"]);
        assert_eq!(
            sc["allowPrivilegeEscalation"],
            json!(false),
            "{}",
            c["name"]
        );
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{}", c["name"]);
        assert!(
            c["livenessProbe"].is_object() && c["readinessProbe"].is_object(),
            "{}",
            c["name"]
        );
        assert!(
            c["resources"]["limits"]["memory"].is_string(),
            "{}",
            c["name"]
        );
    }
}

#[test]
fn the_emulator_overlay_installs_the_operator_pointed_at_the_in_cluster_emulator() {
    let objects = render("emulator");
    assert_eq!(
        kinds(&objects),
        vec![
            "ClusterRole/launch-operator",
            "ClusterRoleBinding/launch-operator",
            "CustomResourceDefinition/features.evidently.launch-operator.io",
            "CustomResourceDefinition/launches.evidently.launch-operator.io",
            "CustomResourceDefinition/projects.evidently.launch-operator.io",
            "CustomResourceDefinition/segments.evidently.launch-operator.io",
            "Deployment/launch-operator",
            "Namespace/launch-operator",
            "NetworkPolicy/evidently-emulator",
            "Role/launch-operator-leader-election",
            "RoleBinding/launch-operator-leader-election",
            "Service/evidently-emulator",
            "Service/launch-operator-metrics",
            "ServiceAccount/launch-operator",
            "StatefulSet/evidently-emulator",
        ]
    );
    let controller = find(&objects, "Deployment", "launch-operator");
    let env = env_of(controller);
    assert!(env.contains(&(
        "EVIDENTLY_ENDPOINT".into(),
        "http://evidently-emulator.launch-operator.svc:8080".into()
    )));
    assert_restricted(controller);
    // The controller signs with its own key, from a Secret; the emulator checks signatures
    // against the key file of another Secret.
    let key_ref = |name: &str| {
        controller["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["secretKeyRef"]["name"].clone())
    };
    assert_eq!(
        key_ref("AWS_ACCESS_KEY_ID"),
        Some(json!("launch-operator-evidently-key"))
    );
    assert_eq!(
        key_ref("AWS_SECRET_ACCESS_KEY"),
        Some(json!("launch-operator-evidently-key"))
    );
    let emulator = find(&objects, "StatefulSet", "evidently-emulator");
    assert_restricted(emulator);
    let emulator_env = env_of(emulator);
    assert!(emulator_env.contains(&("EMULATOR_AUTH".into(), "sigv4".into())));
    assert_eq!(
        emulator["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
        json!("evidently-emulator-keys")
    );
    let policy = find(&objects, "NetworkPolicy", "evidently-emulator");
    assert_eq!(
        policy["spec"]["ingress"][0]["ports"][0]["port"],
        json!("http")
    );
    assert_eq!(
        policy["spec"]["ingress"][1]["ports"][0]["port"],
        json!("metrics")
    );
    assert_eq!(
        emulator["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        json!("data")
    );
}

/// A new controller pod is ready only once it holds the lease, which the old pod keeps until it
/// stops: a rolling update would wait for the new pod forever (tests/e2e_node.rs rolls it out
/// on a real node). Every overlay replaces the old pods first.
#[test]
fn the_controller_is_rolled_out_by_recreating_it() {
    for overlay in ["emulator", "emulator-postgres", "aws"] {
        let objects = render(overlay);
        let deployment = find(&objects, "Deployment", "launch-operator");
        assert_eq!(
            deployment["spec"]["strategy"],
            json!({"type": "Recreate"}),
            "{overlay}"
        );
    }
}

#[test]
fn the_postgres_overlay_runs_three_stateless_emulators_on_a_database_url_from_a_secret() {
    let objects = render("emulator-postgres");
    let names = kinds(&objects);
    assert!(
        !names.contains(&"StatefulSet/evidently-emulator".to_string()),
        "{names:?}"
    );
    for expected in [
        "Deployment/evidently-emulator",
        "Deployment/launch-operator",
        "PodDisruptionBudget/evidently-emulator",
        "Service/evidently-emulator",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected}: {names:?}"
        );
    }
    let emulator = find(&objects, "Deployment", "evidently-emulator");
    assert_restricted(emulator);
    assert_eq!(emulator["spec"]["replicas"], json!(3));
    let pod = &emulator["spec"]["template"]["spec"];
    assert!(pod["volumes"].is_null(), "no data on the replicas");
    let container = &pod["containers"][0];
    let url = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "EMULATOR_DATABASE_URL")
        .expect("EMULATOR_DATABASE_URL");
    assert_eq!(
        url["valueFrom"]["secretKeyRef"],
        json!({"name": "evidently-emulator-database", "key": "uri"})
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"],
        json!("/readyz")
    );
    let pdb = find(&objects, "PodDisruptionBudget", "evidently-emulator");
    assert_eq!(pdb["spec"]["maxUnavailable"], json!(1));
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        emulator["spec"]["selector"]["matchLabels"]
    );
    let service = find(&objects, "Service", "evidently-emulator");
    assert_eq!(
        service["spec"]["selector"],
        emulator["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn the_aws_overlay_has_no_emulator_and_an_iam_role_to_fill_in() {
    let objects = render("aws");
    assert!(!objects.iter().any(|o| o["kind"] == "StatefulSet"));
    let sa = find(&objects, "ServiceAccount", "launch-operator");
    assert!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string());
    let env = env_of(find(&objects, "Deployment", "launch-operator"));
    assert!(env.iter().any(|(k, _)| k == "AWS_REGION"));
    assert!(!env.iter().any(|(k, _)| k == "EVIDENTLY_ENDPOINT"));
}

/// Every supported Kubernetes version serves what the default overlays hold: nothing from
/// admissionregistration.k8s.io (MutatingAdmissionPolicy v1 needs 1.36).
#[test]
fn the_default_overlays_leave_the_admission_policy_out() {
    for overlay in ["emulator", "emulator-postgres", "aws"] {
        let objects = render(overlay);
        let admission: Vec<String> = objects
            .iter()
            .filter(|o| {
                o["apiVersion"]
                    .as_str()
                    .unwrap()
                    .starts_with("admissionregistration.k8s.io/")
            })
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect();
        assert!(admission.is_empty(), "{overlay}: {admission:?}");
    }
}

/// The README's opt-in (an overlay plus `deploy/components/finalizer-at-admission`) adds the
/// controller's finalizer at admission, on create only.
#[test]
fn the_opt_in_admission_policy_adds_the_controllers_finalizer_on_create_only() {
    let objects = render_dir("tests/data/with-admission-policy");
    let policy = find(
        &objects,
        "MutatingAdmissionPolicy",
        "launch-operator-finalizer",
    );
    assert_eq!(
        policy["apiVersion"],
        json!("admissionregistration.k8s.io/v1")
    );
    let rule = &policy["spec"]["matchConstraints"]["resourceRules"][0];
    assert_eq!(
        rule["resources"],
        json!(["projects", "features", "segments", "launches"])
    );
    assert_eq!(rule["operations"], json!(["CREATE"]));
    assert_eq!(policy["spec"]["failurePolicy"], json!("Ignore"));
    let expression = policy["spec"]["mutations"][0]["jsonPatch"]["expression"]
        .as_str()
        .unwrap();
    let quoted = format!("\"{}\"", launch_operator::crd::FINALIZER);
    assert!(expression.contains(&quoted), "{expression}");
    let binding = find(
        &objects,
        "MutatingAdmissionPolicyBinding",
        "launch-operator-finalizer",
    );
    assert_eq!(
        binding["spec"]["policyName"],
        json!("launch-operator-finalizer")
    );
    // Everything else is the default overlay, unchanged.
    let without: Vec<Value> = objects
        .into_iter()
        .filter(|o| {
            !o["kind"]
                .as_str()
                .unwrap()
                .starts_with("MutatingAdmissionPolicy")
        })
        .collect();
    assert_eq!(without, render("emulator"));
}

#[test]
fn the_installed_crds_are_the_committed_ones() {
    let objects = render("emulator");
    let text =
        std::fs::read_to_string(format!("{}/crds/crds.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut names = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let committed: Value =
            serde_json::to_value(serde_yaml::Value::deserialize(doc).unwrap()).unwrap();
        let name = committed["metadata"]["name"].as_str().unwrap().to_string();
        let crd = find(&objects, "CustomResourceDefinition", &name);
        assert!(
            crd["spec"] == committed["spec"],
            "deploy/ does not install {name} as committed in crds/crds.yaml"
        );
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "projects.evidently.launch-operator.io",
            "segments.evidently.launch-operator.io",
            "features.evidently.launch-operator.io",
            "launches.evidently.launch-operator.io"
        ]
    );
}

fn health(object: Value) -> (String, String) {
    let lua = Lua::new();
    let script = std::fs::read_to_string(format!(
        "{}/deploy/argocd/health.lua",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    lua.globals()
        .set("obj", lua.to_value(&object).unwrap())
        .unwrap();
    let hs: mlua::Table = lua.load(&script).eval().expect("the health check runs");
    (hs.get("status").unwrap(), hs.get("message").unwrap())
}

fn object(
    kind: &str,
    generation: i64,
    observed: Option<i64>,
    ready: Option<(&str, &str)>,
) -> Value {
    let mut status = json!({});
    if let Some(g) = observed {
        status["observedGeneration"] = json!(g);
    }
    if let Some((s, reason)) = ready {
        status["conditions"] = json!([{"type": "Ready", "status": s, "reason": reason, "message": "details",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
    }
    json!({"apiVersion": "evidently.launch-operator.io/v1alpha1", "kind": kind,
           "metadata": {"name": "l", "generation": generation}, "spec": {}, "status": status})
}

const KINDS: [&str; 4] = ["Project", "Feature", "Segment", "Launch"];

#[test]
fn argo_cd_health_follows_the_ready_condition_of_every_kind() {
    for kind in KINDS {
        let launch = |g, o, r| object(kind, g, o, r);
        assert_eq!(
            health(launch(1, Some(1), Some(("True", "Reconciled")))),
            ("Healthy".into(), "details".into()),
            "{kind}"
        );
        assert_eq!(health(launch(1, None, None)).0, "Progressing");
        assert_eq!(
            health(launch(2, Some(1), Some(("True", "Reconciled")))).0,
            "Progressing",
            "{kind}: stale generation"
        );
        for transient in [
            "DependencyNotFound",
            "EvidentlyUnavailable",
            "DeletionBlocked",
        ] {
            assert_eq!(
                health(launch(1, Some(1), Some(("False", transient)))).0,
                "Progressing",
                "{kind}: {transient}"
            );
        }
        for failure in [
            "InvalidSpec",
            "EvidentlyRejected",
            "AlreadyExists",
            "AccessDenied",
            "QuotaExceeded",
            "LaunchEnded",
        ] {
            let (status, message) = health(launch(1, Some(1), Some(("False", failure))));
            assert_eq!(status, "Degraded", "{kind}: {failure}");
            assert_eq!(message, format!("{failure}: details"));
        }
        let mut no_status = launch(1, None, None);
        no_status.as_object_mut().unwrap().remove("status");
        assert_eq!(health(no_status).0, "Progressing");
    }
}

/// `deploy/argocd` added to an Argo CD installation as Argo CD documents it for kustomize
/// (install.yaml without namespaces, `namespace: argocd` in the kustomization) puts the script
/// under the key Argo CD reads for each kind, in the ConfigMap it reads: `argocd-cm` itself, in
/// Argo CD's namespace, with no hash suffix and its labels kept.
#[test]
fn the_argo_cd_component_installs_the_health_check_for_every_kind() {
    let objects = render_dir("tests/data/argocd-install");
    let cm = find(&objects, "ConfigMap", "argocd-cm");
    assert_eq!(cm["metadata"]["namespace"], json!("argocd"));
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/part-of"],
        json!("argocd")
    );
    let script = std::fs::read_to_string(format!(
        "{}/deploy/argocd/health.lua",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let data = cm["data"].as_object().unwrap();
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    // Argo CD's key for a custom health check: resource.customizations.health.<group>_<kind>.
    let mut expected: Vec<String> = KINDS
        .iter()
        .map(|kind| format!("resource.customizations.health.evidently.launch-operator.io_{kind}"))
        .collect();
    expected.sort();
    assert_eq!(keys, expected.iter().collect::<Vec<_>>());
    for key in &expected {
        assert_eq!(data[key], json!(script), "{key}");
    }
}
