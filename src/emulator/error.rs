//! The emulator's errors and their wire form: one enum, one `IntoResponse`.
//!
//! Every error answers like AWS does for restJson1: the status code of the model's
//! `@httpError`, the code in the `x-amzn-ErrorType` header, and a JSON body with a lowercase
//! `message` plus the error shape's own members (`resourceId`, `resourceType`, `reason`,
//! `fieldList`, ...). Both SDKs classify errors by that header. This file does not decide *when*
//! an error happens; the operations do.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::store::{Kind, StoreError};
use crate::rules::{self, Violation};

/// `serviceCode` of quota errors.
pub const SERVICE_CODE: &str = "evidently";

/// `reason` of a ValidationException (the model's `ValidationExceptionReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationReason {
    UnknownOperation,
    CannotParse,
    FieldValidationFailed,
    Other,
}

impl ValidationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationReason::UnknownOperation => "unknownOperation",
            ValidationReason::CannotParse => "cannotParse",
            ValidationReason::FieldValidationFailed => "fieldValidationFailed",
            ValidationReason::Other => "other",
        }
    }
}

/// A resource-count quota (`../shared/reference/evidently-api.md` §4.2): what it limits and its code in error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    /// `quotaCode` of the error. AWS's real codes are unknown; these name the quota.
    pub code: &'static str,
    pub description: &'static str,
}

