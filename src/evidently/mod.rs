//! Thin layer over `aws-sdk-evidently`: the calls the controller makes for each kind, each
//! returning plain types ([`ObservedLaunch`], [`ObservedProject`], ...) or a categorised
//! [`EvidentlyError`], and counting itself in the metrics. It holds no state and makes no decisions; the controller does.

// AWS marked the Evidently client deprecated when it ended the service; keeping these calls
// working (against the emulator or any compatible endpoint) is this project's purpose.
#![allow(deprecated)]

pub mod error;
pub mod feature;
pub mod launch;
pub mod project;
pub mod segment;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use aws_config::BehaviorVersion;
use aws_sdk_evidently::{Client, types::LaunchStopDesiredState};
use aws_smithy_types::timeout::TimeoutConfig;

pub use error::EvidentlyError;
pub use feature::{FeatureUpdate, ObservedFeature};
pub use launch::{Drift, ObservedLaunch, diff};
pub use project::ObservedProject;
pub use segment::ObservedSegment;

use crate::rules::CreateLaunchInput;

/// Where the Evidently layer reports each call it makes: the operation and its outcome
/// (`Success` or an [`EvidentlyError`] category). The controller's metrics implement it.
pub trait Recorder: Send + Sync {
    fn call(&self, operation: &'static str, outcome: &'static str);
}

/// An Evidently client for the controller.
#[derive(Clone)]
pub struct Evidently {
    client: Client,
    recorder: Arc<dyn Recorder>,
}

impl Evidently {
    /// Builds the client from the standard AWS environment (region, credential chain including
    /// web identity, `AWS_ENDPOINT_URL_EVIDENTLY`); `endpoint` overrides the endpoint.
    pub async fn from_env(endpoint: Option<&str>, recorder: Arc<dyn Recorder>) -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut config = aws_sdk_evidently::config::Builder::from(&shared).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        Evidently {
            client: Client::from_conf(config.build()),
            recorder,
        }
    }

    /// Wraps an existing client (tests).
    pub fn from_client(client: Client, recorder: Arc<dyn Recorder>) -> Self {
        Evidently { client, recorder }
    }

    fn record<T>(&self, operation: &'static str, result: &Result<T, EvidentlyError>) {
        let outcome = match result {
            Ok(_) => "Success",
            Err(e) => e.category(),
        };
        self.recorder.call(operation, outcome);
    }

    /// Runs one call and counts it under `operation`.
    async fn counted<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, EvidentlyError>>,
    ) -> Result<T, EvidentlyError> {
        let result = call.await;
        self.record(operation, &result);
        result
    }

    pub async fn create_launch(
        &self,
        input: &CreateLaunchInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedLaunch, EvidentlyError> {
        self.counted("CreateLaunch", async {
            let c = launch::to_sdk(input).map_err(EvidentlyError::Rejected)?;
            let out = self
                .client
                .create_launch()
                .project(&input.project)
                .name(&input.name)
                .set_description(input.description.clone())
                .set_groups(Some(c.groups))
                .set_metric_monitors(Some(c.metric_monitors))
                .set_randomization_salt(input.randomization_salt.clone())
                .set_scheduled_splits_config(c.splits)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.launch(), "CreateLaunch")
        })
        .await
    }

    pub async fn get_launch(
        &self,
        project: &str,
        name: &str,
    ) -> Result<ObservedLaunch, EvidentlyError> {
        self.counted("GetLaunch", async {
            let out = self
                .client
                .get_launch()
                .project(project)
                .launch(name)
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.launch(), "GetLaunch")
        })
        .await
    }

    /// One UpdateLaunch with every mutable member, so Evidently ends up exactly as `input`.
    pub async fn update_launch(
        &self,
        input: &CreateLaunchInput,
    ) -> Result<ObservedLaunch, EvidentlyError> {
        self.counted("UpdateLaunch", async {
            let c = launch::to_sdk(input).map_err(EvidentlyError::Rejected)?;
            let out = self
                .client
                .update_launch()
                .project(&input.project)
                .launch(&input.name)
                .description(input.description.clone().unwrap_or_default())
                .set_groups(Some(c.groups))
                .set_metric_monitors(Some(c.metric_monitors))
                .randomization_salt(
                    input
                        .randomization_salt
                        .clone()
                        .unwrap_or_else(|| input.name.clone()),
                )
                .set_scheduled_splits_config(c.splits)
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.launch(), "UpdateLaunch")
        })
        .await
    }

    pub async fn start_launch(&self, project: &str, name: &str) -> Result<(), EvidentlyError> {
        self.counted("StartLaunch", async {
            self.client
                .start_launch()
                .project(project)
                .launch(name)
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }

    /// StopLaunch, ending in `state` (`COMPLETED` or `CANCELLED`).
    pub async fn stop_launch(
        &self,
        project: &str,
        name: &str,
        state: &str,
        reason: Option<&str>,
    ) -> Result<(), EvidentlyError> {
        self.counted("StopLaunch", async {
            self.client
                .stop_launch()
                .project(project)
                .launch(name)
                .desired_state(LaunchStopDesiredState::from(state))
                .set_reason(reason.map(str::to_string))
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }

    pub async fn delete_launch(&self, project: &str, name: &str) -> Result<(), EvidentlyError> {
        self.counted("DeleteLaunch", async {
            self.client
                .delete_launch()
                .project(project)
                .launch(name)
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }

    pub async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), EvidentlyError> {
        self.counted("TagResource", async {
            self.client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }

    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), EvidentlyError> {
        self.counted("UntagResource", async {
            self.client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }
}

/// The launch a response carries; a response without one is a broken service.
fn returned(
    launch: Option<&aws_sdk_evidently::types::Launch>,
    operation: &str,
) -> Result<ObservedLaunch, EvidentlyError> {
    launch
        .map(ObservedLaunch::from_sdk)
        .ok_or_else(|| EvidentlyError::Unavailable(format!("{operation} returned no launch")))
}
