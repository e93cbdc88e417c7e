//! The generic reconcile pass (`controller::reconcile`) run once or twice per test against a
//! fake API server and the real emulator in this process: what it writes to Kubernetes (the
//! finalizer, the status, events) and what it does in Evidently, rule by rule, in milliseconds
//! and without a control plane.
//!
//! The API server is a `tower-test` mock behind a real `kube::Client`, answered by a small
//! verifier in the style of kube-rs's controller-rs `ApiServerVerifier`: it keeps the object of
//! the pass, applies the JSON patches and status applies sent to it (so a wrong finalizer index
//! fails the patch's `test`, as on a real server), records every request, and takes the events
//! the background writer posts. Events are routed by path, not by order, since they come from
//! another task; each test asserts them after the writer has flushed. Evidently calls are
//! counted from the emulator's own metrics (operation and HTTP code), before and after the pass.
//!
//! Not covered here: watches, the applier's scheduling and the error policy's timing (the
//! end-to-end suite), and the emulator's rules (its own tests).

// AWS marked every Evidently operation deprecated when it ended the service; the emulator
// speaks that API.
#![allow(deprecated)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_evidently::{
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig},
    types::{LaunchStopDesiredState, ScheduledSplitConfig, ScheduledSplitsLaunchConfig},
};
use aws_smithy_types::DateTime;
use http::{Request, Response};
use kube::{
    Client,
    client::Body,
    runtime::{controller::Action, events::Reporter, finalizer},
};
use launch_operator::{
    controller::{
        cache::Cached,
        events::{Events, Writer},
        metrics::Metrics,
        reconcile::{Context, Error, reconcile},
    },
    crd::{
        ADOPT_ANNOTATION, API_VERSION, FIELD_MANAGER, FINALIZER, Feature, Launch, OWNER_TAG,
        Project,
    },
    emulator::{self, Settings, router, store::MemoryStore},
    evidently::{Evidently, EvidentlyError},
    kinds::{Managed, with_owner},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower::ServiceExt;

const NS: &str = "shop";
/// Longest a pass may take before the test fails (they take milliseconds).
const PASS_DEADLINE: Duration = Duration::from_secs(10);
/// Longest the event writer may take to post what is queued.
const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Evidently: the emulator in this process.

/// The emulator on a loopback port, on the in-memory store; stops when dropped.
struct Emulated {
    addr: SocketAddr,
    app: Arc<emulator::Emulator<MemoryStore>>,
    /// The test's own client, for staging and checking Evidently out of band.
    sdk: aws_sdk_evidently::Client,
    _stop: oneshot::Sender<()>,
}

/// An SDK client for `url` that makes exactly one attempt per call (so calls can be counted,
/// and a refused connection fails at once).
fn sdk_client(url: &str) -> aws_sdk_evidently::Client {
    let config = aws_sdk_evidently::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .build();
    aws_sdk_evidently::Client::from_conf(config)
}

impl Emulated {
    async fn start() -> Emulated {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = emulator::Emulator::new(MemoryStore::new(), &Settings::default());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(emulator::serve(listener, app.clone(), async {
            let _ = stopped.await;
        }));
        Emulated {
            addr,
            app,
            sdk: sdk_client(&format!("http://{addr}")),
            _stop: stop,
        }
    }

    /// An operator-side client of this emulator.
    fn evidently(&self) -> Evidently {
        Evidently::from_client(
            sdk_client(&format!("http://{}", self.addr)),
            Arc::new(Metrics::new()),
        )
    }

    /// Creates a resource in Evidently as the spec `spec` of an object named `name` stands for,
    /// tagged as owned by `owner` if given: what an earlier pass, another cluster or a person
    /// left there.
    async fn stage<K: Managed>(&self, spec: Value, name: &str, owner: Option<&str>) -> K::Observed {
        let desired = K::validate(&spec, name).expect("a valid spec");
        let tags = match owner {
            Some(o) => with_owner(K::user_tags(&desired), o),
            None => K::user_tags(&desired),
        };
        K::create(&self.evidently(), &desired, &tags)
            .await
            .expect("staged in Evidently")
    }

    /// Requests answered so far, by `"Operation code"`, from the emulator's `/metrics`.
    async fn calls(&self) -> BTreeMap<String, u64> {
        let request = Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router(self.app.clone()).oneshot(request).await.unwrap();
        let text = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(text.to_vec()).unwrap();
        let mut calls = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("evidently_emulator_requests_total{") else {
                continue;
            };
            let (labels, count) = rest.split_once("} ").unwrap();
            let label = |name: &str| {
                labels
                    .split(',')
                    .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
                    .map(|v| v.trim_end_matches('"').to_string())
                    .unwrap()
            };
            let key = format!("{} {}", label("operation"), label("code"));
            *calls.entry(key).or_insert(0) += count.parse::<u64>().unwrap();
        }
        calls
    }

    /// The calls answered since `before` was taken.
    async fn calls_since(&self, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        self.calls()
            .await
            .into_iter()
            .map(|(k, n)| {
                let since = n - before.get(&k).copied().unwrap_or(0);
                (k, since)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    async fn launch(&self, name: &str) -> aws_sdk_evidently::types::Launch {
        self.sdk
            .get_launch()
            .project("shop")
            .launch(name)
            .send()
            .await
            .expect("GetLaunch")
            .launch
            .unwrap()
    }
}

/// `[("CreateLaunch 200", 1)]` as the map [`Emulated::calls_since`] returns.
fn calls(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

// ---------------------------------------------------------------------------------------------
// Kubernetes: the fake API server.

/// A request the API server received (events aside).
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

/// An event the writer posted.
#[derive(Debug, Clone)]
struct SeenEvent {
    type_: String,
    reason: String,
    note: String,
    regarding: String,
}

#[derive(Default)]
struct ApiState {
    /// Objects by their path.
    objects: BTreeMap<String, Value>,
    requests: Vec<Seen>,
    events: Vec<SeenEvent>,
}

type ApiHandle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// The verifier: answers every request the client sends as the API server would, for the one
/// object of the pass, and records it.
async fn serve_api(mut handle: ApiHandle, state: Arc<Mutex<ApiState>>) {
    while let Some((request, respond)) = handle.next_request().await {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        };
        let (code, answer) = state.lock().unwrap().answer(seen);
        respond.send_response(
            Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap(),
        );
    }
}

/// A `Status` failure as the API server sends it.
fn failure(code: u16, reason: &str, message: String) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

impl ApiState {
    fn answer(&mut self, seen: Seen) -> (u16, Value) {
        if seen.method == "POST"
            && seen.path.starts_with("/apis/events.k8s.io/v1/namespaces/")
            && seen.path.ends_with("/events")
        {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            self.events.push(SeenEvent {
                type_: text(&seen.body["type"]),
                reason: text(&seen.body["reason"]),
                note: text(&seen.body["note"]),
                regarding: text(&seen.body["regarding"]["name"]),
            });
            return (201, seen.body);
        }
        self.requests.push(seen.clone());
        if seen.method != "PATCH" {
            return failure(
                405,
                "MethodNotAllowed",
                format!("{} {}", seen.method, seen.path),
            );
        }
        let (path, subresource) = match seen.path.strip_suffix("/status") {
            Some(p) => (p.to_string(), true),
            None => (seen.path.clone(), false),
        };
        let Some(object) = self.objects.get_mut(&path) else {
            return failure(404, "NotFound", format!("{path} not found"));
        };
        let mut next = object.clone();
        if subresource && seen.content_type == "application/apply-patch+yaml" {
            next["status"] = seen.body["status"].clone();
        } else if !subresource && seen.content_type == "application/json-patch+json" {
            let patch: json_patch::Patch = match serde_json::from_value(seen.body.clone()) {
                Ok(p) => p,
                Err(e) => return failure(400, "BadRequest", e.to_string()),
            };
            // The API server reads an absent list as null, which the finalizer's first `test`
            // relies on.
            if next["metadata"].get("finalizers").is_none() {
                next["metadata"]["finalizers"] = Value::Null;
            }
            if let Err(e) = json_patch::patch(&mut next, &patch) {
                return failure(422, "Invalid", e.to_string());
            }
        } else {
            return failure(
                415,
                "UnsupportedMediaType",
                format!("{} on {}", seen.content_type, seen.path),
            );
        }
        let version: u64 = next["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        next["metadata"]["resourceVersion"] = json!((version + 1).to_string());
        *object = next.clone();
        (200, next)
    }
}

/// The path of `object` of kind `K` on the API server.
fn path_of<K: Managed>(object: &Value) -> String {
    format!(
        "/apis/{API_VERSION}/namespaces/{}/{}/{}",
        object["metadata"]["namespace"].as_str().unwrap(),
        K::plural(&()),
        object["metadata"]["name"].as_str().unwrap(),
    )
}

/// The controller's side: a `Context` whose kube client talks to the fake API server.
struct Operator {
    ctx: Arc<Context>,
    writer: Writer,
    state: Arc<Mutex<ApiState>>,
    server: JoinHandle<()>,
}

impl Operator {
    fn new(evidently: Evidently) -> Operator {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let state = Arc::new(Mutex::new(ApiState::default()));
        let server = tokio::spawn(serve_api(handle, state.clone()));
        let metrics = Arc::new(Metrics::new());
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: None,
        };
        let (events, writer) = Events::start(client.clone(), reporter, metrics.clone());
        let ctx = Context::new(client, evidently, metrics, events, Duration::from_secs(600));
        Operator {
            ctx: Arc::new(ctx),
            writer,
            state,
            server,
        }
    }

    /// One reconcile pass over `object` (as the API server stores it).
    async fn pass<K: Managed>(&self, object: &Value) -> Result<Action, Error> {
        self.state
            .lock()
            .unwrap()
            .objects
            .insert(path_of::<K>(object), object.clone());
        let cached: Cached<K> = serde_json::from_value(object.clone()).expect("an object");
        tokio::time::timeout(PASS_DEADLINE, reconcile(Arc::new(cached), self.ctx.clone()))
            .await
            .expect("the pass finishes")
    }

    /// The requests (events aside) received so far.
    fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The object as the API server now has it.
    fn stored<K: Managed>(&self, object: &Value) -> Value {
        self.state.lock().unwrap().objects[&path_of::<K>(object)].clone()
    }

    /// Stops the controller side: every event published is written, then returned.
    async fn finish(self) -> Vec<SeenEvent> {
        let Operator {
            ctx,
            writer,
            state,
            server,
        } = self;
        // The last `Events` goes with the context: the writer drains its queue and ends.
        drop(ctx);
        tokio::time::timeout(FLUSH_DEADLINE, writer.flush(FLUSH_DEADLINE))
            .await
            .expect("events flushed");
        server.abort();
        state.lock().unwrap().events.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Objects.

/// A `K` named `name` in [`NS`], generation 1, with the finalizer already added.
fn object<K: Managed>(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": K::KIND,
        "metadata": {
            "name": name, "namespace": NS, "uid": format!("uid-{name}"),
            "generation": 1, "resourceVersion": "1", "finalizers": [FINALIZER]
        },
        "spec": spec
    })
}

fn owner(name: &str) -> String {
    format!("{NS}/{name}")
}

fn project_spec() -> Value {
    json!({"description": "The web shop"})
}

fn feature_spec() -> Value {
    json!({
        "project": "shop",
        "description": "The checkout page",
        "variations": [
            {"name": "legacy", "value": {"stringValue": "legacy"}},
            {"name": "v2", "value": {"stringValue": "v2"}}
        ],
        "defaultVariation": "legacy"
    })
}

/// 2030-01-07T09:00:00Z.
const STEP_START: i64 = 1_894_006_800;

fn launch_spec() -> Value {
    json!({
        "project": "shop",
        "description": "Roll-out of the new checkout",
        "groups": [
            {"name": "control", "feature": "checkout", "variation": "legacy"},
            {"name": "treatment", "feature": "checkout", "variation": "v2"}
        ],
        "scheduledSplitsConfig": {"steps": [
            {"startTime": "2030-01-07T09:00:00Z",
             "groupWeights": {"control": 90000, "treatment": 10000}}
        ]},
        "tags": {"team": "payments"}
    })
}

/// `object` being deleted.
fn deleting(mut object: Value) -> Value {
    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    object
}

/// Project "shop" and feature "checkout" in Evidently, owned by nobody here.
async fn shop_with_checkout(ev: &Emulated) {
    ev.stage::<Project>(project_spec(), "shop", None).await;
    ev.stage::<Feature>(feature_spec(), "checkout", None).await;
}

/// `object` as a pass that created it left it: the resource in Evidently and the status the
/// pass applied.
async fn converged<K: Managed>(ev: &Emulated, object: Value) -> Value {
    let operator = Operator::new(ev.evidently());
    operator.pass::<K>(&object).await.expect("created");
    let status = only_status_patch(&operator.requests());
    let mut object = object;
    object["status"] = status;
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["Created"], "{events:?}");
    object
}

// ---------------------------------------------------------------------------------------------
// Assertions.

/// The status of the one request, which must be a server-side apply of the status as the
/// operator's field manager.
fn only_status_patch(requests: &[Seen]) -> Value {
    assert_eq!(requests.len(), 1, "{requests:#?}");
    status_patch(&requests[0])
}

fn status_patch(r: &Seen) -> Value {
    assert_eq!(r.method, "PATCH", "{r:#?}");
    assert!(r.path.ends_with("/status"), "{r:#?}");
    assert_eq!(r.content_type, "application/apply-patch+yaml", "{r:#?}");
    assert!(
        r.query
            .split('&')
            .any(|p| p == "fieldManager=launch-operator"),
        "{r:#?}"
    );
    assert!(r.query.split('&').any(|p| p == "force=true"), "{r:#?}");
    assert_eq!(r.body["apiVersion"], API_VERSION);
    r.body["status"].clone()
}

/// The `Ready` condition of a status: (status, reason, message).
fn ready(status: &Value) -> (String, String, String) {
    let c = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .unwrap_or_else(|| panic!("no Ready condition in {status:#}"));
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    (s("status"), s("reason"), s("message"))
}

/// The finalizer-removing JSON patch, which must be `requests`' only request.
fn only_finalizer_removal(requests: &[Seen]) {
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.content_type.as_str()),
        ("PATCH", "application/json-patch+json"),
        "{r:#?}"
    );
    assert_eq!(
        r.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ])
    );
}

