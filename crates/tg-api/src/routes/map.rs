//! 全域智图: layers, features, spatial queries and judgments, clusters, heat grids, vector tiles
//! and administrative boundaries.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::routes::regions::parse_code;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use tg_kernel::{Page, PageQuery};
use tg_map::features::parse_crs;
use tg_map::{Feature, FeatureInput, JudgeRequest, Judgment, Layer, LayerInput, QueryRequest};
use tg_spatial::geo_types::{Coord, Rect};
use tg_spatial::{Cluster, HeatCell, TileId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayerQuery {
    /// Name or code contains.
    pub q: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeatureQuery {
    /// Name contains.
    pub q: Option<String>,
    /// Narrow to a region within the caller's scope.
    pub region_code: Option<String>,
    /// Coordinate system of returned geometries (default EPSG:4326).
    pub crs: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CrsQuery {
    /// EPSG:4326 (default), EPSG:4490, GCJ02, BD09 or EPSG:3857.
    pub crs: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// Viewport `min_lon,min_lat,max_lon,max_lat` in `crs`.
    pub bbox: String,
    /// Map zoom level (0-22).
    pub zoom: f64,
    pub crs: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoundaryQuery {
    /// city, county, town, village or group; all levels when absent.
    pub level: Option<String>,
    /// Coordinate system of the returned geometry (default EPSG:4326).
    pub crs: Option<String>,
}

fn viewport(q: &ViewQuery) -> ApiResult<(Rect, f64)> {
    let crs = parse_crs(q.crs.as_deref())?;
    let v: Vec<f64> = q.bbox.split(',').map(|s| s.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| bad_bbox())?;
    if v.len() != 4 || v.iter().any(|x| !x.is_finite()) || v[0] > v[2] || v[1] > v[3] {
        return Err(bad_bbox());
    }
    if !(0.0..=22.0).contains(&q.zoom) {
        return Err(ApiError::bad_request("map.invalid_zoom", "zoom 须在 0 至 22 之间"));
    }
    let a = crs.to_canonical(Coord { x: v[0], y: v[1] });
    let b = crs.to_canonical(Coord { x: v[2], y: v[3] });
    Ok((Rect::new(a, b), q.zoom))
}

fn bad_bbox() -> ApiError {
    ApiError::bad_request("map.invalid_bbox", "bbox 须为 最小经度,最小纬度,最大经度,最大纬度")
}

/// Layers the caller may see.
#[utoipa::path(operation_id = "map_layers_list", get, path = "/api/v1/map/layers", tag = "map", params(LayerQuery),
    responses((status = 200, body = Page<Layer>), (status = 403, body = ErrorBody)))]
async fn list_layers(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppQuery(q): AppQuery<LayerQuery>,
) -> ApiResult<Json<Page<Layer>>> {
    Ok(Json(s.map.list_layers(&auth.principal, q.q.as_deref(), &PageQuery { page: q.page, page_size: q.page_size }).await?))
}

/// Create a layer.
#[utoipa::path(operation_id = "map_layers_create", post, path = "/api/v1/map/layers", tag = "map", request_body = LayerInput,
    responses((status = 201, body = Layer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_layer(
    State(s): State<AppState>,
    auth: Auth<perm::MapLayer>,
    AppJson(input): AppJson<LayerInput>,
) -> ApiResult<(StatusCode, Json<Layer>)> {
    Ok((StatusCode::CREATED, Json(s.map.create_layer(&auth.principal, &auth.ctx(), &input, false).await?)))
}

/// One layer.
#[utoipa::path(operation_id = "map_layers_get", get, path = "/api/v1/map/layers/{id}", tag = "map", params(("id" = i64, Path)),
    responses((status = 200, body = Layer), (status = 404, body = ErrorBody)))]
async fn get_layer(State(s): State<AppState>, auth: Auth<perm::MapRead>, AppPath(id): AppPath<i64>) -> ApiResult<Json<Layer>> {
    Ok(Json(s.map.layer(&auth.principal, id).await?))
}

/// Update a layer (send the `version` you read; a concurrent edit gives 409).
#[utoipa::path(operation_id = "map_layers_update", put, path = "/api/v1/map/layers/{id}", tag = "map", params(("id" = i64, Path)), request_body = LayerInput,
    responses((status = 200, body = Layer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_layer(
    State(s): State<AppState>,
    auth: Auth<perm::MapLayer>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<LayerInput>,
) -> ApiResult<Json<Layer>> {
    Ok(Json(s.map.update_layer(&auth.principal, &auth.ctx(), id, &input).await?))
}

/// Delete a layer with its features.
#[utoipa::path(operation_id = "map_layers_delete", delete, path = "/api/v1/map/layers/{id}", tag = "map", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_layer(State(s): State<AppState>, auth: Auth<perm::MapLayer>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.map.delete_layer(&auth.principal, &auth.ctx(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Features of a layer in the caller's scope.
#[utoipa::path(operation_id = "map_features_list", get, path = "/api/v1/map/layers/{id}/features", tag = "map", params(("id" = i64, Path), FeatureQuery),
    responses((status = 200, body = Page<Feature>), (status = 404, body = ErrorBody)))]
async fn list_features(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<FeatureQuery>,
) -> ApiResult<Json<Page<Feature>>> {
    let region = q.region_code.as_deref().filter(|c| !c.is_empty()).map(parse_code).transpose()?;
    let crs = parse_crs(q.crs.as_deref())?;
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.map.list_features(&auth.principal, id, region.as_ref(), q.q.as_deref(), crs, &page).await?))
}

