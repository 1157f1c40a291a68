//! 旧数据信息管理: the Excel template, the all-or-nothing import of historical projects with a
//! row-by-row report, and the Excel export of the project list.

use crate::{check_code, industry, InvService, Normalised, ProjectFilter, ProjectInput, DEFINITION, SOURCES};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashSet;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_workflow::engine::Fact;
use utoipa::ToSchema;

pub const HEADER: &[&str] = &[
    "项目名称",
    "投资方",
    "投资方所在地",
    "行业代码",
    "投资额（万元）",
    "用地面积（亩）",
    "预计年产值（万元）",
    "预计年税收（万元）",
    "联系人",
    "联系电话",
    "项目来源",
    "首接日期",
    "所属县（市、区）",
    "项目阶段",
    "项目统一代码",
    "签约日期",
    "备注",
];

/// Stages a historical project may be imported at (name in the file → workflow state).
const STAGES: &[(&str, &str)] = &[("在谈", "negotiating"), ("已备案", "filed"), ("已签约", "signed"), ("达标达产", "producing")];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvImportError {
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvImportReport {
    pub total: usize,
    pub valid: usize,
    pub imported: usize,
    pub errors: Vec<InvImportError>,
    pub dry_run: bool,
}

fn xe(e: rust_xlsxwriter::XlsxError) -> IamError {
    IamError::Internal(e.to_string())
}

/// The import template with one example row.
pub fn template() -> IamResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    let grey = Format::new().set_font_color(rust_xlsxwriter::Color::Gray).set_italic();
    ws.write_string_with_format(0, 0, "招商引资旧项目数据导入模板", &bold).map_err(xe)?;
    ws.write_string_with_format(
        1,
        0,
        format!(
            "说明：带*为必填；行业代码按 GB/T 4754（如 C39）；日期 YYYY-MM-DD；所属县（市、区）填名称或6位代码；项目阶段填 {}；项目来源填 {}。删除示例行后填写。",
            STAGES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join("、"),
            SOURCES.join("、")
        ),
        &grey,
    )
    .map_err(xe)?;
    let required = [0, 1, 3, 4, 8, 9, 10, 11, 12, 13];
    for (c, h) in HEADER.iter().enumerate() {
        let text = if required.contains(&c) { format!("{h}*") } else { h.to_string() };
        ws.write_string_with_format(2, c as u16, &text, &bold).map_err(xe)?;
        ws.set_column_width(c as u16, 16).map_err(xe)?;
    }
    let example = [
        "示例：年产10万吨新型建材项目",
        "示例建材有限公司",
        "广东省佛山市",
        "C30",
        "32000",
        "120",
        "50000",
        "1800",
        "王经理",
        "13800000000",
        "以商引商",
        "2024-03-15",
        "云城区",
        "已签约",
        "2024-445302-30-03-000001",
        "2024-09-20",
        "",
    ];
    for (c, v) in example.iter().enumerate() {
        ws.write_string(3, c as u16, *v).map_err(xe)?;
    }
    wb.save_to_buffer().map_err(xe)
}

fn read_table(bytes: &[u8]) -> IamResult<Vec<Vec<String>>> {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|_| IamError::field("file", "无法读取文件，请使用下载的 Excel 模板（.xlsx）"))?;
    let name = wb.sheet_names().first().cloned().ok_or_else(|| IamError::field("file", "文件中没有工作表"))?;
    let range = wb.worksheet_range(&name).map_err(|_| IamError::field("file", "无法读取工作表"))?;
    Ok(range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                    Data::Float(f) => f.to_string(),
                    Data::Int(i) => i.to_string(),
                    Data::DateTime(d) => excel_date(d.as_f64()),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect())
}

/// An Excel date serial (days since 1899-12-30) as YYYY-MM-DD.
fn excel_date(serial: f64) -> String {
    let base = time::Date::from_calendar_date(1899, time::Month::December, 30).unwrap_or(time::Date::MIN);
    tg_workflow::calendar::fmt_date(base + time::Duration::days(serial.floor() as i64))
}

fn norm_date(s: &str) -> String {
    let s = s.trim().replace(['/', '.'], "-");
    match tg_workflow::calendar::parse_date(&s) {
        Some(d) => tg_workflow::calendar::fmt_date(d),
        None => s,
    }
}

struct Row2 {
    n: usize,
    input: Normalised,
    stage: &'static str,
    code: Option<String>,
    signed: Option<String>,
}

