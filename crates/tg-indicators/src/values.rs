//! Values: loading by API push and by Excel/CSV import (validated as a whole: any bad row and
//! nothing is written, with a row-by-row report), the template, exports carrying the viewer's
//! watermark, and the per-point figures of a series or a breakdown.

use crate::compute::{self, Figures};
use crate::model::Indicator;
use crate::period::Period;
use crate::{region_visible, IndService, Meta};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::RegionCode;
use utoipa::ToSchema;

/// One value to load.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueRow {
    /// Indicator code.
    pub indicator: String,
    /// `2025`, `2025Q3`, `2025-10` or `2025-10-03`, matching the indicator's frequency.
    pub period: String,
    pub region_code: String,
    /// A category value of the indicator; empty or absent for the total.
    #[serde(default)]
    pub category: String,
    pub value: f64,
}

/// Numbered rows of an upload and the rows that could not be read.
pub type ParsedUpload = (Vec<(usize, ValueRow)>, Vec<ValueRowError>);

/// Which slice of a series to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window<'a> {
    /// Default: the caller's region.
    pub region: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    /// Default: the total.
    pub category: Option<&'a str>,
}

/// A push of values through the API.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuePush {
    /// Where the values come from (system or document name).
    pub source: String,
    pub rows: Vec<ValueRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueRowError {
    /// 1-based row number (of the file, including the header; of the pushed list otherwise).
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueImportReport {
    pub total: usize,
    pub valid: usize,
    pub imported: usize,
    pub dry_run: bool,
    pub errors: Vec<ValueRowError>,
    /// Follow alerts raised by this load.
    pub alerts: usize,
}

/// The computed figures of one data point.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Point {
    pub period: String,
    pub period_label: String,
    pub region_code: String,
    pub region_name: String,
    pub category: String,
    pub value: Option<f64>,
    /// 同比: growth on the same period a year earlier (percent, or percentage points for rates).
    pub yoy: Option<f64>,
    /// 环比: growth on the previous period.
    pub mom: Option<f64>,
    /// 累计: year to date (sum for flows, mean for rates; none for stocks).
    pub cumulative: Option<f64>,
    pub cumulative_yoy: Option<f64>,
    /// Rank among sibling regions (1 = best for the indicator's direction).
    pub rank: Option<i64>,
    pub rank_of: Option<i64>,
    pub target: Option<f64>,
    /// Target completion in percent.
    pub completion: Option<f64>,
    /// The caller's follow light: green, yellow or red.
    pub light: Option<String>,
    pub source: Option<String>,
    pub loaded_at: Option<String>,
    pub is_demo: bool,
    /// Rolled up from lower levels or computed by formula.
    pub computed: bool,
    /// Whether lower-level values exist (drill-down possible).
    pub has_children: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesData {
    pub indicator: Indicator,
    pub region_code: String,
    pub region_name: String,
    pub category: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Breakdown {
    pub indicator: Indicator,
    pub region_code: String,
    pub region_name: String,
    pub period: String,
    /// region or category.
    pub by: String,
    pub points: Vec<Point>,
}

/// A follow threshold the caller set: (indicator code, region, yellow, red).
pub type Threshold = (String, String, Option<f64>, Option<f64>);

/// The light of `value` under the thresholds for an indicator direction.
pub fn light(dir: compute::Direction, value: f64, yellow: Option<f64>, red: Option<f64>) -> Option<&'static str> {
    if yellow.is_none() && red.is_none() {
        return None;
    }
    let worse = |t: f64| match dir {
        compute::Direction::Down => value > t,
        _ => value < t,
    };
    Some(if red.is_some_and(worse) {
        "red"
    } else if yellow.is_some_and(worse) {
        "yellow"
    } else {
        "green"
    })
}

pub(crate) struct PointCtx<'a> {
    pub svc: &'a IndService,
    pub meta: &'a Meta,
    pub ind: &'a Indicator,
    pub series: &'a compute::Series,
    pub thresholds: &'a [Threshold],
}

