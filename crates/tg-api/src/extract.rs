//! Extractors: request facts, the permission-typed `Auth<P>` guard, and JSON/query/path extractors
//! whose rejections use the API's error shape.
//!
//! A handler states its permission in its signature (`Auth<perm::UserRead>`); a handler without an
//! `Auth` extractor is public, and the route-coverage test lists every public route explicitly.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tg_iam::{AuditCtx, Principal};
use tg_kernel::FieldError;

/// Session cookie name. With `Secure` cookies (HTTPS) the `__Host-` prefix pins it to this origin and path.
pub const SESSION_COOKIE: &str = "tg_session";
pub const SESSION_COOKIE_HOST: &str = "__Host-tg_session";
pub const CSRF_HEADER: &str = "x-requested-with";
pub const CSRF_VALUE: &str = "tongguan";

/// Facts about the request used for auditing and logging.
#[derive(Debug, Clone)]
pub struct Meta {
    pub ip: String,
    pub request_id: String,
    pub user_agent: String,
}

fn clean_request_id(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect()
}

impl Meta {
    pub fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> Self {
        let forwarded = trust_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().chars().take(64).collect::<String>());
        let ip = forwarded.unwrap_or_else(|| {
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".into())
        });
        let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(clean_request_id).unwrap_or_default();
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(300).collect();
        Self { ip, request_id, user_agent }
    }
}

impl FromRequestParts<AppState> for Meta {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Meta::from_parts(parts, state.config.trust_forwarded_for))
    }
}

/// A slot the denial-audit middleware places in each request; `Auth` fills it with the actor.
#[derive(Debug, Clone, Default)]
pub struct ActorSlot(pub Arc<Mutex<Option<AuditCtx>>>);

/// A permission a handler requires. `CODE = None` means any signed-in user.
pub trait Perm: Send + Sync + 'static {
    const CODE: Option<&'static str>;
    /// Whether the route stays open while the user must change their password.
    const PENDING_OK: bool = false;
}

pub mod perm {
    use super::Perm;
    macro_rules! perms {
        ($($name:ident => $code:literal),* $(,)?) => {
            $(
                #[doc = concat!("Requires `", $code, "`.")]
                pub struct $name;
                impl Perm for $name { const CODE: Option<&'static str> = Some($code); }
            )*
        };
    }
    perms! {
        RegionRead => "region:read", RegionWrite => "region:write",
        DeptRead => "dept:read", DeptWrite => "dept:write",
        UserRead => "user:read", UserCreate => "user:create", UserUpdate => "user:update",
        UserResetPassword => "user:reset_password", UserLock => "user:lock", UserDelete => "user:delete",
        RoleRead => "role:read", RoleWrite => "role:write", GrantWrite => "grant:write",
        AuditRead => "audit:read", AuditExport => "audit:export", AuditVerify => "audit:verify",
        SecurityRead => "security:read", SecurityWrite => "security:write", KeysRotate => "keys:rotate",
        IntegrityVerify => "integrity:verify", MfaReset => "mfa:reset", PiiUnmask => "pii:unmask",
        MapRead => "map:read", MapWrite => "map:write", MapLayer => "map:layer",
        IndRead => "ind:read", IndManage => "ind:manage", IndData => "ind:data",
        IndInstruct => "ind:instruct", IndHandle => "ind:handle", IndExport => "ind:export",
        WfAdmin => "wf:admin",
        InvRead => "inv:read", InvWrite => "inv:write", InvReview => "inv:review", InvCity => "inv:city",
        InvImport => "inv:import", InvExport => "inv:export",
    }
    /// Any signed-in user whose password is in order.
    pub struct SignedIn;
    impl Perm for SignedIn {
        const CODE: Option<&'static str> = None;
    }
    /// Any signed-in user, even one who must change the password first (me, logout, password).
    pub struct Pending;
    impl Perm for Pending {
        const CODE: Option<&'static str> = None;
        const PENDING_OK: bool = true;
    }
}

/// The authenticated principal, proven to hold permission `P`.
pub struct Auth<P: Perm> {
    pub principal: Principal,
    pub meta: Meta,
    _p: PhantomData<P>,
}

impl<P: Perm> Auth<P> {
    pub fn ctx(&self) -> AuditCtx {
        self.principal.audit_ctx(&self.meta.ip, &self.meta.request_id)
    }
}

fn token_from(parts: &Parts) -> Option<(String, bool)> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some((t.trim().to_owned(), false));
        }
    }
    for v in parts.headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for kv in s.split(';') {
            if let Some((k, val)) = kv.trim().split_once('=') {
                if k == SESSION_COOKIE || k == SESSION_COOKIE_HOST {
                    return Some((val.to_owned(), true));
                }
            }
        }
    }
    None
}

impl<P: Perm> FromRequestParts<AppState> for Auth<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let meta = Meta::from_parts(parts, state.config.trust_forwarded_for);
        let (token, from_cookie) = token_from(parts).ok_or_else(|| ApiError::from(tg_iam::IamError::Unauthenticated))?;
        let principal = state.iam.authenticate(&token).await?;
        if let Some(slot) = parts.extensions.get::<ActorSlot>() {
            if let Ok(mut g) = slot.0.lock() {
                *g = Some(principal.audit_ctx(&meta.ip, &meta.request_id));
            }
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if from_cookie && !safe {
            let ok = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) == Some(CSRF_VALUE);
            if !ok {
                return Err(ApiError::forbidden("auth.csrf", "请求缺少防跨站伪造标识，请刷新页面后重试"));
            }
        }
        if principal.must_change_password && !P::PENDING_OK {
            return Err(tg_iam::IamError::PasswordChangeRequired.into());
        }
        if principal.password_expired && !P::PENDING_OK {
            return Err(tg_iam::IamError::PasswordExpired.into());
        }
        // Roles that require the second factor: everything but the sign-in routes needs aal 2.
        if principal.mfa_required && principal.aal < 2 && !P::PENDING_OK {
            return Err(tg_iam::IamError::MfaRequired.into());
        }
        if let Some(code) = P::CODE {
            if !principal.has(code) {
                return Err(ApiError::forbidden("auth.forbidden", format!("没有执行此操作的权限（需要 {code}）")));
            }
        }
        Ok(Auth { principal, meta, _p: PhantomData })
    }
}

fn serde_detail(text: String) -> Vec<FieldError> {
    vec![FieldError { field: String::new(), message: text }]
}

/// `Json<T>` with rejections in the API's error shape.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(rej) => Err(match rej {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "request.unsupported_media_type",
                    "请求须为 JSON（Content-Type: application/json）",
                ),
                JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", "请求内容过大")
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::bad_request("request.invalid_json", "请求数据的字段或类型不正确").with_details(serde_detail(e.body_text()))
                }
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::bad_request("request.invalid_json", "请求数据不是合法的 JSON").with_details(serde_detail(e.body_text()))
                }
                other => ApiError::bad_request("request.invalid_json", "无法读取请求数据").with_details(serde_detail(other.body_text())),
            }),
        }
    }
}

/// `Query<T>` with rejections in the API's error shape.
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| AppQuery(q.0)).map_err(|e: QueryRejection| {
            ApiError::bad_request("request.invalid_query", "查询参数不正确").with_details(serde_detail(e.body_text()))
        })
    }
}

/// `Path<T>` with rejections in the API's error shape.
pub struct AppPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for AppPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| AppPath(p.0)).map_err(|e: PathRejection| {
            ApiError::bad_request("request.invalid_path", "路径参数不正确").with_details(serde_detail(e.body_text()))
        })
    }
}
