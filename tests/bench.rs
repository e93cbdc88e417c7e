//! Benchmarks of the operator (issue 8), on the test control plane (kube-apiserver + etcd) and
//! the emulator, with the controller in its release settings (all namespaces, resync 5 min,
//! default concurrency, `RUST_LOG=info`) running under the deploy/ ServiceAccount:
//!
//! 1. convergence: N Launches applied at once, time until every one is Ready with an ARN,
//!    against the baseline of the same client writing the same objects itself (create, then one
//!    status patch each, same client concurrency) with no controller and no admission policy;
//!    and N more with deploy/'s finalizer admission policy unbound;
//! 2. steady state: N Ready launches left alone: writes to the API server, mutating Evidently
//!    calls, GetLaunch calls, controller CPU;
//! 3. latency: apply → Ready of single launches, one after the other;
//! 4. memory: peak RSS of a controller started against M launches (it converges them all);
//! 5. the emulator: CreateLaunch, GetLaunch, EvaluateFeature and BatchEvaluateFeature (20
//!    evaluations per call) throughput and latency at concurrency 1, 8, 64, each against the
//!    floor of the same run: `GET /healthz` (no work) at the same concurrency; and GetLaunch and
//!    EvaluateFeature signed by the client against an emulator that checks signatures
//!    (`--auth sigv4`), the cost of verification beside the unsigned rows.
//! 6. a whole setup from empty (issue 14): projects, features, segments and launches (some with
//!    segment overrides, some running) applied at once in a shuffled order, time until every
//!    object is Ready, against the baseline of the same client writing the same objects and one
//!    status patch each (no controller, no admission policy); the Evidently calls it took
//!    against the least needed (one create per object, one StartLaunch per running launch).
//!
//! `make bench` (= `cargo test --release --test bench bench -- --ignored --exact --nocapture
//! --test-threads=1`) prints one table and writes it into BENCHMARKS.md between the
//! `bench:begin`/`bench:end` markers (`BENCH_OUTPUT` names another file). Settings (environment):
//! `BENCH_N` (1000), `BENCH_SEQ` (200), `BENCH_IDLE_SECS` (300), `BENCH_MEMORY_N`
//! ("1000,10000"), `BENCH_CLIENT_CONCURRENCY` (16), `BENCH_CONTROLLER_ARGS` (extra controller
//! flags, space-separated, for tuning experiments), `BENCH_EMULATOR_CREATES` (4000 per level),
//! `BENCH_EMULATOR_GETS` (20000 per level, for GetLaunch, EvaluateFeature and the floor; a
//! twentieth of it for BatchEvaluateFeature calls), `BENCH_EMULATOR_LEVELS` ("1,8,64"),
//! `BENCH_SETUP` ("3,200,20,1000": projects, features, segments, launches of part 6).
//! `make bench-emulator` runs part 5 alone and `make bench-setup` part 6; they only print.
//!
//! It is not a timed test: nothing asserts speed. `bench_smoke_tiny_n` runs the same code with
//! tiny sizes in every `cargo test` so that the benchmark keeps working.

// AWS marked the Evidently client deprecated; the emulator keeps it alive.
#![allow(deprecated)]

mod support;

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_evidently::types::{VariableValue, VariationConfig};
use futures::{StreamExt, stream};
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use hyper_util::{
    client::legacy::{Client as HttpClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use k8s_openapi::api::events::v1::Event;
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams},
    core::{ApiResource, GroupVersionKind},
    runtime::watcher,
};
use launch_operator::crd::{FINALIZER, Feature, Launch, Project, Segment};
use serde_json::{Value, json};
use support::{
    ControlPlane, Process, emulator_calls, emulator_mutating_calls, evidently_client, http_get,
    metric, namespace, repo_root, start_controller_with, start_emulator, start_emulator_unsigned,
};

/// Launches per Evidently project (the emulator allows 500).
const PER_PROJECT: usize = 400;
/// Launches per namespace.
const PER_NAMESPACE: usize = 500;
const API_VERSION: &str = "evidently.launch-operator.io/v1alpha1";
/// deploy/'s MutatingAdmissionPolicy that adds the finalizer to new Launches.
const POLICY_FILE: &str = "deploy/components/finalizer-at-admission/finalizer-policy.yaml";
const POLICY_BINDING: &str = "launch-operator-finalizer";

#[derive(Debug, Clone)]
struct Settings {
    n: usize,
    seq: usize,
    idle: Duration,
    memory: Vec<usize>,
    client_concurrency: usize,
    controller_args: Vec<String>,
    /// Quiet time after convergence before the steady-state window opens.
    settle: Duration,
    emulator_creates: usize,
    emulator_gets: usize,
    emulator_levels: Vec<usize>,
    /// Part 6.
    setup: SetupSizes,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not valid")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let memory = std::env::var("BENCH_MEMORY_N").unwrap_or_else(|_| "1000,10000".into());
        let mut memory: Vec<usize> = memory
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("BENCH_MEMORY_N: comma-separated counts")
            })
            .collect();
        memory.sort_unstable();
        Settings {
            n: env_or("BENCH_N", 1000),
            seq: env_or("BENCH_SEQ", 200),
            idle: Duration::from_secs(env_or("BENCH_IDLE_SECS", 300)),
            memory,
            client_concurrency: env_or("BENCH_CLIENT_CONCURRENCY", 16),
            controller_args: std::env::var("BENCH_CONTROLLER_ARGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            settle: Duration::from_secs(10),
            emulator_creates: env_or("BENCH_EMULATOR_CREATES", 4_000),
            emulator_gets: env_or("BENCH_EMULATOR_GETS", 20_000),
            emulator_levels: std::env::var("BENCH_EMULATOR_LEVELS")
                .unwrap_or_else(|_| "1,8,64".into())
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .ok()
                        .filter(|c| *c > 0)
                        .expect("BENCH_EMULATOR_LEVELS: comma-separated concurrencies")
                })
                .collect(),
            setup: SetupSizes::from_env(),
        }
    }

    fn tiny() -> Settings {
        Settings {
            n: 5,
            seq: 3,
            idle: Duration::from_secs(5),
            memory: vec![10],
            client_concurrency: 4,
            controller_args: Vec::new(),
            settle: Duration::from_secs(1),
            emulator_creates: 24,
            emulator_gets: 64,
            emulator_levels: vec![1, 8, 64],
            setup: SetupSizes {
                projects: 1,
                features: 2,
                segments: 1,
                launches: 4,
            },
        }
    }

    /// The environment settings that differ from the defaults, as `NAME=value` words.
    fn env_words() -> Vec<String> {
        [
            "BENCH_N",
            "BENCH_SEQ",
            "BENCH_IDLE_SECS",
            "BENCH_MEMORY_N",
            "BENCH_CLIENT_CONCURRENCY",
            "BENCH_CONTROLLER_ARGS",
            "BENCH_EMULATOR_CREATES",
            "BENCH_EMULATOR_GETS",
            "BENCH_EMULATOR_LEVELS",
            "BENCH_SETUP",
        ]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v:?}")))
        .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Debug, Default)]
