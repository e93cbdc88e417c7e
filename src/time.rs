//! Time as the resources show it: epoch seconds on the wire, RFC 3339 to the second in statuses.
//!
//! On jiff, the time crate of k8s-openapi's `Time` and `MicroTime` (re-exported by it, so the
//! versions cannot drift apart); the crate uses no other.

use k8s_openapi::jiff::Timestamp;

/// RFC 3339 (seconds, `Z`) of epoch seconds.
pub fn rfc3339(secs: i64) -> Option<String> {
    Timestamp::from_second(secs).ok().map(|t| t.to_string())
}

/// Epoch seconds of an RFC 3339 timestamp (also the other ISO 8601 forms jiff reads, such as
/// one without seconds), to the second.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// Now, in whole epoch seconds.
pub fn now_secs() -> i64 {
    Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_show_whole_seconds_in_utc_and_manifests_read_back() {
        assert_eq!(
            rfc3339(1_790_000_000).as_deref(),
            Some("2026-09-21T14:13:20Z")
        );
        assert_eq!(parse_rfc3339("2026-09-21T14:13:20Z"), Some(1_790_000_000));
        assert_eq!(
            parse_rfc3339("2026-09-21T16:13:20.9+02:00"),
            Some(1_790_000_000)
        );
        assert_eq!(parse_rfc3339("next monday"), None);
        assert_eq!(parse_rfc3339("2026-09-21"), None);
    }
}
