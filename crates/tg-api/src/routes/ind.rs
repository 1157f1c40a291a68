//! 掌上数窗: the indicator library, values and computations, topic dashboards, and the five
//! abilities (领导批示, 特别关注, 关联搜索, 数据点评, 看数水印).

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use tg_iam::AuditEvent;
use tg_indicators::dashboard::Dashboard;
use tg_indicators::library::IndicatorFilter;
use tg_indicators::model::{Indicator, Topic};
use tg_indicators::search::SearchResult;
use tg_indicators::social::{
    Comment, CommentInput, DeptRef, Follow, FollowInput, Instruction, InstructionAction, InstructionInput, ThresholdInput,
};
use tg_indicators::values::{Breakdown, DistributionReport, SeriesData, ValueImportReport, ValuePush, Window};
use tg_indicators::{CatalogNode, IndicatorInput, Related, TagAttrDef, TopicBrief, TopicInput};
use tg_kernel::{Page, PageQuery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// Name or code contains.
    pub q: Option<String>,
    /// A catalogue node (a topic or a group).
    pub catalog_id: Option<i64>,
    pub topic: Option<String>,
    pub tag: Option<String>,
    /// Only key indicators (关键指标).
    pub key_only: Option<bool>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// Region code (default: the caller's region).
    pub region: Option<String>,
    /// First period (default: 23 periods before the last).
    pub from: Option<String>,
    /// Last period (default: the latest with data).
    pub to: Option<String>,
    /// A category value (default: the total).
    pub category: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakdownQuery {
    pub region: Option<String>,
    /// Default: the latest period with data.
    pub period: Option<String>,
    /// region (sub-regions) or category.
    pub by: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    pub region: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// xlsx (default) or csv.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    pub region: Option<String>,
    /// Any period form; each indicator shows its latest period not after it.
    pub period: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValueImportQuery {
    /// The uploaded file's name (`.xlsx` or `.csv`).
    pub filename: String,
    /// Only validate (default true).
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub q: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    /// `indicator:<code>`, `topic:<code>` or `widget:<topic>/<widget id>`.
    pub target: String,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstructionQuery {
    /// issued (mine), todo (my department's) or all.
    #[serde(rename = "box")]
    pub box_: Option<String>,
    /// open, replied or closed.
    pub status: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportAudit {
    /// png or pdf.
    pub kind: String,
    /// `topic:<code>`, `indicator:<code>` or `widget:<topic>/<id>`.
    pub target: String,
    pub title: String,
}

/// The indicator catalogue (指标目录): topics and their indicator groups.
#[utoipa::path(operation_id = "ind_catalog", get, path = "/api/v1/ind/catalog", tag = "ind", responses((status = 200, body = Vec<CatalogNode>)))]
async fn catalog(State(s): State<AppState>, auth: Auth<perm::IndRead>) -> ApiResult<Json<Vec<CatalogNode>>> {
    Ok(Json(s.ind.catalog(&auth.principal).await?))
}

/// Indicators the caller may see.
#[utoipa::path(operation_id = "ind_indicators_list", get, path = "/api/v1/ind/indicators", tag = "ind", params(IndicatorQuery), responses((status = 200, body = Page<Indicator>)))]
async fn list_indicators(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppQuery(q): AppQuery<IndicatorQuery>,
) -> ApiResult<Json<Page<Indicator>>> {
    let f = IndicatorFilter { q: q.q, catalog_id: q.catalog_id, topic: q.topic, tag: q.tag, key_only: q.key_only.unwrap_or(false) };
    Ok(Json(s.ind.list_indicators(&auth.principal, &f, &PageQuery { page: q.page, page_size: q.page_size }).await?))
}

/// Create an indicator.
#[utoipa::path(operation_id = "ind_indicators_create", post, path = "/api/v1/ind/indicators", tag = "ind", request_body = IndicatorInput,
    responses((status = 201, body = Indicator), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_indicator(
    State(s): State<AppState>,
    auth: Auth<perm::IndManage>,
    AppJson(input): AppJson<IndicatorInput>,
) -> ApiResult<(StatusCode, Json<Indicator>)> {
    Ok((StatusCode::CREATED, Json(s.ind.create_indicator(&auth.principal, &auth.ctx(), &input).await?)))
}

/// One indicator with its 口径, source and latest period.
#[utoipa::path(operation_id = "ind_indicators_get", get, path = "/api/v1/ind/indicators/{code}", tag = "ind", params(("code" = String, Path)),
    responses((status = 200, body = Indicator), (status = 404, body = ErrorBody)))]
async fn get_indicator(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppPath(code): AppPath<String>) -> ApiResult<Json<Indicator>> {
    Ok(Json(s.ind.indicator(&auth.principal, &code).await?))
}

/// Update an indicator (send the `version` you read).
#[utoipa::path(operation_id = "ind_indicators_update", put, path = "/api/v1/ind/indicators/{code}", tag = "ind", params(("code" = String, Path)), request_body = IndicatorInput,
    responses((status = 200, body = Indicator), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_indicator(
    State(s): State<AppState>,
    auth: Auth<perm::IndManage>,
    AppPath(code): AppPath<String>,
    AppJson(input): AppJson<IndicatorInput>,
) -> ApiResult<Json<Indicator>> {
    Ok(Json(s.ind.update_indicator(&auth.principal, &auth.ctx(), &code, &input).await?))
}

/// Delete an indicator and its values (refused while a formula or a dashboard uses it).
#[utoipa::path(operation_id = "ind_indicators_delete", delete, path = "/api/v1/ind/indicators/{code}", tag = "ind", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_indicator(State(s): State<AppState>, auth: Auth<perm::IndManage>, AppPath(code): AppPath<String>) -> ApiResult<StatusCode> {
    s.ind.delete_indicator(&auth.principal, &auth.ctx(), &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Related indicators (指标关联), both directions, plus the same group.
#[utoipa::path(operation_id = "ind_indicators_related", get, path = "/api/v1/ind/indicators/{code}/related", tag = "ind", params(("code" = String, Path)),
    responses((status = 200, body = Vec<Related>), (status = 404, body = ErrorBody)))]
async fn related(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppPath(code): AppPath<String>) -> ApiResult<Json<Vec<Related>>> {
    Ok(Json(s.ind.related(&auth.principal, &code).await?))
}

/// A trend with 同比, 环比, 累计, ranking and target completion for every period.
#[utoipa::path(operation_id = "ind_indicators_series", get, path = "/api/v1/ind/indicators/{code}/series", tag = "ind", params(("code" = String, Path), SeriesQuery),
    responses((status = 200, body = SeriesData), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn series(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<SeriesQuery>,
) -> ApiResult<Json<SeriesData>> {
    Ok(Json(
        s.ind
            .series_data(
                &auth.principal,
                &auth.ctx(),
                &code,
                Window { region: q.region.as_deref(), from: q.from.as_deref(), to: q.to.as_deref(), category: q.category.as_deref() },
            )
            .await?,
    ))
}

/// One period broken down by sub-region (drill-down) or by category.
#[utoipa::path(operation_id = "ind_indicators_breakdown", get, path = "/api/v1/ind/indicators/{code}/breakdown", tag = "ind", params(("code" = String, Path), BreakdownQuery),
    responses((status = 200, body = Breakdown), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn breakdown(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<BreakdownQuery>,
) -> ApiResult<Json<Breakdown>> {
    Ok(Json(s.ind.breakdown(&auth.principal, &auth.ctx(), &code, q.region.as_deref(), q.period.as_deref(), &q.by).await?))
}

/// A generated statistics report of an indicator's category distribution (e.g. 行业统计报告).
#[utoipa::path(operation_id = "ind_indicators_report", get, path = "/api/v1/ind/indicators/{code}/report", tag = "ind", params(("code" = String, Path), DashboardQuery),
    responses((status = 200, body = DistributionReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn report(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<DashboardQuery>,
) -> ApiResult<Json<DistributionReport>> {
    Ok(Json(s.ind.distribution_report(&auth.principal, &auth.ctx(), &code, q.region.as_deref(), q.period.as_deref()).await?))
}

pub(crate) fn file_headers(name: &str, content_type: &'static str) -> ApiResult<HeaderMap> {
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let ascii: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")).map_err(|_| ApiError::internal())?,
    );
    Ok(h)
}

pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Export an indicator's trend as Excel or CSV; the file carries the viewer's watermark (audited).
#[utoipa::path(operation_id = "ind_indicators_export", get, path = "/api/v1/ind/indicators/{code}/export", tag = "ind", params(("code" = String, Path), ExportQuery),
    responses((status = 200, description = "xlsx or csv file"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export(
    State(s): State<AppState>,
    auth: Auth<perm::IndExport>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    let csv = match q.format.as_deref() {
        None | Some("xlsx") => false,
        Some("csv") => true,
        _ => return Err(ApiError::bad_request("ind.invalid_format", "format 须为 xlsx 或 csv")),
    };
    let (name, bytes) = s
        .ind
        .export(
            &auth.principal,
            &auth.ctx(),
            &code,
            Window { region: q.region.as_deref(), from: q.from.as_deref(), to: q.to.as_deref(), category: None },
            csv,
        )
        .await?;
    Ok((file_headers(&name, if csv { "text/csv; charset=utf-8" } else { XLSX })?, bytes))
}

/// 标签属性定义.
#[utoipa::path(operation_id = "ind_attr_defs_get", get, path = "/api/v1/ind/attr-defs", tag = "ind", responses((status = 200, body = Vec<TagAttrDef>)))]
async fn attr_defs(State(s): State<AppState>, _auth: Auth<perm::IndRead>) -> ApiResult<Json<Vec<TagAttrDef>>> {
    Ok(Json(s.ind.attr_defs().await?))
}

/// Replace the attribute definitions.
#[utoipa::path(operation_id = "ind_attr_defs_set", put, path = "/api/v1/ind/attr-defs", tag = "ind", request_body = Vec<TagAttrDef>,
    responses((status = 200, body = Vec<TagAttrDef>), (status = 422, body = ErrorBody)))]
async fn set_attr_defs(
    State(s): State<AppState>,
    auth: Auth<perm::IndManage>,
    AppJson(defs): AppJson<Vec<TagAttrDef>>,
) -> ApiResult<Json<Vec<TagAttrDef>>> {
    Ok(Json(s.ind.set_attr_defs(&auth.ctx(), &defs).await?))
}

fn report_response(r: ValueImportReport) -> (StatusCode, Json<ValueImportReport>) {
    (if r.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }, Json(r))
}

/// Push values (all rows valid, or nothing written and 422 with the row-by-row report).
#[utoipa::path(operation_id = "ind_values_push", post, path = "/api/v1/ind/values", tag = "ind", request_body = ValuePush,
    responses((status = 200, body = ValueImportReport), (status = 422, body = ValueImportReport)))]
async fn push_values(
    State(s): State<AppState>,
    auth: Auth<perm::IndData>,
    AppJson(p): AppJson<ValuePush>,
) -> ApiResult<(StatusCode, Json<ValueImportReport>)> {
    let rows: Vec<_> = p.rows.into_iter().enumerate().map(|(i, r)| (i + 1, r)).collect();
    Ok(report_response(s.ind.load_values(&auth.principal, &auth.ctx(), &p.source, &rows, false).await?))
}

/// Import values from the Excel template or a UTF-8 CSV with the same columns (指标编码, 统计期,
/// 行政区划代码, 分类, 数值): validated as a whole; `dry_run=false` writes only when every row is valid.
#[utoipa::path(operation_id = "ind_values_import", post, path = "/api/v1/ind/values/import", tag = "ind", params(ValueImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = ".xlsx or UTF-8 .csv"),
    responses((status = 200, body = ValueImportReport), (status = 422, body = ValueImportReport)))]
async fn import_values(
    State(s): State<AppState>,
    auth: Auth<perm::IndData>,
    AppQuery(q): AppQuery<ValueImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ValueImportReport>)> {
    if body.is_empty() {
        return Err(ApiError::bad_request("ind.empty_file", "请选择要导入的文件"));
    }
    Ok(report_response(s.ind.import_file(&auth.principal, &auth.ctx(), &body, &q.filename, q.dry_run.unwrap_or(true)).await?))
}

/// The Excel import template.
#[utoipa::path(operation_id = "ind_values_template", get, path = "/api/v1/ind/values/template", tag = "ind", responses((status = 200, description = "xlsx file")))]
async fn template(_auth: Auth<perm::IndData>) -> ApiResult<impl IntoResponse> {
    Ok((file_headers("indicator-values-template.xlsx", XLSX)?, tg_indicators::values::template()?))
}

/// Record a client-side export (PNG picture or printed PDF) in the audit trail.
#[utoipa::path(operation_id = "ind_exports_audit", post, path = "/api/v1/ind/exports/audit", tag = "ind", request_body = ExportAudit,
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn export_audit(State(s): State<AppState>, auth: Auth<perm::IndExport>, AppJson(e): AppJson<ExportAudit>) -> ApiResult<StatusCode> {
    if !["png", "pdf"].contains(&e.kind.as_str()) || e.target.len() > 120 || e.title.chars().count() > 100 {
        return Err(ApiError::bad_request("ind.invalid_export", "导出类型须为 png 或 pdf"));
    }
    s.iam.audit_alone(&auth.ctx(), AuditEvent::success("ind.export", e.target).with_detail(format!("{} {}", e.kind, e.title))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Topics the caller may see (key topics first).
#[utoipa::path(operation_id = "ind_topics_list", get, path = "/api/v1/ind/topics", tag = "ind", responses((status = 200, body = Vec<TopicBrief>)))]
async fn topics(State(s): State<AppState>, auth: Auth<perm::IndRead>) -> ApiResult<Json<Vec<TopicBrief>>> {
    Ok(Json(s.ind.topics(&auth.principal).await?))
}

/// Create a topic.
#[utoipa::path(operation_id = "ind_topics_create", post, path = "/api/v1/ind/topics", tag = "ind", request_body = TopicInput,
    responses((status = 201, body = Topic), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_topic(
    State(s): State<AppState>,
    auth: Auth<perm::IndManage>,
    AppJson(input): AppJson<TopicInput>,
) -> ApiResult<(StatusCode, Json<Topic>)> {
    Ok((StatusCode::CREATED, Json(s.ind.create_topic(&auth.principal, &auth.ctx(), &input).await?)))
}

/// A topic with its dashboard definition.
#[utoipa::path(operation_id = "ind_topics_get", get, path = "/api/v1/ind/topics/{code}", tag = "ind", params(("code" = String, Path)),
    responses((status = 200, body = Topic), (status = 404, body = ErrorBody)))]
async fn get_topic(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppPath(code): AppPath<String>) -> ApiResult<Json<Topic>> {
    Ok(Json(s.ind.topic(&auth.principal, &code).await?))
}

/// Update a topic and its dashboard layout.
#[utoipa::path(operation_id = "ind_topics_update", put, path = "/api/v1/ind/topics/{code}", tag = "ind", params(("code" = String, Path)), request_body = TopicInput,
    responses((status = 200, body = Topic), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_topic(
    State(s): State<AppState>,
    auth: Auth<perm::IndManage>,
    AppPath(code): AppPath<String>,
    AppJson(input): AppJson<TopicInput>,
) -> ApiResult<Json<Topic>> {
    Ok(Json(s.ind.update_topic(&auth.principal, &auth.ctx(), &code, &input).await?))
}

/// Delete a topic (its indicators stay in the library).
#[utoipa::path(operation_id = "ind_topics_delete", delete, path = "/api/v1/ind/topics/{code}", tag = "ind", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_topic(State(s): State<AppState>, auth: Auth<perm::IndManage>, AppPath(code): AppPath<String>) -> ApiResult<StatusCode> {
    s.ind.delete_topic(&auth.principal, &auth.ctx(), &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A topic dashboard computed for a region and period (views of restricted topics are audited).
#[utoipa::path(operation_id = "ind_topics_dashboard", get, path = "/api/v1/ind/topics/{code}/dashboard", tag = "ind", params(("code" = String, Path), DashboardQuery),
    responses((status = 200, body = Dashboard), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dashboard(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<DashboardQuery>,
) -> ApiResult<Json<Dashboard>> {
    Ok(Json(s.ind.dashboard(&auth.principal, &auth.ctx(), &code, q.region.as_deref(), q.period.as_deref()).await?))
}

/// 特别关注: the caller's follows with their current light.
#[utoipa::path(operation_id = "ind_follows_list", get, path = "/api/v1/ind/follows", tag = "ind", responses((status = 200, body = Vec<Follow>)))]
async fn follows(State(s): State<AppState>, auth: Auth<perm::IndRead>) -> ApiResult<Json<Vec<Follow>>> {
    Ok(Json(s.ind.follows(&auth.principal).await?))
}

/// Follow an indicator (optionally with yellow/red thresholds) or a topic.
#[utoipa::path(operation_id = "ind_follows_create", post, path = "/api/v1/ind/follows", tag = "ind", request_body = FollowInput,
    responses((status = 201, body = Follow), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn follow(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppJson(input): AppJson<FollowInput>,
) -> ApiResult<(StatusCode, Json<Follow>)> {
    Ok((StatusCode::CREATED, Json(s.ind.follow(&auth.principal, &auth.ctx(), &input).await?)))
}

/// Change a follow's thresholds.
#[utoipa::path(operation_id = "ind_follows_update", put, path = "/api/v1/ind/follows/{id}", tag = "ind", params(("id" = i64, Path)), request_body = ThresholdInput,
    responses((status = 200, body = Follow), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_thresholds(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<ThresholdInput>,
) -> ApiResult<Json<Follow>> {
    Ok(Json(s.ind.set_thresholds(&auth.principal, id, &input).await?))
}

/// Stop following.
#[utoipa::path(operation_id = "ind_follows_delete", delete, path = "/api/v1/ind/follows/{id}", tag = "ind", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unfollow(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.ind.unfollow(&auth.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 关联搜索 over indicators, topics, tags and definitions (Chinese segmentation, pinyin initials).
#[utoipa::path(operation_id = "ind_search", get, path = "/api/v1/ind/search", tag = "ind", params(SearchQuery),
    responses((status = 200, body = SearchResult), (status = 422, body = ErrorBody)))]
async fn search(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppQuery(q): AppQuery<SearchQuery>) -> ApiResult<Json<SearchResult>> {
    Ok(Json(s.ind.search(&auth.principal, &q.q).await?))
}

/// 数据点评 on a target, threaded, only those visible to the caller.
#[utoipa::path(operation_id = "ind_comments_list", get, path = "/api/v1/ind/comments", tag = "ind", params(CommentQuery),
    responses((status = 200, body = Page<Comment>), (status = 422, body = ErrorBody)))]
async fn comments(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppQuery(q): AppQuery<CommentQuery>,
) -> ApiResult<Json<Page<Comment>>> {
    Ok(Json(s.ind.comments(&auth.principal, &q.target, &PageQuery { page: q.page, page_size: q.page_size }).await?))
}

/// Comment on a data point, a chart, an indicator or a topic.
#[utoipa::path(operation_id = "ind_comments_create", post, path = "/api/v1/ind/comments", tag = "ind", request_body = CommentInput,
    responses((status = 201, body = Comment), (status = 422, body = ErrorBody)))]
async fn add_comment(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppJson(input): AppJson<CommentInput>,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    Ok((StatusCode::CREATED, Json(s.ind.add_comment(&auth.principal, &auth.ctx(), &input).await?)))
}

/// Delete one's own comment.
#[utoipa::path(operation_id = "ind_comments_delete", delete, path = "/api/v1/ind/comments/{id}", tag = "ind", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_comment(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.ind.delete_comment(&auth.principal, &auth.ctx(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 领导批示: instructions issued by the caller, for the caller's department, or all visible.
#[utoipa::path(operation_id = "ind_instructions_list", get, path = "/api/v1/ind/instructions", tag = "ind", params(InstructionQuery),
    responses((status = 200, body = Page<Instruction>), (status = 422, body = ErrorBody)))]
