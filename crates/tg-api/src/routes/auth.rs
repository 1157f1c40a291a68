//! Login, logout, the current user, and password change.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, Auth, Meta, SESSION_COOKIE};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
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
    })
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Sign in with username and password.
#[utoipa::path(operation_id = "auth_login", post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = LoginOutput), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn login(State(state): State<AppState>, meta: Meta, AppJson(input): AppJson<LoginInput>) -> ApiResult<impl IntoResponse> {
    if input.username.trim().is_empty() || input.password.is_empty() || input.username.len() > 64 || input.password.len() > 128 {
        return Err(tg_iam::IamError::InvalidCredentials.into());
    }
    let client = ClientInfo { ip: meta.ip.clone(), user_agent: meta.user_agent.clone(), request_id: meta.request_id.clone() };
    let s = state.iam.login(&input.username, &input.password, &client).await?;
    let max_age = (s.expires_at - state.iam.now()) / 1000;
    let secure = if state.config.cookie_secure { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}", s.token);
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?);
    no_store(&mut headers);
    let user = me_of(&state, &s.principal).await?;
    Ok((headers, Json(LoginOutput { token: s.token, expires_at: to_rfc3339(s.expires_at), user })))
}

/// End the current session.
#[utoipa::path(operation_id = "auth_logout", post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth<perm::Pending>) -> ApiResult<impl IntoResponse> {
    state.iam.logout(&auth.principal, &auth.ctx()).await?;
    let secure = if state.config.cookie_secure { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?);
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
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(me)).routes(routes!(change_password))
}
