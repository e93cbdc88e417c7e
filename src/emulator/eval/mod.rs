//! The data plane: EvaluateFeature and BatchEvaluateFeature, answered from an in-memory,
//! precompiled view of a project (its features, its RUNNING launches with their steps and
//! their segments' compiled patterns), never from the store.
//!
//! A view is built from the store the first time a project is evaluated and after every write
//! the emulator commits: each committed write bumps a generation counter ([`Views::invalidate`]),
//! and a view built at an older generation is rebuilt (one store read) before it is used. So a
//! write is visible to the next evaluation on the same process; between writes, evaluations
//! only read memory. With a shared store (PostgreSQL), other replicas' writes invalidate the
//! views the same way, through the store's notifications ([`Views::foreign`]).
//!
//! The decision, in order (docs/emulator.md has the full text):
//! 1. `evaluationStrategy` DEFAULT_VARIATION → the default variation, reason `DEFAULT`;
//! 2. the entity in `entityOverrides` → that variation, `ENTITY_OVERRIDES_MATCH`;
//! 3. each RUNNING launch with a group on the feature, by name: its active step (the latest
//!    `startTime` not after now); the step's segment overrides by ascending `evaluationOrder`,
//!    the first whose pattern matches and whose weights place the entity decides; otherwise the
//!    step's group weights; a group on this feature → `LAUNCH_RULE_MATCH`;
//! 4. the default variation, `DEFAULT`.
//!
//! Not here: experiments (not emulated), the HTTP side (`super::http`), the hash (`bucket`).

pub mod bucket;
pub mod events;
pub mod input;

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    arn::Arns,
    error::ApiError,
    ops::{Reply, load},
    resources::{Feature, Launch, Segment},
    store::{Foreign, Key, Kind, Reader, Store, StoreError},
};
use crate::{
    pattern::{Context, Pattern},
    rules::LaunchStatus,
};

/// `reason` of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Default,
    EntityOverridesMatch,
    LaunchRuleMatch,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Default => "DEFAULT",
            Reason::EntityOverridesMatch => "ENTITY_OVERRIDES_MATCH",
            Reason::LaunchRuleMatch => "LAUNCH_RULE_MATCH",
        }
    }
}

/// What an evaluation serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation<'v> {
    pub variation: &'v str,
    pub value: &'v Value,
    pub reason: Reason,
    /// The launch and group that decided, for `LAUNCH_RULE_MATCH`.
    pub launch: Option<(&'v str, &'v str)>,
    /// The `details` member: a JSON document in a string (`{}` unless a launch decided),
    /// written once when the view is built.
    pub details: &'v str,
    /// EvaluateFeature's whole answer for this outcome, written once when the view is built
    /// (an evaluation copies it instead of serialising).
    pub answer: &'v str,
}

/// `details` of an evaluation no launch decided.
const NO_DETAILS: &str = "{}";

/// `details` of a decision by `launch`'s `group`.
fn launch_details(launch: &str, group: &str) -> String {
    json!({"launch": launch, "group": group}).to_string()
}

/// A split's weights: (group index, weight), groups in name order.
type Weights = Vec<(usize, u64)>;

#[derive(Debug)]
struct OverrideView {
    segment: String,
    pattern: Arc<Pattern>,
    weights: Weights,
}

#[derive(Debug)]
struct StepView {
    start: f64,
    weights: Weights,
    /// By ascending `evaluationOrder` (ties: as listed).
    overrides: Vec<OverrideView>,
}

#[derive(Debug)]
struct GroupView {
    name: String,
    feature: String,
    variation: String,
    /// The `details` of a decision by this group.
    details: String,
    /// EvaluateFeature's answer when this group decides (empty when the project has no such
    /// feature: the group then never decides).
    answer: String,
}

#[derive(Debug)]
struct LaunchView {
    name: String,
    salt: String,
    /// By name.
    groups: Vec<GroupView>,
    /// By ascending `startTime` (ties: as listed).
    steps: Vec<StepView>,
}

