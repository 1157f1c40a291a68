//! OGC API – Features (Part 1: Core, GeoJSON) at `/ogc`, so GIS clients such as QGIS and GDAL can
//! read map layers. Collections are the layers the caller may see (by id or code); items are
//! scoped like every other read. Authentication is the same bearer token or session.

use std::collections::HashMap;

use crate::error::{ApiError, ApiResult};
use crate::extract::{perm, AppPath, AppQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tg_kernel::PageQuery;
use tg_map::ogc::{geojson_feature, MAX_LIMIT};
use tg_map::Layer;
use tg_spatial::geo_types::{Coord, Rect};

const CONF_CORE: &str = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core";
const CONF_GEOJSON: &str = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

fn base(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let proto = if state.config.trust_forwarded_for {
        headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http")
    } else if state.config.require_https {
        "https"
    } else {
        "http"
    };
    let host: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']')).collect();
    format!("{proto}://{host}/ogc")
}

fn geojson(v: Value) -> impl IntoResponse {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    (h, Json(v))
}

async fn landing(State(s): State<AppState>, _auth: Auth<perm::MapRead>, headers: HeaderMap) -> Json<Value> {
    let b = base(&s, &headers);
    Json(json!({
        "title": format!("{} 全域智图要素服务", s.info.city_name),
        "description": "OGC API – Features: 图层要素（按用户的数据范围提供）",
        "links": [
            {"href": b, "rel": "self", "type": "application/json", "title": "本页"},
            {"href": format!("{b}/conformance"), "rel": "conformance", "type": "application/json", "title": "符合的标准"},
            {"href": format!("{b}/collections"), "rel": "data", "type": "application/json", "title": "图层集合"}
        ]
    }))
}

async fn conformance(_auth: Auth<perm::MapRead>) -> Json<Value> {
    Json(json!({"conformsTo": [CONF_CORE, CONF_GEOJSON]}))
}

async fn describe(s: &AppState, auth: &Auth<perm::MapRead>, b: &str, layer: &Layer) -> ApiResult<Value> {
    let extent = s.map.extent(&auth.principal, layer).await?;
    let mut c = json!({
        "id": layer.code,
        "title": layer.name,
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            {"href": format!("{b}/collections/{}", layer.code), "rel": "self", "type": "application/json"},
            {"href": format!("{b}/collections/{}/items", layer.code), "rel": "items", "type": "application/geo+json"}
        ]
    });
    if let Some(e) = extent {
        c["extent"] = json!({"spatial": {"bbox": [e], "crs": CRS84}});
    }
    Ok(c)
}

async fn collections(State(s): State<AppState>, auth: Auth<perm::MapRead>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let b = base(&s, &headers);
    let mut out = Vec::new();
    for page in 1.. {
        let p = s.map.list_layers(&auth.principal, None, &PageQuery { page: Some(page), page_size: Some(100) }).await?;
        let n = p.items.len();
        for l in &p.items {
            out.push(describe(&s, &auth, &b, l).await?);
        }
        if n < 100 {
            break;
        }
    }
    Ok(Json(json!({
        "links": [{"href": format!("{b}/collections"), "rel": "self", "type": "application/json"}],
        "collections": out
    })))
}

async fn collection(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
) -> ApiResult<Json<Value>> {
    let b = base(&s, &headers);
    let layer = s.map.collection(&auth.principal, &id).await?;
    Ok(Json(describe(&s, &auth, &b, &layer).await?))
}

fn bad(msg: &str) -> ApiError {
    ApiError::bad_request("ogc.invalid_parameter", msg)
}

async fn items(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<HashMap<String, String>>,
) -> ApiResult<impl IntoResponse> {
    let b = base(&s, &headers);
    let layer = s.map.collection(&auth.principal, &id).await?;
    let limit = match q.get("limit") {
        None => 10,
        Some(v) => v.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| bad("limit 须为 1 至 10000 的整数"))?,
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| bad("offset 须为非负整数"))?,
    };
    let bbox = match q.get("bbox") {
        None => None,
        Some(v) => {
            let n: Vec<f64> =
                v.split(',').map(|x| x.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| bad("bbox 须为 4 个数字"))?;
            if n.len() != 4 || n.iter().any(|x| !x.is_finite()) || n[0] > n[2] || n[1] > n[3] {
                return Err(bad("bbox 须为 最小经度,最小纬度,最大经度,最大纬度"));
            }
            Some(Rect::new(Coord { x: n[0], y: n[1] }, Coord { x: n[2], y: n[3] }))
        }
    };
    if q.get("bbox-crs").is_some_and(|c| c != CRS84) || q.get("crs").is_some_and(|c| c != CRS84) {
        return Err(bad("仅支持 CRS84 坐标系"));
    }
    let props: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "offset" | "bbox" | "bbox-crs" | "crs" | "f"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let found = s.map.items(&auth.principal, &layer, bbox, &props, limit, offset).await?;
    let returned = found.features.len() as i64;
    let mut keep: Vec<(String, String)> =
        q.iter().filter(|(k, _)| !matches!(k.as_str(), "limit" | "offset")).map(|(k, v)| (k.clone(), v.clone())).collect();
    keep.sort();
    let qs = |off: i64| {
        let mut parts: Vec<String> = keep.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        parts.push(format!("limit={limit}"));
        parts.push(format!("offset={off}"));
        parts.join("&")
    };
    let items_url = format!("{b}/collections/{}/items", layer.code);
    let mut links = vec![json!({"href": format!("{items_url}?{}", qs(offset)), "rel": "self", "type": "application/geo+json"})];
    if offset + returned < found.matched {
        links.push(json!({"href": format!("{items_url}?{}", qs(offset + returned)), "rel": "next", "type": "application/geo+json"}));
    }
    if offset > 0 {
        links.push(json!({"href": format!("{items_url}?{}", qs((offset - limit).max(0))), "rel": "prev", "type": "application/geo+json"}));
    }
    Ok(geojson(json!({
        "type": "FeatureCollection",
        "features": found.features.iter().map(geojson_feature).collect::<Vec<_>>(),
        "numberMatched": found.matched,
        "numberReturned": returned,
        "links": links
    })))
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn item(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath((id, fid)): AppPath<(String, i64)>,
) -> ApiResult<impl IntoResponse> {
    let layer = s.map.collection(&auth.principal, &id).await?;
    let f = s.map.feature(&auth.principal, layer.id, fid, tg_spatial::Crs::Wgs84).await?;
    Ok(geojson(geojson_feature(&f)))
}

async fn not_found() -> ApiError {
    ApiError::not_found("ogc.not_found", "资源不存在")
}

/// The OGC API router (not part of the Tongguan OpenAPI document: OGC clients discover it from
/// the landing page and the conformance classes).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ogc", get(landing))
        .route("/ogc/conformance", get(conformance))
        .route("/ogc/collections", get(collections))
        .route("/ogc/collections/{id}", get(collection))
        .route("/ogc/collections/{id}/items", get(items))
        .route("/ogc/collections/{id}/items/{fid}", get(item))
        .route("/ogc/{*rest}", get(not_found))
}
