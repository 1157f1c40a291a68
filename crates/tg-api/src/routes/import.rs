//! Bulk account import from Excel (.xlsx) or UTF-8 CSV, and its template.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{perm, AppQuery, Auth};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook};
use serde::Deserialize;
use tg_iam::import::{ImportReport, ImportRow};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Template columns: header text, and whether it is required.
const COLUMNS: [(&str, bool); 5] = [("用户名", true), ("姓名", true), ("手机号", false), ("区划代码", true), ("部门编码", false)];

fn bad_file(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("import.bad_file", message)
}

/// Reads the table of cells (header first) from an .xlsx workbook or a UTF-8 CSV file.
pub(crate) fn read_table(bytes: &[u8]) -> ApiResult<Vec<Vec<String>>> {
    if bytes.starts_with(b"PK") {
        let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
            .map_err(|_| bad_file("无法读取 Excel 文件，请使用系统提供的模板（.xlsx）"))?;
        let range =
            wb.worksheet_range_at(0).ok_or_else(|| bad_file("Excel 文件中没有工作表"))?.map_err(|_| bad_file("无法读取第一个工作表"))?;
        return Ok(range
            .rows()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad_file("CSV 文件须为 UTF-8 编码；也可直接上传 Excel(.xlsx) 文件"))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    let bytes = text.as_bytes();
    while rdr.read_record(&mut rec).map_err(|e| bad_file(format!("CSV 格式错误：{e}")))? {
        // The reader skips empty lines and reports the position before them; count them so row
        // numbers match the lines of the file.
        let (byte, line) = rec.position().map(|p| (p.byte() as usize, p.line() as usize)).unwrap_or((0, out.len() + 1));
        let blank = bytes.get(byte..).unwrap_or(&[]).iter().take_while(|b| matches!(b, b'\n' | b'\r')).filter(|b| **b == b'\n').count();
        while out.len() + 1 < line + blank {
            out.push(Vec::new());
        }
        out.push(rec.iter().map(str::to_owned).collect());
    }
    Ok(out)
}

fn rows_of(table: Vec<Vec<String>>) -> ApiResult<Vec<ImportRow>> {
    let mut it = table.into_iter();
    let header = it.next().ok_or_else(|| bad_file("文件为空"))?;
    let pos = |name: &str| header.iter().position(|h| h.trim() == name);
    let mut idx = Vec::new();
    for (name, required) in COLUMNS {
        let p = pos(name);
        if required && p.is_none() {
            return Err(bad_file(format!("缺少“{name}”列，请使用系统提供的模板")));
        }
        idx.push(p);
    }
    let cell = |r: &Vec<String>, i: Option<usize>| i.and_then(|i| r.get(i)).map(|s| s.trim().to_owned()).unwrap_or_default();
    Ok(it
        .enumerate()
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
        .map(|(n, r)| ImportRow {
            row: n + 2,
            username: cell(&r, idx[0]),
            display_name: cell(&r, idx[1]),
            phone: cell(&r, idx[2]),
            region_code: cell(&r, idx[3]),
            department_code: cell(&r, idx[4]),
        })
        .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Validate only (default true); `false` creates the accounts when every row is valid.
    pub dry_run: Option<bool>,
}

/// Import accounts from an Excel (.xlsx) or UTF-8 CSV file: every row is checked first; with
/// `dry_run=false` all accounts are created in one transaction, or none when any row is wrong.
#[utoipa::path(post, operation_id = "import_users", path = "/api/v1/users/import", tag = "users", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = ".xlsx or UTF-8 CSV with the template's columns"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ImportReport)))]
async fn import_users(
    State(s): State<AppState>,
    auth: Auth<perm::UserCreate>,
    AppQuery(q): AppQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let rows = rows_of(read_table(&body)?)?;
    let dry_run = q.dry_run.unwrap_or(true);
    let report = s.iam.import_users(&auth.principal, &auth.ctx(), &rows, dry_run).await?;
    let status = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((status, h, Json(report)))
}

/// The Excel template for account import.
#[utoipa::path(get, operation_id = "import_template", path = "/api/v1/users/import-template", tag = "users",
    responses((status = 200, description = "Excel workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 403, body = ErrorBody)))]
async fn import_template(_auth: Auth<perm::UserCreate>) -> ApiResult<impl IntoResponse> {
    let fail = |e: rust_xlsxwriter::XlsxError| {
        tracing::error!(error = %e, "xlsx");
        ApiError::internal()
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("用户导入").map_err(fail)?;
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    for (c, (name, _)) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, &bold).map_err(fail)?;
        ws.set_column_format(c as u16, &text).map_err(fail)?;
        ws.set_column_width(c as u16, 18).map_err(fail)?;
    }
    for (c, v) in ["zhang.san", "张三", "13800000000", "445302001", "445302001-ZZZX"].iter().enumerate() {
        ws.write_string(1, c as u16, *v).map_err(fail)?;
    }
    ws.write_string(
        3,
        0,
        "说明：用户名、姓名、区划代码必填；区划代码为行政区划代码（如 445302 云城区），部门编码见“部门管理”。示例行请删除。",
    )
    .map_err(fail)?;
    let bytes = wb.save_to_buffer().map_err(fail)?;
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"user-import-template.xlsx\""));
    Ok((h, bytes))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_users)).routes(routes!(import_template))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_and_reordered_columns() {
        let csv = "\u{feff}姓名,用户名,区划代码\n王五,wang.wu,445302\n,,\n李四,li.si,445303\n\n\n\"赵\n六\",zhao.liu,445303\n孙七,sun.qi,445303\n";
        let rows = rows_of(read_table(csv.as_bytes()).unwrap()).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!((rows[0].row, rows[0].username.as_str(), rows[0].display_name.as_str()), (2, "wang.wu", "王五"));
        assert_eq!(rows[1].row, 4, "blank lines keep the numbering of the file");
        assert_eq!(rows[2].row, 7, "empty lines too");
        assert_eq!(rows[3].row, 9, "a quoted field spanning two lines counts both");
        assert!(rows_of(read_table("姓名\n王五\n".as_bytes()).unwrap()).is_err(), "missing required column");
        assert!(read_table(&[0xff, 0xfe, 0x00]).is_err(), "not UTF-8");
    }
}
