//! The one error shape of the HTTP API: a real status, a stable `code`, a Chinese `message` and
//! optional field `details`. Internal causes go to the log with the request id, never to clients.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tg_iam::IamError;
use tg_kernel::FieldError;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `user.not_found`.
    pub code: String,
    /// Chinese message for people.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

/// Marker placed on 403 responses so the denial-audit middleware records them.
#[derive(Debug, Clone)]
pub struct Denied(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody { code: code.into(), message: message.into(), details: Vec::new() } }
    }
    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.body.details = details;
        self
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "服务器内部错误，请稍后重试或联系管理员")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let denied = (self.status == StatusCode::FORBIDDEN).then(|| Denied(self.body.code.clone()));
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        if let Some(d) = denied {
            resp.extensions_mut().insert(d);
        }
        resp
    }
}

impl From<IamError> for ApiError {
    fn from(e: IamError) -> Self {
        let msg = e.to_string();
        match e {
            IamError::InvalidCredentials => Self::new(StatusCode::UNAUTHORIZED, "auth.invalid_credentials", msg),
            IamError::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, "auth.unauthenticated", msg),
            IamError::SessionExpired => Self::new(StatusCode::UNAUTHORIZED, "auth.session_expired", msg),
            IamError::Forbidden => Self::forbidden("auth.forbidden", msg),
            IamError::OutOfScope => Self::forbidden("auth.out_of_scope", msg),
            IamError::PasswordChangeRequired => Self::forbidden("auth.password_change_required", msg),
            IamError::RoleConflict(_) => Self::forbidden("auth.role_conflict", msg),
            IamError::WeakPassword(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "auth.weak_password", msg),
            IamError::Validation(v) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed", "提交的数据有误，请检查后重试").with_details(v.0)
            }
            IamError::NotFound { code, .. } => Self::not_found(code, msg),
            IamError::Conflict { code, .. } => Self::new(StatusCode::CONFLICT, code, msg),
            IamError::Integrity(ref detail) => {
                tracing::error!(detail = %detail, "integrity check failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "integrity.failed", "数据完整性校验失败，已通知安全管理员")
            }
            IamError::BadEnvelope => Self::bad_request("auth.bad_envelope", msg),
            IamError::NonceInvalid => Self::new(StatusCode::UNAUTHORIZED, "auth.nonce_invalid", msg),
            IamError::EnvelopeRequired => Self::bad_request("auth.envelope_required", msg),
            IamError::MfaRequired => Self::forbidden("auth.mfa_required", msg),
            IamError::MfaInvalid => Self::new(StatusCode::UNAUTHORIZED, "auth.mfa_invalid", msg),
            IamError::RateLimited => Self::new(StatusCode::TOO_MANY_REQUESTS, "request.rate_limited", msg),
            IamError::IpNotAllowed => Self::forbidden("auth.ip_not_allowed", msg),
            IamError::PasswordExpired => Self::forbidden("auth.password_expired", msg),
            IamError::Db(err) => {
                tracing::error!(error = %err, "database error");
                Self::internal()
            }
            IamError::Internal(err) => {
                tracing::error!(error = %err, "internal error");
                Self::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
