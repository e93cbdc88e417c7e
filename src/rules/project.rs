//! CreateProject's input as a plain struct (the model states every project rule).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// CreateProject's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProjectInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ProjectDataDeliveryConfig` as on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_delivery: Option<Value>,
    /// `ProjectAppConfigResourceConfig` as on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_config_resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}
