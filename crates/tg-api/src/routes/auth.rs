//! Login, logout, the current user, and password change.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, Auth, Meta, SESSION_COOKIE};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use tg_iam::auth::ClientInfo;
use tg_iam::regions::Region;
use tg_iam::{Principal, RoleBrief};
use tg_kernel::clock::to_rfc3339;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use tg_iam::auth::{LoginChallenge, LoginRequest};
use tg_iam::mfa::OtpEnrollment;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpCode {
    /// The 6-digit SM3 dynamic password shown by the soft token.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeptBrief {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeView {
    pub region_code: String,
    pub department_only: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub region: Region,
    pub department: Option<DeptBrief>,
    pub roles: Vec<RoleBrief>,
    pub permissions: Vec<String>,
    pub must_change_password: bool,
    pub scope: ScopeView,
    /// Assurance level of this session: 1 = password, 2 = password + SM3 dynamic password.
    pub aal: i64,
    /// A role of this user requires the dynamic password; until `aal` is 2 only sign-in routes work.
    pub mfa_required: bool,
    pub mfa_enrolled: bool,
    /// The password is older than the policy allows; only the password change works.
    pub password_expired: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOutput {
    /// Session token for API clients (`Authorization: Bearer …`); browsers use the cookie.
    pub token: String,
    pub expires_at: String,
    pub user: Me,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    pub old_password: String,
    pub new_password: String,
}

pub(crate) async fn me_of(state: &AppState, p: &Principal) -> ApiResult<Me> {
    let region = state.iam.region_raw(&p.region).await?.ok_or_else(ApiError::internal)?;
    Ok(Me {
        id: p.user_id,
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        region,
        department: p.department_id.map(|id| DeptBrief { id, name: p.department_name.clone().unwrap_or_default() }),
        roles: p.roles.clone(),
        permissions: p.permissions.iter().cloned().collect(),
        must_change_password: p.must_change_password,
        scope: ScopeView { region_code: p.scope.region.to_string(), department_only: p.scope.department_id.is_some() },
        aal: p.aal,
        mfa_required: p.mfa_required,
        mfa_enrolled: p.mfa_enrolled,
        password_expired: p.password_expired,
    })
}

fn session_cookie(state: &AppState, token: &str, max_age: i64) -> ApiResult<HeaderValue> {
    // `__Host-` needs Secure; plain-HTTP development keeps the bare name.
    let cookie = if state.config.cookie_secure {
        format!("{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}; Secure", crate::extract::SESSION_COOKIE_HOST)
    } else {
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
    };
    HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())
}

async fn session_response(state: &AppState, s: tg_iam::auth::NewSession) -> ApiResult<(HeaderMap, Json<LoginOutput>)> {
    let max_age = (s.expires_at - state.iam.now()) / 1000;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_cookie(state, &s.token, max_age)?);
    no_store(&mut headers);
    let user = me_of(state, &s.principal).await?;
    Ok((headers, Json(LoginOutput { token: s.token, expires_at: to_rfc3339(s.expires_at), user })))
}

fn client_of(meta: &Meta) -> ClientInfo {
    ClientInfo { ip: meta.ip.clone(), user_agent: meta.user_agent.clone(), request_id: meta.request_id.clone() }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A single-use nonce and the SM2 public key for the password envelope of the next login.
#[utoipa::path(operation_id = "auth_challenge", get, path = "/api/v1/auth/challenge", tag = "auth",
    responses((status = 200, body = LoginChallenge)))]
async fn challenge(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let mut headers = HeaderMap::new();
    no_store(&mut headers);
    Ok((headers, Json(state.iam.login_challenge().await?)))
}

/// Sign in. The page sends `cipher` (SM2 envelope of password and nonce); see `LoginRequest`.
#[utoipa::path(operation_id = "auth_login", post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginOutput), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(State(state): State<AppState>, meta: Meta, AppJson(input): AppJson<LoginRequest>) -> ApiResult<impl IntoResponse> {
    let too_long = input.password.as_ref().is_some_and(|p| p.len() > 128) || input.otp_code.as_ref().is_some_and(|c| c.len() > 16);
    if input.username.trim().is_empty() || input.username.len() > 64 || too_long {
        return Err(tg_iam::IamError::InvalidCredentials.into());
    }
    let s = state.iam.login(&input, &client_of(&meta)).await?;
    session_response(&state, s).await
}

/// Start binding a soft token: returns the seed and a `tgotp://` URI to show as a QR code.
#[utoipa::path(operation_id = "auth_mfa_enroll", post, path = "/api/v1/auth/mfa/enroll", tag = "auth",
    responses((status = 200, body = OtpEnrollment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn mfa_enroll(State(state): State<AppState>, auth: Auth<perm::Pending>) -> ApiResult<impl IntoResponse> {
    let mut headers = HeaderMap::new();
    no_store(&mut headers);
    Ok((headers, Json(state.iam.otp_enroll_start(&auth.principal, &auth.ctx()).await?)))
}

/// Confirm a binding or step up with a dynamic password: the session is replaced by one at aal 2.
#[utoipa::path(operation_id = "auth_mfa_verify", post, path = "/api/v1/auth/mfa/verify", tag = "auth", request_body = OtpCode,
    responses((status = 200, body = LoginOutput), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn mfa_verify(
    State(state): State<AppState>,
    auth: Auth<perm::Pending>,
    AppJson(input): AppJson<OtpCode>,
) -> ApiResult<impl IntoResponse> {
    if input.code.len() > 16 {
        return Err(tg_iam::IamError::MfaInvalid.into());
    }
    let s = state.iam.otp_verify(&auth.principal, &client_of(&auth.meta), &input.code).await?;
    session_response(&state, s).await
}

/// Sign out: every session of the account ends on the server.
#[utoipa::path(operation_id = "auth_logout", post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth<perm::Pending>) -> ApiResult<impl IntoResponse> {
    state.iam.logout(&auth.principal, &auth.ctx()).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_cookie(&state, "", 0)?);
    // Browsers drop cached pages, storage and cookies of this origin (剩余信息保护).
    headers.insert(HeaderName::from_static("clear-site-data"), HeaderValue::from_static("\"cache\", \"storage\""));
    Ok((StatusCode::NO_CONTENT, headers))
}

/// The signed-in user, their roles, permissions and data scope.
#[utoipa::path(operation_id = "auth_me", get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth<perm::Pending>) -> ApiResult<impl IntoResponse> {
    let mut headers = HeaderMap::new();
    no_store(&mut headers);
    Ok((headers, Json(me_of(&state, &auth.principal).await?)))
}

/// Change the signed-in user's password; other sessions of the account end.
#[utoipa::path(operation_id = "auth_change_password", post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordInput,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    auth: Auth<perm::Pending>,
    AppJson(input): AppJson<PasswordInput>,
) -> ApiResult<StatusCode> {
    state.iam.change_password(&auth.principal, &auth.ctx(), &input.old_password, &input.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(challenge))
        .routes(routes!(login))
        .routes(routes!(mfa_enroll))
        .routes(routes!(mfa_verify))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
}
