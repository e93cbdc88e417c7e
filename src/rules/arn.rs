//! Evidently ARNs as both sides read them: `arn:<partition>:evidently:<region>:<account>:`
//! followed by the resource (`project/<name>`, `segment/<name>`, ...).
//!
//! Only the split is here. Which accounts and regions an ARN may name is each side's own
//! decision: the emulator takes only its own (`crate::emulator::arn`), the controller reads
//! whatever Evidently answered with (`crate::evidently::launch::segment_name`).

/// An Evidently ARN split into its prefix (`arn:aws:evidently:<region>:<account>:`) and its
/// resource part; `None` for anything else.
pub fn split(arn: &str) -> Option<(&str, &str)> {
    let mut colons = arn.match_indices(':').map(|(i, _)| i);
    let end = colons.nth(4)?;
    let (prefix, resource) = arn.split_at(end + 1);
    prefix
        .starts_with("arn:")
        .then_some((prefix, resource))
        .filter(|(p, _)| p.split(':').nth(2) == Some("evidently"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evidently_arn_splits_after_its_account() {
        assert_eq!(
            split("arn:aws:evidently:us-east-1:123456789012:segment/beta"),
            Some(("arn:aws:evidently:us-east-1:123456789012:", "segment/beta"))
        );
        assert_eq!(split("arn:aws:s3:us-east-1:1:segment/beta"), None);
        assert_eq!(split("beta"), None);
        assert_eq!(split("arn:aws:evidently"), None);
    }
}
