//! The install on a real node: the project's image (built here without a daemon from the release
//! binary, `tools/cluster/image.sh`), run by a kubelet with containerd and runc in a single-node
//! cluster (`tools/cluster/up.sh`: kube-apiserver, etcd, kube-controller-manager,
//! kube-scheduler, kube-proxy, CNI bridge networking, CoreDNS, a static local PersistentVolume).
//!
//! It installs the way the README says (`deploy/overlays/emulator/create-keys.sh`, then
//! `kubectl apply -k` of the overlay, the image set with kustomize's `images:`), and checks what
//! only a real node shows: the emulator's pod Running with its volume (SQLite on a read-only
//! root filesystem, the volume's group from `fsGroup`), the controller Ready as the lease holder
//! through its mounted ServiceAccount token, the example resources Ready through the emulator's
//! Service name (cluster DNS, kube-proxy), the security context and limits as the kernel applies
//! them, a killed controller container restarted without re-creating anything, a rollout of the
//! controller finishing (the new pod takes the lease), a deleted emulator pod rescheduled with
//! its data, and `kubectl delete -k` removing the install.
//!
//! It needs root, the Debian packages containerd, runc, containernetworking-plugins, iptables,
//! conntrack and umoci, and Go (for the node's binaries); a missing one fails with how to get it.
//! The node is torn down (`tools/cluster/down.sh`) when the test ends, however it ends. The
//! image is compared with the Dockerfile's runtime stage here too, so the two cannot drift.

mod support;

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use support::{control_plane::client_from, eventually, repo_root};

/// The cluster of this test; `tools/cluster/down.sh` ends it when dropped (and a watchdog ends
/// it if this process dies without unwinding).
struct Node {
    dir: PathBuf,
    bin: PathBuf,
    kubeconfig: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_CLUSTER").is_some() {
            eprintln!("KEEP_CLUSTER: node left up in {}", self.dir.display());
            return;
        }
        let _ = Command::new(repo_root().join("tools/cluster/down.sh"))
            .arg(&self.dir)
            .status();
    }
}

/// Runs `script` (a build script that prints a directory as its last line) unless `env` names one.
fn built_dir(env: &str, script: &str, how: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(env) {
        return PathBuf::from(dir);
    }
    let out = Command::new("bash")
        .arg(repo_root().join(script))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed (output above): {how}; or set {env}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}

/// The release binary, built (or found up to date) with the command the Dockerfile uses.
fn release_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // The variables cargo sets for this test (CARGO_PKG_*, CARGO_MANIFEST_*, ...) would make some
    // build scripts rerun, and so rebuild what `cargo build --release` in a shell built already.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            build.env_remove(key);
        }
    }
    let status = build
        .args(["build", "--release", "--locked", "--bin", "launch-operator"])
        .current_dir(repo_root())
        .status()
        .expect("run cargo build --release");
    assert!(
        status.success(),
        "cargo build --release --locked --bin launch-operator failed"
    );
    // <target>/debug/deps/e2e_node-<hash> -> <target>/release/launch-operator
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).expect("target directory");
    let binary = target.join("release/launch-operator");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// `tools/cluster/image.sh operator BINARY`: the image reference and its OCI archive.
fn operator_image(binary: &Path) -> (String, PathBuf) {
    let out = Command::new(repo_root().join("tools/cluster/image.sh"))
        .arg("operator")
        .arg(binary)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tools/cluster/image.sh");
    assert!(
        out.status.success(),
        "tools/cluster/image.sh failed (output above); it needs umoci: apt-get install umoci"
    );
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let (reference, archive) = line.split_once(' ').expect("REF ARCHIVE");
    (reference.to_string(), PathBuf::from(archive))
}

