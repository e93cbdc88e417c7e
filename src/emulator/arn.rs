//! Evidently ARNs of this emulator (`arn:aws:evidently:<region>:<account>:...`) and the
//! resolution of references that may be a name or an ARN.
//!
//! An ARN of another region, account or partition names a resource this emulator does not
//! have: it resolves to ResourceNotFoundException, never to the local resource of that name.
//! Does not check that resources exist; the operations do.

use serde_json::Value;

use super::{
    error::ApiError,
    store::{Key, Kind},
};
use crate::rules;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    /// `arn:aws:evidently:<region>:<account>:`
    prefix: String,
}

impl Arns {
    pub fn new(region: &str, account_id: &str) -> Arns {
        Arns {
            prefix: format!("arn:aws:evidently:{region}:{account_id}:"),
        }
    }

    pub fn project(&self, project: &str) -> String {
        format!("{}project/{project}", self.prefix)
    }

    pub fn feature(&self, project: &str, feature: &str) -> String {
        format!("{}project/{project}/feature/{feature}", self.prefix)
    }

    pub fn launch(&self, project: &str, launch: &str) -> String {
        format!("{}project/{project}/launch/{launch}", self.prefix)
    }

    pub fn segment(&self, segment: &str) -> String {
        format!("{}segment/{segment}", self.prefix)
    }

    /// The ARN of a stored resource.
    pub fn of(&self, key: &Key) -> String {
        match key.kind {
            Kind::Project => self.project(&key.name),
            Kind::Feature => self.feature(&key.scope, &key.name),
            Kind::Launch => self.launch(&key.scope, &key.name),
            Kind::Segment => self.segment(&key.name),
        }
    }

    /// The project name a `project` reference (name or project ARN) stands for.
    pub fn project_name(&self, reference: &str) -> Result<String, ApiError> {
        self.name_of(reference, Kind::Project, "project/", "ProjectName")
    }

    /// The segment name a `segment` reference (name or segment ARN) stands for.
    pub fn segment_name(&self, reference: &str) -> Result<String, ApiError> {
        self.name_of(reference, Kind::Segment, "segment/", "SegmentName")
    }

    fn name_of(
        &self,
        reference: &str,
        kind: Kind,
        resource_prefix: &str,
        name_shape: &str,
    ) -> Result<String, ApiError> {
        if !reference.starts_with("arn:") {
            return Ok(reference.to_string());
        }
        rules::arn::split(reference)
            .filter(|(prefix, _)| *prefix == self.prefix)
            .and_then(|(_, resource)| resource.strip_prefix(resource_prefix))
            .filter(|name| is_name(name_shape, name))
            .map(str::to_string)
            .ok_or_else(|| ApiError::not_found(kind, reference))
    }

    /// The resource an ARN names (for the tag operations).
    pub fn resource(&self, arn: &str) -> Result<Key, ApiError> {
        let (prefix, resource) = rules::arn::split(arn).ok_or_else(|| {
            ApiError::invalid_field(
                "resourceArn",
                "Member must be an ARN of an Evidently resource",
                Some(arn.to_string()),
            )
        })?;
        let parts: Vec<&str> = resource.split('/').collect();
        let key = match parts.as_slice() {
            ["project", p] if is_name("ProjectName", p) => Key::new(Kind::Project, "", p),
            ["project", p, "feature", f]
                if is_name("ProjectName", p) && is_name("FeatureName", f) =>
            {
                Key::new(Kind::Feature, p, f)
            }
            ["project", p, "launch", l]
                if is_name("ProjectName", p) && is_name("LaunchName", l) =>
            {
                Key::new(Kind::Launch, p, l)
            }
            ["segment", s] if is_name("SegmentName", s) => Key::new(Kind::Segment, "", s),
            _ => {
                return Err(ApiError::invalid_field(
                    "resourceArn",
                    "Member must be the ARN of an Evidently project, feature, launch or segment",
                    Some(arn.to_string()),
                ));
            }
        };
        if prefix != self.prefix {
            return Err(ApiError::not_found(key.kind, arn));
        }
        Ok(key)
    }
}

/// Whether `name` satisfies the model's constraints for the name shape `shape`.
fn is_name(shape: &str, name: &str) -> bool {
    rules::validate_shape(shape, &Value::String(name.to_string()), "").is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns() -> Arns {
        Arns::new("us-east-1", "123456789012")
    }

    #[test]
    fn arns_follow_the_documented_formats() {
        let a = arns();
        assert_eq!(
            a.project("p"),
            "arn:aws:evidently:us-east-1:123456789012:project/p"
        );
        assert_eq!(
            a.launch("p", "l"),
            "arn:aws:evidently:us-east-1:123456789012:project/p/launch/l"
        );
        assert_eq!(
            a.feature("p", "f"),
            "arn:aws:evidently:us-east-1:123456789012:project/p/feature/f"
        );
        assert_eq!(
            a.segment("s"),
            "arn:aws:evidently:us-east-1:123456789012:segment/s"
        );
    }

    #[test]
    fn a_project_reference_is_a_name_or_this_emulators_arn() {
        let a = arns();
        assert_eq!(a.project_name("p").unwrap(), "p");
        assert_eq!(a.project_name(&a.project("p")).unwrap(), "p");
        let foreign = "arn:aws:evidently:eu-west-1:123456789012:project/p";
        assert!(matches!(
            a.project_name(foreign),
            Err(ApiError::NotFound {
                kind: Kind::Project,
                ..
            })
        ));
        assert!(a.project_name(&a.feature("p", "f")).is_err());
    }

    #[test]
    fn every_resource_kind_is_found_from_its_arn() {
        let a = arns();
        for key in [
            Key::new(Kind::Project, "", "p"),
            Key::new(Kind::Feature, "p", "f"),
            Key::new(Kind::Launch, "p", "l"),
            Key::new(Kind::Segment, "", "s"),
        ] {
            assert_eq!(a.resource(&a.of(&key)).unwrap(), key);
        }
    }

    #[test]
    fn an_arn_of_something_else_is_invalid() {
        let a = arns();
        for arn in [
            "arn:aws:evidently:us-east-1:123456789012:project/p/experiment/e",
            "arn:aws:s3:::bucket",
            "not-an-arn",
        ] {
            assert!(
                matches!(a.resource(arn), Err(ApiError::Validation { .. })),
                "{arn}"
            );
        }
    }
}
