//! Part 5: the emulator on its own. CreateLaunch, GetLaunch and the data plane over keep-alive
//! HTTP at several concurrencies, each against the no-work floor of the same run.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
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
    support::{start_emulator, start_emulator_unsigned},
};

// 5. The emulator on its own: CreateLaunch, GetLaunch and the data plane over keep-alive HTTP at
// several concurrencies.

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
pub(crate) async fn warm_up(http: &Http, addr: SocketAddr, concurrency: usize) {
    let calls = (0..concurrency).map(|_| call(http, addr, "GET", "/projects/p0", String::new()));
    for status in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "warm-up GetProject");
    }
}

pub(crate) async fn emulator_bench(
    s: &Settings,
) -> Vec<(&'static str, usize, f64, Duration, Duration)> {
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
pub(crate) async fn signed_rows(
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
