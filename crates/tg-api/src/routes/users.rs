//! User accounts and role grants.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::routes::regions::parse_code;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use tg_iam::roles::GrantInput;
use tg_iam::users::{NewUser, User, UserFilter, UserUpdate};
use tg_kernel::{Page, PageQuery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Username or name contains.
    pub q: Option<String>,
    pub region_code: Option<String>,
    pub department_id: Option<i64>,
    /// active, locked or disabled.
    pub status: Option<String>,
    /// Role code.
    pub role: Option<String>,
    /// Exact mobile number (matched through the HMAC-SM3 blind index; the number is stored encrypted).
    pub phone: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    pub password: String,
}

/// Users in scope (paged; audited as a read of personal data).
#[utoipa::path(operation_id = "users_list", get, path = "/api/v1/users", tag = "users", params(ListQuery),
    responses((status = 200, body = Page<User>), (status = 403, body = ErrorBody)))]
async fn list(State(s): State<AppState>, auth: Auth<perm::UserRead>, AppQuery(q): AppQuery<ListQuery>) -> ApiResult<Json<Page<User>>> {
    let region_code = q.region_code.as_deref().filter(|c| !c.is_empty()).map(parse_code).transpose()?;
    let f = UserFilter { q: q.q, region_code, department_id: q.department_id, status: q.status, role: q.role, phone: q.phone };
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.iam.list_users(&auth.principal, &auth.ctx(), &f, &page).await?))
}

/// Create a user; they must change the initial password at first login.
#[utoipa::path(operation_id = "users_create", post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth<perm::UserCreate>,
    AppJson(input): AppJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(s.iam.create_user(&auth.principal, &auth.ctx(), &input).await?)))
}

/// One user (audited).
#[utoipa::path(operation_id = "users_get_one", get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn get_one(State(s): State<AppState>, auth: Auth<perm::UserRead>, AppPath(id): AppPath<i64>) -> ApiResult<Json<User>> {
    Ok(Json(s.iam.user(&auth.principal, &auth.ctx(), id).await?))
}

/// Update a user's name, phone, region and department.
#[utoipa::path(operation_id = "users_update", put, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Auth<perm::UserUpdate>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<UserUpdate>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.iam.update_user(&auth.principal, &auth.ctx(), id, &input).await?))
}

/// Disable a user (soft delete) and end their sessions.
#[utoipa::path(operation_id = "users_delete", delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(State(s): State<AppState>, auth: Auth<perm::UserDelete>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.iam.set_user_status(&auth.principal, &auth.ctx(), id, "disabled").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a new initial password; the user must change it at next login.
#[utoipa::path(operation_id = "users_reset_password", post, path = "/api/v1/users/{id}/reset-password", tag = "users", params(("id" = i64, Path)), request_body = ResetInput,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reset_password(
    State(s): State<AppState>,
    auth: Auth<perm::UserResetPassword>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<ResetInput>,
) -> ApiResult<StatusCode> {
    s.iam.reset_password(&auth.principal, &auth.ctx(), id, &input.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lock a user and end their sessions.
#[utoipa::path(operation_id = "users_lock", post, path = "/api/v1/users/{id}/lock", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn lock(State(s): State<AppState>, auth: Auth<perm::UserLock>, AppPath(id): AppPath<i64>) -> ApiResult<Json<User>> {
    Ok(Json(s.iam.set_user_status(&auth.principal, &auth.ctx(), id, "locked").await?))
}

/// Unlock a user (also clears a temporary lockout).
#[utoipa::path(operation_id = "users_unlock", post, path = "/api/v1/users/{id}/unlock", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn unlock(State(s): State<AppState>, auth: Auth<perm::UserLock>, AppPath(id): AppPath<i64>) -> ApiResult<Json<User>> {
    Ok(Json(s.iam.set_user_status(&auth.principal, &auth.ctx(), id, "active").await?))
}

/// Grant exactly these roles to a user (三员分立 and scope rules apply).
#[utoipa::path(operation_id = "users_grant", put, path = "/api/v1/users/{id}/roles", tag = "users", params(("id" = i64, Path)), request_body = GrantInput,
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grant(
    State(s): State<AppState>,
    auth: Auth<perm::GrantWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<GrantInput>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.iam.grant_roles(&auth.principal, &auth.ctx(), id, &input).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(reset_password))
        .routes(routes!(lock))
        .routes(routes!(unlock))
        .routes(routes!(grant))
}
