//! Map layer import (GeoJSON, Excel/CSV with longitude and latitude columns) and export (GeoJSON,
//! Excel) of a layer or of a spatial query's result.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppJson, AppPath, AppQuery, Auth};
use crate::routes::import::read_table;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use rust_xlsxwriter::{Format, Workbook};
use serde::Deserialize;
use serde_json::{Map, Value};
use tg_iam::AuditEvent;
use tg_map::features::parse_crs;
use tg_map::features::ImportOptions;
use tg_map::{AttrDef, Feature, FeatureImportReport, FeatureInput, Layer, QueryRequest};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most features in one export.
const EXPORT_MAX: usize = 100_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Validate only (default true).
    pub dry_run: Option<bool>,
    /// Write the valid rows and report the others (default false: all or nothing).
    pub partial: Option<bool>,
    /// Coordinate system of the file: EPSG:4326 (default), EPSG:4490, GCJ02, BD09, EPSG:3857.
    pub crs: Option<String>,
    /// Longitude column of a table (default: 经度, lon, lng, longitude or x).
    pub lon_field: Option<String>,
    /// Latitude column of a table (default: 纬度, lat, latitude or y).
    pub lat_field: Option<String>,
    /// A client-chosen id (8–64 letters, digits or `-`) to poll the import's progress with.
    pub progress_id: Option<String>,
}

fn bad_file(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("import.bad_file", message)
}

/// A source value converted to the attribute's type; left as text when it does not convert, so
/// validation reports it on the row.
fn convert(def: &AttrDef, raw: &Value) -> Value {
    let text = match raw {
        Value::String(s) => s.trim().to_string(),
        Value::Null => return Value::Null,
        other => other.to_string(),
    };
    if text.is_empty() {
        return Value::Null;
    }
    match def.kind.as_str() {
        "number" => {
            text.parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)).unwrap_or(Value::String(text))
        }
        "integer" => text.parse::<i64>().map(Value::from).unwrap_or(Value::String(text)),
        "bool" => match text.as_str() {
            "是" | "true" | "TRUE" | "True" | "1" | "Y" | "y" => Value::Bool(true),
            "否" | "false" | "FALSE" | "False" | "0" | "N" | "n" => Value::Bool(false),
            _ => Value::String(text),
        },
        "date" => Value::String(excel_date(&text).unwrap_or(text)),
        _ => match raw {
            Value::String(_) => Value::String(text),
            other => Value::String(other.to_string()),
        },
    }
}

/// Dates from Excel arrive as serial numbers (days since 1899-12-30) or as text like 2026/3/5.
fn excel_date(text: &str) -> Option<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(serial) = text.parse::<f64>() {
        if (1.0..200_000.0).contains(&serial) {
            let base = time::Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
            return base.checked_add(time::Duration::days(serial.floor() as i64))?.format(&fmt).ok();
        }
    }
    let parts: Vec<&str> = text.split(['/', '-', '.']).collect();
    if parts.len() == 3 {
        let (y, m, d) = (parts[0].parse::<i32>().ok()?, parts[1].parse::<u8>().ok()?, parts[2].parse::<u8>().ok()?);
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
        return date.format(&fmt).ok();
    }
    None
}

fn attr_for<'a>(layer: &'a Layer, key: &str) -> Option<&'a AttrDef> {
    let k = key.trim();
    layer.attr_schema.iter().find(|a| a.name == k || a.label == k)
}

const NAME_KEYS: [&str; 2] = ["name", "名称"];
const REGION_KEYS: [&str; 2] = ["region_code", "区划代码"];

/// Splits source properties into the feature's name, region and attributes.
fn split_props(
    layer: &Layer,
    props: &Map<String, Value>,
    ignored: &mut std::collections::BTreeSet<String>,
) -> (String, Option<String>, Map<String, Value>) {
    let mut name = String::new();
    let mut region = None;
    let mut attrs = Map::new();
    for (k, v) in props {
        if NAME_KEYS.contains(&k.as_str()) {
            name = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        } else if REGION_KEYS.contains(&k.as_str()) {
            region = v.as_str().map(str::to_string).filter(|s| !s.trim().is_empty());
        } else if let Some(def) = attr_for(layer, k) {
            let val = convert(def, v);
            if !val.is_null() {
                attrs.insert(def.name.clone(), val);
            }
        } else {
            ignored.insert(k.clone());
        }
    }
    (name, region, attrs)
}

