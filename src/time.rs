//! Time as the resources show it: epoch seconds on the wire, RFC 3339 to the second in statuses.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 (seconds, `Z`) of epoch seconds.
pub fn rfc3339(secs: i64) -> Option<String> {
    DateTime::from_timestamp(secs, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Now, in whole epoch seconds.
pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}