impl PointCtx<'_> {
    pub fn point(&self, region: &str, cat: &str, p: Period) -> Point {
        let ind = self.ind;
        let kind = compute::Kind { agg: ind.agg_kind(), dir: ind.dir(), points: ind.points() };
        let f: Figures = compute::figures(self.series, &self.meta.tree, kind, region, cat, p);
        let target = if cat.is_empty() { ind.target(p.year(), region, &self.meta.city) } else { None };
        let basis = f.cumulative.or(f.value);
        let completion = match (target, basis) {
            (Some(t), Some(b)) if t != 0.0 => Some(compute::round(b / t * 100.0, 2)),
            _ => None,
        };
        let load = if f.value.is_some() && f.load > 0 { self.svc.load_info(f.load) } else { None };
        let light = f.value.and_then(|v| {
            self.thresholds.iter().find(|t| t.0 == ind.code && t.1 == region).and_then(|t| light(ind.dir(), v, t.2, t.3)).map(str::to_owned)
        });
        let has_children = self.meta.tree.children_of(region).iter().any(|c| self.series.line(c, cat).is_some());
        Point {
            period: p.to_string(),
            period_label: p.label(),
            region_code: region.to_owned(),
            region_name: self.meta.tree.name_of(region),
            category: cat.to_owned(),
            value: f.value,
            yoy: f.yoy,
            mom: f.mom,
            cumulative: f.cumulative.map(|c| compute::round(c, 4)),
            cumulative_yoy: f.cumulative_yoy,
            rank: f.rank.map(|r| r.0 as i64),
            rank_of: f.rank.map(|r| r.1 as i64),
            target,
            completion,
            light,
            source: load
                .as_ref()
                .map(|l| l.source.clone())
                .or_else(|| f.value.map(|_| if ind.formula.is_some() { "公式计算".into() } else { "下级汇总".into() })),
            loaded_at: load.as_ref().map(|l| to_rfc3339(l.loaded_at)),
            is_demo: load.as_ref().is_some_and(|l| l.is_demo) || (f.load == 0 && f.value.is_some() && ind.is_demo),
            computed: f.value.is_some() && f.load == 0,
            has_children,
        }
    }
}

fn bad_region() -> IamError {
    IamError::field("region", "行政区划代码无效或超出数据权限范围")
}