/// Numbered rows of a file and the source fields that are not attributes of the layer.
type Rows = (Vec<(usize, FeatureInput)>, Vec<String>);

fn geojson_rows(layer: &Layer, text: &str, crs: Option<String>) -> ApiResult<Rows> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad_file(format!("GeoJSON 格式错误：{e}")))?;
    let features: Vec<Value> = match v.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {
            v.get("features").and_then(Value::as_array).cloned().ok_or_else(|| bad_file("FeatureCollection 缺少 features"))?
        }
        Some("Feature") => vec![v],
        _ => return Err(bad_file("须为 GeoJSON FeatureCollection 或 Feature")),
    };
    // RFC 7946 dropped the `crs` member; the `crs` parameter of the request decides.
    let mut ignored = std::collections::BTreeSet::new();
    let mut rows = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let props = f.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let (name, region_code, properties) = split_props(layer, &props, &mut ignored);
        rows.push((
            i + 1,
            FeatureInput {
                name,
                properties,
                geometry: f.get("geometry").cloned().unwrap_or(Value::Null),
                crs: crs.clone(),
                region_code,
                version: None,
            },
        ));
    }
    Ok((rows, ignored.into_iter().collect()))
}

fn shapefile_rows(layer: &Layer, bytes: &[u8], crs: Option<String>) -> ApiResult<Rows> {
    let shp = tg_map::shapefile::read_zip(bytes).map_err(|e| bad_file(e.0))?;
    // The .prj decides; without one, the `crs` parameter (default WGS-84).
    let crs = shp.crs.map(|c| c.code().to_string()).or(crs);
    let mut ignored = std::collections::BTreeSet::new();
    let rows = shp
        .features
        .iter()
        .enumerate()
        .map(|(i, (geometry, props))| {
            let (name, region_code, properties) = split_props(layer, props, &mut ignored);
            (i + 1, FeatureInput { name, properties, geometry: geometry.clone(), crs: crs.clone(), region_code, version: None })
        })
        .collect();
    Ok((rows, ignored.into_iter().collect()))
}

fn table_rows(layer: &Layer, table: Vec<Vec<String>>, q: &ImportQuery) -> ApiResult<Rows> {
    let mut it = table.into_iter();
    let header: Vec<String> = it.next().ok_or_else(|| bad_file("文件为空"))?.into_iter().map(|h| h.trim().to_string()).collect();
    let find = |given: &Option<String>, defaults: &[&str]| -> Option<usize> {
        match given.as_deref().filter(|s| !s.is_empty()) {
            Some(g) => header.iter().position(|h| h == g),
            None => header.iter().position(|h| defaults.iter().any(|d| h.eq_ignore_ascii_case(d))),
        }
    };
    let lon = find(&q.lon_field, &["经度", "lon", "lng", "longitude", "x"])
        .ok_or_else(|| bad_file("找不到经度列（经度/lon/lng/longitude/x），可用 lon_field 指定"))?;
    let lat = find(&q.lat_field, &["纬度", "lat", "latitude", "y"])
        .ok_or_else(|| bad_file("找不到纬度列（纬度/lat/latitude/y），可用 lat_field 指定"))?;
    let mut ignored = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    for (n, r) in it.enumerate() {
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |i: usize| r.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
        let mut props = Map::new();
        for (i, h) in header.iter().enumerate() {
            if i != lon && i != lat && !h.is_empty() {
                props.insert(h.clone(), Value::String(cell(i)));
            }
        }
        let (name, region_code, properties) = split_props(layer, &props, &mut ignored);
        let (x, y) = (cell(lon), cell(lat));
        // Unparsable numbers stay text, and validation reports the row's coordinates.
        let num = |s: &str| {
            s.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::String(s.to_string()))
        };
        let geometry = serde_json::json!({"type": "Point", "coordinates": [num(&x), num(&y)]});
        rows.push((n + 2, FeatureInput { name, properties, geometry, crs: q.crs.clone(), region_code, version: None }));
    }
    Ok((rows, ignored.into_iter().collect()))
}