impl LaunchView {
    fn compile(
        launch: &Launch,
        patterns: &HashMap<String, Arc<Pattern>>,
        features: &HashMap<&str, &Variations>,
        arns: &Arns,
    ) -> Self {
        let mut groups: Vec<GroupView> = launch
            .groups
            .iter()
            .map(|g| {
                let config = g.to_config();
                let details = launch_details(&launch.name, &config.name);
                let answer = features
                    .get(config.feature.as_str())
                    .map(|v| {
                        // A group naming a variation the feature does not declare (AWS
                        // accepted such launches) serves the default variation, still as the
                        // launch's decision.
                        let index = v.index(&config.variation).unwrap_or(v.default);
                        v.answer(index, Reason::LaunchRuleMatch, &details)
                    })
                    .unwrap_or_default();
                GroupView {
                    details,
                    answer,
                    name: config.name,
                    feature: config.feature,
                    variation: config.variation,
                }
            })
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let weights = |map: &std::collections::BTreeMap<String, i64>| -> Weights {
            // BTreeMap: by group name, the same order as `groups`.
            map.iter()
                .filter_map(|(name, w)| {
                    let index = groups.iter().position(|g| &g.name == name)?;
                    Some((index, u64::try_from(*w).unwrap_or(0)))
                })
                .collect()
        };
        let mut steps: Vec<StepView> = launch
            .scheduled_splits_definition
            .iter()
            .flat_map(|s| s.steps.iter())
            .map(|step| {
                let mut overrides: Vec<(i64, OverrideView)> = step
                    .segment_overrides
                    .iter()
                    .flatten()
                    .filter_map(|o| {
                        let name = arns.segment_name(&o.segment).ok()?;
                        let pattern = patterns.get(&name)?.clone();
                        Some((
                            o.evaluation_order,
                            OverrideView {
                                segment: name,
                                pattern,
                                weights: weights(&o.weights),
                            },
                        ))
                    })
                    .collect();
                overrides.sort_by_key(|(order, _)| *order);
                StepView {
                    start: step.start_time,
                    weights: weights(&step.group_weights),
                    overrides: overrides.into_iter().map(|(_, o)| o).collect(),
                }
            })
            .collect();
        steps.sort_by(|a, b| a.start.total_cmp(&b.start));
        LaunchView {
            name: launch.name.clone(),
            salt: launch.randomization_salt.clone(),
            groups,
            steps,
        }
    }

    /// The step in effect at `now`: the last one whose start is not after it.
    fn active_step(&self, now: f64) -> Option<&StepView> {
        self.steps.iter().rev().find(|s| s.start <= now)
    }

    /// The group the launch puts the entity in at `now`, if any.
    fn group_for(&self, entity_id: &str, context: &Context, now: f64) -> Option<&GroupView> {
        let step = self.active_step(now)?;
        let by_override = step.overrides.iter().find_map(|o| {
            if !o.pattern.matches(context) {
                return None;
            }
            bucket::pick(
                &o.weights,
                bucket::position(&self.salt, &o.segment, entity_id),
            )
        });
        let index = by_override
            .or_else(|| bucket::pick(&step.weights, bucket::position(&self.salt, "", entity_id)))?;
        self.groups.get(index)
    }
}

/// A feature's variations, as (name, value), never empty; `default` indexes them.
#[derive(Debug)]
struct Variations {
    all: Vec<(String, Value)>,
    default: usize,
}

impl Variations {
    fn index(&self, name: &str) -> Option<usize> {
        self.all.iter().position(|(n, _)| n == name)
    }

    /// (name, value) of variation `index` (clamped: indexes come from `all` positions).
    fn get(&self, index: usize) -> (&str, &Value) {
        let (name, value) = &self.all[index.min(self.all.len() - 1)];
        (name, value)
    }

    /// EvaluateFeature's answer serving variation `index` for `reason`.
    fn answer(&self, index: usize, reason: Reason, details: &str) -> String {
        let (variation, value) = self.get(index);
        serde_json::to_string(&Served {
            project: None,
            feature: None,
            variation: Some(variation),
            value: Some(value),
            reason: Cow::Borrowed(reason.as_str()),
            details: Some(details),
            entity_id: None,
        })
        .unwrap_or_default()
    }
}