impl InvService {
    /// Validates every row of a historical-projects workbook; writes all of them (one transaction,
    /// each with its workflow at the row's stage) only when `dry_run` is false and no row is wrong.
    pub async fn import(
        &self,
        ctx: &AuditCtx,
        actor: &Principal,
        filename: &str,
        bytes: &[u8],
        dry_run: bool,
    ) -> IamResult<InvImportReport> {
        if !filename.to_ascii_lowercase().ends_with(".xlsx") {
            return Err(IamError::field("file", "请上传 Excel 文件（.xlsx）"));
        }
        let table = read_table(bytes)?;
        let strip = |s: &str| s.trim().trim_end_matches('*').to_owned();
        let Some(head_at) = table.iter().take(10).position(|r| r.first().map(|s| strip(s)) == Some(HEADER[0].to_owned())) else {
            return Err(IamError::field("file", format!("模板不正确：找不到表头（{}…）", HEADER[..4].join("、"))));
        };
        let head: Vec<String> = table[head_at].iter().map(|s| strip(s)).collect();
        if head.len() < HEADER.len() || head[..HEADER.len()].iter().zip(HEADER).any(|(a, b)| a != b) {
            return Err(IamError::field("file", format!("模板不正确：表头须为 {}", HEADER.join("、"))));
        }
        let counties = sqlx::query("SELECT code, name, short_name FROM regions WHERE parent_code = $1")
            .bind(self.wf.city())
            .fetch_all(self.db().pool())
            .await?;
        let mut county_names = Vec::new();
        for r in counties {
            county_names.push((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<String, _>(2)?));
        }
        let city = self.city()?;
        let today = self.today();
        let mut errors = Vec::new();
        let mut rows = Vec::new();
        let mut codes = HashSet::new();
        let mut total = 0;
        for (i, r) in table.iter().enumerate().skip(head_at + 1) {
            let cell = |k: usize| r.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
            if (0..HEADER.len()).all(|k| cell(k).is_empty()) {
                continue;
            }
            total += 1;
            let n = i + 1;
            let before = errors.len();
            let mut err =
                |field: &str, message: String| errors.push(crate::excel::InvImportError { row: n, field: field.to_owned(), message });
            let num = |k: usize, field: &str, err: &mut dyn FnMut(&str, String)| -> Option<f64> {
                let s = cell(k);
                if s.is_empty() {
                    return None;
                }
                match s.replace(',', "").parse::<f64>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        err(field, format!("{}须为数字", HEADER[k]));
                        None
                    }
                }
            };
            let amount = num(4, "amount", &mut err);
            let land = num(5, "land_area", &mut err);
            let output = num(6, "expected_output", &mut err);
            let tax = num(7, "expected_tax", &mut err);
            let county = cell(12);
            let region = county_names.iter().find(|(c, n, s)| *c == county || *n == county || *s == county).map(|(c, ..)| c.clone());
            if region.is_none() {
                err("region_code", format!("未知的县（市、区）：{county}"));
            }
            let stage = STAGES.iter().find(|(n, _)| *n == cell(13)).map(|(_, s)| *s);
            if stage.is_none() {
                err("stage", format!("项目阶段须为 {}", STAGES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join("、")));
            }
            let code = Some(cell(14)).filter(|s| !s.is_empty());
            if let Some(c) = &code {
                if let Err(m) = check_code(c, &city) {
                    err("code", m);
                } else if !codes.insert(c.clone()) {
                    err("code", format!("项目统一代码 {c} 在文件中重复"));
                } else if sqlx::query("SELECT 1 FROM inv_projects WHERE code = $1")
                    .bind(c)
                    .fetch_optional(self.db().pool())
                    .await?
                    .is_some()
                {
                    err("code", format!("项目统一代码 {c} 已被其他项目使用"));
                }
            }
            let signed = Some(norm_date(&cell(15))).filter(|s| !s.is_empty());
            if let Some(s) = &signed {
                if tg_workflow::calendar::parse_date(s).is_none() || s.as_str() > today.as_str() {
                    err("signed_at", format!("签约日期不正确：{s}"));
                }
            }
            let input = ProjectInput {
                name: cell(0),
                investor: cell(1),
                investor_origin: Some(cell(2)),
                industry_code: industry::resolve(&cell(3)).unwrap_or(&cell(3)).to_owned(),
                amount: amount.unwrap_or(0.0),
                land_area: land,
                expected_output: output,
                expected_tax: tax,
                contact_name: cell(8),
                contact_phone: cell(9),
                source: cell(10),
                first_contact_date: norm_date(&cell(11)),
                region_code: region.clone(),
                remark: Some(cell(16)),
                submit: None,
                version: None,
            };
            match self.validate(actor, &input, &today) {
                Ok(v) if errors.len() == before => {
                    if let Some(stage) = stage {
                        rows.push(Row2 { n, input: v, stage, code, signed });
                    }
                }
                Ok(_) => {}
                Err(IamError::Validation(v)) => {
                    for fe in v.0 {
                        errors.push(InvImportError { row: n, field: fe.field, message: fe.message });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if total == 0 {
            return Err(IamError::field("file", "文件中没有数据行"));
        }
        if total > 5000 {
            return Err(IamError::field("file", "一次最多导入5000行，请分批导入"));
        }
        let valid = rows.len();
        if dry_run || !errors.is_empty() {
            return Ok(InvImportReport { total, valid, imported: 0, errors, dry_run });
        }
        let def = self.wf.latest(DEFINITION).await?;
        let mut tx = self.db().begin().await?;
        let mut outs = Vec::new();
        for r in &rows {
            let id = self.insert(&mut tx, actor, &r.input, r.stage, true, r.code.as_deref(), false).await?;
            if let Some(s) = &r.signed {
                sqlx::query("UPDATE inv_projects SET signed_at = $1 WHERE id = $2").bind(s).bind(id).execute(&mut *tx).await?;
            }
            let p = self.project_in(&mut tx, id).await?;
            let summary = vec![
                Fact { label: "投资方".into(), value: p.investor.clone() },
                Fact { label: "投资额".into(), value: format!("{} 万元", crate::grouped(p.amount)) },
            ];
            let out = self
                .wf
                .start_at(&mut tx, ctx, actor, &def, id, &p.name, &summary, &p.region_code, r.stage, &format!("旧数据导入（第{}行）", r.n))
                .await?;
            sqlx::query("UPDATE inv_projects SET instance_id = $1 WHERE id = $2").bind(out.instance_id).bind(id).execute(&mut *tx).await?;
            self.log_change(&mut tx, id, actor, "import", &[]).await?;
            outs.push(out);
        }
        let mut ev = AuditEvent::success("inv.import", format!("file:{filename}"));
        ev.detail = format!("{} 行", rows.len());
        self.iam.audit(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        for o in &outs {
            self.wf.commit_scheduled(o).await;
        }
        Ok(InvImportReport { total, valid, imported: rows.len(), errors, dry_run })
    }

    /// The filtered list as an Excel workbook (at most 10,000 rows; audited).
    pub async fn export(&self, ctx: &AuditCtx, actor: &Principal, f: &ProjectFilter) -> IamResult<Vec<u8>> {
        let f = ProjectFilter { page: Some(1), page_size: Some(500), ..f.clone() };
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let p = self.list(actor, &ProjectFilter { page: Some(page), ..f.clone() }).await?;
            let done = p.items.len() < 500 || all.len() + p.items.len() >= 10_000;
            all.extend(p.items);
            if done {
                break;
            }
            page += 1;
        }
        use rust_xlsxwriter::{Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let bold = Format::new().set_bold();
        let mark = format!("{} {} 导出", actor.display_name, crate::materials_time(self.now()));
        ws.set_header(format!("&C{}", mark.replace('&', "&&")));
        let head = [
            "项目名称",
            "项目统一代码",
            "投资方",
            "行业",
            "投资额（万元）",
            "用地面积（亩）",
            "县（市、区）",
            "阶段",
            "首接日期",
            "签约日期",
            "达产日期",
            "项目来源",
            "联系人",
            "联系电话",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold).map_err(xe)?;
            ws.set_column_width(c as u16, 16).map_err(xe)?;
        }
        for (i, p) in all.iter().enumerate() {
            let r = (i + 1) as u32;
            let cells = [
                p.name.clone(),
                p.code.clone().unwrap_or_default(),
                p.investor.clone(),
                format!("{} {}", p.industry_code, p.industry_name),
                String::new(),
                String::new(),
                p.region_name.clone(),
                p.stage_name.clone(),
                p.first_contact_date.clone(),
                p.signed_at.clone().unwrap_or_default(),
                p.produced_at.clone().unwrap_or_default(),
                p.source.clone(),
                p.contact_name.clone(),
                p.contact_phone.clone(),
            ];
            for (c, v) in cells.iter().enumerate() {
                ws.write_string(r, c as u16, v).map_err(xe)?;
            }
            ws.write_number(r, 4, p.amount).map_err(xe)?;
            if let Some(l) = p.land_area {
                ws.write_number(r, 5, l).map_err(xe)?;
            }
        }
        let mut ev = AuditEvent::success("inv.export", "inv_projects");
        ev.detail = format!("{} 行", all.len());
        self.iam.audit_alone(ctx, ev).await?;
        wb.save_to_buffer().map_err(xe)
    }
}
