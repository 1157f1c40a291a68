//! 流程中心: the caller's task inbox (待办/已办/抄送我的), instances with what the caller may do,
//! acting on them, definitions (as a diagram's data) and the working-day calendar.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tg_kernel::Page;
use tg_workflow::calendar::{CalendarDay, DayKind};
use tg_workflow::def::Definition;
use tg_workflow::engine::{TaskCounts, TaskQuery};
use tg_workflow::{Facts, WfActInput, WfCandidate, WfTask, WfView};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A definition with its stored versions and running-instance count.
#[derive(Debug, Serialize, ToSchema)]
pub struct WfDefinitionView {
    #[serde(flatten)]
    pub definition: Definition,
    pub versions: Vec<i64>,
    pub running: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidateQuery {
    pub q: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    pub year: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarYear {
    pub year: i32,
    pub days: Vec<CalendarDay>,
    pub source: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayInput {
    pub kind: DayKind,
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddQuery {
    /// Start date (YYYY-MM-DD).
    pub from: String,
    pub days: i64,
    /// Working days (default) or natural days.
    pub working: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DueDate {
    pub due: String,
}

/// The business facts of an instance (field permissions and guards).
async fn facts(s: &AppState, instance: i64) -> ApiResult<(String, Facts)> {
    let bt = s.wf.business_type_of(instance).await?;
    let f = match bt.as_str() {
        tg_invest::BUSINESS => s.inv.facts_for_instance(instance).await?,
        _ => Facts::default(),
    };
    Ok((bt, f))
}

/// The caller's tasks.
#[utoipa::path(operation_id = "wf_tasks", get, path = "/api/v1/wf/tasks", tag = "wf", params(TaskQuery), responses((status = 200, body = Page<WfTask>), (status = 422, body = ErrorBody)))]
async fn tasks(State(s): State<AppState>, auth: Auth<perm::SignedIn>, AppQuery(q): AppQuery<TaskQuery>) -> ApiResult<Json<Page<WfTask>>> {
    Ok(Json(s.wf.tasks(&auth.principal, &q).await?))
}

/// Counts for badges: open tasks, unread copies, overdue tasks.
#[utoipa::path(operation_id = "wf_task_counts", get, path = "/api/v1/wf/tasks/counts", tag = "wf", responses((status = 200, body = TaskCounts)))]
async fn counts(State(s): State<AppState>, auth: Auth<perm::SignedIn>) -> ApiResult<Json<TaskCounts>> {
    Ok(Json(s.wf.counts(&auth.principal).await?))
}

/// Marks a copy (抄送) as read.
#[utoipa::path(operation_id = "wf_task_read", post, path = "/api/v1/wf/tasks/{id}/read", tag = "wf", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn mark_read(State(s): State<AppState>, auth: Auth<perm::SignedIn>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.wf.mark_read(&auth.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An instance with what the caller may do now, its holders and its full step log.
#[utoipa::path(operation_id = "wf_instance", get, path = "/api/v1/wf/instances/{id}", tag = "wf", params(("id" = i64, Path)), responses((status = 200, body = WfView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn instance(State(s): State<AppState>, auth: Auth<perm::SignedIn>, AppPath(id): AppPath<i64>) -> ApiResult<Json<WfView>> {
    let (_, f) = facts(&s, id).await?;
    Ok(Json(s.wf.view(&auth.principal, id, &f).await?))
}

/// Does one operation (a transition of the definition, or 退回, 撤回, 终止, 催办, 抄送, 转办, 委派, 加签,
/// 交回). `version` must be the instance version the caller saw: 409 `wf.conflict` otherwise.
#[utoipa::path(operation_id = "wf_act", post, path = "/api/v1/wf/instances/{id}/act", tag = "wf", params(("id" = i64, Path)), request_body = WfActInput,
    responses((status = 200, body = WfView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn act(
    State(s): State<AppState>,
    auth: Auth<perm::SignedIn>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<WfActInput>,
) -> ApiResult<Json<WfView>> {
    // Once more if another process appended to the audit chain meanwhile: nothing was written.
    let view = match act_once(&s, &auth, id, &input).await {
        Err(e) if tg_workflow::engine::chain_moved(&e) => act_once(&s, &auth, id, &input).await?,
        r => r?,
    };
    Ok(Json(view))
}

async fn act_once(s: &AppState, auth: &Auth<perm::SignedIn>, id: i64, input: &WfActInput) -> Result<WfView, tg_iam::IamError> {
    // One round trip reads the instance and, in case it is a 招商 project, the project and its
    // materials; a business with its own service computes its facts itself from them.
    let (snapshot, reads) = s.wf.snapshot_with(id, &tg_invest::InvService::act_reads(id)).await?;
    match snapshot.business_type() {
        tg_invest::BUSINESS => s.inv.act_with(&auth.ctx(), &auth.principal, id, input, snapshot, reads).await,
        _ => {
            // Other businesses have no facts of their own (see `facts`).
            let f = Facts::default();
            let mut tx = s.iam.db().begin_lazy();
            let out = s.wf.act_in_with(&mut tx, &auth.ctx(), &auth.principal, id, input, &f, Some(snapshot)).await?;
            s.wf.commit_and_view(tx, &out, &auth.principal, &f).await
        }
    }
}

/// People to hand over, delegate to, add or copy (active users of the city or a region).
#[utoipa::path(operation_id = "wf_candidates", get, path = "/api/v1/wf/instances/{id}/candidates", tag = "wf", params(("id" = i64, Path), CandidateQuery), responses((status = 200, body = Vec<WfCandidate>)))]
async fn candidates(
    State(s): State<AppState>,
    auth: Auth<perm::SignedIn>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<CandidateQuery>,
) -> ApiResult<Json<Vec<WfCandidate>>> {
    Ok(Json(s.wf.candidates(&auth.principal, id, q.q.as_deref(), q.region.as_deref()).await?))
}

async fn definition_view(s: &AppState, d: std::sync::Arc<Definition>) -> ApiResult<WfDefinitionView> {
    let (versions, running) = s.wf.versions(&d.code).await?;
    let mut def = (*d).clone();
    s.wf.name_roles(&mut def).await?;
    Ok(WfDefinitionView { definition: def, versions, running })
}

/// Workflow definitions (latest versions). Process configuration, readable by every signed-in user
/// (the stage timeline and diagram of any record need it).
#[utoipa::path(operation_id = "wf_definitions", get, path = "/api/v1/wf/definitions", tag = "wf", responses((status = 200, body = Vec<WfDefinitionView>)))]
async fn definitions(State(s): State<AppState>, _auth: Auth<perm::SignedIn>) -> ApiResult<Json<Vec<WfDefinitionView>>> {
    let mut out = Vec::new();
    for code in s.wf.definition_codes().await? {
        out.push(definition_view(&s, s.wf.latest(&code).await?).await?);
    }
    Ok(Json(out))
}

/// One definition version (states, transitions: the diagram's data).
#[utoipa::path(operation_id = "wf_definition", get, path = "/api/v1/wf/definitions/{code}", tag = "wf", params(("code" = String, Path), VersionQuery), responses((status = 200, body = WfDefinitionView), (status = 404, body = ErrorBody)))]
async fn definition(
    State(s): State<AppState>,
    _auth: Auth<perm::SignedIn>,
    AppPath(code): AppPath<String>,
    AppQuery(q): AppQuery<VersionQuery>,
) -> ApiResult<Json<WfDefinitionView>> {
    let d = match q.version {
        Some(v) => s.wf.definition(&code, v).await?,
        None => s.wf.latest(&code).await?,
    };
    Ok(Json(definition_view(&s, d).await?))
}

/// The calendar's exceptions of a year (holidays and make-up working days).
#[utoipa::path(operation_id = "wf_calendar", get, path = "/api/v1/wf/calendar", tag = "wf", params(YearQuery), responses((status = 200, body = CalendarYear)))]
async fn calendar(
    State(s): State<AppState>,
    _auth: Auth<perm::SignedIn>,
    AppQuery(q): AppQuery<YearQuery>,
) -> ApiResult<Json<CalendarYear>> {
    if !(2000..=2100).contains(&q.year) {
        return Err(ApiError::bad_request("wf.bad_year", "年份不正确"));
    }
    let (days, source) = s.wf.calendar_year(q.year).await?;
    Ok(Json(CalendarYear { year: q.year, days, source }))
}

/// Sets a day as a holiday or a make-up working day (system administrator).
#[utoipa::path(operation_id = "wf_calendar_set", put, path = "/api/v1/wf/calendar/{date}", tag = "wf", params(("date" = String, Path)), request_body = DayInput, responses((status = 200, body = CalendarDay), (status = 422, body = ErrorBody)))]
async fn set_day(
    State(s): State<AppState>,
    auth: Auth<perm::WfAdmin>,
    AppPath(date): AppPath<String>,
    AppJson(input): AppJson<DayInput>,
) -> ApiResult<Json<CalendarDay>> {
    Ok(Json(s.wf.set_day(&auth.ctx(), &date, input.kind, &input.name).await?))
}

/// Makes a day ordinary again (system administrator).
#[utoipa::path(operation_id = "wf_calendar_clear", delete, path = "/api/v1/wf/calendar/{date}", tag = "wf", params(("date" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn clear_day(State(s): State<AppState>, auth: Auth<perm::WfAdmin>, AppPath(date): AppPath<String>) -> ApiResult<StatusCode> {
    s.wf.clear_day(&auth.ctx(), &date).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deadline calculator: the date `days` working (or natural) days after `from`.
#[utoipa::path(operation_id = "wf_calendar_add", get, path = "/api/v1/wf/calendar/add", tag = "wf", params(AddQuery), responses((status = 200, body = DueDate), (status = 422, body = ErrorBody)))]
async fn add_days(State(s): State<AppState>, _auth: Auth<perm::SignedIn>, AppQuery(q): AppQuery<AddQuery>) -> ApiResult<Json<DueDate>> {
    let from = tg_workflow::calendar::parse_date(&q.from)
        .ok_or_else(|| ApiError::from(tg_iam::IamError::field("from", "日期格式应为 YYYY-MM-DD")))?;
    if !(0..=365).contains(&q.days) {
        return Err(tg_iam::IamError::field("days", "天数应为 0–365").into());
    }
    let cal = s.wf.calendar().await?;
    Ok(Json(DueDate { due: tg_workflow::calendar::fmt_date(cal.due(from, q.days, q.working.unwrap_or(true))) }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tasks))
        .routes(routes!(counts))
        .routes(routes!(mark_read))
        .routes(routes!(instance))
        .routes(routes!(act))
        .routes(routes!(candidates))
        .routes(routes!(definitions))
        .routes(routes!(definition))
        .routes(routes!(calendar))
        .routes(routes!(add_days))
        .routes(routes!(set_day, clear_day))
}
