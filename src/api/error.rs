//! The error envelope of SPEC section 3: a stable `code`, a message for people,
//! optional `details`; the cause goes to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::store::StoreError;

/// The stable error codes of SPEC section 3: what clients match on. Each
/// has exactly one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: a field or parameter is wrong (`details.fields` names it).
    Invalid,
    /// 401: no valid credentials.
    Unauthenticated,
    /// 403: known, but not allowed.
    Forbidden,
    /// 404: missing, or not visible to the caller (the two look the same).
    NotFound,
    /// 405: the path exists, the method does not (`Allow` lists those that do).
    MethodNotAllowed,
    /// 409: not possible in the current state.
    Conflict,
    /// 409: the caller does not hold the file at the acting post.
    NotHolder,
    /// 409: the mover has unsigned drafts on the file.
    UnsignedNotes,
    /// 409: someone else changed it first.
    Stale,
    /// 413: the body is too large.
    TooLarge,
    /// 415: the body is of a type not accepted.
    UnsupportedMediaType,
    /// 429: too many attempts (`Retry-After` says how long to wait).
    RateLimited,
    /// 503: a dependency (the database) cannot be reached.
    Unavailable,
    /// 500: a fault of ours, logged.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Invalid,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::NotHolder,
        ErrorCode::UnsignedNotes,
        ErrorCode::Stale,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotHolder => "not_holder",
            ErrorCode::UnsignedNotes => "unsigned_notes",
            ErrorCode::Stale => "stale",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// Its HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Invalid => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict | ErrorCode::NotHolder | ErrorCode::UnsignedNotes | ErrorCode::Stale => {
                StatusCode::CONFLICT
            }
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Value,
    retry_after: Option<u64>,
    allow: Option<String>,
}

/// The JSON shape of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `invalid`, `not_holder`.
    pub code: String,
    /// For people.
    pub message: String,
    /// Structured details, e.g. the fields that were invalid.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ApiError {
    /// An error with a code (which fixes the status) and a message for people.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: json!({}), retry_after: None, allow: None }
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// 400 `invalid`, naming the offending field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new(ErrorCode::Invalid, format!("{field}: {message}"))
            .with_details(json!({ "fields": { field: message } }))
    }

    /// 400 `invalid`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// 404 `not_found`: also what anything the caller may not see answers.
    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "not found")
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unauthenticated, message)
    }

    /// 405 `method_not_allowed`, with `Allow` listing the path's methods.
    pub fn method_not_allowed(allow: String) -> ApiError {
        let mut e = ApiError::new(ErrorCode::MethodNotAllowed, format!("this path answers {allow} only"));
        e.allow = Some(allow);
        e
    }

    /// 429 `rate_limited`, with `Retry-After` in whole seconds (at least 1).
    pub fn rate_limited(wait: std::time::Duration) -> ApiError {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut e = ApiError::new(ErrorCode::RateLimited, "too many attempts; wait and try again")
            .with_details(json!({ "retry_after_seconds": secs.max(1) }));
        e.retry_after = Some(secs.max(1));
        e
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    /// 413 `too_large`.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::TooLarge, message)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::UnsupportedMediaType, message)
    }

    /// 503 `unavailable`: the database (or another dependency) cannot be reached.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "dependency unavailable");
        ApiError::new(ErrorCode::Unavailable, "service temporarily unavailable; try again")
    }

    /// 500 `internal`: a fault of ours. The cause is logged, not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(ErrorCode::Internal, "internal error; it has been logged")
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error as it appears inside a larger answer (one outcome of many):
    /// `{code, message, details}`.
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.as_str().to_owned(),
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code.status().as_u16(), self.code.as_str(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.code.status());
        if let Some(secs) = self.retry_after {
            res.insert_header(("Retry-After", secs.to_string()));
        }
        if let Some(allow) = &self.allow {
            res.insert_header(("Allow", allow.clone()));
        }
        if self.code == ErrorCode::Unauthenticated {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        res.json(ErrorBody { error: self.detail() })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match e {
            StoreError::Unavailable(_) => ApiError::unavailable(&e),
            // The server dropped the connection (PostgreSQL restarted, say):
            // the statement did nothing, and a retry gets a checked connection.
            StoreError::Query(Error::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, _)) => {
                ApiError::unavailable(&"the database connection was lost; try again")
            }
            _ => ApiError::internal(&e),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::from(StoreError::Query(e))
    }
}

/// Turns actix's JSON body errors into the envelope: 413, 415 or 400.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    match &err {
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => {
            ApiError::too_large(format!("request body is larger than {limit} bytes"))
        }
        J::ContentType => ApiError::unsupported_media_type("send the body as application/json"),
        J::Deserialize(e) if e.is_data() => match named_field(&e.to_string()) {
            Some(field) => ApiError::invalid_field(&field, format!("{e}")),
            None => ApiError::invalid(format!("body: {e}")),
        },
        J::Deserialize(e) => ApiError::invalid(format!("body is not valid JSON: {e}")),
        _ => ApiError::invalid("could not read the request body"),
    }
    .into()
}

/// The field a deserialisation message names (`missing field `x``,
/// `unknown field `x``), so that it can be reported in `details.fields` like
/// any invalid field.
fn named_field(message: &str) -> Option<String> {
    ["missing field `", "unknown field `", "duplicate field `"].iter().find_map(|prefix| {
        let rest = &message[message.find(prefix)? + prefix.len()..];
        Some(rest[..rest.find('`')?].to_owned())
    })
}

/// Turns query-string errors into 400 `invalid`.
pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::invalid(format!("query: {err}")).into()
}

/// Turns path errors into 404 (a malformed id names nothing).
pub fn path_error(_err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::not_found().into()
}
