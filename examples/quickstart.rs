//! `make quickstart`: the whole system on this machine, the way a user meets it.
//!
//! Starts a local kube-apiserver + etcd (the end-to-end suites' harness), the Evidently
//! emulator, and the controller under the ServiceAccount and RBAC of `deploy/`; creates in the
//! emulator the project, features and segments the examples need; applies `examples/` with
//! `kubectl apply`; waits until every Launch is Ready and shows `kubectl get launches -o wide`.
//! Everything stops on Ctrl-C. Not a test and not for production.

// AWS marked the Evidently client deprecated; the emulator keeps it alive.
#![allow(deprecated)]

#[path = "../tests/support/control_plane.rs"]
#[allow(dead_code)] // Shared with the test suites, which use more of it.
mod control_plane;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use aws_sdk_evidently::types::{VariableValue, VariationConfig};
use control_plane::{ControlPlane, repo_root};
use kube::{Api, api::ListParams};
use launch_operator::crd::Launch;

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn spawn(args: &[String], env: &[(&str, String)], log: &PathBuf) -> Running {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(binary())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .expect("start launch-operator");
    Running(child)
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn seed(url: &str) {
    let config = aws_sdk_evidently::Config::builder()
        .behavior_version(aws_sdk_evidently::config::BehaviorVersion::latest())
        .region(aws_sdk_evidently::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_evidently::config::Credentials::new(
            "quickstart",
            "quickstart",
            None,
            None,
            "qs",
        ))
        .endpoint_url(url)
        .build();
    let ev = aws_sdk_evidently::Client::from_conf(config);
    ev.create_project()
        .name("shop")
        .description("Quick-start shop")
        .send()
        .await
        .expect("create project");
    for (feature, variations) in [
        ("checkout", ["legacy", "v2"]),
        ("search", ["classic", "semantic"]),
        ("recommendations", ["off", "on"]),
    ] {
        let mut req = ev.create_feature().project("shop").name(feature);
        for v in variations {
            req = req.variations(
                VariationConfig::builder()
                    .name(v)
                    .value(VariableValue::StringValue(v.into()))
                    .build()
                    .unwrap(),
            );
        }
        req.send().await.expect("create feature");
    }
    for (segment, pattern) in [
        ("beta-users", r#"{"beta": [true]}"#),
        (
            "internal-staff",
            r#"{"email": [{"suffix": "@example.com"}]}"#,
        ),
    ] {
        ev.create_segment()
            .name(segment)
            .pattern(pattern)
            .send()
            .await
            .expect("create segment");
    }
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    println!("==> starting kube-apiserver and etcd (the first run builds them: ~10 minutes)");
    let cp = ControlPlane::shared();
    let dir = cp.dir.clone();

    println!("==> starting the Evidently emulator");
    let emulator_port = free_port();
    let _emulator = spawn(
        &[
            "emulator".into(),
            format!("--listen=127.0.0.1:{emulator_port}"),
            format!("--data-dir={}", dir.join("emulator-data").display()),
        ],
        &[],
        &dir.join("emulator.log"),
    );
    wait_listening(emulator_port).await;
    let emulator_url = format!("http://127.0.0.1:{emulator_port}");
    seed(&emulator_url).await;
    println!(
        "    project shop, features checkout/search/recommendations, segments beta-users/internal-staff"
    );

    println!(
        "==> starting the controller as system:serviceaccount:launch-operator:launch-operator"
    );
    let _controller = spawn(
        &[
            "controller".into(),
            format!("--evidently-endpoint={emulator_url}"),
            format!("--admin-listen=127.0.0.1:{}", free_port()),
            "--leader-election-namespace=launch-operator".into(),
        ],
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

    println!("==> waiting until every Launch is Ready");
    let admin = cp.admin().await;
    let launches: Api<Launch> = Api::all(admin);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = launches
            .list(&ListParams::default())
            .await
            .expect("list launches");
        let ready = list
            .items
            .iter()
            .filter(|l| {
                l.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .count();
        if ready == list.items.len() && ready > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "launches not Ready after 2 minutes; see {}",
            dir.join("controller.log").display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig,
            "get",
            "launches",
            "-A",
            "-o",
            "wide",
        ])
        .status();
    println!(
        "\nUp in {:.0?}. Try it:\n  export KUBECONFIG={kubeconfig}\n  kubectl describe launch checkout-v2\n  \
         kubectl edit launch checkout-v2      # change a weight, watch status.observedGeneration\n\
         The emulator answers at {emulator_url}; logs are in {}.\nPress Ctrl-C to stop everything.",
        started.elapsed(),
        dir.display()
    );
    let _ = tokio::signal::ctrl_c().await;
    println!("\nstopping");
}