async fn instructions(
    State(s): State<AppState>,
    auth: Auth<perm::IndRead>,
    AppQuery(q): AppQuery<InstructionQuery>,
) -> ApiResult<Json<Page<Instruction>>> {
    Ok(Json(
        s.ind
            .instructions(
                &auth.principal,
                q.box_.as_deref().unwrap_or("all"),
                q.status.as_deref(),
                &PageQuery { page: q.page, page_size: q.page_size },
            )
            .await?,
    ))
}

/// Issue an instruction on what the leader is viewing; it becomes a task for a department.
#[utoipa::path(operation_id = "ind_instructions_create", post, path = "/api/v1/ind/instructions", tag = "ind", request_body = InstructionInput,
    responses((status = 201, body = Instruction), (status = 422, body = ErrorBody)))]
async fn issue(
    State(s): State<AppState>,
    auth: Auth<perm::IndInstruct>,
    AppJson(input): AppJson<InstructionInput>,
) -> ApiResult<(StatusCode, Json<Instruction>)> {
    Ok((StatusCode::CREATED, Json(s.ind.issue_instruction(&auth.principal, &auth.ctx(), &input).await?)))
}

/// One instruction with its log.
#[utoipa::path(operation_id = "ind_instructions_get", get, path = "/api/v1/ind/instructions/{id}", tag = "ind", params(("id" = i64, Path)),
    responses((status = 200, body = Instruction), (status = 404, body = ErrorBody)))]