#[derive(Debug)]
struct FeatureView {
    name: String,
    serve_default_only: bool,
    variations: Variations,
    /// Entity id → variation index.
    overrides: HashMap<String, usize>,
    /// RUNNING launches with a group on this feature, by name.
    launches: Vec<Arc<LaunchView>>,
    /// The answer serving the default variation, `DEFAULT`.
    default_answer: String,
    /// The answers of `ENTITY_OVERRIDES_MATCH`, by variation index.
    override_answers: Vec<String>,
}

impl FeatureView {
    fn serve<'v>(
        &'v self,
        index: usize,
        reason: Reason,
        launch: Option<(&'v str, &'v str)>,
        details: &'v str,
        answer: &'v str,
    ) -> Evaluation<'v> {
        let (variation, value) = self.variations.get(index);
        Evaluation {
            variation,
            value,
            reason,
            launch,
            details,
            answer,
        }
    }

    fn serve_default(&self) -> Evaluation<'_> {
        let index = self.variations.default;
        self.serve(
            index,
            Reason::Default,
            None,
            NO_DETAILS,
            &self.default_answer,
        )
    }

    /// Evaluates the feature for one entity at `now` (epoch seconds).
    pub fn evaluate(&self, entity_id: &str, context: &Context, now: f64) -> Evaluation<'_> {
        if self.serve_default_only {
            return self.serve_default();
        }
        if let Some(&index) = self.overrides.get(entity_id) {
            let answer = self.override_answers.get(index).map_or("", String::as_str);
            return self.serve(
                index,
                Reason::EntityOverridesMatch,
                None,
                NO_DETAILS,
                answer,
            );
        }
        for launch in &self.launches {
            if let Some(group) = launch.group_for(entity_id, context, now)
                && group.feature == self.name
            {
                // The group's answer says which variation it serves (see `LaunchView::compile`).
                let index = self
                    .variations
                    .index(&group.variation)
                    .unwrap_or(self.variations.default);
                return self.serve(
                    index,
                    Reason::LaunchRuleMatch,
                    Some((&launch.name, &group.name)),
                    &group.details,
                    &group.answer,
                );
            }
        }
        self.serve_default()
    }
}

/// One project, compiled for evaluation.
#[derive(Debug)]
pub struct ProjectView {
    generation: u64,
    /// The project's ARN.
    pub arn: String,
    name: String,
    features: HashMap<String, FeatureView>,
}

/// What a view needs of a stored launch's references: which segments it uses.
fn segments_of(launch: &Launch, arns: &Arns) -> Vec<String> {
    launch
        .scheduled_splits_definition
        .iter()
        .flat_map(|s| s.steps.iter())
        .flat_map(|step| step.segment_overrides.iter().flatten())
        .filter_map(|o| arns.segment_name(&o.segment).ok())
        .collect()
}

