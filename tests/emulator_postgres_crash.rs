//! Crash tests of the emulator on PostgreSQL, with emulator processes (the built binary) on one
//! real PostgreSQL server (`support/postgres.rs`): a replica killed with SIGKILL while writes
//! go on loses none it acknowledged, and a database stopped and started again under load
//! answers 503 while it is down, loses nothing acknowledged, and is used again by the same
//! processes once it is back.

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{Value, json};
use support::postgres::Postgres;
use support::{Process, http_get, start_emulator_unsigned};

/// POSTs `body`; the status, or the transport error (a killed replica). Never waits more
/// than 15 s: a hang is a failure.
async fn post(url: &str, body: &Value) -> Result<u16, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let request = hyper::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(15), client.request(request)).await {
        Ok(Ok(response)) => Ok(response.status().as_u16()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => panic!("POST {url} hung for 15 s"),
    }
}

async fn replicas(url: &str, n: usize) -> Vec<Process> {
    let mut out = Vec::new();
    for _ in 0..n {
        // Unsigned: these tests drive raw HTTP; signatures are tested in emulator_auth.rs.
        out.push(start_emulator_unsigned(&[&format!("--database-url={url}")]).await);
    }
    out
}

/// What the writers saw: names acknowledged with 200, and every other status.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<String>,
    other_statuses: Vec<u16>,
    transport_errors: usize,
}

/// `writers` tasks creating segments through the replicas' URLs in turn until `stop`.
fn write_until(
    urls: Vec<String>,
    writers: usize,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..writers)
        .map(|w| {
            let (urls, stop, seen) = (urls.clone(), stop.clone(), seen.clone());
            tokio::spawn(async move {
                let mut i = 0;
                // The segment quota is 500 per account.
                while !stop.load(Ordering::Acquire) && i < 450 / writers {
                    let name = format!("w{w}-{i}");
                    let url = format!("{}/segments", urls[i % urls.len()]);
                    let body = json!({"name": name, "pattern": "{\"c\":[\"x\"]}"});
                    let answer = post(&url, &body).await;
                    let failed = answer != Ok(200);
                    {
                        let mut seen = seen.lock().unwrap();
                        match answer {
                            Ok(200) => seen.acknowledged.push(name),
                            Ok(status) => seen.other_statuses.push(status),
                            Err(_) => seen.transport_errors += 1,
                        }
                    }
                    if failed {
                        // As a client backs off before its retry.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    i += 1;
                }
            })
        })
        .collect()
}

/// Polls what the writers saw until `check` holds, for at most a minute.
async fn wait_for(what: &str, seen: &Mutex<Seen>, check: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = check(&seen.lock().unwrap());
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every acknowledged segment, read through `reader`.
async fn assert_all_stored(reader: &Process, seen: &Mutex<Seen>) {
    let names = seen.lock().unwrap().acknowledged.clone();
    assert!(!names.is_empty());
    for name in names {
        let answer = http_get(&format!("{}/segments/{name}", reader.url())).await;
        assert!(
            matches!(answer, Ok((200, _))),
            "acknowledged segment {name} is lost: {answer:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_during_concurrent_writes_loses_no_acknowledged_write() {
    let pg = Postgres::start();
    let url = pg.database().await;
    let mut procs = replicas(&url, 3).await;
    let urls: Vec<String> = procs.iter().map(Process::url).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let writers = write_until(urls, 6, stop.clone(), seen.clone());
    wait_for("40 acknowledged writes", &seen, |s| {
        s.acknowledged.len() >= 40
    })
    .await;
    procs[0].kill();
    for w in writers {
        w.await.unwrap();
    }
    {
        let seen = seen.lock().unwrap();
        assert!(
            seen.transport_errors > 0,
            "the kill hit no request in flight"
        );
        assert!(seen.other_statuses.is_empty(), "{:?}", seen.other_statuses);
    }
    // The two survivors hold every write any of the three acknowledged.
    assert_all_stored(&procs[1], &seen).await;
    assert_all_stored(&procs[2], &seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_gives_503s_then_full_recovery_and_no_lost_write() {
    let mut pg = Postgres::start();
    let url = pg.database().await;
    let procs = replicas(&url, 2).await;
    let urls: Vec<String> = procs.iter().map(Process::url).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let writers = write_until(urls, 4, stop.clone(), seen.clone());
    wait_for("20 acknowledged writes", &seen, |s| {
        s.acknowledged.len() >= 20
    })
    .await;
    pg.stop();
    wait_for("503s while the database is down", &seen, |s| {
        s.other_statuses.len() >= 4
    })
    .await;
    for p in &procs {
        let ready = http_get(&format!("{}/readyz", p.url())).await;
        assert!(matches!(ready, Ok((503, _))), "{ready:?}");
    }
    let before = seen.lock().unwrap().acknowledged.len();
    pg.resume();
    wait_for("writes after the restart", &seen, |s| {
        s.acknowledged.len() >= before + 20
    })
    .await;
    stop.store(true, Ordering::Release);
    for w in writers {
        w.await.unwrap();
    }
    {
        let seen = seen.lock().unwrap();
        assert!(
            seen.other_statuses.iter().all(|s| *s == 503),
            "errors other than 503: {:?}",
            seen.other_statuses
        );
        assert_eq!(seen.transport_errors, 0, "no process died");
    }
    for p in &procs {
        let ready = http_get(&format!("{}/readyz", p.url())).await;
        assert!(matches!(ready, Ok((200, _))), "{ready:?}");
        assert_all_stored(p, &seen).await;
    }
}