impl IndService {
    /// The caller's follow thresholds.
    pub async fn thresholds(&self, actor: &Principal) -> IamResult<Vec<Threshold>> {
        let rows = sqlx::query("SELECT target_code, region_code, yellow, red FROM ind_follows WHERE user_id = $1 AND kind = 'indicator'")
            .bind(actor.user_id)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Checks a requested region: known, and in scope or above it.
    pub(crate) fn check_region(&self, actor: &Principal, meta: &Meta, region: Option<&str>) -> IamResult<String> {
        let r = region.map(str::to_owned).unwrap_or_else(|| {
            if region_visible(actor, &meta.city) && actor.scope.region.as_str() == meta.city {
                meta.city.clone()
            } else {
                actor.scope.region.as_str().to_owned()
            }
        });
        if !meta.tree.name.contains_key(&r) || !region_visible(actor, &r) {
            return Err(bad_region());
        }
        Ok(r)
    }

    /// Audits a view of an indicator of a restricted topic.
    pub(crate) async fn audit_restricted(&self, ctx: &AuditCtx, meta: &Meta, ind: &Indicator, what: &str) -> IamResult<()> {
        if ind.topic_code.as_deref().and_then(|t| meta.topic(t)).is_some_and(|t| t.restricted) {
            self.iam.audit_alone(ctx, AuditEvent::success("ind.restricted_view", ind.code.clone()).with_detail(what.to_owned())).await?;
        }
        Ok(())
    }

    /// A trend: every period from `from` to `to` (default: the last 24 periods with data).
    pub async fn series_data(&self, actor: &Principal, ctx: &AuditCtx, code: &str, w: Window<'_>) -> IamResult<SeriesData> {
        let Window { region, from, to, category } = w;
        let meta = self.meta().await?;
        let ind = self.visible_indicator(actor, &meta, code)?;
        let region = self.check_region(actor, &meta, region)?;
        let cat = category.unwrap_or("").to_owned();
        if !cat.is_empty() && !ind.categories.as_ref().is_some_and(|c| c.values.contains(&cat)) {
            return Err(IamError::field("category", "该指标没有此分类"));
        }
        let parse = |s: Option<&str>, f: &str| -> IamResult<Option<Period>> {
            match s {
                None | Some("") => Ok(None),
                Some(s) => Period::parse_as(s, ind.freq())
                    .map(Some)
                    .ok_or_else(|| IamError::field(f, format!("统计期格式须为{}（如 {}）", ind.freq().label(), ind.freq().example()))),
            }
        };
        let (from, to) = (parse(from, "from")?, parse(to, "to")?);
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                return Err(IamError::field("from", "起始期不能晚于截止期"));
            }
        }
        let series = self.series(&meta, &ind).await?;
        let thresholds = self.thresholds(actor).await?;
        let pc = PointCtx { svc: self, meta: &meta, ind: &ind, series: &series, thresholds: &thresholds };
        let end = to.or_else(|| series.latest(&region, &cat, None));
        let mut points = Vec::new();
        if let Some(end) = end {
            let mut p = end;
            let start = from.unwrap_or_else(|| {
                let mut s = end;
                for _ in 0..23 {
                    s = s.prev();
                }
                s
            });
            let mut guard = 0;
            while p >= start && guard < 400 {
                points.push(pc.point(&region, &cat, p));
                p = p.prev();
                guard += 1;
            }
            points.reverse();
        }
        self.audit_restricted(ctx, &meta, &ind, "趋势").await?;
        Ok(SeriesData { indicator: (*ind).clone(), region_name: meta.tree.name_of(&region), region_code: region, category: cat, points })
    }

    /// A breakdown of one period by sub-region (the caller's visible ones) or by category.
    pub async fn breakdown(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        code: &str,
        region: Option<&str>,
        period: Option<&str>,
        by: &str,
    ) -> IamResult<Breakdown> {
        let meta = self.meta().await?;
        let ind = self.visible_indicator(actor, &meta, code)?;
        let region = self.check_region(actor, &meta, region)?;
        let series = self.series(&meta, &ind).await?;
        let p = match period {
            None | Some("") => series.latest(&region, "", None),
            Some(s) => Some(Period::parse_as(s, ind.freq()).ok_or_else(|| {
                IamError::field("period", format!("统计期格式须为{}（如 {}）", ind.freq().label(), ind.freq().example()))
            })?),
        };
        let thresholds = self.thresholds(actor).await?;
        let pc = PointCtx { svc: self, meta: &meta, ind: &ind, series: &series, thresholds: &thresholds };
        let mut points = Vec::new();
        if let Some(p) = p {
            match by {
                "region" => {
                    for c in meta.tree.children_of(&region) {
                        if series.line(c, "").is_some() && region_visible(actor, c) {
                            points.push(pc.point(c, "", p));
                        }
                    }
                }
                "category" => {
                    let Some(cats) = &ind.categories else { return Err(IamError::field("by", "该指标没有分类维度")) };
                    for c in &cats.values {
                        points.push(pc.point(&region, c, p));
                    }
                }
                _ => return Err(IamError::field("by", "by 须为 region 或 category")),
            }
        }
        self.audit_restricted(ctx, &meta, &ind, "分解").await?;
        Ok(Breakdown {
            indicator: (*ind).clone(),
            region_name: meta.tree.name_of(&region),
            region_code: region,
            period: p.map(|p| p.to_string()).unwrap_or_default(),
            by: by.to_owned(),
            points,
        })
    }

    /// Validates and writes values: any error and nothing is written (the report lists every bad
    /// row); `dry_run` only validates. Alerts of followers are raised after the commit.
    pub async fn load_values(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        source: &str,
        rows: &[(usize, ValueRow)],
        dry_run: bool,
    ) -> IamResult<ValueImportReport> {
        let meta = self.meta().await?;
        let mut errors = Vec::new();
        let source = source.trim();
        if source.is_empty() || source.chars().count() > 100 {
            return Err(IamError::field("source", "请填写数据来源（不超过100字）"));
        }
        if rows.is_empty() {
            return Err(IamError::field("rows", "没有数据行"));
        }
        if rows.len() > 200_000 {
            return Err(IamError::field("rows", "一次最多载入200000行"));
        }
        let mut seen = HashSet::new();
        let mut valid: Vec<(i64, &ValueRow, Period)> = Vec::with_capacity(rows.len());
        for (n, r) in rows {
            let mut err = |field: &str, message: String| errors.push(ValueRowError { row: *n, field: field.into(), message });
            let Some(ind) = meta.indicator(r.indicator.trim()).filter(|i| self.can_see(actor, &meta, i)) else {
                err("indicator", format!("指标编码“{}”不存在", r.indicator));
                continue;
            };
            if ind.formula.is_some() {
                err("indicator", format!("“{}”是派生指标，由公式计算，不能载入数值", ind.name));
                continue;
            }
            if let (Some(mine), Some(own)) = (actor.department_id, ind.department_id) {
                if mine != own && !actor.has("ind:manage") {
                    err(
                        "indicator",
                        format!("“{}”由{}报送，您所在部门不能载入", ind.name, ind.department_name.clone().unwrap_or_default()),
                    );
                    continue;
                }
            }
            let Some(p) = Period::parse_as(r.period.trim(), ind.freq()) else {
                err(
                    "period",
                    format!("统计期“{}”格式有误，“{}”按{}统计，应如 {}", r.period, ind.name, ind.freq().label(), ind.freq().example()),
                );
                continue;
            };
            let region = r.region_code.trim();
            let in_scope = RegionCode::parse(region).is_ok_and(|c| actor.scope.region.contains(&c));
            if !meta.tree.name.contains_key(region) {
                err("region_code", format!("行政区划代码“{region}”不存在"));
                continue;
            }
            if !in_scope {
                err("region_code", format!("“{}”超出您的数据权限范围", meta.tree.name_of(region)));
                continue;
            }
            let cat = r.category.trim();
            if !cat.is_empty() && !ind.categories.as_ref().is_some_and(|c| c.values.iter().any(|v| v == cat)) {
                err("category", format!("“{}”没有分类“{cat}”", ind.name));
                continue;
            }
            if !r.value.is_finite() {
                err("value", "数值无效".into());
                continue;
            }
            if !seen.insert((ind.id, region.to_owned(), cat.to_owned(), p)) {
                err("period", "与前面的行重复（同一指标、统计期、区划和分类）".into());
                continue;
            }
            valid.push((ind.id, r, p));
        }
        let mut report = ValueImportReport { total: rows.len(), valid: valid.len(), imported: 0, dry_run, errors, alerts: 0 };
        if dry_run || !report.errors.is_empty() {
            return Ok(report);
        }
        let is_demo = source.contains("演示");
        let touched = self.write_values(actor.user_id, source, &valid, is_demo).await?;
        report.imported = valid.len();
        self.iam
            .audit_alone(
                ctx,
                AuditEvent::success("ind.values_load", source.to_owned()).with_detail(format!(
                    "{} 行，{} 个指标",
                    valid.len(),
                    touched.len()
                )),
            )
            .await?;
        report.alerts = self.evaluate_follows(&touched).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "evaluating follow alerts failed");
            0
        });
        Ok(report)
    }

    /// Writes validated values in one transaction; returns the touched indicator codes.
    pub(crate) async fn write_values(
        &self,
        user_id: i64,
        source: &str,
        rows: &[(i64, &ValueRow, Period)],
        is_demo: bool,
    ) -> IamResult<Vec<String>> {
        let meta = self.meta().await?;
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query("INSERT INTO ind_loads (source, user_id, row_count, is_demo, loaded_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(source)
            .bind(if user_id > 0 { Some(user_id) } else { None })
            .bind(rows.len() as i64)
            .bind(i64::from(is_demo))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let load_id: i64 = sqlx::query("SELECT MAX(id) FROM ind_loads").fetch_one(&mut *tx).await?.try_get(0)?;
        for chunk in rows.chunks(400) {
            let mut sql = String::from("INSERT INTO ind_values (indicator_id, region_code, category, period, value, load_id) VALUES ");
            for i in 0..chunk.len() {
                let b = i * 6;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6));
            }
            sql.push_str(" ON CONFLICT (indicator_id, region_code, category, period) DO UPDATE SET value = excluded.value, load_id = excluded.load_id");
            let mut q = sqlx::query(&sql);
            for (id, r, p) in chunk {
                q = q
                    .bind(*id)
                    .bind(r.region_code.trim().to_owned())
                    .bind(r.category.trim().to_owned())
                    .bind(p.to_string())
                    .bind(r.value)
                    .bind(load_id);
            }
            q.execute(&mut *tx).await?;
        }
        let mut latest: BTreeMap<i64, Period> = BTreeMap::new();
        for (id, _, p) in rows {
            let e = latest.entry(*id).or_insert(*p);
            if *p > *e {
                *e = *p;
            }
        }
        let mut touched = Vec::new();
        for (id, p) in &latest {
            sqlx::query(
                "UPDATE ind_indicators SET data_rev = data_rev + 1, loaded_at = $1, has_demo = CASE WHEN $2 = 1 THEN 1 ELSE has_demo END, \
                 latest_period = CASE WHEN latest_period IS NULL OR latest_period < $3 THEN $3 ELSE latest_period END WHERE id = $4",
            )
            .bind(now)
            .bind(i64::from(is_demo))
            .bind(p.to_string())
            .bind(*id)
            .execute(&mut *tx)
            .await?;
            if let Some(i) = meta.indicator_by_id(*id) {
                touched.push(i.code.clone());
            }
        }
        sqlx::query("UPDATE ind_state SET data_rev = data_rev + 1, meta_rev = meta_rev + 1 WHERE id = 1").execute(&mut *tx).await?;
        tx.commit().await?;
        self.drop_derived();
        Ok(touched)
    }

    /// Values of one indicator as an xlsx or csv file with the viewer's watermark on top.
    pub async fn export(&self, actor: &Principal, ctx: &AuditCtx, code: &str, w: Window<'_>, csv: bool) -> IamResult<(String, Vec<u8>)> {
        let data = self.series_data(actor, ctx, code, Window { category: None, ..w }).await?;
        let mark = self.watermark(actor);
        let header = ["统计期", "行政区划", "数值", "同比", "环比", "累计", "排名", "目标完成率(%)", "数据来源", "载入时间", "演示数据"];
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let rows: Vec<Vec<String>> = data
            .points
            .iter()
            .map(|p| {
                vec![
                    p.period.clone(),
                    p.region_name.clone(),
                    opt(p.value),
                    opt(p.yoy),
                    opt(p.mom),
                    opt(p.cumulative),
                    p.rank.map(|r| format!("{r}/{}", p.rank_of.unwrap_or(0))).unwrap_or_default(),
                    opt(p.completion),
                    p.source.clone().unwrap_or_default(),
                    p.loaded_at.clone().unwrap_or_default(),
                    if p.is_demo { "是".into() } else { String::new() },
                ]
            })
            .collect();
        let title = format!(
            "{}（{}）{}",
            data.indicator.name,
            if data.indicator.unit.is_empty() { "—" } else { &data.indicator.unit },
            data.region_name
        );
        let bytes = if csv {
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(vec![0xEF, 0xBB, 0xBF]);
            let werr = |e: csv::Error| IamError::Internal(e.to_string());
            w.write_record([title.as_str()]).map_err(werr)?;
            w.write_record([mark.as_str()]).map_err(werr)?;
            w.write_record(header).map_err(werr)?;
            for r in &rows {
                w.write_record(r).map_err(werr)?;
            }
            w.into_inner().map_err(|e| IamError::Internal(e.to_string()))?
        } else {
            xlsx_with_watermark(&title, &mark, &header, &rows)?
        };
        self.iam
            .audit_alone(
                ctx,
                AuditEvent::success("ind.export", code.to_owned()).with_detail(format!(
                    "{} {} 行 {}",
                    if csv { "csv" } else { "xlsx" },
                    rows.len(),
                    data.region_name
                )),
            )
            .await?;
        Ok((format!("{}-{}.{}", data.indicator.code, data.region_code, if csv { "csv" } else { "xlsx" }), bytes))
    }

    /// The viewer's watermark text: name, account and time.
    pub fn watermark(&self, actor: &Principal) -> String {
        format!("{} {} {}", actor.display_name, actor.username, crate::beijing_time(self.now()))
    }

    /// Parses an uploaded xlsx or csv file into numbered rows, or reports the header problem.
    pub fn parse_upload(bytes: &[u8], filename: &str) -> IamResult<ParsedUpload> {
        let table: Vec<Vec<String>> = if filename.to_lowercase().ends_with(".csv") {
            let text = String::from_utf8(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes).to_vec())
                .map_err(|_| IamError::field("file", "CSV 文件须为 UTF-8 编码"))?;
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
            rdr.records()
                .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()))
                .collect::<Result<_, _>>()
                .map_err(|_| IamError::field("file", "CSV 文件格式有误"))?
        } else {
            use calamine::{Data, Reader};
            let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
                .map_err(|_| IamError::field("file", "无法读取文件，请使用下载的 Excel 模板（.xlsx）或 CSV"))?;
            let name = wb.sheet_names().first().cloned().ok_or_else(|| IamError::field("file", "文件中没有工作表"))?;
            let range = wb.worksheet_range(&name).map_err(|_| IamError::field("file", "无法读取工作表"))?;
            range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::Float(f) => {
                                if f.fract() == 0.0 && f.abs() < 1e15 {
                                    format!("{}", *f as i64)
                                } else {
                                    f.to_string()
                                }
                            }
                            Data::Int(i) => i.to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect()
        };
        let expected = ["指标编码", "统计期", "行政区划代码", "分类", "数值"];
        let Some(head_at) = table.iter().position(|r| r.first().map(|s| s.trim()) == Some("指标编码")) else {
            return Err(IamError::field("file", format!("模板不正确：找不到表头（{}）", expected.join("、"))));
        };
        let head: Vec<&str> = table[head_at].iter().map(|s| s.trim()).collect();
        if head.len() < 5 || head[..5] != expected {
            return Err(IamError::field("file", format!("模板不正确：表头须为 {}", expected.join("、"))));
        }
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for (i, r) in table.iter().enumerate().skip(head_at + 1) {
            let cell = |k: usize| r.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
            if (0..5).all(|k| cell(k).is_empty()) {
                continue;
            }
            let n = i + 1;
            match cell(4).replace(',', "").parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    rows.push((n, ValueRow { indicator: cell(0), period: cell(1), region_code: cell(2), category: cell(3), value: v }))
                }
                _ => errors
                    .push(ValueRowError { row: n, field: "value".into(), message: format!("数值“{}”不是有效数字", cell(4)) }),
            }
        }
        Ok((rows, errors))
    }

    /// Imports an uploaded file (see `parse_upload`).
    pub async fn import_file(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        bytes: &[u8],
        filename: &str,
        dry_run: bool,
    ) -> IamResult<ValueImportReport> {
        let (rows, mut parse_errors) = Self::parse_upload(bytes, filename)?;
        if rows.is_empty() && parse_errors.is_empty() {
            return Err(IamError::field("file", "文件中没有数据行"));
        }
        let total = rows.len() + parse_errors.len();
        let mut report = if rows.is_empty() {
            ValueImportReport { total, valid: 0, imported: 0, dry_run, errors: Vec::new(), alerts: 0 }
        } else {
            // Validate everything first; write only when the parse also found nothing wrong.
            let checked = self.load_values(actor, ctx, &format!("文件导入：{filename}"), &rows, true).await?;
            if checked.errors.is_empty() && parse_errors.is_empty() && !dry_run {
                self.load_values(actor, ctx, &format!("文件导入：{filename}"), &rows, false).await?
            } else {
                checked
            }
        };
        report.total = total;
        report.dry_run = dry_run;
        report.errors.append(&mut parse_errors);
        report.errors.sort_by_key(|e| e.row);
        Ok(report)
    }
}

