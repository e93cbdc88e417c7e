//! Part 5: the emulator on its own. CreateLaunch, GetLaunch and the data plane over keep-alive
//! HTTP at several concurrencies, each against the no-work floor of the same run.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use hyper_util::{
    client::legacy::{Client as HttpClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::json;

use crate::{
    report::percentile,
    settings::Settings,
    support::{postgres::Postgres, start_emulator, start_emulator_unsigned},
};

pub(crate) type Http = HttpClient<HttpConnector, Full<Bytes>>;
/// The row name of the no-work requests the operations are read against.
pub(crate) const HTTP_FLOOR: &str = "GET /healthz (no work, the floor)";
/// The row names of the data plane.
pub(crate) const EVALUATE: &str = "EvaluateFeature";
pub(crate) const BATCH_EVALUATE: &str = "BatchEvaluateFeature (20 per call)";
pub(crate) const SIGNED_GET: &str = "GetLaunch, signed (--auth sigv4)";
pub(crate) const SIGNED_EVALUATE: &str = "EvaluateFeature, signed (--auth sigv4)";
/// Evaluations per batch call.
pub(crate) const BATCH: usize = 20;
/// Launches per project the CreateLaunch runs fill up to (the emulator allows 500).
pub(crate) const EMULATOR_PER_PROJECT: usize = 400;

/// The stores part 5 runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Postgres => "PostgreSQL",
        }
    }
}

/// How many stores part 5 measures.
pub(crate) const STORES: usize = 2;

/// One measurement of part 5: an operation at one concurrency on one store.
#[derive(Debug, Clone)]
pub(crate) struct EmulatorRow {
    pub(crate) store: Store,
    pub(crate) op: &'static str,
    pub(crate) concurrency: usize,
    /// Requests per second.
    pub(crate) rate: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// The floor this row is read against when it was measured interleaved with it (the data
    /// plane's rows); otherwise the store's `HTTP_FLOOR` row at the same concurrency.
    pub(crate) floor: Option<Floor>,
}

/// The no-work floor measured in slices alternating with an operation's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floor {
    pub(crate) rate: f64,
    pub(crate) p99: Duration,
}

/// Part 5's results.
#[derive(Debug, Default)]
pub(crate) struct EmulatorResults {
    pub(crate) rows: Vec<EmulatorRow>,
    /// PostgreSQL's side of each CreateLaunch level on PostgreSQL.
    pub(crate) pg_creates: Vec<PgCreates>,
}

/// Where the emulator's PostgreSQL connections were during one CreateLaunch level, from the
/// database's own statistics: `pg_stat_activity` sampled every [`PROBE_EVERY`] (mean number
/// of connections in each state over the samples; connections idle in the pool are not
/// counted), and the WAL fsyncs of `pg_stat_wal` (with `track_wal_io_timing`).
#[derive(Debug, Clone, Default)]
pub(crate) struct PgCreates {
    pub(crate) concurrency: usize,
    pub(crate) creates: usize,
    pub(crate) samples: u64,
    /// Waiting for the advisory lock that serialises writes.
    pub(crate) write_lock: f64,
    /// Inside a transaction, waiting for the emulator's next statement (a round trip, or the
    /// emulator's own CPU).
    pub(crate) emulator: f64,
    /// Writing or flushing WAL (a wait event named `WAL…`).
    pub(crate) wal: f64,
    /// Running a statement (no wait event).
    pub(crate) running: f64,
    /// Anything else.
    pub(crate) other: f64,
    pub(crate) fsyncs: i64,
    /// Time in WAL fsyncs, in ms.
    pub(crate) fsync_ms: f64,
}

/// How often [`PgProbe`] samples `pg_stat_activity`.
const PROBE_EVERY: Duration = Duration::from_millis(10);

/// How long after a run every backend has reported its statistics (see [`PgProbe::finish`]).
const STATS_FLUSHED: Duration = Duration::from_millis(10_500);