struct Results {
    n: usize,
    /// Minimal writes, no admission policy bound: the control plane's own limit.
    baseline: Duration,
    /// The same minimal writes with the finalizer admission policy bound.
    baseline_policy: Duration,
    /// The controller's own writes, made by the client with no controller.
    floor: Duration,
    converge: Duration,
    /// The same with the finalizer admission policy unbound (the controller adds each one).
    converge_no_policy: Duration,
    /// Controller RSS one second after start, no launches.
    start_rss_kib: u64,
    /// Time for the client to submit the N applies (during the controller run).
    submit: Duration,
    converge_cpu: f64,
    converge_hwm_kib: u64,
    idle: Duration,
    idle_launch_writes: usize,
    idle_api_writes: f64,
    idle_mutating: f64,
    idle_gets: f64,
    idle_cpu: f64,
    idle_rss_kib: u64,
    resync: Duration,
    latencies: Vec<Duration>,
    deletion: Duration,
    deleted: usize,
    /// (launches, peak RSS KiB, time until all Ready, controller CPU seconds)
    memory: Vec<(usize, u64, Duration, f64)>,
    /// (operation, concurrency, requests/s, p50, p99)
    emulator: Vec<(&'static str, usize, f64, Duration, Duration)>,
    /// Part 6.
    setup: Option<SetupResults>,
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Row {
    section: &'static str,
    metric: String,
    value: String,
    goal: String,
}

impl Results {
    fn p(&self, q: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        percentile(&l, q)
    }

    fn ratio(&self) -> f64 {
        self.converge.as_secs_f64() / self.baseline.as_secs_f64()
    }

    fn rows(&self) -> Vec<Row> {
        let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
        let row = |section, metric: String, value: String, goal: String| Row {
            section,
            metric,
            value,
            goal,
        };
        let n = self.n;
        let mut rows = vec![
            row(
                "convergence",
                format!("{n} Launches applied at once → all Ready with an ARN"),
                format!(
                    "{:.1} s ({:.0} launches/s)",
                    self.converge.as_secs_f64(),
                    n as f64 / self.converge.as_secs_f64()
                ),
                String::new(),
            ),
            row(
                "convergence",
                format!(
                    "baseline, no controller, no admission policy: {n} creates + {n} status patches"
                ),
                format!(
                    "{:.1} s ({:.0} objects/s)",
                    self.baseline.as_secs_f64(),
                    n as f64 / self.baseline.as_secs_f64()
                ),
                String::new(),
            ),
            row(
                "convergence",
                "the same baseline with the finalizer admission policy bound (its cost on creates)"
                    .into(),
                format!("{:.1} s", self.baseline_policy.as_secs_f64()),
                String::new(),
            ),
            row(
                "convergence",
                "controller / baseline".into(),
                format!("{:.2}", self.ratio()),
                format!("≤ 1.5: {}", verdict(self.ratio() <= 1.5)),
            ),
            row(
                "convergence",
                format!(
                    "the controller's own writes by the client, no controller: {n} × (create, status patch, 1 event)"
                ),
                format!(
                    "{:.1} s; controller / this = {:.2}",
                    self.floor.as_secs_f64(),
                    self.converge.as_secs_f64() / self.floor.as_secs_f64()
                ),
                String::new(),
            ),
            row(
                "convergence",
                format!(
                    "without the finalizer admission policy (Kubernetes < 1.36; the controller adds each finalizer): {n} applied at once → all Ready"
                ),
                format!(
                    "{:.1} s; / baseline = {:.2}",
                    self.converge_no_policy.as_secs_f64(),
                    self.converge_no_policy.as_secs_f64() / self.baseline.as_secs_f64()
                ),
                String::new(),
            ),
            row(
                "convergence",
                "controller CPU during convergence".into(),
                format!(
                    "{:.1} s ({:.2} ms/launch); applies submitted in {:.1} s",
                    self.converge_cpu,
                    self.converge_cpu * 1000.0 / n as f64,
                    self.submit.as_secs_f64()
                ),
                String::new(),
            ),
        ];
        let idle_min = self.idle.as_secs_f64() / 60.0;
        rows.extend([
            row(
                "steady state",
                format!(
                    "{n} Ready launches idle {:.0} s: Launch objects written (resourceVersion)",
                    self.idle.as_secs_f64()
                ),
                format!("{}", self.idle_launch_writes),
                format!("0: {}", verdict(self.idle_launch_writes == 0)),
            ),
            row(
                "steady state",
                "API writes to launches and events (apiserver_request_total)".into(),
                format!("{}", self.idle_api_writes),
                format!("0: {}", verdict(self.idle_api_writes == 0.0)),
            ),
            row(
                "steady state",
                "mutating Evidently calls".into(),
                format!("{}", self.idle_mutating),
                format!("0: {}", verdict(self.idle_mutating == 0.0)),
            ),
            row(
                "steady state",
                "GetLaunch calls per minute".into(),
                format!(
                    "{:.1} measured ({} in the window); resync {} implies {:.1}",
                    self.idle_gets / idle_min,
                    self.idle_gets,
                    humantime::format_duration(self.resync),
                    n as f64 / (self.resync.as_secs_f64() / 60.0)
                ),
                "≤ N / resync".into(),
            ),
            row(
                "steady state",
                "controller CPU while idle".into(),
                format!(
                    "{:.2} s ({:.3} s/min); RSS {:.1} MiB",
                    self.idle_cpu,
                    self.idle_cpu / idle_min,
                    mib(self.idle_rss_kib)
                ),
                String::new(),
            ),
        ]);
        let (p50, p99) = (self.p(0.50), self.p(0.99));
        rows.extend([
            row(
                "latency",
                format!(
                    "apply → Ready, {} sequential launches: p50",
                    self.latencies.len()
                ),
                format!("{:.0} ms", ms(p50)),
                String::new(),
            ),
            row(
                "latency",
                "apply → Ready: p99 (max)".into(),
                format!("{:.0} ms ({:.0} ms)", ms(p99), ms(self.p(1.0))),
                format!("< 250 ms: {}", verdict(ms(p99) < 250.0)),
            ),
            row(
                "deletion",
                format!(
                    "{} launches deleted at once → gone (finalizer, DeleteLaunch)",
                    self.deleted
                ),
                format!("{:.1} s", self.deletion.as_secs_f64()),
                String::new(),
            ),
        ]);
        rows.extend(self.setup.iter().flat_map(SetupResults::rows));
        rows.push(row(
            "memory",
            "controller RSS 1 s after start, no launches".into(),
            format!("{:.1} MiB", mib(self.start_rss_kib)),
            String::new(),
        ));
        rows.push(row(
            "memory",
            format!("controller peak RSS (VmHWM) after converging the {n} launches above"),
            format!("{:.1} MiB", mib(self.converge_hwm_kib)),
            String::new(),
        ));
        let largest = self.memory.iter().map(|m| m.0).max().unwrap_or(0);
        for (launches, hwm, took, cpu) in &self.memory {
            let goal = if *launches == largest && *launches >= 10_000 {
                format!("≤ 64 MiB: {}", verdict(mib(*hwm) <= 64.0))
            } else {
                String::new()
            };
            rows.push(row(
                "memory",
                format!("controller started against {launches} launches: peak RSS (VmHWM)"),
                format!(
                    "{:.1} MiB (all Ready in {:.1} s, {:.1} s CPU)",
                    mib(*hwm),
                    took.as_secs_f64(),
                    cpu
                ),
                goal,
            ));
        }
        for (op, concurrency, rate, p50, p99) in &self.emulator {
            // Against the no-work requests at the same concurrency, measured in the same run.
            let floor = self
                .emulator
                .iter()
                .find(|f| f.0 == HTTP_FLOOR && f.1 == *concurrency)
                .filter(|_| *op != HTTP_FLOOR);
            let rate_ratio = floor.map(|f| rate / f.2);
            let p99_ratio = floor.map(|f| p99.as_secs_f64() / f.4.as_secs_f64());
            let goal = match (*op, *concurrency, rate_ratio, p99_ratio) {
                ("GetLaunch", 64, _, _) => format!("≥ 20k/s: {}", verdict(*rate >= 20_000.0)),
                ("CreateLaunch", _, _, Some(p)) => {
                    format!("p99 ≤ 3× the floor's p99: {}", verdict(p <= 3.0))
                }
                (SIGNED_GET | SIGNED_EVALUATE, _, _, _) => {
                    "the cost of signatures: compare with the unsigned row".to_string()
                }
                (EVALUATE, 64, Some(r), Some(p)) => format!(
                    "≥ 0.8× the floor's rate and p99 ≤ 2× the floor's p99: {}",
                    verdict(r >= 0.8 && p <= 2.0)
                ),
                _ => String::new(),
            };
            let floor = match (rate_ratio, p99_ratio) {
                (Some(r), Some(p)) => {
                    format!(" ({r:.2}× the floor's rate, p99 {p:.1}× the floor's)")
                }
                _ => String::new(),
            };
            rows.push(row(
                "emulator",
                format!("{op}, concurrency {concurrency}"),
                format!(
                    "{rate:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{floor}",
                    ms(*p50),
                    ms(*p99)
                ),
                goal,
            ));
        }
        rows
    }

    fn table(&self) -> String {
        let mut out = String::from("| section | measurement | value | goal |\n|---|---|---|---|\n");
        for r in self.rows() {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                r.section, r.metric, r.value, r.goal
            ));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Processes and metrics

fn pid(p: &Process) -> u32 {
    p.child.as_ref().expect("process running").id()
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which may contain spaces) start with the state (field 3).
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `VmXXX:` line of /proc/<pid>/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Write requests (POST, PUT, PATCH, APPLY, DELETE) the API server has served on Launches
/// (and their status) and on Events, from its own metrics.
async fn apiserver_writes(admin: &Client) -> f64 {
    let text = admin
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .expect("kube-apiserver /metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| l.contains("resource=\"launches\"") || l.contains("resource=\"events\""))
        .filter(|l| {
            [
                "POST",
                "PUT",
                "PATCH",
                "APPLY",
                "DELETE",
                "DELETECOLLECTION",
            ]
            .iter()
            .any(|v| l.contains(&format!("verb=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// The controller's own count of launches it has reconciled to Ready=True.
async fn controller_ready(controller: &Process) -> usize {
    match http_get(&format!("{}/metrics", controller.url())).await {
        Ok((200, text)) => metric(
            &text,
            "launch_operator_resources{kind=\"Launch\",ready=\"True\"}",
        ) as usize,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Launches

/// Where launch number `i` lives: namespace and Evidently project.
struct Layout {
    namespaces: Vec<String>,
    projects: usize,
    prefix: String,
}

impl Layout {
    async fn new(admin: &Client, prefix: &str, launches: usize) -> Layout {
        let mut namespaces = Vec::new();
        for _ in 0..launches.div_ceil(PER_NAMESPACE).max(1) {
            namespaces.push(namespace(admin, prefix).await);
        }
        let projects = launches.div_ceil(PER_PROJECT).max(1);
        assert!(
            projects <= 50,
            "{launches} launches need {projects} projects; the emulator allows 50"
        );
        Layout {
            namespaces,
            projects,
            prefix: prefix.to_string(),
        }
    }

    fn namespace(&self, i: usize) -> &str {
        &self.namespaces[(i / PER_NAMESPACE).min(self.namespaces.len() - 1)]
    }

    fn name(&self, i: usize) -> String {
        format!("{}-{i:05}", self.prefix)
    }

    /// Evidently project number `p` of this layout.
    fn project(&self, p: usize) -> String {
        format!("{}-p{p}", self.prefix)
    }

    fn key(&self, i: usize) -> String {
        format!("{}/{}", self.namespace(i), self.name(i))
    }

    fn manifest(&self, i: usize) -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": "Launch",
            "metadata": {"name": self.name(i), "namespace": self.namespace(i)},
            "spec": {
                "project": self.project(i % self.projects),
                "description": "benchmark roll-out",
                "groups": [
                    {"name": "control", "feature": "f", "variation": "v1"},
                    {"name": "treatment", "feature": "f", "variation": "v2"}
                ],
                "scheduledSplitsConfig": {"steps": [
                    {"startTime": "2030-01-07T09:00:00Z", "groupWeights": {"control": 90000, "treatment": 10000}},
                    {"startTime": "2030-01-14T09:00:00Z", "groupWeights": {"control": 50000, "treatment": 50000}},
                    {"startTime": "2030-01-21T09:00:00Z", "groupWeights": {"control": 0, "treatment": 100000}}
                ]},
                "tags": {"team": "bench"}
            }
        })
    }

    async fn seed(&self, emulator: &Process) {
        let ev = evidently_client(&emulator.url());
        for p in 0..self.projects {
            let project = self.project(p);
            ev.create_project()
                .name(&project)
                .send()
                .await
                .expect("create project");
            let mut req = ev.create_feature().project(&project).name("f");
            for v in ["v1", "v2"] {
                req = req.variations(
                    VariationConfig::builder()
                        .name(v)
                        .value(VariableValue::StringValue(format!("value-{v}")))
                        .build()
                        .unwrap(),
                );
            }
            req.send().await.expect("create feature");
        }
    }

    fn api(&self, admin: &Client, i: usize) -> Api<Launch> {
        Api::namespaced(admin.clone(), self.namespace(i))
    }

    async fn apply(&self, admin: &Client, i: usize) {
        self.api(admin, i)
            .patch(
                &self.name(i),
                &PatchParams::apply("bench"),
                &Patch::Apply(self.manifest(i)),
            )
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", self.key(i)));
    }

    /// Applies launches `range` with `concurrency` requests in flight.
    async fn apply_all(&self, admin: &Client, range: std::ops::Range<usize>, concurrency: usize) {
        stream::iter(range)
            .for_each_concurrent(concurrency, |i| self.apply(admin, i))
            .await;
    }

    /// Resource versions of every Launch in the layout's namespaces.
    async fn versions(&self, admin: &Client) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for ns in &self.namespaces {
            let api: Api<Launch> = Api::namespaced(admin.clone(), ns);
            for l in api.list(&ListParams::default()).await.unwrap().items {
                out.insert(
                    format!("{ns}/{}", l.metadata.name.unwrap_or_default()),
                    l.metadata.resource_version.unwrap_or_default(),
                );
            }
        }
        out
    }
}

/// The status the controller writes for a Ready launch (what the baseline writes itself).
fn ready_status(layout: &Layout, i: usize) -> Value {
    let project = layout.project(i % layout.projects);
    json!({
        "apiVersion": API_VERSION,
        "kind": "Launch",
        "status": {
            "arn": format!("arn:aws:evidently:us-east-1:123456789012:project/{project}/launch/{}", layout.name(i)),
            "status": "CREATED",
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1,
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": "launch is CREATED in Evidently and matches the spec",
                "observedGeneration": 1,
                "lastTransitionTime": "2026-01-01T00:00:00Z"
            }]
        }
    })
}

fn is_ready(l: &Launch) -> bool {
    l.status.as_ref().is_some_and(|s| {
        s.arn.is_some()
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Follows every Launch in the cluster and remembers when each was first seen Ready with an
/// ARN (the moment `kubectl wait` would return).
struct Tracker {
    ready: Arc<Mutex<HashMap<String, Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    async fn start(admin: &Client) -> Tracker {
        let ready: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let seen = ready.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let api: Api<Launch> = Api::all(admin.clone());
        let task = tokio::spawn(async move {
            let mut started = Some(started_tx);
            let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
            while let Some(event) = events.next().await {
                let now = Instant::now();
                match event {
                    Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l)) if is_ready(&l) => {
                        let key = format!(
                            "{}/{}",
                            l.metadata.namespace.unwrap_or_default(),
                            l.metadata.name.unwrap_or_default()
                        );
                        seen.lock().unwrap().entry(key).or_insert(now);
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = started.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("bench watch: {e}"),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), started_rx)
            .await
            .expect("the bench watch started")
            .unwrap();
        Tracker { ready, task }
    }

    fn ready_at(&self, key: &str) -> Option<Instant> {
        self.ready.lock().unwrap().get(key).copied()
    }

    /// Waits until every key is Ready; returns the latest Ready instant.
    async fn wait_all(&self, keys: &[String], timeout: Duration, poll: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let (missing, latest) = {
                let map = self.ready.lock().unwrap();
                let missing: Vec<&String> = keys.iter().filter(|k| !map.contains_key(*k)).collect();
                let latest = keys.iter().filter_map(|k| map.get(k)).max().copied();
                (
                    missing
                        .iter()
                        .take(3)
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>(),
                    latest,
                )
            };
            if missing.is_empty() {
                return latest.unwrap_or_else(Instant::now);
            }
            assert!(
                Instant::now() < deadline,
                "not Ready within {timeout:?}, e.g. {missing:?}"
            );
            tokio::time::sleep(poll).await;
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn converge_timeout(launches: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(200) * launches as u32
}

async fn controller(emulator: &Process, s: &Settings) -> Process {
    let args: Vec<&str> = std::iter::once("--leader-election=false")
        .chain(s.controller_args.iter().map(String::as_str))
        .collect();
    start_controller_with(&emulator.url(), &args, "info").await
}

// ---------------------------------------------------------------------------------------------
// 6. A whole setup from empty: projects, features, segments and launches applied at once.

/// Sizes of part 6 (`BENCH_SETUP`): Evidently projects, features, segments and launches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct SetupSizes {
    projects: usize,
    features: usize,
    segments: usize,
    launches: usize,
}

/// Every `RUNNING_EVERY`-th launch asks to run (`executionStatus: START`).
const RUNNING_EVERY: usize = 20;
/// Every `OVERRIDE_EVERY`-th launch gives a segment its own split.
const OVERRIDE_EVERY: usize = 3;
/// The emulator's per-project quotas.
const MAX_PROJECTS: usize = 50;
const MAX_FEATURES_PER_PROJECT: usize = 100;
const MAX_LAUNCHES_PER_PROJECT: usize = 500;
const MAX_RUNNING_PER_PROJECT: usize = 50;
/// The operator's kinds, in the order their objects are listed (the order of dependencies).
const SETUP_KINDS: [&str; 4] = ["Project", "Segment", "Feature", "Launch"];

impl SetupSizes {
    /// `BENCH_SETUP`: "projects,features,segments,launches" (default "3,200,20,1000").
    fn from_env() -> SetupSizes {
        let text = std::env::var("BENCH_SETUP").unwrap_or_else(|_| "3,200,20,1000".into());
        let n: Vec<usize> = text
            .split(',')
            .map(|s| {
                s.trim().parse().unwrap_or_else(|_| {
                    panic!("BENCH_SETUP={text}: projects,features,segments,launches")
                })
            })
            .collect();
        let [projects, features, segments, launches] = n[..] else {
            panic!("BENCH_SETUP={text}: four counts, projects,features,segments,launches");
        };
        SetupSizes {
            projects,
            features,
            segments,
            launches,
        }
    }

    fn objects(&self) -> usize {
        self.projects + self.features + self.segments + self.launches
    }

    fn is_running(i: usize) -> bool {
        i.is_multiple_of(RUNNING_EVERY)
    }

    fn running(&self) -> usize {
        (0..self.launches).filter(|i| Self::is_running(*i)).count()
    }

    /// Features of project `p`: those numbered `p`, `p + projects`, `p + 2 × projects`, …
    fn features_of(&self, p: usize) -> usize {
        self.features.saturating_sub(p).div_ceil(self.projects)
    }

    /// Panics unless the setup fits the emulator's quotas (and every project has a feature).
    fn check(&self) {
        let per_project = |count: usize| count.div_ceil(self.projects.max(1));
        assert!(
            (1..=MAX_PROJECTS).contains(&self.projects),
            "BENCH_SETUP: 1 to {MAX_PROJECTS} projects"
        );
        assert!(
            self.features >= self.projects
                && per_project(self.features) <= MAX_FEATURES_PER_PROJECT,
            "BENCH_SETUP: at least one and at most {MAX_FEATURES_PER_PROJECT} features per project"
        );
        assert!(
            per_project(self.launches) <= MAX_LAUNCHES_PER_PROJECT,
            "BENCH_SETUP: at most {MAX_LAUNCHES_PER_PROJECT} launches per project"
        );
        for p in 0..self.projects {
            let running = (0..self.launches)
                .filter(|i| i % self.projects == p && Self::is_running(*i))
                .count();
            assert!(
                running <= MAX_RUNNING_PER_PROJECT,
                "BENCH_SETUP: {running} running launches in one project; the emulator allows {MAX_RUNNING_PER_PROJECT}"
            );
        }
    }
}

/// The objects of one setup: their manifests, in dependency order, spread over namespaces.
struct Setup {
    sizes: SetupSizes,
    namespaces: Vec<String>,
    prefix: String,
    /// Every object's manifest (namespace included), projects first and launches last.
    manifests: Vec<Value>,
}

fn setup_resource(kind: &str) -> ApiResource {
    match kind {
        "Project" => ApiResource::erase::<Project>(&()),
        "Feature" => ApiResource::erase::<Feature>(&()),
        "Segment" => ApiResource::erase::<Segment>(&()),
        "Launch" => ApiResource::erase::<Launch>(&()),
        other => panic!("not a kind of this operator: {other}"),
    }
}

fn object_key(kind: &str, ns: &str, name: &str) -> String {
    format!("{kind}/{ns}/{name}")
}

impl Setup {
    async fn new(admin: &Client, prefix: &str, sizes: SetupSizes) -> Setup {
        sizes.check();
        let mut namespaces = Vec::new();
        for _ in 0..sizes.objects().div_ceil(PER_NAMESPACE).max(1) {
            namespaces.push(namespace(admin, prefix).await);
        }
        let mut setup = Setup {
            sizes,
            namespaces,
            prefix: prefix.to_string(),
            manifests: Vec::new(),
        };
        let mut specs: Vec<(&str, String, Value)> = Vec::new();
        for p in 0..sizes.projects {
            let spec = json!({"description": "benchmark setup", "tags": {"team": "bench"}});
            specs.push(("Project", setup.project(p), spec));
        }
        for s in 0..sizes.segments {
            specs.push(("Segment", setup.segment(s), setup.segment_spec(s)));
        }
        for f in 0..sizes.features {
            specs.push(("Feature", setup.feature(f), setup.feature_spec(f)));
        }
        for l in 0..sizes.launches {
            specs.push(("Launch", format!("{prefix}-l{l:05}"), setup.launch_spec(l)));
        }
        setup.manifests = specs
            .into_iter()
            .enumerate()
            .map(|(k, (kind, name, spec))| {
                json!({
                    "apiVersion": API_VERSION,
                    "kind": kind,
                    "metadata": {"name": name, "namespace": setup.namespaces[k / PER_NAMESPACE]},
                    "spec": spec,
                })
            })
            .collect();
        setup
    }

    fn project(&self, p: usize) -> String {
        format!("{}-p{p}", self.prefix)
    }

    fn feature(&self, f: usize) -> String {
        format!("{}-f{f:04}", self.prefix)
    }

    fn segment(&self, s: usize) -> String {
        format!("{}-s{s:03}", self.prefix)
    }

    /// Feature `f` lives in project `f % projects`.
    fn feature_spec(&self, f: usize) -> Value {
        json!({
            "project": self.project(f % self.sizes.projects),
            "description": "benchmark feature",
            "variations": [
                {"name": "v1", "value": {"stringValue": "one"}},
                {"name": "v2", "value": {"stringValue": "two"}}
            ],
            "defaultVariation": "v1"
        })
    }

    fn segment_spec(&self, s: usize) -> Value {
        json!({
            "description": "benchmark segment",
            "pattern": json!({"tier": [format!("t{s}")]}).to_string()
        })
    }

    /// Launch `l` lives in project `l % projects` and rolls out one of that project's features;
    /// every third gives a segment its own split, every twentieth runs.
    fn launch_spec(&self, l: usize) -> Value {
        let projects = self.sizes.projects;
        let p = l % projects;
        let feature = self.feature(p + projects * ((l / projects) % self.sizes.features_of(p)));
        let mut first = json!({
            "startTime": "2030-01-07T09:00:00Z",
            "groupWeights": {"control": 90000, "treatment": 10000}
        });
        if self.sizes.segments > 0 && l.is_multiple_of(OVERRIDE_EVERY) {
            first["segmentOverrides"] = json!([{
                "segment": self.segment((l / OVERRIDE_EVERY) % self.sizes.segments),
                "evaluationOrder": 1,
                "weights": {"treatment": 100000}
            }]);
        }
        let mut spec = json!({
            "project": self.project(p),
            "description": "benchmark roll-out",
            "groups": [
                {"name": "control", "feature": feature, "variation": "v1"},
                {"name": "treatment", "feature": feature, "variation": "v2"}
            ],
            "scheduledSplitsConfig": {"steps": [
                first,
                {"startTime": "2030-01-21T09:00:00Z", "groupWeights": {"control": 0, "treatment": 100000}}
            ]},
            "tags": {"team": "bench"}
        });
        if SetupSizes::is_running(l) {
            spec["executionStatus"] = json!({"status": "START"});
        }
        spec
    }

    fn kind_of(m: &Value) -> &str {
        m["kind"].as_str().unwrap_or_default()
    }

    fn key(m: &Value) -> String {
        object_key(
            Self::kind_of(m),
            m["metadata"]["namespace"].as_str().unwrap_or_default(),
            m["metadata"]["name"].as_str().unwrap_or_default(),
        )
    }

    fn keys(&self) -> Vec<String> {
        self.manifests.iter().map(Self::key).collect()
    }

    fn api(admin: &Client, m: &Value) -> Api<DynamicObject> {
        Api::namespaced_with(
            admin.clone(),
            m["metadata"]["namespace"].as_str().unwrap_or_default(),
            &setup_resource(Self::kind_of(m)),
        )
    }

    /// The manifests in the order a GitOps tool might apply a directory: shuffled, dependencies
    /// anywhere (the same order for every run of the same sizes).
    fn shuffled(&self) -> Vec<&Value> {
        use rand::{SeedableRng, seq::SliceRandom};
        let mut order: Vec<&Value> = self.manifests.iter().collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(14));
        order
    }

    async fn apply(admin: &Client, m: &Value) -> DynamicObject {
        let name = m["metadata"]["name"].as_str().unwrap_or_default();
        Self::api(admin, m)
            .patch(name, &PatchParams::apply("bench"), &Patch::Apply(m))
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", Self::key(m)))
    }

    /// Deletes every object at once, kind after kind in dependency order (the order that makes
    /// the controller wait most), and waits until all are gone.
    async fn delete_all(&self, admin: &Client, timeout: Duration) {
        for kind in SETUP_KINDS {
            for ns in &self.namespaces {
                Api::<DynamicObject>::namespaced_with(admin.clone(), ns, &setup_resource(kind))
                    .delete_collection(&DeleteParams::default(), &ListParams::default())
                    .await
                    .unwrap_or_else(|e| panic!("delete the {kind}s of {ns}: {e}"));
            }
        }
        support::eventually("every object of the setup gone", timeout, || async {
            let mut left = Vec::new();
            for kind in SETUP_KINDS {
                for ns in &self.namespaces {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(admin.clone(), ns, &setup_resource(kind));
                    let some = api
                        .list(&ListParams::default().limit(1))
                        .await
                        .map_err(|e| e.to_string())?;
                    if let Some(o) = some.items.first() {
                        left.push(format!("{kind}/{ns}/{}", o.name_any()));
                    }
                }
            }
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still there, e.g. {left:?}"))
            }
        })
        .await;
    }
}

/// What the controller writes for a Ready object, for the baseline to write itself.
fn setup_ready_status(m: &Value) -> Value {
    let kind = Setup::kind_of(m);
    let name = m["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &m["spec"];
    let arn = format!(
        "arn:aws:evidently:us-east-1:123456789012:{}",
        match kind {
            "Project" => format!("project/{name}"),
            "Segment" => format!("segment/{name}"),
            "Feature" => format!(
                "project/{}/feature/{name}",
                spec["project"].as_str().unwrap_or_default()
            ),
            _ => format!(
                "project/{}/launch/{name}",
                spec["project"].as_str().unwrap_or_default()
            ),
        }
    );
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "status": {
            "arn": arn,
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1,
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": format!("{} matches the spec", kind.to_lowercase()),
                "observedGeneration": 1,
                "lastTransitionTime": "2026-01-01T00:00:00Z"
            }]
        }
    })
}

/// Ready=True for the object's current generation.
fn is_ready_now(o: &DynamicObject) -> bool {
    let status = &o.data["status"];
    status["observedGeneration"].as_i64() == o.metadata.generation
        && o.metadata.generation.is_some()
        && status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Follows every object of the four kinds in the cluster and remembers when each was first
/// seen Ready for its current generation.
struct KindsTracker {
    ready: tokio::sync::watch::Receiver<HashMap<String, Instant>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl KindsTracker {
    async fn start(admin: &Client) -> KindsTracker {
        let (tx, ready) = tokio::sync::watch::channel(HashMap::new());
        let tx = Arc::new(tx);
        let mut tasks = Vec::new();
        for kind in SETUP_KINDS {
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let api: Api<DynamicObject> = Api::all_with(admin.clone(), &setup_resource(kind));
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let mut started = Some(started_tx);
                let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
                while let Some(event) = events.next().await {
                    let now = Instant::now();
                    match event {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))
                            if is_ready_now(&o) =>
                        {
                            let key = object_key(
                                kind,
                                o.metadata.namespace.as_deref().unwrap_or_default(),
                                o.metadata.name.as_deref().unwrap_or_default(),
                            );
                            tx.send_if_modified(|map| {
                                let new = !map.contains_key(&key);
                                map.entry(key).or_insert(now);
                                new
                            });
                        }
                        Ok(watcher::Event::InitDone) => {
                            if let Some(tx) = started.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(_) => {}
                        Err(e) => eprintln!("bench watch of {kind}: {e}"),
                    }
                }
            }));
            tokio::time::timeout(Duration::from_secs(30), started_rx)
                .await
                .unwrap_or_else(|_| panic!("the bench watch of {kind} started"))
                .unwrap();
        }
        KindsTracker { ready, tasks }
    }

    /// Waits until every key is Ready; returns the latest Ready instant.
    async fn wait_all(&self, keys: &[String], timeout: Duration) -> Instant {
        let mut rx = self.ready.clone();
        let all = |map: &HashMap<String, Instant>| keys.iter().all(|k| map.contains_key(k));
        if tokio::time::timeout(timeout, rx.wait_for(all))
            .await
            .is_err()
        {
            let map = self.ready.borrow();
            let missing: Vec<&String> = keys.iter().filter(|k| !map.contains_key(*k)).collect();
            panic!(
                "{} of {} not Ready within {timeout:?}, e.g. {:?}",
                missing.len(),
                keys.len(),
                &missing[..missing.len().min(5)]
            );
        }
        let map = self.ready.borrow();
        keys.iter()
            .filter_map(|k| map.get(k))
            .max()
            .copied()
            .unwrap_or_else(Instant::now)
    }
}

impl Drop for KindsTracker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Samples of a Prometheus counter family as (labels, value).
fn samples(text: &str, family: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let prefix = format!("{family}{{");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            let labels = labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect();
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

#[derive(Debug, Default)]
struct SetupResults {
    sizes: SetupSizes,
    running: usize,
    /// No controller, no admission policy: every object created and its status patched by the
    /// client.
    baseline: Duration,
    /// Applied at once in a shuffled order → every object Ready.
    converge: Duration,
    /// Time for the client to submit the applies (during the controller run).
    submit: Duration,
    converge_cpu: f64,
    /// Evidently requests answered during convergence: operation → (all, refused).
    calls: BTreeMap<String, (f64, f64)>,
    /// The controller's reconcile passes during convergence: kind → reason → passes.
    passes: BTreeMap<String, BTreeMap<String, f64>>,
    /// Everything deleted at once → gone.
    deletion: Duration,
}

impl SetupResults {
    fn objects(&self) -> usize {
        self.sizes.objects()
    }

    fn ratio(&self) -> f64 {
        self.converge.as_secs_f64() / self.baseline.as_secs_f64()
    }

    /// One create per object and one StartLaunch per running launch: the least any
    /// controller needs.
    fn minimum_calls(&self) -> usize {
        self.objects() + self.running
    }

    fn total_calls(&self) -> f64 {
        self.calls.values().map(|c| c.0).sum()
    }

    fn rows(&self) -> Vec<Row> {
        let verdict = if self.ratio() <= 1.5 {
            "met"
        } else {
            "NOT met"
        };
        let SetupSizes {
            projects,
            features,
            segments,
            launches,
        } = self.sizes;
        let n = self.objects();
        let per_second = |d: Duration| n as f64 / d.as_secs_f64();
        let row = |metric: String, value: String, goal: String| Row {
            section: "setup",
            metric,
            value,
            goal,
        };
        let calls = self
            .calls
            .iter()
            .map(|(op, (all, refused))| {
                if *refused > 0.0 {
                    format!("{op} {all} ({refused} refused)")
                } else {
                    format!("{op} {all}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let passes = self
            .passes
            .iter()
            .map(|(kind, reasons)| {
                let by_reason = reasons
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect::<Vec<_>>()
                    .join(" + ");
                format!("{kind} {by_reason}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        vec![
            row(
                format!(
                    "{projects} projects, {features} features, {segments} segments, {launches} launches ({} running) applied at once in a shuffled order → all {n} Ready",
                    self.running
                ),
                format!(
                    "{:.1} s ({:.0} objects/s); applies submitted in {:.1} s; controller CPU {:.1} s",
                    self.converge.as_secs_f64(),
                    per_second(self.converge),
                    self.submit.as_secs_f64(),
                    self.converge_cpu
                ),
                String::new(),
            ),
            row(
                format!(
                    "baseline, no controller, no admission policy: {n} creates + {n} status patches, same order"
                ),
                format!(
                    "{:.1} s ({:.0} objects/s)",
                    self.baseline.as_secs_f64(),
                    per_second(self.baseline)
                ),
                String::new(),
            ),
            row(
                "controller / baseline".into(),
                format!("{:.2}", self.ratio()),
                format!("≤ 1.5: {verdict}"),
            ),
            row(
                format!(
                    "Evidently calls until all Ready (minimum {}: {n} creates + {} StartLaunch)",
                    self.minimum_calls(),
                    self.running
                ),
                format!(
                    "{} ({:.2}× the minimum): {calls}",
                    self.total_calls(),
                    self.total_calls() / self.minimum_calls() as f64
                ),
                String::new(),
            ),
            row(
                "reconcile passes until all Ready, by kind and Ready reason".into(),
                passes,
                String::new(),
            ),
            row(
                format!("all {n} deleted at once (kind by kind, projects first) → gone"),
                format!("{:.1} s", self.deletion.as_secs_f64()),
                String::new(),
            ),
        ]
    }
}

/// Part 6: the baseline (the client writes every object and its status, no controller), then
/// the same objects applied at once with the controller running, then everything deleted.
/// Leaves the admission policy bound and the cluster without objects of the four kinds.
async fn setup_bench(admin: &Client, s: &Settings, probe: &Layout) -> SetupResults {
    let sizes = s.setup;
    let mut r = SetupResults {
        sizes,
        running: sizes.running(),
        ..SetupResults::default()
    };

    // The baseline: the bare control plane.
    set_admission_policy(admin, probe, false).await;
    let bare = Setup::new(admin, "setup-baseline", sizes).await;
    let started = Instant::now();
    stream::iter(bare.shuffled())
        .for_each_concurrent(s.client_concurrency, |m| async move {
            Setup::apply(admin, m).await;
            Setup::api(admin, m)
                .patch_status(
                    m["metadata"]["name"].as_str().unwrap_or_default(),
                    &PatchParams::apply("bench-baseline").force(),
                    &Patch::Apply(setup_ready_status(m)),
                )
                .await
                .unwrap_or_else(|e| panic!("status patch {}: {e}", Setup::key(m)));
        })
        .await;
    r.baseline = started.elapsed();
    // Gone before the controller starts, which would otherwise adopt them.
    bare.delete_all(admin, converge_timeout(sizes.objects()))
        .await;
    println!("setup baseline: {:?}", r.baseline);

    // The controller, with the admission policy of deploy/.
    set_admission_policy(admin, probe, true).await;
    let tracker = KindsTracker::start(admin).await;
    let setup = Setup::new(admin, "setup", sizes).await;
    let emulator = start_emulator(&[]).await;
    let mut ctl = controller(&emulator, s).await;
    let ctl_pid = pid(&ctl);
    let cpu_before = cpu_seconds(ctl_pid);
    let started = Instant::now();
    stream::iter(setup.shuffled())
        .for_each_concurrent(s.client_concurrency, |m| async move {
            Setup::apply(admin, m).await;
        })
        .await;
    r.submit = started.elapsed();
    let last = tracker
        .wait_all(&setup.keys(), converge_timeout(sizes.objects()))
        .await;
    r.converge = last - started;
    r.converge_cpu = cpu_seconds(ctl_pid) - cpu_before;
    let (_, text) = http_get(&format!("{}/metrics", emulator.url()))
        .await
        .expect("emulator /metrics");
    for (labels, value) in samples(&text, "evidently_emulator_requests_total") {
        let calls = r.calls.entry(labels["operation"].clone()).or_default();
        calls.0 += value;
        if labels.get("code").map(String::as_str) != Some("200") {
            calls.1 += value;
        }
    }
    let (_, text) = http_get(&format!("{}/metrics", ctl.url()))
        .await
        .expect("controller /metrics");
    for (labels, value) in samples(&text, "launch_operator_reconciles_total") {
        *r.passes
            .entry(labels["kind"].clone())
            .or_default()
            .entry(labels["reason"].clone())
            .or_default() += value;
    }
    println!(
        "setup: {:?} (baseline {:?}), {} Evidently calls (minimum {}): {:?}; passes {:?}",
        r.converge,
        r.baseline,
        r.total_calls(),
        r.minimum_calls(),
        r.calls,
        r.passes
    );

    let t = Instant::now();
    setup
        .delete_all(admin, converge_timeout(sizes.objects()))
        .await;
    r.deletion = t.elapsed();
    println!("setup deletion: {:?}", r.deletion);
    ctl.kill();
    r
}

// ---------------------------------------------------------------------------------------------
// The phases

/// An events.k8s.io/v1 Event like the controller's Recorder creates.
fn event_for(layout: &Layout, i: usize, uid: &str, reason: &str) -> Event {
    serde_json::from_value(json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{}", layout.name(i), &uuid::Uuid::new_v4().simple().to_string()[..16]),
            "namespace": layout.namespace(i),
        },
        "eventTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "reportingController": "launch-operator",
        "reportingInstance": "bench",
        "action": "Reconcile",
        "reason": reason,
        "note": "launch is CREATED in Evidently and matches the spec",
        "type": "Normal",
        "regarding": {
            "apiVersion": API_VERSION,
            "kind": "Launch",
            "name": layout.name(i),
            "namespace": layout.namespace(i),
            "uid": uid,
        },
    }))
    .unwrap()
}

/// What the client writes in a no-controller baseline.
#[derive(Clone, Copy, PartialEq)]
enum Writes {
    /// Create, then one status patch: the least any controller needs.
    Minimal,
    /// Every write the controller makes for a new launch: create (the finalizer is added at
    /// admission), status patch, and its one event (Created).
    Controller,
}

/// Baseline: no controller; the client writes N objects itself (`writes`), at the same
/// concurrency as the controller run's applies.
async fn baseline(admin: &Client, s: &Settings, writes: Writes) -> Duration {
    let layout = Layout::new(admin, "bench-baseline", s.n).await;
    let started = Instant::now();
    stream::iter(0..s.n)
        .for_each_concurrent(s.client_concurrency, |i| {
            let layout = &layout;
            async move {
                let api = layout.api(admin, i);
                let created = api
                    .patch(
                        &layout.name(i),
                        &PatchParams::apply("bench"),
                        &Patch::Apply(layout.manifest(i)),
                    )
                    .await
                    .expect("create");
                let uid = created.metadata.uid.unwrap_or_default();
                let events: Api<Event> = Api::namespaced(admin.clone(), layout.namespace(i));
                api.patch_status(
                    &layout.name(i),
                    &PatchParams::apply("bench-baseline").force(),
                    &Patch::Apply(ready_status(layout, i)),
                )
                .await
                .expect("status patch");
                if writes == Writes::Controller {
                    events
                        .create(
                            &PostParams::default(),
                            &event_for(layout, i, &uid, "Created"),
                        )
                        .await
                        .expect("event");
                }
            }
        })
        .await;
    let took = started.elapsed();
    // Gone before any controller starts: finalizers (from the admission policy) dropped, then
    // deleted at once.
    {
        stream::iter(0..s.n)
            .for_each_concurrent(s.client_concurrency, |i| {
                let layout = &layout;
                async move {
                    layout
                        .api(admin, i)
                        .patch(
                            &layout.name(i),
                            &PatchParams::default(),
                            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                        )
                        .await
                        .expect("drop the finalizer");
                }
            })
            .await;
    }
    for ns in &layout.namespaces {
        Api::<Launch>::namespaced(admin.clone(), ns)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .expect("delete the baseline's objects");
    }
    took
}

/// Whether a new Launch gets the controller's finalizer at admission right now (dry-run create).
async fn admission_adds_finalizer(admin: &Client, layout: &Layout) -> bool {
    let mut probe: Launch = serde_json::from_value(layout.manifest(0)).unwrap();
    probe.metadata.name = Some("bench-admission-probe".into());
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let created = layout
        .api(admin, 0)
        .create(&params, &probe)
        .await
        .expect("dry-run create");
    created
        .metadata
        .finalizers
        .unwrap_or_default()
        .iter()
        .any(|f| f == FINALIZER)
}

/// Binds (as deploy/ does) or unbinds the finalizer admission policy, and waits until the API
/// server acts on it.
async fn set_admission_policy(admin: &Client, layout: &Layout, on: bool) {
    if on {
        support::control_plane::apply_file(admin, &repo_root().join(POLICY_FILE)).await;
    } else {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingAdmissionPolicyBinding",
            ),
            "mutatingadmissionpolicybindings",
        );
        Api::<DynamicObject>::all_with(admin.clone(), &resource)
            .delete(POLICY_BINDING, &DeleteParams::default())
            .await
            .expect("unbind the admission policy");
    }
    support::eventually(
        &format!(
            "the finalizer admission policy to be {}",
            if on { "on" } else { "off" }
        ),
        Duration::from_secs(30),
        || async {
            if admission_adds_finalizer(admin, layout).await == on {
                Ok(())
            } else {
                Err("not yet".to_string())
            }
        },
    )
    .await;
}

async fn run(s: &Settings) -> Results {
    let cp = ControlPlane::shared();
    // Part 1 measures the admission policy bound and unbound, so it needs a server that serves
    // it: the harness's default version does (README, "Supported Kubernetes versions").
    assert!(
        cp.serves_admission_policy,
        "the benchmarks need Kubernetes 1.36+ (MutatingAdmissionPolicy v1); this server is {}",
        cp.version
    );
    let admin = cp.admin().await;
    let tracker = Tracker::start(&admin).await;
    let mut r = Results {
        n: s.n,
        resync: Duration::from_secs(300),
        ..Results::default()
    };
    if let Some(resync) = s
        .controller_args
        .iter()
        .find_map(|a| a.strip_prefix("--resync-interval="))
    {
        r.resync = humantime::parse_duration(resync).expect("--resync-interval");
    }

    // 5. The emulator alone, first, on a quiet machine.
    r.emulator = emulator_bench(s).await;
    println!("emulator: {:?}", r.emulator);

    // 1. Convergence: baseline, then the controller.
    // The baseline is the bare control plane: no admission policy.
    let probe = Layout::new(&admin, "bench-probe", 1).await;
    set_admission_policy(&admin, &probe, false).await;
    r.baseline = baseline(&admin, s, Writes::Minimal).await;
    set_admission_policy(&admin, &probe, true).await;
    r.baseline_policy = baseline(&admin, s, Writes::Minimal).await;
    r.floor = baseline(&admin, s, Writes::Controller).await;
    println!(
        "baseline: {:?}, the controller's writes: {:?}",
        r.baseline, r.floor
    );
    let emulator = start_emulator(&[]).await;
    let layout = Layout::new(&admin, "bench", s.n + s.seq).await;
    layout.seed(&emulator).await;
    let mut ctl = controller(&emulator, s).await;
    let ctl_pid = pid(&ctl);
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.start_rss_kib = proc_status_kib(ctl_pid, "VmRSS:");
    let cpu_before = cpu_seconds(ctl_pid);
    let started = Instant::now();
    layout.apply_all(&admin, 0..s.n, s.client_concurrency).await;
    r.submit = started.elapsed();
    let keys: Vec<String> = (0..s.n).map(|i| layout.key(i)).collect();
    let last = tracker
        .wait_all(&keys, converge_timeout(s.n), Duration::from_millis(50))
        .await;
    r.converge = last - started;
    r.converge_cpu = cpu_seconds(ctl_pid) - cpu_before;
    r.converge_hwm_kib = proc_status_kib(ctl_pid, "VmHWM:");
    println!("convergence: {:?} (baseline {:?})", r.converge, r.baseline);

    // 2. Steady state: the same launches, left alone.
    tokio::time::sleep(s.settle).await;
    let versions = layout.versions(&admin).await;
    assert_eq!(versions.len(), s.n);
    let writes = apiserver_writes(&admin).await;
    let (mutating, gets) = (
        emulator_mutating_calls(&emulator).await,
        emulator_calls(&emulator, "GetLaunch").await,
    );
    let cpu = cpu_seconds(ctl_pid);
    let window = Instant::now();
    tokio::time::sleep(s.idle).await;
    r.idle = window.elapsed();
    let after = layout.versions(&admin).await;
    r.idle_launch_writes = versions
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .count();
    r.idle_api_writes = apiserver_writes(&admin).await - writes;
    let (mutating_after, gets_after) = (
        emulator_mutating_calls(&emulator).await,
        emulator_calls(&emulator, "GetLaunch").await,
    );
    r.idle_mutating = mutating_after - mutating;
    r.idle_gets = gets_after - gets;
    r.idle_cpu = cpu_seconds(ctl_pid) - cpu;
    r.idle_rss_kib = proc_status_kib(ctl_pid, "VmRSS:");
    println!(
        "steady state: {} launch writes, {} API writes, {} mutating, {} GetLaunch, {:.2} s CPU",
        r.idle_launch_writes, r.idle_api_writes, r.idle_mutating, r.idle_gets, r.idle_cpu
    );

    // 3. Latency: one launch at a time.
    for i in s.n..s.n + s.seq {
        let key = layout.key(i);
        let t = Instant::now();
        layout.apply(&admin, i).await;
        let ready = tracker
            .wait_all(
                std::slice::from_ref(&key),
                Duration::from_secs(60),
                Duration::from_millis(2),
            )
            .await;
        r.latencies.push(ready - t);
        assert!(tracker.ready_at(&key).is_some());
    }
    println!("latency: p50 {:?} p99 {:?}", r.p(0.5), r.p(0.99));

    // 1b. Convergence with the admission policy unbound: the controller adds every finalizer.
    set_admission_policy(&admin, &probe, false).await;
    let plain = Layout::new(&admin, "bench-nopolicy", s.n).await;
    plain.seed(&emulator).await;
    let t = Instant::now();
    plain.apply_all(&admin, 0..s.n, s.client_concurrency).await;
    let keys: Vec<String> = (0..s.n).map(|i| plain.key(i)).collect();
    let last = tracker
        .wait_all(&keys, converge_timeout(s.n), Duration::from_millis(50))
        .await;
    r.converge_no_policy = last - t;
    set_admission_policy(&admin, &probe, true).await;
    println!(
        "convergence without the admission policy: {:?}",
        r.converge_no_policy
    );

    // Deletion of everything, which also leaves the cluster empty for the memory phase.
    r.deleted = s.n + s.seq + s.n;
    let t = Instant::now();
    for ns in layout.namespaces.iter().chain(&plain.namespaces) {
        Api::<Launch>::namespaced(admin.clone(), ns)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .expect("delete launches");
    }
    support::eventually(
        "every launch deleted",
        converge_timeout(r.deleted),
        || async {
            let left = layout.versions(&admin).await.len() + plain.versions(&admin).await.len();
            if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} left"))
            }
        },
    )
    .await;
    r.deletion = t.elapsed();
    println!("deletion: {:?}", r.deletion);
    ctl.kill();
    drop(emulator);

    // 6. A whole setup from empty; it leaves the cluster empty again for the memory phase.
    r.setup = Some(setup_bench(&admin, s, &probe).await);

    // 4. Memory: a fresh controller against M launches (created while no controller runs).
    if let Some(&largest) = s.memory.last() {
        let emulator = start_emulator(&[]).await;
        let layout = Layout::new(&admin, "bench-mem", largest).await;
        layout.seed(&emulator).await;
        let mut created = 0;
        for &m in &s.memory {
            layout
                .apply_all(&admin, created..m, s.client_concurrency.max(32))
                .await;
            created = m;
            let mut ctl = controller(&emulator, s).await;
            let ctl_pid = pid(&ctl);
            let t = Instant::now();
            support::eventually(
                &format!("the controller to reconcile {m} launches to Ready"),
                converge_timeout(m),
                || async {
                    match controller_ready(&ctl).await {
                        n if n >= m => Ok(()),
                        n => Err(format!("{n} Ready")),
                    }
                },
            )
            .await;
            let took = t.elapsed();
            // The passes that follow each status write, then the peak.
            tokio::time::sleep(s.settle).await;
            let hwm = proc_status_kib(ctl_pid, "VmHWM:");
            let cpu = cpu_seconds(ctl_pid);
            println!(
                "memory: {m} launches, peak RSS {:.1} MiB, Ready in {took:?}",
                mib(hwm)
            );
            r.memory.push((m, hwm, took, cpu));
            ctl.kill();
        }
    }
    r
}

// ---------------------------------------------------------------------------------------------
// 5. The emulator on its own: CreateLaunch, GetLaunch and the data plane over keep-alive HTTP at
// several concurrencies.

type Http = HttpClient<HttpConnector, Full<Bytes>>;
/// The row name of the no-work requests the operations are read against.
const HTTP_FLOOR: &str = "GET /healthz (no work, the floor)";
/// The row names of the data plane.
const EVALUATE: &str = "EvaluateFeature";
const BATCH_EVALUATE: &str = "BatchEvaluateFeature (20 per call)";
const SIGNED_GET: &str = "GetLaunch, signed (--auth sigv4)";
const SIGNED_EVALUATE: &str = "EvaluateFeature, signed (--auth sigv4)";
/// Evaluations per batch call.
const BATCH: usize = 20;
/// Launches per project the CreateLaunch runs fill up to (the emulator allows 500).
const EMULATOR_PER_PROJECT: usize = 400;

async fn call(http: &Http, addr: SocketAddr, method: &str, path: &str, body: String) -> u16 {
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = http.request(request).await.unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

fn emulator_launch_body(name: &str) -> String {
    json!({
        "name": name,
        "groups": [
            {"name": "control", "feature": "f", "variation": "v1"},
            {"name": "treatment", "feature": "f", "variation": "v2"}
        ],
        "scheduledSplitsConfig": {"steps": [
            {"startTime": 1750000000, "groupWeights": {"control": 90000, "treatment": 10000}}
        ]},
        "tags": {"bench": "yes"}
    })
    .to_string()
}

/// `total` requests over `concurrency` workers: (requests/s, p50, p99).
async fn load<F, Fut>(concurrency: usize, total: usize, request: F) -> (f64, Duration, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let request = request.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let t = Instant::now();
                    let status = request(i).await;
                    latencies.push(t.elapsed());
                    assert_eq!(status, 200, "request {i}");
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let wall = started.elapsed();
    latencies.sort();
    (
        total as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    )
}

/// Opens `concurrency` keep-alive connections before a timed run, as a long-running client
/// (the controller, an SDK) has them: the timed requests measure the emulator, not TCP setup.
async fn warm_up(http: &Http, addr: SocketAddr, concurrency: usize) {
    let calls = (0..concurrency).map(|_| call(http, addr, "GET", "/projects/p0", String::new()));
    for status in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "warm-up GetProject");
    }
}

async fn emulator_bench(s: &Settings) -> Vec<(&'static str, usize, f64, Duration, Duration)> {
    let emulator = start_emulator_unsigned(&[]).await;
    let addr: SocketAddr = emulator
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let http: Http = HttpClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build_http();
    let creates = s.emulator_creates;
    let levels = &s.emulator_levels;
    // The creates of all levels, spread evenly so that no project reaches its quota.
    let projects = (creates * levels.len())
        .div_ceil(EMULATOR_PER_PROJECT)
        .max(1);
    for p in 0..projects {
        let project = format!("p{p}");
        let body = json!({"name": project}).to_string();
        assert_eq!(call(&http, addr, "POST", "/projects", body).await, 200);
        let feature = json!({"name": "f", "variations": [
            {"name": "v1", "value": {"stringValue": "a"}},
            {"name": "v2", "value": {"stringValue": "b"}}
        ]});
        let path = format!("/projects/{project}/features");
        assert_eq!(
            call(&http, addr, "POST", &path, feature.to_string()).await,
            200
        );
    }
    let mut out = Vec::new();
    // The floor: the same client and server doing no work at all (`GET /healthz`), to read the
    // operations' numbers against what this machine's HTTP round trip costs at each level.
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let (rate, p50, p99) = load(concurrency, s.emulator_gets, move |_| {
            let h = h.clone();
            async move { call(&h, addr, "GET", "/healthz", String::new()).await }
        })
        .await;
        out.push((HTTP_FLOOR, concurrency, rate, p50, p99));
    }
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let (rate, p50, p99) = load(concurrency, creates, move |i| {
            let h = h.clone();
            async move {
                let path = format!("/projects/p{}/launches", i % projects);
                let name = format!("c{concurrency}-l{i}");
                call(&h, addr, "POST", &path, emulator_launch_body(&name)).await
            }
        })
        .await;
        out.push(("CreateLaunch", concurrency, rate, p50, p99));
    }
    let first = levels[0];
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let (rate, p50, p99) = load(concurrency, s.emulator_gets, move |i| {
            let h = h.clone();
            async move {
                // Launches of the first level: c<first>-l<j> lives in project p<j % projects>.
                let j = i % creates;
                let path = format!("/projects/p{}/launches/c{first}-l{j}", j % projects);
                call(&h, addr, "GET", &path, String::new()).await
            }
        })
        .await;
        out.push(("GetLaunch", concurrency, rate, p50, p99));
    }
    // The data plane: a RUNNING launch with a segment override on p0's feature, then
    // evaluations with contexts that match the segment half of the time. No write happens
    // during these runs, so they measure the compiled view, never the store.
    let segment =
        json!({"name": "bench-beta", "pattern": r#"{"beta":[true],"country":[{"prefix":"D"}]}"#});
    assert_eq!(
        call(&http, addr, "POST", "/segments", segment.to_string()).await,
        200
    );
    let launch = json!({
        "name": "bench-eval",
        "groups": [
            {"name": "control", "feature": "f", "variation": "v1"},
            {"name": "treatment", "feature": "f", "variation": "v2"}
        ],
        "scheduledSplitsConfig": {"steps": [
            {"startTime": 1700000000, "groupWeights": {"control": 50000, "treatment": 40000},
             "segmentOverrides": [{"segment": "bench-beta", "evaluationOrder": 1, "weights": {"treatment": 100000}}]}
        ]}
    });
    let path = "/projects/p0/launches";
    assert_eq!(
        call(&http, addr, "POST", path, launch.to_string()).await,
        200
    );
    let start = "/projects/p0/launches/bench-eval/start";
    assert_eq!(call(&http, addr, "POST", start, String::new()).await, 200);
    let context = |i: usize| {
        if i.is_multiple_of(2) {
            r#"{"beta":true,"country":"DE","plan":"pro"}"#
        } else {
            r#"{"beta":false,"country":"FR","plan":"free"}"#
        }
    };
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let (rate, p50, p99) = load(concurrency, s.emulator_gets, move |i| {
            let h = h.clone();
            async move {
                let body =
                    json!({"entityId": format!("user-{i}"), "evaluationContext": context(i)});
                call(
                    &h,
                    addr,
                    "POST",
                    "/projects/p0/evaluations/f",
                    body.to_string(),
                )
                .await
            }
        })
        .await;
        out.push((EVALUATE, concurrency, rate, p50, p99));
    }
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let calls = (s.emulator_gets / BATCH).max(1);
        let (rate, p50, p99) = load(concurrency, calls, move |i| {
            let h = h.clone();
            async move {
                let requests: Vec<_> = (0..BATCH)
                    .map(|j| {
                        let n = i * BATCH + j;
                        json!({"feature": "f", "entityId": format!("user-{n}"), "evaluationContext": context(n)})
                    })
                    .collect();
                let body = json!({ "requests": requests }).to_string();
                call(&h, addr, "POST", "/projects/p0/evaluations", body).await
            }
        })
        .await;
        out.push((BATCH_EVALUATE, concurrency, rate, p50, p99));
    }
    out.extend(signed_rows(s, &http).await);
    out
}

