//! Segments between our plain structs and `aws-sdk-evidently`, and the segment calls.

use std::collections::BTreeMap;

use aws_sdk_evidently::types as sdk;

use super::{Evidently, EvidentlyError};
use crate::rules::segment::CreateSegmentInput;

/// A segment as Evidently reports it, in plain types.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSegment {
    pub arn: String,
    pub name: String,
    pub pattern: String,
    pub description: Option<String>,
    pub created_time: i64,
    pub last_updated_time: i64,
    pub launch_count: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

impl ObservedSegment {
    pub fn from_sdk(s: &sdk::Segment) -> Self {
        ObservedSegment {
            arn: s.arn.clone(),
            name: s.name.clone(),
            pattern: s.pattern.clone(),
            description: s.description.clone(),
            created_time: s.created_time.secs(),
            last_updated_time: s.last_updated_time.secs(),
            launch_count: s.launch_count,
            tags: s.tags.clone().unwrap_or_default().into_iter().collect(),
        }
    }
}

fn returned(s: Option<&sdk::Segment>, operation: &str) -> Result<ObservedSegment, EvidentlyError> {
    s.map(ObservedSegment::from_sdk)
        .ok_or_else(|| EvidentlyError::Unavailable(format!("{operation} returned no segment")))
}

impl Evidently {
    pub async fn create_segment(
        &self,
        input: &CreateSegmentInput,
        tags: &BTreeMap<String, String>,
    ) -> Result<ObservedSegment, EvidentlyError> {
        self.counted("CreateSegment", async {
            let out = self
                .client
                .create_segment()
                .name(&input.name)
                .pattern(&input.pattern)
                .set_description(input.description.clone())
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.segment(), "CreateSegment")
        })
        .await
    }

    pub async fn get_segment(&self, name: &str) -> Result<ObservedSegment, EvidentlyError> {
        self.counted("GetSegment", async {
            let out = self
                .client
                .get_segment()
                .segment(name)
                .send()
                .await
                .map_err(EvidentlyError::from_sdk)?;
            returned(out.segment(), "GetSegment")
        })
        .await
    }

    pub async fn delete_segment(&self, name: &str) -> Result<(), EvidentlyError> {
        self.counted("DeleteSegment", async {
            self.client
                .delete_segment()
                .segment(name)
                .send()
                .await
                .map(|_| ())
                .map_err(EvidentlyError::from_sdk)
        })
        .await
    }
}
