//! `make quickstart`: the whole system on this machine, the way a user meets it.
//!
//! Starts a local kube-apiserver + etcd (the end-to-end suites' harness), the Evidently
//! emulator, and the controller under the ServiceAccount and RBAC of `deploy/`; applies
//! `examples/` (project, features, segments and launches: nothing is created through the
//! Evidently API) with one `kubectl apply`; waits until every resource is Ready and shows
//! `kubectl get evidently`.
//! Everything stops on Ctrl-C. Not a test and not for production.

#[path = "../tests/support/control_plane.rs"]
#[allow(dead_code)] // Shared with the test suites, which use more of it.
mod control_plane;
#[path = "../tests/support/ports.rs"]
mod ports;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use control_plane::{ControlPlane, repo_root};
use kube::{Api, api::ListParams};
use launch_operator::crd::{Feature, Launch, Project, Segment};

/// A child process that is killed when dropped (Ctrl-C included).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> PathBuf {
    // target/<profile>/examples/quickstart -> target/<profile>/launch-operator
    let exe = std::env::current_exe().expect("own path");
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("launch-operator"))
        .expect("target dir");
    assert!(
        bin.is_file(),
        "{} is missing: run `make quickstart` (it builds it first)",
        bin.display()
    );
    bin
}

/// Starts the binary with `args(port)` on a free port of its own (another if it lost that one
/// to another process) and waits until it listens there.
fn spawn(args: impl Fn(u16) -> Vec<String>, env: &[(&str, String)], log: &Path) -> (Running, u16) {
    let (running, ports) = ports::with_free_ports("launch-operator", 1, |ports| {
        let mut command = Command::new(binary());
        command
            .args(args(ports[0]))
            .envs(env.iter().map(|(k, v)| (*k, v.clone())));
        ports::spawn_listening(command, ports, log, Duration::from_secs(30)).map(Running)
    });
    (running, ports[0])
}

/// (Ready, all) of the operator's resources in the cluster.
async fn readiness(admin: &kube::Client) -> (usize, usize) {
    async fn count<K>(admin: &kube::Client) -> (usize, usize)
    where
        K: kube::Resource<DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + launch_operator::kinds::Managed,
    {
        let items = Api::<K>::all(admin.clone())
            .list(&ListParams::default())
            .await
            .expect("list resources")
            .items;
        let ready = items
            .iter()
            .filter(|o| {
                o.status()
                    .and_then(launch_operator::crd::ready_condition)
                    .is_some_and(|c| c.status == "True")
            })
            .count();
        (ready, items.len())
    }
    let mut total = (0, 0);
    for (r, n) in [
        count::<Project>(admin).await,
        count::<Segment>(admin).await,
        count::<Feature>(admin).await,
        count::<Launch>(admin).await,
    ] {
        total.0 += r;
        total.1 += n;
    }
    total
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    println!("==> starting kube-apiserver and etcd (the first run builds them: ~10 minutes)");
    let cp = ControlPlane::shared();
    let dir = cp.dir.clone();

    println!("==> starting the Evidently emulator");
    let emulator_data = format!("--data-dir={}", dir.join("emulator-data").display());
    let (_emulator, emulator_port) = spawn(
        |port| {
            vec![
                "emulator".into(),
                format!("--listen=127.0.0.1:{port}"),
                emulator_data.clone(),
            ]
        },
        &[],
        &dir.join("emulator.log"),
    );
    let emulator_url = format!("http://127.0.0.1:{emulator_port}");

    println!(
        "==> starting the controller as system:serviceaccount:launch-operator:launch-operator"
    );
    let (_controller, _) = spawn(
        |port| {
            vec![
                "controller".into(),
                format!("--evidently-endpoint={emulator_url}"),
                format!("--admin-listen=127.0.0.1:{port}"),
                "--leader-election-namespace=launch-operator".into(),
            ]
        },
        &[
            ("KUBECONFIG", cp.operator_kubeconfig.display().to_string()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "quickstart".into()),
            ("AWS_SECRET_ACCESS_KEY", "quickstart".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ],
        &dir.join("controller.log"),
    );

    let kubeconfig = cp.admin_kubeconfig.display().to_string();
    println!("==> kubectl apply -f examples/");
    let status = Command::new("kubectl")
        .args(["--kubeconfig", &kubeconfig, "apply", "-f"])
        .arg(repo_root().join("examples"))
        .status()
        .expect("kubectl on PATH");
    assert!(status.success(), "kubectl apply failed");

    println!("==> waiting until every resource is Ready");
    let admin = cp.admin().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (ready, all) = readiness(&admin).await;
        if ready == all && all > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ready} of {all} resources Ready after 2 minutes; see {}",
            dir.join("controller.log").display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = Command::new("kubectl")
        .args(["--kubeconfig", &kubeconfig, "get", "evidently", "-A"])
        .status();
    println!(
        "\nUp in {:.0?}. Try it:\n  export KUBECONFIG={kubeconfig}\n  kubectl get launches                 # which step serves traffic now\n  \
         kubectl describe launch checkout-v2\n  \
         kubectl edit launch checkout-v2      # change a weight, watch status.observedGeneration\n\
         The emulator answers at {emulator_url}; logs are in {}.\nPress Ctrl-C to stop everything.",
        started.elapsed(),
        dir.display()
    );
    let _ = tokio::signal::ctrl_c().await;
    println!("\nstopping");
}