/// Import features from GeoJSON, a zipped Shapefile (.shp + .dbf, its .prj and .cpg honoured),
/// Excel (.xlsx) or UTF-8 CSV (with longitude/latitude columns):
/// every row is validated first; `dry_run=false` writes all rows in one transaction, or none
/// when any row is wrong — unless `partial=true`, which writes the valid rows.
#[utoipa::path(post, operation_id = "map_import", path = "/api/v1/map/layers/{id}/import", tag = "map", params(("id" = i64, Path), ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "GeoJSON, zipped Shapefile, .xlsx or UTF-8 CSV"),
    responses((status = 200, body = FeatureImportReport), (status = 400, body = ErrorBody), (status = 422, body = FeatureImportReport)))]
async fn import(
    State(s): State<AppState>,
    auth: Auth<perm::MapWrite>,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let layer = s.map.layer(&auth.principal, id).await?;
    parse_crs(q.crs.as_deref())?;
    if q.progress_id.as_deref().is_some_and(|p| !(8..=64).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(ApiError::bad_request("map.invalid_progress_id", "progress_id 须为 8-64 位字母、数字或“-”"));
    }
    let trimmed = body.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &body[i..]).unwrap_or(&[]);
    let (rows, ignored) = if tg_map::shapefile::is_shapefile_zip(&body) {
        shapefile_rows(&layer, &body, q.crs.clone())?
    } else if trimmed.starts_with(b"{") || trimmed.starts_with(b"\xef\xbb\xbf{") {
        let text = std::str::from_utf8(trimmed).map_err(|_| bad_file("GeoJSON 须为 UTF-8 编码"))?.trim_start_matches('\u{feff}');
        geojson_rows(&layer, text, q.crs.clone())?
    } else {
        if layer.geometry_type != "point" {
            return Err(bad_file("表格文件只能导入点图层（经纬度列）；线、面请使用 GeoJSON"));
        }
        table_rows(&layer, read_table(&body)?, &q)?
    };
    if rows.is_empty() {
        return Err(bad_file("文件中没有要素"));
    }
    let report = s
        .map
        .import_features(
            &auth.principal,
            &auth.ctx(),
            layer.id,
            rows,
            ImportOptions {
                dry_run: q.dry_run.unwrap_or(true),
                partial: q.partial.unwrap_or(false),
                ignored_fields: ignored,
                progress_id: q.progress_id.clone(),
            },
        )
        .await?;
    let status = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `geojson` (default) or `xlsx`.
    pub format: Option<String>,
    /// Coordinate system of the exported geometry (default EPSG:4326).
    pub crs: Option<String>,
    /// Export only what this spatial query matches; the whole layer in scope when absent.
    pub query: Option<QueryRequest>,
}

/// Export a layer, or the result of a spatial query, as GeoJSON or Excel (audited).
#[utoipa::path(post, operation_id = "map_export", path = "/api/v1/map/layers/{id}/export", tag = "map", params(("id" = i64, Path)), request_body = ExportRequest,
    responses((status = 200, description = "GeoJSON or Excel file"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export(
    State(s): State<AppState>,
    auth: Auth<perm::MapRead>,
    AppPath(id): AppPath<i64>,
    AppJson(req): AppJson<ExportRequest>,
) -> ApiResult<impl IntoResponse> {
    let format = req.format.as_deref().unwrap_or("geojson");
    if !["geojson", "xlsx"].contains(&format) {
        return Err(ApiError::bad_request("map.invalid_format", "format 须为 geojson 或 xlsx"));
    }
    let crs = parse_crs(req.crs.as_deref())?;
    let (layer, features) = match &req.query {
        Some(q) => {
            let mut q = q.clone();
            q.crs = Some(crs.code().to_string());
            s.map.query_all(&auth.principal, id, &q, EXPORT_MAX).await?
        }
        None => s.map.export_features(&auth.principal, id, crs, EXPORT_MAX as i64).await?,
    };
    s.iam
        .audit_alone(
            &auth.ctx(),
            AuditEvent::success("map.export", format!("{} 导出 {} 条", layer.name, features.len())).with_detail(format!(
                "格式 {format}，坐标系 {}{}",
                crs.code(),
                if req.query.is_some() { "，空间查询结果" } else { "" }
            )),
        )
        .await?;
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == "geojson" {
        let fc = serde_json::json!({
            "type": "FeatureCollection",
            "name": layer.code,
            "features": features.iter().map(tg_map::ogc::geojson_feature).collect::<Vec<_>>(),
        });
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"export.geojson\""));
        return Ok((h, fc.to_string().into_bytes()));
    }
    let bytes = tokio::task::spawn_blocking(move || workbook(&layer, &features)).await.map_err(|_| ApiError::internal())??;
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"export.xlsx\""));
    Ok((h, bytes))
}

