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
//! 5. the emulator, on SQLite and then on PostgreSQL (a durable server of the test harness):
//!    CreateLaunch, GetLaunch, EvaluateFeature and BatchEvaluateFeature (20 evaluations per
//!    call) throughput and latency at concurrency 1, 8, 64, each against the floor of the same
//!    store's emulator in the same run: `GET /healthz` (no work) at the same concurrency, for
//!    the two evaluation rows measured in five slices alternating with theirs; GetLaunch
//!    and EvaluateFeature signed by the client against an emulator that checks signatures
//!    (`--auth sigv4`), the cost of verification beside the unsigned rows; and, for PostgreSQL,
//!    where the database's connections were during each CreateLaunch level.
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
//! Part 5 starts its own PostgreSQL server, as the store tests do: it needs Debian's server
//! binaries (`apt-get install postgresql`, or `PG_BIN`).
//!
//! It is not a timed test: nothing asserts speed. `bench_smoke_tiny_n` runs the same code with
//! tiny sizes in every `cargo test` so that the benchmark keeps working.
//!
//! One module per part: `settings`, `report` (the table and BENCHMARKS.md), `procfs` (what the
//! processes say about themselves), `operator` (parts 1 to 4), `emulator` (part 5), `setup`
//! (part 6).

// AWS marked the Evidently client deprecated; the emulator keeps it alive.
#![allow(deprecated)]

mod emulator;
mod operator;
mod procfs;
mod report;
mod settings;
mod setup;
#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use emulator::{STORES, emulator_bench};
use operator::{Layout, run};
use report::{Results, loadavg, machine, write_report};
use settings::Settings;
use setup::setup_bench;
use support::ControlPlane;

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
    let levels = s.emulator_levels.len();
    assert_eq!(r.emulator.rows.len(), 7 * levels * STORES);
    assert!(r.emulator.rows.iter().all(|e| e.rate > 0.0));
    assert_eq!(r.emulator.pg_creates.len(), levels);
    assert!(r.emulator.pg_creates.iter().all(|c| c.samples > 0));
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
    // 17 fixed rows, 6 of part 6, one per memory size, one per emulator measurement and one
    // per PostgreSQL CreateLaunch level seen from the database.
    let emulator = r.emulator.rows.len() + r.emulator.pg_creates.len();
    assert_eq!(r.rows().len(), 17 + 6 + r.memory.len() + emulator);
}
