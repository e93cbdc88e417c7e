//! The Evidently emulator driven by the real `aws-sdk-evidently` client over a real socket:
//! the built binary as a child process for the full launch lifecycle (including SIGTERM and a
//! restart on the same data directory), and the in-process server for error classification,
//! pagination and tags. What these tests prove is that the SDK parses every response and
//! classifies every error into its typed variant.

// AWS marked every Evidently operation deprecated when it ended the service; speaking that
// API to the emulator is the point of this file.
#![allow(deprecated)]

mod support;

use std::time::Duration;

use aws_sdk_evidently::{
    Client,
    config::{
        ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextMut,
        retry::RetryConfig,
    },
    types::{
        EvaluationRequest, Event, EventType, LaunchGroupConfig, LaunchStatus,
        LaunchStopDesiredState, ScheduledSplitConfig, ScheduledSplitsLaunchConfig, SegmentOverride,
        VariableValue, VariationConfig,
    },
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::DateTime;
use launch_operator::emulator::{Emulator, Settings, serve, store::MemoryStore};
use tokio::{net::TcpListener, sync::oneshot};

const ACCOUNT: &str = "arn:aws:evidently:us-east-1:123456789012";

fn client(url: &str) -> Client {
    Client::from_conf(config(url).build())
}

/// The client configuration every test uses (an application's, pointed at the emulator).
fn config(url: &str) -> aws_sdk_evidently::config::Builder {
    // A failed call must fail now: the crash test counts on it.
    support::evidently_config(url).retry_config(RetryConfig::disabled())
}

/// aws-sdk-evidently puts the model's `dataplane.` host prefix in front of the endpoint of
/// EvaluateFeature, BatchEvaluateFeature and PutProjectEvents, even with a custom
/// `endpoint_url`, and has no setting to turn that off. An application that reaches the
/// emulator by a name without a `dataplane.` alias (or by IP) adds this interceptor, as the
/// README shows; it changes only the host, before the request is signed.
#[derive(Debug)]
struct WithoutHostPrefix;

impl Intercept for WithoutHostPrefix {
    fn name(&self) -> &'static str {
        "WithoutHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some((scheme, rest)) = request.uri().split_once("://dataplane.") {
            let uri = format!("{scheme}://{rest}");
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

/// A client for the data plane: [`client`]'s configuration plus [`WithoutHostPrefix`].
fn dataplane_client(url: &str) -> Client {
    Client::from_conf(config(url).interceptor(WithoutHostPrefix).build())
}

/// The emulator in this process, on the in-memory store; stops when dropped.
struct InProcess {
    url: String,
    _stop: oneshot::Sender<()>,
}

async fn in_process() -> InProcess {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let emulator = Emulator::new(MemoryStore::new(), &Settings::default());
    tokio::spawn(serve(listener, emulator, async {
        let _ = stopped.await;
    }));
    InProcess { url, _stop: stop }
}

fn variation(name: &str, value: &str) -> VariationConfig {
    VariationConfig::builder()
        .name(name)
        .value(VariableValue::StringValue(value.into()))
        .build()
        .unwrap()
}

fn group(name: &str, variation: &str) -> LaunchGroupConfig {
    LaunchGroupConfig::builder()
        .name(name)
        .feature("checkout")
        .variation(variation)
        .build()
        .unwrap()
}

fn splits(segment: &str) -> ScheduledSplitsLaunchConfig {
    ScheduledSplitsLaunchConfig::builder()
        .steps(
            ScheduledSplitConfig::builder()
                .start_time(DateTime::from_secs(1_750_000_000))
                .group_weights("control", 90_000)
                .group_weights("treatment", 10_000)
                .build()
                .unwrap(),
        )
        .steps(
            ScheduledSplitConfig::builder()
                .start_time(DateTime::from_secs_f64(1_750_600_000.5))
                .group_weights("control", 50_000)
                .group_weights("treatment", 50_000)
                .segment_overrides(
                    SegmentOverride::builder()
                        .segment(segment)
                        .evaluation_order(1)
                        .weights("treatment", 100_000)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Project `shop`, feature `checkout` (v1, v2), segment `beta`.
async fn fixture(c: &Client) {
    c.create_project().name("shop").send().await.unwrap();
    c.create_feature()
        .project("shop")
        .name("checkout")
        .variations(variation("v1", "old"))
        .variations(variation("v2", "new"))
        .send()
        .await
        .unwrap();
    c.create_segment()
        .name("beta")
        .pattern(r#"{"beta":[true]}"#)
        .send()
        .await
        .unwrap();
}

async fn create_launch(c: &Client, project: &str, name: &str) {
    c.create_launch()
        .project(project)
        .name(name)
        .groups(group("control", "v1"))
        .groups(group("treatment", "v2"))
        .scheduled_splits_config(splits("beta"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_launch_lifecycle_through_the_built_binary_survives_sigterm_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut emulator = support::start_emulator_in(dir.path(), &[]).await;
    let c = client(&emulator.url());
    fixture(&c).await;

    // Create by project ARN, with tags; references come back as ARNs.
    let project_arn = format!("{ACCOUNT}:project/shop");
    let created = c
        .create_launch()
        .project(&project_arn)
        .name("checkout-v2")
        .description("new checkout")
        .groups(group("control", "v1"))
        .groups(group("treatment", "v2"))
        .scheduled_splits_config(splits("beta"))
        .tags("owner", "team-a")
        .send()
        .await
        .unwrap();
    let launch = created.launch().unwrap();
    assert_eq!(
        launch.arn(),
        format!("{ACCOUNT}:project/shop/launch/checkout-v2")
    );
    assert_eq!(launch.project(), Some(project_arn.as_str()));
    assert_eq!(launch.status(), &LaunchStatus::Created);
    assert_eq!(launch.randomization_salt(), Some("checkout-v2"));
    assert!(launch.execution().is_none());
    let steps = launch.scheduled_splits_definition().unwrap().steps();
    assert_eq!(steps[1].start_time().as_secs_f64(), 1_750_600_000.5);
    assert_eq!(
        steps[1].segment_overrides()[0].segment(),
        format!("{ACCOUNT}:segment/beta")
    );

    // Get includes the tags.
    let got = c
        .get_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    let got = got.launch().unwrap();
    assert_eq!(
        got.tags().unwrap().get("owner").map(String::as_str),
        Some("team-a")
    );
    assert_eq!(
        got.groups()[1]
            .feature_variations()
            .get("checkout")
            .map(String::as_str),
        Some("v2")
    );

    // Update, start, stop.
    let updated = c
        .update_launch()
        .project("shop")
        .launch("checkout-v2")
        .randomization_salt("pepper")
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.launch().unwrap().randomization_salt(),
        Some("pepper")
    );
    let started = c
        .start_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    let started = started.launch().unwrap();
    assert_eq!(started.status(), &LaunchStatus::Running);
    assert!(started.execution().unwrap().started_time().is_some());
    let stopped = c
        .stop_launch()
        .project("shop")
        .launch("checkout-v2")
        .desired_state(LaunchStopDesiredState::Cancelled)
        .reason("error rate")
        .send()
        .await
        .unwrap();
    assert!(stopped.ended_time().is_some());

    // SIGTERM: the process exits cleanly; every acknowledged write is there after a restart.
    let exit = emulator.terminate();
    assert!(exit.success(), "{exit:?}");

    emulator.restart();
    let c = client(&emulator.url());
    let after = c
        .get_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    let after = after.launch().unwrap();
    assert_eq!(after.status(), &LaunchStatus::Cancelled);
    assert_eq!(after.status_reason(), Some("error rate"));
    assert_eq!(after.randomization_salt(), Some("pepper"));

    // Clean up in dependency order.
    c.delete_launch()
        .project("shop")
        .launch("checkout-v2")
        .send()
        .await
        .unwrap();
    c.delete_segment().segment("beta").send().await.unwrap();
    c.delete_feature()
        .project("shop")
        .feature("checkout")
        .send()
        .await
        .unwrap();
    c.delete_project().project("shop").send().await.unwrap();
    let projects = c.list_projects().send().await.unwrap();
    assert!(projects.projects().is_empty());
    assert!(projects.next_token().is_none());
}

#[tokio::test]
async fn projects_features_and_segments_round_trip_through_the_sdk() {
    let server = in_process().await;
    let c = client(&server.url);
    fixture(&c).await;

    let project = c.get_project().project("shop").send().await.unwrap();
    let project = project.project().unwrap();
    assert_eq!(project.feature_count(), Some(1));
    let updated = c
        .update_project()
        .project(format!("{ACCOUNT}:project/shop"))
        .description("the shop")
        .send()
        .await
        .unwrap();
    assert_eq!(updated.project().unwrap().description(), Some("the shop"));

    let feature = c
        .update_feature()
        .project("shop")
        .feature("checkout")
        .add_or_update_variations(variation("v3", "newer"))
        .default_variation("v3")
        .send()
        .await
        .unwrap();
    let feature = feature.feature().unwrap();
    assert_eq!(feature.variations().len(), 3);
    assert_eq!(feature.default_variation(), Some("v3"));
    assert_eq!(feature.value_type().as_str(), "STRING");
    let got = c
        .get_feature()
        .project("shop")
        .feature("checkout")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.feature().unwrap().evaluation_strategy().as_str(),
        "ALL_RULES"
    );

    let segment = c
        .get_segment()
        .segment(format!("{ACCOUNT}:segment/beta"))
        .send()
        .await
        .unwrap();
    assert_eq!(segment.segment().unwrap().name(), "beta");
}

#[tokio::test]
async fn paginators_walk_every_page_and_the_status_filter_applies() {
    let server = in_process().await;
    let c = client(&server.url);
    fixture(&c).await;
    for i in 0..5 {
        create_launch(&c, "shop", &format!("l{i}")).await;
        c.create_segment()
            .name(format!("s{i}"))
            .pattern("{}")
            .send()
            .await
            .unwrap();
    }
    for i in [1, 3, 4] {
        c.start_launch()
            .project("shop")
            .launch(format!("l{i}"))
            .send()
            .await
            .unwrap();
    }
    let running: Vec<String> = c
        .list_launches()
        .project("shop")
        .status(LaunchStatus::Running)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .map(|l| l.name().to_string())
        .collect();
    assert_eq!(running, ["l1", "l3", "l4"]);
    let all = c
        .list_launches()
        .project("shop")
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let segments = c
        .list_segments()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(segments.len(), 6);
    let features = c
        .list_features()
        .project("shop")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(features.len(), 1);
    let projects = c
        .list_projects()
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(projects.len(), 1);
}

#[tokio::test]
async fn tags_work_on_every_arn_kind_through_the_sdk() {
    let server = in_process().await;
    let c = client(&server.url);
    fixture(&c).await;
    create_launch(&c, "shop", "l").await;
    for arn in [
        format!("{ACCOUNT}:project/shop"),
        format!("{ACCOUNT}:project/shop/feature/checkout"),
        format!("{ACCOUNT}:project/shop/launch/l"),
        format!("{ACCOUNT}:segment/beta"),
    ] {
        c.tag_resource()
            .resource_arn(&arn)
            .tags("a", "1")
            .tags("b", "2")
            .send()
            .await
            .unwrap();
        c.untag_resource()
            .resource_arn(&arn)
            .tag_keys("a")
            .send()
            .await
            .unwrap();
        let tags = c
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        let tags = tags.tags().unwrap();
        assert_eq!(tags.get("b").map(String::as_str), Some("2"), "{arn}");
        assert!(!tags.contains_key("a"), "{arn}");
    }
    let missing = c
        .list_tags_for_resource()
        .resource_arn(format!("{ACCOUNT}:segment/ghost"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
}

#[tokio::test]
async fn every_error_reaches_the_sdk_as_its_typed_variant() {
    let server = in_process().await;
    let c = client(&server.url);
    fixture(&c).await;
    create_launch(&c, "shop", "l").await;

    let e = c
        .create_project()
        .name("shop")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");

    let e = c
        .get_project()
        .project("ghost")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");

    let e = c
        .delete_project()
        .project("shop")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");

    let e = c
        .delete_feature()
        .project("shop")
        .feature("checkout")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");

    let e = c
        .delete_segment()
        .segment("beta")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");

    // Validation: every bad field listed, in a typed ValidationException.
    let e = c
        .create_launch()
        .project("shop")
        .name("bad name")
        .groups(group("control", "v1"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let aws_sdk_evidently::operation::create_launch::CreateLaunchError::ValidationException(v) = &e
    else {
        panic!("expected ValidationException, got {e:?}");
    };
    assert_eq!(
        v.reason().map(|r| r.as_str()),
        Some("fieldValidationFailed")
    );
    assert_eq!(v.field_list()[0].name(), "name");

    let e = c
        .create_launch()
        .project("shop")
        .name("l2")
        .groups(
            LaunchGroupConfig::builder()
                .name("g")
                .feature("ghost")
                .variation("v1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");

    let e = c
        .stop_launch()
        .project("shop")
        .launch("l")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_validation_exception(), "{e:?}");

    c.start_launch()
        .project("shop")
        .launch("l")
        .send()
        .await
        .unwrap();
    let e = c
        .start_launch()
        .project("shop")
        .launch("l")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");

    let e = c
        .delete_launch()
        .project("shop")
        .launch("l")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");

    let e = c
        .get_launch()
        .project("shop")
        .launch("ghost")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");

    for i in 1..50 {
        c.create_project()
            .name(format!("p{i}"))
            .send()
            .await
            .unwrap();
    }
    let e = c
        .create_project()
        .name("one-too-many")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_service_quota_exceeded_exception(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_launch_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut emulator = support::start_emulator_in(dir.path(), &[]).await;
    let c = client(&emulator.url());
    const WRITERS: usize = 8;
    for w in 0..WRITERS {
        let project = format!("p{w}");
        c.create_project().name(&project).send().await.unwrap();
        c.create_feature()
            .project(&project)
            .name("checkout")
            .variations(variation("v1", "old"))
            .variations(variation("v2", "new"))
            .send()
            .await
            .unwrap();
    }
    c.create_segment()
        .name("beta")
        .pattern("{}")
        .send()
        .await
        .unwrap();

    // Writers create launches until the emulator dies under them; each remembers the launches
    // that got a 200, with the answer, and counts them where the test sees the count.
    let (count, mut counted) = tokio::sync::watch::channel(0usize);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let c = c.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let project = format!("p{w}");
                let mut acknowledged = Vec::new();
                for i in 0..400 {
                    let name = format!("l{i:04}");
                    let sent = c
                        .create_launch()
                        .project(&project)
                        .name(&name)
                        .groups(group("control", "v1"))
                        .groups(group("treatment", "v2"))
                        .scheduled_splits_config(splits("beta"))
                        .tags("writer", w.to_string())
                        .send()
                        .await;
                    match sent {
                        Ok(out) => {
                            acknowledged.push((project.clone(), out.launch().unwrap().clone()));
                            count.send_modify(|n| *n += 1);
                        }
                        Err(_) => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    drop(count);

    // SIGKILL once a random number of writes was acknowledged, with more in flight.
    let target = rand::random_range(1..=200usize);
    tokio::time::timeout(Duration::from_secs(60), counted.wait_for(|n| *n >= target))
        .await
        .unwrap_or_else(|_| panic!("{target} writes not acknowledged within 60 s"))
        .expect("the writers stopped before the kill");
    emulator.kill();

    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    eprintln!(
        "{} launches acknowledged, SIGKILL after {target}",
        acknowledged.len()
    );

    emulator.restart();
    let c = client(&emulator.url());
    for (project, launch) in &acknowledged {
        let got = c
            .get_launch()
            .project(project)
            .launch(launch.name())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{project}/{} lost: {e:?}", launch.name()));
        assert_eq!(
            got.launch(),
            Some(launch),
            "{project}/{} changed",
            launch.name()
        );
    }
}

/// The data plane through the SDK against the built binary: EvaluateFeature (default, entity
/// override, launch, segment override), BatchEvaluateFeature, PutProjectEvents,
/// TestSegmentPattern and ListSegmentReferences, all parsed into the SDK's typed outputs.
#[tokio::test]
async fn the_data_plane_works_through_the_sdk_against_the_built_binary() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = support::start_emulator_in(dir.path(), &[]).await;
    let c = dataplane_client(&emulator.url());
    fixture(&c).await;

    let e = c
        .evaluate_feature()
        .project("shop")
        .feature("checkout")
        .entity_id("u1")
        .send()
        .await
        .unwrap();
    assert_eq!(e.variation(), Some("v1"));
    assert_eq!(e.value(), Some(&VariableValue::StringValue("old".into())));
    assert_eq!(e.reason(), Some("DEFAULT"));
    assert_eq!(e.details(), Some("{}"));

    c.create_launch()
        .project("shop")
        .name("roll")
        .groups(group("control", "v1"))
        .groups(group("treatment", "v2"))
        .scheduled_splits_config(
            ScheduledSplitsLaunchConfig::builder()
                .steps(
                    ScheduledSplitConfig::builder()
                        .start_time(DateTime::from_secs(1_700_000_000))
                        .group_weights("control", 100_000)
                        .segment_overrides(
                            SegmentOverride::builder()
                                .segment("beta")
                                .evaluation_order(1)
                                .weights("treatment", 100_000)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    c.start_launch()
        .project("shop")
        .launch("roll")
        .send()
        .await
        .unwrap();

    let e = c
        .evaluate_feature()
        .project("shop")
        .feature("checkout")
        .entity_id("u1")
        .evaluation_context(r#"{"beta":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(e.variation(), Some("v2"));
    assert_eq!(e.reason(), Some("LAUNCH_RULE_MATCH"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(e.details().unwrap()).unwrap(),
        serde_json::json!({"launch": "roll", "group": "treatment"})
    );

    let batch = c
        .batch_evaluate_feature()
        .project("shop")
        .requests(
            EvaluationRequest::builder()
                .feature("checkout")
                .entity_id("u1")
                .build()
                .unwrap(),
        )
        .requests(
            EvaluationRequest::builder()
                .feature("checkout")
                .entity_id("u2")
                .evaluation_context(r#"{"beta":true}"#)
                .build()
                .unwrap(),
        )
        .requests(
            EvaluationRequest::builder()
                .feature("missing")
                .entity_id("u3")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let results = batch.results();
    assert_eq!(results.len(), 3);
    assert_eq!(
        (
            results[0].entity_id(),
            results[0].variation(),
            results[0].reason()
        ),
        ("u1", Some("v1"), Some("LAUNCH_RULE_MATCH"))
    );
    assert_eq!(
        results[0].project(),
        Some(format!("{ACCOUNT}:project/shop").as_str())
    );
    assert_eq!(results[1].variation(), Some("v2"));
    assert_eq!(results[2].variation(), None);
    assert!(
        results[2]
            .reason()
            .unwrap()
            .starts_with("Feature does not exist")
    );

    let put = c
        .put_project_events()
        .project("shop")
        .events(
            Event::builder()
                .timestamp(DateTime::from_secs(1_700_000_100))
                .r#type(EventType::Custom)
                .data(r#"{"price":3}"#)
                .build()
                .unwrap(),
        )
        .events(
            Event::builder()
                .timestamp(DateTime::from_secs(1_700_000_101))
                .r#type(EventType::Custom)
                .data("not json")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_event_count(), Some(1));
    assert_eq!(put.event_results().len(), 2);
    assert_eq!(put.event_results()[0].error_code(), None);
    assert_eq!(
        put.event_results()[1].error_code(),
        Some("ValidationException")
    );

    let t = c
        .test_segment_pattern()
        .pattern(r#"{"beta":[true]}"#)
        .payload(r#"{"beta":true,"x":1}"#)
        .send()
        .await
        .unwrap();
    assert!(t.r#match());
    let t = c
        .test_segment_pattern()
        .pattern(r#"{"beta":[true]}"#)
        .payload(r#"{"beta":"true"}"#)
        .send()
        .await
        .unwrap();
    assert!(!t.r#match());
    let bad = c
        .test_segment_pattern()
        .pattern(r#"{"beta":[{"regex":"."}]}"#)
        .payload("{}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad.is_validation_exception(), "{bad:?}");

    let refs = c
        .list_segment_references()
        .segment("beta")
        .r#type(aws_sdk_evidently::types::SegmentReferenceResourceType::Launch)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = refs.referenced_by().iter().map(|r| r.name()).collect();
    assert_eq!(names, vec!["roll"]);

    let missing = c
        .evaluate_feature()
        .project("shop")
        .feature("missing")
        .entity_id("u")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
}

/// Without the interceptor, aws-sdk-evidently sends data-plane calls to `dataplane.<host>`:
/// with an IP endpoint that is `dataplane.127.0.0.1`, which does not resolve, so the call
/// never reaches the emulator (control-plane calls on the same client do).
#[tokio::test]
async fn a_plain_sdk_client_prefixes_the_host_of_data_plane_calls() {
    /// Records the URI of every request as it goes on the wire (changes nothing).
    #[derive(Debug, Clone, Default)]
    struct Uris(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
    impl Intercept for Uris {
        fn name(&self) -> &'static str {
            "Uris"
        }
        fn read_before_transmit(
            &self,
            context: &aws_sdk_evidently::config::interceptors::BeforeTransmitInterceptorContextRef<
                '_,
            >,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let uri = context.request().uri().to_string();
            self.0.lock().unwrap().push(uri);
            Ok(())
        }
    }
    let server = in_process().await;
    let uris = Uris::default();
    let c = Client::from_conf(config(&server.url).interceptor(uris.clone()).build());
    fixture(&c).await;
    let err = c
        .evaluate_feature()
        .project("shop")
        .feature("checkout")
        .entity_id("u")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, aws_sdk_evidently::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );
    assert!(format!("{err:?}").contains("dns error"), "{err:?}");
    let sent = uris.0.lock().unwrap().clone();
    assert_eq!(
        sent.last().map(String::as_str),
        Some(
            format!(
                "http://dataplane.{}/projects/shop/evaluations/checkout",
                server.url.trim_start_matches("http://")
            )
            .as_str()
        )
    );
    // The control-plane calls of the fixture went to the endpoint as given.
    assert!(sent[0].starts_with(&format!("{}/", server.url)), "{sent:?}");
}