fn reasons(events: &[SeenEvent]) -> Vec<&str> {
    events.iter().map(|e| e.reason.as_str()).collect()
}

fn tags_of(launch: &aws_sdk_evidently::types::Launch) -> BTreeMap<String, String> {
    launch
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn weights(launch: &aws_sdk_evidently::types::Launch) -> BTreeMap<String, i64> {
    launch.scheduled_splits_definition().unwrap().steps()[0]
        .group_weights()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Finalizer and creation.

#[tokio::test]
async fn a_new_object_first_gets_the_finalizer_and_nothing_else() {
    let ev = Emulated::start().await;
    let operator = Operator::new(ev.evidently());
    let mut launch = object::<Launch>("checkout-v2", launch_spec());
    launch["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("finalizers");
    let before = ev.calls().await;

    let action = operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(action, Action::await_change());
    let requests = operator.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.content_type.as_str()),
        (
            "PATCH",
            path_of::<Launch>(&launch).as_str(),
            "application/json-patch+json"
        )
    );
    assert_eq!(
        r.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}
        ])
    );
    assert_eq!(
        operator.stored::<Launch>(&launch)["metadata"]["finalizers"],
        json!([FINALIZER])
    );
    assert_eq!(ev.calls_since(&before).await, calls(&[]));
    assert!(operator.finish().await.is_empty());
}

