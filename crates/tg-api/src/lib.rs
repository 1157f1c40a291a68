//! Tongguan HTTP API. The only crate that knows HTTP.
//!
//! [`build`] assembles the JSON API under `/api/v1` from one `router()` per context, generates the
//! OpenAPI 3.1 document from the handlers, and wraps everything in the cross-cutting layers: request
//! ids, structured request logs, timeouts, body limits, metrics, security headers and the audit of
//! every permission denial.

pub mod error;
pub mod extract;
pub mod routes;
pub mod state;

pub use error::{ApiError, ApiResult, ErrorBody};
pub use state::{ApiConfig, AppState, SystemInfo};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use error::Denied;
use extract::{ActorSlot, Meta};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tg_iam::{AuditCtx, AuditEvent};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tongguan 统管 API", description = "云浮市一网统管市域治理平台 HTTP API. Conventions: docs/api.md."),
    modifiers(&Security),
    tags(
        (name = "auth", description = "登录与会话"), (name = "system", description = "系统信息"),
        (name = "regions", description = "行政区划"), (name = "departments", description = "部门"),
        (name = "users", description = "用户与授权"), (name = "roles", description = "角色与权限"),
        (name = "audit", description = "安全审计"), (name = "security", description = "安全管理"),
        (name = "messages", description = "消息"),
        (name = "wf", description = "流程中心：待办、流程定义、工作日历"), (name = "inv", description = "招商引资项目管理"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        c.add_security_scheme("cookie", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(extract::SESSION_COOKIE))));
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::system::router())
        .merge(routes::auth::router())
        .merge(routes::regions::router())
        .merge(routes::departments::router())
        .merge(routes::users::router())
        .merge(routes::import::router())
        .merge(routes::roles::router())
        .merge(routes::audit::router())
        .merge(routes::security::router())
        .merge(routes::map::router())
        .merge(routes::ind::router())
        .merge(routes::wf::router())
        .merge(routes::inv::router())
        .merge(routes::map_io::router())
}

/// The OpenAPI document generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// Routes that need no session. Everything else must require one; a test enforces it.
pub const PUBLIC_ROUTES: &[(&str, &str)] =
    &[("GET", "/api/v1/system/info"), ("GET", "/api/v1/auth/challenge"), ("POST", "/api/v1/auth/login")];

#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        let id = hex::encode(rand::random::<[u8; 8]>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    resp
}

/// Records every 403 in the audit trail, with the actor when the request had a valid session.
async fn audit_denials(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = ActorSlot::default();
    req.extensions_mut().insert(slot.clone());
    let target = format!("{} {}", req.method(), req.uri().path());
    let (parts, body) = req.into_parts();
    let meta = Meta::from_parts(&parts, state.config.trust_forwarded_for);
    let resp = next.run(Request::from_parts(parts, body)).await;
    if let Some(Denied(code)) = resp.extensions().get::<Denied>() {
        let ctx = slot.0.lock().ok().and_then(|g| g.clone()).unwrap_or_else(|| AuditCtx::anonymous(&meta.ip, &meta.request_id));
        if let Err(e) = state.iam.audit_alone(&ctx, AuditEvent::denied("access.denied", target, code.clone())).await {
            // A denial that cannot be recorded is still a denial; the failure is logged loudly.
            tracing::error!(error = %e, "failed to audit a denial");
        }
    }
    resp
}

