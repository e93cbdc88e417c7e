//! Benchmark of the Evidently emulator (not a timed test: it asserts nothing about speed and
//! is ignored by default). Starts the built binary on a fresh data directory (SQLite, durable
//! writes) and prints CreateLaunch and GetLaunch throughput and p50/p99 latency at
//! concurrency 1, 8 and 64, over HTTP/1.1 keep-alive connections on 127.0.0.1.
//!
//! Run: `cargo test --release --test emulator_bench -- --ignored --nocapture`

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::json;

type Http = Client<HttpConnector, Full<Bytes>>;

/// Projects the created launches are spread over (500 launches per project at most).
const PROJECTS: usize = 8;
const CREATES_PER_LEVEL: usize = 960;
const GETS_PER_LEVEL: usize = 20_000;
const LEVELS: [usize; 3] = [1, 8, 64];

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

async fn wait_ready(http: &Http, addr: SocketAddr) {
    for _ in 0..400 {
        let request = Request::builder()
            .uri(format!("http://{addr}/readyz"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        if let Ok(r) = http.request(request).await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("emulator not ready");
}

fn launch_body(name: &str) -> String {
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

/// Runs `total` requests with `concurrency` workers; returns (requests/s, p50, p99).
async fn run<F, Fut>(concurrency: usize, total: usize, request: F) -> (f64, Duration, Duration)
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
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (total as f64 / wall.as_secs_f64(), at(0.50), at(0.99))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn emulator_throughput_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let _child = tokio::process::Command::new(env!("CARGO_BIN_EXE_launch-operator"))
        .args(["emulator", "--listen", &addr.to_string(), "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build_http();
    wait_ready(&http, addr).await;

    for p in 0..PROJECTS {
        let project = format!("p{p}");
        assert_eq!(
            call(
                &http,
                addr,
                "POST",
                "/projects",
                json!({"name": project}).to_string()
            )
            .await,
            200
        );
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

    println!("\nEvidently emulator, SQLite WAL synchronous=FULL, HTTP/1.1 keep-alive on 127.0.0.1");
    println!(
        "{:<13} {:>11} {:>10} {:>10} {:>10}",
        "operation", "concurrency", "req/s", "p50 ms", "p99 ms"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for concurrency in LEVELS {
        let h = http.clone();
        let (rate, p50, p99) = run(concurrency, CREATES_PER_LEVEL, move |i| {
            let h = h.clone();
            async move {
                let path = format!("/projects/p{}/launches", i % PROJECTS);
                let name = format!("c{concurrency}-l{i}");
                call(&h, addr, "POST", &path, launch_body(&name)).await
            }
        })
        .await;
        println!(
            "{:<13} {:>11} {:>10.0} {:>10.2} {:>10.2}",
            "CreateLaunch",
            concurrency,
            rate,
            ms(p50),
            ms(p99)
        );
    }
    for concurrency in LEVELS {
        let h = http.clone();
        let (rate, p50, p99) = run(concurrency, GETS_PER_LEVEL, move |i| {
            let h = h.clone();
            async move {
                let path = format!(
                    "/projects/p{}/launches/c1-l{}",
                    i % PROJECTS,
                    (i % CREATES_PER_LEVEL) / PROJECTS * PROJECTS + i % PROJECTS
                );
                call(&h, addr, "GET", &path, String::new()).await
            }
        })
        .await;
        println!(
            "{:<13} {:>11} {:>10.0} {:>10.2} {:>10.2}",
            "GetLaunch",
            concurrency,
            rate,
            ms(p50),
            ms(p99)
        );
    }
}