#[tokio::test]
async fn a_launch_is_created_tagged_with_its_owner_and_its_arn_goes_to_the_status() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let operator = Operator::new(ev.evidently());
    let launch = object::<Launch>("checkout-v2", launch_spec());
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("CreateLaunch 200", 1)])
    );
    let created = ev.launch("checkout-v2").await;
    let tags = tags_of(&created);
    assert_eq!(tags[OWNER_TAG], owner("checkout-v2"));
    assert_eq!(tags["team"], "payments");
    let requests = operator.requests();
    assert_eq!(
        requests[0].path,
        format!("{}/status", path_of::<Launch>(&launch))
    );
    let status = only_status_patch(&requests);
    assert_eq!(status["arn"], created.arn());
    assert_eq!(status["status"], "CREATED");
    assert_eq!(status["observedGeneration"], 1);
    let (ready, reason, message) = ready(&status);
    assert_eq!((ready.as_str(), reason.as_str()), ("True", "Reconciled"));
    assert_eq!(
        message,
        "launch is CREATED in Evidently and matches the spec"
    );
    // One event says it all: no separate Reconciled transition.
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["Created"], "{events:?}");
    assert_eq!(events[0].type_, "Normal");
    assert_eq!(events[0].regarding, "checkout-v2");
    assert!(events[0].note.contains(created.arn()), "{events:?}");
}

