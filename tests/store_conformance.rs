//! One contract, every store: each test here runs on the in-memory store, on SQLite and on
//! PostgreSQL (a real server started by `support/postgres.rs`), so the stores cannot drift
//! apart. Store-level tests call the `Store` trait; the race tests go through the emulator's
//! router with two or three replicas. With PostgreSQL the replicas are separate emulators
//! (own pool, own evaluation views, own notification listener) on one database; SQLite and
//! memory serve one process, so their "replicas" are one emulator reached twice.
//!
//! The last sections are PostgreSQL's alone: startup errors, 503 while the database is down and
//! recovery after it comes back, views that rebuild after missed notifications, and TLS to a
//! server with a certificate of the test's own CA.

mod support;

use std::{
    any::Any,
    panic::AssertUnwindSafe,
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{Router, body::Body, http::Request};
use http_body_util::BodyExt;
use launch_operator::emulator::{
    Emulator, Settings, router,
    store::{Key, Kind, MemoryStore, PostgresStore, SqliteStore, Store, StoreError},
};
use serde_json::{Value, json};
use support::postgres::Postgres;
use tower::ServiceExt;

// ---------------------------------------------------------------- fixtures

/// Replicas of one emulator: their stores and routers, and what keeps the data alive.
struct Replicas<S> {
    stores: Vec<S>,
    routers: Vec<Router>,
    _keep: Box<dyn Any + Send>,
}

trait Backend {
    type S: Store + Clone;
    async fn replicas(n: usize) -> Replicas<Self::S>;
}

struct Memory;
struct Sqlite;
struct Pg;

/// One emulator reached `n` times: a store that only one process can open.
fn same_process<S: Store + Clone>(store: S, n: usize, keep: Box<dyn Any + Send>) -> Replicas<S> {
    let router = router(Emulator::new(store.clone(), &Settings::default()));
    Replicas {
        stores: vec![store; n],
        routers: vec![router; n],
        _keep: keep,
    }
}

impl Backend for Memory {
    type S = MemoryStore;
    async fn replicas(n: usize) -> Replicas<MemoryStore> {
        same_process(MemoryStore::new(), n, Box::new(()))
    }
}

impl Backend for Sqlite {
    type S = SqliteStore;
    async fn replicas(n: usize) -> Replicas<SqliteStore> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        same_process(store, n, Box::new(dir))
    }
}

/// The PostgreSQL server shared by the tests that do not stop it; each test has a database
/// of its own on it.
fn server() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(Postgres::start)
}

async fn pg_replicas(url: &str, n: usize) -> (Vec<PostgresStore>, Vec<Router>) {
    let mut stores = Vec::new();
    let mut routers = Vec::new();
    for _ in 0..n {
        let store = PostgresStore::connect(url, 8, None).await.unwrap();
        routers.push(router(Emulator::new(store.clone(), &Settings::default())));
        stores.push(store);
    }
    (stores, routers)
}

impl Backend for Pg {
    type S = PostgresStore;
    async fn replicas(n: usize) -> Replicas<PostgresStore> {
        let url = server().database().await;
        let (stores, routers) = pg_replicas(&url, n).await;
        Replicas {
            stores,
            routers,
            _keep: Box::new(()),
        }
    }
}

/// Each test, once per store.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test::<super::Memory>().await })*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test::<super::Sqlite>().await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test::<super::Pg>().await })*
        }
    };
}

conformance!(
    documents_are_put_replaced_read_and_deleted,
    lists_page_by_name_in_byte_order_and_filter_on_status,
    counts_follow_inserts_status_changes_and_deletes,
    references_follow_their_source,
    a_failed_or_panicking_write_leaves_no_trace,
    a_second_insert_of_a_stored_key_fails_and_keeps_the_first,
    a_write_acknowledged_by_one_replica_is_read_by_every_replica,
    the_same_name_created_on_two_replicas_at_once_is_created_once,
    the_project_quota_holds_across_three_replicas,
    a_delete_racing_an_update_leaves_a_consistent_state,
    a_segment_delete_racing_a_launch_that_uses_it_never_both_succeed,
    another_replicas_write_reaches_the_evaluation_view_within_a_second,
);

fn launch(name: &str) -> Key {
    Key::new(Kind::Launch, "p", name)
}

async fn put<S: Store>(store: &S, key: Key, status: Option<&'static str>, doc: &'static str) {
    store
        .write(move |tx| tx.put(&key, status, doc))
        .await
        .unwrap();
}

