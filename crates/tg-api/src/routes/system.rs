//! Public system facts for the login page.

use crate::error::ApiResult;
use crate::state::{AppState, SystemInfo};
use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// System name, city and whether this is a demo installation.
#[utoipa::path(operation_id = "system_info", get, path = "/api/v1/system/info", tag = "system", responses((status = 200, body = SystemInfo)))]
async fn info(State(state): State<AppState>) -> ApiResult<Json<SystemInfo>> {
    let mut info = (*state.info).clone();
    info.demo = state.iam.demo_accounts_active().await? > 0;
    Ok(Json(info))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(info))
}