#[tokio::test]
async fn a_feature_is_created_in_its_project_with_its_variations() {
    let ev = Emulated::start().await;
    ev.stage::<Project>(project_spec(), "shop", None).await;
    let operator = Operator::new(ev.evidently());
    let feature = object::<Feature>("checkout", feature_spec());
    let before = ev.calls().await;

    operator.pass::<Feature>(&feature).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("CreateFeature 200", 1)])
    );
    let created = ev
        .sdk
        .get_feature()
        .project("shop")
        .feature("checkout")
        .send()
        .await
        .unwrap()
        .feature
        .unwrap();
    assert_eq!(created.tags().unwrap()[OWNER_TAG], owner("checkout"));
    assert_eq!(created.variations().len(), 2);
    let status = only_status_patch(&operator.requests());
    assert_eq!(status["arn"], created.arn());
    assert_eq!(status["defaultVariation"], "legacy");
    let (ready, reason, _) = ready(&status);
    assert_eq!((ready.as_str(), reason.as_str()), ("True", "Reconciled"));
    assert_eq!(reasons(&operator.finish().await), ["Created"]);
}

// ---------------------------------------------------------------------------------------------
// Adoption and foreign resources.

#[tokio::test]
async fn a_launch_created_before_its_status_was_written_is_found_again_not_duplicated() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let launch = object::<Launch>("checkout-v2", launch_spec());
    // A pass created it and the process died before the status write: the status is empty.
    let first = converged::<Launch>(&ev, launch.clone()).await;
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("CreateLaunch 409", 1), ("GetLaunch 200", 1)])
    );
    let listed = ev.sdk.list_launches().project("shop").send().await.unwrap();
    assert_eq!(listed.launches().len(), 1);
    let status = only_status_patch(&operator.requests());
    assert_eq!(status["arn"], first["status"]["arn"]);
    assert_eq!(status["createdTime"], first["status"]["createdTime"]);
    assert_eq!(ready(&status).1, "Reconciled");
    assert_eq!(reasons(&operator.finish().await), ["Adopted", "Reconciled"]);
}

