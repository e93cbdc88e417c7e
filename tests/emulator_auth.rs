//! The emulator with `--auth sigv4`, as a real process: unchanged `aws-sdk-evidently` clients
//! with a known key work; every kind of bad signature is refused with AWS's code; a data-plane
//! key evaluates and sends events but changes nothing; keys rotate without a restart; and a
//! full run with the controller logs no secret.

// AWS marked the Evidently client deprecated; the emulator keeps it alive.
#![allow(deprecated)]

mod support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_evidently::{
    error::ProvideErrorMetadata,
    types::{VariableValue, VariationConfig},
};
use aws_sigv4::{
    http_request::{SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use support::{Process, eventually, http_get, metric, start_emulator_with_keys};

/// Secrets that must never appear in a log.
const ADMIN_SECRET: &str = "adm-9f3c1e77d2b84a06b5e1c0ffee4d2a91";
const APP_SECRET: &str = "app-4b7e2d19c6a043f8a1d2b3c4d5e6f708";

fn keys_file() -> String {
    format!(
        "keys:
  - name: platform
    accessKeyId: AKIDPLATFORM
    secretAccessKey: {ADMIN_SECRET}
    allow: ['evidently:*']
  - name: checkout-app
    accessKeyId: AKIDAPP
    secretAccessKey: {APP_SECRET}
    allow: ['evidently:Evaluate*', 'evidently:BatchEvaluateFeature', 'evidently:PutProjectEvents']
    resources: ['arn:aws:evidently:us-east-1:123456789012:project/shop']
"
    )
}

fn client(url: &str, id: &str, secret: &str) -> aws_sdk_evidently::Client {
    let config = aws_sdk_evidently::Config::builder()
        .behavior_version(aws_sdk_evidently::config::BehaviorVersion::latest())
        .region(aws_sdk_evidently::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new(id, secret, None, None, "auth-test"))
        .endpoint_url(url)
        .build();
    aws_sdk_evidently::Client::from_conf(config)
}

async fn seed(url: &str) {
    let ev = client(url, "AKIDPLATFORM", ADMIN_SECRET);
    ev.create_project().name("shop").send().await.unwrap();
    ev.create_project().name("other").send().await.unwrap();
    for project in ["shop", "other"] {
        let mut req = ev.create_feature().project(project).name("checkout");
        for v in ["legacy", "v2"] {
            req = req.variations(
                VariationConfig::builder()
                    .name(v)
                    .value(VariableValue::StringValue(v.into()))
                    .build()
                    .unwrap(),
            );
        }
        req.send().await.unwrap();
    }
}

/// One raw request, signed with `aws-sigv4` (the SDK's signer) at `at` unless `unsigned`;
/// `tamper` may change it after signing. Returns the status and the `x-amzn-ErrorType`.
async fn raw(
    emulator: &Process,
    (id, secret): (&str, &str),
    path: &str,
    body: &str,
    at: SystemTime,
    tamper: impl FnOnce(&mut hyper::Request<Full<Bytes>>),
) -> (u16, String, Value) {
    let host = format!("127.0.0.1:{}", emulator.port);
    let identity = Credentials::new(id, secret, None, None, "raw").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("evidently")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let signable = SignableRequest::new(
        "POST",
        format!("http://{host}{path}"),
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{host}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    tamper(&mut request);
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let response = http.request(request).await.unwrap();
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        code,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

const EVALUATE: &str = "/projects/shop/evaluations/checkout";
const EVALUATE_BODY: &str = r#"{"entityId": "user-1"}"#;

#[tokio::test]
async fn unchanged_sdk_clients_with_a_known_key_work_and_unknown_or_wrong_keys_are_refused() {
    let emulator = start_emulator_with_keys(&keys_file(), &[]).await;
    let url = emulator.url();
    seed(&url).await;
    let listed = client(&url, "AKIDPLATFORM", ADMIN_SECRET)
        .list_projects()
        .send()
        .await
        .unwrap();
    assert_eq!(listed.projects().len(), 2);

    let wrong = client(&url, "AKIDPLATFORM", "not-the-secret")
        .list_projects()
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidSignatureException"));
    let unknown = client(&url, "AKIDNOBODY", "whatever")
        .list_projects()
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        unknown.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );
}

#[tokio::test]
async fn each_kind_of_bad_request_is_refused_with_the_aws_code() {
    let emulator = start_emulator_with_keys(&keys_file(), &[]).await;
    seed(&emulator.url()).await;
    let app = ("AKIDAPP", APP_SECRET);
    let now = SystemTime::now();
    let ok = raw(&emulator, app, EVALUATE, EVALUATE_BODY, now, |_| {}).await;
    assert_eq!((ok.0, ok.1.as_str()), (200, ""), "{ok:?}");
    assert_eq!(ok.2["variation"], "legacy");

    let cases: Vec<(&str, (u16, String, Value), &str)> = vec![
        (
            "wrong secret",
            raw(
                &emulator,
                ("AKIDAPP", "nope"),
                EVALUATE,
                EVALUATE_BODY,
                now,
                |_| {},
            )
            .await,
            "InvalidSignatureException",
        ),
        (
            "unknown key",
            raw(
                &emulator,
                ("AKIDX", "x"),
                EVALUATE,
                EVALUATE_BODY,
                now,
                |_| {},
            )
            .await,
            "UnrecognizedClientException",
        ),
        (
            "expired date",
            raw(
                &emulator,
                app,
                EVALUATE,
                EVALUATE_BODY,
                now - Duration::from_secs(20 * 60),
                |_| {},
            )
            .await,
            "InvalidSignatureException",
        ),
        (
            "future date",
            raw(
                &emulator,
                app,
                EVALUATE,
                EVALUATE_BODY,
                now + Duration::from_secs(20 * 60),
                |_| {},
            )
            .await,
            "InvalidSignatureException",
        ),
        (
            "tampered body",
            raw(&emulator, app, EVALUATE, EVALUATE_BODY, now, |r| {
                *r.body_mut() = Full::new(Bytes::from_static(br#"{"entityId": "user-2"}"#));
            })
            .await,
            "InvalidSignatureException",
        ),
        (
            "tampered header",
            raw(&emulator, app, EVALUATE, EVALUATE_BODY, now, |r| {
                r.headers_mut()
                    .insert("content-type", "text/plain".parse().unwrap());
            })
            .await,
            "InvalidSignatureException",
        ),
        (
            "missing signature",
            raw(&emulator, app, EVALUATE, EVALUATE_BODY, now, |r| {
                r.headers_mut().remove("authorization");
            })
            .await,
            "MissingAuthenticationTokenException",
        ),
        (
            "incomplete signature",
            raw(&emulator, app, EVALUATE, EVALUATE_BODY, now, |r| {
                r.headers_mut().insert(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDAPP/20260101/us-east-1/evidently/aws4_request"
                        .parse()
                        .unwrap(),
                );
            })
            .await,
            "IncompleteSignatureException",
        ),
    ];
    for (what, (status, code, body), expected) in cases {
        assert_eq!((status, code.as_str()), (403, expected), "{what}: {body}");
        assert!(body["message"].is_string(), "{what}: {body}");
        assert!(!body.to_string().contains(APP_SECRET), "{what}");
    }
    let expired = raw(
        &emulator,
        app,
        EVALUATE,
        EVALUATE_BODY,
        now - Duration::from_secs(20 * 60),
        |_| {},
    )
    .await;
    assert!(
        expired.2["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired"),
        "{expired:?}"
    );
}

#[tokio::test]
async fn a_data_plane_key_evaluates_and_sends_events_but_changes_nothing() {
    let emulator = start_emulator_with_keys(&keys_file(), &[]).await;
    seed(&emulator.url()).await;
    let app = ("AKIDAPP", APP_SECRET);
    let now = SystemTime::now();
    let evaluated = raw(&emulator, app, EVALUATE, EVALUATE_BODY, now, |_| {}).await;
    assert_eq!(evaluated.0, 200, "{evaluated:?}");
    let batch = raw(
        &emulator,
        app,
        "/projects/shop/evaluations",
        r#"{"requests": [{"entityId": "u1", "feature": "checkout"}, {"entityId": "u2", "feature": "checkout"}]}"#,
        now,
        |_| {},
    )
    .await;
    assert_eq!(batch.0, 200, "{batch:?}");
    let events = raw(
        &emulator,
        app,
        "/events/projects/shop",
        &json!({"events": [{"type": "aws.evidently.custom", "timestamp": 1_800_000_000,
                             "data": "{\"details\": {\"ms\": 12}}"}]})
        .to_string(),
        now,
        |_| {},
    )
    .await;
    assert_eq!(events.0, 200, "{events:?}");

    // Control-plane calls and other projects are refused as IAM would.
    for (path, body) in [
        (
            "/projects/shop/launches",
            r#"{"name": "sneaky", "groups": [{"name": "g", "feature": "checkout", "variation": "v2"}]}"#,
        ),
        ("/projects", r#"{"name": "mine"}"#),
        ("/projects/other/evaluations/checkout", EVALUATE_BODY),
    ] {
        let (status, code, body) = raw(&emulator, app, path, body, now, |_| {}).await;
        assert_eq!(
            (status, code.as_str()),
            (403, "AccessDeniedException"),
            "{path}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("User: arn:aws:iam::123456789012:user/checkout-app is not authorized to perform: evidently:"),
            "{body}"
        );
    }
    let ev = client(&emulator.url(), "AKIDPLATFORM", ADMIN_SECRET);
    assert!(
        ev.get_launch()
            .project("shop")
            .launch("sneaky")
            .send()
            .await
            .is_err()
    );
    let (_, text) = http_get(&format!("{}/metrics", emulator.url()))
        .await
        .unwrap();
    assert_eq!(
        metric(
            &text,
            "evidently_emulator_auth_refused_total{operation=\"CreateLaunch\",key=\"checkout-app\",code=\"AccessDeniedException\"}"
        ),
        1.0,
        "{text}"
    );
    assert!(!text.contains(APP_SECRET) && !text.contains("AKIDAPP"));
}

#[tokio::test]
async fn rotated_keys_take_effect_without_a_restart() {
    let emulator = start_emulator_with_keys(&keys_file(), &["--auth-reload-interval=200ms"]).await;
    seed(&emulator.url()).await;
    let args = emulator.args.clone();
    let path = args
        .iter()
        .find_map(|a| a.strip_prefix("--auth-keys="))
        .unwrap()
        .to_string();
    let rotated = keys_file().replace(APP_SECRET, "app-rotated-0d9c8b7a6f5e4d3c2b1a");
    std::fs::write(&path, rotated).unwrap();
    eventually(
        "the rotated secret accepted",
        Duration::from_secs(10),
        || async {
            let (status, code, _) = raw(
                &emulator,
                ("AKIDAPP", "app-rotated-0d9c8b7a6f5e4d3c2b1a"),
                EVALUATE,
                EVALUATE_BODY,
                SystemTime::now(),
                |_| {},
            )
            .await;
            if status == 200 {
                Ok(())
            } else {
                Err(format!("{status} {code}"))
            }
        },
    )
    .await;
    let old = raw(
        &emulator,
        ("AKIDAPP", APP_SECRET),
        EVALUATE,
        EVALUATE_BODY,
        SystemTime::now(),
        |_| {},
    )
    .await;
    assert_eq!((old.0, old.1.as_str()), (403, "InvalidSignatureException"));
    // A broken file keeps the keys in force.
    std::fs::write(&path, "keys: [").unwrap();
    let log = std::fs::read_to_string(&emulator.log).unwrap();
    let before = log.matches("access keys not reloaded").count();
    eventually(
        "the broken file reported",
        Duration::from_secs(10),
        || async {
            let log = std::fs::read_to_string(&emulator.log).unwrap();
            if log.matches("access keys not reloaded").count() > before {
                Ok(())
            } else {
                Err("not yet".to_string())
            }
        },
    )
    .await;
    let still = raw(
        &emulator,
        ("AKIDAPP", "app-rotated-0d9c8b7a6f5e4d3c2b1a"),
        EVALUATE,
        EVALUATE_BODY,
        SystemTime::now(),
        |_| {},
    )
    .await;
    assert_eq!(still.0, 200);
}

/// A whole run, the controller reconciling the examples through a key of its own against an
/// emulator that checks signatures: every resource Ready, then deleted; neither log holds a
/// secret.
#[tokio::test]
async fn a_full_run_with_signatures_on_logs_no_secret() {
    let cp = support::ControlPlane::shared();
    let admin = cp.admin().await;
    let ns = support::namespace(&admin, "auth").await;
    let controller_secret = "ctl-5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";
    let keys = format!(
        "{}  - {{name: launch-operator, accessKeyId: AKIDOPERATOR, secretAccessKey: {controller_secret}, allow: ['evidently:*']}}\n",
        keys_file()
    );
    let emulator = start_emulator_with_keys(&keys, &[]).await;
    let controller = support::start_controller_with_credentials(
        &emulator.url(),
        &ns,
        ("AKIDOPERATOR", controller_secret),
    )
    .await;
    support::with_logs(vec![controller.log.clone(), emulator.log.clone()], async {
        let docs: Vec<Value> = ["project.yaml", "features.yaml", "checkout-rollout.yaml"]
            .iter()
            .flat_map(|f| support::example_documents(f, &ns))
            .collect();
        for d in &docs {
            support::apply_document(&admin, &ns, d).await;
        }
        support::wait_documents_ready(&admin, &ns, &docs).await;
        for d in docs.iter().rev() {
            support::delete_document(&admin, &ns, d).await;
        }
        support::wait_documents_gone(&admin, &ns, &docs).await;
        for log in [&controller.log, &emulator.log] {
            let text = std::fs::read_to_string(log).unwrap();
            for secret in [controller_secret, ADMIN_SECRET, APP_SECRET] {
                assert!(!text.contains(secret), "{} holds a secret", log.display());
            }
        }
    })
    .await;
}