/// The cost of signatures: the same GetLaunch and EvaluateFeature calls against an emulator
/// that checks them (`--auth sigv4`), each signed by the client with `aws-sigv4` as the SDKs
/// do, beside the unsigned rows of the same run.
async fn signed_rows(
    s: &Settings,
    http: &Http,
) -> Vec<(&'static str, usize, f64, Duration, Duration)> {
    let emulator = start_emulator(&[]).await;
    let addr: SocketAddr = emulator
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let feature = json!({"name": "f", "variations": [
        {"name": "v1", "value": {"stringValue": "a"}},
        {"name": "v2", "value": {"stringValue": "b"}}
    ]});
    let launch = json!({
        "name": "signed",
        "groups": [
            {"name": "control", "feature": "f", "variation": "v1"},
            {"name": "treatment", "feature": "f", "variation": "v2"}
        ],
        "scheduledSplitsConfig": {"steps": [
            {"startTime": 1700000000, "groupWeights": {"control": 50000, "treatment": 50000}}
        ]}
    });
    for (path, body) in [
        ("/projects", json!({"name": "p0"}).to_string()),
        ("/projects/p0/features", feature.to_string()),
        ("/projects/p0/launches", launch.to_string()),
        ("/projects/p0/launches/signed/start", String::new()),
    ] {
        assert_eq!(
            signed_call(http, addr, "POST", path, body).await,
            200,
            "{path}"
        );
    }
    let mut out = Vec::new();
    for &concurrency in &s.emulator_levels {
        let h = http.clone();
        let (rate, p50, p99) = load(concurrency, s.emulator_gets, move |_| {
            let h = h.clone();
            async move {
                signed_call(
                    &h,
                    addr,
                    "GET",
                    "/projects/p0/launches/signed",
                    String::new(),
                )
                .await
            }
        })
        .await;
        out.push((SIGNED_GET, concurrency, rate, p50, p99));
    }
    for &concurrency in &s.emulator_levels {
        let h = http.clone();
        let (rate, p50, p99) = load(concurrency, s.emulator_gets, move |i| {
            let h = h.clone();
            async move {
                let body = json!({"entityId": format!("user-{i}")}).to_string();
                signed_call(&h, addr, "POST", "/projects/p0/evaluations/f", body).await
            }
        })
        .await;
        out.push((SIGNED_EVALUATE, concurrency, rate, p50, p99));
    }
    out
}

