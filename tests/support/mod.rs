//! Shared fixtures of the end-to-end suites: the control plane (`control_plane.rs`), PostgreSQL
//! (`postgres.rs`), loopback ports for child processes (`ports.rs`), test
//! namespaces, and the operator's processes (emulator, controller) started from the built
//! binary, each logging to a file that failures print.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod control_plane;
pub mod ports;
pub mod postgres;

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use futures::FutureExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client, api::PostParams};

pub use control_plane::{ControlPlane, repo_root};
pub use ports::log_tail;

/// Creates a namespace with a unique name (namespaces are never deleted: nothing finalizes
/// them without a controller-manager).
pub async fn namespace(admin: &Client, prefix: &str) -> String {
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    name
}

/// Polls `check` until it returns `Some`, or fails with `what` and the last value seen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {timeout:?} waiting for {what}; last: {last}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Runs a test body; if it panics, prints the tails of `logs` before failing.
pub async fn with_logs<F: Future<Output = ()>>(logs: Vec<PathBuf>, body: F) {
    if let Err(panic) = std::panic::AssertUnwindSafe(body).catch_unwind().await {
        for log in logs {
            eprintln!("--- {} ---\n{}", log.display(), log_tail(&log, 60));
        }
        eprintln!("{}", ControlPlane::shared().logs());
        std::panic::resume_unwind(panic);
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_launch-operator")
}

/// A process of the operator's binary, killed when dropped.
pub struct Process {
    pub child: Option<Child>,
    pub log: PathBuf,
    pub port: u16,
    pub args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Process {
    /// Starts the binary with `args(port)` on a free port of its own (again on another when
    /// it lost the port to another process), and waits until it listens there.
    fn start(log: &Path, args: impl Fn(u16) -> Vec<String>, env: &[(String, String)]) -> Process {
        let (process, _) = ports::with_free_ports("launch-operator", 1, |ports| {
            Process::spawn(log, &args(ports[0]), env, ports[0])
        });
        process
    }

    /// Starts the binary with `args`, and waits until it listens on `port`; `Err` if it
    /// exited first.
    fn spawn(
        log: &Path,
        args: &[String],
        env: &[(String, String)],
        port: u16,
    ) -> Result<Process, String> {
        let mut command = Command::new(binary());
        command.args(args).envs(env.iter().cloned());
        let child = ports::spawn_listening(command, &[port], log, Duration::from_secs(30))?;
        Ok(Process {
            child: Some(child),
            log: log.to_path_buf(),
            port,
            args: args.to_vec(),
            env: env.to_vec(),
        })
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait (at most 30 s) for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("process running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!(
                    "no exit within 30 s of SIGTERM:\n{}",
                    log_tail(&self.log, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the same command again (same port, same data); panics if the port was taken
    /// in the meantime.
    pub fn restart(&mut self) {
        self.kill();
        let mut p = Process::spawn(&self.log, &self.args, &self.env, self.port)
            .unwrap_or_else(|e| panic!("restart on port {}: {e}", self.port));
        self.child = p.child.take();
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn wait_healthy(&self) {
        let url = format!("{}/healthz", self.url());
        let log = self.log.clone();
        eventually(&format!("{url} to answer"), Duration::from_secs(30), || {
            let url = url.clone();
            let log = log.clone();
            async move {
                match http_get(&url).await {
                    Ok((200, _)) => Ok(()),
                    other => Err(format!("{other:?}\n{}", log_tail(&log, 20))),
                }
            }
        })
        .await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP GET on loopback: (status, body).
pub async fn http_get(url: &str) -> Result<(u16, String), String> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let response = client.get(uri).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The Evidently operations that change something.
pub const MUTATING_OPERATIONS: &[&str] = &[
    "CreateProject",
    "UpdateProject",
    "UpdateProjectDataDelivery",
    "DeleteProject",
    "CreateFeature",
    "UpdateFeature",
    "DeleteFeature",
    "CreateSegment",
    "DeleteSegment",
    "CreateLaunch",
    "UpdateLaunch",
    "DeleteLaunch",
    "StartLaunch",
    "StopLaunch",
    "TagResource",
    "UntagResource",
];

/// Requests the emulator has answered for `operation`, from its `/metrics`.
pub async fn emulator_calls(emulator: &Process, operation: &str) -> f64 {
    let text = metrics_text(emulator).await;
    metric_sum(
        &text,
        "evidently_emulator_requests_total",
        &format!("operation=\"{operation}\""),
    )
}

/// Reconcile passes of `kind` the controller has finished (any outcome), from its `/metrics`.
pub async fn controller_passes(controller: &Process, kind: &str) -> f64 {
    let text = metrics_text(controller).await;
    metric_sum(
        &text,
        "launch_operator_reconciles_total",
        &format!("kind=\"{kind}\""),
    )
}

/// The `/metrics` page of a process (the emulator's, or the controller's admin endpoint).
pub async fn metrics_text(process: &Process) -> String {
    let url = format!("{}/metrics", process.url());
    match http_get(&url).await {
        Ok((200, text)) => text,
        other => panic!("{url}: {other:?}"),
    }
}

/// The sum of the samples of `name` whose labels include `label` (`key="value"`).
pub fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Mutating requests ([`MUTATING_OPERATIONS`]) the emulator has answered.
pub async fn emulator_mutating_calls(emulator: &Process) -> f64 {
    let mut total = 0.0;
    for op in MUTATING_OPERATIONS {
        total += emulator_calls(emulator, op).await;
    }
    total
}

/// The value of a Prometheus sample (`name{labels}` exactly as exposed), 0 if absent.
pub fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(sample).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn scratch(name: &str) -> PathBuf {
    let dir = ControlPlane::shared().dir.join(format!(
        "{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The access key every test client and the controller sign with (`evidently_client`,
/// `start_controller`): the emulators of the suites check signatures, as the overlays do.
pub const TEST_KEYS: &str =
    "keys:\n  - {name: tests, accessKeyId: test, secretAccessKey: test, allow: ['evidently:*']}\n";

/// Starts the emulator on a free port with a fresh data directory, checking signatures against
/// [`TEST_KEYS`].
pub async fn start_emulator(extra: &[&str]) -> Process {
    start_emulator_with_keys(TEST_KEYS, extra).await
}

/// Starts the emulator checking signatures against the key file `keys` (YAML).
pub async fn start_emulator_with_keys(keys: &str, extra: &[&str]) -> Process {
    let dir = scratch("emulator-keys");
    let path = dir.join("keys.yaml");
    std::fs::write(&path, keys).unwrap();
    let mut args = vec![
        "--auth=sigv4".to_string(),
        format!("--auth-keys={}", path.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start_emulator_unsigned(&args).await
}

/// Starts the emulator on a free port with a fresh data directory; with no `--auth` in
/// `extra` it takes unsigned requests.
pub async fn start_emulator_unsigned(extra: &[&str]) -> Process {
    start_emulator_in(&scratch("emulator"), extra).await
}

/// Starts the emulator on a free port with its data and log in `dir`; with no `--auth` in
/// `extra` it takes unsigned requests.
pub async fn start_emulator_in(dir: &Path, extra: &[&str]) -> Process {
    let data = format!("--data-dir={}", dir.join("data").display());
    let args = |port: u16| {
        let mut args = vec![
            "emulator".to_string(),
            format!("--listen=127.0.0.1:{port}"),
            data.clone(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let p = Process::start(
        &dir.join("emulator.log"),
        args,
        &[("RUST_LOG".into(), "info".into())],
    );
    p.wait_healthy().await;
    p
}

/// Starts the controller with the operator ServiceAccount's kubeconfig (the RBAC of `deploy/`).
pub async fn start_controller(emulator_url: &str, namespace: &str, extra: &[&str]) -> Process {
    let mut args = vec![
        format!("--namespaces={namespace}"),
        format!("--evidently-endpoint={emulator_url}"),
        "--resync-interval=2s".into(),
    ];
    if !extra.iter().any(|a| a.starts_with("--leader-election=")) {
        args.push("--leader-election=false".into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    start_controller_as(&args, "info,launch_operator=debug", ("test", "test")).await
}

/// Starts the controller like [`start_controller`] but without its test defaults: the
/// arguments are `--evidently-endpoint`, `--admin-listen` and exactly `args`, so namespaces
/// (all), resync interval, concurrency and leader election are the binary's own defaults
/// unless given; logs are filtered with `rust_log`. For benchmarks, which want release settings.
pub async fn start_controller_with(emulator_url: &str, args: &[&str], rust_log: &str) -> Process {
    let mut all = vec![format!("--evidently-endpoint={emulator_url}")];
    all.extend(args.iter().map(|s| s.to_string()));
    start_controller_as(&all, rust_log, ("test", "test")).await
}

/// Starts the controller like [`start_controller`], signing its Evidently calls with
/// `(access key id, secret)`.
pub async fn start_controller_with_credentials(
    emulator_url: &str,
    namespace: &str,
    credentials: (&str, &str),
) -> Process {
    let args = vec![
        format!("--namespaces={namespace}"),
        format!("--evidently-endpoint={emulator_url}"),
        "--resync-interval=2s".into(),
        "--leader-election=false".into(),
    ];
    start_controller_as(&args, "info,launch_operator=debug", credentials).await
}

/// Starts `controller` with `args` and its admin endpoints on a free port.
async fn start_controller_as(
    args: &[String],
    rust_log: &str,
    (id, secret): (&str, &str),
) -> Process {
    let cp = ControlPlane::shared();
    let dir = scratch("controller");
    let env = vec![
        (
            "KUBECONFIG".to_string(),
            cp.operator_kubeconfig.display().to_string(),
        ),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), id.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), secret.into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("RUST_LOG".into(), rust_log.into()),
    ];
    let args = |port: u16| {
        let mut all = vec![
            "controller".to_string(),
            format!("--admin-listen=127.0.0.1:{port}"),
        ];
        all.extend(args.iter().cloned());
        all
    };
    let p = Process::start(&dir.join("controller.log"), args, &env);
    p.wait_healthy().await;
    p
}

/// An `aws-sdk-evidently` client for an emulator.
pub fn evidently_client(url: &str) -> aws_sdk_evidently::Client {
    aws_sdk_evidently::Client::from_conf(evidently_config(url).build())
}

/// The configuration of [`evidently_client`] (the [`TEST_KEYS`] key), to add to.
pub fn evidently_config(url: &str) -> aws_sdk_evidently::config::Builder {
    aws_sdk_evidently::Config::builder()
        .behavior_version(aws_sdk_evidently::config::BehaviorVersion::latest())
        .region(aws_sdk_evidently::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_evidently::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .endpoint_url(url)
}

/// An event as the tests look at it.
#[derive(Debug, Clone)]
pub struct SeenEvent {
    /// `Normal` or `Warning`.
    pub type_: String,
    pub reason: String,
    pub note: String,
}

/// The `events.k8s.io/v1` Events in `ns`.
pub async fn events(admin: &Client, ns: &str) -> Vec<SeenEvent> {
    Api::<k8s_openapi::api::events::v1::Event>::namespaced(admin.clone(), ns)
        .list(&kube::api::ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| SeenEvent {
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            note: e.note.unwrap_or_default(),
        })
        .collect()
}

/// Waits (up to a minute) for an event with `reason` in `ns`: events are written off the
/// reconcile path, so they may follow the status by a moment. Returns every event seen then.
pub async fn wait_event(admin: &Client, ns: &str, reason: &str) -> Vec<SeenEvent> {
    eventually(
        &format!("a {reason} event"),
        Duration::from_secs(60),
        || async {
            let seen = events(admin, ns).await;
            if seen.iter().any(|e| e.reason == reason) {
                Ok(seen)
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await
}

/// Every document of `examples/<file>`, placed in namespace `ns`.
pub fn example_documents(file: &str, ns: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo_root().join("examples").join(file))
        .unwrap_or_else(|e| panic!("examples/{file}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let yaml = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("examples/{file}: {e}"));
            let mut v = serde_json::to_value(yaml).unwrap();
            v["metadata"]["namespace"] = serde_json::json!(ns);
            v
        })
        .filter(|v| v.is_object())
        .collect()
}

/// The API resource of one of the operator's kinds (`Project`, `Feature`, `Segment`, `Launch`).
pub fn kind_resource(kind: &str) -> kube::core::ApiResource {
    use launch_operator::crd::{Feature, Launch, Project, Segment};
    match kind {
        "Project" => kube::core::ApiResource::erase::<Project>(&()),
        "Feature" => kube::core::ApiResource::erase::<Feature>(&()),
        "Segment" => kube::core::ApiResource::erase::<Segment>(&()),
        "Launch" => kube::core::ApiResource::erase::<Launch>(&()),
        other => panic!("not a kind of this operator: {other}"),
    }
}

/// The API of the operator's kind named in `doc`.
pub fn kind_api(
    client: &Client,
    ns: &str,
    doc: &serde_json::Value,
) -> Api<kube::api::DynamicObject> {
    let resource = kind_resource(doc["kind"].as_str().unwrap_or_default());
    Api::namespaced_with(client.clone(), ns, &resource)
}

fn name_of(doc: &serde_json::Value) -> String {
    doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Server-side apply of one manifest of the operator's kinds.
pub async fn apply_document(client: &Client, ns: &str, doc: &serde_json::Value) {
    kind_api(client, ns, doc)
        .patch(
            &name_of(doc),
            &kube::api::PatchParams::apply("e2e"),
            &kube::api::Patch::Apply(doc),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {} {}: {e}", doc["kind"], name_of(doc)));
}

pub async fn delete_document(client: &Client, ns: &str, doc: &serde_json::Value) {
    kind_api(client, ns, doc)
        .delete(&name_of(doc), &kube::api::DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("delete {} {}: {e}", doc["kind"], name_of(doc)));
}

/// Waits until every manifest's object reports Ready=True for its current generation.
pub async fn wait_documents_ready(client: &Client, ns: &str, docs: &[serde_json::Value]) {
    eventually("every resource Ready", Duration::from_secs(90), || async {
        for doc in docs {
            let o = kind_api(client, ns, doc)
                .get(&name_of(doc))
                .await
                .map_err(|e| e.to_string())?;
            let current = o.data["status"]["observedGeneration"].as_i64() == o.metadata.generation;
            let ready = o.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            if !(current && ready) {
                return Err(format!(
                    "{} {}: {}",
                    doc["kind"],
                    name_of(doc),
                    o.data["status"]
                ));
            }
        }
        Ok(())
    })
    .await
}

/// Waits until none of the manifests' objects exists any more.
pub async fn wait_documents_gone(client: &Client, ns: &str, docs: &[serde_json::Value]) {
    eventually("every resource gone", Duration::from_secs(90), || async {
        for doc in docs {
            if kind_api(client, ns, doc)
                .get_opt(&name_of(doc))
                .await
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Err(format!("{} {} still there", doc["kind"], name_of(doc)));
            }
        }
        Ok(())
    })
    .await
}