async fn get<S: Store>(store: &S, key: &Key) -> Option<String> {
    let key = key.clone();
    store.read(move |r| r.get(&key)).await.unwrap()
}

async fn names<S: Store>(
    store: &S,
    after: Option<&'static str>,
    status: Option<&'static str>,
    limit: usize,
) -> Vec<String> {
    store
        .read(move |r| r.list(Kind::Launch, "p", after, status, limit))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

async fn referrers<S: Store>(store: &S, target: &Key) -> Vec<Key> {
    let target = target.clone();
    store.read(move |r| r.referrers(&target)).await.unwrap()
}

// ---------------------------------------------------------------- the store contract

async fn documents_are_put_replaced_read_and_deleted<B: Backend>() {
    let r = B::replicas(1).await;
    let s = &r.stores[0];
    assert_eq!(get(s, &launch("a")).await, None);
    put(s, launch("a"), Some("CREATED"), "{\"v\":1}").await;
    put(s, launch("a"), Some("RUNNING"), "{\"v\":2}").await;
    assert_eq!(get(s, &launch("a")).await.as_deref(), Some("{\"v\":2}"));
    // Same name, other kind or scope: another document.
    assert_eq!(get(s, &Key::new(Kind::Launch, "q", "a")).await, None);
    assert_eq!(get(s, &Key::new(Kind::Feature, "p", "a")).await, None);
    assert!(s.write(|tx| tx.delete(&launch("a"))).await.unwrap());
    assert!(!s.write(|tx| tx.delete(&launch("a"))).await.unwrap());
    assert_eq!(get(s, &launch("a")).await, None);
}

async fn lists_page_by_name_in_byte_order_and_filter_on_status<B: Backend>() {
    let r = B::replicas(1).await;
    let s = &r.stores[0];
    // Byte order: upper case before lower case, '-' before '_', whatever the locale.
    for (name, status) in [
        ("b", "RUNNING"),
        ("a_1", "CREATED"),
        ("a-1", "CREATED"),
        ("Z", "RUNNING"),
        ("a", "CREATED"),
    ] {
        let key = launch(name);
        s.write(move |tx| tx.put(&key, Some(status), "{}"))
            .await
            .unwrap();
    }
    put(
        s,
        Key::new(Kind::Launch, "q", "other"),
        Some("CREATED"),
        "{}",
    )
    .await;
    assert_eq!(
        names(s, None, None, 10).await,
        ["Z", "a", "a-1", "a_1", "b"]
    );
    // Pages: after the last name of the previous page.
    assert_eq!(names(s, None, None, 2).await, ["Z", "a"]);
    assert_eq!(names(s, Some("a"), None, 2).await, ["a-1", "a_1"]);
    assert_eq!(names(s, Some("a_1"), None, 2).await, ["b"]);
    assert!(names(s, Some("b"), None, 2).await.is_empty());
    assert_eq!(names(s, None, Some("RUNNING"), 10).await, ["Z", "b"]);
    assert_eq!(names(s, Some("Z"), Some("RUNNING"), 10).await, ["b"]);
}

async fn counts_follow_inserts_status_changes_and_deletes<B: Backend>() {
    let r = B::replicas(1).await;
    let s = &r.stores[0];
    let counts = || {
        s.read(|r| {
            Ok::<_, StoreError>((
                r.count(Kind::Launch, "p", None)?,
                r.count(Kind::Launch, "p", Some("CREATED"))?,
                r.count(Kind::Launch, "p", Some("RUNNING"))?,
            ))
        })
    };
    assert_eq!(counts().await.unwrap(), (0, 0, 0));
    for name in ["a", "b", "c"] {
        put(s, launch(name), Some("CREATED"), "{}").await;
    }
    put(s, launch("a"), Some("RUNNING"), "{}").await;
    put(s, launch("a"), Some("RUNNING"), "{\"v\":3}").await;
    put(s, Key::new(Kind::Launch, "q", "a"), Some("CREATED"), "{}").await;
    put(s, Key::new(Kind::Feature, "p", "f"), None, "{}").await;
    assert_eq!(counts().await.unwrap(), (3, 2, 1));
    assert!(s.write(|tx| tx.delete(&launch("b"))).await.unwrap());
    assert_eq!(counts().await.unwrap(), (2, 1, 1));
    let features = s.read(|r| r.count(Kind::Feature, "p", None)).await;
    assert_eq!(features.unwrap(), 1);
}

async fn references_follow_their_source<B: Backend>() {
    let r = B::replicas(1).await;
    let s = &r.stores[0];
    let f = Key::new(Kind::Feature, "p", "f");
    let g = Key::new(Kind::Feature, "p", "g");
    let seg = Key::new(Kind::Segment, "", "s");
    let err = s
        .write(|tx| tx.set_refs(&launch("ghost"), &[Key::new(Kind::Feature, "p", "f")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotStored(k) if *k == launch("ghost")),
        "{err}"
    );
    // Clearing the references of nothing is not an error.
    s.write(|tx| tx.set_refs(&launch("ghost"), &[]))
        .await
        .unwrap();
    let (f2, seg2) = (f.clone(), seg.clone());
    s.write(move |tx| {
        tx.put(&launch("a"), Some("CREATED"), "{}")?;
        tx.set_refs(&launch("a"), &[f2, seg2])
    })
    .await
    .unwrap();
    let targets = vec![g.clone(), seg.clone()];
    s.write(move |tx| tx.insert(&launch("b"), Some("CREATED"), "{}", &targets))
        .await
        .unwrap();
    assert_eq!(referrers(s, &f).await, [launch("a")]);
    assert_eq!(referrers(s, &seg).await, [launch("a"), launch("b")]);
    let targets = vec![g.clone()];
    s.write(move |tx| tx.set_refs(&launch("a"), &targets))
        .await
        .unwrap();
    assert!(referrers(s, &f).await.is_empty());
    assert_eq!(referrers(s, &g).await, [launch("a"), launch("b")]);
    assert!(s.write(|tx| tx.delete(&launch("b"))).await.unwrap());
    assert_eq!(referrers(s, &g).await, [launch("a")]);
    assert!(referrers(s, &seg).await.is_empty());
}

async fn a_failed_or_panicking_write_leaves_no_trace<B: Backend>() {
    let r = B::replicas(1).await;
    let s = &r.stores[0];
    put(s, launch("kept"), Some("CREATED"), "{}").await;
    let failed = s
        .write(|tx| {
            tx.put(&launch("new"), Some("CREATED"), "{}")?;
            tx.delete(&launch("kept"))?;
            Err::<(), StoreError>(StoreError::Closed)
        })
        .await;
    assert!(failed.is_err());
    let panicking = |tx: &mut dyn launch_operator::emulator::store::Tx| {
        tx.put(&launch("new"), Some("CREATED"), "{}")?;
        if tx.get(&launch("new"))?.is_some() {
            panic!("a closure that panics");
        }
        Ok::<(), StoreError>(())
    };
    // The memory store runs closures inline, so its panic comes out of `write` itself; the
    // others answer with an error.
    let panicked = match std::panic::catch_unwind(AssertUnwindSafe(|| s.write(panicking))) {
        Ok(answer) => answer.await.is_err(),
        Err(_) => true,
    };
    assert!(panicked);
    assert_eq!(names(s, None, None, 10).await, ["kept"]);
    // And the store still takes writes.
    put(s, launch("after"), None, "{}").await;
}

async fn a_second_insert_of_a_stored_key_fails_and_keeps_the_first<B: Backend>() {
    let r = B::replicas(1).await;
    let s = &r.stores[0];
    if std::any::type_name::<B>().ends_with("Memory") {
        // The memory store's `insert` is `put` + `set_refs`: the operations check for
        // duplicates before inserting, and only the real stores hold the key unique.
        return;
    }
    s.write(|tx| tx.insert(&launch("a"), Some("CREATED"), "{\"v\":1}", &[]))
        .await
        .unwrap();
    let again = s
        .write(|tx| tx.insert(&launch("a"), Some("CREATED"), "{\"v\":2}", &[]))
        .await;
    assert!(again.is_err());
    assert_eq!(get(s, &launch("a")).await.as_deref(), Some("{\"v\":1}"));
}

// ---------------------------------------------------------------- replicas, through the API

async fn call(router: &Router, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let builder = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let mut body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if let Some(code) = code {
        body["__type"] = json!(code);
    }
    (status, body)
}

#[track_caller]
fn ok((status, body): &(u16, Value)) -> &Value {
    assert_eq!(*status, 200, "{body}");
    body
}

/// Project `p`, feature `f` (v1 default, v2), segment `s`, launch `l` (all on treatment, v2).
async fn fixture(api: &Router) {
    ok(&call(api, "POST", "/projects", Some(json!({"name": "p"}))).await);
    let feature = json!({"name": "f", "defaultVariation": "v1", "variations": [
        {"name": "v1", "value": {"stringValue": "one"}},
        {"name": "v2", "value": {"stringValue": "two"}}
    ]});
    ok(&call(api, "POST", "/projects/p/features", Some(feature)).await);
    let segment = json!({"name": "s", "pattern": "{\"country\":[\"DE\"]}"});
    ok(&call(api, "POST", "/segments", Some(segment)).await);
    ok(&call(
        api,
        "POST",
        "/projects/p/launches",
        Some(launch_body("l", false)),
    )
    .await);
}

fn launch_body(name: &str, with_segment: bool) -> Value {
    let mut step =
        json!({"startTime": 1750000000, "groupWeights": {"control": 0, "treatment": 100000}});
    if with_segment {
        step["segmentOverrides"] =
            json!([{"segment": "s", "evaluationOrder": 1, "weights": {"control": 100000}}]);
    }
    json!({
        "name": name,
        "groups": [
            {"name": "control", "feature": "f", "variation": "v1"},
            {"name": "treatment", "feature": "f", "variation": "v2"}
        ],
        "scheduledSplitsConfig": {"steps": [step]}
    })
}

async fn a_write_acknowledged_by_one_replica_is_read_by_every_replica<B: Backend>() {
    let r = B::replicas(3).await;
    for i in 0..10 {
        let writer = &r.routers[i % 3];
        let name = format!("p{i}");
        ok(&call(writer, "POST", "/projects", Some(json!({"name": name}))).await);
        for reader in &r.routers {
            ok(&call(reader, "GET", &format!("/projects/{name}"), None).await);
        }
    }
}

async fn the_same_name_created_on_two_replicas_at_once_is_created_once<B: Backend>() {
    let r = B::replicas(2).await;
    for round in 0..20 {
        let body = json!({"name": format!("race-{round}")});
        let (a, b) = tokio::join!(
            call(&r.routers[0], "POST", "/projects", Some(body.clone())),
            call(&r.routers[1], "POST", "/projects", Some(body)),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.1, b.1);
        let loser = if a.0 == 409 { &a.1 } else { &b.1 };
        assert_eq!(loser["__type"], "ConflictException", "{loser}");
    }
}

async fn the_project_quota_holds_across_three_replicas<B: Backend>() {
    let r = B::replicas(3).await;
    let calls = (0..60).map(|i| {
        let api = r.routers[i % 3].clone();
        tokio::spawn(async move {
            call(
                &api,
                "POST",
                "/projects",
                Some(json!({"name": format!("q{i}")})),
            )
            .await
        })
    });
    let mut created = 0;
    let mut refused = 0;
    for c in calls.collect::<Vec<_>>() {
        let (status, body) = c.await.unwrap();
        match status {
            200 => created += 1,
            402 => {
                assert_eq!(body["__type"], "ServiceQuotaExceededException", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (50, 10));
    let stored = r.stores[1]
        .read(|r| r.count(Kind::Project, "", None))
        .await
        .unwrap();
    assert_eq!(stored, 50);
}

async fn a_delete_racing_an_update_leaves_a_consistent_state<B: Backend>() {
    let r = B::replicas(2).await;
    let (a, b) = (&r.routers[0], &r.routers[1]);
    fixture(a).await;
    for round in 0..10 {
        let name = format!("l{round}");
        ok(&call(
            a,
            "POST",
            "/projects/p/launches",
            Some(launch_body(&name, true)),
        )
        .await);
        let uri = format!("/projects/p/launches/{name}");
        let (update, delete) = tokio::join!(
            call(a, "PATCH", &uri, Some(json!({"description": "updated"}))),
            call(b, "DELETE", &uri, None),
        );
        ok(&delete);
        assert!(
            update.0 == 200
                || (update.0 == 404 && update.1["__type"] == "ResourceNotFoundException"),
            "round {round}: {update:?}"
        );
        // Gone on both replicas, and no reference of it is left behind.
        for api in [a, b] {
            assert_eq!(call(api, "GET", &uri, None).await.0, 404);
        }
        let refs = ok(&call(b, "GET", "/segments/s/references?type=LAUNCH", None).await).clone();
        assert_eq!(refs["referencedBy"], json!([]), "{refs}");
    }
}

async fn a_segment_delete_racing_a_launch_that_uses_it_never_both_succeed<B: Backend>() {
    let r = B::replicas(2).await;
    let (a, b) = (&r.routers[0], &r.routers[1]);
    fixture(a).await;
    for round in 0..10 {
        let segment = format!("s{round}");
        let body = json!({"name": segment, "pattern": "{\"country\":[\"DE\"]}"});
        ok(&call(a, "POST", "/segments", Some(body)).await);
        let mut launch = launch_body(&format!("x{round}"), true);
        launch["scheduledSplitsConfig"]["steps"][0]["segmentOverrides"][0]["segment"] =
            json!(segment);
        let uri = format!("/segments/{segment}");
        let (created, deleted) = tokio::join!(
            call(a, "POST", "/projects/p/launches", Some(launch)),
            call(b, "DELETE", &uri, None),
        );
        assert!(
            (created.0 == 200) != (deleted.0 == 200),
            "round {round}: exactly one may succeed: {created:?} / {deleted:?}"
        );
        let still_there = call(b, "GET", &format!("/segments/{segment}"), None)
            .await
            .0
            == 200;
        assert_eq!(still_there, created.0 == 200, "round {round}");
    }
}

async fn another_replicas_write_reaches_the_evaluation_view_within_a_second<B: Backend>() {
    let r = B::replicas(2).await;
    let (a, b) = (&r.routers[0], &r.routers[1]);
    fixture(a).await;
    let evaluate = || {
        call(
            b,
            "POST",
            "/projects/p/evaluations/f",
            Some(json!({"entityId": "u"})),
        )
    };
    // B compiles its view while the launch is not running.
    assert_eq!(ok(&evaluate().await)["reason"], "DEFAULT");
    ok(&call(a, "POST", "/projects/p/launches/l/start", None).await);
    let started = Instant::now();
    loop {
        let answer = evaluate().await;
        if ok(&answer)["reason"] == "LAUNCH_RULE_MATCH" {
            assert_eq!(answer.1["variation"], "v2");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "replica B still serves the old view after 1 s: {}",
            answer.1
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------- PostgreSQL alone

#[tokio::test]
async fn startup_fails_clearly_when_the_database_is_unreachable() {
    // A port nothing listens on (free a moment ago).
    let port = support::ports::candidate();
    let url = format!("postgres://someone:secret@127.0.0.1:{port}/db");
    let err = PostgresStore::connect(&url, 4, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "cannot connect to PostgreSQL at someone@127.0.0.1:{port}/db"
        )),
        "{err}"
    );
    assert!(!err.contains("secret"), "the password leaked: {err}");
    let err = PostgresStore::connect("postgres://[nope", 4, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("database URL is not valid"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_emulator_is_refused_and_migration_runs_once() {
    let url = server().database().await;
    // Three replicas starting at once migrate once.
    let (stores, _) = pg_replicas(&url, 3).await;
    drop(stores);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: i64 = client
        .query_one("SELECT count(*) FROM emulator_schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
    client
        .batch_execute("INSERT INTO emulator_schema_version (version) VALUES (99)")
        .await
        .unwrap();
    let err = PostgresStore::connect(&url, 4, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

/// Polls `check` every 50 ms until it holds, for at most `timeout`.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}; last: {last}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_requests_get_503_and_the_replicas_recover_by_themselves() {
    let mut pg = Postgres::start();
    let url = pg.database().await;
    let (_stores, routers) = pg_replicas(&url, 2).await;
    let (a, b) = (&routers[0], &routers[1]);
    fixture(a).await;
    let evaluate = || {
        call(
            b,
            "POST",
            "/projects/p/evaluations/f",
            Some(json!({"entityId": "u"})),
        )
    };
    assert_eq!(ok(&evaluate().await)["reason"], "DEFAULT");

    pg.stop();
    for api in [a, b] {
        let started = Instant::now();
        let (status, body) = call(api, "POST", "/projects", Some(json!({"name": "down"}))).await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (503, Some("ServiceUnavailableException")),
            "{body}"
        );
        let (status, body) = call(api, "GET", "/projects/p", None).await;
        assert_eq!(status, 503, "{body}");
        let (status, _) = call(api, "GET", "/readyz", None).await;
        assert_eq!(status, 503);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "503s took {:?}",
            started.elapsed()
        );
    }

    pg.resume();
    // A replica heard nothing while the database was down: A's write after the restart
    // must still reach B's evaluations, though B's listener may not be back yet.
    eventually(
        "writes after the restart",
        Duration::from_secs(30),
        || async {
            match call(a, "POST", "/projects/p/launches/l/start", None).await {
                (200, _) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    eventually(
        "B's view of the started launch",
        Duration::from_secs(30),
        || async {
            match evaluate().await {
                (200, body) if body["reason"] == "LAUNCH_RULE_MATCH" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    for api in [a, b] {
        assert_eq!(call(api, "GET", "/readyz", None).await.0, 200);
        ok(&call(api, "GET", "/projects/p/features/f", None).await);
    }
    // Recovered views follow notifications again.
    ok(&call(a, "POST", "/projects/p/launches/l/cancel", Some(json!({}))).await);
    eventually(
        "B's view of the stopped launch",
        Duration::from_secs(1),
        || async {
            match evaluate().await {
                (200, body) if body["reason"] == "DEFAULT" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------- TLS to PostgreSQL

/// A CA, and a server certificate it signed for 127.0.0.1 only: (CA, certificate, key), PEM.
fn tls_certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "launch-operator-test-database-ca");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A server with TLS on (plain connections still accepted), a database on it, and the file of
/// the CA that signed its certificate.
async fn tls_server() -> (Postgres, String, tempfile::TempDir) {
    let (ca, cert, key) = tls_certificates();
    let pg = Postgres::start_tls(&cert, &key);
    let url = pg.database().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    (pg, url, dir)
}

/// Whether each connection of `application` to the server is TLS, from the server's side.
async fn tls_of(url: &str, application: &str) -> Vec<bool> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sslmode_require_every_connection_is_tls_to_a_verified_server() {
    let (_pg, url, dir) = tls_server().await;
    let ca_file = dir.path().join("ca.pem");
    // verify-full and verify-ca, which managed databases' docs give, mean the same here.
    for mode in ["require", "verify-full", "verify-ca"] {
        let application = format!("tls-{mode}");
        let tls_url = format!("{url}?sslmode={mode}&application_name={application}");
        let store = PostgresStore::connect(&tls_url, 4, Some(&ca_file))
            .await
            .unwrap();
        let key = Key::new(Kind::Project, "", &application);
        let k = key.clone();
        store.write(move |tx| tx.put(&k, None, "{}")).await.unwrap();
        let doc = store.read(move |r| r.get(&key)).await.unwrap();
        assert_eq!(doc.as_deref(), Some("{}"));
        // The pool's connection and the listener's, both encrypted.
        eventually(
            "the pool's and the listener's connections",
            Duration::from_secs(10),
            || async {
                match tls_of(&url, &application).await {
                    seen if seen.len() >= 2 && seen.iter().all(|tls| *tls) => Ok(()),
                    seen => Err(format!("TLS of each connection: {seen:?}")),
                }
            },
        )
        .await;
    }
    // Without sslmode the connections stay plain TCP, as before TLS was supported, even to a
    // server that offers TLS.
    let plain_url = format!("{url}?application_name=plain");
    let store = PostgresStore::connect(&plain_url, 4, None).await.unwrap();
    store
        .read(|r| r.count(Kind::Project, "", None))
        .await
        .unwrap();
    let seen = tls_of(&url, "plain").await;
    assert!(!seen.is_empty() && seen.iter().all(|tls| !tls), "{seen:?}");
    // A CA file with a URL that asks for no TLS is a mistake, said at startup.
    let err = PostgresStore::connect(&plain_url, 4, Some(&ca_file))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--database-ca-file") && err.contains("sslmode=require"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_be_verified_is_refused_at_startup() {
    let (pg, url, dir) = tls_server().await;
    let tls_url = format!("{url}?sslmode=require");
    // Signed by a CA the emulator was not given (the system's roots do not know it).
    let (other_ca, _, _) = tls_certificates();
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, other_ca).unwrap();
    let err = PostgresStore::connect(&tls_url, 4, Some(&other))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot connect") && err.contains("certificate"),
        "{err}"
    );
    // The right CA, but the certificate is for 127.0.0.1, not for the name in the URL.
    let by_name = tls_url.replace("@127.0.0.1:", "@localhost:");
    let err = PostgresStore::connect(&by_name, 4, Some(&dir.path().join("ca.pem")))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate"), "{err}");
    // A CA file with no certificate in it.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let err = PostgresStore::connect(&tls_url, 4, Some(&empty))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no CA certificate"), "{err}");
    // A server without TLS.
    drop(pg);
    let plain = server().database().await;
    let ca_file = dir.path().join("ca.pem");
    let err = PostgresStore::connect(&format!("{plain}?sslmode=require"), 4, Some(&ca_file))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("TLS"), "{err}");
}