/// Add a feature to a layer.
#[utoipa::path(operation_id = "map_features_create", post, path = "/api/v1/map/layers/{id}/features", tag = "map", params(("id" = i64, Path)), request_body = FeatureInput,
    responses((status = 201, body = Feature), (status = 422, body = ErrorBody)))]
async fn create_feature(
    State(s): State<AppState>,
    auth: Auth<perm::MapWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<FeatureInput>,
) -> ApiResult<(StatusCode, Json<Feature>)> {
    Ok((StatusCode::CREATED, Json(s.map.create_feature(&auth.principal, &auth.ctx(), id, &input, false).await?)))
}

/// One feature.
#[utoipa::path(operation_id = "map_features_get", get, path = "/api/v1/map/features/{id}", tag = "map", params(("id" = i64, Path), CrsQuery),
    responses((status = 200, body = Feature), (status = 404, body = ErrorBody)))]
async fn get_feature(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<CrsQuery>,
) -> ApiResult<Json<Feature>> {
    let crs = parse_crs(q.crs.as_deref())?;
    let layer = s.map.feature_layer(id).await?;
    Ok(Json(s.map.feature(&auth.principal, layer, id, crs).await?))
}

/// Update a feature (send the `version` you read).
#[utoipa::path(operation_id = "map_features_update", put, path = "/api/v1/map/features/{id}", tag = "map", params(("id" = i64, Path)), request_body = FeatureInput,
    responses((status = 200, body = Feature), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_feature(
    State(s): State<AppState>,
    auth: Auth<perm::MapWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<FeatureInput>,
) -> ApiResult<Json<Feature>> {
    let layer = s.map.feature_layer(id).await?;
    Ok(Json(s.map.update_feature(&auth.principal, &auth.ctx(), layer, id, &input).await?))
}

/// Delete a feature.
#[utoipa::path(operation_id = "map_features_delete", delete, path = "/api/v1/map/features/{id}", tag = "map", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_feature(State(s): State<AppState>, auth: Auth<perm::MapWrite>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    let layer = s.map.feature_layer(id).await?;
    s.map.delete_feature(&auth.principal, &auth.ctx(), layer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 空间查询: features inside (正向匹配) or outside (反向匹配) a polygon, circle, rectangle, line
/// buffer or administrative region, with attribute filters, in the caller's scope, paged.
#[utoipa::path(operation_id = "map_query", post, path = "/api/v1/map/layers/{id}/query", tag = "map", params(("id" = i64, Path)), request_body = QueryRequest,
    responses((status = 200, body = Page<Feature>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn query(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath(id): AppPath<i64>,
    AppJson(req): AppJson<QueryRequest>,
) -> ApiResult<Json<Page<Feature>>> {
    Ok(Json(s.map.query(&auth.principal, id, &req).await?))
}

/// 空间判断: which region each point falls in, and whether a shape covers it (≤ 10,000 points).
#[utoipa::path(operation_id = "map_judge", post, path = "/api/v1/map/judge", tag = "map", request_body = JudgeRequest,
    responses((status = 200, body = Vec<Judgment>), (status = 422, body = ErrorBody)))]
async fn judge(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppJson(req): AppJson<JudgeRequest>,
) -> ApiResult<Json<Vec<Judgment>>> {
    Ok(Json(s.map.judge(&auth.principal, &req).await?))
}

/// Point clusters of a layer for a viewport and zoom (聚合).
#[utoipa::path(operation_id = "map_clusters", get, path = "/api/v1/map/layers/{id}/clusters", tag = "map", params(("id" = i64, Path), ViewQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
async fn clusters(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<ViewQuery>,
) -> ApiResult<Json<Vec<Cluster>>> {
    let (bbox, zoom) = viewport(&q)?;
    let crs = parse_crs(q.crs.as_deref())?;
    let mut out = s.map.clusters(&auth.principal, id, bbox, zoom).await?;
    for c in &mut out {
        let p = crs.from_canonical(Coord { x: c.lon, y: c.lat });
        (c.lon, c.lat) = (p.x, p.y);
    }
    Ok(Json(out))
}

/// A heat grid of a layer for a viewport and zoom (热力).
#[utoipa::path(operation_id = "map_heat", get, path = "/api/v1/map/layers/{id}/heat", tag = "map", params(("id" = i64, Path), ViewQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
async fn heat(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<ViewQuery>,
) -> ApiResult<Json<Vec<HeatCell>>> {
    let (bbox, zoom) = viewport(&q)?;
    let crs = parse_crs(q.crs.as_deref())?;
    let mut out = s.map.heat(&auth.principal, id, bbox, zoom).await?;
    for c in &mut out {
        let p = crs.from_canonical(Coord { x: c.lon, y: c.lat });
        (c.lon, c.lat) = (p.x, p.y);
    }
    Ok(Json(out))
}

/// A Mapbox Vector Tile of a layer (`{y}` may carry the `.mvt` suffix).
#[utoipa::path(operation_id = "map_tile", get, path = "/api/v1/map/tiles/{id}/{z}/{x}/{y}", tag = "map",
    params(("id" = i64, Path), ("z" = u8, Path), ("x" = u32, Path), ("y" = String, Path, description = "tile row, e.g. `110` or `110.mvt`")),
    responses((status = 200, description = "Mapbox Vector Tile", content_type = "application/vnd.mapbox-vector-tile"), (status = 400, body = ErrorBody)))]