/// Ends the node with down.sh once this process has exited, however it exits.
fn spawn_watchdog(dir: &Path) {
    let cleanup = format!(
        "[ -n \"$KEEP_CLUSTER\" ] || '{down}' '{dir}'",
        down = repo_root().join("tools/cluster/down.sh").display(),
        dir = dir.display(),
    );
    support::control_plane::after_exit(&cleanup, "the node watchdog");
}

fn start_node(images: &[(String, PathBuf)]) -> (Node, Duration) {
    assert!(
        nix_is_root(),
        "the node test needs root (network namespace, mounts, cgroups)"
    );
    let assets = built_dir(
        "KUBEBUILDER_ASSETS",
        "tools/control-plane/build.sh",
        "it builds kube-apiserver and etcd with Go >= 1.26",
    );
    let bin = built_dir(
        "NODE_BIN",
        "tools/cluster/build.sh",
        "it builds the kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl and CoreDNS with Go >= 1.26",
    );
    let dir = std::env::temp_dir().join(format!(
        "lo-node-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    spawn_watchdog(&dir);
    let images: Vec<String> = images
        .iter()
        .map(|(reference, archive)| {
            let base = reference.rsplit_once(':').unwrap().0;
            format!("{}:{base}", archive.display())
        })
        .collect();
    let started = Instant::now();
    let status = Command::new(repo_root().join("tools/cluster/up.sh"))
        .env("CLUSTER_DIR", &dir)
        .env("KUBEBUILDER_ASSETS", &assets)
        .env("NODE_BIN", &bin)
        .env("IMAGES", images.join(" "))
        .status()
        .expect("run tools/cluster/up.sh");
    assert!(
        status.success(),
        "tools/cluster/up.sh failed (output above)"
    );
    let node = Node {
        kubeconfig: dir.join("admin.kubeconfig"),
        dir,
        bin,
    };
    (node, started.elapsed())
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl Node {
    /// The node's kubectl (the cluster's version) as admin, with the node's kubectl first on PATH
    /// for scripts that call `kubectl` themselves.
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        let path = std::env::var("PATH").unwrap_or_default();
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("PATH", format!("{}:{path}", self.bin.display()));
        c
    }

    fn try_kubectl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(&self.bin.join("kubectl"))
            .args(args)
            .output()
            .expect("run kubectl");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        self.try_kubectl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.try_kubectl(&all)?;
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
    }

    /// `ctr` against the node's containerd.
    fn ctr(&self, args: &[&str]) -> String {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.dir.join("containerd/containerd.sock"))
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
            .expect("run ctr");
        assert!(
            out.status.success(),
            "ctr {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The emulator's Prometheus text, through the API server's Service proxy.
    fn emulator_metrics(&self) -> Result<String, String> {
        self.try_kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/launch-operator/services/http:evidently-emulator:metrics/proxy/metrics",
        ])
    }

    fn emulator_calls(&self, operation: &str) -> Result<f64, String> {
        let text = self.emulator_metrics()?;
        let series = format!("operation=\"{operation}\"");
        Ok(text
            .lines()
            .filter(|l| l.starts_with("evidently_emulator_requests_total") && l.contains(&series))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum())
    }

    fn dump(&self) {
        for args in [
            &["get", "pods,pvc,pv,events", "-A", "-o", "wide"][..],
            &[
                "-n",
                "launch-operator",
                "logs",
                "-l",
                "app.kubernetes.io/component=controller",
                "--tail=40",
            ],
            &[
                "-n",
                "launch-operator",
                "logs",
                "-l",
                "app.kubernetes.io/component=emulator",
                "--tail=40",
            ],
        ] {
            eprintln!(
                "--- kubectl {} ---\n{}",
                args.join(" "),
                self.try_kubectl(args).unwrap_or_else(|e| e)
            );
        }
        for log in ["kubelet", "containerd"] {
            let path = self.dir.join("logs").join(format!("{log}.log"));
            eprintln!(
                "--- {} ---\n{}",
                path.display(),
                support::log_tail(&path, 40)
            );
        }
    }
}

