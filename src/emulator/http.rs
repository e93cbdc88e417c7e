//! The HTTP side: the axum router, the one handler that serves every API request
//! (route → input → validate → operation → response), and `/healthz`, `/readyz`, `/metrics`.
//!
//! Every response gets an `x-amzn-RequestId`. Routing is not axum's: API routes come from the
//! API model (`super::wire`), so axum only sees the three health paths, which no API path
//! shares. Nothing here decides what an operation does.

use std::{
    sync::Arc,
    time::{Instant, SystemTime},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tracing::Instrument;

use super::{
    Emulator, auth,
    error::{ApiError, ValidationReason},
    eval,
    ops::{Reply, features, launches, projects, segments, tags, typed},
    store::Store,
    wire::{self, Matched},
};
use crate::rules::launch::{validate_create_launch, validate_update_launch};

/// The emulator's router: the API plus `/healthz`, `/readyz` and `/metrics`.
pub fn router<S: Store>(emulator: Arc<Emulator<S>>) -> Router {
    metrics_router(emulator.clone()).merge(api_router(emulator))
}

/// The API plus `/healthz` and `/readyz`, without `/metrics` (served on `--metrics-listen`).
pub fn api_router<S: Store>(emulator: Arc<Emulator<S>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .fallback(api::<S>)
        .layer(middleware::from_fn(request_id))
        .with_state(emulator)
}

/// `/metrics` alone.
pub fn metrics_router<S: Store>(emulator: Arc<Emulator<S>>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::<S>))
        .with_state(emulator)
}

/// Gives every response a fresh `x-amzn-RequestId`, and every request a span carrying it.
async fn request_id(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::debug_span!(
        "request",
        request_id = %id,
        method = %request.method(),
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz<S: Store>(State(emulator): State<Arc<Emulator<S>>>) -> Response {
    match emulator.store.ready().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "store not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("store not ready: {e}\n"),
            )
                .into_response()
        }
    }
}

async fn metrics<S: Store>(State(emulator): State<Arc<Emulator<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::telemetry::METRICS_CONTENT_TYPE)],
        emulator.metrics.render(),
    )
        .into_response()
}