impl ProjectView {
    /// Builds the view from one store snapshot; none when the project does not exist.
    fn build(
        r: &dyn Reader,
        arns: &Arns,
        project: &str,
        generation: u64,
    ) -> Result<Option<ProjectView>, ApiError> {
        if r.get(&Key::new(Kind::Project, "", project))?.is_none() {
            return Ok(None);
        }
        // Quotas bound both lists (100 features, 50 running launches per project).
        let listed = r.list(Kind::Feature, project, None, None, usize::MAX)?;
        let running = r.list(
            Kind::Launch,
            project,
            None,
            Some(LaunchStatus::Running.as_str()),
            usize::MAX,
        )?;
        let mut features: Vec<(Feature, Variations)> = Vec::with_capacity(listed.len());
        for record in listed {
            let feature: Feature = serde_json::from_str(&record.doc).map_err(StoreError::from)?;
            let all: Vec<(String, Value)> = feature
                .variations
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect();
            if all.is_empty() {
                continue;
            }
            let mut variations = Variations { all, default: 0 };
            variations.default = variations.index(&feature.default_variation).unwrap_or(0);
            features.push((feature, variations));
        }
        let variations_of: HashMap<&str, &Variations> =
            features.iter().map(|(f, v)| (f.name.as_str(), v)).collect();
        let mut launches = Vec::with_capacity(running.len());
        let mut patterns: HashMap<String, Arc<Pattern>> = HashMap::new();
        for record in running {
            let launch: Launch = serde_json::from_str(&record.doc).map_err(StoreError::from)?;
            for segment in segments_of(&launch, arns) {
                if patterns.contains_key(&segment) {
                    continue;
                }
                if let Some(s) = load::<Segment>(r, &Key::new(Kind::Segment, "", &segment))? {
                    // Patterns are checked when a segment is created; one that does not compile
                    // (a database written by an older emulator) leaves its overrides out, so it
                    // matches no one.
                    match Pattern::parse(&s.pattern) {
                        Ok(p) => {
                            patterns.insert(segment, Arc::new(p));
                        }
                        Err(e) => {
                            tracing::warn!(segment = %segment, error = %e, "stored segment pattern does not compile; its overrides match no one");
                        }
                    }
                }
            }
            launches.push(Arc::new(LaunchView::compile(
                &launch,
                &patterns,
                &variations_of,
                arns,
            )));
        }
        let mut compiled = HashMap::with_capacity(features.len());
        for (feature, variations) in features {
            let overrides = feature
                .entity_overrides
                .iter()
                .filter_map(|(entity, variation)| {
                    Some((entity.clone(), variations.index(variation)?))
                })
                .collect();
            let serving: Vec<Arc<LaunchView>> = launches
                .iter()
                .filter(|l| l.groups.iter().any(|g| g.feature == feature.name))
                .cloned()
                .collect();
            let default_answer = variations.answer(variations.default, Reason::Default, NO_DETAILS);
            let override_answers = (0..variations.all.len())
                .map(|i| variations.answer(i, Reason::EntityOverridesMatch, NO_DETAILS))
                .collect();
            compiled.insert(
                feature.name.clone(),
                FeatureView {
                    name: feature.name.clone(),
                    serve_default_only: feature.evaluation_strategy == "DEFAULT_VARIATION",
                    variations,
                    overrides,
                    launches: serving,
                    default_answer,
                    override_answers,
                },
            );
        }
        Ok(Some(ProjectView {
            generation,
            arn: arns.project(project),
            name: project.to_string(),
            features: compiled,
        }))
    }

