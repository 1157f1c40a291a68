//! The abilities leaders use on the data: 特别关注 (follows with yellow/red thresholds and alerts
//! into the message list), 数据点评 (threaded comments visible by scope) and 领导批示 (an
//! instruction on what the leader is viewing that becomes a task for a department, with a deadline,
//! replies, returns and closure, every step traced).

use crate::values::light;
use crate::{region_visible, IndService};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{Page, PageQuery, RegionCode, ValidationErrors};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LatestValue {
    pub period: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Follow {
    pub id: i64,
    /// indicator or topic.
    pub kind: String,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub region_code: String,
    pub region_name: String,
    pub yellow: Option<f64>,
    pub red: Option<f64>,
    pub direction: String,
    pub latest: Option<LatestValue>,
    /// green, yellow or red (indicators with thresholds and a value).
    pub light: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowInput {
    /// indicator or topic.
    pub kind: String,
    pub code: String,
    /// Defaults to the caller's region.
    pub region_code: Option<String>,
    pub yellow: Option<f64>,
    pub red: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdInput {
    pub yellow: Option<f64>,
    pub red: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comment {
    pub id: i64,
    /// `indicator:<code>`, `topic:<code>` or `widget:<topic>/<widget id>`.
    pub target: String,
    pub period: Option<String>,
    pub region_code: Option<String>,
    pub region_name: Option<String>,
    pub parent_id: Option<i64>,
    pub author_name: String,
    pub author_region_name: String,
    /// region or dept.
    pub scope: String,
    pub content: String,
    pub created_at: String,
    pub can_delete: bool,
    #[schema(no_recursion)]
    pub replies: Vec<Comment>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    pub target: String,
    pub period: Option<String>,
    pub region_code: Option<String>,
    pub parent_id: Option<i64>,
    pub content: String,
    /// region (default): the author's region line of the hierarchy; dept: the author's department.
    #[serde(default = "region_scope")]
    pub scope: String,
}

fn region_scope() -> String {
    "region".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct InstructionContext {
    pub period: Option<String>,
    pub region_code: Option<String>,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstructionStep {
    /// issue, reply, return or close.
    pub action: String,
    pub actor_name: String,
    pub content: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Instruction {
    pub id: i64,
    pub target: String,
    pub target_label: String,
    pub context: InstructionContext,
    pub content: String,
    pub author_id: i64,
    pub author_name: String,
    pub department_id: i64,
    pub department_name: String,
    /// YYYY-MM-DD.
    pub deadline: String,
    /// open, replied or closed.
    pub status: String,
    pub overdue: bool,
    pub version: i64,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub log: Vec<InstructionStep>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionInput {
    pub target: String,
    pub target_label: String,
    #[serde(default)]
    pub context: InstructionContext,
    pub content: String,
    pub department_id: i64,
    /// YYYY-MM-DD, today or later.
    pub deadline: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionAction {
    pub content: String,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeptRef {
    pub id: i64,
    pub name: String,
    pub region_name: String,
}

fn today(now_ms: i64) -> String {
    crate::beijing_date(now_ms)
}

fn check_target(meta: &crate::Meta, target: &str) -> Result<String, String> {
    let (kind, code) = target.split_once(':').ok_or("对象须为 indicator:编码、topic:编码 或 widget:专题/组件")?;
    match kind {
        "indicator" => meta.indicator(code).map(|i| i.name.clone()).ok_or_else(|| "指标不存在".into()),
        "topic" => meta.topic(code).map(|t| t.name.clone()).ok_or_else(|| "专题不存在".into()),
        "widget" => {
            let (t, w) = code.split_once('/').ok_or("组件对象须为 widget:专题/组件")?;
            let topic = meta.topic(t).ok_or("专题不存在")?;
            topic
                .groups
                .iter()
                .flat_map(|g| &g.widgets)
                .find(|x| x.id == w)
                .map(|x| format!("{}·{}", topic.name, x.title))
                .ok_or_else(|| "组件不存在".into())
        }
        _ => Err("对象须为 indicator:编码、topic:编码 或 widget:专题/组件".into()),
    }
}

impl IndService {
    // ---- 特别关注 ------------------------------------------------------------------------

    pub async fn follows(&self, actor: &Principal) -> IamResult<Vec<Follow>> {
        let meta = self.meta().await?;
        let rows = sqlx::query("SELECT id, kind, target_code, region_code, yellow, red, created_at FROM ind_follows WHERE user_id = $1 ORDER BY id DESC LIMIT 500")
            .bind(actor.user_id)
            .fetch_all(self.db().pool())
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let kind: String = r.try_get(1)?;
            let code: String = r.try_get(2)?;
            let region: String = r.try_get(3)?;
            let (yellow, red): (Option<f64>, Option<f64>) = (r.try_get(4)?, r.try_get(5)?);
            let mut f = Follow {
                id: r.try_get(0)?,
                kind: kind.clone(),
                code: code.clone(),
                name: code.clone(),
                unit: String::new(),
                region_name: meta.tree.name_of(&region),
                region_code: region.clone(),
                yellow,
                red,
                direction: String::new(),
                latest: None,
                light: None,
                created_at: to_rfc3339(r.try_get(6)?),
            };
            if kind == "indicator" {
                if let Some(ind) = meta.indicator(&code).filter(|i| self.can_see(actor, &meta, i)) {
                    f.name = ind.name.clone();
                    f.unit = ind.unit.clone();
                    f.direction = ind.direction.clone();
                    let s = self.series(&meta, ind).await?;
                    if let Some(p) = s.latest(&region, "", None) {
                        let v = s.value(&region, "", p).unwrap_or(0.0);
                        f.latest = Some(LatestValue { period: p.to_string(), value: v });
                        f.light = light(ind.dir(), v, yellow, red).map(str::to_owned);
                    }
                }
            } else if let Some(t) = meta.topic(&code) {
                f.name = t.name.clone();
            }
            out.push(f);
        }
        Ok(out)
    }

    fn check_thresholds(yellow: Option<f64>, red: Option<f64>, dir: crate::compute::Direction) -> IamResult<()> {
        if yellow.is_some_and(|v| !v.is_finite()) || red.is_some_and(|v| !v.is_finite()) {
            return Err(IamError::field("yellow", "阈值须为数字"));
        }
        if let (Some(y), Some(r)) = (yellow, red) {
            let ok = match dir {
                crate::compute::Direction::Down => r >= y,
                _ => r <= y,
            };
            if !ok {
                return Err(IamError::field(
                    "red",
                    if dir == crate::compute::Direction::Down {
                        "该指标越低越好：红灯阈值须不低于黄灯阈值"
                    } else {
                        "该指标越高越好：红灯阈值须不高于黄灯阈值"
                    },
                ));
            }
        }
        Ok(())
    }

    /// Follows an indicator or a topic; an indicator already past a threshold alerts at once.
    pub async fn follow(&self, actor: &Principal, ctx: &AuditCtx, input: &FollowInput) -> IamResult<Follow> {
        let meta = self.meta().await?;
        let region = self.check_region(actor, &meta, input.region_code.as_deref())?;
        match input.kind.as_str() {
            "indicator" => {
                let ind = self.visible_indicator(actor, &meta, &input.code)?;
                Self::check_thresholds(input.yellow, input.red, ind.dir())?;
            }
            "topic" => {
                self.visible_topic(actor, &meta, &input.code)?;
                if input.yellow.is_some() || input.red.is_some() {
                    return Err(IamError::field("yellow", "专题关注不设阈值"));
                }
            }
            _ => return Err(IamError::field("kind", "关注对象须为 indicator 或 topic")),
        }
        let mut tx = self.db().begin().await?;
        let res = sqlx::query("INSERT INTO ind_follows (user_id, kind, target_code, region_code, yellow, red, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(actor.user_id)
            .bind(&input.kind)
            .bind(&input.code)
            .bind(&region)
            .bind(input.yellow)
            .bind(input.red)
            .bind(self.now())
            .execute(&mut *tx)
            .await;
        if let Err(e) = res {
            return Err(if tg_db::is_unique_violation(&e) { IamError::conflict("ind.already_followed", "已关注") } else { e.into() });
        }
        self.iam
            .audit(
                &mut tx,
                ctx,
                AuditEvent::success("ind.follow", format!("{}:{}", input.kind, input.code)).with_detail(meta.tree.name_of(&region)),
            )
            .await?;
        tx.commit().await?;
        if input.kind == "indicator" {
            self.evaluate_follows(std::slice::from_ref(&input.code)).await?;
        }
        self.follows(actor)
            .await?
            .into_iter()
            .find(|f| f.kind == input.kind && f.code == input.code && f.region_code == region)
            .ok_or_else(|| IamError::Internal("follow vanished".into()))
    }

    /// Changes the thresholds of one of the caller's follows (re-evaluated at once).
    pub async fn set_thresholds(&self, actor: &Principal, id: i64, input: &ThresholdInput) -> IamResult<Follow> {
        let meta = self.meta().await?;
        let row = sqlx::query("SELECT kind, target_code FROM ind_follows WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(actor.user_id)
            .fetch_optional(self.db().pool())
            .await?;
        let Some(row) = row else { return Err(IamError::not_found("关注", "ind.follow_not_found")) };
        let (kind, code): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if kind != "indicator" {
            return Err(IamError::field("yellow", "专题关注不设阈值"));
        }
        let ind = self.visible_indicator(actor, &meta, &code)?;
        Self::check_thresholds(input.yellow, input.red, ind.dir())?;
        sqlx::query("UPDATE ind_follows SET yellow = $1, red = $2, last_light = '' WHERE id = $3")
            .bind(input.yellow)
            .bind(input.red)
            .bind(id)
            .execute(self.db().pool())
            .await?;
        self.evaluate_follows(std::slice::from_ref(&code)).await?;
        self.follows(actor).await?.into_iter().find(|f| f.id == id).ok_or_else(|| IamError::not_found("关注", "ind.follow_not_found"))
    }

    pub async fn unfollow(&self, actor: &Principal, id: i64) -> IamResult<()> {
        let n = sqlx::query("DELETE FROM ind_follows WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(actor.user_id)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(IamError::not_found("关注", "ind.follow_not_found"));
        }
        Ok(())
    }

    /// Re-evaluates the follows of the given indicators: a follow whose light turned yellow or red
    /// (from anything else) puts an alert into its owner's message list. Returns the alerts raised.
    pub async fn evaluate_follows(&self, codes: &[String]) -> IamResult<usize> {
        let meta = self.meta().await?;
        let mut raised = 0;
        for code in codes {
            let Some(ind) = meta.indicator(code) else { continue };
            let rows = sqlx::query(
                "SELECT id, user_id, region_code, yellow, red, last_light FROM ind_follows WHERE kind = 'indicator' AND target_code = $1",
            )
            .bind(code)
            .fetch_all(self.db().pool())
            .await?;
            if rows.is_empty() {
                continue;
            }
            let s = self.series(&meta, ind).await?;
            for r in rows {
                let (id, user, region): (i64, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                let (yellow, red, last): (Option<f64>, Option<f64>, String) = (r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
                let Some(p) = s.latest(&region, "", None) else { continue };
                let v = s.value(&region, "", p).unwrap_or(0.0);
                let Some(now) = light(ind.dir(), v, yellow, red) else { continue };
                if now == last {
                    continue;
                }
                let mut tx = self.db().begin().await?;
                sqlx::query("UPDATE ind_follows SET last_light = $1 WHERE id = $2").bind(now).bind(id).execute(&mut *tx).await?;
                if now != "green" {
                    let (level, label, t) = if now == "red" { ("critical", "红灯", red) } else { ("warning", "黄灯", yellow) };
                    let title = format!("【{label}预警】{}", ind.name);
                    let body = format!(
                        "{}{}为 {}{}，已{}关注阈值 {}{}。",
                        meta.tree.name_of(&region),
                        p.label(),
                        crate::compute::round(v, 4),
                        ind.unit,
                        if ind.dir() == crate::compute::Direction::Down { "高于" } else { "低于" },
                        t.unwrap_or_default(),
                        ind.unit
                    );
                    self.iam.post_messages(&mut tx, &[user], "ind.alert", level, &title, &body).await?;
                    raised += 1;
                }
                tx.commit().await?;
            }
        }
        Ok(raised)
    }

    // ---- 数据点评 ------------------------------------------------------------------------

    fn comment_visible(actor: &Principal, scope: &str, author_region: &str, author_dept: Option<i64>) -> bool {
        match scope {
            "dept" => author_dept.is_some() && author_dept == actor.department_id,
            _ => region_visible(actor, author_region),
        }
    }

    /// Comments on a target that the caller may see, threaded (top-level comments paged).
    pub async fn comments(&self, actor: &Principal, target: &str, page: &PageQuery) -> IamResult<Page<Comment>> {
        let meta = self.meta().await?;
        check_target(&meta, target).map_err(|e| IamError::field("target", e))?;
        let rows = sqlx::query(
            "SELECT c.id, c.target, c.period, c.region_code, c.parent_id, u.display_name, c.author_region, c.author_dept, c.scope, c.content, c.created_at, c.author_id \
             FROM ind_comments c JOIN users u ON u.id = c.author_id WHERE c.target = $1 AND c.deleted = 0 ORDER BY c.id LIMIT 5000",
        )
        .bind(target)
        .fetch_all(self.db().pool())
        .await?;
        let mut all = Vec::new();
        for r in rows {
            let scope: String = r.try_get(8)?;
            let author_region: String = r.try_get(6)?;
            let author_dept: Option<i64> = r.try_get(7)?;
            if !Self::comment_visible(actor, &scope, &author_region, author_dept) {
                continue;
            }
            let region: Option<String> = r.try_get(3)?;
            let author: i64 = r.try_get(11)?;
            all.push(Comment {
                id: r.try_get(0)?,
                target: r.try_get(1)?,
                period: r.try_get(2)?,
                region_name: region.as_ref().map(|c| meta.tree.name_of(c)),
                region_code: region,
                parent_id: r.try_get(4)?,
                author_name: r.try_get(5)?,
                author_region_name: meta.tree.name_of(&author_region),
                scope,
                content: r.try_get(9)?,
                created_at: to_rfc3339(r.try_get(10)?),
                can_delete: author == actor.user_id,
                replies: Vec::new(),
            });
        }
        let (replies, mut top): (Vec<Comment>, Vec<Comment>) = all.into_iter().partition(|c| c.parent_id.is_some());
        top.reverse();
        for r in replies {
            if let Some(p) = top.iter_mut().find(|t| Some(t.id) == r.parent_id) {
                p.replies.push(r);
            }
        }
        let total = top.len() as i64;
        let (limit, offset) = page.limit_offset();
        Ok(Page::new(top.into_iter().skip(offset as usize).take(limit as usize).collect(), total, page))
    }

    pub async fn add_comment(&self, actor: &Principal, ctx: &AuditCtx, input: &CommentInput) -> IamResult<Comment> {
        let meta = self.meta().await?;
        let mut v = ValidationErrors::new();
        if let Err(e) = check_target(&meta, &input.target) {
            v.add("target", e);
        }
        if input.target.starts_with("indicator:") {
            let code = &input.target["indicator:".len()..];
            if meta.indicator(code).is_some_and(|i| !self.can_see(actor, &meta, i)) {
                v.add("target", "指标不存在");
            }
        }
        let n = input.content.trim().chars().count();
        if n == 0 || n > 1000 {
            v.add("content", "点评内容须为1-1000字");
        }
        if !["region", "dept"].contains(&input.scope.as_str()) || (input.scope == "dept" && actor.department_id.is_none()) {
            v.add("scope", "可见范围须为 region（本级及上下级）或 dept（本部门，须属于某部门）");
        }
        if let Some(r) = &input.region_code {
            if !meta.tree.name.contains_key(r) || !region_visible(actor, r) {
                v.add("region_code", "行政区划无效或超出数据权限范围");
            }
        }
        if let Some(p) = &input.period {
            if crate::period::Period::parse(p).is_none() {
                v.add("period", "统计期格式有误");
            }
        }
        v.finish()?;
        if let Some(pid) = input.parent_id {
            let row = sqlx::query("SELECT target, scope, author_region, author_dept FROM ind_comments WHERE id = $1 AND deleted = 0")
                .bind(pid)
                .fetch_optional(self.db().pool())
                .await?;
            let ok = match row {
                Some(r) => {
                    let t: String = r.try_get(0)?;
                    t == input.target
                        && Self::comment_visible(actor, &r.try_get::<String, _>(1)?, &r.try_get::<String, _>(2)?, r.try_get(3)?)
                }
                None => false,
            };
            if !ok {
                return Err(IamError::field("parent_id", "回复的点评不存在"));
            }
        }
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "INSERT INTO ind_comments (target, period, region_code, parent_id, author_id, author_region, author_dept, scope, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&input.target)
        .bind(&input.period)
        .bind(&input.region_code)
        .bind(input.parent_id)
        .bind(actor.user_id)
        .bind(actor.region.as_str())
        .bind(actor.department_id)
        .bind(&input.scope)
        .bind(input.content.trim())
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query("SELECT MAX(id) FROM ind_comments WHERE author_id = $1")
            .bind(actor.user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.comment", input.target.clone())).await?;
        tx.commit().await?;
        let all = self.comments(actor, &input.target, &PageQuery::new(1, 500)).await?;
        all.items
            .into_iter()
            .flat_map(|c| {
                let mut v = c.replies.clone();
                v.push(c);
                v
            })
            .find(|c| c.id == id)
            .ok_or_else(|| IamError::Internal("comment vanished".into()))
    }

    pub async fn delete_comment(&self, actor: &Principal, ctx: &AuditCtx, id: i64) -> IamResult<()> {
        let mut tx = self.db().begin().await?;
        let n = sqlx::query("UPDATE ind_comments SET deleted = 1 WHERE id = $1 AND author_id = $2 AND deleted = 0")
            .bind(id)
            .bind(actor.user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(IamError::not_found("点评", "ind.comment_not_found"));
        }
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.comment_delete", id.to_string())).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- 领导批示 ------------------------------------------------------------------------

    /// Departments a leader may send an instruction to: those in the leader's region subtree.
    pub async fn instruction_departments(&self, actor: &Principal) -> IamResult<Vec<DeptRef>> {
        let (lo, hi) = actor.scope.bounds();
        let rows = sqlx::query(
            "SELECT d.id, d.name, r.name FROM departments d JOIN regions r ON r.code = d.region_code \
             WHERE d.region_code >= $1 AND d.region_code < $2 AND r.level IN ('city', 'county') ORDER BY d.region_code, d.id LIMIT 500",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| Ok(DeptRef { id: r.try_get(0)?, name: r.try_get(1)?, region_name: r.try_get(2)? }))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn instruction_row(&self, id: i64) -> IamResult<Option<(Instruction, String)>> {
        let row = sqlx::query(
            "SELECT i.id, i.target, i.target_label, i.context, i.content, i.author_id, u.display_name, i.department_id, d.name, i.deadline, i.status, \
             i.version, i.created_at, i.closed_at, i.author_region FROM ind_instructions i JOIN users u ON u.id = i.author_id \
             JOIN departments d ON d.id = i.department_id WHERE i.id = $1",
        )
        .bind(id)
        .fetch_optional(self.db().pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let status: String = r.try_get(10)?;
        let deadline: String = r.try_get(9)?;
        let log = sqlx::query("SELECT l.action, u.display_name, l.content, l.at FROM ind_instruction_log l JOIN users u ON u.id = l.actor_id WHERE l.instruction_id = $1 ORDER BY l.id")
            .bind(id)
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(|l| Ok(InstructionStep { action: l.try_get(0)?, actor_name: l.try_get(1)?, content: l.try_get(2)?, at: to_rfc3339(l.try_get(3)?) }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some((
            Instruction {
                id: r.try_get(0)?,
                target: r.try_get(1)?,
                target_label: r.try_get(2)?,
                context: serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default(),
                content: r.try_get(4)?,
                author_id: r.try_get(5)?,
                author_name: r.try_get(6)?,
                department_id: r.try_get(7)?,
                department_name: r.try_get(8)?,
                overdue: status != "closed" && deadline < today(self.now()),
                deadline,
                status,
                version: r.try_get(11)?,
                created_at: to_rfc3339(r.try_get(12)?),
                closed_at: r.try_get::<Option<i64>, _>(13)?.map(to_rfc3339),
                log,
            },
            r.try_get(14)?,
        )))
    }

    /// Whether the caller may see the instruction: its author, its department, or a leader whose
    /// region covers the author's.
    fn may_see_instruction(actor: &Principal, i: &Instruction, author_region: &str) -> bool {
        i.author_id == actor.user_id
            || actor.department_id == Some(i.department_id)
            || (actor.has("ind:instruct") && RegionCode::parse(author_region).is_ok_and(|r| actor.scope.region.contains(&r)))
    }

    pub async fn instruction(&self, actor: &Principal, id: i64) -> IamResult<Instruction> {
        match self.instruction_row(id).await? {
            Some((i, region)) if Self::may_see_instruction(actor, &i, &region) => Ok(i),
            _ => Err(IamError::not_found("批示", "ind.instruction_not_found")),
        }
    }

    /// The caller's instructions: `issued` (written by the caller), `todo` (for the caller's
    /// department) or `all` (every instruction the caller may see).
    pub async fn instructions(
        &self,
        actor: &Principal,
        box_: &str,
        status: Option<&str>,
        page: &PageQuery,
    ) -> IamResult<Page<Instruction>> {
        if !["issued", "todo", "all"].contains(&box_) {
            return Err(IamError::field("box", "box 须为 issued、todo 或 all"));
        }
        if let Some(s) = status.filter(|s| !s.is_empty()) {
            if !["open", "replied", "closed"].contains(&s) {
                return Err(IamError::field("status", "状态须为 open、replied 或 closed"));
            }
        }
        let filter = |q: &mut tg_db::SqlBuf| {
            match box_ {
                "issued" => {
                    q.push("i.author_id = ").bind(actor.user_id);
                }
                "todo" => match actor.department_id {
                    Some(d) => {
                        q.push("i.department_id = ").bind(d);
                    }
                    None => {
                        q.push("1 = 0");
                    }
                },
                _ => {
                    let (lo, hi) = actor.scope.bounds();
                    q.push("(i.author_id = ").bind(actor.user_id);
                    if let Some(d) = actor.department_id {
                        q.push(" OR i.department_id = ").bind(d);
                    }
                    if actor.has("ind:instruct") {
                        q.push(" OR (i.author_region >= ").bind(lo).push(" AND i.author_region < ").bind(hi).push(")");
                    }
                    q.push(")");
                }
            }
            if let Some(s) = status.filter(|s| !s.is_empty()) {
                q.push(" AND i.status = ").bind(s);
            }
        };
        let mut c = tg_db::SqlBuf::new("SELECT COUNT(*) FROM ind_instructions i WHERE ");
        filter(&mut c);
        let total: i64 = c.query().fetch_one(self.db().pool()).await?.try_get(0)?;
        let mut q = tg_db::SqlBuf::new("SELECT i.id FROM ind_instructions i WHERE ");
        filter(&mut q);
        let (limit, offset) = page.limit_offset();
        q.push(" ORDER BY i.id DESC LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let ids: Vec<i64> = q.query().fetch_all(self.db().pool()).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        let mut items = Vec::new();
        for id in ids {
            if let Some((i, _)) = self.instruction_row(id).await? {
                items.push(i);
            }
        }
        Ok(Page::new(items, total, page))
    }

    /// A leader issues an instruction; the department's users get a message.
    pub async fn issue_instruction(&self, actor: &Principal, ctx: &AuditCtx, input: &InstructionInput) -> IamResult<Instruction> {
        let meta = self.meta().await?;
        let mut v = ValidationErrors::new();
        if let Err(e) = check_target(&meta, &input.target) {
            v.add("target", e);
        }
        v.text("target_label", "批示对象", &input.target_label, 100);
        let n = input.content.trim().chars().count();
        if n == 0 || n > 2000 {
            v.add("content", "批示内容须为1-2000字");
        }
        let d = &input.deadline;
        let valid_date = d.len() == 10 && crate::period::Period::parse(d).is_some();
        if !valid_date {
            v.add("deadline", "办理期限须为日期（YYYY-MM-DD）");
        } else if d.as_str() < today(self.now()).as_str() {
            v.add("deadline", "办理期限不能早于今天");
        }
        if !self.instruction_departments(actor).await?.iter().any(|x| x.id == input.department_id) {
            v.add("department_id", "承办部门不存在或不在您的管辖范围内");
        }
        v.finish()?;
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "INSERT INTO ind_instructions (target, target_label, context, content, author_id, author_region, department_id, deadline, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9)",
        )
        .bind(&input.target)
        .bind(input.target_label.trim())
        .bind(serde_json::to_string(&input.context).unwrap_or_default())
        .bind(input.content.trim())
        .bind(actor.user_id)
        .bind(actor.region.as_str())
        .bind(input.department_id)
        .bind(d)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query("SELECT MAX(id) FROM ind_instructions WHERE author_id = $1")
            .bind(actor.user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        self.log_step(&mut tx, id, "issue", actor.user_id, input.content.trim()).await?;
        let users = self.department_users(&mut tx, input.department_id).await?;
        let title = format!("【领导批示】{}", input.target_label.trim());
        self.iam
            .post_messages(
                &mut tx,
                &users,
                "ind.instruction",
                "warning",
                &title,
                &format!("{}：{}（办理期限 {d}）", actor.display_name, input.content.trim()),
            )
            .await?;
        self.iam
            .audit(&mut tx, ctx, AuditEvent::success("ind.instruction_issue", id.to_string()).with_detail(input.target.clone()))
            .await?;
        tx.commit().await?;
        self.instruction(actor, id).await
    }

    async fn department_users(&self, tx: &mut tg_db::Tx, dept: i64) -> IamResult<Vec<i64>> {
        Ok(sqlx::query("SELECT id FROM users WHERE department_id = $1 AND status <> 'disabled'")
            .bind(dept)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn log_step(&self, tx: &mut tg_db::Tx, id: i64, action: &str, actor: i64, content: &str) -> IamResult<()> {
        sqlx::query("INSERT INTO ind_instruction_log (instruction_id, action, actor_id, content, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(action)
            .bind(actor)
            .bind(content)
            .bind(self.now())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// reply (the department), return or close (the author): a state change under an optimistic lock.
    pub async fn act_on_instruction(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        id: i64,
        action: &str,
        input: &InstructionAction,
    ) -> IamResult<Instruction> {
        let cur = self.instruction(actor, id).await?;
        let n = input.content.trim().chars().count();
        if n == 0 || n > 2000 {
            return Err(IamError::field("content", "办理意见须为1-2000字"));
        }
        let (allowed, from, to) = match action {
            "reply" => (actor.department_id == Some(cur.department_id) && actor.has("ind:handle"), &["open"][..], "replied"),
            "return" => (cur.author_id == actor.user_id, &["replied"][..], "open"),
            "close" => (cur.author_id == actor.user_id, &["open", "replied"][..], "closed"),
            _ => return Err(IamError::field("action", "未知的操作")),
        };
        if !allowed {
            return Err(IamError::Forbidden);
        }
        if !from.contains(&cur.status.as_str()) {
            let label = match cur.status.as_str() {
                "open" => "待办理",
                "replied" => "已回复",
                _ => "已办结",
            };
            return Err(IamError::conflict("ind.instruction_state", format!("批示当前为“{label}”，不能执行此操作")));
        }
        let mut tx = self.db().begin().await?;
        let now = self.now();
        let changed = sqlx::query("UPDATE ind_instructions SET status = $1, version = version + 1, updated_at = $2, closed_at = $3 WHERE id = $4 AND version = $5")
            .bind(to)
            .bind(now)
            .bind(if to == "closed" { Some(now) } else { None })
            .bind(id)
            .bind(input.version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(IamError::conflict("ind.version_conflict", "批示已被他人处理，请刷新后重试"));
        }
        self.log_step(&mut tx, id, action, actor.user_id, input.content.trim()).await?;
        let (users, title) = match action {
            "reply" => (vec![cur.author_id], format!("【批示回复】{}", cur.target_label)),
            "return" => (self.department_users(&mut tx, cur.department_id).await?, format!("【批示退回】{}", cur.target_label)),
            _ => (self.department_users(&mut tx, cur.department_id).await?, format!("【批示办结】{}", cur.target_label)),
        };
        self.iam
            .post_messages(&mut tx, &users, "ind.instruction", "info", &title, &format!("{}：{}", actor.display_name, input.content.trim()))
            .await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success(&format!("ind.instruction_{action}"), id.to_string())).await?;
        tx.commit().await?;
        self.instruction(actor, id).await
    }
}