/// Serves every API request.
async fn api<S: Store>(State(emulator): State<Arc<Emulator<S>>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let (operation, result) = match wire::route(parts.method.as_str(), parts.uri.path()) {
        Ok(matched) => {
            let name = matched.op.name;
            let result = match read_body(body, emulator.body_limit).await {
                Ok(bytes) => match check_access(&emulator, &parts, &matched, &bytes) {
                    Ok(()) => call(&emulator, matched, parts.uri.query(), &bytes).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            (name, result)
        }
        Err(e) => ("UnknownOperation", Err(e)),
    };
    let response = match result {
        Ok(Reply(json)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(e) => {
            tracing::debug!(operation, code = e.code(), error = %e, "request rejected");
            e.into_response()
        }
    };
    if let Some((_, delay)) = emulator
        .response_delays
        .iter()
        .find(|(op, _)| op == operation)
    {
        tokio::time::sleep(*delay).await;
    }
    emulator
        .metrics
        .observe(operation, response.status().as_u16(), started.elapsed());
    response
}

/// With access keys configured: the request must be signed by a known key (SigV4) whose
/// policy allows the operation on the resource it acts on.
fn check_access<S: Store>(
    emulator: &Emulator<S>,
    parts: &axum::http::request::Parts,
    matched: &Matched,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(keys) = &emulator.auth else {
        return Ok(());
    };
    let operation = matched.op.name;
    let request = auth::Request {
        method: parts.method.as_str(),
        path_and_query: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: &parts.headers,
        body,
    };
    let principal = auth::authenticate(keys, &emulator.region, &request, SystemTime::now())
        .map_err(|e| {
            emulator
                .metrics
                .refused(operation, e.key.as_deref(), e.code);
            ApiError::Unauthenticated(e)
        })?;
    let resource = resource_of(emulator, matched, body);
    if principal.may(operation, resource.as_deref()) {
        Ok(())
    } else {
        emulator
            .metrics
            .refused(operation, Some(&principal.name), "AccessDeniedException");
        Err(ApiError::AccessDenied {
            message: auth::denied_message(
                &emulator.account_id,
                &principal,
                operation,
                resource.as_deref(),
            ),
        })
    }
}

/// The ARN a call acts on, for a key's `resources`: the project for everything inside one, the
/// segment for segment calls, the given ARN for tag calls; `None` for calls that name none.
fn resource_of<S: Store>(emulator: &Emulator<S>, matched: &Matched, body: &[u8]) -> Option<String> {
    let arns = &emulator.arns;
    let label = |name: &str| Some(matched.label(name)).filter(|v| !v.is_empty());
    if let Some(project) = label("project") {
        return Some(match arns.project_name(project) {
            Ok(name) => arns.project(&name),
            Err(_) => project.to_string(),
        });
    }
    if let Some(segment) = label("segment") {
        return Some(match arns.segment_name(segment) {
            Ok(name) => arns.segment(&name),
            Err(_) => segment.to_string(),
        });
    }
    if let Some(arn) = label("resourceArn") {
        return Some(arn.to_string());
    }
    let named = || {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
    };
    match matched.op.name {
        "CreateProject" => named().map(|n| arns.project(&n)),
        "CreateSegment" => named().map(|n| arns.segment(&n)),
        _ => None,
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The only way a request body fails to arrive in full that a client can still hear
        // about is being too large; a connection that broke gets no answer anyway.
        tracing::debug!(error = %e, "request body not read");
        ApiError::BodyTooLarge { limit }
    })
}

/// Validates the input of the matched operation and runs it against the store.
async fn call<S: Store>(
    emulator: &Emulator<S>,
    matched: Matched,
    query: Option<&str>,
    body: &[u8],
) -> Result<Reply, ApiError> {
    // The data plane's hot path: a valid evaluation is read without the generic JSON tree;
    // an invalid one goes on below, to be refused in the model's words.
    match matched.op.name {
        "EvaluateFeature" => {
            if let Some(i) = eval::input::evaluate_feature(&matched, query, body) {
                return eval::evaluate_feature(&emulator.store, &emulator.views, &emulator.arns, i)
                    .await;
            }
        }
        "BatchEvaluateFeature" => {
            if let Some(i) = eval::input::batch_evaluate_feature(&matched, query, body) {
                return eval::batch_evaluate_feature(
                    &emulator.store,
                    &emulator.views,
                    &emulator.arns,
                    i,
                )
                .await;
            }
        }
        _ => {}
    }
    let input = wire::input(&matched, query, body)?;
    let shape = matched.op.input;
    let store = &emulator.store;
    let arns = emulator.arns.clone();

    // Every write, committed or not, makes the evaluation views stale (a failed fsync may
    // still leave its write in the database).
    macro_rules! write {
        ($op:path) => {{
            let i = typed(shape, input)?;
            let result = store.write(move |tx| $op(tx, &arns, i)).await;
            emulator.views.invalidate();
            result
        }};
    }
    macro_rules! read {
        ($op:path) => {{
            let i = typed(shape, input)?;
            store.read(move |r| $op(r, &arns, i)).await
        }};
    }

    match matched.op.name {
        "CreateProject" => write!(projects::create),
        "GetProject" => read!(projects::get),
        "ListProjects" => read!(projects::list),
        "UpdateProject" => write!(projects::update),
        "UpdateProjectDataDelivery" => write!(projects::update_data_delivery),
        "DeleteProject" => write!(projects::delete),
        "CreateFeature" => write!(features::create),
        "GetFeature" => read!(features::get),
        "ListFeatures" => read!(features::list),
        "UpdateFeature" => write!(features::update),
        "DeleteFeature" => write!(features::delete),
        "CreateLaunch" => {
            let i = validate_create_launch(matched.label("project"), input)
                .map_err(ApiError::invalid)?;
            let result = store.write(move |tx| launches::create(tx, &arns, i)).await;
            emulator.views.invalidate();
            result
        }
        "UpdateLaunch" => {
            let i =
                validate_update_launch(matched.label("project"), matched.label("launch"), input)
                    .map_err(ApiError::invalid)?;
            let result = store.write(move |tx| launches::update(tx, &arns, i)).await;
            emulator.views.invalidate();
            result
        }
        "GetLaunch" => read!(launches::get),
        "ListLaunches" => read!(launches::list),
        "DeleteLaunch" => write!(launches::delete),
        "StartLaunch" => write!(launches::start),
        "StopLaunch" => write!(launches::stop),
        "CreateSegment" => write!(segments::create),
        "GetSegment" => read!(segments::get),
        "ListSegments" => read!(segments::list),
        "DeleteSegment" => write!(segments::delete),
        "TestSegmentPattern" => segments::test_pattern(typed(shape, input)?),
        "ListSegmentReferences" => read!(segments::references),
        "EvaluateFeature" => {
            let i = typed(shape, input)?;
            eval::evaluate_feature(store, &emulator.views, &emulator.arns, i).await
        }
        "BatchEvaluateFeature" => {
            let i = typed(shape, input)?;
            eval::batch_evaluate_feature(store, &emulator.views, &emulator.arns, i).await
        }
        "PutProjectEvents" => {
            let i = typed(shape, input)?;
            eval::events::put_project_events(
                store,
                &emulator.views,
                &emulator.arns,
                &emulator.metrics,
                i,
            )
            .await
        }
        "TagResource" => write!(tags::tag),
        "UntagResource" => write!(tags::untag),
        "ListTagsForResource" => read!(tags::list),
        other => Err(ApiError::validation(
            ValidationReason::UnknownOperation,
            format!("{other} is not supported by the Evidently emulator."),
        )),
    }
}