#[tokio::test]
async fn the_adopt_annotation_takes_over_a_launch_of_another_owner_and_retags_it() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let staged = ev
        .stage::<Launch>(launch_spec(), "checkout-v2", Some("other-team/checkout"))
        .await;
    let operator = Operator::new(ev.evidently());
    let mut launch = object::<Launch>("checkout-v2", launch_spec());
    launch["metadata"]["annotations"] = json!({ADOPT_ANNOTATION: "true"});
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[
            ("CreateLaunch 409", 1),
            ("GetLaunch 200", 1),
            ("TagResource 200", 1)
        ])
    );
    let adopted = ev.launch("checkout-v2").await;
    assert_eq!(adopted.arn(), staged.arn);
    assert_eq!(tags_of(&adopted)[OWNER_TAG], owner("checkout-v2"));
    let status = only_status_patch(&operator.requests());
    assert_eq!(status["arn"], staged.arn);
    assert_eq!(ready(&status).1, "Reconciled");
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["Adopted", "Reconciled"], "{events:?}");
    assert!(events[0].note.contains(&staged.arn), "{events:?}");
}

#[tokio::test]
async fn a_launch_of_another_owner_is_left_alone_and_reported_as_already_existing() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    ev.stage::<Launch>(launch_spec(), "checkout-v2", Some("other-team/checkout"))
        .await;
    let mut launch = object::<Launch>("checkout-v2", launch_spec());
    launch["spec"]["description"] = json!("Ours would say this");
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("CreateLaunch 409", 1), ("GetLaunch 200", 1)])
    );
    let theirs = ev.launch("checkout-v2").await;
    assert_eq!(tags_of(&theirs)[OWNER_TAG], "other-team/checkout");
    assert_eq!(theirs.description(), Some("Roll-out of the new checkout"));
    let status = only_status_patch(&operator.requests());
    assert_eq!(status.get("arn"), None, "{status:#}");
    let (ready, reason, message) = ready(&status);
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "AlreadyExists")
    );
    assert!(
        message.contains("the Launch resource other-team/checkout"),
        "{message}"
    );
    assert!(message.contains(ADOPT_ANNOTATION), "{message}");
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["AlreadyExists"]);
    assert_eq!(events[0].type_, "Warning");
}

// ---------------------------------------------------------------------------------------------
// Steady state, drift and refused changes.

