//! The region hierarchy (行政区划).

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use tg_iam::regions::Region;
use tg_kernel::{Page, PageQuery, RegionCode, RegionLevel};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn parse_code(code: &str) -> ApiResult<RegionCode> {
    RegionCode::parse(code).map_err(|e| ApiError::bad_request("region.invalid_code", e.to_string()))
}

fn parse_level(level: Option<&str>) -> ApiResult<Option<RegionLevel>> {
    match level.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(l) => RegionLevel::parse(l)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("request.invalid_query", "level 须为 city/county/town/village/group")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Name, short name or code prefix.
    pub q: Option<String>,
    /// city, county, town, village or group.
    pub level: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// The village (村/社区) the group belongs to.
    pub parent_code: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameGroup {
    pub name: String,
}

/// Search regions within the caller's scope.
#[utoipa::path(operation_id = "regions_search", get, path = "/api/v1/regions", tag = "regions", params(SearchQuery),
    responses((status = 200, body = Page<Region>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn search(
    State(s): State<AppState>,
    auth: Auth<perm::RegionRead>,
    AppQuery(q): AppQuery<SearchQuery>,
) -> ApiResult<Json<Page<Region>>> {
    let level = parse_level(q.level.as_deref())?;
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.iam.region_search(&auth.principal, q.q.as_deref().unwrap_or(""), level, &page).await?))
}

/// Create a 组/网格 under a village.
#[utoipa::path(operation_id = "regions_create", post, path = "/api/v1/regions", tag = "regions", request_body = NewGroup,
    responses((status = 201, body = Region), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth<perm::RegionWrite>,
    AppJson(input): AppJson<NewGroup>,
) -> ApiResult<(StatusCode, Json<Region>)> {
    let parent = RegionCode::parse(&input.parent_code).map_err(|e| tg_iam::IamError::field("parent_code", e.to_string()))?;
    let r = s.iam.create_group(&auth.principal, &auth.ctx(), &parent, &input.name, false).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// One region node.
#[utoipa::path(operation_id = "regions_get_one", get, path = "/api/v1/regions/{code}", tag = "regions", params(("code" = String, Path)),
    responses((status = 200, body = Region), (status = 404, body = ErrorBody)))]
async fn get_one(State(s): State<AppState>, auth: Auth<perm::RegionRead>, AppPath(code): AppPath<String>) -> ApiResult<Json<Region>> {
    Ok(Json(s.iam.region(&auth.principal, &parse_code(&code)?).await?))
}

/// Rename a 组/网格.
#[utoipa::path(operation_id = "regions_rename", patch, path = "/api/v1/regions/{code}", tag = "regions", params(("code" = String, Path)), request_body = RenameGroup,
    responses((status = 200, body = Region), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rename(
    State(s): State<AppState>,
    auth: Auth<perm::RegionWrite>,
    AppPath(code): AppPath<String>,
    AppJson(input): AppJson<RenameGroup>,
) -> ApiResult<Json<Region>> {
    Ok(Json(s.iam.rename_group(&auth.principal, &auth.ctx(), &parse_code(&code)?, &input.name).await?))
}

/// Delete a 组/网格 that nobody belongs to.
#[utoipa::path(operation_id = "regions_delete", delete, path = "/api/v1/regions/{code}", tag = "regions", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(State(s): State<AppState>, auth: Auth<perm::RegionWrite>, AppPath(code): AppPath<String>) -> ApiResult<StatusCode> {
    s.iam.delete_group(&auth.principal, &auth.ctx(), &parse_code(&code)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Children of a node (paged, default 200 per page).
#[utoipa::path(operation_id = "regions_children", get, path = "/api/v1/regions/{code}/children", tag = "regions", params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<Region>), (status = 404, body = ErrorBody)))]
async fn children(
    State(s): State<AppState>,
    auth: Auth<perm::RegionRead>,
    AppPath(code): AppPath<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> ApiResult<Json<Page<Region>>> {
    Ok(Json(s.iam.region_children(&auth.principal, &parse_code(&code)?, &page).await?))
}

/// The path from the city down to the node, for breadcrumbs.
#[utoipa::path(operation_id = "regions_ancestors", get, path = "/api/v1/regions/{code}/ancestors", tag = "regions", params(("code" = String, Path)),
    responses((status = 200, body = Vec<Region>), (status = 404, body = ErrorBody)))]
async fn ancestors(
    State(s): State<AppState>,
    auth: Auth<perm::RegionRead>,
    AppPath(code): AppPath<String>,
) -> ApiResult<Json<Vec<Region>>> {
    Ok(Json(s.iam.region_ancestors(&auth.principal, &parse_code(&code)?).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubtreeQuery {
    pub level: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

/// Every node below a node (paged).
#[utoipa::path(operation_id = "regions_subtree", get, path = "/api/v1/regions/{code}/subtree", tag = "regions", params(("code" = String, Path), SubtreeQuery),
    responses((status = 200, body = Page<Region>), (status = 404, body = ErrorBody)))]
async fn subtree(
    State(s): State<AppState>,
    auth: Auth<perm::RegionRead>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<SubtreeQuery>,
) -> ApiResult<Json<Page<Region>>> {
    let level = parse_level(q.level.as_deref())?;
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.iam.region_subtree(&auth.principal, &parse_code(&code)?, level, &page).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search, create))
        .routes(routes!(get_one, rename, delete))
        .routes(routes!(children))
        .routes(routes!(ancestors))
        .routes(routes!(subtree))
}