/// The import template.
pub fn template() -> IamResult<Vec<u8>> {
    let rows = vec![
        vec!["eco_aqi_example".to_string(), "2025-10".into(), "445302".into(), String::new(), "42.5".into()],
        vec!["示例：按季度".to_string(), "2025Q3".into(), "445300".into(), String::new(), "1200".into()],
    ];
    let note = "说明：统计期按指标的更新频率填写（年 2025、季 2025Q3、月 2025-10、日 2025-10-03）；分类留空表示合计；删除示例行后填写。";
    xlsx_with_watermark("掌上数窗指标数据导入模板", note, &["指标编码", "统计期", "行政区划代码", "分类", "数值"], &rows)
}

fn xlsx_with_watermark(title: &str, mark: &str, header: &[&str], rows: &[Vec<String>]) -> IamResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let xe = |e: rust_xlsxwriter::XlsxError| IamError::Internal(e.to_string());
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    let grey = Format::new().set_font_color(rust_xlsxwriter::Color::Gray).set_italic();
    ws.write_string_with_format(0, 0, title, &bold).map_err(xe)?;
    ws.write_string_with_format(1, 0, mark, &grey).map_err(xe)?;
    ws.set_header(format!("&C{}", mark.replace('&', "&&"))).set_footer(format!("&C{}", mark.replace('&', "&&")));
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &bold).map_err(xe)?;
        ws.set_column_width(c as u16, 16).map_err(xe)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            match v.parse::<f64>() {
                Ok(n) if c > 1 && !v.is_empty() => ws.write_number((r + 3) as u32, c as u16, n).map_err(xe)?,
                _ => ws.write_string((r + 3) as u32, c as u16, v).map_err(xe)?,
            };
        }
    }
    wb.save_to_buffer().map_err(xe)
}