#[tokio::test]
async fn a_ready_object_that_matches_evidently_costs_one_read_and_no_write() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let launch = converged::<Launch>(&ev, object::<Launch>("checkout-v2", launch_spec())).await;
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    let action = operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetLaunch 200", 1)])
    );
    let requests = operator.requests();
    assert!(requests.is_empty(), "{requests:#?}");
    assert_eq!(action, Action::requeue(Duration::from_secs(600)));
    assert!(operator.finish().await.is_empty());
}

#[tokio::test]
async fn weights_changed_in_evidently_are_put_back_in_one_update() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let launch = converged::<Launch>(&ev, object::<Launch>("checkout-v2", launch_spec())).await;
    ev.sdk
        .update_launch()
        .project("shop")
        .launch("checkout-v2")
        .scheduled_splits_config(
            ScheduledSplitsLaunchConfig::builder()
                .steps(
                    ScheduledSplitConfig::builder()
                        .start_time(DateTime::from_secs(STEP_START))
                        .group_weights("control", 50_000)
                        .group_weights("treatment", 50_000)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetLaunch 200", 1), ("UpdateLaunch 200", 1)])
    );
    assert_eq!(
        weights(&ev.launch("checkout-v2").await),
        [
            ("control".to_string(), 90_000),
            ("treatment".to_string(), 10_000)
        ]
        .into()
    );
    // The status changes only if Evidently's lastUpdatedTime moved to another second; it stays
    // Ready either way.
    let requests = operator.requests();
    assert!(requests.len() <= 1, "{requests:#?}");
    for r in &requests {
        assert_eq!(ready(&status_patch(r)), ready(&launch["status"]));
    }
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["Updated"], "{events:?}");
    assert_eq!(events[0].note, "updated scheduledSplitsConfig in Evidently");
}

#[tokio::test]
async fn removing_a_variation_a_running_launch_serves_is_refused_with_the_launch_named() {
    let ev = Emulated::start().await;
    ev.stage::<Project>(project_spec(), "shop", None).await;
    let mut feature =
        converged::<Feature>(&ev, object::<Feature>("checkout", feature_spec())).await;
    ev.stage::<Launch>(launch_spec(), "checkout-v2", None).await;
    ev.sdk
        .start_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    feature["spec"]["variations"] = json!([{"name": "legacy", "value": {"stringValue": "legacy"}}]);
    feature["metadata"]["generation"] = json!(2);
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    operator.pass::<Feature>(&feature).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetFeature 200", 1), ("UpdateFeature 409", 1)])
    );
    let kept = ev
        .sdk
        .get_feature()
        .project("shop")
        .feature("checkout")
        .send()
        .await
        .unwrap()
        .feature
        .unwrap();
    assert_eq!(kept.variations().len(), 2);
    let status = only_status_patch(&operator.requests());
    assert_eq!(status["observedGeneration"], 2);
    let (ready, reason, message) = ready(&status);
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "EvidentlyRejected")
    );
    assert!(message.contains("'checkout-v2'"), "{message}");
    assert!(message.contains("'v2'"), "{message}");
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["EvidentlyRejected"]);
    assert_eq!(events[0].type_, "Warning");
}

#[tokio::test]
async fn an_ended_launch_is_not_updated_and_says_it_ended() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let mut launch = converged::<Launch>(&ev, object::<Launch>("checkout-v2", launch_spec())).await;
    let sdk = &ev.sdk;
    sdk.start_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    sdk.stop_launch()
        .project("shop")
        .launch("checkout-v2")
        .desired_state(LaunchStopDesiredState::Completed)
        .send()
        .await
        .unwrap();
    launch["spec"]["description"] = json!("A new description");
    launch["metadata"]["generation"] = json!(2);
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetLaunch 200", 1)])
    );
    assert_eq!(
        ev.launch("checkout-v2").await.description(),
        Some("Roll-out of the new checkout")
    );
    let status = only_status_patch(&operator.requests());
    assert_eq!(status["status"], "COMPLETED");
    let (ready, reason, message) = ready(&status);
    assert_eq!((ready.as_str(), reason.as_str()), ("False", "LaunchEnded"));
    assert_eq!(
        message,
        "the launch is COMPLETED in Evidently and can no longer change; description differ \
         from the spec"
    );
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["LaunchEnded"]);
    assert_eq!(events[0].type_, "Warning");
}

