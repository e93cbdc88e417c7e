//! What went wrong in a call to Evidently, reduced to the categories the controller acts on
//! (`../shared/design/ARCHITECTURE.md` §3's error table). Classification is by the error code the SDK extracted and
//! the HTTP status, so it works for every operation and for codes the model does not list.

use aws_sdk_evidently::error::{ProvideErrorMetadata, SdkError};

/// A failed Evidently call, by what the controller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidentlyError {
    /// The service refused the request as invalid; retry only after the spec changes.
    #[error("Evidently rejected the request: {0}")]
    Rejected(String),
    /// A resource the request names (project, feature, segment, launch) does not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// The resource already exists, or is in a state that forbids the request.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The credentials may not do this.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// A quota of the account or project is used up.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// Throttling, a 5xx, a timeout or a connection failure: retry with backoff.
    #[error("Evidently unavailable: {0}")]
    Unavailable(String),
}

impl EvidentlyError {
    /// Bounded label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            EvidentlyError::Rejected(_) => "Rejected",
            EvidentlyError::NotFound { .. } => "NotFound",
            EvidentlyError::Conflict(_) => "Conflict",
            EvidentlyError::AccessDenied(_) => "AccessDenied",
            EvidentlyError::QuotaExceeded(_) => "QuotaExceeded",
            EvidentlyError::Unavailable(_) => "Unavailable",
        }
    }

    /// Maps an SDK error of any operation.
    pub fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        let status = err.raw_response().map(HttpStatus::status);
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let message = e.message().unwrap_or("no message").to_string();
                classify(e.code(), status, message)
            }
            SdkError::TimeoutError(_) => EvidentlyError::Unavailable("request timed out".into()),
            SdkError::DispatchFailure(f) => EvidentlyError::Unavailable(format!(
                "cannot reach Evidently: {}",
                std::error::Error::source(&err)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("{f:?}"))
            )),
            SdkError::ResponseError(_) => EvidentlyError::Unavailable(format!(
                "unreadable response (HTTP {})",
                status.unwrap_or_default()
            )),
            // A request the SDK could not even build is a bug in the request, not a transient fault.
            _ => EvidentlyError::Rejected(format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            )),
        }
    }
}

/// The HTTP status of a raw response, abstracted so classification is testable.
pub trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The classification rule itself: error code first, HTTP status as fallback.
pub fn classify(code: Option<&str>, status: Option<u16>, message: String) -> EvidentlyError {
    match code {
        Some("ValidationException") => EvidentlyError::Rejected(message),
        Some("ResourceNotFoundException") => EvidentlyError::NotFound { message },
        Some("ConflictException") => EvidentlyError::Conflict(message),
        Some(
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "IncompleteSignatureException"
            | "MissingAuthenticationTokenException"
            | "ExpiredTokenException",
        ) => EvidentlyError::AccessDenied(message),
        Some("ServiceQuotaExceededException") => EvidentlyError::QuotaExceeded(message),
        Some("ThrottlingException" | "InternalServerException" | "ServiceUnavailableException") => {
            EvidentlyError::Unavailable(message)
        }
        _ => match status {
            Some(401 | 403) => EvidentlyError::AccessDenied(message),
            Some(402) => EvidentlyError::QuotaExceeded(message),
            Some(404) => EvidentlyError::NotFound { message },
            Some(409) => EvidentlyError::Conflict(message),
            Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
                EvidentlyError::Rejected(message)
            }
            _ => EvidentlyError::Unavailable(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modeled_codes_map_to_their_category() {
        let c = |code: &str, status: u16| classify(Some(code), Some(status), "m".into()).category();
        assert_eq!(c("ValidationException", 400), "Rejected");
        assert_eq!(c("ResourceNotFoundException", 404), "NotFound");
        assert_eq!(c("ConflictException", 409), "Conflict");
        assert_eq!(c("AccessDeniedException", 403), "AccessDenied");
        assert_eq!(c("ServiceQuotaExceededException", 402), "QuotaExceeded");
        assert_eq!(c("ThrottlingException", 429), "Unavailable");
        assert_eq!(c("InternalServerException", 500), "Unavailable");
    }

    #[test]
    fn unknown_codes_fall_back_to_the_http_status() {
        let c = |status: u16| classify(None, Some(status), "m".into()).category();
        assert_eq!(c(403), "AccessDenied");
        assert_eq!(c(404), "NotFound");
        assert_eq!(c(400), "Rejected");
        assert_eq!(c(429), "Unavailable");
        assert_eq!(c(502), "Unavailable");
        assert_eq!(classify(None, None, "m".into()).category(), "Unavailable");
    }
}