/// A generated statistics report on an indicator's category distribution (e.g. the 青年创业
/// 行业统计报告): the structure of one period, its change on the year before, and the regions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistributionReport {
    pub title: String,
    pub indicator: Indicator,
    pub region_code: String,
    pub region_name: String,
    pub period: String,
    pub generated_at: String,
    /// The viewer's watermark.
    pub watermark: String,
    /// Report text, paragraph by paragraph (Chinese).
    pub paragraphs: Vec<String>,
    /// Category rows: value, share of the total (%), 同比.
    pub rows: Vec<DistributionRow>,
    /// The same indicator by sub-region for the period (when lower levels have data).
    pub regions: Vec<Point>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistributionRow {
    pub category: String,
    pub value: Option<f64>,
    pub share: Option<f64>,
    pub yoy: Option<f64>,
}

impl IndService {
    /// Writes the distribution report of an indicator with categories for a region and period.
    pub async fn distribution_report(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        code: &str,
        region: Option<&str>,
        period: Option<&str>,
    ) -> IamResult<DistributionReport> {
        let b = self.breakdown(actor, ctx, code, region, period, "category").await?;
        let ind = b.indicator.clone();
        let unit = ind.unit.clone();
        let cats = ind.categories.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        let total: f64 = b.points.iter().filter_map(|p| p.value).sum();
        let mut rows: Vec<DistributionRow> = b
            .points
            .iter()
            .map(|p| DistributionRow {
                category: p.category.clone(),
                value: p.value,
                share: p.value.filter(|_| total > 0.0).map(|v| compute::round(v / total * 100.0, 2)),
                yoy: p.yoy,
            })
            .collect();
        rows.sort_by(|a, b| b.value.unwrap_or(f64::MIN).total_cmp(&a.value.unwrap_or(f64::MIN)));
        let label = Period::parse(&b.period).map(|p| p.label()).unwrap_or_default();
        let mut paragraphs = Vec::new();
        if rows.iter().all(|r| r.value.is_none()) {
            paragraphs.push(format!("{}{}暂无“{}”的分{}数据。", b.region_name, label, ind.name, cats));
        } else {
            let fmt = |v: f64| format!("{}{}", compute::round(v, 2), unit);
            paragraphs.push(format!("{}{}“{}”合计 {}，共 {} 个{}。", b.region_name, label, ind.name, fmt(total), rows.len(), cats));
            let top: Vec<String> =
                rows.iter().take(3).filter_map(|r| Some(format!("{}（{}，占 {}%）", r.category, fmt(r.value?), r.share?))).collect();
            let top3: f64 = rows.iter().take(3).filter_map(|r| r.share).sum();
            paragraphs.push(format!("排名前三的{}依次为{}，合计占 {}%。", cats, top.join("、"), compute::round(top3, 2)));
            let mut growing: Vec<&DistributionRow> = rows.iter().filter(|r| r.yoy.is_some()).collect();
            growing.sort_by(|a, b| b.yoy.unwrap_or(0.0).total_cmp(&a.yoy.unwrap_or(0.0)));
            if let (Some(up), Some(down)) = (growing.first(), growing.last()) {
                paragraphs.push(format!(
                    "与上年同期相比，{}增长最快（同比 {}{}），{}变化最弱（同比 {}{}）。",
                    up.category,
                    up.yoy.unwrap_or(0.0),
                    ind.yoy_unit,
                    down.category,
                    down.yoy.unwrap_or(0.0),
                    ind.yoy_unit
                ));
            }
        }
        let regions = self
            .breakdown(actor, ctx, code, Some(&b.region_code), Some(&b.period).filter(|p| !p.is_empty()).map(String::as_str), "region")
            .await
            .map(|r| r.points)
            .unwrap_or_default();
        if let Some(best) =
            regions.iter().filter(|p| p.value.is_some()).max_by(|a, b| a.value.unwrap_or(0.0).total_cmp(&b.value.unwrap_or(0.0)))
        {
            paragraphs.push(format!("分地区看，{}最多，为 {}{}。", best.region_name, compute::round(best.value.unwrap_or(0.0), 2), unit));
        }
        if ind.is_demo {
            paragraphs.push("注：本报告基于演示数据生成，不代表真实统计。".into());
        }
        self.iam
            .audit_alone(ctx, AuditEvent::success("ind.report", code.to_owned()).with_detail(format!("{} {}", b.region_name, b.period)))
            .await?;
        Ok(DistributionReport {
            title: format!("{}{}{}统计报告", b.region_name, label, ind.name),
            region_code: b.region_code.clone(),
            region_name: b.region_name.clone(),
            period: b.period.clone(),
            generated_at: to_rfc3339(self.now()),
            watermark: self.watermark(actor),
            indicator: ind,
            paragraphs,
            rows,
            regions,
        })
    }
}
