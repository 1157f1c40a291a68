//! Roles and the permission catalogue.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tg_iam::permissions::{PermissionDef, CATALOGUE};
use tg_iam::roles::{Role, RoleInput};
use tg_kernel::{Page, PageQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Roles (paged).
#[utoipa::path(operation_id = "roles_list", get, path = "/api/v1/roles", tag = "roles", params(PageQuery), responses((status = 200, body = Page<Role>), (status = 403, body = ErrorBody)))]
async fn list(State(s): State<AppState>, _auth: Auth<perm::RoleRead>, AppQuery(page): AppQuery<PageQuery>) -> ApiResult<Json<Page<Role>>> {
    Ok(Json(s.iam.list_roles(&page).await?))
}

/// Create a role.
#[utoipa::path(operation_id = "roles_create", post, path = "/api/v1/roles", tag = "roles", request_body = RoleInput,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth<perm::RoleWrite>,
    AppJson(input): AppJson<RoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    Ok((StatusCode::CREATED, Json(s.iam.create_role(&auth.ctx(), &input).await?)))
}

/// One role.
#[utoipa::path(operation_id = "roles_get_one", get, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = i64, Path)), responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
async fn get_one(State(s): State<AppState>, _auth: Auth<perm::RoleRead>, AppPath(id): AppPath<i64>) -> ApiResult<Json<Role>> {
    Ok(Json(s.iam.role(id).await?))
}

/// Update a custom role (built-in roles are fixed).
#[utoipa::path(operation_id = "roles_update", put, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = i64, Path)), request_body = RoleInput,
    responses((status = 200, body = Role), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Auth<perm::RoleWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<RoleInput>,
) -> ApiResult<Json<Role>> {
    Ok(Json(s.iam.update_role(&auth.ctx(), id, &input).await?))
}

/// Delete an unused custom role.
#[utoipa::path(operation_id = "roles_delete", delete, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(State(s): State<AppState>, auth: Auth<perm::RoleWrite>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.iam.delete_role(&auth.ctx(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The permission catalogue.
#[utoipa::path(operation_id = "roles_permissions", get, path = "/api/v1/permissions", tag = "roles", responses((status = 200, body = Vec<PermissionDef>)))]
async fn permissions(_auth: Auth<perm::RoleRead>) -> Json<&'static [PermissionDef]> {
    Json(CATALOGUE)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, update, delete)).routes(routes!(permissions))
}