/// One pod of the install by its component label, once it is Running and Ready.
fn ready_pod(node: &Node, component: &str) -> Result<Value, String> {
    let list = node.json(&[
        "-n",
        "launch-operator",
        "get",
        "pods",
        "-l",
        &format!("app.kubernetes.io/component={component}"),
    ])?;
    let pods: Vec<&Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    let [pod] = pods[..] else {
        return Err(format!("{} {component} pods", pods.len()));
    };
    let ready = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    if pod["status"]["phase"] == "Running" && ready {
        Ok(pod.clone())
    } else {
        Err(format!("{component} pod: {}", pod["status"]))
    }
}

/// The containerd id of a pod's only container.
fn container_id(pod: &Value) -> String {
    pod["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .and_then(|id| id.strip_prefix("containerd://"))
        .expect("containerd:// container id")
        .to_string()
}

fn restart_count(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap_or(0)
}

/// The host pid of a container's main process.
fn container_pid(node: &Node, id: &str) -> u32 {
    node.ctr(&["tasks", "ls"])
        .lines()
        .find(|l| l.starts_with(id))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no running task {id}"))
}

/// What the kernel applies to a container's process: its user, capabilities, no-new-privileges,
/// seccomp, a read-only root filesystem and the memory limit of its cgroup.
fn assert_confined(pid: u32, memory_limit: u64, what: &str) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        field("Uid").split_whitespace().collect::<Vec<_>>(),
        ["65532"; 4],
        "{what}: uid"
    );
    assert_eq!(
        field("Gid").split_whitespace().next(),
        Some("65532"),
        "{what}: gid"
    );
    assert_eq!(field("CapEff"), "0000000000000000", "{what}: capabilities");
    assert_eq!(field("CapBnd"), "0000000000000000", "{what}: bounding set");
    assert_eq!(field("NoNewPrivs"), "1", "{what}: no_new_privs");
    assert_eq!(
        field("Seccomp"),
        "2",
        "{what}: seccomp filter (RuntimeDefault)"
    );

    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root = mountinfo
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(4) == Some(&"/"))
        .expect("root mount");
    assert!(
        root[5].split(',').any(|o| o == "ro"),
        "{what}: root filesystem mounted {}",
        root[5]
    );

    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let memory = cgroup
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .expect("memory cgroup");
    let limit: u64 = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes"
    ))
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert_eq!(limit, memory_limit, "{what}: memory limit of {memory}");
}

/// The Dockerfile's runtime stage (the last `FROM`): USER, ENTRYPOINT and CMD as written.
fn dockerfile_runtime() -> (String, Value, Value) {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let stage = text.rsplit("\nFROM ").next().unwrap();
    let value = |key: &str| {
        stage
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in the Dockerfile's runtime stage"))
            .trim()
            .to_string()
    };
    let json = |key: &str| -> Value {
        serde_json::from_str(&value(key))
            .unwrap_or_else(|e| panic!("{key} must use the exec (JSON) form: {e}"))
    };
    assert!(
        stage.starts_with("gcr.io/distroless/cc-debian12:nonroot"),
        "the runtime stage changed its base ({}); tools/cluster/image.sh copies what \
         distroless cc-debian12:nonroot provides",
        stage.lines().next().unwrap_or_default()
    );
    (value("USER"), json("ENTRYPOINT"), json("CMD"))
}

/// The config and the file list of the image in an OCI archive.
fn image_contents(archive: &Path) -> (Value, Vec<(String, u32, u32)>) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let blob = |digest: &str| {
        dir.path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let read = |digest: &str| -> Value {
        serde_json::from_slice(&std::fs::read(blob(digest)).unwrap()).unwrap()
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let config = read(manifest["config"]["digest"].as_str().unwrap());
    let mut files = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let out = Command::new("tar")
            .arg("--numeric-owner")
            .arg("-tvzf")
            .arg(blob(layer["digest"].as_str().unwrap()))
            .output()
            .unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (uid, gid) = f[1].split_once('/').unwrap();
            files.push((
                f[5].trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_string(),
                uid.parse().unwrap(),
                gid.parse().unwrap(),
            ));
        }
    }
    (config, files)
}