/// 等保 §8.1.4.1 c: with `server.require_https`, credentials and data travel over TLS only.
async fn require_https(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.config.require_https {
        let https = req.headers().get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"));
        let health = matches!(req.uri().path(), "/healthz" | "/readyz");
        if !https && !health {
            return ApiError::forbidden("transport.https_required", "请通过 HTTPS 访问本系统").into_response();
        }
    }
    next.run(req).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.iam.db().ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match prometheus() {
        Some(h) => {
            // Group commit (tg-db keeps its own counters): the mean group is members / groups.
            let g = state.iam.db().group_stats();
            let text = format!(
                "{}# HELP tongguan_db_group_commits_total Group commits run.\n# TYPE tongguan_db_group_commits_total counter\n\
                 tongguan_db_group_commits_total {}\n# HELP tongguan_db_group_members_total Transactions committed in groups.\n\
                 # TYPE tongguan_db_group_members_total counter\ntongguan_db_group_members_total {}\n\
                 # HELP tongguan_db_group_failed_total Groups that failed before their commit (their members then ran alone).\n\
                 # TYPE tongguan_db_group_failed_total counter\ntongguan_db_group_failed_total {}\n",
                h.render(),
                g.groups,
                g.members,
                g.failed
            );
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable").into_response(),
    }
}

/// Unknown paths under `/api` answer in the API's error shape.
pub async fn api_not_found() -> ApiError {
    ApiError::not_found("route.not_found", "接口不存在")
}

/// Content Security Policy of the web app: same-origin scripts only; inline styles are needed by
/// Element Plus and Vant; map workers run from blobs.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; \
frame-ancestors 'none'";

/// Whether `o` is a bare web origin (`http(s)://host[:port]`), safe to put into the CSP.
pub fn valid_origin(o: &str) -> bool {
    let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && r.len() <= 253 && r.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'*'))
    })
}

/// The CSP with external base-map origins allowed for images (raster tiles) and connections
/// (vector tiles, capabilities documents). Invalid origins are left out.
pub fn csp_with(basemap_origins: &[String]) -> String {
    let extra: Vec<&str> = basemap_origins.iter().map(String::as_str).filter(|o| valid_origin(o)).collect();
    if extra.is_empty() {
        return CSP.to_string();
    }
    let list = extra.join(" ");
    CSP.replace("img-src 'self' data: blob:;", &format!("img-src 'self' data: blob: {list};"))
        .replace("connect-src 'self';", &format!("connect-src 'self' {list};"))
}

/// The security headers of every response, API and web app alike (等保 / OWASP ASVS V3.4).
pub fn security_headers(router: Router) -> Router {
    security_headers_with(router, &[])
}

/// [`security_headers`] with external base-map origins in the CSP.
pub fn security_headers_with(router: Router, basemap_origins: &[String]) -> Router {
    let csp = HeaderValue::from_str(&csp_with(basemap_origins)).unwrap_or(HeaderValue::from_static(CSP));
    router
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("geolocation=(self), camera=(self), microphone=()"),
        ))
}

/// The complete HTTP application (without the web front end, which the binary adds as fallback).
pub fn build(state: AppState) -> Router {
    let _ = prometheus();
    let (api, doc) = api_router().split_for_parts();
    let doc_json = Arc::new(doc.to_pretty_json().unwrap_or_default());
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let body_limit = state.config.body_limit_bytes;
    let request_id = HeaderName::from_static("x-request-id");
    api.route(
        "/api/openapi.json",
        get(move || {
            let d = doc_json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], (*d).clone()) }
        }),
    )
    .route("/api/docs", get(|| async { Redirect::temporary("/api-docs") }))
    .route("/healthz", get(healthz))
    .route("/readyz", get(readyz))
    .route("/metrics", get(metrics_text))
    .merge(routes::ogc::router())
    .route("/api/{*rest}", get(api_not_found).post(api_not_found).put(api_not_found).patch(api_not_found).delete(api_not_found))
    .layer(middleware::from_fn_with_state(state.clone(), audit_denials))
    .layer(middleware::from_fn_with_state(state.clone(), require_https))
    .layer(middleware::from_fn(track_metrics))
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
    .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let rid = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %rid)
    }))
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(SetRequestIdLayer::new(request_id, RandomRequestId))
    .with_state(state)
}

#[cfg(test)]
mod csp_tests {
    use super::*;

    #[test]
    fn basemap_origins_extend_images_and_connections_only() {
        assert_eq!(csp_with(&[]), CSP);
        let c = csp_with(&["https://t0.tianditu.gov.cn".into(), "javascript:alert(1)".into(), "https://x.example; script-src *".into()]);
        assert!(c.contains("img-src 'self' data: blob: https://t0.tianditu.gov.cn;"), "{c}");
        assert!(c.contains("connect-src 'self' https://t0.tianditu.gov.cn;"), "{c}");
        assert!(c.contains("script-src 'self';") && !c.contains("alert") && !c.contains("x.example"), "{c}");
        assert!(valid_origin("http://10.1.2.3:8080"));
        assert!(!valid_origin("https://a.b/path"));
    }
}