#[tokio::test]
async fn a_launch_deleted_out_of_band_is_reported_and_created_again() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let launch = converged::<Launch>(&ev, object::<Launch>("checkout-v2", launch_spec())).await;
    ev.sdk
        .delete_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetLaunch 404", 1), ("CreateLaunch 200", 1)])
    );
    let again = ev.launch("checkout-v2").await;
    assert_eq!(tags_of(&again)[OWNER_TAG], owner("checkout-v2"));
    // Ready throughout: the status changes only if the new launch was created in another second.
    let requests = operator.requests();
    assert!(requests.len() <= 1, "{requests:#?}");
    for r in &requests {
        assert_eq!(ready(&status_patch(r)), ready(&launch["status"]));
    }
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["LaunchMissing", "Created"], "{events:?}");
    assert_eq!(events[0].type_, "Warning");
}

// ---------------------------------------------------------------------------------------------
// Deletion.

#[tokio::test]
async fn retain_leaves_the_launch_in_evidently_and_releases_the_finalizer() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let mut launch = converged::<Launch>(&ev, object::<Launch>("checkout-v2", launch_spec())).await;
    launch["spec"]["deletionPolicy"] = json!("Retain");
    let launch = deleting(launch);
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    let action = operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(action, Action::await_change());
    assert_eq!(ev.calls_since(&before).await, calls(&[]));
    assert_eq!(ev.launch("checkout-v2").await.status().as_str(), "CREATED");
    only_finalizer_removal(&operator.requests());
    assert_eq!(
        operator.stored::<Launch>(&launch)["metadata"]["finalizers"],
        json!([])
    );
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["Retained"], "{events:?}");
}

#[tokio::test]
async fn deletion_deletes_the_owned_launch_then_releases_the_finalizer() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    let launch =
        deleting(converged::<Launch>(&ev, object::<Launch>("checkout-v2", launch_spec())).await);
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    let action = operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(action, Action::await_change());
    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetLaunch 200", 1), ("DeleteLaunch 200", 1)])
    );
    let gone = ev
        .sdk
        .get_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_resource_not_found_exception());
    only_finalizer_removal(&operator.requests());
    assert_eq!(reasons(&operator.finish().await), ["Deleted"]);
}

#[tokio::test]
async fn deleting_an_object_leaves_a_launch_of_another_owner_in_place() {
    let ev = Emulated::start().await;
    shop_with_checkout(&ev).await;
    ev.stage::<Launch>(launch_spec(), "checkout-v2", Some("other-team/checkout"))
        .await;
    let launch = deleting(object::<Launch>("checkout-v2", launch_spec()));
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    let action = operator.pass::<Launch>(&launch).await.unwrap();

    assert_eq!(action, Action::await_change());
    assert_eq!(
        ev.calls_since(&before).await,
        calls(&[("GetLaunch 200", 1)])
    );
    assert_eq!(
        tags_of(&ev.launch("checkout-v2").await)[OWNER_TAG],
        "other-team/checkout"
    );
    only_finalizer_removal(&operator.requests());
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["NotDeleted"], "{events:?}");
    assert_eq!(events[0].type_, "Normal");
    assert!(events[0].note.contains("not owned"), "{events:?}");
}

#[tokio::test]
async fn a_project_that_still_holds_a_feature_is_not_deleted_and_says_which() {
    let ev = Emulated::start().await;
    let project = converged::<Project>(&ev, object::<Project>("shop", project_spec())).await;
    ev.stage::<Feature>(feature_spec(), "checkout", None).await;
    let project = deleting(project);
    let operator = Operator::new(ev.evidently());
    let before = ev.calls().await;

    let error = operator.pass::<Project>(&project).await.unwrap_err();

    assert_eq!(error.category(), "DeletionBlocked", "{error}");
    let made = ev.calls_since(&before).await;
    assert_eq!(made.get("DeleteProject 409"), Some(&1), "{made:?}");
    assert!(
        made.keys()
            .all(|k| !k.starts_with("Delete") || k == "DeleteProject 409"),
        "{made:?}"
    );
    ev.sdk.get_project().project("shop").send().await.unwrap();
    // No finalizer patch: only the status, which names what holds the project.
    let status = only_status_patch(&operator.requests());
    let (ready, reason, message) = ready(&status);
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "DeletionBlocked")
    );
    assert!(message.contains("features checkout"), "{message}");

    // The next pass (seeing that status) is refused the same way and says nothing new.
    let mut project = project;
    project["status"] = status;
    let error = operator.pass::<Project>(&project).await.unwrap_err();
    assert_eq!(error.category(), "DeletionBlocked");
    assert_eq!(operator.requests().len(), 1, "{:#?}", operator.requests());
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["DeletionBlocked"], "{events:?}");
    assert_eq!(events[0].type_, "Warning");
    assert!(events[0].note.contains("features checkout"), "{events:?}");
}

