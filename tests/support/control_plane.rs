//! A real kube-apiserver + etcd for the end-to-end suites, started the way controller-runtime's
//! envtest does: binaries from `KUBEBUILDER_ASSETS` (or built by `tools/control-plane/build.sh`),
//! free loopback ports, certificates generated here, RBAC authorization on.
//!
//! One control plane per test binary (tests share it and use their own namespaces). A watchdog
//! process ends etcd and kube-apiserver by pid when the test binary exits, however it exits.
//! It deliberately runs no controller-manager or scheduler: no garbage collection, no pods.
//!
//! Any supported Kubernetes version runs here (`KUBEBUILDER_ASSETS` of another version, built
//! with `K8S_VERSION=... tools/control-plane/build.sh`). What differs by version is discovered,
//! not assumed from the version number: the finalizer admission policy is installed only where
//! the server serves `admissionregistration.k8s.io/v1` MutatingAdmissionPolicy, and
//! [`ControlPlane::serves_admission_policy`] tells the tests which verdict to expect.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use super::ports::{self, log_tail};
use base64::Engine as _;
use k8s_openapi::{
    api::{
        authentication::v1::TokenRequest,
        core::v1::{Namespace, ServiceAccount},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, Config, ResourceExt,
    api::{DynamicObject, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::GroupVersionKind,
    discovery::{ApiCapabilities, ApiResource, Discovery, Scope},
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// Namespace and ServiceAccount of the operator, as in `deploy/`.
pub const OPERATOR_NAMESPACE: &str = "launch-operator";
pub const OPERATOR_SA: &str = "launch-operator";

pub struct ControlPlane {
    pub dir: PathBuf,
    pub server: String,
    /// Kubeconfig of `admin` (system:masters).
    pub admin_kubeconfig: PathBuf,
    /// Kubeconfig of the operator's ServiceAccount (token from TokenRequest), with exactly the
    /// RBAC of `deploy/`.
    pub operator_kubeconfig: PathBuf,
    pub startup: Duration,
    /// The server's `gitVersion`, e.g. `v1.30.14`.
    pub version: String,
    /// The server's minor version, e.g. 30.
    pub minor: u32,
    /// Whether the server serves `admissionregistration.k8s.io/v1` MutatingAdmissionPolicy
    /// (Kubernetes 1.36+); the finalizer policy of `deploy/components/finalizer-at-admission`
    /// is installed if and only if it does.
    pub serves_admission_policy: bool,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where kube-apiserver and etcd are: `$KUBEBUILDER_ASSETS`, else what the build script makes.
fn assets() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS") {
        let dir = PathBuf::from(dir);
        for bin in ["kube-apiserver", "etcd"] {
            assert!(
                dir.join(bin).is_file(),
                "KUBEBUILDER_ASSETS={} has no {bin}; unset it to let tools/control-plane/build.sh build one",
                dir.display()
            );
        }
        return dir;
    }
    let script = repo_root().join("tools/control-plane/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {}: {e}", script.display());
        });
    assert!(
        out.status.success(),
        "{} failed (see its output above). It builds kube-apiserver and etcd with Go >= 1.26 from the \
         Go module proxy; or set KUBEBUILDER_ASSETS to a directory holding kube-apiserver and etcd.",
        script.display()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}

fn write(path: &Path, contents: impl AsRef<[u8]>) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

struct Pki {
    ca_pem: String,
}

/// Serving CA + cert (SAN localhost, 127.0.0.1), client CA + admin cert, SA signing key.
fn generate_pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "launch-operator-test-ca");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let serving_key = KeyPair::generate().unwrap();
    let mut serving =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let serving_cert = serving.signed_by(&serving_key, &ca).unwrap();
    write(&dir.join("ca.crt"), ca.pem());
    write(&dir.join("apiserver.crt"), serving_cert.pem());
    write(&dir.join("apiserver.key"), serving_key.serialize_pem());

    let admin_key = KeyPair::generate().unwrap();
    let mut admin = CertificateParams::new(Vec::<String>::new()).unwrap();
    admin.distinguished_name.push(DnType::CommonName, "admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_cert = admin.signed_by(&admin_key, &ca).unwrap();
    write(&dir.join("admin.crt"), admin_cert.pem());
    write(&dir.join("admin.key"), admin_key.serialize_pem());

    let sa_key = KeyPair::generate().unwrap();
    write(&dir.join("sa.key"), sa_key.serialize_pem());
    write(&dir.join("sa.pub"), sa_key.public_key_pem());
    Pki { ca_pem: ca.pem() }
}

fn kubeconfig_yaml(server: &str, ca_pem: &str, user: serde_json::Value) -> String {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority-data": base64_engine(ca_pem)}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user", "namespace": "default"}}],
        "current-context": "test",
    });
    serde_yaml::to_string(&config).unwrap()
}

