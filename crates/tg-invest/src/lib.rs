//! 招商引资项目管理 (phase 1): investment projects from first contact (首接) through county review,
//! review filing (评审备案), signing (签约, 补充签约) to production (达标达产), transfers between
//! counties (流转), the field-level change log, 项目统一代码, legacy import, export and statistics.
//!
//! The lifecycle is the pack's `inv_project` workflow definition; this crate keeps the business
//! record, mirrors the workflow state into `stage`, and supplies the facts the workflow's guards need.

pub mod demo;
pub mod excel;
pub mod industry;
pub mod materials;
pub mod search;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tg_iam::{AuditCtx, AuditEvent, Iam, IamError, IamResult, Principal};
use tg_kernel::{Page, PageQuery, RegionCode, ValidationErrors};
use tg_workflow::def::TransitionKind;
use tg_workflow::engine::Fact;
use tg_workflow::{Facts, Outcome, WfActInput, WfChange, WfService, WfView};
use utoipa::{IntoParams, ToSchema};

pub const MIGRATIONS: &[tg_db::Migration] = &[
    tg_db::Migration {
        component: "invest",
        version: 1,
        name: "invest",
        sqlite: include_str!("../migrations/sqlite/0001_invest.sql"),
        postgres: include_str!("../migrations/postgres/0001_invest.sql"),
    },
    tg_db::Migration {
        component: "invest",
        version: 2,
        name: "search",
        sqlite: include_str!("../migrations/sqlite/0002_search.sql"),
        postgres: include_str!("../migrations/postgres/0002_search.sql"),
    },
];

pub const BUSINESS: &str = "inv_project";
pub const DEFINITION: &str = "inv_project";
const PHONE_DOMAIN: &str = "inv_projects.contact_phone";
const PHONE_AAD: &str = "inv_projects.contact_phone";

/// 项目来源.
pub const SOURCES: &[&str] = &["驻外招商", "以商引商", "招商推介会", "中介招商", "网上招商", "企业自主来访", "市直部门首谈", "其他"];