/// Watches a database during a run (see [`PgCreates`]).
struct PgProbe {
    client: tokio_postgres::Client,
    wal_before: (i64, f64),
    stop: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<PgCreates>,
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the bench's PostgreSQL");
    tokio::spawn(connection);
    client
}

/// WAL fsyncs so far and their time in ms (the whole server).
async fn wal_syncs(client: &tokio_postgres::Client) -> (i64, f64) {
    let row = client
        .query_one("SELECT wal_sync, wal_sync_time FROM pg_stat_wal", &[])
        .await
        .expect("pg_stat_wal");
    (row.get(0), row.get(1))
}

impl PgProbe {
    async fn start(url: &str) -> PgProbe {
        let client = pg_client(url).await;
        let wal_before = wal_syncs(&client).await;
        let stop = Arc::new(AtomicBool::new(false));
        let sampling = pg_client(url).await;
        let stopped = stop.clone();
        let sampler = tokio::spawn(async move {
            let mut seen = PgCreates::default();
            while !stopped.load(Ordering::Relaxed) {
                let rows = sampling
                    .query(
                        "SELECT coalesce(state, ''), coalesce(wait_event_type, ''),
                                coalesce(wait_event, '')
                         FROM pg_stat_activity
                         WHERE application_name = 'launch-operator-emulator'
                           AND datname = current_database() AND state <> 'idle'",
                        &[],
                    )
                    .await
                    .expect("pg_stat_activity");
                seen.samples += 1;
                for row in rows {
                    let (state, kind, event): (&str, &str, &str) =
                        (row.get(0), row.get(1), row.get(2));
                    let slot = match (state, kind, event) {
                        (_, "Lock", "advisory") => &mut seen.write_lock,
                        (_, _, e) if e.starts_with("WAL") => &mut seen.wal,
                        (s, _, _) if s.starts_with("idle in transaction") => &mut seen.emulator,
                        ("active", "", _) => &mut seen.running,
                        _ => &mut seen.other,
                    };
                    *slot += 1.0;
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
            seen
        });
        PgProbe {
            client,
            wal_before,
            stop,
            sampler,
        }
    }

    async fn finish(self, concurrency: usize, creates: usize) -> PgCreates {
        self.stop.store(true, Ordering::Relaxed);
        let mut seen = self.sampler.await.unwrap();
        // A backend adds its WAL counts to `pg_stat_wal` at most once a second while busy, and
        // within 10 s of going idle (PGSTAT_IDLE_INTERVAL): wait for the idle pool's last ones.
        tokio::time::sleep(STATS_FLUSHED).await;
        let (syncs, ms) = wal_syncs(&self.client).await;
        let samples = seen.samples.max(1) as f64;
        for mean in [
            &mut seen.write_lock,
            &mut seen.emulator,
            &mut seen.wal,
            &mut seen.running,
            &mut seen.other,
        ] {
            *mean /= samples;
        }
        PgCreates {
            concurrency,
            creates,
            fsyncs: syncs - self.wal_before.0,
            fsync_ms: ms - self.wal_before.1,
            ..seen
        }
    }
}

pub(crate) async fn call(
    http: &Http,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: String,
) -> u16 {
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

pub(crate) fn emulator_launch_body(name: &str) -> String {
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
pub(crate) async fn load<F, Fut>(
    concurrency: usize,
    total: usize,
    request: F,
) -> (f64, Duration, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send,
{
    let mut latencies = Vec::with_capacity(total);
    let wall = run(concurrency, 0..total, Arc::new(request), &mut latencies).await;
    summarise(latencies, wall)
}

/// Requests `range` (their indexes) over `concurrency` workers; adds their latencies to
/// `latencies` and returns the wall time.
async fn run<F, Fut>(
    concurrency: usize,
    range: std::ops::Range<usize>,
    request: Arc<F>,
    latencies: &mut Vec<Duration>,
) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send,
{
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let request = request.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
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
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    started.elapsed()
}

/// (requests/s, p50, p99) of requests that took `wall` in all.
fn summarise(mut latencies: Vec<Duration>, wall: Duration) -> (f64, Duration, Duration) {
    latencies.sort();
    (
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    )
}

/// Slices each of the operation and of the floor alternate in [`paired`].
const SLICES: usize = 5;

/// `total` requests of an operation and `total` of the floor (`GET /healthz`), in [`SLICES`]
/// alternating slices at `concurrency`, so that both see the same machine: on a shared
/// machine the floor alone moved by a third between two measurements minutes apart, more than
/// the differences the data plane's goal reads. Returns the operation's (requests/s, p50,
/// p99) and the floor's.
pub(crate) async fn paired<F, Fut>(
    http: &Http,
    addr: SocketAddr,
    concurrency: usize,
    total: usize,
    request: F,
) -> ((f64, Duration, Duration), Floor)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send,
{
    let h = http.clone();
    let floor = Arc::new(move |_| {
        let h = h.clone();
        async move { call(&h, addr, "GET", "/healthz", String::new()).await }
    });
    let request = Arc::new(request);
    let (mut op_latencies, mut floor_latencies) = (Vec::new(), Vec::new());
    let (mut op_wall, mut floor_wall) = (Duration::ZERO, Duration::ZERO);
    let slice = total.div_ceil(SLICES);
    for k in 0..SLICES {
        let range = (k * slice).min(total)..((k + 1) * slice).min(total);
        floor_wall += run(
            concurrency,
            range.clone(),
            floor.clone(),
            &mut floor_latencies,
        )
        .await;
        op_wall += run(concurrency, range, request.clone(), &mut op_latencies).await;
    }
    let (rate, _, p99) = summarise(floor_latencies, floor_wall);
    (summarise(op_latencies, op_wall), Floor { rate, p99 })
}

/// Opens `concurrency` keep-alive connections before a timed run, as a long-running client
/// (the controller, an SDK) has them: the timed requests measure the emulator, not TCP setup.
pub(crate) async fn warm_up(http: &Http, addr: SocketAddr, concurrency: usize) {
    let calls = (0..concurrency).map(|_| call(http, addr, "GET", "/projects/p0", String::new()));
    for status in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "warm-up GetProject");
    }
}

/// Part 5 on each store in turn: SQLite (the default, a data directory on the local disk),
/// then PostgreSQL (a server of the test harness on this machine, durable: `fsync=on`, with
/// WAL timing on for [`PgCreates`]), each emulator with its flags' defaults.
pub(crate) async fn emulator_bench(s: &Settings) -> EmulatorResults {
    let http: Http = HttpClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build_http();
    let mut out = EmulatorResults::default();
    out.rows = store_rows(Store::Sqlite, &[], None, s, &http, &mut out.pg_creates).await;
    out.rows
        .extend(signed_rows(Store::Sqlite, &[], s, &http).await);
    let pg = tokio::task::spawn_blocking(|| {
        Postgres::start_with(&["fsync=on", "track_wal_io_timing=on"])
    })
    .await
    .unwrap();
    let (url, signed_url) = (pg.database().await, pg.database().await);
    let database = [format!("--database-url={url}")];
    let rows = store_rows(
        Store::Postgres,
        &database,
        Some(&url),
        s,
        &http,
        &mut out.pg_creates,
    )
    .await;
    out.rows.extend(rows);
    let database = [format!("--database-url={signed_url}")];
    out.rows
        .extend(signed_rows(Store::Postgres, &database, s, &http).await);
    out
}

/// The unsigned rows of one store, each operation at each level, floor first. With `probe` (a
/// PostgreSQL database), each CreateLaunch level is watched from the database's side.
async fn store_rows(
    store: Store,
    extra: &[String],
    probe: Option<&str>,
    s: &Settings,
    http: &Http,
    pg_creates: &mut Vec<PgCreates>,
) -> Vec<EmulatorRow> {
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let emulator = start_emulator_unsigned(&extra).await;
    let addr: SocketAddr = emulator
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let http = http.clone();
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
        out.push(EmulatorRow {
            store,
            op: HTTP_FLOOR,
            concurrency,
            rate,
            p50,
            p99,
            floor: None,
        });
    }
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let watch = match probe {
            Some(url) => Some(PgProbe::start(url).await),
            None => None,
        };
        let (rate, p50, p99) = load(concurrency, creates, move |i| {
            let h = h.clone();
            async move {
                let path = format!("/projects/p{}/launches", i % projects);
                let name = format!("c{concurrency}-l{i}");
                call(&h, addr, "POST", &path, emulator_launch_body(&name)).await
            }
        })
        .await;
        if let Some(watch) = watch {
            pg_creates.push(watch.finish(concurrency, creates).await);
        }
        out.push(EmulatorRow {
            store,
            op: "CreateLaunch",
            concurrency,
            rate,
            p50,
            p99,
            floor: None,
        });
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
        out.push(EmulatorRow {
            store,
            op: "GetLaunch",
            concurrency,
            rate,
            p50,
            p99,
            floor: None,
        });
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
    // The contexts as JSON string literals (a context travels as a string holding JSON): the
    // client's work per request is one `format!`, as an application's would be with its SDK's
    // serializer, so the rows measure the emulator, not `json!` building trees in the load
    // generator.
    let context = |i: usize| {
        if i.is_multiple_of(2) {
            r#""{\"beta\":true,\"country\":\"DE\",\"plan\":\"pro\"}""#
        } else {
            r#""{\"beta\":false,\"country\":\"FR\",\"plan\":\"free\"}""#
        }
    };
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let ((rate, p50, p99), floor) =
            paired(&http, addr, concurrency, s.emulator_gets, move |i| {
                let h = h.clone();
                async move {
                    let body = format!(
                        r#"{{"entityId":"user-{i}","evaluationContext":{}}}"#,
                        context(i)
                    );
                    call(&h, addr, "POST", "/projects/p0/evaluations/f", body).await
                }
            })
            .await;
        out.push(EmulatorRow {
            store,
            op: EVALUATE,
            concurrency,
            rate,
            p50,
            p99,
            floor: Some(floor),
        });
    }
    for &concurrency in levels {
        warm_up(&http, addr, concurrency).await;
        let h = http.clone();
        let calls = (s.emulator_gets / BATCH).max(1);
        let ((rate, p50, p99), floor) = paired(&http, addr, concurrency, calls, move |i| {
            let h = h.clone();
            async move {
                let requests: Vec<String> = (0..BATCH)
                    .map(|j| {
                        let n = i * BATCH + j;
                        format!(
                            r#"{{"feature":"f","entityId":"user-{n}","evaluationContext":{}}}"#,
                            context(n)
                        )
                    })
                    .collect();
                let body = format!(r#"{{"requests":[{}]}}"#, requests.join(","));
                call(&h, addr, "POST", "/projects/p0/evaluations", body).await
            }
        })
        .await;
        out.push(EmulatorRow {
            store,
            op: BATCH_EVALUATE,
            concurrency,
            rate,
            p50,
            p99,
            floor: Some(floor),
        });
    }
    out
}

/// The cost of signatures: the same GetLaunch and EvaluateFeature calls against an emulator
/// that checks them (`--auth sigv4`), each signed by the client with `aws-sigv4` as the SDKs
/// do, beside the unsigned rows of the same run.
async fn signed_rows(
    store: Store,
    extra: &[String],
    s: &Settings,
    http: &Http,
) -> Vec<EmulatorRow> {
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let emulator = start_emulator(&extra).await;
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
        out.push(EmulatorRow {
            store,
            op: SIGNED_GET,
            concurrency,
            rate,
            p50,
            p99,
            floor: None,
        });
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
        out.push(EmulatorRow {
            store,
            op: SIGNED_EVALUATE,
            concurrency,
            rate,
            p50,
            p99,
            floor: None,
        });
    }
    out
}

/// One request signed with the test key (`support::TEST_KEYS`), as the SDKs sign.
pub(crate) async fn signed_call(
    http: &Http,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: String,
) -> u16 {
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