async fn instruction(State(s): State<AppState>, auth: Auth<perm::IndRead>, AppPath(id): AppPath<i64>) -> ApiResult<Json<Instruction>> {
    Ok(Json(s.ind.instruction(&auth.principal, id).await?))
}

/// The department replies (办理回复).
#[utoipa::path(operation_id = "ind_instructions_reply", post, path = "/api/v1/ind/instructions/{id}/reply", tag = "ind", params(("id" = i64, Path)), request_body = InstructionAction,
    responses((status = 200, body = Instruction), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reply(
    State(s): State<AppState>,
    auth: Auth<perm::IndHandle>,
    AppPath(id): AppPath<i64>,
    AppJson(a): AppJson<InstructionAction>,
) -> ApiResult<Json<Instruction>> {
    Ok(Json(s.ind.act_on_instruction(&auth.principal, &auth.ctx(), id, "reply", &a).await?))
}

/// The leader returns the reply for more work (退回).
#[utoipa::path(operation_id = "ind_instructions_return", post, path = "/api/v1/ind/instructions/{id}/return", tag = "ind", params(("id" = i64, Path)), request_body = InstructionAction,
    responses((status = 200, body = Instruction), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn return_(
    State(s): State<AppState>,
    auth: Auth<perm::IndInstruct>,
    AppPath(id): AppPath<i64>,
    AppJson(a): AppJson<InstructionAction>,
) -> ApiResult<Json<Instruction>> {
    Ok(Json(s.ind.act_on_instruction(&auth.principal, &auth.ctx(), id, "return", &a).await?))
}

/// The leader closes the instruction (办结).
#[utoipa::path(operation_id = "ind_instructions_close", post, path = "/api/v1/ind/instructions/{id}/close", tag = "ind", params(("id" = i64, Path)), request_body = InstructionAction,
    responses((status = 200, body = Instruction), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn close(
    State(s): State<AppState>,
    auth: Auth<perm::IndInstruct>,
    AppPath(id): AppPath<i64>,
    AppJson(a): AppJson<InstructionAction>,
) -> ApiResult<Json<Instruction>> {
    Ok(Json(s.ind.act_on_instruction(&auth.principal, &auth.ctx(), id, "close", &a).await?))
}

/// Departments the caller may assign an instruction to.
#[utoipa::path(operation_id = "ind_instruction_departments", get, path = "/api/v1/ind/instruction-departments", tag = "ind", responses((status = 200, body = Vec<DeptRef>)))]
async fn instruction_departments(State(s): State<AppState>, auth: Auth<perm::IndInstruct>) -> ApiResult<Json<Vec<DeptRef>>> {
    Ok(Json(s.ind.instruction_departments(&auth.principal).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(catalog))
        .routes(routes!(list_indicators, create_indicator))
        .routes(routes!(get_indicator, update_indicator, delete_indicator))
        .routes(routes!(related))
        .routes(routes!(series))
        .routes(routes!(breakdown))
        .routes(routes!(report))
        .routes(routes!(export))
        .routes(routes!(attr_defs, set_attr_defs))
        .routes(routes!(push_values))
        .routes(routes!(import_values))
        .routes(routes!(template))
        .routes(routes!(export_audit))
        .routes(routes!(topics, create_topic))
        .routes(routes!(get_topic, update_topic, delete_topic))
        .routes(routes!(dashboard))
        .routes(routes!(follows, follow))
        .routes(routes!(set_thresholds, unfollow))
        .routes(routes!(search))
        .routes(routes!(comments, add_comment))
        .routes(routes!(delete_comment))
        .routes(routes!(instructions, issue))
        .routes(routes!(instruction))
        .routes(routes!(reply))
        .routes(routes!(return_))
        .routes(routes!(close))
        .routes(routes!(instruction_departments))
}