    /// Evaluates `feature` for `entity_id`; none when the project has no such feature.
    pub fn evaluate(
        &self,
        feature: &str,
        entity_id: &str,
        context: &Context,
        now: f64,
    ) -> Option<Evaluation<'_>> {
        Some(
            self.features
                .get(feature)?
                .evaluate(entity_id, context, now),
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The compiled views of the projects evaluated so far, and the write generation.
#[derive(Debug, Default)]
pub struct Views {
    generation: AtomicU64,
    projects: RwLock<HashMap<String, Arc<ProjectView>>>,
    /// Set while a shared store cannot tell us about other replicas' writes: every view is then
    /// built for its request and never kept.
    deaf: AtomicBool,
}

impl Views {
    /// Follows other replicas' writes (a shared store's notifications): any of them makes every
    /// view stale; while they cannot be heard, no view is kept at all.
    pub fn foreign(&self, event: Foreign) {
        match event {
            Foreign::Changed => {}
            Foreign::Deaf => self.deaf.store(true, Ordering::Release),
            Foreign::Listening => self.deaf.store(false, Ordering::Release),
        }
        self.invalidate();
    }

    /// Called after every committed write: every view is stale from now on.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.projects
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The current view of `project` (a name), or none if the project does not exist.
    pub async fn get<S: Store>(
        &self,
        store: &S,
        arns: &Arc<Arns>,
        project: &str,
    ) -> Result<Option<Arc<ProjectView>>, ApiError> {
        let generation = self.generation.load(Ordering::Acquire);
        let deaf = self.deaf.load(Ordering::Acquire);
        if let Some(view) = self
            .projects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(project)
            .filter(|v| v.generation == generation && !deaf)
        {
            return Ok(Some(view.clone()));
        }
        let name = project.to_string();
        let arns = arns.clone();
        let built = store
            .read(move |r| ProjectView::build(r, &arns, &name, generation))
            .await?;
        let Some(view) = built.map(Arc::new) else {
            return Ok(None);
        };
        // Only a view of the current generation is kept (a write may have happened meanwhile;
        // this view is still right for the request that asked, which started before it).
        if self.generation.load(Ordering::Acquire) == generation
            && !self.deaf.load(Ordering::Acquire)
        {
            self.projects
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(project.to_string(), view.clone());
        }
        Ok(Some(view))
    }
}

/// Now, in epoch seconds, as launch step start times are written.
pub fn now() -> f64 {
    k8s_openapi::jiff::Timestamp::now().as_microsecond() as f64 / 1e6
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateFeatureInput {
    pub project: String,
    pub feature: String,
    pub entity_id: String,
    pub evaluation_context: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationRequest {
    pub feature: String,
    pub entity_id: String,
    pub evaluation_context: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEvaluateFeatureInput {
    pub project: String,
    pub requests: Vec<EvaluationRequest>,
}

/// Reads an `evaluationContext` (absent: the empty context).
fn context(text: Option<&str>, path: &str) -> Result<Context, ApiError> {
    match text {
        None => Ok(Context::empty()),
        Some(t) => Context::parse(t)
            .map_err(|e| ApiError::invalid_field(path, e.to_string(), Some(t.to_string()))),
    }
}

/// The project's view, or the data plane's 404.
async fn project_view<S: Store>(
    store: &S,
    views: &Views,
    arns: &Arc<Arns>,
    reference: &str,
) -> Result<Arc<ProjectView>, ApiError> {
    // An ARN of another region or account names no project here: the data plane's 404.
    let project = arns.project_name(reference).map_err(|e| match e {
        ApiError::NotFound { .. } => ApiError::missing(Kind::Project, reference),
        other => other,
    })?;
    views
        .get(store, arns, &project)
        .await?
        .ok_or_else(|| ApiError::missing(Kind::Project, arns.project(&project)))
}

/// One evaluation's result as the service writes it; `feature`, `project` and `entityId` only
/// in a batch.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Served<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feature: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Value>,
    reason: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_id: Option<&'a str>,
}

impl<'a> Served<'a> {
    fn of(e: &Evaluation<'a>) -> Served<'a> {
        Served {
            project: None,
            feature: None,
            variation: Some(e.variation),
            value: Some(e.value),
            reason: Cow::Borrowed(e.reason.as_str()),
            details: Some(e.details),
            entity_id: None,
        }
    }
}

#[derive(Serialize)]
struct Results<'a> {
    results: Vec<Served<'a>>,
}

pub async fn evaluate_feature<S: Store>(
    store: &S,
    views: &Views,
    arns: &Arc<Arns>,
    input: EvaluateFeatureInput,
) -> Result<Reply, ApiError> {
    let ctx = context(input.evaluation_context.as_deref(), "evaluationContext")?;
    let view = project_view(store, views, arns, &input.project).await?;
    let evaluation = view
        .evaluate(&input.feature, &input.entity_id, &ctx, now())
        .ok_or_else(|| {
            ApiError::missing(Kind::Feature, arns.feature(&view.name, &input.feature))
        })?;
    Ok(Reply(evaluation.answer.to_string()))
}

pub async fn batch_evaluate_feature<S: Store>(
    store: &S,
    views: &Views,
    arns: &Arc<Arns>,
    input: BatchEvaluateFeatureInput,
) -> Result<Reply, ApiError> {
    let contexts = input
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            context(
                r.evaluation_context.as_deref(),
                &format!("requests[{i}].evaluationContext"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let view = project_view(store, views, arns, &input.project).await?;
    let at = now();
    let results = input
        .requests
        .iter()
        .zip(&contexts)
        .map(|(r, ctx)| {
            let served = match view.evaluate(&r.feature, &r.entity_id, ctx, at) {
                Some(e) => Served {
                    feature: Some(Cow::Borrowed(&r.feature)),
                    ..Served::of(&e)
                },
                None => {
                    // As the service answered: a result without variation, the feature's ARN
                    // and the error as `reason`.
                    let arn = arns.feature(&view.name, &r.feature);
                    Served {
                        project: None,
                        variation: None,
                        value: None,
                        reason: Cow::Owned(format!("Feature does not exist with arn '{arn}'")),
                        feature: Some(Cow::Owned(arn)),
                        details: None,
                        entity_id: None,
                    }
                }
            };
            Served {
                project: Some(&view.arn),
                entity_id: Some(&r.entity_id),
                ..served
            }
        })
        .collect();
    Reply::json(&Results { results })
}
