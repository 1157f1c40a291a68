//! The audit log for the audit administrator: list, Excel export, chain verification.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::Json;
use rust_xlsxwriter::{Format, Workbook};
use serde::Deserialize;
use tg_iam::audit::{self, AuditFilter, AuditRecord, VerifyReport};
use tg_iam::AuditEvent;
use tg_kernel::clock::parse_rfc3339;
use tg_kernel::{Page, PageQuery};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Actor username contains.
    pub actor: Option<String>,
    /// Exact action, e.g. `user.create`.
    pub action: Option<String>,
    /// success, failure or denied.
    pub result: Option<String>,
    /// RFC 3339 lower bound.
    pub from: Option<String>,
    /// RFC 3339 upper bound.
    pub to: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

impl AuditQuery {
    fn filter(&self, scope: &tg_kernel::RegionCode) -> ApiResult<AuditFilter> {
        let time = |v: &Option<String>, name: &str| -> ApiResult<Option<i64>> {
            match v.as_deref().filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => parse_rfc3339(s).map(Some).ok_or_else(|| {
                    ApiError::bad_request("request.invalid_query", format!("{name} 须为 RFC 3339 时间，例如 2026-11-28T00:00:00Z"))
                }),
            }
        };
        Ok(AuditFilter {
            scope: Some(scope.clone()),
            actor: self.actor.clone(),
            action: self.action.clone(),
            result: self.result.clone(),
            from: time(&self.from, "from")?,
            to: time(&self.to, "to")?,
        })
    }
}

/// Audit records, newest first (paged).
#[utoipa::path(operation_id = "audit_list", get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditRecord>), (status = 403, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    auth: Auth<perm::AuditRead>,
    AppQuery(q): AppQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditRecord>>> {
    let f = q.filter(&auth.principal.scope.region)?;
    let page = PageQuery { page: q.page, page_size: q.page_size };
    let result = audit::list(s.iam.db(), &f, &page).await.map_err(tg_iam::IamError::from)?;
    // The audit administrator's own queries are part of the trail too.
    let detail = format!("第{}页，{}条，条件 {:?}", page.page(), result.items.len(), q);
    s.iam.audit_alone(&auth.ctx(), AuditEvent::success("audit.list", "审计日志").with_detail(detail)).await?;
    Ok(Json(result))
}

/// The same filters as an Excel workbook (the export itself is audited).
#[utoipa::path(operation_id = "audit_export", get, path = "/api/v1/audit/export", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "Excel workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 403, body = ErrorBody)))]
async fn export(
    State(s): State<AppState>,
    auth: Auth<perm::AuditExport>,
    AppQuery(q): AppQuery<AuditQuery>,
) -> ApiResult<impl IntoResponse> {
    let f = q.filter(&auth.principal.scope.region)?;
    let rows = audit::export_rows(s.iam.db(), &f, s.config.export_max_rows).await.map_err(tg_iam::IamError::from)?;
    let bytes = tokio::task::spawn_blocking(move || workbook(&rows)).await.map_err(|_| ApiError::internal())??;
    s.iam.audit_alone(&auth.ctx(), AuditEvent::success("audit.export", "审计日志").with_detail(format!("{q:?}"))).await?;
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit-log.xlsx\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((h, bytes))
}

fn workbook(rows: &[AuditRecord]) -> ApiResult<Vec<u8>> {
    let fail = |e: rust_xlsxwriter::XlsxError| {
        tracing::error!(error = %e, "xlsx");
        ApiError::internal()
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("审计日志").map_err(fail)?;
    let bold = Format::new().set_bold();
    let heads = ["序号", "时间(UTC)", "操作人", "角色", "区划", "IP", "请求ID", "操作", "对象", "结果", "详情"];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).map_err(fail)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = (i + 1) as u32;
        ws.write_number(row, 0, r.seq as f64).map_err(fail)?;
        let cells =
            [&r.at, &r.actor_username, &r.actor_roles, &r.actor_region, &r.ip, &r.request_id, &r.action, &r.target, &r.result, &r.detail];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(row, (c + 1) as u16, v.as_str()).map_err(fail)?;
        }
    }
    ws.set_column_width(1, 24).map_err(fail)?;
    ws.set_column_width(8, 32).map_err(fail)?;
    ws.set_column_width(10, 40).map_err(fail)?;
    wb.save_to_buffer().map_err(fail)
}

/// Verify the hash chain and report the first broken link.
#[utoipa::path(operation_id = "audit_verify", get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = VerifyReport), (status = 403, body = ErrorBody)))]
async fn verify(State(s): State<AppState>, auth: Auth<perm::AuditVerify>) -> ApiResult<Json<VerifyReport>> {
    let report = audit::verify(s.iam.db(), s.iam.keys()).await.map_err(tg_iam::IamError::from)?;
    let ev = if report.ok {
        AuditEvent::success("audit.verify", "审计链").with_detail(format!("校验{}条，完整", report.checked))
    } else {
        AuditEvent::failure(
            "audit.verify",
            "审计链",
            format!("首个断点序号 {:?}: {}", report.first_broken_seq, report.reason.clone().unwrap_or_default()),
        )
    };
    s.iam.audit_alone(&auth.ctx(), ev).await?;
    Ok(Json(report))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(export)).routes(routes!(verify))
}