/// The test image declares what the Dockerfile's runtime stage declares, and holds what
/// distroless nonroot holds for the binary: its libraries, CA certificates, user 65532, no shell.
fn assert_image_matches_dockerfile(archive: &Path) {
    let (user, entrypoint, cmd) = dockerfile_runtime();
    let (config, files) = image_contents(archive);
    let c = &config["config"];
    assert_eq!(c["User"], user, "USER");
    assert_eq!(c["Entrypoint"], entrypoint, "ENTRYPOINT");
    assert_eq!(c["Cmd"], cmd, "CMD");
    assert_eq!(config["os"], "linux");
    let has = |path: &str| files.iter().any(|(p, _, _)| p == path);
    for path in [
        "usr/local/bin/launch-operator",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "etc/group",
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
    ] {
        assert!(has(path), "the image lacks {path}");
    }
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"] {
        assert!(!has(shell), "the image has a shell: {shell}");
    }
    assert!(
        files
            .iter()
            .all(|(p, uid, _)| *uid == 0 || p == "home/nonroot"),
        "only the home of nonroot belongs to another user than root"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_install_runs_on_a_real_node() {
    let binary = release_binary();
    let image = operator_image(&binary);
    assert_image_matches_dockerfile(&image.1);

    let (node, startup) = start_node(std::slice::from_ref(&image));
    println!("node up in {startup:?}");
    let body = std::panic::AssertUnwindSafe(install_and_operate(&node, &image.0));
    if let Err(panic) = futures::FutureExt::catch_unwind(body).await {
        node.dump();
        std::panic::resume_unwind(panic);
    }
}

/// `target` as a path relative to `from` (kustomize refuses absolute resource paths); both
/// absolute.
fn relative_to(from: &Path, target: &Path) -> String {
    let up = "../".repeat(from.components().count() - 1);
    format!("{up}{}", target.strip_prefix("/").unwrap().display())
}

async fn install_and_operate(node: &Node, image: &str) {
    let (image_name, image_tag) = image.rsplit_once(':').unwrap();

    // The install as the README says: the keys first, then the overlay (here referenced from a
    // temporary overlay that only sets the image, as `kustomize edit set image` would).
    let overlay = tempfile::tempdir().unwrap();
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\n\
             images:\n  - name: launch-operator\n    newName: {image_name}\n    newTag: {image_tag}\n",
            relative_to(overlay.path(), &repo_root().join("deploy/overlays/emulator"))
        ),
    )
    .unwrap();
    let overlay_dir = overlay.path().to_str().unwrap();
    let keys = node
        .command(&repo_root().join("deploy/overlays/emulator/create-keys.sh"))
        .output()
        .expect("run create-keys.sh");
    assert!(
        keys.status.success(),
        "create-keys.sh: {}",
        String::from_utf8_lossy(&keys.stderr)
    );
    let applied = Instant::now();
    node.kubectl(&["apply", "-k", overlay_dir]);

    // The emulator: Running and Ready, its claim bound to the node's volume, its SQLite file on
    // it with the pod's fsGroup.
    let emulator = eventually("emulator pod Ready", Duration::from_secs(120), || async {
        ready_pod(node, "emulator")
    })
    .await;
    let pvc = node
        .json(&[
            "-n",
            "launch-operator",
            "get",
            "pvc",
            "data-evidently-emulator-0",
        ])
        .unwrap();
    assert_eq!(pvc["status"]["phase"], "Bound");
    assert_eq!(pvc["spec"]["volumeName"], "emulator-data");

    // The controller: Ready (it reports ready only as the lease holder) and holding the lease.
    let controller = eventually("controller pod Ready", Duration::from_secs(120), || async {
        ready_pod(node, "controller")
    })
    .await;
    let controller_name = controller["metadata"]["name"].as_str().unwrap().to_string();
    let lease = node
        .json(&["-n", "launch-operator", "get", "leases"])
        .unwrap();
    let holders: Vec<&str> = lease["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["spec"]["holderIdentity"].as_str())
        .collect();
    assert!(
        holders.iter().any(|h| h.contains(&controller_name)),
        "lease holders {holders:?}, controller pod {controller_name}"
    );
    node.kubectl(&[
        "-n",
        "launch-operator",
        "wait",
        "--for=condition=Available",
        "deployment/launch-operator",
        "--timeout=60s",
    ]);

    // Probes, security context and limits as the kernel applies them.
    let emulator_pid = container_pid(node, &container_id(&emulator));
    assert_confined(emulator_pid, 256 << 20, "emulator");
    assert_confined(
        container_pid(node, &container_id(&controller)),
        256 << 20,
        "controller",
    );

    // The examples, Ready through the in-cluster Service (cluster DNS and kube-proxy).
    let admin = client_from(&node.kubeconfig).await;
    node.kubectl(&["create", "namespace", "shop"]);
    let mut docs = Vec::new();
    for file in [
        "project.yaml",
        "features.yaml",
        "segments.yaml",
        "checkout-rollout.yaml",
    ] {
        docs.extend(support::example_documents(file, "shop"));
    }
    for doc in &docs {
        support::apply_document(&admin, "shop", doc).await;
    }
    support::wait_documents_ready(&admin, "shop", &docs).await;
    let to_ready = applied.elapsed();
    println!("kubectl apply -k -> every example Ready (Launch included): {to_ready:?}");

    // The emulator's data lives on the volume, with the pod's group (fsGroup).
    let data = node.dir.join("pv/emulator-data");
    let entries: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
    assert!(!entries.is_empty(), "nothing written to {}", data.display());
    for e in &entries {
        assert_eq!(
            e.metadata().unwrap().gid(),
            65532,
            "{} group",
            e.path().display()
        );
    }

    let launch = || async { node.json(&["-n", "shop", "get", "launch", "checkout-v2"]) };
    let before = launch().await.unwrap();
    let arn = before["status"]["arn"].as_str().unwrap().to_string();
    let created = before["status"]["createdTime"].clone();
    let creates = |node: &Node| -> f64 {
        [
            "CreateProject",
            "CreateFeature",
            "CreateSegment",
            "CreateLaunch",
        ]
        .iter()
        .map(|op| node.emulator_calls(op).unwrap())
        .sum()
    };
    let creates_before = creates(node);
    assert!(creates_before >= docs.len() as f64);
    assert_eq!(restart_count(&emulator), 0, "emulator restarted (liveness)");
    assert_eq!(
        restart_count(&controller),
        0,
        "controller restarted (liveness)"
    );

    // The controller container killed: the kubelet restarts it, it takes the lease again, and
    // its first pass reads what exists and creates nothing.
    let gets_before = node.emulator_calls("GetLaunch").unwrap();
    node.ctr(&["tasks", "kill", "-s", "SIGKILL", &container_id(&controller)]);
    eventually(
        "controller restarted and Ready",
        Duration::from_secs(120),
        || async {
            let pod = ready_pod(node, "controller")?;
            if restart_count(&pod) >= 1 {
                Ok(())
            } else {
                Err(format!("restartCount {}", restart_count(&pod)))
            }
        },
    )
    .await;
    eventually(
        "the restarted controller's pass",
        Duration::from_secs(60),
        || async {
            let gets = node.emulator_calls("GetLaunch")?;
            if gets > gets_before {
                Ok(())
            } else {
                Err(format!("GetLaunch {gets}"))
            }
        },
    )
    .await;
    support::wait_documents_ready(&admin, "shop", &docs).await;
    assert_eq!(creates(node), creates_before, "something was created again");
    let after = launch().await.unwrap();
    assert_eq!(after["status"]["arn"], arn.as_str());
    assert_eq!(after["status"]["createdTime"], created);

    // A rollout of the controller (what an image upgrade does) finishes: the old pod goes, the
    // new one takes the lease and becomes ready, and it too creates nothing.
    node.kubectl(&[
        "-n",
        "launch-operator",
        "rollout",
        "restart",
        "deployment/launch-operator",
    ]);
    node.kubectl(&[
        "-n",
        "launch-operator",
        "rollout",
        "status",
        "deployment/launch-operator",
        "--timeout=120s",
    ]);
    let rolled = eventually(
        "the new controller pod Ready",
        Duration::from_secs(60),
        || async {
            let pod = ready_pod(node, "controller")?;
            if pod["metadata"]["name"] != controller["metadata"]["name"] {
                Ok(pod)
            } else {
                Err("the old pod".to_string())
            }
        },
    )
    .await;
    let new_name = rolled["metadata"]["name"].as_str().unwrap();
    eventually(
        "the new pod holding the lease",
        Duration::from_secs(60),
        || async {
            let lease = node.json(&["-n", "launch-operator", "get", "lease", "launch-operator"])?;
            let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or_default();
            if holder.contains(new_name) {
                Ok(())
            } else {
                Err(format!("holder {holder}"))
            }
        },
    )
    .await;
    support::wait_documents_ready(&admin, "shop", &docs).await;
    assert_eq!(
        creates(node),
        creates_before,
        "the rollout created something again"
    );

    // The emulator pod deleted: the StatefulSet reschedules it on the same claim, and the launch
    // is still there: a spec change is an update of the same launch, not a creation.
    let old_uid = emulator["metadata"]["uid"].clone();
    node.kubectl(&[
        "-n",
        "launch-operator",
        "delete",
        "pod",
        "evidently-emulator-0",
    ]);
    eventually(
        "emulator rescheduled and Ready",
        Duration::from_secs(120),
        || async {
            let pod = ready_pod(node, "emulator")?;
            if pod["metadata"]["uid"] != old_uid {
                Ok(())
            } else {
                Err("the old pod".to_string())
            }
        },
    )
    .await;
    node.kubectl(&[
        "-n",
        "shop",
        "patch",
        "launch",
        "checkout-v2",
        "--type=merge",
        "-p",
        r#"{"spec":{"description":"Gradual roll-out of the redesigned checkout (after a move)"}}"#,
    ]);
    support::wait_documents_ready(&admin, "shop", &docs).await;
    let moved = launch().await.unwrap();
    assert_eq!(moved["status"]["arn"], arn.as_str());
    assert_eq!(moved["status"]["createdTime"], created);
    assert_eq!(
        node.emulator_calls("CreateLaunch").unwrap(),
        0.0,
        "the rescheduled emulator was asked to create the launch again: its data was lost"
    );
    assert!(node.emulator_calls("UpdateLaunch").unwrap() >= 1.0);

    // Uninstall: the resources first (the controller removes them from the emulator and drops
    // its finalizers), then `kubectl delete -k` removes everything it applied.
    for doc in &docs {
        support::delete_document(&admin, "shop", doc).await;
    }
    support::wait_documents_gone(&admin, "shop", &docs).await;
    node.kubectl(&["delete", "-k", overlay_dir, "--timeout=120s"]);
    eventually("the install removed", Duration::from_secs(120), || async {
        let left = node.try_kubectl(&[
            "get",
            "namespace/launch-operator",
            "crd/launches.evidently.launch-operator.io",
            "clusterrole/launch-operator",
            "--ignore-not-found",
            "-o",
            "name",
        ])?;
        if left.trim().is_empty() {
            Ok(())
        } else {
            Err(left)
        }
    })
    .await;
}
