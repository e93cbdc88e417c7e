//! The results of a run, their table (one row per measurement, with its goal) and the report
//! around it: the machine, the commit, and the block of BENCHMARKS.md between the markers.

use std::{path::PathBuf, time::Duration};

use kube::Client;

use crate::{
    emulator::{EVALUATE, EmulatorResults, Floor, HTTP_FLOOR, SIGNED_EVALUATE, SIGNED_GET},
    setup::SetupResults,
    support::repo_root,
};

#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) n: usize,
    /// Minimal writes, no admission policy bound: the control plane's own limit.
    pub(crate) baseline: Duration,
    /// The same minimal writes with the finalizer admission policy bound.
    pub(crate) baseline_policy: Duration,
    /// The controller's own writes, made by the client with no controller.
    pub(crate) floor: Duration,
    pub(crate) converge: Duration,
    /// The same with the finalizer admission policy unbound (the controller adds each one).
    pub(crate) converge_no_policy: Duration,
    /// Controller RSS one second after start, no launches.
    pub(crate) start_rss_kib: u64,
    /// Time for the client to submit the N applies (during the controller run).
    pub(crate) submit: Duration,
    pub(crate) converge_cpu: f64,
    pub(crate) converge_hwm_kib: u64,
    pub(crate) idle: Duration,
    pub(crate) idle_launch_writes: usize,
    pub(crate) idle_api_writes: f64,
    pub(crate) idle_mutating: f64,
    pub(crate) idle_gets: f64,
    pub(crate) idle_cpu: f64,
    pub(crate) idle_rss_kib: u64,
    pub(crate) resync: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) deletion: Duration,
    pub(crate) deleted: usize,
    /// (launches, peak RSS KiB, time until all Ready, controller CPU seconds)
    pub(crate) memory: Vec<(usize, u64, Duration, f64)>,
    /// (operation, concurrency, requests/s, p50, p99)
    pub(crate) emulator: EmulatorResults,
    /// Part 6.
    pub(crate) setup: Option<SetupResults>,
}

/// Nearest-rank percentile of sorted samples.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub(crate) struct Row {
    pub(crate) section: &'static str,
    pub(crate) metric: String,
    pub(crate) value: String,
    pub(crate) goal: String,
}

impl Results {
    pub(crate) fn p(&self, q: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        percentile(&l, q)
    }

    pub(crate) fn ratio(&self) -> f64 {
        self.converge.as_secs_f64() / self.baseline.as_secs_f64()
    }

    pub(crate) fn rows(&self) -> Vec<Row> {
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
        for e in &self.emulator.rows {
            // Against the no-work requests to the same store's emulator at the same
            // concurrency, measured in the same run: interleaved with the row's own requests
            // where the row has them, else the store's floor row.
            let floor = e.floor.or_else(|| {
                self.emulator
                    .rows
                    .iter()
                    .find(|f| {
                        f.store == e.store && f.op == HTTP_FLOOR && f.concurrency == e.concurrency
                    })
                    .filter(|_| e.op != HTTP_FLOOR)
                    .map(|f| Floor {
                        rate: f.rate,
                        p99: f.p99,
                    })
            });
            let rate_ratio = floor.map(|f| e.rate / f.rate);
            let p99_ratio = floor.map(|f| e.p99.as_secs_f64() / f.p99.as_secs_f64());
            let goal = match (e.op, e.concurrency, rate_ratio, p99_ratio) {
                ("GetLaunch", 64, _, _) => format!("≥ 20k/s: {}", verdict(e.rate >= 20_000.0)),
                ("CreateLaunch", _, _, Some(p)) => {
                    format!("p99 ≤ 3× the no-work floor's p99: {}", verdict(p <= 3.0))
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
            let floor = match (rate_ratio, p99_ratio, e.floor) {
                (Some(r), Some(p), Some(f)) => format!(
                    " ({r:.2}× the floor's rate, p99 {p:.1}× the floor's; the floor interleaved \
                     with these requests: {:.0} req/s, p99 {:.2} ms)",
                    f.rate,
                    ms(f.p99)
                ),
                (Some(r), Some(p), None) => {
                    format!(" ({r:.2}× the floor's rate, p99 {p:.1}× the floor's)")
                }
                _ => String::new(),
            };
            rows.push(row(
                "emulator",
                format!(
                    "{}: {}, concurrency {}",
                    e.store.name(),
                    e.op,
                    e.concurrency
                ),
                format!(
                    "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{floor}",
                    e.rate,
                    ms(e.p50),
                    ms(e.p99)
                ),
                goal,
            ));
        }
        for c in &self.emulator.pg_creates {
            let creates = c.creates as f64;
            let fsync = if c.fsyncs > 0 {
                format!(", {:.2} ms each", c.fsync_ms / c.fsyncs as f64)
            } else {
                String::new()
            };
            rows.push(row(
                "emulator",
                format!(
                    "PostgreSQL: CreateLaunch, concurrency {}: the emulator's connections, as the database saw them",
                    c.concurrency
                ),
                format!(
                    "{:.1} waiting for the write lock, {:.1} in a transaction waiting for the emulator, \
                     {:.1} writing or flushing WAL, {:.1} running, {:.1} other (means of {} samples); \
                     {:.2} WAL fsyncs per create{fsync}",
                    c.write_lock,
                    c.emulator,
                    c.wal,
                    c.running,
                    c.other,
                    c.samples,
                    c.fsyncs as f64 / creates,
                ),
                String::new(),
            ));
        }
        rows
    }

    pub(crate) fn table(&self) -> String {
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

pub(crate) fn first_line_of(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn git(args: &[&str]) -> String {
    std::process::Command::new("git")
        .args(args)
        .current_dir(repo_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) async fn machine(admin: &Client, load_at_start: &str) -> String {
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
         - emulator: SQLite (durable writes, data directory on the local disk), then PostgreSQL {} (the test harness's server on this machine, `fsync=on`), default flags\n\
         - load average (1, 5, 15 min) at start: {load_at_start}, at end: {}; other processes share the machine\n\
         - commit: {}{dirty}; {}\n",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        postgres_version(),
        loadavg(),
        git(&["rev-parse", "--short", "HEAD"]),
        k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
    )
}

/// The major version of the harness's PostgreSQL, from the directory of its binaries.
fn postgres_version() -> String {
    crate::support::postgres::bin_dir()
        .parent()
        .and_then(|d| d.file_name())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) const BEGIN: &str =
    "<!-- bench:begin (written by `make bench`; edit outside the markers) -->";
pub(crate) const END: &str = "<!-- bench:end -->";

pub(crate) fn write_report(section: &str) -> PathBuf {
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
