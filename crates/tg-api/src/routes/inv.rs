//! 招商引资项目管理: projects, materials and attachments, 项目统一代码, transfers, legacy import,
//! export and statistics. Workflow actions go through `/api/v1/wf/instances/{id}/act`.

use super::ind::{file_headers, XLSX};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use tg_invest::excel::InvImportReport;
use tg_invest::materials::{FileRef, MaterialInput};
use tg_invest::{ChangeEntry, InvOptions, InvStats, Project, ProjectDetail, ProjectFilter, ProjectInput, Transfer};
use tg_kernel::{Page, PageQuery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteProject {
    pub version: i64,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    pub code: String,
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionInput {
    pub version: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    pub filename: String,
    /// 资料类型 (one of options.doc_types).
    pub doc_type: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvImportQuery {
    pub filename: String,
    /// Only validate (default true).
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// in, out or all.
    pub dir: Option<String>,
    pub status: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

/// Form and filter choices (sources, stages, counties, GB/T 4754 industries, document types, file limits).
#[utoipa::path(operation_id = "inv_options", get, path = "/api/v1/inv/options", tag = "inv", responses((status = 200, body = InvOptions)))]
async fn options(State(s): State<AppState>, _auth: Auth<perm::InvRead>) -> ApiResult<Json<InvOptions>> {
    Ok(Json(s.inv.options().await?))
}

/// Projects in the caller's scope (and those being transferred to it), filtered and paged.
#[utoipa::path(operation_id = "inv_projects", get, path = "/api/v1/inv/projects", tag = "inv", params(ProjectFilter), responses((status = 200, body = Page<Project>), (status = 422, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    auth: Auth<perm::InvRead>,
    AppQuery(f): AppQuery<ProjectFilter>,
) -> ApiResult<Json<Page<Project>>> {
    Ok(Json(s.inv.list(&auth.principal, &f).await?))
}

/// Creates a project (暂存; `submit: true` also submits it to 县区在谈审核).
#[utoipa::path(operation_id = "inv_project_create", post, path = "/api/v1/inv/projects", tag = "inv", request_body = ProjectInput,
    responses((status = 201, body = ProjectDetail), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppJson(input): AppJson<ProjectInput>,
) -> ApiResult<(StatusCode, Json<ProjectDetail>)> {
    Ok((StatusCode::CREATED, Json(s.inv.create(&auth.ctx(), &auth.principal, &input).await?)))
}

/// A project with its workflow, materials and transfers.
#[utoipa::path(operation_id = "inv_project", get, path = "/api/v1/inv/projects/{id}", tag = "inv", params(("id" = i64, Path)), responses((status = 200, body = ProjectDetail), (status = 404, body = ErrorBody)))]
async fn get(State(s): State<AppState>, auth: Auth<perm::InvRead>, AppPath(id): AppPath<i64>) -> ApiResult<Json<ProjectDetail>> {
    Ok(Json(s.inv.detail(&auth.principal, id).await?))
}

/// Edits a project (fields editable at the current step; every field of imported history).
#[utoipa::path(operation_id = "inv_project_update", put, path = "/api/v1/inv/projects/{id}", tag = "inv", params(("id" = i64, Path)), request_body = ProjectInput,
    responses((status = 200, body = ProjectDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<ProjectInput>,
) -> ApiResult<Json<ProjectDetail>> {
    Ok(Json(s.inv.update(&auth.ctx(), &auth.principal, id, &input).await?))
}

/// Deletes a project (soft, with a reason; audited; its workflow ends).
#[utoipa::path(operation_id = "inv_project_delete", delete, path = "/api/v1/inv/projects/{id}", tag = "inv", params(("id" = i64, Path)), request_body = DeleteProject,
    responses((status = 204), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<DeleteProject>,
) -> ApiResult<StatusCode> {
    s.inv.delete(&auth.ctx(), &auth.principal, id, input.version, &input.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The field-level change log (newest first).
#[utoipa::path(operation_id = "inv_project_changes", get, path = "/api/v1/inv/projects/{id}/changes", tag = "inv", params(("id" = i64, Path), PageQuery), responses((status = 200, body = Page<ChangeEntry>)))]
async fn changes(
    State(s): State<AppState>,
    auth: Auth<perm::InvRead>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<Json<Page<ChangeEntry>>> {
    Ok(Json(s.inv.changes(&auth.principal, id, &q).await?))
}

/// Saves (暂存) or submits (提交, 知会并提交) 评审备案资料 (filing), 签约信息 (signing), 补充签约信息
/// (supplement) or 达标达产信息 (production). Submitting moves the workflow.
#[utoipa::path(operation_id = "inv_material_save", put, path = "/api/v1/inv/projects/{id}/materials/{kind}", tag = "inv", params(("id" = i64, Path), ("kind" = String, Path)), request_body = MaterialInput,
    responses((status = 200, body = ProjectDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn material(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppPath((id, kind)): AppPath<(i64, String)>,
    AppJson(input): AppJson<MaterialInput>,
) -> ApiResult<Json<ProjectDetail>> {
    Ok(Json(s.inv.save_material(&auth.ctx(), &auth.principal, id, &kind, &input).await?))
}

/// Uploads an attachment (PDF, Word, Excel, JPG/PNG; at most 20 MB; content checked against the extension).
#[utoipa::path(operation_id = "inv_file_upload", post, path = "/api/v1/inv/files", tag = "inv", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = FileRef), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppQuery(q): AppQuery<UploadQuery>,
    body: Bytes,
) -> ApiResult<Json<FileRef>> {
    Ok(Json(s.inv.upload(&auth.ctx(), &auth.principal, &q.filename, &q.doc_type, &body).await?))
}

/// Downloads an attachment.
#[utoipa::path(operation_id = "inv_file", get, path = "/api/v1/inv/files/{id}", tag = "inv", params(("id" = i64, Path)), responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)))]
async fn file(State(s): State<AppState>, auth: Auth<perm::InvRead>, AppPath(id): AppPath<i64>) -> ApiResult<impl IntoResponse> {
    let (name, content_type, body) = s.inv.file(&auth.principal, id).await?;
    let mut h = HeaderMap::new();
    h.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_str(&content_type).map_err(|_| ApiError::internal())?);
    h.insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let encoded: String = name
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    h.insert(
        axum::http::header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"file-{id}\"; filename*=UTF-8''{encoded}"))
            .map_err(|_| ApiError::internal())?,
    );
    Ok((h, body))
}

/// Sets the 项目统一代码 (format-checked, unique).
#[utoipa::path(operation_id = "inv_code_set", put, path = "/api/v1/inv/projects/{id}/code", tag = "inv", params(("id" = i64, Path)), request_body = CodeInput,
    responses((status = 200, body = Project), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_code(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<CodeInput>,
) -> ApiResult<Json<Project>> {
    if input.code.trim().is_empty() {
        return Err(tg_iam::IamError::field("code", "请填写项目统一代码").into());
    }
    Ok(Json(s.inv.set_code(&auth.ctx(), &auth.principal, id, Some(&input.code), input.version).await?))
}

/// Removes the 项目统一代码.
#[utoipa::path(operation_id = "inv_code_delete", delete, path = "/api/v1/inv/projects/{id}/code", tag = "inv", params(("id" = i64, Path)), request_body = VersionInput,
    responses((status = 200, body = Project), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_code(
    State(s): State<AppState>,
    auth: Auth<perm::InvWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<VersionInput>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.inv.set_code(&auth.ctx(), &auth.principal, id, None, input.version).await?))
}

/// Projects for 项目统一代码管理 (the list filters, e.g. `has_code`).
#[utoipa::path(operation_id = "inv_codes", get, path = "/api/v1/inv/codes", tag = "inv", params(ProjectFilter), responses((status = 200, body = Page<Project>)))]
async fn codes(
    State(s): State<AppState>,
    auth: Auth<perm::InvRead>,
    AppQuery(f): AppQuery<ProjectFilter>,
) -> ApiResult<Json<Page<Project>>> {
    Ok(Json(s.inv.list(&auth.principal, &f).await?))
}

/// Transfers into (`dir=in`) or out of (`dir=out`) the caller's scope; both sides keep the history.
#[utoipa::path(operation_id = "inv_transfers", get, path = "/api/v1/inv/transfers", tag = "inv", params(TransferQuery), responses((status = 200, body = Page<Transfer>), (status = 422, body = ErrorBody)))]
async fn transfers(
    State(s): State<AppState>,
    auth: Auth<perm::InvRead>,
    AppQuery(q): AppQuery<TransferQuery>,
) -> ApiResult<Json<Page<Transfer>>> {
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.inv.transfers(&auth.principal, q.dir.as_deref().unwrap_or("all"), q.status.as_deref(), &page).await?))
}

/// Counts and amounts by county, industry section, stage and month.
#[utoipa::path(operation_id = "inv_stats", get, path = "/api/v1/inv/stats", tag = "inv", params(ProjectFilter), responses((status = 200, body = InvStats)))]
async fn stats(State(s): State<AppState>, auth: Auth<perm::InvRead>, AppQuery(f): AppQuery<ProjectFilter>) -> ApiResult<Json<InvStats>> {
    Ok(Json(s.inv.stats(&auth.principal, &f).await?))
}

/// The filtered list as Excel (at most 10,000 rows).
#[utoipa::path(operation_id = "inv_export", get, path = "/api/v1/inv/export", tag = "inv", params(ProjectFilter), responses((status = 200, description = "xlsx file")))]
async fn export(
    State(s): State<AppState>,
    auth: Auth<perm::InvExport>,
    AppQuery(f): AppQuery<ProjectFilter>,
) -> ApiResult<impl IntoResponse> {
    let bytes = s.inv.export(&auth.ctx(), &auth.principal, &f).await?;
    Ok((file_headers("investment-projects.xlsx", XLSX)?, bytes))
}

/// The legacy-import template.
#[utoipa::path(operation_id = "inv_import_template", get, path = "/api/v1/inv/import/template", tag = "inv", responses((status = 200, description = "xlsx file")))]
async fn template(_auth: Auth<perm::InvImport>) -> ApiResult<impl IntoResponse> {
    Ok((file_headers("investment-projects-template.xlsx", XLSX)?, tg_invest::excel::template()?))
}

/// Imports historical projects: every row validated; `dry_run=false` writes all rows or none (422 with the report).
#[utoipa::path(operation_id = "inv_import", post, path = "/api/v1/inv/import", tag = "inv", params(InvImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = InvImportReport), (status = 422, body = InvImportReport)))]
async fn import(
    State(s): State<AppState>,
    auth: Auth<perm::InvImport>,
    AppQuery(q): AppQuery<InvImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<InvImportReport>)> {
    if body.is_empty() {
        return Err(ApiError::bad_request("inv.empty_file", "请选择要导入的文件"));
    }
    let r = s.inv.import(&auth.ctx(), &auth.principal, &q.filename, &body, q.dry_run.unwrap_or(true)).await?;
    Ok((if r.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }, Json(r)))
}

pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(import))
        .layer(DefaultBodyLimit::max(tg_invest::materials::MAX_FILE_BYTES as usize + 4096));
    OpenApiRouter::new()
        .routes(routes!(options))
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(changes))
        .routes(routes!(material))
        .routes(routes!(file))
        .routes(routes!(set_code, delete_code))
        .routes(routes!(codes))
        .routes(routes!(transfers))
        .routes(routes!(stats))
        .routes(routes!(export))
        .routes(routes!(template))
        .merge(uploads)
}
