//! Shared state of every handler.

use serde::Serialize;
use std::sync::Arc;
use tg_iam::Iam;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemInfo {
    pub name: String,
    pub city_code: String,
    pub city_name: String,
    pub version: String,
    /// True while demo accounts exist: the UI shows a 演示环境 notice.
    pub demo: bool,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Adds `Secure` to the session cookie (set when served over HTTPS).
    pub cookie_secure: bool,
    /// Refuse requests without `X-Forwarded-Proto: https` (production behind the TLS gateway).
    pub require_https: bool,
    /// Trust the first address of `X-Forwarded-For` (only behind a reverse proxy).
    pub trust_forwarded_for: bool,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// Maximum rows in one audit export.
    pub export_max_rows: i64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            cookie_secure: false,
            require_https: false,
            trust_forwarded_for: false,
            body_limit_bytes: 1 << 20,
            request_timeout_secs: 30,
            export_max_rows: 100_000,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub iam: Iam,
    pub map: tg_map::MapService,
    pub ind: tg_indicators::IndService,
    pub wf: tg_workflow::WfService,
    pub inv: tg_invest::InvService,
    pub config: Arc<ApiConfig>,
    pub info: Arc<SystemInfo>,
}