pub const PROJECTS: Quota = Quota {
    limit: 50,
    code: "projects-per-account",
    description: "projects per account",
};
pub const FEATURES: Quota = Quota {
    limit: 100,
    code: "features-per-project",
    description: "features per project",
};
pub const LAUNCHES: Quota = Quota {
    limit: 500,
    code: "launches-per-project",
    description: "launches per project",
};
pub const RUNNING_LAUNCHES: Quota = Quota {
    limit: 50,
    code: "running-launches-per-project",
    description: "running launches per project",
};
pub const SEGMENTS: Quota = Quota {
    limit: 500,
    code: "segments-per-account",
    description: "segments per account",
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `ValidationException`.
    #[error("{message}")]
    Validation {
        message: String,
        reason: ValidationReason,
        fields: Vec<Violation>,
    },
    /// 404 `ResourceNotFoundException`.
    #[error("{kind:?} {id} does not exist")]
    NotFound { kind: Kind, id: String },
    /// 404 `ResourceNotFoundException` as the data plane (EvaluateFeature,
    /// BatchEvaluateFeature, PutProjectEvents) answered it: `"<Kind> does not exist with arn
    /// '<arn>'"` and `resourceId`/`resourceType` null.
    #[error("{kind:?} {arn} does not exist")]
    Missing { kind: Kind, arn: String },
    /// 409 `ConflictException`.
    #[error("{message}")]
    Conflict {
        message: String,
        kind: Kind,
        id: String,
    },
    /// 402 `ServiceQuotaExceededException`.
    #[error("quota {} exceeded by {id}", quota.code)]
    QuotaExceeded {
        quota: Quota,
        kind: Kind,
        id: String,
    },
    /// 413 with a `ValidationException` body: the request body is larger than `--body-limit`.
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// 403: the request is not signed, or not by a key this emulator knows
    /// (`MissingAuthenticationTokenException`, `IncompleteSignatureException`,
    /// `UnrecognizedClientException`, `InvalidSignatureException`).
    #[error("{0}")]
    Unauthenticated(super::auth::AuthError),
    /// 403 `AccessDeniedException`: the key may not make this call.
    #[error("{message}")]
    AccessDenied { message: String },
    /// 500 `InternalServerException`.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl ApiError {
    /// A ValidationException listing every violation (`reason` = fieldValidationFailed).
    pub fn invalid(violations: Vec<Violation>) -> ApiError {
        ApiError::Validation {
            message: rules::summary(&violations),
            reason: ValidationReason::FieldValidationFailed,
            fields: violations,
        }
    }

    /// A ValidationException about one field.
    pub fn invalid_field(
        path: &str,
        message: impl Into<String>,
        value: Option<String>,
    ) -> ApiError {
        ApiError::invalid(vec![Violation::with_value(path, message, value)])
    }

    /// A ValidationException without fields.
    pub fn validation(reason: ValidationReason, message: impl Into<String>) -> ApiError {
        ApiError::Validation {
            message: message.into(),
            reason,
            fields: Vec::new(),
        }
    }

    pub fn not_found(kind: Kind, id: impl Into<String>) -> ApiError {
        ApiError::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// The data plane's ResourceNotFoundException (see [`ApiError::Missing`]).
    pub fn missing(kind: Kind, arn: impl Into<String>) -> ApiError {
        ApiError::Missing {
            kind,
            arn: arn.into(),
        }
    }

    pub fn conflict(kind: Kind, id: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            message: message.into(),
            kind,
            id: id.into(),
        }
    }

    /// The error code: the model's shape name, sent in `x-amzn-ErrorType`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } | ApiError::BodyTooLarge { .. } => "ValidationException",
            ApiError::NotFound { .. } | ApiError::Missing { .. } => "ResourceNotFoundException",
            ApiError::Conflict { .. } => "ConflictException",
            ApiError::QuotaExceeded { .. } => "ServiceQuotaExceededException",
            ApiError::Unauthenticated(e) => e.code,
            ApiError::AccessDenied { .. } => "AccessDeniedException",
            ApiError::Internal(StoreError::Closed | StoreError::Unavailable(_)) => {
                "ServiceUnavailableException"
            }
            ApiError::Internal(_) => "InternalServerException",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound { .. } | ApiError::Missing { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::QuotaExceeded { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::Unauthenticated(_) | ApiError::AccessDenied { .. } => StatusCode::FORBIDDEN,
            ApiError::Internal(StoreError::Closed | StoreError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body: `message` plus the members of the error shape.
    pub fn body(&self) -> Value {
        match self {
            ApiError::Validation {
                message,
                reason,
                fields,
            } => {
                let mut body = json!({"message": message, "reason": reason.as_str()});
                if !fields.is_empty() {
                    body["fieldList"] = fields
                        .iter()
                        .map(|v| json!({"name": v.path, "message": v.message}))
                        .collect();
                }
                body
            }
            ApiError::NotFound { kind, id } => json!({
                "message": format!("{} with arn '{id}' does not exist.", kind.title()),
                "resourceId": id,
                "resourceType": kind.as_str(),
            }),
            ApiError::Missing { kind, arn } => json!({
                "message": format!("{} does not exist with arn '{arn}'", kind.title()),
                "resourceId": null,
                "resourceType": null,
            }),
            ApiError::Conflict { message, kind, id } => json!({
                "message": message,
                "resourceId": id,
                "resourceType": kind.as_str(),
            }),
            ApiError::QuotaExceeded { quota, kind, id } => json!({
                "message": format!(
                    "Service quota exceeded: at most {} {}.",
                    quota.limit, quota.description
                ),
                "resourceId": id,
                "resourceType": kind.as_str(),
                "serviceCode": SERVICE_CODE,
                "quotaCode": quota.code,
            }),
            ApiError::BodyTooLarge { limit } => json!({
                "message": format!("Request body is larger than the limit of {limit} bytes."),
                "reason": ValidationReason::Other.as_str(),
            }),
            ApiError::Unauthenticated(e) => json!({"message": e.message}),
            ApiError::AccessDenied { message } => json!({"message": message}),
            // Internal details go to the log, not to the client.
            ApiError::Internal(StoreError::Closed) => {
                json!({"message": "The service is shutting down."})
            }
            ApiError::Internal(StoreError::Unavailable(_)) => {
                json!({"message": "The database is unavailable; retry later."})
            }
            ApiError::Internal(_) => json!({"message": "Internal server error."}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (self.status(), self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code()));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_the_status_the_model_gives_its_code() {
        let cases = [
            (ApiError::invalid(vec![]), 400, "ValidationException"),
            (
                ApiError::not_found(Kind::Launch, "arn"),
                404,
                "ResourceNotFoundException",
            ),
            (
                ApiError::conflict(Kind::Project, "arn", "m"),
                409,
                "ConflictException",
            ),
            (
                ApiError::QuotaExceeded {
                    quota: PROJECTS,
                    kind: Kind::Project,
                    id: "arn".into(),
                },
                402,
                "ServiceQuotaExceededException",
            ),
            (
                ApiError::Internal(StoreError::Closed),
                503,
                "ServiceUnavailableException",
            ),
            (
                ApiError::Internal(StoreError::Unavailable("connection refused".into())),
                503,
                "ServiceUnavailableException",
            ),
            (
                ApiError::Internal(StoreError::Panicked("x".into())),
                500,
                "InternalServerException",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{code}");
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn internal_details_are_not_sent_to_the_client() {
        let body = ApiError::Internal(StoreError::Postgres("secret path /x".into())).body();
        assert_eq!(body, json!({"message": "Internal server error."}));
    }
}