#[tokio::test]
async fn an_unreachable_evidently_keeps_the_finalizer_and_warns_once() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let operator = Operator::new(Evidently::from_client(
        sdk_client(&format!("http://{closed}")),
        Arc::new(Metrics::new()),
    ));
    let mut launch = object::<Launch>("checkout-v2", launch_spec());
    launch["status"] = json!({
        "arn": "arn:aws:evidently:us-east-1:123456789012:project/shop/launch/checkout-v2"
    });
    let launch = deleting(launch);

    for _ in 0..2 {
        let error = operator.pass::<Launch>(&launch).await.unwrap_err();
        let Error::Finalizer(e) = &error else {
            panic!("{error:?}");
        };
        assert!(
            matches!(
                e.as_ref(),
                finalizer::Error::CleanupFailed(Error::Cleanup(EvidentlyError::Unavailable(_)))
            ),
            "{error:?}"
        );
    }

    let requests = operator.requests();
    assert!(requests.is_empty(), "the finalizer stays: {requests:#?}");
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["NotDeleted"], "{events:?}");
    assert_eq!(events[0].type_, "Warning");
    assert!(events[0].note.contains(FINALIZER), "{events:?}");
}

#[tokio::test]
async fn a_deleted_object_whose_spec_cannot_be_read_warns_once_even_after_earlier_failures() {
    let ev = Emulated::start().await;
    let operator = Operator::new(ev.evidently());
    // No project in Evidently: the pass ends DependencyNotFound and backs off.
    let launch = object::<Launch>("checkout-v2", launch_spec());
    operator.pass::<Launch>(&launch).await.unwrap();
    let reason = ready(&only_status_patch(&operator.requests())).1;
    assert_eq!(reason, "DependencyNotFound");
    // Deleted after the CRD changed under it: the spec no longer decodes.
    let mut launch = deleting(launch);
    launch["spec"]["groups"] = json!("not a list");

    for _ in 0..2 {
        let error = operator.pass::<Launch>(&launch).await.unwrap_err();
        assert!(matches!(error, Error::Decode(_)), "{error:?}");
    }

    assert_eq!(operator.requests().len(), 1, "the finalizer stays");
    let events = operator.finish().await;
    assert_eq!(
        reasons(&events),
        ["DependencyNotFound", "NotDeleted"],
        "{events:?}"
    );
    assert!(events[1].note.contains(FINALIZER), "{events:?}");
}

/// A new launch whose project is not there yet waits quietly (no status, no event: in a GitOps
/// apply its project may be a moment behind) and is retried before the quiet wait ends; an
/// older one says `DependencyNotFound` in its status and in one Warning event.
#[tokio::test]
async fn a_new_object_missing_a_dependency_waits_quietly_then_says_so() {
    use k8s_openapi::jiff::{SignedDuration, Timestamp};
    use launch_operator::controller::reconcile::QUIET_WAIT;

    let ev = Emulated::start().await;
    let operator = Operator::new(ev.evidently());
    let mut launch = object::<Launch>("checkout-v2", launch_spec());
    launch["metadata"]["creationTimestamp"] = json!(Timestamp::now().to_string());
    let action = operator.pass::<Launch>(&launch).await.unwrap();
    assert!(
        operator.requests().is_empty(),
        "nothing written: {:#?}",
        operator.requests()
    );
    // Retried (by the backoff, whose first step is well inside the quiet wait).
    assert!(
        format!("{action:?}").contains("requeue_after: Some("),
        "retried: {action:?}"
    );

    let long_ago = Timestamp::now()
        - SignedDuration::try_from(QUIET_WAIT).unwrap()
        - SignedDuration::from_secs(1);
    launch["metadata"]["creationTimestamp"] = json!(long_ago.to_string());
    operator.pass::<Launch>(&launch).await.unwrap();
    let (status, reason, message) = ready(&only_status_patch(&operator.requests()));
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "DependencyNotFound")
    );
    assert!(message.contains("shop"), "names the project: {message}");
    let events = operator.finish().await;
    assert_eq!(reasons(&events), ["DependencyNotFound"], "{events:?}");
    assert_eq!(events[0].type_, "Warning");
}