/// Standard base64 (kubeconfig `*-data` fields).
fn base64_engine(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `program` with `args`, in a process group of its own (a Ctrl-C of the tests does not reach
/// it: the watchdog ends it).
fn command(program: &Path, args: &[String]) -> Command {
    let mut command = Command::new(program);
    command.args(args).process_group(0);
    command
}

/// Ends `pids` (TERM, then KILL) and removes `dir` once this test process has exited.
fn spawn_watchdog(pids: &[u32], dir: &Path) {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let cleanup = format!(
        "kill {pids} 2>/dev/null; sleep 2; kill -9 {pids} 2>/dev/null; \
         [ -n \"$KEEP_TEST_CONTROL_PLANE\" ] || rm -rf '{dir}'",
        pids = pids.join(" "),
        dir = dir.display()
    );
    after_exit(&cleanup, "the control-plane watchdog");
}

/// Runs the shell `cleanup` once this test process has exited, however it exits: a watchdog
/// that ignores INT/TERM/HUP (a Ctrl-C reaches the whole process group) and runs in a process
/// group of its own, as do the processes it ends, so only the watchdog ends them.
// The watchdog must outlive this process, so it is deliberately never waited for.
#[allow(clippy::zombie_processes)]
pub fn after_exit(cleanup: &str, what: &str) {
    let script = format!(
        "trap '' INT TERM HUP; while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; {cleanup}",
        parent = std::process::id(),
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
}

impl ControlPlane {
    /// The control plane of this test binary, started on first use.
    pub fn shared() -> &'static ControlPlane {
        static CP: OnceLock<ControlPlane> = OnceLock::new();
        CP.get_or_init(|| {
            // Setup needs async kube calls; run them on a runtime of their own, off the
            // calling test's runtime.
            std::thread::spawn(ControlPlane::start)
                .join()
                .expect("control plane start-up panicked")
        })
    }

    fn start() -> ControlPlane {
        let started = Instant::now();
        let assets = assets();
        let dir = std::env::temp_dir().join(format!("launch-operator-cp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = generate_pki(&dir);

        // etcd and kube-apiserver bind ports of their own: one taken by another process in
        // the meantime makes them exit, and they start again on new ones.
        let (etcd, ports) = ports::with_free_ports("etcd", 2, |ports| {
            let (client, peer) = (ports[0], ports[1]);
            // A fresh data directory: a failed attempt may have recorded its peer URL.
            let data = dir.join("etcd");
            let _ = std::fs::remove_dir_all(&data);
            std::fs::create_dir_all(&data).unwrap();
            let etcd_url = format!("http://127.0.0.1:{client}");
            ports::spawn_listening(
                command(
                    &assets.join("etcd"),
                    &[
                        format!("--data-dir={}", data.display()),
                        format!("--listen-client-urls={etcd_url}"),
                        format!("--advertise-client-urls={etcd_url}"),
                        format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                        format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                        format!("--initial-cluster=default=http://127.0.0.1:{peer}"),
                        "--unsafe-no-fsync=true".into(),
                        "--log-level=warn".into(),
                    ],
                ),
                ports,
                &dir.join("etcd.log"),
                Duration::from_secs(30),
            )
        });
        let etcd_url = format!("http://127.0.0.1:{}", ports[0]);

        let (apiserver, ports) = ports::with_free_ports("kube-apiserver", 1, |ports| {
            let server = format!("https://127.0.0.1:{}", ports[0]);
            ports::spawn_listening(
                command(
                    &assets.join("kube-apiserver"),
                    &[
                        format!("--etcd-servers={etcd_url}"),
                        format!("--etcd-prefix=/{}", uuid::Uuid::new_v4()),
                        format!("--secure-port={}", ports[0]),
                        "--bind-address=127.0.0.1".into(),
                        "--advertise-address=10.0.1.1".into(),
                        format!("--cert-dir={}", dir.display()),
                        format!("--tls-cert-file={}", dir.join("apiserver.crt").display()),
                        format!(
                            "--tls-private-key-file={}",
                            dir.join("apiserver.key").display()
                        ),
                        format!("--client-ca-file={}", dir.join("ca.crt").display()),
                        "--authorization-mode=RBAC".into(),
                        "--service-cluster-ip-range=10.0.0.0/24".into(),
                        "--disable-admission-plugins=ServiceAccount".into(),
                        format!("--service-account-issuer={server}"),
                        format!(
                            "--service-account-key-file={}",
                            dir.join("sa.pub").display()
                        ),
                        format!(
                            "--service-account-signing-key-file={}",
                            dir.join("sa.key").display()
                        ),
                        "--allow-privileged=true".into(),
                        "--v=1".into(),
                    ],
                ),
                ports,
                &dir.join("kube-apiserver.log"),
                Duration::from_secs(90),
            )
        });
        let server = format!("https://127.0.0.1:{}", ports[0]);
        spawn_watchdog(&[apiserver.id(), etcd.id()], &dir);

        let admin_kubeconfig = dir.join("admin.kubeconfig");
        write(
            &admin_kubeconfig,
            kubeconfig_yaml(
                &server,
                &pki.ca_pem,
                serde_json::json!({
                    "client-certificate-data": base64_engine(&std::fs::read_to_string(dir.join("admin.crt")).unwrap()),
                    "client-key-data": base64_engine(&std::fs::read_to_string(dir.join("admin.key")).unwrap()),
                }),
            ),
        );

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (token, server_version, serves_admission_policy) = runtime.block_on(async {
            let admin = client_from(&admin_kubeconfig).await;
            wait_ready(&admin, &dir).await;
            let version = admin.apiserver_version().await.expect("GET /version");
            let serves_admission_policy = serves_mutating_admission_policy(&admin).await;
            let token = install(&admin, serves_admission_policy).await;
            (token, version, serves_admission_policy)
        });
        // `minor` is e.g. "30" (or "30+" on some distributions).
        let minor = server_version
            .minor
            .trim_end_matches('+')
            .parse()
            .unwrap_or_else(|e| panic!("minor version {:?}: {e}", server_version.minor));
        let operator_kubeconfig = dir.join("operator.kubeconfig");
        write(
            &operator_kubeconfig,
            kubeconfig_yaml(&server, &pki.ca_pem, serde_json::json!({ "token": token })),
        );
        // The processes are owned by the watchdog from here on.
        std::mem::forget((etcd, apiserver));
        let cp = ControlPlane {
            dir,
            server,
            admin_kubeconfig,
            operator_kubeconfig,
            startup: started.elapsed(),
            version: server_version.git_version,
            minor,
            serves_admission_policy,
        };
        println!(
            "control plane {} up in {:?} (MutatingAdmissionPolicy v1 served: {}); logs and kubeconfigs in {}",
            cp.version,
            cp.startup,
            cp.serves_admission_policy,
            cp.dir.display()
        );
        cp
    }

    pub async fn admin(&self) -> Client {
        client_from(&self.admin_kubeconfig).await
    }

    pub async fn operator(&self) -> Client {
        client_from(&self.operator_kubeconfig).await
    }

    /// The tails of the control plane's logs, for failure messages.
    pub fn logs(&self) -> String {
        ["kube-apiserver", "etcd"]
            .iter()
            .map(|n| {
                format!(
                    "--- {n} ---\n{}",
                    log_tail(&self.dir.join(format!("{n}.log")), 30)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub async fn client_from(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("read kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    Client::try_from(config).expect("kube client")
}

async fn wait_ready(client: &Client, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ready = client
            .request_text(http::Request::get("/readyz").body(Vec::new()).unwrap())
            .await
            .map(|t| t.trim() == "ok")
            .unwrap_or(false);
        let default_ns = Api::<Namespace>::all(client.clone())
            .get_opt("default")
            .await
            .ok()
            .flatten()
            .is_some();
        if ready && default_ns {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kube-apiserver not ready within 90 s:\n{}",
            log_tail(&dir.join("kube-apiserver.log"), 60)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Applies every document of a YAML file with server-side apply, as admin.
pub async fn apply_file(client: &Client, path: &Path) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).unwrap();
        let types = obj.types.clone().expect("apiVersion and kind");
        let gvk = GroupVersionKind::try_from(&types).unwrap();
        let (resource, caps): (ApiResource, ApiCapabilities) =
            discovery.resolve_gvk(&gvk).expect("known kind");
        let api: Api<DynamicObject> = match (caps.scope, obj.namespace()) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), &ns, &resource),
            (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
            (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            &obj.name_any(),
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {} {}: {e}", types.kind, obj.name_any()));
    }
}

/// Whether discovery lists `mutatingadmissionpolicies` in `admissionregistration.k8s.io/v1`.
pub async fn serves_mutating_admission_policy(client: &Client) -> bool {
    client
        .list_api_group_resources("admissionregistration.k8s.io/v1")
        .await
        .expect("discovery of admissionregistration.k8s.io/v1")
        .resources
        .iter()
        .any(|r| r.name == "mutatingadmissionpolicies")
}

/// Installs the CRD, the operator's namespace and RBAC and, where the server serves it, the
/// finalizer admission policy from `deploy/`, and mints a token for its ServiceAccount.
async fn install(admin: &Client, admission_policy: bool) -> String {
    let root = repo_root();
    apply_file(admin, &root.join("crds/crds.yaml")).await;
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let established = kube::runtime::wait::await_condition(
        crds,
        "launches.evidently.launch-operator.io",
        kube::runtime::wait::conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .expect("CRD established in 30 s")
        .unwrap();

    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": OPERATOR_NAMESPACE}}))
            .unwrap();
    let _ = namespaces.create(&PostParams::default(), &ns).await;
    apply_file(admin, &root.join("deploy/base/rbac.yaml")).await;
    if admission_policy {
        apply_file(
            admin,
            &root.join("deploy/components/finalizer-at-admission/finalizer-policy.yaml"),
        )
        .await;
    }

    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), OPERATOR_NAMESPACE);
    let request: TokenRequest =
        serde_json::from_value(serde_json::json!({"spec": {"expirationSeconds": 4 * 3600}}))
            .unwrap();
    let response = sas
        .create_token_request(OPERATOR_SA, &PostParams::default(), &request)
        .await
        .expect("TokenRequest");
    response
        .status
        .and_then(|s| s.token)
        .expect("token in TokenRequest status")
}