async fn tile(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath((id, z, x, y)): AppPath<(i64, u8, u32, String)>,
) -> ApiResult<impl IntoResponse> {
    let y: u32 = y.trim_end_matches(".mvt").parse().map_err(|_| ApiError::bad_request("map.invalid_tile", "瓦片行号不正确"))?;
    let t = TileId::new(z, x, y).ok_or_else(|| ApiError::bad_request("map.invalid_tile", "瓦片编号超出范围"))?;
    let bytes = s.map.tile(&auth.principal, id, t).await?;
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.mapbox-vector-tile"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok((h, bytes))
}

/// Administrative boundaries in the caller's scope (GeoJSON FeatureCollection): the offline
/// base map and the 行政区域 query shapes.
#[utoipa::path(operation_id = "map_boundaries", get, path = "/api/v1/map/boundaries", tag = "map", params(BoundaryQuery),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
async fn boundaries(State(s): State<AppState>, auth: Auth<perm::MapRead>, AppQuery(q): AppQuery<BoundaryQuery>) -> ApiResult<Json<Value>> {
    let crs = parse_crs(q.crs.as_deref())?;
    Ok(Json(s.map.boundaries(&auth.principal, q.level.as_deref().filter(|l| !l.is_empty()), crs).await?))
}

/// Import administrative boundaries (GeoJSON FeatureCollection with `properties.code`): all or
/// nothing; each replaces the region's current boundary (official or generated demo one).
#[utoipa::path(operation_id = "map_boundaries_import", post, path = "/api/v1/map/boundaries/import", tag = "map",
    request_body(content = Vec<u8>, content_type = "application/geo+json", description = "GeoJSON FeatureCollection"),
    responses((status = 200, body = tg_map::boundaries::BoundaryLoad), (status = 422, body = ErrorBody)))]
async fn import_boundaries(
    State(s): State<AppState>,
    auth: Auth<perm::MapLayer>,
    body: axum::body::Bytes,
) -> ApiResult<Json<tg_map::boundaries::BoundaryLoad>> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("import.bad_file", "GeoJSON 须为 UTF-8 编码"))?;
    Ok(Json(s.map.import_boundaries(&auth.principal, &auth.ctx(), text.trim_start_matches('\u{feff}')).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_layers, create_layer))
        .routes(routes!(get_layer, update_layer, delete_layer))
        .routes(routes!(list_features, create_feature))
        .routes(routes!(get_feature, update_feature, delete_feature))
        .routes(routes!(query))
        .routes(routes!(judge))
        .routes(routes!(clusters))
        .routes(routes!(heat))
        .routes(routes!(tile))
        .routes(routes!(boundaries))
        .routes(routes!(import_boundaries))
}
