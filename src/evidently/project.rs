//! Projects between our plain structs and `aws-sdk-evidently`, and the project calls.

use std::collections::BTreeMap;

use aws_sdk_evidently::types as sdk;
use serde_json::{Value, json};

use super::{Evidently, EvidentlyError};
use crate::rules::project::CreateProjectInput;

/// A project as Evidently reports it, in plain types.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedProject {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub description: Option<String>,
    /// Epoch seconds.
    pub created_time: i64,
    pub last_updated_time: i64,
    pub feature_count: Option<i64>,
    pub launch_count: Option<i64>,
    pub active_launch_count: Option<i64>,
    /// `dataDelivery` in the wire's JSON form (`{"s3Destination": {...}}`), absent members
    /// left out.
    pub data_delivery: Option<Value>,
    /// `appConfigResource` in the wire's JSON form, without the profile id Evidently adds.
    pub app_config_resource: Option<Value>,
    pub tags: BTreeMap<String, String>,
}

fn present(pairs: &[(&str, &Option<String>)]) -> Option<Value> {
    let map: serde_json::Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| ((*k).to_string(), json!(v))))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

impl ObservedProject {
    pub fn from_sdk(p: &sdk::Project) -> Self {
        let data_delivery = p.data_delivery.as_ref().and_then(|d| {
            let mut out = serde_json::Map::new();
            if let Some(s3) = present(&[
                (
                    "bucket",
                    &d.s3_destination.as_ref().and_then(|s| s.bucket.clone()),
                ),
                (
                    "prefix",
                    &d.s3_destination.as_ref().and_then(|s| s.prefix.clone()),
                ),
            ]) {
                out.insert("s3Destination".into(), s3);
            }
            if let Some(cw) = present(&[(
                "logGroup",
                &d.cloud_watch_logs
                    .as_ref()
                    .and_then(|c| c.log_group.clone()),
            )]) {
                out.insert("cloudWatchLogs".into(), cw);
            }
            (!out.is_empty()).then_some(Value::Object(out))
        });
        let app_config_resource = p.app_config_resource.as_ref().and_then(|a| {
            present(&[
                ("applicationId", &Some(a.application_id.clone())),
                ("environmentId", &Some(a.environment_id.clone())),
            ])
        });
        ObservedProject {
            arn: p.arn.clone(),
            name: p.name.clone(),
            status: p.status.as_str().to_string(),
            description: p.description.clone(),
            created_time: p.created_time.secs(),
            last_updated_time: p.last_updated_time.secs(),
            feature_count: p.feature_count,
            launch_count: p.launch_count,
            active_launch_count: p.active_launch_count,
            data_delivery,
            app_config_resource,
            tags: p.tags.clone().unwrap_or_default().into_iter().collect(),
        }
    }
}

/// `ProjectDataDeliveryConfig` of the wire's JSON form, for the SDK.
fn data_delivery_config(
    value: Option<&Value>,
) -> (
    Option<sdk::S3DestinationConfig>,
    Option<sdk::CloudWatchLogsDestinationConfig>,
) {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(v) = value else { return (None, None) };
    let s3 = v.get("s3Destination").map(|s| {
        sdk::S3DestinationConfig::builder()
            .set_bucket(text(s, "bucket"))
            .set_prefix(text(s, "prefix"))
            .build()
    });
    let cw = v.get("cloudWatchLogs").map(|c| {
        sdk::CloudWatchLogsDestinationConfig::builder()
            .set_log_group(text(c, "logGroup"))
            .build()
    });
    (s3, cw)
}

fn app_config(value: Option<&Value>) -> Option<sdk::ProjectAppConfigResourceConfig> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    value.map(|v| {
        sdk::ProjectAppConfigResourceConfig::builder()
            .set_application_id(text(v, "applicationId"))
            .set_environment_id(text(v, "environmentId"))
            .build()
    })
}

fn returned(p: Option<&sdk::Project>, operation: &str) -> Result<ObservedProject, EvidentlyError> {
    p.map(ObservedProject::from_sdk)
        .ok_or_else(|| EvidentlyError::Unavailable(format!("{operation} returned no project")))
}

impl Evidently {
    pub async fn create_project(
        &self,
        input: &CreateProjectInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedProject, EvidentlyError> {
        self.counted("CreateProject", async {
            let (s3, cw) = data_delivery_config(input.data_delivery.as_ref());
            let delivery = input.data_delivery.as_ref().map(|_| {
                sdk::ProjectDataDeliveryConfig::builder()
                    .set_s3_destination(s3)
                    .set_cloud_watch_logs(cw)
                    .build()
            });
            let out = self
                .client
                .create_project()
                .name(&input.name)
                .set_description(input.description.clone())
                .set_data_delivery(delivery)
                .set_app_config_resource(app_config(input.app_config_resource.as_ref()))
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.project(), "CreateProject")
        })
        .await
    }

    pub async fn get_project(&self, name: &str) -> Result<ObservedProject, EvidentlyError> {
        self.counted("GetProject", async {
            let out = self
                .client
                .get_project()
                .project(name)
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.project(), "GetProject")
        })
        .await
    }

    /// UpdateProject with the description and AppConfig resource of `input`.
    pub async fn update_project(
        &self,
        input: &CreateProjectInput,
    ) -> Result<ObservedProject, EvidentlyError> {
        self.counted("UpdateProject", async {
            let out = self
                .client
                .update_project()
                .project(&input.name)
                .description(input.description.clone().unwrap_or_default())
                .set_app_config_resource(app_config(input.app_config_resource.as_ref()))
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.project(), "UpdateProject")
        })
        .await
    }

    /// UpdateProjectDataDelivery with the data delivery of `input`.
    pub async fn update_project_data_delivery(
        &self,
        input: &CreateProjectInput,
    ) -> Result<ObservedProject, EvidentlyError> {
        self.counted("UpdateProjectDataDelivery", async {
            let (s3, cw) = data_delivery_config(input.data_delivery.as_ref());
            let out = self
                .client
                .update_project_data_delivery()
                .project(&input.name)
                .set_s3_destination(s3)
                .set_cloud_watch_logs(cw)
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.project(), "UpdateProjectDataDelivery")
        })
        .await
    }

    pub async fn delete_project(&self, name: &str) -> Result<(), EvidentlyError> {
        self.counted("DeleteProject", async {
            self.client
                .delete_project()
                .project(name)
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }

    /// The names of a project's features and launches (first page of each), to say what keeps
    /// it from being deleted.
    pub async fn project_contents(
        &self,
        project: &str,
    ) -> Result<(Vec<String>, Vec<String>), EvidentlyError> {
        let features = self
            .counted("ListFeatures", async {
                self.client
                    .list_features()
                    .project(project)
                    .send()
                    .await
                    .map_err(EvidentlyError::from_sdk)
            })
            .await?
            .features()
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let launches = self
            .counted("ListLaunches", async {
                self.client
                    .list_launches()
                    .project(project)
                    .send()
                    .await
                    .map_err(EvidentlyError::from_sdk)
            })
            .await?
            .launches()
            .iter()
            .map(|l| l.name.clone())
            .collect();
        Ok((features, launches))
    }
}