/// One request signed with the test key (`support::TEST_KEYS`), as the SDKs sign.
async fn signed_call(http: &Http, addr: SocketAddr, method: &str, path: &str, body: String) -> u16 {
    use aws_sigv4::{
        http_request::{SignableBody, SignableRequest, SigningSettings, sign},
        sign::v4,
    };
    let identity =
        aws_credential_types::Credentials::new("test", "test", None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("evidently")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = addr.to_string();
    let url = format!("http://{host}{path}");
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let signable = SignableRequest::new(
        method,
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = Request::builder()
        .method(method)
        .uri(&url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let response = http.request(request).await.unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

// ---------------------------------------------------------------------------------------------
// Report

fn first_line_of(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

fn git(args: &[&str]) -> String {
    std::process::Command::new("git")
        .args(args)
        .current_dir(repo_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn machine(admin: &Client, load_at_start: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = first_line_of("/proc/cpuinfo", "model name\t:");
    let mem_kib: u64 = first_line_of("/proc/meminfo", "MemTotal:")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = admin
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .unwrap_or_default();
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    format!(
        "- machine: {cpus} CPUs (`nproc`), {:.1} GiB memory, {model}, Linux {}\n\
         - control plane: kube-apiserver {version} + etcd (`--unsafe-no-fsync`), one process each, on the same machine\n\
         - emulator: SQLite, durable writes, data directory on the local disk\n\
         - load average (1, 5, 15 min) at start: {load_at_start}, at end: {}; other processes share the machine\n\
         - commit: {}{dirty}; {}\n",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        loadavg(),
        git(&["rev-parse", "--short", "HEAD"]),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    )
}

const BEGIN: &str = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->";
const END: &str = "<!-- bench:end -->";

fn write_report(section: &str) -> PathBuf {
    let path = std::env::var_os("BENCH_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("BENCHMARKS.md"));
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let block = format!("{BEGIN}\n{section}{END}\n");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{block}{}",
                &old[..b],
                old[e + END.len()..].trim_start_matches('\n')
            )
        }
        _ if old.is_empty() => format!("# Benchmarks\n\n{block}"),
        _ => format!("{}\n{block}", old.trim_end()),
    };
    std::fs::write(&path, new).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: make bench"]
async fn bench() {
    let s = Settings::from_env();
    println!("settings: {s:?}");
    let load_at_start = loadavg();
    let r = run(&s).await;
    let admin = ControlPlane::shared().admin().await;
    let mut command = Settings::env_words();
    command.push("make bench".into());
    let section = format!(
        "{}- command: `{}` (= `cargo test --release --test bench bench -- --ignored --exact --nocapture --test-threads=1`)\n\
         - controller: release build, `controller --leader-election=false{}` (all namespaces, resync {}, RUST_LOG=info), deploy/ ServiceAccount; bench client concurrency {}\n\n{}",
        machine(&admin, &load_at_start).await,
        command.join(" "),
        s.controller_args
            .iter()
            .map(|a| format!(" {a}"))
            .collect::<String>(),
        humantime::format_duration(r.resync),
        s.client_concurrency,
        r.table()
    );
    println!("\n{section}");
    let path = write_report(&section);
    println!("written to {}", path.display());
}

/// Part 5 alone (the emulator, no control plane), printed and not written to BENCHMARKS.md:
/// `make bench-emulator`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: make bench-emulator"]
async fn bench_emulator() {
    let s = Settings::from_env();
    let r = Results {
        emulator: emulator_bench(&s).await,
        ..Results::default()
    };
    for row in r.rows().iter().filter(|row| row.section == "emulator") {
        println!("| {} | {} | {} |", row.metric, row.value, row.goal);
    }
}

/// Part 6 alone (a whole setup from empty), printed and not written to BENCHMARKS.md:
/// `make bench-setup`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: make bench-setup"]
async fn bench_setup() {
    let s = Settings::from_env();
    println!("settings: {:?}", s.setup);
    let cp = ControlPlane::shared();
    assert!(
        cp.serves_admission_policy,
        "part 6 turns the finalizer admission policy on and off: it needs Kubernetes 1.36+ (MutatingAdmissionPolicy v1); this server is {}",
        cp.version
    );
    let admin = cp.admin().await;
    let probe = Layout::new(&admin, "bench-probe", 1).await;
    let load_at_start = loadavg();
    let r = setup_bench(&admin, &s, &probe).await;
    println!("{}", machine(&admin, &load_at_start).await);
    for row in r.rows() {
        println!("| {} | {} | {} |", row.metric, row.value, row.goal);
    }
}

/// The benchmark's code paths with tiny sizes, in every `cargo test`: it checks that each
/// number is produced, nothing about its value, and writes no file.
#[tokio::test(flavor = "multi_thread")]
async fn bench_smoke_tiny_n() {
    let s = Settings::tiny();
    let r = run(&s).await;
    println!("{}", r.table());
    assert!(r.baseline > Duration::ZERO && r.floor > Duration::ZERO);
    assert!(r.converge > Duration::ZERO && r.start_rss_kib > 0);
    assert!(r.ratio().is_finite());
    assert_eq!(r.latencies.len(), s.seq);
    assert!(r.idle >= s.idle);
    assert!(r.idle_rss_kib > 0);
    assert!(r.converge_hwm_kib > 0);
    assert_eq!(r.memory.len(), 1);
    assert!(r.memory.iter().all(|m| m.1 > 0));
    assert_eq!(r.emulator.len(), 7 * s.emulator_levels.len());
    assert!(r.emulator.iter().all(|e| e.2 > 0.0));
    assert!(r.converge_no_policy > Duration::ZERO && r.baseline_policy > Duration::ZERO);
    assert_eq!(r.deleted, s.n + s.seq + s.n);
    let setup = r.setup.as_ref().expect("part 6 ran");
    assert!(setup.baseline > Duration::ZERO && setup.converge > Duration::ZERO);
    assert!(setup.ratio().is_finite() && setup.deletion > Duration::ZERO);
    assert!(setup.total_calls() >= setup.minimum_calls() as f64);
    assert_eq!(
        setup.calls["CreateLaunch"].0 - setup.calls["CreateLaunch"].1,
        4.0
    );
    assert_eq!(
        setup.calls["StartLaunch"].0 - setup.calls["StartLaunch"].1,
        1.0
    );
    // 17 fixed rows, 6 of part 6, one per memory size and one per emulator measurement.
    assert_eq!(r.rows().len(), 17 + 6 + r.memory.len() + r.emulator.len());
}
