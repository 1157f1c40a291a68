//! The security administrator's pages (policy, IP allow-list, keys, second factor, integrity), the
//! audited unmasking of personal data, and every user's message list.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use tg_iam::keys::{KeyInfo, Purpose};
use tg_iam::mfa::MfaStatus;
use tg_iam::security::{IntegrityReport, Message, PolicySettings};
use tg_kernel::{Page, PageQuery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageParams {
    /// Only unread messages.
    pub unread: Option<bool>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeysView {
    /// `local-file` (development and the embedded default) or a cipher machine / KMS provider.
    pub provider: String,
    /// Key check value of the root key (never the key).
    pub root_kcv: String,
    pub keys: Vec<KeyInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotateResult {
    pub purpose: Purpose,
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmaskInput {
    /// Why the clear value is needed (4–200 characters); recorded in the audit trail.
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsInput {
    /// The account's clearance as a subject.
    pub clearance: tg_kernel::SecurityLabel,
    /// The account's own sensitivity as an object.
    pub label: tg_kernel::SecurityLabel,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnmaskedPhone {
    pub user_id: i64,
    pub phone: Option<String>,
}

fn no_store() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h
}

/// The password, lockout, session, inactivity, rate-limit and administrator IP policy in force.
#[utoipa::path(operation_id = "security_policy_get", get, path = "/api/v1/security/policy", tag = "security",
    responses((status = 200, body = PolicySettings), (status = 403, body = ErrorBody)))]
async fn policy_get(State(s): State<AppState>, _auth: Auth<perm::SecurityRead>) -> Json<PolicySettings> {
    Json(PolicySettings::from_policy(&s.iam.policy()))
}

/// Change the security policy (stored with an HMAC-SM3 MAC, audited with the changes).
#[utoipa::path(operation_id = "security_policy_put", put, path = "/api/v1/security/policy", tag = "security", request_body = PolicySettings,
    responses((status = 200, body = PolicySettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn policy_put(
    State(s): State<AppState>,
    auth: Auth<perm::SecurityWrite>,
    AppJson(input): AppJson<PolicySettings>,
) -> ApiResult<Json<PolicySettings>> {
    Ok(Json(s.iam.save_policy(&auth.ctx(), &input).await?))
}

/// Key versions of every purpose (check values only; keys never leave the server).
#[utoipa::path(operation_id = "security_keys", get, path = "/api/v1/security/keys", tag = "security",
    responses((status = 200, body = KeysView), (status = 403, body = ErrorBody)))]
async fn keys(State(s): State<AppState>, _auth: Auth<perm::SecurityRead>) -> impl IntoResponse {
    let k = s.iam.keys();
    (no_store(), Json(KeysView { provider: k.provider_kind().into(), root_kcv: k.root_kcv(), keys: k.list() }))
}

/// Rotate the keys of one purpose: new writes use the new version, old versions still decrypt.
#[utoipa::path(operation_id = "security_keys_rotate", post, path = "/api/v1/security/keys/{purpose}/rotate", tag = "security",
    params(("purpose" = String, Path, description = "fields, audit, acl, pepper or signing")),
    responses((status = 200, body = RotateResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn keys_rotate(
    State(s): State<AppState>,
    auth: Auth<perm::KeysRotate>,
    AppPath(purpose): AppPath<String>,
) -> ApiResult<Json<RotateResult>> {
    let p = Purpose::parse(&purpose).ok_or_else(|| crate::error::ApiError::not_found("keys.not_found", "密钥用途不存在"))?;
    let version = s.iam.rotate_keys(&auth.ctx(), p).await?;
    Ok(Json(RotateResult { purpose: p, version }))
}

/// Second-factor enrolment of the accounts in scope.
#[utoipa::path(operation_id = "security_mfa_list", get, path = "/api/v1/security/mfa", tag = "security", params(PageParams),
    responses((status = 200, body = Page<MfaStatus>), (status = 403, body = ErrorBody)))]
async fn mfa_list(
    State(s): State<AppState>,
    auth: Auth<perm::SecurityRead>,
    AppQuery(q): AppQuery<PageParams>,
) -> ApiResult<Json<Page<MfaStatus>>> {
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.iam.mfa_statuses(&auth.principal, &page).await?))
}

/// Remove a user's soft token (lost phone); they bind a new one at next sign-in.
#[utoipa::path(operation_id = "security_mfa_reset", post, path = "/api/v1/security/mfa/{id}/reset", tag = "security",
    params(("id" = i64, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mfa_reset(State(s): State<AppState>, auth: Auth<perm::MfaReset>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.iam.otp_reset(&auth.principal, &auth.ctx(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check the MACs of roles, grants, data scopes and settings, the encrypted fields, the audit chain
/// and its signed checkpoints. Problems raise an alert.
#[utoipa::path(operation_id = "security_integrity_verify", post, path = "/api/v1/security/integrity/verify", tag = "security",
    responses((status = 200, body = IntegrityReport), (status = 403, body = ErrorBody)))]
async fn integrity_verify(State(s): State<AppState>, auth: Auth<perm::IntegrityVerify>) -> ApiResult<Json<IntegrityReport>> {
    Ok(Json(s.iam.integrity_check_audited(&auth.ctx()).await?))
}

/// The clear phone number of a user in scope, with a stated reason (audited; requires `pii:unmask`).
#[utoipa::path(operation_id = "users_unmask_phone", post, path = "/api/v1/users/{id}/unmask", tag = "users", request_body = UnmaskInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = UnmaskedPhone), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unmask(
    State(s): State<AppState>,
    auth: Auth<perm::PiiUnmask>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<UnmaskInput>,
) -> ApiResult<impl IntoResponse> {
    let phone = s.iam.unmask_user_phone(&auth.principal, &auth.ctx(), id, &input.reason).await?;
    Ok((no_store(), Json(UnmaskedPhone { user_id: id, phone })))
}

/// Set an account's security labels (clearance and label), up to the caller's own clearance.
#[utoipa::path(operation_id = "users_security_labels", put, path = "/api/v1/users/{id}/security-labels", tag = "users",
    request_body = LabelsInput, params(("id" = i64, Path)),
    responses((status = 200, body = tg_iam::users::User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn security_labels(
    State(s): State<AppState>,
    auth: Auth<perm::SecurityWrite>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<LabelsInput>,
) -> ApiResult<Json<tg_iam::users::User>> {
    Ok(Json(s.iam.set_security_labels(&auth.principal, &auth.ctx(), id, input.clearance, input.label).await?))
}

/// The caller's messages (security alerts for administrators), newest first.
#[utoipa::path(operation_id = "messages_list", get, path = "/api/v1/messages", tag = "messages", params(MessageParams),
    responses((status = 200, body = Page<Message>), (status = 401, body = ErrorBody)))]
async fn messages(
    State(s): State<AppState>,
    auth: Auth<perm::SignedIn>,
    AppQuery(q): AppQuery<MessageParams>,
) -> ApiResult<Json<Page<Message>>> {
    let page = PageQuery { page: q.page, page_size: q.page_size };
    Ok(Json(s.iam.messages(auth.principal.user_id, q.unread.unwrap_or(false), &page).await?))
}

/// Mark one of the caller's messages as read.
#[utoipa::path(operation_id = "messages_read", post, path = "/api/v1/messages/{id}/read", tag = "messages",
    params(("id" = i64, Path)), responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn message_read(State(s): State<AppState>, auth: Auth<perm::SignedIn>, AppPath(id): AppPath<i64>) -> ApiResult<StatusCode> {
    s.iam.mark_message_read(auth.principal.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(policy_get, policy_put))
        .routes(routes!(keys))
        .routes(routes!(keys_rotate))
        .routes(routes!(mfa_list))
        .routes(routes!(mfa_reset))
        .routes(routes!(integrity_verify))
        .routes(routes!(unmask))
        .routes(routes!(security_labels))
        .routes(routes!(messages))
        .routes(routes!(message_read))
}
