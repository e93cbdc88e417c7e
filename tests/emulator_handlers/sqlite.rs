//! The SQLite store: acknowledged writes survive a restart, and concurrent writes keep uniqueness
//! and quotas.

use super::*;

#[tokio::test]
async fn acknowledged_writes_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let created = {
        let api = Api::sqlite(dir.path());
        api.project("p").await;
        api.feature("p", "f").await;
        api.segment("s").await;
        api.launch("l").await
    };
    let api = Api::sqlite(dir.path());
    assert_eq!(api.get("/projects/p/launches/l").await.ok(), &created);
    // References survive too: the feature is still in use.
    api.delete("/projects/p/features/f")
        .await
        .error(409, "ConflictException");
}

#[tokio::test]
async fn concurrent_creates_of_one_name_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::sqlite(dir.path()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { api.post("/projects", json!({"name": "p"})).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_exceed_a_quota() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::sqlite(dir.path()));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                api.post("/projects", json!({"name": format!("p{i}")}))
                    .await
                    .status
            })
        })
        .collect();
    let mut ok = 0;
    let mut quota = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            402 => quota += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, quota), (50, 10));
}
