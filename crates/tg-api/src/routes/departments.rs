//! Departments (部门/行局).

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::routes::regions::parse_code;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use tg_iam::departments::{Department, DepartmentFilter, DepartmentInput};
use tg_kernel::{Page, PageQuery};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub q: Option<String>,
    pub region_code: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

/// Departments in scope (paged).
#[utoipa::path(operation_id = "departments_list", get, path = "/api/v1/departments", tag = "departments", params(ListQuery),
    responses((status = 200, body = Page<Department>), (status = 403, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    auth: Auth<perm::DeptRead>,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Json<Page<Department>>> {
    let region_code = q.region_code.as_deref().filter(|c| !c.is_empty()).map(parse_code).transpose()?;
    let f = DepartmentFilter { q: q.q, region_code };
    Ok(Json(s.iam.list_departments(&auth.principal, &f, &PageQuery { page: q.page, page_size: q.page_size }).await?))
}

/// Create a department.
#[utoipa::path(operation_id = "departments_create", post, path = "/api/v1/departments", tag = "departments", request_body = DepartmentInput,
    responses((status = 201, body = Department), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth<perm::DeptWrite>,
    AppJson(input): AppJson<DepartmentInput>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    Ok((StatusCode::CREATED, Json(s.iam.create_department(&auth.principal, &auth.ctx(), &input).await?)))
}

/// One department.
#[utoipa::path(operation_id = "departments_get_one", get, path = "/api/v1/departments/{id}", tag = "departments", params(("id" = i64, Path)),
    responses((status = 200, body = Department), (status = 404, body = ErrorBody)))]
async fn get_one(State(s): State<AppState>, auth: Auth<perm::DeptRead>, AppPath(id): AppPath<i64>) -> ApiResult<Json<Department>> {
    Ok(Json(s.iam.department(&auth.principal, id).await?))
}

/// Update a department.
#[utoipa::path(operation_id = "departments_update", put, path = "/api/v1/departments/{id}", tag = "departments", params(("id" = i64, Path)), request_body = DepartmentInput,
    responses((status = 200, body = Department), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Auth<perm::DeptWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<DepartmentInput>,
) -> ApiResult<Json<Department>> {
    Ok(Json(s.iam.update_department(&auth.principal, &auth.ctx(), id, &input).await?))
}

/// Delete a department without users.
#[utoipa::path(operation_id = "departments_delete", delete, path = "/api/v1/departments/{id}", tag = "departments", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(State(s): State<AppState>, auth: Auth<perm::DeptWrite>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.iam.delete_department(&auth.principal, &auth.ctx(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, update, delete))
}