fn workbook(layer: &Layer, features: &[Feature]) -> ApiResult<Vec<u8>> {
    let fail = |e: rust_xlsxwriter::XlsxError| {
        tracing::error!(error = %e, "xlsx");
        ApiError::internal()
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("要素").map_err(fail)?;
    let bold = Format::new().set_bold();
    let mut headers: Vec<String> = vec!["编号".into(), "名称".into(), "区划代码".into(), "所属区划".into(), "经度".into(), "纬度".into()];
    headers.extend(layer.attr_schema.iter().map(|a| a.label.clone()));
    headers.push("几何(GeoJSON)".into());
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold).map_err(fail)?;
    }
    for (i, f) in features.iter().enumerate() {
        let r = (i + 1) as u32;
        ws.write_number(r, 0, f.id as f64).map_err(fail)?;
        ws.write_string(r, 1, &f.name).map_err(fail)?;
        ws.write_string(r, 2, &f.region_code).map_err(fail)?;
        ws.write_string(r, 3, &f.region_name).map_err(fail)?;
        if f.geometry["type"] == "Point" {
            if let (Some(x), Some(y)) = (f.geometry["coordinates"][0].as_f64(), f.geometry["coordinates"][1].as_f64()) {
                ws.write_number(r, 4, x).map_err(fail)?;
                ws.write_number(r, 5, y).map_err(fail)?;
            }
        }
        for (k, a) in layer.attr_schema.iter().enumerate() {
            let col = (6 + k) as u16;
            match f.properties.get(&a.name) {
                Some(Value::Number(n)) => {
                    ws.write_number(r, col, n.as_f64().unwrap_or_default()).map_err(fail)?;
                }
                Some(Value::Bool(b)) => {
                    ws.write_string(r, col, if *b { "是" } else { "否" }).map_err(fail)?;
                }
                Some(Value::String(s)) => {
                    ws.write_string(r, col, s).map_err(fail)?;
                }
                Some(Value::Null) | None => {}
                Some(other) => {
                    ws.write_string(r, col, other.to_string()).map_err(fail)?;
                }
            }
        }
        let g = f.geometry.to_string();
        ws.write_string(r, (6 + layer.attr_schema.len()) as u16, if g.len() > 32_000 { "（几何过长，请导出 GeoJSON）" } else { &g })
            .map_err(fail)?;
    }
    wb.save_to_buffer().map_err(fail)
}

/// The progress of one of the caller's imports, while it runs and for ten minutes after.
#[utoipa::path(operation_id = "map_import_progress", get, path = "/api/v1/map/import-progress/{id}", tag = "map", params(("id" = String, Path)),
    responses((status = 200, body = tg_map::ImportProgress), (status = 404, body = ErrorBody)))]
async fn import_progress(
    State(s): State<AppState>,
    auth: Auth<perm::MapWrite>,
    AppPath(id): AppPath<String>,
) -> ApiResult<Json<tg_map::ImportProgress>> {
    s.map
        .progress(auth.principal.user_id, &id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("map.progress_not_found", "没有该导入任务的进度"))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import)).routes(routes!(export)).routes(routes!(import_progress))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_dates_and_conversions() {
        assert_eq!(excel_date("46000").as_deref(), Some("2025-12-09"));
        assert_eq!(excel_date("2026/3/5").as_deref(), Some("2026-03-05"));
        assert_eq!(excel_date("明天"), None);
        let def = |kind: &str| AttrDef { name: "a".into(), label: "A".into(), kind: kind.into(), required: false };
        assert_eq!(convert(&def("integer"), &Value::String(" 12 ".into())), Value::from(12));
        assert_eq!(convert(&def("integer"), &Value::String("十二".into())), Value::String("十二".into()));
        assert_eq!(convert(&def("bool"), &Value::String("是".into())), Value::Bool(true));
        assert_eq!(convert(&def("number"), &Value::String("".into())), Value::Null);
        assert_eq!(convert(&def("text"), &Value::from(5)), Value::String("5".into()));
    }
}