/// Business fields with their Chinese labels, in form order.
pub const FIELDS: &[(&str, &str)] = &[
    ("name", "项目名称"),
    ("investor", "投资方"),
    ("investor_origin", "投资方所在地"),
    ("industry_code", "所属行业"),
    ("amount", "投资额（万元）"),
    ("land_area", "用地面积（亩）"),
    ("expected_output", "预计年产值（万元）"),
    ("expected_tax", "预计年税收（万元）"),
    ("contact_name", "联系人"),
    ("contact_phone", "联系电话"),
    ("source", "项目来源"),
    ("first_contact_date", "首接日期"),
    ("region_code", "所属县（市、区）"),
    ("remark", "备注"),
];

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: String,
    pub investor: String,
    #[serde(default)]
    pub investor_origin: Option<String>,
    pub industry_code: String,
    pub amount: f64,
    #[serde(default)]
    pub land_area: Option<f64>,
    #[serde(default)]
    pub expected_output: Option<f64>,
    #[serde(default)]
    pub expected_tax: Option<f64>,
    pub contact_name: String,
    pub contact_phone: String,
    pub source: String,
    pub first_contact_date: String,
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub remark: Option<String>,
    /// Create: submit to 县区在谈审核 at once (otherwise 暂存).
    #[serde(default)]
    pub submit: Option<bool>,
    /// Edit: the version the caller saw.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Project {
    pub id: i64,
    pub code: Option<String>,
    pub name: String,
    pub investor: String,
    pub investor_origin: Option<String>,
    pub industry_code: String,
    pub industry_name: String,
    pub amount: f64,
    pub land_area: Option<f64>,
    pub expected_output: Option<f64>,
    pub expected_tax: Option<f64>,
    pub contact_name: String,
    /// Masked in lists; in full on the detail for those who may edit.
    pub contact_phone: String,
    pub source: String,
    pub first_contact_date: String,
    pub region_code: String,
    pub region_name: String,
    pub pending_region: Option<String>,
    pub stage: String,
    pub stage_name: String,
    pub is_legacy: bool,
    pub is_demo: bool,
    pub remark: Option<String>,
    pub instance_id: Option<i64>,
    pub version: i64,
    pub created_by_name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub signed_at: Option<String>,
    pub produced_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectDetail {
    pub project: Project,
    pub workflow: Option<WfView>,
    pub materials: Vec<materials::Material>,
    pub transfers: Vec<Transfer>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeEntry {
    pub id: i64,
    pub at: i64,
    pub actor_name: String,
    pub action: String,
    pub action_name: String,
    pub changes: Vec<WfChange>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transfer {
    pub id: i64,
    pub project_id: i64,
    pub project_name: String,
    pub from_region: String,
    pub from_name: String,
    pub to_region: String,
    pub to_name: String,
    /// pending, confirmed or returned.
    pub status: String,
    pub reason: String,
    pub reply: Option<String>,
    pub created_at: i64,
    pub created_by_name: String,
    pub handled_at: Option<i64>,
    pub handled_by_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectFilter {
    /// Name, investor or code contains.
    pub q: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub stage: Option<String>,
    pub amount_min: Option<f64>,
    pub amount_max: Option<f64>,
    /// First-contact date from (YYYY-MM-DD).
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub legacy: Option<bool>,
    /// Only projects with (true) or without (false) a 项目统一代码.
    pub has_code: Option<bool>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stat {
    pub key: String,
    pub name: String,
    pub count: i64,
    pub amount: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatTotal {
    pub count: i64,
    pub amount: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvStats {
    pub total: StatTotal,
    pub by_region: Vec<Stat>,
    pub by_industry: Vec<Stat>,
    pub by_stage: Vec<Stat>,
    pub by_month: Vec<Stat>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeName {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndustryOption {
    pub code: String,
    pub name: String,
    pub section: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvOptions {
    pub sources: Vec<String>,
    pub stages: Vec<CodeName>,
    pub counties: Vec<CodeName>,
    pub industries: Vec<IndustryOption>,
    pub doc_types: Vec<String>,
    pub max_file_mb: i64,
    pub file_types: Vec<String>,
}

/// Which projects a caller's lists cover.
#[derive(Debug, Clone)]
pub(crate) enum ListScope {
    All,
    Nothing,
    /// A county: its own projects, and those being transferred to it when there are any.
    County {
        own: String,
        incoming: bool,
    },
}

/// The investment-project service.
#[derive(Clone, Debug)]
pub struct InvService {
    pub(crate) iam: Iam,
    pub(crate) wf: WfService,
}

pub(crate) fn trim_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

pub(crate) fn fmt_num(v: Option<f64>) -> Option<String> {
    v.map(|v| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{}", (v * 100.0).round() / 100.0) })
}

/// What keyword search looks in: name, investor and 项目统一代码, lower-cased, in one column.
pub(crate) fn search_text(name: &str, investor: &str, code: Option<&str>) -> String {
    format!("{name}|{investor}|{}", code.unwrap_or("")).to_lowercase()
}

/// A number with thousands separators (36,000 or 1,234.5), as clerks read amounts.
pub fn grouped(v: f64) -> String {
    let text = fmt_num(Some(v)).unwrap_or_default();
    let (int, frac) = text.split_once('.').map(|(a, b)| (a.to_owned(), format!(".{b}"))).unwrap_or((text.clone(), String::new()));
    let (sign, digits) = int.strip_prefix('-').map(|d| ("-", d.to_owned())).unwrap_or(("", int.clone()));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}{frac}")
}

/// 11-digit mainland mobile or a landline with area code (0766-8888888).
pub fn valid_phone(p: &str) -> bool {
    let p = p.trim();
    let mobile = p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit());
    let landline = {
        let digits: String = p.chars().filter(|c| *c != '-').collect();
        p.starts_with('0') && (10..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    };
    mobile || landline
}

/// 项目统一代码: `YYYY-AAAAAA-II-TT-NNNNNN` (year, division, GB/T 4754 division number, type 01 审批 /
/// 02 核准 / 03 备案, serial), with the division in `city`.
pub fn check_code(code: &str, city: &RegionCode) -> Result<(), String> {
    let parts: Vec<&str> = code.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 5
        || !digits(parts[0], 4)
        || !digits(parts[1], 6)
        || !digits(parts[2], 2)
        || !digits(parts[3], 2)
        || !digits(parts[4], 6)
    {
        return Err("项目统一代码格式应为 YYYY-AAAAAA-II-TT-NNNNNN，例如 2026-445302-39-03-000128".into());
    }
    let year: i32 = parts[0].parse().unwrap_or(0);
    if !(2014..=2100).contains(&year) {
        return Err("项目统一代码的年份不正确".into());
    }
    match RegionCode::parse(parts[1]) {
        Ok(r) if city.contains(&r) => {}
        _ => return Err(format!("项目统一代码的区划代码 {} 不在本市范围内", parts[1])),
    }
    let div: u32 = parts[2].parse().unwrap_or(0);
    if !(1..=97).contains(&div) {
        return Err("项目统一代码的行业代码应为 01–97".into());
    }
    if !matches!(parts[3], "01" | "02" | "03") {
        return Err("项目统一代码的项目类型应为 01（审批）、02（核准）或 03（备案）".into());
    }
    Ok(())
}

const COLS: &str = "p.id, p.code, p.name, p.investor, p.investor_origin, p.industry_code, p.amount, p.land_area, p.expected_output, \
    p.expected_tax, p.contact_name, p.contact_phone, p.contact_phone_mask, p.source, p.first_contact_date, p.region_code, \
    (SELECT name FROM regions WHERE code = p.region_code), p.pending_region, p.stage, p.is_legacy, p.is_demo, p.remark, p.instance_id, \
    p.version, p.created_by_name, p.created_at, p.updated_at, p.signed_at, p.produced_at";

impl InvService {
    pub fn new(iam: Iam, wf: WfService) -> Self {
        InvService { iam, wf }
    }

    pub fn wf(&self) -> &WfService {
        &self.wf
    }

    pub(crate) fn now(&self) -> i64 {
        self.iam.now()
    }

    pub(crate) fn db(&self) -> &tg_db::Db {
        self.iam.db()
    }

    pub(crate) fn city(&self) -> IamResult<RegionCode> {
        RegionCode::parse(self.wf.city()).map_err(|e| IamError::Internal(e.to_string()))
    }

    async fn stage_name(&self, stage: &str) -> String {
        if stage == "terminated" {
            return "已终止".into();
        }
        match self.wf.latest(DEFINITION).await {
            Ok(d) => d.state_name(stage).to_owned(),
            Err(_) => stage.to_owned(),
        }
    }

    /// A project row as the API shows it: the contact phone is always masked (an edit that sends
    /// the masked value back keeps the stored number).
    fn project_from(&self, r: &tg_db::Row, stage_name: String) -> IamResult<Project> {
        let industry: String = r.try_get(5)?;
        let phone: String = r.try_get(12)?;
        Ok(Project {
            id: r.try_get(0)?,
            code: r.try_get(1)?,
            name: r.try_get(2)?,
            investor: r.try_get(3)?,
            investor_origin: r.try_get(4)?,
            industry_name: industry::name(&industry).unwrap_or("").to_owned(),
            industry_code: industry,
            amount: r.try_get(6)?,
            land_area: r.try_get(7)?,
            expected_output: r.try_get(8)?,
            expected_tax: r.try_get(9)?,
            contact_name: r.try_get(10)?,
            contact_phone: phone,
            source: r.try_get(13)?,
            first_contact_date: r.try_get(14)?,
            region_code: r.try_get(15)?,
            region_name: r.try_get::<Option<String>, _>(16)?.unwrap_or_default(),
            pending_region: r.try_get(17)?,
            stage: r.try_get(18)?,
            stage_name,
            is_legacy: r.try_get::<i64, _>(19)? != 0,
            is_demo: r.try_get::<i64, _>(20)? != 0,
            remark: r.try_get(21)?,
            instance_id: r.try_get(22)?,
            version: r.try_get(23)?,
            created_by_name: r.try_get(24)?,
            created_at: r.try_get(25)?,
            updated_at: r.try_get(26)?,
            signed_at: r.try_get(27)?,
            produced_at: r.try_get(28)?,
        })
    }

    /// Whether the project is in the caller's scope (its county, or the county it is being transferred to).
    fn in_scope(actor: &Principal, region: &str, pending: Option<&str>) -> bool {
        let ok = |c: &str| RegionCode::parse(c).map(|r| actor.scope.region.contains(&r)).unwrap_or(false);
        ok(region) || pending.is_some_and(ok)
    }

    /// A project the caller may see (404 for others, so ids do not leak).
    pub async fn get(&self, actor: &Principal, id: i64) -> IamResult<Project> {
        static SQL: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!("SELECT {COLS} FROM inv_projects p WHERE p.id = $1 AND p.deleted_at IS NULL"));
        let r = sqlx::query(&SQL)
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| IamError::not_found("项目", "inv.project_not_found"))?;
        let stage: String = r.try_get(18)?;
        let name = self.stage_name(&stage).await;
        self.visible_project(actor, &r, name)
    }

    /// The project of a row of [`COLS`] if the caller may see it (404 otherwise, so ids do not leak).
    fn visible_project(&self, actor: &Principal, r: &tg_db::Row, stage_name: String) -> IamResult<Project> {
        let region: String = r.try_get(15)?;
        let pending: Option<String> = r.try_get(17)?;
        if !Self::in_scope(actor, &region, pending.as_deref()) {
            return Err(IamError::not_found("项目", "inv.project_not_found"));
        }
        self.project_from(r, stage_name)
    }

    /// Facts for the workflow's guards and field permissions.
    pub async fn facts(&self, p: &Project) -> IamResult<Facts> {
        let mut conn = self.db().pool().acquire().await?;
        self.facts_on(&mut conn, p).await
    }

    /// [`Self::facts`] on a given connection (inside a transaction).
    pub async fn facts_on(&self, conn: &mut sqlx::AnyConnection, p: &Project) -> IamResult<Facts> {
        let rows = sqlx::query("SELECT DISTINCT kind FROM inv_materials WHERE project_id = $1 AND status = 'submitted'")
            .bind(p.id)
            .fetch_all(&mut *conn)
            .await?;
        Self::facts_from(p, &rows)
    }

    /// The facts from the project and the kinds of its submitted materials (rows of one column).
    fn facts_from(p: &Project, material_kinds: &[tg_db::Row]) -> IamResult<Facts> {
        let mut f = Facts { labels: FIELDS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() };
        let text = |s: &str| !s.trim().is_empty();
        for (k, filled) in [
            ("name", text(&p.name)),
            ("investor", text(&p.investor)),
            ("investor_origin", p.investor_origin.as_deref().is_some_and(text)),
            ("industry_code", text(&p.industry_code)),
            ("amount", p.amount > 0.0),
            ("land_area", p.land_area.is_some()),
            ("expected_output", p.expected_output.is_some()),
            ("expected_tax", p.expected_tax.is_some()),
            ("contact_name", text(&p.contact_name)),
            ("contact_phone", text(&p.contact_phone)),
            ("source", text(&p.source)),
            ("first_contact_date", text(&p.first_contact_date)),
            ("region_code", text(&p.region_code)),
            ("remark", p.remark.as_deref().is_some_and(text)),
        ] {
            if filled {
                f.filled.insert(k.to_owned());
            }
        }
        for r in material_kinds {
            f.attachments.insert(r.try_get(0)?);
        }
        Ok(f)
    }

    /// Facts of the project an instance belongs to (empty when the project is gone).
    pub async fn facts_for_instance(&self, instance: i64) -> IamResult<Facts> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM inv_projects p WHERE p.instance_id = $1"))
            .bind(instance)
            .fetch_optional(self.db().pool())
            .await?;
        match r {
            Some(r) => {
                let p = self.project_from(&r, String::new())?;
                self.facts(&p).await
            }
            None => Ok(Facts { labels: FIELDS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() }),
        }
    }

    fn summary(p: &Project) -> Vec<Fact> {
        vec![
            Fact { label: "投资方".into(), value: p.investor.clone() },
            Fact { label: "所属行业".into(), value: p.industry_name.clone() },
            Fact { label: "投资额".into(), value: format!("{} 万元", grouped(p.amount)) },
            Fact { label: "所属县区".into(), value: p.region_name.clone() },
            Fact { label: "首接日期".into(), value: p.first_contact_date.clone() },
        ]
    }

    /// The project with its workflow view, materials and transfers.
    pub async fn detail(&self, actor: &Principal, id: i64) -> IamResult<ProjectDetail> {
        let project = self.get(actor, id).await?;
        let workflow = match project.instance_id {
            Some(i) => {
                let facts = self.facts(&project).await?;
                Some(self.wf.view(actor, i, &facts).await?)
            }
            None => None,
        };
        let materials = materials::list(self, id).await?;
        let transfers = self.transfers_of(id).await?;
        Ok(ProjectDetail { project, workflow, materials, transfers })
    }

    /// Validates an input into normalised column values.
    pub(crate) fn validate(&self, actor: &Principal, input: &ProjectInput, today: &str) -> IamResult<Normalised> {
        let mut v = ValidationErrors::new();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            v.add("name", "请填写项目名称（不超过100字）");
        }
        let investor = input.investor.trim().to_owned();
        if investor.is_empty() || investor.chars().count() > 100 {
            v.add("investor", "请填写投资方（不超过100字）");
        }
        let industry = industry::resolve(&input.industry_code);
        if industry.is_none() {
            v.add("industry_code", "请选择国民经济行业分类（GB/T 4754）中的行业");
        }
        if !(input.amount.is_finite() && input.amount > 0.0 && input.amount < 1e8) {
            v.add("amount", "投资额须为大于0的数（万元）");
        }
        for (f, val) in [("land_area", input.land_area), ("expected_output", input.expected_output), ("expected_tax", input.expected_tax)] {
            if let Some(x) = val {
                if !(x.is_finite() && (0.0..1e9).contains(&x)) {
                    v.add(f, "须为不小于0的数");
                }
            }
        }
        let contact = input.contact_name.trim().to_owned();
        if contact.is_empty() || contact.chars().count() > 30 {
            v.add("contact_name", "请填写联系人");
        }
        let phone = input.contact_phone.trim().to_owned();
        if !valid_phone(&phone) {
            v.add("contact_phone", "联系电话须为11位手机号或带区号的固定电话");
        }
        if !SOURCES.contains(&input.source.trim()) {
            v.add("source", "请选择项目来源");
        }
        let date = input.first_contact_date.trim().to_owned();
        match tg_workflow::calendar::parse_date(&date) {
            Some(d) if tg_workflow::calendar::fmt_date(d).as_str() <= today => {}
            Some(_) => v.add("first_contact_date", "首接日期不能晚于今天"),
            None => v.add("first_contact_date", "首接日期格式应为 YYYY-MM-DD"),
        }
        let region = match trim_opt(&input.region_code) {
            Some(r) => r,
            None => actor.region.as_str().to_owned(),
        };
        match RegionCode::parse(&region) {
            Ok(r) if r.level() == tg_kernel::RegionLevel::County && actor.scope.region.contains(&r) => {}
            Ok(r) if r.level() == tg_kernel::RegionLevel::County => v.add("region_code", "只能填报本人数据范围内的县（市、区）项目"),
            _ => v.add("region_code", "请选择项目所属的县（市、区）"),
        }
        let remark = trim_opt(&input.remark);
        if remark.as_deref().is_some_and(|r| r.chars().count() > 1000) {
            v.add("remark", "备注不能超过1000字");
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        Ok(Normalised {
            name,
            investor,
            investor_origin: trim_opt(&input.investor_origin),
            industry_code: industry.unwrap_or_default().to_owned(),
            amount: input.amount,
            land_area: input.land_area,
            expected_output: input.expected_output,
            expected_tax: input.expected_tax,
            contact_name: contact,
            contact_phone: phone,
            source: input.source.trim().to_owned(),
            first_contact_date: date,
            region_code: region,
            remark,
        })
    }

    pub(crate) fn today(&self) -> String {
        tg_workflow::calendar::fmt_date(tg_workflow::engine::beijing_today(self.now()))
    }

    /// Creates a project (暂存, or submitted to 县区在谈审核 when `submit`).
    pub async fn create(&self, ctx: &AuditCtx, actor: &Principal, input: &ProjectInput) -> IamResult<ProjectDetail> {
        let n = self.validate(actor, input, &self.today())?;
        let mut tx = self.db().begin().await?;
        let id = self.insert(&mut tx, actor, &n, "draft", false, None, false).await?;
        let p = self.project_in(&mut tx, id).await?;
        let mut out = self.wf.start_in(&mut tx, ctx, actor, DEFINITION, id, &p.name, &Self::summary(&p), &p.region_code).await?;
        sqlx::query("UPDATE inv_projects SET instance_id = $1 WHERE id = $2").bind(out.instance_id).bind(id).execute(&mut *tx).await?;
        self.log_change(&mut tx, id, actor, "create", &[]).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("inv.project.create", format!("inv_project:{id}"))).await?;
        if input.submit == Some(true) {
            let mut p = p;
            p.instance_id = Some(out.instance_id);
            let facts = self.facts_on(&mut tx, &p).await?;
            let act = WfActInput { action: "submit".into(), version: 1, ..Default::default() };
            let o2 = self.wf.act_in(&mut tx, ctx, actor, out.instance_id, &act, &facts).await?;
            self.apply(&mut tx, actor, id, &o2).await?;
            out = o2;
        }
        self.wf.commit(tx, &out).await?;
        self.detail(actor, id).await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert(
        &self,
        tx: &mut tg_db::Tx,
        actor: &Principal,
        n: &Normalised,
        stage: &str,
        legacy: bool,
        code: Option<&str>,
        demo: bool,
    ) -> IamResult<i64> {
        let now = self.now();
        let sealed = self.iam.keys().seal(PHONE_DOMAIN, PHONE_AAD, &n.contact_phone)?;
        let r = sqlx::query(
            "INSERT INTO inv_projects (name, investor, investor_origin, industry_code, amount, land_area, expected_output, expected_tax, \
             contact_name, contact_phone, contact_phone_mask, source, first_contact_date, region_code, stage, code, is_legacy, is_demo, remark, \
             created_by, created_by_name, created_at, updated_at, search_text, search_grams) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23, $24) RETURNING id",
        )
        .bind(&n.name)
        .bind(&n.investor)
        .bind(&n.investor_origin)
        .bind(&n.industry_code)
        .bind(n.amount)
        .bind(n.land_area)
        .bind(n.expected_output)
        .bind(n.expected_tax)
        .bind(&n.contact_name)
        .bind(sealed)
        .bind(tg_kernel::pii::mask_phone(&n.contact_phone))
        .bind(&n.source)
        .bind(&n.first_contact_date)
        .bind(&n.region_code)
        .bind(stage)
        .bind(code)
        .bind(i64::from(legacy))
        .bind(i64::from(demo))
        .bind(&n.remark)
        .bind(actor.user_id)
        .bind(&actor.display_name)
        .bind(now)
        .bind(search_text(&n.name, &n.investor, code))
        .bind(search::search_grams(&search_text(&n.name, &n.investor, code)))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| if tg_db::is_unique_violation(&e) { IamError::conflict("inv.code_taken", "项目统一代码已被其他项目使用") } else { e.into() })?;
        Ok(r.try_get(0)?)
    }

    pub(crate) async fn project_in(&self, tx: &mut tg_db::Tx, id: i64) -> IamResult<Project> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM inv_projects p WHERE p.id = $1")).bind(id).fetch_one(&mut **tx).await?;
        self.project_from(&r, String::new())
    }

    /// Edits a project: only fields editable at the current step (all fields on legacy records).
    pub async fn update(&self, ctx: &AuditCtx, actor: &Principal, id: i64, input: &ProjectInput) -> IamResult<ProjectDetail> {
        let old = self.get(actor, id).await?;
        let version = input.version.ok_or_else(|| IamError::field("version", "缺少版本号"))?;
        if version != old.version {
            return Err(IamError::conflict("inv.conflict", "项目已被他人修改，请刷新后重试"));
        }
        let mut input = input.clone();
        if input.contact_phone.trim() == old.contact_phone {
            input.contact_phone = self.stored_phone(id).await?;
        }
        let n = self.validate(actor, &input, &self.today())?;
        let old = Project { contact_phone: self.stored_phone(id).await?, ..old };
        let facts = self.facts(&old).await?;
        let perms = match old.instance_id {
            Some(i) => Some(self.wf.perms_of(actor, i, &facts).await?),
            None => None,
        };
        let may = |f: &str| old.is_legacy || perms.as_ref().is_some_and(|p| p.get(f).map(String::as_str) == Some("edit"));
        let new_vals = n.values();
        let old_vals = Normalised::from_project(&old).values();
        let mut changes = Vec::new();
        let mut v = ValidationErrors::new();
        for ((f, label), (a, b)) in FIELDS.iter().zip(old_vals.iter().zip(new_vals.iter())) {
            if a == b {
                continue;
            }
            if !may(f) || (*f == "region_code" && old.is_legacy && old.instance_id.is_some()) {
                v.add(f, format!("当前环节不能修改「{label}」"));
                continue;
            }
            let shown = |x: &Option<String>| match *f {
                "contact_phone" => x.as_deref().map(tg_kernel::pii::mask_phone),
                "industry_code" => x.as_deref().map(|c| format!("{c} {}", industry::name(c).unwrap_or(""))),
                _ => x.clone(),
            };
            changes.push(WfChange { field: f.to_string(), label: label.to_string(), before: shown(a), after: shown(b) });
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        if changes.is_empty() {
            return self.detail(actor, id).await;
        }
        let mut tx = self.db().begin().await?;
        let sealed = self.iam.keys().seal(PHONE_DOMAIN, PHONE_AAD, &n.contact_phone)?;
        let done = sqlx::query(
            "UPDATE inv_projects SET name = $1, investor = $2, investor_origin = $3, industry_code = $4, amount = $5, land_area = $6, \
             expected_output = $7, expected_tax = $8, contact_name = $9, contact_phone = $10, contact_phone_mask = $11, source = $12, \
             first_contact_date = $13, region_code = $14, remark = $15, version = version + 1, updated_at = $16, search_text = $19, search_grams = $20 \
             WHERE id = $17 AND version = $18 AND deleted_at IS NULL",
        )
        .bind(&n.name)
        .bind(&n.investor)
        .bind(&n.investor_origin)
        .bind(&n.industry_code)
        .bind(n.amount)
        .bind(n.land_area)
        .bind(n.expected_output)
        .bind(n.expected_tax)
        .bind(&n.contact_name)
        .bind(sealed)
        .bind(tg_kernel::pii::mask_phone(&n.contact_phone))
        .bind(&n.source)
        .bind(&n.first_contact_date)
        .bind(&n.region_code)
        .bind(&n.remark)
        .bind(self.now())
        .bind(id)
        .bind(version)
        .bind(search_text(&n.name, &n.investor, old.code.as_deref()))
        .bind(search::search_grams(&search_text(&n.name, &n.investor, old.code.as_deref())))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(IamError::conflict("inv.conflict", "项目已被他人修改，请刷新后重试"));
        }
        if let Some(i) = old.instance_id {
            if old.region_code != n.region_code {
                sqlx::query("UPDATE wf_instances SET region_code = $1 WHERE id = $2")
                    .bind(&n.region_code)
                    .bind(i)
                    .execute(&mut *tx)
                    .await?;
            }
            let p = self.project_in(&mut tx, id).await?;
            let mut p2 = p.clone();
            p2.region_name = self.region_name(&mut tx, &p.region_code).await?;
            p2.industry_name = industry::name(&p.industry_code).unwrap_or("").to_owned();
            self.wf.describe_in(&mut tx, i, &p2.name, &Self::summary(&p2)).await?;
        }
        let action = if old.is_legacy { "supplement" } else { "update" };
        self.log_change(&mut tx, id, actor, action, &changes).await?;
        let mut ev = AuditEvent::success("inv.project.update", format!("inv_project:{id}"));
        ev.detail = changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>().join(",");
        self.iam.audit(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        self.detail(actor, id).await
    }

    /// The stored contact phone in clear (for comparing edits; never sent to clients).
    async fn stored_phone(&self, id: i64) -> IamResult<String> {
        let sealed: String =
            sqlx::query("SELECT contact_phone FROM inv_projects WHERE id = $1").bind(id).fetch_one(self.db().pool()).await?.try_get(0)?;
        self.iam.keys().open(PHONE_DOMAIN, PHONE_AAD, &sealed)
    }

    pub(crate) async fn region_name(&self, conn: &mut sqlx::AnyConnection, code: &str) -> IamResult<String> {
        let r = sqlx::query("SELECT name FROM regions WHERE code = $1").bind(code).fetch_optional(&mut *conn).await?;
        Ok(match r {
            Some(r) => r.try_get(0)?,
            None => code.to_owned(),
        })
    }

    pub(crate) async fn log_change(
        &self,
        tx: &mut tg_db::Tx,
        id: i64,
        actor: &Principal,
        action: &str,
        changes: &[WfChange],
    ) -> IamResult<()> {
        self.log_change_later(tx, id, actor, action, changes);
        Ok(tx.flush().await?)
    }

    /// Like [`Self::log_change`], but leaves the row queued in `tx` (see [`tg_db::Tx::later`]).
    pub(crate) fn log_change_later(&self, tx: &mut tg_db::Tx, id: i64, actor: &Principal, action: &str, changes: &[WfChange]) {
        tx.later(
            "INSERT INTO inv_changes (project_id, at, actor_id, actor_name, action, changes) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                id.into(),
                self.now().into(),
                actor.user_id.into(),
                (&actor.display_name).into(),
                action.into(),
                serde_json::to_string(changes).unwrap_or_else(|_| "[]".into()).into(),
            ],
        );
    }

    /// Soft-deletes a project (drafts and projects still in negotiation only; audited) and ends its workflow.
    pub async fn delete(&self, ctx: &AuditCtx, actor: &Principal, id: i64, version: i64, reason: &str) -> IamResult<()> {
        let p = self.get(actor, id).await?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(IamError::field("reason", "请填写删除原因（不超过500字）"));
        }
        if !matches!(p.stage.as_str(), "draft" | "county_review" | "negotiating" | "terminated") && !p.is_legacy {
            return Err(IamError::conflict("inv.not_deletable", format!("项目已进入「{}」环节，不能删除，可终止流程", p.stage_name)));
        }
        let mut tx = self.db().begin().await?;
        let n = sqlx::query("UPDATE inv_projects SET deleted_at = $1, deleted_by = $2, delete_reason = $3, version = version + 1 WHERE id = $4 AND version = $5 AND deleted_at IS NULL")
            .bind(self.now())
            .bind(actor.user_id)
            .bind(reason)
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(IamError::conflict("inv.conflict", "项目已被他人修改，请刷新后重试"));
        }
        if let Some(i) = p.instance_id {
            self.wf.cancel_in(&mut tx, actor, i, reason).await?;
        }
        self.log_change(
            &mut tx,
            id,
            actor,
            "delete",
            &[WfChange { field: "deleted".into(), label: "删除原因".into(), before: None, after: Some(reason.to_owned()) }],
        )
        .await?;
        let mut ev = AuditEvent::success("inv.project.delete", format!("inv_project:{id}"));
        ev.detail = reason.to_owned();
        self.iam.audit(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The reads [`Self::act_with`] needs, for [`tg_workflow::WfService::snapshot_with`] to send with
    /// the instance's (`$1` the instance): the project and the kinds of its submitted materials.
    pub fn act_reads(instance_id: i64) -> Vec<(&'static str, Vec<tg_db::Arg>)> {
        static PROJECT: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!("SELECT {COLS} FROM inv_projects p WHERE p.instance_id = $1 AND p.deleted_at IS NULL"));
        const KINDS: &str = "SELECT DISTINCT kind FROM inv_materials \
             WHERE project_id = (SELECT id FROM inv_projects WHERE instance_id = $1) AND status = 'submitted'";
        vec![(PROJECT.as_str(), vec![instance_id.into()]), (KINDS, vec![instance_id.into()])]
    }

    /// Acts on the project's workflow and mirrors the result into the project.
    pub async fn act(&self, ctx: &AuditCtx, actor: &Principal, instance_id: i64, input: &WfActInput) -> IamResult<WfView> {
        let (snapshot, reads) = self.wf.snapshot_with(instance_id, &Self::act_reads(instance_id)).await?;
        match self.act_with(ctx, actor, instance_id, input, snapshot, reads).await {
            // Another process appended to the audit chain meanwhile: nothing was written, try again.
            Err(e) if tg_workflow::engine::chain_moved(&e) => {
                let (snapshot, reads) = self.wf.snapshot_with(instance_id, &Self::act_reads(instance_id)).await?;
                self.act_with(ctx, actor, instance_id, input, snapshot, reads).await
            }
            r => r,
        }
    }

    /// [`Self::act`] with the instance's snapshot and the rows of [`Self::act_reads`], read together.
    pub async fn act_with(
        &self,
        ctx: &AuditCtx,
        actor: &Principal,
        instance_id: i64,
        input: &WfActInput,
        snapshot: tg_workflow::Snapshot,
        reads: Vec<Vec<tg_db::Row>>,
    ) -> IamResult<WfView> {
        let (Some(project), Some(kinds)) = (reads.first(), reads.get(1)) else {
            return Err(IamError::Internal("the project's reads are missing".into()));
        };
        let r = project.first().ok_or_else(|| IamError::not_found("项目", "inv.project_not_found"))?;
        let p = self.visible_project(actor, r, String::new())?;
        let id = p.id;
        let facts = Self::facts_from(&p, kinds)?;
        // Lazily begun: `BEGIN` travels with the operation's first statement (its claim).
        let mut tx = self.db().begin_lazy();
        let out = self.wf.act_in_with(&mut tx, ctx, actor, instance_id, input, &facts, Some(snapshot)).await?;
        // A read in `apply` may be what sends the queued claim.
        self.apply(&mut tx, actor, id, &out).await.map_err(tg_workflow::engine::claim_lost)?;
        // After a confirmed transfer out of the caller's county the project is no longer theirs.
        self.wf.commit_and_view(tx, &out, actor, &facts).await.map_err(|e| match e {
            IamError::OutOfScope => IamError::conflict("inv.transferred", "项目已流转至其他县（市、区）"),
            e => e,
        })
    }

    /// Fills in the keyword index pairs of projects written before the index existed (or by a tool
    /// that wrote only `search_text`), in batches. Returns how many projects it indexed.
    pub async fn reindex_search(&self) -> IamResult<u64> {
        let mut last = 0i64;
        let mut done = 0u64;
        loop {
            let rows = sqlx::query(
                "SELECT id, search_text FROM inv_projects WHERE id > $1 AND search_grams = '' AND search_text <> '' ORDER BY id LIMIT 500",
            )
            .bind(last)
            .fetch_all(self.db().pool())
            .await?;
            let Some(r) = rows.last() else { return Ok(done) };
            last = r.try_get(0)?;
            let mut tx = self.db().begin().await?;
            for r in &rows {
                let text: String = r.try_get(1)?;
                let id: i64 = r.try_get(0)?;
                sqlx::query("UPDATE inv_projects SET search_grams = $1 WHERE id = $2 AND search_grams = ''")
                    .bind(search::search_grams(&text))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done += rows.len() as u64;
        }
    }

    /// Mirrors a workflow outcome into the project: stage, region, transfers, signing/production dates.
    pub(crate) async fn apply(&self, tx: &mut tg_db::Tx, actor: &Principal, id: i64, out: &Outcome) -> IamResult<()> {
        let stage = if out.status == "terminated" { "terminated".to_owned() } else { out.to_state.clone() };
        let now = self.now();
        let today = self.today();
        let pending = match &out.transfer {
            Some((TransitionKind::TransferRegion, to)) => Some(to.clone()),
            _ => None,
        };
        // Writes are queued (see `tg_db::Tx::later`): after a workflow operation they go to the
        // database together with the operation's own.
        if tx.backend() == tg_db::Backend::Sqlite {
            // SQLite rewrites the entries of every index over a column named in `SET`, whether its
            // value changes or not, and a project has nine indexes over its stage, region and
            // pending region. Name them only where they change; PostgreSQL compares the values
            // itself, so there one statement does it (see the arm below).
            tx.later("UPDATE inv_projects SET version = version + 1, updated_at = $1 WHERE id = $2", vec![now.into(), id.into()]);
            tx.later("UPDATE inv_projects SET stage = $1 WHERE id = $2 AND stage <> $1", vec![(&stage).into(), id.into()]);
            tx.later(
                "UPDATE inv_projects SET region_code = $1, pending_region = $2 \
                 WHERE id = $3 AND (region_code <> $1 OR COALESCE(pending_region, '') <> COALESCE($2, ''))",
                vec![(&out.region_code).into(), pending.clone().into(), id.into()],
            );
        } else {
            tx.later(
                "UPDATE inv_projects SET stage = $1, region_code = $2, pending_region = $3, version = version + 1, updated_at = $4 WHERE id = $5",
                vec![(&stage).into(), (&out.region_code).into(), pending.clone().into(), now.into(), id.into()],
            );
        }
        if stage == "signed" && out.from_state == "sign_review" {
            tx.later("UPDATE inv_projects SET signed_at = $1 WHERE id = $2 AND signed_at IS NULL", vec![(&today).into(), id.into()]);
        }
        if stage == "producing" {
            tx.later("UPDATE inv_projects SET produced_at = $1 WHERE id = $2", vec![(&today).into(), id.into()]);
        }
        match &out.transfer {
            Some((TransitionKind::TransferRegion, to)) => {
                let from: String = tx
                    .read("SELECT region_code FROM inv_projects WHERE id = $1", vec![id.into()])
                    .await?
                    .first()
                    .ok_or(IamError::not_found("项目", "inv.not_found"))?
                    .try_get(0)?;
                tx.later(
                    "INSERT INTO inv_transfers (project_id, from_region, to_region, status, reason, created_at, created_by_name) VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
                    vec![id.into(), from.into(), to.into(), (&out.comment).into(), now.into(), (&actor.display_name).into()],
                );
            }
            Some((kind, _)) => {
                let status = if *kind == TransitionKind::Confirm { "confirmed" } else { "returned" };
                tx.later(
                    "UPDATE inv_transfers SET status = $1, reply = $2, handled_at = $3, handled_by_name = $4 WHERE project_id = $5 AND status = 'pending'",
                    vec![status.into(), (&out.comment).into(), now.into(), (&actor.display_name).into(), id.into()],
                );
                if *kind == TransitionKind::Confirm {
                    let from: String = tx
                        .read("SELECT from_region FROM inv_transfers WHERE project_id = $1 ORDER BY id DESC LIMIT 1", vec![id.into()])
                        .await?
                        .first()
                        .ok_or(IamError::not_found("流转记录", "inv.transfer_not_found"))?
                        .try_get(0)?;
                    let (before, after) = (self.region_name(tx, &from).await?, self.region_name(tx, &out.region_code).await?);
                    self.log_change(
                        tx,
                        id,
                        actor,
                        "transfer",
                        &[WfChange {
                            field: "region_code".into(),
                            label: "所属县（市、区）".into(),
                            before: Some(before),
                            after: Some(after),
                        }],
                    )
                    .await?;
                    let p = self.project_in(tx, id).await?;
                    let mut p2 = p.clone();
                    p2.region_name = self.region_name(tx, &p.region_code).await?;
                    p2.industry_name = industry::name(&p.industry_code).unwrap_or("").to_owned();
                    self.wf.describe_in(tx, out.instance_id, &p2.name, &Self::summary(&p2)).await?;
                }
            }
            None => {}
        }
        if out.to_state != out.from_state || out.status == "terminated" {
            let to = if stage == "terminated" { "已终止".to_owned() } else { out.to_name.clone() };
            self.log_change_later(
                tx,
                id,
                actor,
                &format!("wf.{}", out.action),
                &[WfChange { field: "stage".into(), label: "阶段".into(), before: Some(out.from_name.clone()), after: Some(to) }],
            );
        }
        Ok(())
    }

    /// The project list, filtered and scoped.
    pub async fn list(&self, actor: &Principal, f: &ProjectFilter) -> IamResult<Page<Project>> {
        let page = PageQuery { page: f.page, page_size: f.page_size };
        let (limit, offset) = page.limit_offset();
        // A capped count: a county's 50,000 projects are "10,000+", not 50,000 index entries per page view.
        let scope = self.scope(actor).await?;
        let mut count = tg_db::SqlBuf::new("SELECT COUNT(*) FROM (SELECT 1 FROM inv_projects p");
        Self::scope_filter(&scope, &mut count);
        self.filter(f, &mut count)?;
        count.push(" LIMIT ").bind(tg_kernel::page::COUNT_CAP + 1).push(") c");
        let total: i64 = count.query().fetch_one(self.db().pool()).await?.try_get(0)?;
        let mut sel = tg_db::SqlBuf::new("");
        sel.push("SELECT ").push(COLS).push(" FROM inv_projects p");
        Self::scope_filter(&scope, &mut sel);
        self.filter(f, &mut sel)?;
        sel.push(" ORDER BY p.id DESC LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let rows = sel.query().fetch_all(self.db().pool()).await?;
        let def = self.wf.latest(DEFINITION).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let stage: String = r.try_get(18)?;
            let name = if stage == "terminated" { "已终止".to_owned() } else { def.state_name(&stage).to_owned() };
            items.push(self.project_from(&r, name)?);
        }
        Ok(Page::capped(items, total, &page))
    }

    /// The caller's scope over projects: projects sit at county level, so the city sees everything,
    /// a county its own `region_code` (plus projects being transferred to it), anyone below nothing.
    /// Read once per request; [`Self::scope_filter`] writes it into each query.
    pub(crate) async fn scope(&self, actor: &Principal) -> IamResult<ListScope> {
        let city = self.city()?;
        if actor.scope.region.contains(&city) {
            return Ok(ListScope::All);
        }
        if actor.scope.region.level() != tg_kernel::RegionLevel::County {
            return Ok(ListScope::Nothing);
        }
        let own = actor.scope.region.as_str().to_owned();
        let incoming = sqlx::query("SELECT 1 FROM inv_projects WHERE pending_region = $1 AND deleted_at IS NULL LIMIT 1")
            .bind(&own)
            .fetch_optional(self.db().pool())
            .await?
            .is_some();
        Ok(ListScope::County { own, incoming })
    }

    /// The scope as the query's first condition (live projects only).
    pub(crate) fn scope_filter(scope: &ListScope, b: &mut tg_db::SqlBuf) {
        b.push(" WHERE p.deleted_at IS NULL");
        match scope {
            ListScope::All => {}
            ListScope::Nothing => {
                b.push(" AND 1 = 0");
            }
            ListScope::County { own, incoming: true } => {
                b.push(" AND (p.region_code = ").bind(own.clone()).push(" OR p.pending_region = ").bind(own.clone()).push(")");
            }
            ListScope::County { own, incoming: false } => {
                b.push(" AND p.region_code = ").bind(own.clone());
            }
        }
    }

    pub(crate) fn filter(&self, f: &ProjectFilter, b: &mut tg_db::SqlBuf) -> IamResult<()> {
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            // The pair index narrows the candidates; the LIKE keeps exact substring semantics.
            match search::gram_query(q, self.db().backend()) {
                Some(search::GramQuery::Fts5(m)) => {
                    b.push(" AND p.id IN (SELECT rowid FROM inv_projects_fts WHERE inv_projects_fts MATCH ").bind(m).push(")");
                }
                Some(search::GramQuery::TsQuery(m)) => {
                    b.push(" AND to_tsvector('simple', p.search_grams) @@ to_tsquery('simple', ").bind(m).push(")");
                }
                None => {}
            }
            b.push(" AND p.search_text LIKE ").bind(tg_db::SqlBuf::like_contains(&q.to_lowercase())).push(" ESCAPE '\\'");
        }
        if let Some(i) = f.industry.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if i.len() == 1 {
                b.push(" AND p.industry_code LIKE ").bind(format!("{i}%"));
            } else {
                b.push(" AND p.industry_code = ").bind(i);
            }
        }
        if let Some(r) = f.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let r = RegionCode::parse(r).map_err(|_| IamError::field("region", "区划代码不正确"))?;
            match r.level() {
                tg_kernel::RegionLevel::City => {}
                tg_kernel::RegionLevel::County => {
                    b.push(" AND p.region_code = ").bind(r.as_str());
                }
                _ => {
                    b.push(" AND 1 = 0");
                }
            }
        }
        if let Some(s) = f.stage.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            b.push(" AND p.stage = ").bind(s);
        }
        if let Some(a) = f.amount_min {
            b.push(" AND p.amount >= ").bind(a);
        }
        if let Some(a) = f.amount_max {
            b.push(" AND p.amount <= ").bind(a);
        }
        let mut range = Vec::new();
        for (v, op, field) in
            [(&f.date_from, " AND p.first_contact_date >= ", "date_from"), (&f.date_to, " AND p.first_contact_date <= ", "date_to")]
        {
            if let Some(d) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                let d = tg_workflow::calendar::parse_date(d).ok_or_else(|| IamError::field(field, "日期格式应为 YYYY-MM-DD"))?;
                b.push(op).bind(tg_workflow::calendar::fmt_date(d));
                range.push(d);
            }
        }
        if let [from, to] = range[..] {
            if from > to {
                return Err(IamError::field("date_to", "截止日期不能早于起始日期"));
            }
        }
        if let Some(l) = f.legacy {
            b.push(" AND p.is_legacy = ").bind(i64::from(l));
        }
        match f.has_code {
            Some(true) => {
                b.push(" AND p.code IS NOT NULL");
            }
            Some(false) => {
                b.push(" AND p.code IS NULL");
            }
            None => {}
        }
        Ok(())
    }

    /// The change log of a project, newest first.
    pub async fn changes(&self, actor: &Principal, id: i64, page: &PageQuery) -> IamResult<Page<ChangeEntry>> {
        self.get(actor, id).await?;
        let (limit, offset) = page.limit_offset();
        let total: i64 =
            sqlx::query("SELECT COUNT(*) FROM inv_changes WHERE project_id = $1").bind(id).fetch_one(self.db().pool()).await?.try_get(0)?;
        let rows = sqlx::query(
            "SELECT id, at, actor_name, action, changes FROM inv_changes WHERE project_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.db().pool())
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let action: String = r.try_get(3)?;
            let changes: String = r.try_get(4)?;
            let action_name = match action.as_str() {
                "create" => "新增项目".to_owned(),
                "update" => "编辑项目".to_owned(),
                "supplement" => "数据补充编辑".to_owned(),
                "delete" => "删除项目".to_owned(),
                "import" => "旧数据导入".to_owned(),
                "code" => "项目统一代码".to_owned(),
                "material" => "提交资料".to_owned(),
                "transfer" => "项目流转".to_owned(),
                "wf.submit" => "提交审核".to_owned(),
                "wf.approve" => "审核通过".to_owned(),
                "wf.return" => "退回".to_owned(),
                "wf.withdraw" => "撤回".to_owned(),
                "wf.terminate" => "终止".to_owned(),
                "wf.transfer_region" => "项目流转".to_owned(),
                "wf.confirm" => "确认接收流转".to_owned(),
                "wf.reject_transfer" => "退回流转".to_owned(),
                "wf.submit_filing" => "提交评审备案资料".to_owned(),
                "wf.submit_signing" => "提交签约信息".to_owned(),
                "wf.submit_production" => "提交达标达产信息".to_owned(),
                a if a.starts_with("wf.") => "流程流转".to_owned(),
                a => a.to_owned(),
            };
            items.push(ChangeEntry {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                actor_name: r.try_get(2)?,
                action,
                action_name,
                changes: serde_json::from_str(&changes).unwrap_or_default(),
            });
        }
        Ok(Page::new(items, total, page))
    }

    /// Sets or clears the 项目统一代码 (format-checked, unique).
    pub async fn set_code(&self, ctx: &AuditCtx, actor: &Principal, id: i64, code: Option<&str>, version: i64) -> IamResult<Project> {
        let p = self.get(actor, id).await?;
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        if let Some(c) = code {
            check_code(c, &self.city()?).map_err(|m| IamError::field("code", m))?;
            let taken = sqlx::query("SELECT id FROM inv_projects WHERE code = $1 AND id <> $2")
                .bind(c)
                .bind(id)
                .fetch_optional(self.db().pool())
                .await?;
            if taken.is_some() {
                return Err(IamError::conflict("inv.code_taken", "项目统一代码已被其他项目使用"));
            }
        } else if p.code.is_none() {
            return Err(IamError::not_found("项目统一代码", "inv.code_not_found"));
        }
        let mut tx = self.db().begin().await?;
        let n = sqlx::query(
            "UPDATE inv_projects SET code = $1, version = version + 1, updated_at = $2, search_text = $5, search_grams = $6 WHERE id = $3 AND version = $4 AND deleted_at IS NULL",
        )
        .bind(code)
        .bind(self.now())
        .bind(id)
        .bind(version)
        .bind(search_text(&p.name, &p.investor, code))
        .bind(search::search_grams(&search_text(&p.name, &p.investor, code)))
            .execute(&mut *tx)
            .await
            .map_err(|e| if tg_db::is_unique_violation(&e) { IamError::conflict("inv.code_taken", "项目统一代码已被其他项目使用") } else { e.into() })?
            .rows_affected();
        if n == 0 {
            return Err(IamError::conflict("inv.conflict", "项目已被他人修改，请刷新后重试"));
        }
        self.log_change(
            &mut tx,
            id,
            actor,
            "code",
            &[WfChange {
                field: "code".into(), label: "项目统一代码".into(), before: p.code.clone(), after: code.map(str::to_owned)
            }],
        )
        .await?;
        let mut ev = AuditEvent::success(if code.is_some() { "inv.code.set" } else { "inv.code.delete" }, format!("inv_project:{id}"));
        ev.detail = code.unwrap_or("").to_owned();
        self.iam.audit(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        self.get(actor, id).await
    }

    async fn transfers_of(&self, id: i64) -> IamResult<Vec<Transfer>> {
        let rows = sqlx::query(&format!("{TRANSFER_SELECT} WHERE t.project_id = $1 ORDER BY t.id DESC"))
            .bind(id)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter().map(transfer_from).collect()
    }

    /// Transfers in (to the caller's scope) or out (from it); both sides keep their history.
    pub async fn transfers(&self, actor: &Principal, dir: &str, status: Option<&str>, page: &PageQuery) -> IamResult<Page<Transfer>> {
        let (lo, hi) = actor.scope.bounds();
        let (limit, offset) = page.limit_offset();
        let build = |b: &mut tg_db::SqlBuf| -> IamResult<()> {
            match dir {
                "in" => {
                    b.push(" WHERE t.to_region >= ").bind(lo.clone()).push(" AND t.to_region < ").bind(hi.clone());
                }
                "out" => {
                    b.push(" WHERE t.from_region >= ").bind(lo.clone()).push(" AND t.from_region < ").bind(hi.clone());
                }
                "all" => {
                    b.push(" WHERE ((t.to_region >= ").bind(lo.clone()).push(" AND t.to_region < ").bind(hi.clone());
                    b.push(") OR (t.from_region >= ").bind(lo.clone()).push(" AND t.from_region < ").bind(hi.clone()).push("))");
                }
                _ => return Err(IamError::field("dir", "dir 只能是 in、out 或 all")),
            }
            if let Some(s) = status.filter(|s| !s.is_empty()) {
                b.push(" AND t.status = ").bind(s);
            }
            Ok(())
        };
        let mut count = tg_db::SqlBuf::new("SELECT COUNT(*) FROM inv_transfers t JOIN inv_projects p ON p.id = t.project_id");
        build(&mut count)?;
        let total: i64 = count.query().fetch_one(self.db().pool()).await?.try_get(0)?;
        let mut sel = tg_db::SqlBuf::new(TRANSFER_SELECT);
        build(&mut sel)?;
        sel.push(" ORDER BY t.id DESC LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let rows = sel.query().fetch_all(self.db().pool()).await?;
        let items = rows.iter().map(transfer_from).collect::<IamResult<Vec<_>>>()?;
        Ok(Page::new(items, total, page))
    }

    /// Counts and amounts by county, industry section, stage and month of first contact.
    pub async fn stats(&self, actor: &Principal, f: &ProjectFilter) -> IamResult<InvStats> {
        let f =
            ProjectFilter { region: f.region.clone(), date_from: f.date_from.clone(), date_to: f.date_to.clone(), ..Default::default() };
        let mut b = tg_db::SqlBuf::new("SELECT p.region_code, p.industry_code, p.stage, SUBSTR(p.first_contact_date, 1, 7), COUNT(*), SUM(p.amount) FROM inv_projects p");
        Self::scope_filter(&self.scope(actor).await?, &mut b);
        self.filter(&f, &mut b)?;
        b.push(" GROUP BY p.region_code, p.industry_code, p.stage, SUBSTR(p.first_contact_date, 1, 7)");
        let rows = b.query().fetch_all(self.db().pool()).await?;
        use std::collections::BTreeMap;
        let mut region: BTreeMap<String, (i64, f64)> = BTreeMap::new();
        let mut ind: BTreeMap<String, (i64, f64)> = BTreeMap::new();
        let mut stage: BTreeMap<String, (i64, f64)> = BTreeMap::new();
        let mut month: BTreeMap<String, (i64, f64)> = BTreeMap::new();
        let mut total = (0i64, 0f64);
        for r in rows {
            let rc: String = r.try_get(0)?;
            let ic: String = r.try_get(1)?;
            let st: String = r.try_get(2)?;
            let m: String = r.try_get(3)?;
            let n: i64 = r.try_get(4)?;
            let a: f64 = r.try_get::<Option<f64>, _>(5)?.unwrap_or(0.0);
            let county = RegionCode::parse(&rc)
                .ok()
                .and_then(|r| r.lineage().into_iter().find(|x| x.level() == tg_kernel::RegionLevel::County))
                .map(|r| r.as_str().to_owned())
                .unwrap_or(rc);
            for (map, key) in
                [(&mut region, county), (&mut ind, industry::section(&ic).unwrap_or("其他").to_owned()), (&mut stage, st), (&mut month, m)]
            {
                let e = map.entry(key).or_insert((0, 0.0));
                e.0 += n;
                e.1 += a;
            }
            total.0 += n;
            total.1 += a;
        }
        let def = self.wf.latest(DEFINITION).await?;
        let mut conn = self.db().pool().acquire().await?;
        let mut by_region = Vec::new();
        for (k, (n, a)) in region {
            let name = self.region_name(&mut conn, &k).await?;
            by_region.push(Stat { key: k, name, count: n, amount: round2(a) });
        }
        let by_industry = ind.into_iter().map(|(k, (n, a))| Stat { name: k.clone(), key: k, count: n, amount: round2(a) }).collect();
        let mut by_stage: Vec<Stat> = stage
            .into_iter()
            .map(|(k, (n, a))| Stat {
                name: if k == "terminated" { "已终止".into() } else { def.state_name(&k).to_owned() },
                key: k,
                count: n,
                amount: round2(a),
            })
            .collect();
        let order = |k: &str| def.states.iter().position(|s| s.code == k).unwrap_or(99);
        by_stage.sort_by_key(|s| order(&s.key));
        let by_month = month.into_iter().map(|(k, (n, a))| Stat { name: k.clone(), key: k, count: n, amount: round2(a) }).collect();
        Ok(InvStats { total: StatTotal { count: total.0, amount: round2(total.1) }, by_region, by_industry, by_stage, by_month })
    }

    /// Choices for forms and filters.
    pub async fn options(&self) -> IamResult<InvOptions> {
        let def = self.wf.latest(DEFINITION).await?;
        let mut stages: Vec<CodeName> = def.states.iter().map(|s| CodeName { code: s.code.clone(), name: s.name.clone() }).collect();
        stages.push(CodeName { code: "terminated".into(), name: "已终止".into() });
        let rows = sqlx::query("SELECT code, name FROM regions WHERE parent_code = $1 ORDER BY sort, code")
            .bind(self.wf.city())
            .fetch_all(self.db().pool())
            .await?;
        let mut counties = Vec::new();
        for r in rows {
            let code: String = r.try_get(0)?;
            counties.push(CodeName { code, name: r.try_get(1)? });
        }
        Ok(InvOptions {
            sources: SOURCES.iter().map(|s| s.to_string()).collect(),
            stages,
            counties,
            industries: industry::INDUSTRIES
                .iter()
                .map(|(c, n, s)| IndustryOption { code: c.to_string(), name: n.to_string(), section: s.to_string() })
                .collect(),
            doc_types: materials::DOC_TYPES.iter().map(|s| s.to_string()).collect(),
            max_file_mb: materials::MAX_FILE_BYTES / (1024 * 1024),
            file_types: materials::FILE_TYPES.iter().map(|(e, _)| e.to_string()).collect(),
        })
    }
}

/// `YYYY-MM-DD HH:MM` in China Standard Time.
pub(crate) fn materials_time(ms: i64) -> String {
    let t = tg_kernel::clock::to_rfc3339(ms + 8 * 3_600_000);
    t.get(0..16).unwrap_or(&t).replace('T', " ")
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

const TRANSFER_SELECT: &str = "SELECT t.id, t.project_id, p.name, t.from_region, (SELECT name FROM regions WHERE code = t.from_region), t.to_region, \
    (SELECT name FROM regions WHERE code = t.to_region), t.status, t.reason, t.reply, t.created_at, t.created_by_name, t.handled_at, t.handled_by_name \
    FROM inv_transfers t JOIN inv_projects p ON p.id = t.project_id";

fn transfer_from(r: &tg_db::Row) -> IamResult<Transfer> {
    Ok(Transfer {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        project_name: r.try_get(2)?,
        from_region: r.try_get(3)?,
        from_name: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
        to_region: r.try_get(5)?,
        to_name: r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
        status: r.try_get(7)?,
        reason: r.try_get(8)?,
        reply: r.try_get(9)?,
        created_at: r.try_get(10)?,
        created_by_name: r.try_get(11)?,
        handled_at: r.try_get(12)?,
        handled_by_name: r.try_get(13)?,
    })
}

/// Validated column values of a project.
#[derive(Debug, Clone)]
pub(crate) struct Normalised {
    pub name: String,
    pub investor: String,
    pub investor_origin: Option<String>,
    pub industry_code: String,
    pub amount: f64,
    pub land_area: Option<f64>,
    pub expected_output: Option<f64>,
    pub expected_tax: Option<f64>,
    pub contact_name: String,
    pub contact_phone: String,
    pub source: String,
    pub first_contact_date: String,
    pub region_code: String,
    pub remark: Option<String>,
}

impl Normalised {
    fn from_project(p: &Project) -> Self {
        Normalised {
            name: p.name.clone(),
            investor: p.investor.clone(),
            investor_origin: p.investor_origin.clone(),
            industry_code: p.industry_code.clone(),
            amount: p.amount,
            land_area: p.land_area,
            expected_output: p.expected_output,
            expected_tax: p.expected_tax,
            contact_name: p.contact_name.clone(),
            contact_phone: p.contact_phone.clone(),
            source: p.source.clone(),
            first_contact_date: p.first_contact_date.clone(),
            region_code: p.region_code.clone(),
            remark: p.remark.clone(),
        }
    }

    /// Values in [`FIELDS`] order, as text.
    fn values(&self) -> Vec<Option<String>> {
        vec![
            Some(self.name.clone()),
            Some(self.investor.clone()),
            self.investor_origin.clone(),
            Some(self.industry_code.clone()),
            fmt_num(Some(self.amount)),
            fmt_num(self.land_area),
            fmt_num(self.expected_output),
            fmt_num(self.expected_tax),
            Some(self.contact_name.clone()),
            Some(self.contact_phone.clone()),
            Some(self.source.clone()),
            Some(self.first_contact_date.clone()),
            Some(self.region_code.clone()),
            self.remark.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_code_format() {
        let city = RegionCode::parse("445300").unwrap();
        assert!(check_code("2026-445302-39-03-000128", &city).is_ok());
        assert!(check_code("2026-445302-39-04-000128", &city).unwrap_err().contains("项目类型"));
        assert!(check_code("2026-440300-39-03-000128", &city).unwrap_err().contains("不在本市"));
        assert!(check_code("2026445302-39-03-000128", &city).unwrap_err().contains("格式"));
        assert!(check_code("1999-445302-39-03-000128", &city).unwrap_err().contains("年份"));
    }

    #[test]
    fn grouped_amounts() {
        assert_eq!(grouped(36000.0), "36,000");
        assert_eq!(grouped(1234.5), "1,234.5");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(-1234567.0), "-1,234,567");
    }

    #[test]
    fn phones() {
        assert!(valid_phone("13800000001"));
        assert!(valid_phone("0766-8888888"));
        assert!(!valid_phone("1380000000"));
        assert!(!valid_phone("abc"));
    }
}
