//! Instances, tasks and the step log: what a caller may do now, and doing it.
//!
//! Every operation runs inside the business's transaction and first claims the instance by bumping
//! its `version` where it still has the version the caller saw (optimistic locking): of two users
//! acting on the same step at once, one wins and the other gets `wf.conflict`, with nothing changed.

use crate::def::{listed, Definition, Level, Mode, OnTimeout, StateDef, StateKind, TransitionDef, TransitionKind};
use crate::WfService;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tg_db::{Arg, Tx};
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::{Page, PageQuery, RegionCode};
use time::Date;
use utoipa::{IntoParams, ToSchema};

/// Operations every task step has, besides the definition's transitions.
pub const GENERIC_ACTIONS: &[&str] =
    &["return", "withdraw", "terminate", "urge", "cc", "transfer", "delegate", "add_signer", "resolve", "start", "timeout"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WfInstance {
    pub id: i64,
    pub definition: String,
    pub def_name: String,
    pub def_version: i64,
    pub business_type: String,
    pub business_id: i64,
    pub title: String,
    pub summary: Vec<Fact>,
    pub region_code: String,
    pub region_name: String,
    pub state: String,
    pub state_name: String,
    /// running, completed or terminated.
    pub status: String,
    pub pending_region: Option<String>,
    pub pending_region_name: Option<String>,
    /// Send back with every action (optimistic lock).
    pub version: i64,
    pub initiator_id: i64,
    pub initiator_name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WfTask {
    pub id: i64,
    pub instance_id: i64,
    /// todo or cc.
    pub kind: String,
    pub step: String,
    pub step_name: String,
    pub title: String,
    pub business_type: String,
    pub business_id: i64,
    pub region_code: String,
    pub region_name: String,
    pub assignee_id: i64,
    pub assignee_name: String,
    /// open, waiting (依次审批, not yet reached), done, cancelled or delegated.
    pub status: String,
    pub delegated_from_name: Option<String>,
    pub due_at: Option<i64>,
    pub due_date: Option<String>,
    /// none, remind (临期), yellow (黄牌, overdue) or red (红牌).
    pub card: String,
    pub urged: i64,
    pub created_at: i64,
    pub handled_at: Option<i64>,
    pub result: Option<String>,
    pub instance_version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WfChange {
    pub field: String,
    pub label: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WfLogEntry {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub actor_role: String,
    pub action: String,
    pub action_name: String,
    pub from_state: String,
    pub from_name: String,
    pub to_state: String,
    pub to_name: String,
    pub comment: String,
    pub attachments: Vec<AttachmentRef>,
    pub changes: Vec<WfChange>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReturnTarget {
    pub state: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WfAvailable {
    pub action: String,
    pub name: String,
    /// transition, return, withdraw, terminate, urge, cc, transfer, delegate, add_signer, resolve,
    /// transfer_region, confirm or reject_transfer.
    pub kind: String,
    pub comment_required: bool,
    pub return_targets: Vec<ReturnTarget>,
    pub needs_user: bool,
    pub needs_region: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WfView {
    pub instance: WfInstance,
    pub actions: Vec<WfAvailable>,
    /// edit, read or hidden per business field, for the caller at this step.
    pub field_perms: BTreeMap<String, String>,
    pub open_tasks: Vec<WfTask>,
    pub my_task: Option<WfTask>,
    pub log: Vec<WfLogEntry>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WfActInput {
    pub action: String,
    pub version: i64,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub target_state: Option<String>,
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub user_ids: Vec<i64>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub attachments: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WfCandidate {
    pub id: i64,
    pub name: String,
    pub region_name: String,
    pub department_name: Option<String>,
    pub roles: String,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// todo (待办), done (已办) or cc (抄送我的).
    #[serde(rename = "box")]
    pub box_: Option<String>,
    pub business_type: Option<String>,
    /// Title contains.
    pub q: Option<String>,
    /// remind, yellow or red.
    pub card: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskCounts {
    pub todo: i64,
    pub cc_unread: i64,
    pub overdue: i64,
}

/// What the business knows about its record, for guards and field permissions.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Business fields that have a value.
    pub filled: HashSet<String>,
    /// Kinds of attachments/materials present.
    pub attachments: HashSet<String>,
    /// (field, Chinese label) of every business field, in display order.
    pub labels: Vec<(String, String)>,
}

impl Facts {
    fn label<'a>(&'a self, f: &'a str) -> &'a str {
        self.labels.iter().find(|(k, _)| k == f).map(|(_, l)| l.as_str()).unwrap_or(f)
    }
}

/// What an operation did, for the business and for scheduling deadlines after the commit.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub instance_id: i64,
    pub from_state: String,
    pub to_state: String,
    /// The instance's region after the operation (changes when a transfer is confirmed).
    pub region_code: String,
    /// A transfer was started / confirmed / refused (target region).
    pub transfer: Option<(TransitionKind, String)>,
    pub status: String,
    pub action: String,
    pub comment: String,
    /// Names of `from_state` and `to_state` in the instance's definition.
    pub from_name: String,
    pub to_name: String,
    /// The operation created tasks with deadlines: their timeout jobs are scheduled after the commit
    /// (the scheduler finds them by instance, as `jobs_scheduled = 0`).
    pub(crate) deadlines: bool,
    /// The audit row of an operation that runs with a snapshot, written by [`WfService::commit`].
    pub(crate) audit: Option<(AuditCtx, AuditEvent)>,
}

/// An instance row.
#[derive(Debug, Clone)]
pub(crate) struct Inst {
    pub id: i64,
    pub definition: String,
    pub def_version: i64,
    pub business_type: String,
    pub business_id: i64,
    pub title: String,
    pub summary: String,
    pub region_code: String,
    pub state: String,
    pub status: String,
    pub pending_region: Option<String>,
    pub origin_state: Option<String>,
    pub version: i64,
    pub initiator_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Display names as read with the row (for views; not updated by an operation in progress).
    pub initiator_name: Option<String>,
    pub region_name: Option<String>,
    pub pending_region_name: Option<String>,
}

const INST_COLS: &str = "id, definition, def_version, business_type, business_id, title, summary, region_code, state, status, \
    pending_region, origin_state, version, initiator_id, created_at, updated_at, \
    (SELECT u.display_name FROM users u WHERE u.id = wf_instances.initiator_id), \
    (SELECT r.name FROM regions r WHERE r.code = wf_instances.region_code), \
    (SELECT r.name FROM regions r WHERE r.code = wf_instances.pending_region)";

fn inst_from(r: &tg_db::Row) -> Result<Inst, sqlx::Error> {
    Ok(Inst {
        id: r.try_get(0)?,
        definition: r.try_get(1)?,
        def_version: r.try_get(2)?,
        business_type: r.try_get(3)?,
        business_id: r.try_get(4)?,
        title: r.try_get(5)?,
        summary: r.try_get(6)?,
        region_code: r.try_get(7)?,
        state: r.try_get(8)?,
        status: r.try_get(9)?,
        pending_region: r.try_get(10)?,
        origin_state: r.try_get(11)?,
        version: r.try_get(12)?,
        initiator_id: r.try_get(13)?,
        created_at: r.try_get(14)?,
        updated_at: r.try_get(15)?,
        initiator_name: r.try_get(16)?,
        region_name: r.try_get(17)?,
        pending_region_name: r.try_get(18)?,
    })
}

/// A task row at the current step.
#[derive(Debug, Clone)]
pub(crate) struct TaskRow {
    pub id: i64,
    pub kind: String,
    pub assignee_id: i64,
    pub status: String,
    pub seq: i64,
    pub added: bool,
    /// 0: an assigned holder; 1: added by 加签; 2: joined by a timeout escalation.
    pub added_kind: i64,
    pub delegated_from: Option<i64>,
    pub due_at: Option<i64>,
    pub due_date: Option<String>,
}

const TASK_COLS: &str = "id, kind, assignee_id, status, seq, added, delegated_from, due_at, due_date";

fn task_from(r: &tg_db::Row) -> Result<TaskRow, sqlx::Error> {
    Ok(TaskRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        assignee_id: r.try_get(2)?,
        status: r.try_get(3)?,
        seq: r.try_get(4)?,
        added: r.try_get::<i64, _>(5)? != 0,
        added_kind: r.try_get(5)?,
        delegated_from: r.try_get(6)?,
        due_at: r.try_get(7)?,
        due_date: r.try_get(8)?,
    })
}

/// One log row, as far as availability needs it.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub actor_id: Option<i64>,
    pub action: String,
    pub from: String,
    pub to: String,
}

/// An instance as read before a write transaction (see [`WfService::snapshot_with`]).
pub struct Snapshot(Loaded);

impl Snapshot {
    /// The business the instance is bound to (its `business_type`).
    pub fn business_type(&self) -> &str {
        &self.0.inst.business_type
    }
}

/// Everything about an instance an operation needs.
pub(crate) struct Loaded {
    pub inst: Inst,
    pub def: Arc<Definition>,
    /// Non-cc tasks of the current step that are open, waiting or delegated, plus done ones (for withdraw).
    pub tasks: Vec<TaskRow>,
    pub steps: Vec<Step>,
    /// Holders of a role in a region, read with the claim (see [`WfService::holders_ahead`]).
    pub holders: Option<(String, String, Vec<i64>)>,
}

impl Loaded {
    fn state(&self) -> IamResult<&StateDef> {
        self.def
            .state(&self.inst.state)
            .ok_or_else(|| IamError::Internal(format!("instance {} in unknown state {}", self.inst.id, self.inst.state)))
    }
    fn my_task(&self, user: i64) -> Option<&TaskRow> {
        self.tasks.iter().find(|t| t.kind == "todo" && t.status == "open" && t.assignee_id == user)
    }
    fn live(&self) -> impl Iterator<Item = &TaskRow> {
        self.tasks.iter().filter(|t| t.kind == "todo" && matches!(t.status.as_str(), "open" | "waiting" | "delegated"))
    }
    /// The log entry that brought the instance into its current state.
    fn entered_by(&self) -> Option<&Step> {
        self.steps.iter().rev().find(|s| s.to == self.inst.state && s.from != s.to)
    }
    /// Earlier states the instance passed through, most recent first (退回 targets).
    fn return_targets(&self) -> Vec<ReturnTarget> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut path: Vec<&str> = vec![self.def.initial.as_str()];
        path.extend(self.steps.iter().filter(|s| s.from != s.to).map(|s| s.to.as_str()));
        // Only states before the last entry into the current state count as "earlier".
        if let Some(pos) = path.iter().rposition(|s| *s == self.inst.state) {
            path.truncate(pos);
        }
        for s in path.iter().rev() {
            let Some(st) = self.def.state(s) else { continue };
            if st.kind == StateKind::Transfer || st.kind == StateKind::End || *s == self.inst.state {
                continue;
            }
            if seen.insert(*s) {
                out.push(ReturnTarget { state: s.to_string(), name: st.name.clone() });
            }
        }
        out
    }
}

fn has_role(actor: &Principal, roles: &[String]) -> bool {
    roles.is_empty() || actor.roles.iter().any(|r| roles.contains(&r.code))
}

fn region_in_scope(actor: &Principal, code: &str) -> bool {
    RegionCode::parse(code).map(|r| actor.scope.region.contains(&r)).unwrap_or(false)
}

fn conflict() -> IamError {
    IamError::conflict(CLAIM_LOST, "该事项已被他人处理或已变化，请刷新后重试")
}

/// Whether an operation failed only because another process appended to the audit chain since
/// this process last did (SQLite, see `tg_db::Tx::acquire_with_chain`): nothing was written, and
/// running the operation again succeeds.
pub fn chain_moved(e: &IamError) -> bool {
    matches!(e, IamError::Db(d) if tg_db::expectation_failed(d) == Some("audit.head_moved"))
}

/// The expectation code of a queued claim (see `act_in_with`), and the conflict error's code.
pub const CLAIM_LOST: &str = "wf.conflict";

/// A queued claim that another actor won fails where it is sent, as a database error with
/// [`CLAIM_LOST`]: that is the conflict error.
pub fn claim_lost(e: IamError) -> IamError {
    match &e {
        IamError::Db(d) if tg_db::expectation_failed(d) == Some(CLAIM_LOST) => conflict(),
        _ => e,
    }
}

fn not_allowed(msg: impl Into<String>) -> IamError {
    IamError::conflict("wf.not_allowed", msg)
}

/// Epoch ms of 00:00 China Standard Time on `d`.
pub fn day_start_ms(d: Date) -> i64 {
    (i64::from(d.to_julian_day()) - 2_440_588) * 86_400_000 - 8 * 3_600_000
}

/// Today's date in China Standard Time.
pub fn beijing_today(ms: i64) -> Date {
    let jd = (ms + 8 * 3_600_000).div_euclid(86_400_000) + 2_440_588;
    Date::from_julian_day(jd as i32).unwrap_or(Date::MIN)
}

fn generic(action: &str, name: &str, kind: &str) -> WfAvailable {
    WfAvailable {
        action: action.into(),
        name: name.into(),
        kind: kind.into(),
        comment_required: false,
        return_targets: Vec::new(),
        needs_user: false,
        needs_region: false,
    }
}

impl WfService {
    pub(crate) async fn load(&self, conn: &mut sqlx::AnyConnection, id: i64) -> IamResult<Loaded> {
        let row = sqlx::query(load_inst_sql())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| IamError::not_found("流程实例", "wf.instance_not_found"))?;
        let inst = inst_from(&row)?;
        let def = self.definition_on(conn, &inst.definition, inst.def_version).await?;
        let tasks = sqlx::query(load_tasks_sql()).bind(id).fetch_all(&mut *conn).await?;
        let log = sqlx::query(LOAD_LOG_SQL).bind(id).fetch_all(&mut *conn).await?;
        loaded_from(inst, def, &tasks, &log)
    }

    /// The instance bound to a business record, if any.
    pub async fn instance_of(&self, business_type: &str, business_id: i64) -> IamResult<Option<i64>> {
        let r = sqlx::query("SELECT id FROM wf_instances WHERE business_type = $1 AND business_id = $2")
            .bind(business_type)
            .bind(business_id)
            .fetch_optional(self.db().pool())
            .await?;
        Ok(match r {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// What the caller may do on the instance now. The same list guards [`Self::act_in`].
    pub(crate) fn available(&self, actor: &Principal, l: &Loaded) -> Vec<WfAvailable> {
        let mut out = Vec::new();
        if l.inst.status != "running" {
            return out;
        }
        let Ok(st) = l.state() else { return out };
        let initiator = actor.user_id == l.inst.initiator_id;
        let in_scope = region_in_scope(actor, &l.inst.region_code);
        let transition = |t: &TransitionDef| {
            let mut a = generic(&t.action, &t.name, "transition");
            a.kind = match t.kind {
                TransitionKind::Transition => "transition",
                TransitionKind::TransferRegion => "transfer_region",
                TransitionKind::Confirm => "confirm",
                TransitionKind::RejectTransfer => "reject_transfer",
            }
            .into();
            a.comment_required = t.comment_required;
            a.needs_region = t.kind == TransitionKind::TransferRegion;
            a
        };
        match st.kind {
            StateKind::Start => {
                for t in l.def.transitions_from(&l.inst.state) {
                    let may = (initiator && has_role(actor, &t.roles)) || (in_scope && !t.roles.is_empty() && has_role(actor, &t.roles));
                    if may {
                        out.push(transition(t));
                    }
                }
            }
            StateKind::Task | StateKind::Transfer => {
                if let Some(my) = l.my_task(actor.user_id) {
                    if my.delegated_from.is_some() {
                        let mut a = generic("resolve", "办理完毕交回", "resolve");
                        a.comment_required = true;
                        out.push(a);
                    } else {
                        for t in l.def.transitions_from(&l.inst.state) {
                            if has_role(actor, &t.roles) || my.added {
                                out.push(transition(t));
                            }
                        }
                        if st.kind == StateKind::Task && st.returnable {
                            let targets = l.return_targets();
                            if !targets.is_empty() {
                                let mut a = generic("return", "退回", "return");
                                a.comment_required = true;
                                a.return_targets = targets;
                                out.push(a);
                            }
                            for (action, name) in [("transfer", "转办"), ("delegate", "委派"), ("add_signer", "加签")] {
                                let mut a = generic(action, name, action);
                                a.needs_user = true;
                                out.push(a);
                            }
                        }
                        let mut a = generic("cc", "抄送", "cc");
                        a.needs_user = true;
                        out.push(a);
                    }
                } else if l.live().any(|t| t.status == "open") && (initiator || in_scope) {
                    out.push(generic("urge", "催办", "urge"));
                }
            }
            StateKind::End => {}
        }
        // 撤回: the one who moved the instance here, before anyone at this step has handled it.
        if let Some(e) = l.entered_by() {
            let forward = !GENERIC_ACTIONS.contains(&e.action.as_str())
                && l.def.transitions.iter().any(|t| t.action == e.action && t.kind == TransitionKind::Transition);
            let untouched = !l.tasks.iter().any(|t| t.kind == "todo" && t.status == "done");
            if forward && untouched && e.actor_id == Some(actor.user_id) && st.kind == StateKind::Task {
                let mut a = generic("withdraw", "撤回", "withdraw");
                a.comment_required = false;
                out.push(a);
            }
        }
        if st.kind != StateKind::End
            && (initiator || (in_scope && has_role(actor, &l.def.terminate_roles) && !l.def.terminate_roles.is_empty()))
        {
            let mut a = generic("terminate", "终止", "terminate");
            a.comment_required = true;
            out.push(a);
        }
        out
    }

    /// Field permissions of the caller at the current step.
    pub(crate) fn field_perms(&self, actor: &Principal, l: &Loaded, facts: &Facts) -> BTreeMap<String, String> {
        let st = l.state().ok();
        let can_act = l.inst.status == "running"
            && match st.map(|s| s.kind) {
                Some(StateKind::Start) => self.available(actor, l).iter().any(|a| a.kind == "transition"),
                Some(StateKind::Task) => l.my_task(actor.user_id).is_some_and(|t| t.delegated_from.is_none()),
                _ => false,
            };
        let mut out = BTreeMap::new();
        for (f, _) in &facts.labels {
            let v = match st {
                Some(s) if listed(&s.fields.hidden, f) => "hidden",
                Some(s) if can_act && listed(&s.fields.editable, f) && !listed(&s.fields.readonly, f) => "edit",
                _ => "read",
            };
            out.insert(f.clone(), v.to_owned());
        }
        out
    }

    /// Whether the caller may edit `field` now.
    pub async fn may_edit(&self, actor: &Principal, instance_id: i64, facts: &Facts, field: &str) -> IamResult<bool> {
        let mut conn = self.db().pool().acquire().await?;
        let l = self.load(&mut conn, instance_id).await?;
        Ok(self.field_perms(actor, &l, facts).get(field).map(String::as_str) == Some("edit"))
    }

    /// Field permissions of the caller on an instance.
    pub async fn perms_of(&self, actor: &Principal, instance_id: i64, facts: &Facts) -> IamResult<BTreeMap<String, String>> {
        let mut conn = self.db().pool().acquire().await?;
        let l = self.load(&mut conn, instance_id).await?;
        Ok(self.field_perms(actor, &l, facts))
    }

    /// Whether the caller may see the instance: its region (or the region it is being transferred
    /// to) is in their scope, or they hold or held a task on it.
    /// [`Self::visible`] on a pooled connection, taken only if the regions do not decide.
    pub(crate) async fn visible_pooled(&self, actor: &Principal, inst: &Inst) -> IamResult<bool> {
        if regions_show(actor, inst) {
            return Ok(true);
        }
        let mut conn = self.db().pool().acquire().await?;
        self.visible(&mut conn, actor, inst).await
    }

    pub(crate) async fn visible(&self, conn: &mut sqlx::AnyConnection, actor: &Principal, inst: &Inst) -> IamResult<bool> {
        if regions_show(actor, inst) {
            return Ok(true);
        }
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM wf_tasks WHERE instance_id = $1 AND assignee_id = $2")
            .bind(inst.id)
            .bind(actor.user_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        Ok(n > 0)
    }

    /// Starts an instance for a business record at the definition's initial state.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_in(
        &self,
        tx: &mut Tx,
        ctx: &AuditCtx,
        actor: &Principal,
        definition: &str,
        business_id: i64,
        title: &str,
        summary: &[Fact],
        region: &str,
    ) -> IamResult<Outcome> {
        let def = self.latest_on(tx, definition).await?;
        self.start_at(tx, ctx, actor, &def, business_id, title, summary, region, &def.initial.clone(), "创建").await
    }

    /// Starts an instance at a given state (imported history enters where it stands).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_at(
        &self,
        tx: &mut Tx,
        ctx: &AuditCtx,
        actor: &Principal,
        def: &Arc<Definition>,
        business_id: i64,
        title: &str,
        summary: &[Fact],
        region: &str,
        state: &str,
        note: &str,
    ) -> IamResult<Outcome> {
        let st = def.state(state).ok_or_else(|| IamError::Internal(format!("unknown state {state}")))?;
        tx.flush().await?;
        let now = self.now();
        let status = if st.kind == StateKind::End { "completed" } else { "running" };
        let summary = serde_json::to_string(summary).unwrap_or_else(|_| "[]".into());
        let row = sqlx::query(
            "INSERT INTO wf_instances (definition, def_version, business_type, business_id, title, summary, region_code, state, status, \
             version, initiator_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $11) RETURNING id",
        )
        .bind(&def.code)
        .bind(def.version)
        .bind(&def.business_type)
        .bind(business_id)
        .bind(title)
        .bind(summary)
        .bind(region)
        .bind(state)
        .bind(status)
        .bind(actor.user_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| {
            if tg_db::is_unique_violation(&e) {
                IamError::conflict("wf.exists", "该业务已有流程实例")
            } else {
                e.into()
            }
        })?;
        let id: i64 = row.try_get(0)?;
        let inst = Inst {
            id,
            definition: def.code.clone(),
            def_version: def.version,
            business_type: def.business_type.clone(),
            business_id,
            title: title.to_owned(),
            summary: String::new(),
            region_code: region.to_owned(),
            state: state.to_owned(),
            status: status.to_owned(),
            pending_region: None,
            origin_state: None,
            version: 1,
            initiator_id: actor.user_id,
            created_at: now,
            updated_at: now,
            initiator_name: Some(actor.display_name.clone()),
            region_name: None,
            pending_region_name: None,
        };
        let mut out = Outcome {
            instance_id: id,
            from_state: state.to_owned(),
            to_state: state.to_owned(),
            region_code: region.to_owned(),
            status: status.to_owned(),
            action: "start".into(),
            ..Default::default()
        };
        self.write_log(tx, id, Some(actor), "start", note, state, state, "", &[], &[]).await?;
        if status == "running" {
            self.assign(tx, &inst, def, st, actor, &mut out, None, None).await?;
        }
        self.iam.audit(tx, ctx, AuditEvent::success("wf.start", format!("wf_instance:{id}"))).await?;
        Ok(out)
    }

    /// Updates the title and summary facts shown in inboxes (after a business edit).
    pub async fn describe_in(&self, tx: &mut Tx, instance_id: i64, title: &str, summary: &[Fact]) -> IamResult<()> {
        tx.flush().await?;
        sqlx::query("UPDATE wf_instances SET title = $1, summary = $2 WHERE id = $3")
            .bind(title)
            .bind(serde_json::to_string(summary).unwrap_or_else(|_| "[]".into()))
            .bind(instance_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Records a business edit (field changes) in the instance's log without moving it.
    #[allow(clippy::too_many_arguments)]
    pub async fn note_in(
        &self,
        tx: &mut Tx,
        instance_id: i64,
        actor: &Principal,
        action: &str,
        name: &str,
        comment: &str,
        changes: &[WfChange],
    ) -> IamResult<()> {
        tx.flush().await?;
        let state: String =
            sqlx::query("SELECT state FROM wf_instances WHERE id = $1").bind(instance_id).fetch_one(&mut **tx).await?.try_get(0)?;
        self.write_log(tx, instance_id, Some(actor), action, name, &state, &state, comment, &[], changes).await?;
        Ok(tx.flush().await?)
    }

    /// 知会: copies the instance to users (a 抄送 task and a message each) and logs it.
    pub async fn notify_in(&self, tx: &mut Tx, actor: &Principal, instance_id: i64, users: &[i64], what: &str) -> IamResult<()> {
        tx.flush().await?;
        let users = self.check_users(tx, users, actor.user_id).await?;
        if users.is_empty() {
            return Ok(());
        }
        let r = sqlx::query("SELECT state, title FROM wf_instances WHERE id = $1").bind(instance_id).fetch_one(&mut **tx).await?;
        let (state, title): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        for (u, _) in &users {
            self.insert_task(tx, instance_id, "cc", &state, *u, "open", 0, false, None, None, None).await?;
        }
        let ids: Vec<i64> = users.iter().map(|(u, _)| *u).collect();
        self.iam.post_messages(tx, &ids, "wf.cc", "info", &format!("知会：{title}"), &format!("{} {what}", actor.display_name)).await?;
        let names = users.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("、");
        self.write_log(tx, instance_id, Some(actor), "cc", "知会", &state, &state, &format!("{what}，知会：{names}"), &[], &[]).await?;
        Ok(tx.flush().await?)
    }

    /// Ends an instance because its business record went away (cancels every task).
    pub async fn cancel_in(&self, tx: &mut Tx, actor: &Principal, instance_id: i64, reason: &str) -> IamResult<()> {
        tx.flush().await?;
        let now = self.now();
        sqlx::query("UPDATE wf_tasks SET status = 'cancelled', handled_at = $1 WHERE instance_id = $2 AND status IN ('open', 'waiting', 'delegated')")
            .bind(now)
            .bind(instance_id)
            .execute(&mut **tx)
            .await?;
        let state: String = sqlx::query(
            "UPDATE wf_instances SET status = 'terminated', version = version + 1, updated_at = $1 WHERE id = $2 RETURNING state",
        )
        .bind(now)
        .bind(instance_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        self.write_log(tx, instance_id, Some(actor), "terminate", "删除并终止", &state, &state, reason, &[], &[]).await?;
        Ok(tx.flush().await?)
    }

    /// Does one operation on an instance. `input.version` must be the version the caller saw.
    pub async fn act_in(
        &self,
        tx: &mut Tx,
        ctx: &AuditCtx,
        actor: &Principal,
        id: i64,
        input: &WfActInput,
        facts: &Facts,
    ) -> IamResult<Outcome> {
        self.act_in_with(tx, ctx, actor, id, input, facts, None).await
    }

    /// Reads an instance before the write transaction, so that the transaction (which on SQLite
    /// holds the single write lock) does not spend its time reading; pass it to
    /// [`Self::act_in_with`]. The caller's own reads (`extra`, each written with its own `$1…$n`) go
    /// with the instance's, in one round trip on SQLite; returns the rows of each. A business reads
    /// its record and the facts of its guards this way before acting.
    pub async fn snapshot_with(&self, id: i64, extra: &[(&str, Vec<Arg>)]) -> IamResult<(Snapshot, Vec<Vec<tg_db::Row>>)> {
        let mut stmts: Vec<(&str, Vec<Arg>)> =
            vec![(load_inst_sql(), vec![id.into()]), (load_tasks_sql(), vec![id.into()]), (LOAD_LOG_SQL, vec![id.into()])];
        stmts.extend(extra.iter().map(|(s, a)| (*s, a.clone())));
        let mut rows = self.db().read_many(&stmts).await?.into_iter();
        let (Some(inst), Some(tasks), Some(log)) = (rows.next(), rows.next(), rows.next()) else {
            return Err(IamError::Internal("a batch returned fewer results than statements".into()));
        };
        let row = inst.first().ok_or_else(|| IamError::not_found("流程实例", "wf.instance_not_found"))?;
        let inst = inst_from(row)?;
        let def = self.definition(&inst.definition, inst.def_version).await?;
        let l = loaded_from(inst, def, &tasks, &log)?;
        Ok((Snapshot(l), rows.collect()))
    }

    /// [`Self::act_in`] with an optional snapshot read before the transaction. The snapshot is used
    /// only if it shows the version being claimed: every change to an instance, its tasks or its log
    /// raises the version, so a successful claim of that version proves the snapshot current.
    ///
    /// With a snapshot the audit row is written by [`Self::commit`], as the transaction's last
    /// statement: appending to the audit chain locks its head until the commit, and the business
    /// writes that follow the operation (the project's stage, its change log) should not extend that
    /// lock. Such a transaction must therefore end with [`Self::commit`].
    #[allow(clippy::too_many_arguments)]
    pub async fn act_in_with(
        &self,
        tx: &mut Tx,
        ctx: &AuditCtx,
        actor: &Principal,
        id: i64,
        input: &WfActInput,
        facts: &Facts,
        snapshot: Option<Snapshot>,
    ) -> IamResult<Outcome> {
        // A read in the operation sends the queued claim: a lost claim fails there.
        self.act_claimed(tx, ctx, actor, id, input, facts, snapshot).await.map_err(claim_lost)
    }

    #[allow(clippy::too_many_arguments)]
    async fn act_claimed(
        &self,
        tx: &mut Tx,
        ctx: &AuditCtx,
        actor: &Principal,
        id: i64,
        input: &WfActInput,
        facts: &Facts,
        snapshot: Option<Snapshot>,
    ) -> IamResult<Outcome> {
        let now = self.now();
        const CLAIM: &str = "UPDATE wf_instances SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3";
        let claim = vec![now.into(), id.into(), input.version.into()];
        let snapshot = snapshot.filter(|Snapshot(l)| l.inst.id == id && l.inst.version == input.version);
        let deferred_audit = snapshot.is_some();
        let sqlite = tx.backend() == tg_db::Backend::Sqlite;
        let mut l = match snapshot {
            Some(Snapshot(mut l)) => {
                // A current snapshot holds what the operation reads, so the claim is queued with
                // the writes: of concurrent actors only one passes it, and the loser's writes never
                // run (the check travels with the claim; see `Tx::later_expect`). Everything then
                // goes to the database at the commit, in one hand-over (SQLite) or one message
                // (PostgreSQL), with the other transitions committing at the same moment (ADR
                // 0013, 0014). The next step's holders are read now, outside the transaction.
                if let Some((role, region)) = self.holders_ahead(&l, &input.action) {
                    let rows = self.db().read_many(&[(USERS_WITH_SQL, vec![role.as_str().into(), region.as_str().into()])]).await?;
                    let ids = rows.first().map(|r| r.iter().map(|r| r.try_get::<i64, _>(0)).collect()).transpose()?.unwrap_or_default();
                    l.holders = Some((role, region, ids));
                }
                tx.later_expect(CLAIM, claim, 1, CLAIM_LOST);
                if !self.visible_pooled(actor, &l.inst).await? {
                    return Err(IamError::OutOfScope);
                }
                l
            }
            None => {
                // No snapshot: claim first (of concurrent actors only one passes this update), then
                // load the instance in the transaction.
                let mut stmts = vec![(CLAIM, claim)];
                if sqlite {
                    // With the claim, read the audit chain's head, which the write lock already fixes
                    // for this transaction: the operation's audit row then needs no read of its own.
                    stmts.push(("SELECT seq, mac FROM audit_head WHERE id = 1", Vec::new()));
                }
                // `BEGIN` (of a lazily begun transaction) and any queued writes travel with the claim.
                let mut done = tx.batch(&stmts).await?.into_iter();
                let claimed = done.next().map_or(0, |d| d.rows_affected);
                if sqlite {
                    let head = done.next().unwrap_or_default();
                    let r = head.rows.first().ok_or_else(|| IamError::Internal("audit chain head missing".into()))?;
                    tx.chain_head = Some((r.try_get(0)?, r.try_get(1)?));
                    tx.chain_cached = false;
                }
                if claimed == 0 {
                    let exists =
                        sqlx::query("SELECT 1 FROM wf_instances WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?.is_some();
                    return Err(if exists { conflict() } else { IamError::not_found("流程实例", "wf.instance_not_found") });
                }
                let l = self.load(tx, id).await?;
                if !self.visible(tx, actor, &l.inst).await? {
                    return Err(IamError::OutOfScope);
                }
                l
            }
        };
        l.inst.version = input.version + 1;
        let available = self.available(actor, &l);
        let Some(a) = available.iter().find(|a| a.action == input.action) else {
            let st_name = l.def.state_name(&l.inst.state).to_owned();
            return Err(not_allowed(if l.inst.status != "running" {
                "流程已结束，不能再办理".to_owned()
            } else {
                format!("当前环节「{st_name}」不能由您执行「{}」", input.action)
            }));
        };
        let comment = input.comment.as_deref().unwrap_or("").trim().to_owned();
        if comment.chars().count() > 2000 {
            return Err(IamError::field("comment", "意见不能超过2000字"));
        }
        if a.comment_required && comment.is_empty() {
            return Err(IamError::field("comment", format!("「{}」须填写意见或理由", a.name)));
        }
        let kind = a.kind.clone();
        let name = a.name.clone();
        let mut out = Outcome {
            instance_id: id,
            from_state: l.inst.state.clone(),
            to_state: l.inst.state.clone(),
            region_code: l.inst.region_code.clone(),
            status: l.inst.status.clone(),
            action: input.action.clone(),
            comment: comment.clone(),
            ..Default::default()
        };
        let atts = self.attachment_refs(tx, &input.attachments).await?;
        match kind.as_str() {
            "transition" | "transfer_region" | "confirm" | "reject_transfer" => {
                let t = l
                    .def
                    .transitions_from(&l.inst.state)
                    .find(|t| t.action == input.action)
                    .cloned()
                    .ok_or_else(|| not_allowed("该操作不存在"))?;
                self.guard(&t, facts)?;
                self.transition(tx, actor, &mut l, &t, input, &comment, &atts, &mut out).await?;
            }
            "return" => {
                let target = input.target_state.clone().or_else(|| a.return_targets.first().map(|t| t.state.clone()));
                let Some(target) = target.filter(|t| a.return_targets.iter().any(|r| &r.state == t)) else {
                    return Err(IamError::field("target_state", "请选择可退回的环节"));
                };
                self.cancel_step(tx, &l).await?;
                self.move_to(tx, actor, &mut l, &target, "return", "退回", &comment, &atts, &mut out, None).await?;
            }
            "withdraw" => {
                let e = l.entered_by().cloned().ok_or_else(|| not_allowed("没有可撤回的提交"))?;
                self.cancel_step(tx, &l).await?;
                let back = l.def.state(&e.from).cloned().ok_or_else(|| not_allowed("没有可撤回的提交"))?;
                // The withdrawn step goes back to the one who submitted it.
                let holder = if back.kind == StateKind::Start { None } else { Some(actor.user_id) };
                self.move_to(tx, actor, &mut l, &e.from, "withdraw", "撤回", &comment, &atts, &mut out, holder).await?;
            }
            "terminate" => {
                self.cancel_step(tx, &l).await?;
                tx.later(
                    "UPDATE wf_tasks SET status = 'cancelled', handled_at = $1 WHERE instance_id = $2 AND status IN ('open', 'waiting', 'delegated')",
                    vec![now.into(), id.into()],
                );
                tx.later("UPDATE wf_instances SET status = 'terminated' WHERE id = $1", vec![id.into()]);
                out.status = "terminated".into();
                let st = l.inst.state.clone();
                self.write_log(tx, id, Some(actor), "terminate", &name, &st, &st, &comment, &atts, &[]).await?;
            }
            "urge" => {
                let recent: i64 = tx
                    .read(
                        "SELECT COUNT(*) FROM wf_tasks WHERE instance_id = $1 AND step = $2 AND status = 'open' AND urged_at IS NOT NULL AND urged_at > $3",
                        vec![id.into(), (&l.inst.state).into(), (now - 10 * 60_000).into()],
                    )
                    .await?
                    .first()
                    .map(|r| r.try_get(0))
                    .transpose()?
                    .unwrap_or(0);
                if recent > 0 {
                    return Err(IamError::conflict("wf.urge_too_often", "10分钟内已催办过，请稍后再催"));
                }
                let holders: Vec<i64> = l.live().filter(|t| t.status == "open").map(|t| t.assignee_id).collect();
                tx.later(
                    "UPDATE wf_tasks SET urged = urged + 1, urged_at = $1 WHERE instance_id = $2 AND step = $3 AND status = 'open' AND kind = 'todo'",
                    vec![now.into(), id.into(), (&l.inst.state).into()],
                );
                let body = if comment.is_empty() {
                    format!("{} 催办：请尽快办理", actor.display_name)
                } else {
                    format!("{} 催办：{comment}", actor.display_name)
                };
                self.iam.post_messages_later(tx, &holders, "wf.urge", "warning", &format!("催办：{}", l.inst.title), &body);
                let st = l.inst.state.clone();
                self.write_log(tx, id, Some(actor), "urge", &name, &st, &st, &comment, &atts, &[]).await?;
            }
            "cc" => {
                let users = self.check_users(tx, &input.user_ids, actor.user_id).await?;
                if users.is_empty() {
                    return Err(IamError::field("user_ids", "请选择抄送人"));
                }
                let st = l.inst.state.clone();
                for (u, _) in &users {
                    self.insert_task(tx, id, "cc", &st, *u, "open", 0, false, None, None, None).await?;
                }
                let names = users.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("、");
                let ids: Vec<i64> = users.iter().map(|(u, _)| *u).collect();
                self.iam.post_messages_later(
                    tx,
                    &ids,
                    "wf.cc",
                    "info",
                    &format!("抄送：{}", l.inst.title),
                    &format!("{} 抄送给您：{}", actor.display_name, comment),
                );
                let c = if comment.is_empty() { format!("抄送：{names}") } else { format!("抄送：{names}；{comment}") };
                self.write_log(tx, id, Some(actor), "cc", &name, &st, &st, &c, &atts, &[]).await?;
            }
            "transfer" | "delegate" | "add_signer" => {
                let uid = input.user_id.ok_or_else(|| IamError::field("user_id", "请选择人员"))?;
                let users = self.check_users(tx, &[uid], actor.user_id).await?;
                let (uid, uname) = users.into_iter().next().ok_or_else(|| IamError::field("user_id", "请选择人员"))?;
                if l.live().any(|t| t.assignee_id == uid && t.status != "delegated") {
                    return Err(IamError::field("user_id", format!("{uname} 已是本环节的办理人")));
                }
                let my = l.my_task(actor.user_id).cloned().ok_or_else(|| not_allowed("您没有本环节的待办"))?;
                let st = l.inst.state.clone();
                match kind.as_str() {
                    "transfer" => {
                        tx.later(
                            "UPDATE wf_tasks SET status = 'done', handled_at = $1, result = '转办' WHERE id = $2",
                            vec![now.into(), my.id.into()],
                        );
                        self.insert_task(tx, id, "todo", &st, uid, "open", my.seq, my.added, None, my.due_at, my.due_date.clone()).await?;
                    }
                    "delegate" => {
                        tx.later("UPDATE wf_tasks SET status = 'delegated' WHERE id = $1", vec![my.id.into()]);
                        self.insert_task(tx, id, "todo", &st, uid, "open", my.seq, my.added, Some(my.id), my.due_at, my.due_date.clone())
                            .await?;
                    }
                    _ => {
                        let seq = l.tasks.iter().map(|t| t.seq).max().unwrap_or(0) + 1;
                        self.insert_task(tx, id, "todo", &st, uid, "open", seq, true, None, my.due_at, my.due_date.clone()).await?;
                    }
                }
                if l.def.state(&st).is_some() && my.due_date.is_some() {
                    out.deadlines = true;
                }
                self.iam.post_messages_later(
                    tx,
                    &[uid],
                    "wf.task",
                    "info",
                    &format!("待办：{}", l.inst.title),
                    &format!("{} {name}给您：{}", actor.display_name, l.def.state_name(&st)),
                );
                let c = if comment.is_empty() { format!("{name}给 {uname}") } else { format!("{name}给 {uname}：{comment}") };
                self.write_log(tx, id, Some(actor), &kind, &name, &st, &st, &c, &atts, &[]).await?;
            }
            "resolve" => {
                let my = l.my_task(actor.user_id).cloned().ok_or_else(|| not_allowed("您没有本环节的待办"))?;
                let owner = my.delegated_from.ok_or_else(|| not_allowed("这不是委派给您的事项"))?;
                tx.later(
                    "UPDATE wf_tasks SET status = 'done', handled_at = $1, result = '交回' WHERE id = $2",
                    vec![now.into(), my.id.into()],
                );
                tx.later("UPDATE wf_tasks SET status = 'open' WHERE id = $1 AND status = 'delegated'", vec![owner.into()]);
                let owner_user: i64 = tx
                    .read("SELECT assignee_id FROM wf_tasks WHERE id = $1", vec![owner.into()])
                    .await?
                    .first()
                    .ok_or_else(|| IamError::Internal(format!("delegating task {owner} missing")))?
                    .try_get(0)?;
                self.iam.post_messages_later(
                    tx,
                    &[owner_user],
                    "wf.task",
                    "info",
                    &format!("委派已交回：{}", l.inst.title),
                    &format!("{}：{comment}", actor.display_name),
                );
                let st = l.inst.state.clone();
                self.write_log(tx, id, Some(actor), "resolve", &name, &st, &st, &comment, &atts, &[]).await?;
            }
            other => return Err(IamError::Internal(format!("unhandled action kind {other}"))),
        }
        out.from_name = l.def.state_name(&out.from_state).to_owned();
        out.to_name = l.def.state_name(&out.to_state).to_owned();
        let mut ev = AuditEvent::success("wf.act", format!("wf_instance:{id}"));
        ev.detail = format!("{} {}→{}", input.action, out.from_state, out.to_state);
        if deferred_audit {
            // The operation's writes stay queued too: the caller adds its own and ends with
            // `commit`, which sends them with the audit row.
            out.audit = Some((ctx.clone(), ev));
        } else {
            self.iam.audit(tx, ctx, ev).await?;
        }
        Ok(out)
    }

    /// The (role, region) whose holders a plain transition by `action` from the loaded state will
    /// assign, if it is one that reads them. A guess made before the claim: `assign` uses the
    /// holders read for it only if the step it reaches asks for exactly that role and region.
    fn holders_ahead(&self, l: &Loaded, action: &str) -> Option<(String, String)> {
        let t = l.def.transitions_from(&l.inst.state).find(|t| t.action == action && t.kind == TransitionKind::Transition)?;
        let st = l.def.state(&t.to)?;
        if st.kind != StateKind::Task {
            return None;
        }
        let a = st.assignee.as_ref()?;
        let region = match a.level {
            Level::Own => l.inst.region_code.clone(),
            Level::City => self.city.clone(),
            Level::Target | Level::Initiator => return None,
        };
        Some((a.role.clone(), region))
    }

    fn guard(&self, t: &TransitionDef, facts: &Facts) -> IamResult<()> {
        let mut v = tg_kernel::ValidationErrors::new();
        for f in &t.require_fields {
            if !facts.filled.contains(f) {
                v.add(f, format!("「{}」须先填写「{}」", t.name, facts.label(f)));
            }
        }
        for a in &t.require_attachments {
            if !facts.attachments.contains(a) {
                v.add(a, format!("「{}」须先提交所需材料", t.name));
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(v.into())
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        tx: &mut Tx,
        actor: &Principal,
        l: &mut Loaded,
        t: &TransitionDef,
        input: &WfActInput,
        comment: &str,
        atts: &[AttachmentRef],
        out: &mut Outcome,
    ) -> IamResult<()> {
        let now = self.now();
        let st = l.state()?.clone();
        let id = l.inst.id;
        match t.kind {
            TransitionKind::TransferRegion => {
                let region = input.region.as_deref().map(str::trim).unwrap_or("");
                let target = RegionCode::parse(region).map_err(|_| IamError::field("region", "请选择流转的目标县（市、区）"))?;
                let city = RegionCode::parse(&self.city).map_err(|e| IamError::Internal(e.to_string()))?;
                if target.level() != tg_kernel::RegionLevel::County || !city.contains(&target) {
                    return Err(IamError::field("region", "只能流转到本市的其他县（市、区）"));
                }
                if target.as_str() == l.inst.region_code {
                    return Err(IamError::field("region", "不能流转到本县（市、区）"));
                }
                tx.later(
                    "UPDATE wf_instances SET pending_region = $1, origin_state = $2 WHERE id = $3",
                    vec![target.as_str().into(), (&l.inst.state).into(), id.into()],
                );
                l.inst.pending_region = Some(target.as_str().to_owned());
                l.inst.origin_state = Some(l.inst.state.clone());
                out.transfer = Some((TransitionKind::TransferRegion, target.as_str().to_owned()));
                self.finish_mine(tx, l, actor, &t.name).await?;
                self.cancel_step(tx, l).await?;
                self.move_to(tx, actor, l, &t.to, &t.action, &t.name, comment, atts, out, None).await?;
                return Ok(());
            }
            TransitionKind::Confirm | TransitionKind::RejectTransfer => {
                let origin = l.inst.origin_state.clone().ok_or_else(|| IamError::Internal("transfer without origin".into()))?;
                let pending = l.inst.pending_region.clone().unwrap_or_default();
                if t.kind == TransitionKind::Confirm {
                    tx.later("UPDATE wf_instances SET region_code = $1 WHERE id = $2", vec![(&pending).into(), id.into()]);
                    l.inst.region_code = pending.clone();
                    out.region_code = pending.clone();
                }
                tx.later("UPDATE wf_instances SET pending_region = NULL, origin_state = NULL WHERE id = $1", vec![id.into()]);
                l.inst.pending_region = None;
                l.inst.origin_state = None;
                out.transfer = Some((t.kind, pending));
                self.finish_mine(tx, l, actor, &t.name).await?;
                self.cancel_step(tx, l).await?;
                self.move_to(tx, actor, l, &origin, &t.action, &t.name, comment, atts, out, None).await?;
                return Ok(());
            }
            TransitionKind::Transition => {}
        }
        if st.kind == StateKind::Start {
            self.cancel_step(tx, l).await?;
            return self.move_to(tx, actor, l, &t.to, &t.action, &t.name, comment, atts, out, None).await;
        }
        let my = self.finish_mine(tx, l, actor, &t.name).await?;
        match st.mode {
            // 或签: the first decision closes the other holders' rows, escalation rows included (added = 2);
            // only holders added by 加签 (added = 1) must still decide.
            Mode::Any => {
                tx.later(
                    "UPDATE wf_tasks SET status = 'cancelled', handled_at = $1 WHERE instance_id = $2 AND step = $3 AND kind = 'todo' \
                     AND status IN ('open', 'waiting') AND added <> 1 AND id <> $4",
                    vec![now.into(), id.into(), (&l.inst.state).into(), my.into()],
                );
            }
            Mode::Sequential => {
                let next = tx
                    .read(
                        "SELECT id, assignee_id FROM wf_tasks WHERE instance_id = $1 AND step = $2 AND kind = 'todo' AND status = 'waiting' ORDER BY seq, id LIMIT 1",
                        vec![id.into(), (&l.inst.state).into()],
                    )
                    .await?;
                if let Some(r) = next.first() {
                    let nid: i64 = r.try_get(0)?;
                    let uid: i64 = r.try_get(1)?;
                    tx.later("UPDATE wf_tasks SET status = 'open' WHERE id = $1", vec![nid.into()]);
                    self.iam.post_messages_later(
                        tx,
                        &[uid],
                        "wf.task",
                        "info",
                        &format!("待办：{}", l.inst.title),
                        &format!("轮到您办理：{}", st.name),
                    );
                }
            }
            Mode::All => {}
        }
        // Holders still to decide, counted on the loaded step (current: the version claim proves it)
        // after the updates above: the caller's row is done, and under 或签 the open and waiting
        // rows not added by 加签 are cancelled.
        let remaining = l
            .tasks
            .iter()
            .filter(|t| t.kind == "todo" && t.id != my && matches!(t.status.as_str(), "open" | "waiting" | "delegated"))
            .filter(|t| !(st.mode == Mode::Any && t.status != "delegated" && t.added_kind != 1))
            .count();
        if remaining > 0 {
            let state = l.inst.state.clone();
            let note = if st.mode == Mode::Sequential { "依次审批" } else { "会签" };
            let c = if comment.is_empty() {
                format!("{note}：{}（尚有 {remaining} 人未办理）", t.name)
            } else {
                format!("{note}：{}（尚有 {remaining} 人未办理）；{comment}", t.name)
            };
            self.write_log(tx, id, Some(actor), &t.action, &t.name, &state, &state, &c, atts, &[]).await?;
            return Ok(());
        }
        self.move_to(tx, actor, l, &t.to, &t.action, &t.name, comment, atts, out, None).await?;
        if !t.cc_roles.is_empty() {
            let users = self.users_with(tx, &t.cc_roles, &l.inst.region_code).await?;
            for u in &users {
                self.insert_task(tx, id, "cc", &t.to, *u, "open", 0, false, None, None, None).await?;
            }
            self.iam.post_messages_later(
                tx,
                &users,
                "wf.cc",
                "info",
                &format!("知会：{}", l.inst.title),
                &format!("{}：{}", actor.display_name, t.name),
            );
        }
        Ok(())
    }

    /// Marks the caller's open task at this step done; returns its id (0 when the step is a start step).
    async fn finish_mine(&self, tx: &mut Tx, l: &Loaded, actor: &Principal, result: &str) -> IamResult<i64> {
        let Some(my) = l.my_task(actor.user_id) else { return Ok(0) };
        tx.later(
            "UPDATE wf_tasks SET status = 'done', handled_at = $1, result = $2 WHERE id = $3",
            vec![self.now().into(), result.into(), my.id.into()],
        );
        Ok(my.id)
    }

    /// Cancels every live task of the current step.
    async fn cancel_step(&self, tx: &mut Tx, l: &Loaded) -> IamResult<()> {
        tx.later(
            "UPDATE wf_tasks SET status = 'cancelled', handled_at = $1 WHERE instance_id = $2 AND step = $3 AND kind = 'todo' AND status IN ('open', 'waiting', 'delegated')",
            vec![self.now().into(), l.inst.id.into(), (&l.inst.state).into()],
        );
        Ok(())
    }

    /// Moves the instance to `to`, assigns the new step and logs the move.
    #[allow(clippy::too_many_arguments)]
    async fn move_to(
        &self,
        tx: &mut Tx,
        actor: &Principal,
        l: &mut Loaded,
        to: &str,
        action: &str,
        name: &str,
        comment: &str,
        atts: &[AttachmentRef],
        out: &mut Outcome,
        holder: Option<i64>,
    ) -> IamResult<()> {
        let def = l.def.clone();
        let st = def.state(to).ok_or_else(|| IamError::Internal(format!("unknown state {to}")))?;
        let from = l.inst.state.clone();
        let status = if st.kind == StateKind::End { "completed" } else { "running" };
        tx.later("UPDATE wf_instances SET state = $1, status = $2 WHERE id = $3", vec![to.into(), status.into(), l.inst.id.into()]);
        l.inst.state = to.to_owned();
        l.inst.status = status.to_owned();
        out.to_state = to.to_owned();
        out.status = status.to_owned();
        self.write_log(tx, l.inst.id, Some(actor), action, name, &from, to, comment, atts, &[]).await?;
        if status == "running" {
            let inst = l.inst.clone();
            let known = l.holders.take();
            self.assign(tx, &inst, &def, st, actor, out, holder, known).await?;
        }
        Ok(())
    }

    /// Creates the tasks of a step for its holders (or `holder` alone), with deadlines and messages.
    #[allow(clippy::too_many_arguments)]
    async fn assign(
        &self,
        tx: &mut Tx,
        inst: &Inst,
        def: &Definition,
        st: &StateDef,
        actor: &Principal,
        out: &mut Outcome,
        holder: Option<i64>,
        known: Option<(String, String, Vec<i64>)>,
    ) -> IamResult<()> {
        let users: Vec<i64> = if let Some(h) = holder {
            vec![h]
        } else if st.kind == StateKind::Start {
            vec![inst.initiator_id]
        } else {
            let a = st.assignee.as_ref().ok_or_else(|| IamError::Internal(format!("state {} has no assignee", st.code)))?;
            let region = match a.level {
                Level::Own => inst.region_code.clone(),
                Level::City => self.city.clone(),
                Level::Target => inst.pending_region.clone().unwrap_or_else(|| inst.region_code.clone()),
                Level::Initiator => String::new(),
            };
            if a.level == Level::Initiator {
                vec![inst.initiator_id]
            } else {
                let users = match known {
                    // Read with the claim, for exactly this role and region.
                    Some((role, r, users)) if role == a.role && r == region => users,
                    _ => self.users_with(tx, std::slice::from_ref(&a.role), &region).await?,
                };
                if users.is_empty() {
                    let rname = self.region_name(tx, &region).await?;
                    return Err(IamError::conflict(
                        "wf.no_assignee",
                        format!("「{}」环节在{rname}没有可办理的人员（需要角色 {}），请联系系统管理员", st.name, a.role),
                    ));
                }
                users
            }
        };
        let cal = self.calendar_in(tx).await?;
        let (due_date, due_at) = match &st.limit {
            Some(lim) => {
                let d = cal.due(beijing_today(self.now()), lim.days, lim.working);
                (Some(crate::calendar::fmt_date(d)), Some(day_start_ms(d + time::Duration::days(1)) - 1))
            }
            None => (None, None),
        };
        let jobs = self.jobs_for(st, due_date.as_deref(), &cal);
        for (i, u) in users.iter().enumerate() {
            let status = if st.mode == Mode::Sequential && i > 0 && holder.is_none() { "waiting" } else { "open" };
            self.insert_task(tx, inst.id, "todo", &st.code, *u, status, i as i64, false, None, due_at, due_date.clone()).await?;
            if !jobs.is_empty() {
                out.deadlines = true;
            }
        }
        let notify: Vec<i64> = if st.mode == Mode::Sequential && holder.is_none() {
            users.iter().take(1).copied().collect()
        } else {
            users.iter().copied().filter(|u| *u != actor.user_id).collect()
        };
        if !notify.is_empty() {
            let due = due_date.as_deref().map(|d| format!("，请于 {d} 前办理")).unwrap_or_default();
            self.iam.post_messages_later(
                tx,
                &notify,
                "wf.task",
                "info",
                &format!("待办：{}", inst.title),
                &format!("{}「{}」{due}", def.name, st.name),
            );
        }
        Ok(())
    }

    /// Jobs for a step with a deadline: remind before, yellow card when overdue, red card later.
    pub(crate) fn jobs_for(&self, st: &StateDef, due_date: Option<&str>, cal: &crate::calendar::Calendar) -> Vec<(crate::jobs::Kind, i64)> {
        use crate::jobs::Kind;
        let Some(due) = due_date.and_then(crate::calendar::parse_date) else { return Vec::new() };
        let remind = cal.add_working(due, -st.remind_before_days.max(0));
        let red = cal.add_working(due, st.red_after_days.max(1));
        vec![
            (Kind::Remind, day_start_ms(remind) + 9 * 3_600_000),
            (Kind::Yellow, day_start_ms(due + time::Duration::days(1))),
            (Kind::Red, day_start_ms(red + time::Duration::days(1))),
        ]
    }

    /// The calendar, from the cache or read in `tx` (after its queued writes).
    async fn calendar_in(&self, tx: &mut Tx) -> IamResult<Arc<crate::calendar::Calendar>> {
        if let Some(c) = self.calendar_cached()? {
            return Ok(c);
        }
        tx.flush().await?;
        self.calendar_on(tx).await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_task(
        &self,
        tx: &mut Tx,
        instance: i64,
        kind: &str,
        step: &str,
        user: i64,
        status: &str,
        seq: i64,
        added: bool,
        delegated_from: Option<i64>,
        due_at: Option<i64>,
        due_date: Option<String>,
    ) -> IamResult<()> {
        tx.later(
            "INSERT INTO wf_tasks (instance_id, kind, step, assignee_id, status, seq, added, delegated_from, due_at, due_date, created_at, business_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, (SELECT business_type FROM wf_instances WHERE id = $1))",
            vec![
                instance.into(),
                kind.into(),
                step.into(),
                user.into(),
                status.into(),
                seq.into(),
                added.into(),
                delegated_from.into(),
                due_at.into(),
                due_date.into(),
                self.now().into(),
            ],
        );
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_log(
        &self,
        tx: &mut Tx,
        instance: i64,
        actor: Option<&Principal>,
        action: &str,
        name: &str,
        from: &str,
        to: &str,
        comment: &str,
        atts: &[AttachmentRef],
        changes: &[WfChange],
    ) -> IamResult<()> {
        let role = actor.map(|a| a.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join("、")).unwrap_or_default();
        tx.later(
            "INSERT INTO wf_log (instance_id, at, actor_id, actor_name, actor_role, action, action_name, from_state, to_state, comment, attachments, changes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            vec![
                instance.into(),
                self.now().into(),
                actor.map(|a| a.user_id).into(),
                actor.map(|a| a.display_name.as_str()).unwrap_or("系统").into(),
                role.into(),
                action.into(),
                name.into(),
                from.into(),
                to.into(),
                comment.into(),
                serde_json::to_string(atts).unwrap_or_else(|_| "[]".into()).into(),
                serde_json::to_string(changes).unwrap_or_else(|_| "[]".into()).into(),
            ],
        );
        Ok(())
    }

    async fn attachment_refs(&self, tx: &mut Tx, ids: &[i64]) -> IamResult<Vec<AttachmentRef>> {
        let mut out = Vec::new();
        for id in ids.iter().take(50) {
            match tx.read("SELECT name FROM inv_files WHERE id = $1", vec![(*id).into()]).await?.first() {
                Some(r) => out.push(AttachmentRef { id: *id, name: r.try_get(0)? }),
                None => return Err(IamError::field("attachments", format!("附件 {id} 不存在"))),
            }
        }
        Ok(out)
    }

    /// Active users holding any of `roles` whose region is exactly `region`.
    pub(crate) async fn users_with(&self, tx: &mut Tx, roles: &[String], region: &str) -> IamResult<Vec<i64>> {
        let mut out = Vec::new();
        for role in roles {
            let rows = tx.read(USERS_WITH_SQL, vec![role.into(), region.into()]).await?;
            for r in rows {
                let id: i64 = r.try_get(0)?;
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Checks picked users exist and are active; returns (id, name).
    async fn check_users(&self, tx: &mut Tx, ids: &[i64], me: i64) -> IamResult<Vec<(i64, String)>> {
        let mut out = Vec::new();
        if ids.len() > 50 {
            return Err(IamError::field("user_ids", "一次最多选择50人"));
        }
        for id in ids {
            if *id == me {
                return Err(IamError::field("user_id", "不能选择自己"));
            }
            match tx.read("SELECT display_name FROM users WHERE id = $1 AND status = 'active'", vec![(*id).into()]).await?.first() {
                Some(r) => out.push((*id, r.try_get(0)?)),
                None => return Err(IamError::field("user_id", "所选人员不存在或已停用")),
            }
        }
        Ok(out)
    }

    async fn region_name(&self, conn: &mut sqlx::AnyConnection, code: &str) -> IamResult<String> {
        let r = sqlx::query("SELECT name FROM regions WHERE code = $1").bind(code).fetch_optional(&mut *conn).await?;
        Ok(match r {
            Some(r) => r.try_get(0)?,
            None => code.to_owned(),
        })
    }

    /// Writes a deferred audit row, commits, and schedules the deadline jobs of the operation.
    pub async fn commit(&self, mut tx: Tx, out: &Outcome) -> IamResult<()> {
        if let Some((ctx, ev)) = &out.audit {
            self.iam.audit_at_commit(&mut tx, ctx, ev.clone()).await.map_err(claim_lost)?;
        }
        tx.commit().await.map_err(|e| claim_lost(e.into()))?;
        self.schedule(out);
        Ok(())
    }

    /// Commits an operation (with its audit row, see [`Self::commit`]) and reads the instance's new
    /// view with the commit: on SQLite in the same hand-over, on PostgreSQL on the same connection.
    pub async fn commit_and_view(&self, tx: Tx, out: &Outcome, actor: &Principal, facts: &Facts) -> IamResult<WfView> {
        // On SQLite, with everything queued, committed together with the transitions committing at
        // the same moment, the audit row sealed into the chain in the group's order (ADR 0013);
        // otherwise alone, the same way. Callers retry `audit.head_moved` (see `chain_moved`).
        let seal = out.audit.as_ref().map(|(ctx, ev)| self.iam.audit_seal(ctx.clone(), ev.clone()));
        let read = tx.commit_grouped(seal, view_reads(out.instance_id)).await.map_err(|e| claim_lost(e.into()))?;
        if let Some((ctx, ev)) = &out.audit {
            self.iam.audited(ctx, ev);
        }
        self.schedule(out);
        match read {
            Ok(rows) => self.view_from(actor, rows, facts).await,
            // Committed, but the read back failed: read again.
            Err(_) => self.view(actor, out.instance_id, facts).await,
        }
    }

    /// The instance as the caller sees it.
    pub async fn view(&self, actor: &Principal, id: i64, facts: &Facts) -> IamResult<WfView> {
        let rows = self.db().read_many(&view_reads(id)).await?;
        self.view_from(actor, rows, facts).await
    }

    /// The view from the rows of [`view_reads`].
    async fn view_from(&self, actor: &Principal, rows: Vec<Vec<tg_db::Row>>, facts: &Facts) -> IamResult<WfView> {
        let mut rows = rows.into_iter();
        let (Some(inst_rows), Some(task_rows), Some(log_rows)) = (rows.next(), rows.next(), rows.next()) else {
            return Err(IamError::Internal("a batch returned fewer results than statements".into()));
        };
        let row = inst_rows.first().ok_or_else(|| IamError::not_found("流程实例", "wf.instance_not_found"))?;
        let inst = inst_from(row)?;
        let def = self.definition(&inst.definition, inst.def_version).await?;
        let mut tasks = Vec::with_capacity(task_rows.len());
        for r in &task_rows {
            tasks.push(TaskRow {
                id: r.try_get(0)?,
                kind: r.try_get(3)?,
                assignee_id: r.try_get(4)?,
                status: r.try_get(5)?,
                seq: r.try_get(VIEW_TASK_EXTRA)?,
                added: r.try_get::<i64, _>(VIEW_TASK_EXTRA + 1)? != 0,
                added_kind: r.try_get(VIEW_TASK_EXTRA + 1)?,
                delegated_from: r.try_get(VIEW_TASK_EXTRA + 2)?,
                due_at: r.try_get(6)?,
                due_date: r.try_get(7)?,
            });
        }
        let mut steps = Vec::with_capacity(log_rows.len());
        for r in &log_rows {
            steps.push(Step { actor_id: r.try_get(2)?, action: r.try_get(5)?, from: r.try_get(7)?, to: r.try_get(8)? });
        }
        let l = Loaded { inst, def, tasks, steps, holders: None };
        if !self.visible_pooled(actor, &l.inst).await? {
            return Err(IamError::OutOfScope);
        }
        let hidden: Vec<&str> = l.def.transitions.iter().filter(|t| t.by_business).map(|t| t.action.as_str()).collect();
        let actions = self.available(actor, &l).into_iter().filter(|a| !hidden.contains(&a.action.as_str())).collect();
        let field_perms = self.field_perms(actor, &l, facts);
        let instance = self.instance_dto(&l);
        let mut open_tasks = Vec::new();
        for (r, t) in task_rows.iter().zip(&l.tasks) {
            if t.kind == "todo" && matches!(t.status.as_str(), "open" | "waiting" | "delegated") {
                open_tasks.push(self.task_dto(r, &l.def)?);
            }
        }
        let my_task = open_tasks.iter().find(|t| t.assignee_id == actor.user_id && t.status == "open").cloned();
        let mut log = Vec::with_capacity(log_rows.len());
        for r in log_rows {
            let from: String = r.try_get(7)?;
            let to: String = r.try_get(8)?;
            let atts: String = r.try_get(10)?;
            let changes: String = r.try_get(11)?;
            log.push(WfLogEntry {
                seq: r.try_get(0)?,
                at: r.try_get(1)?,
                actor_id: r.try_get(2)?,
                actor_name: r.try_get(3)?,
                actor_role: r.try_get(4)?,
                action: r.try_get(5)?,
                action_name: r.try_get(6)?,
                from_name: l.def.state_name(&from).to_owned(),
                to_name: l.def.state_name(&to).to_owned(),
                from_state: from,
                to_state: to,
                comment: r.try_get(9)?,
                attachments: serde_json::from_str(&atts).unwrap_or_default(),
                changes: serde_json::from_str(&changes).unwrap_or_default(),
            });
        }
        Ok(WfView { instance, actions, field_perms, open_tasks, my_task, log })
    }

    fn instance_dto(&self, l: &Loaded) -> WfInstance {
        let i = &l.inst;
        WfInstance {
            id: i.id,
            definition: i.definition.clone(),
            def_name: l.def.name.clone(),
            def_version: i.def_version,
            business_type: i.business_type.clone(),
            business_id: i.business_id,
            title: i.title.clone(),
            summary: serde_json::from_str(&i.summary).unwrap_or_default(),
            region_code: i.region_code.clone(),
            region_name: i.region_name.clone().unwrap_or_else(|| i.region_code.clone()),
            state: i.state.clone(),
            state_name: l.def.state_name(&i.state).to_owned(),
            status: i.status.clone(),
            pending_region: i.pending_region.clone(),
            pending_region_name: i.pending_region.as_ref().map(|p| i.pending_region_name.clone().unwrap_or_else(|| p.clone())),
            version: i.version,
            initiator_id: i.initiator_id,
            initiator_name: i.initiator_name.clone().unwrap_or_default(),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }

    fn task_dto(&self, r: &tg_db::Row, def: &Definition) -> IamResult<WfTask> {
        let step: String = r.try_get(2)?;
        Ok(WfTask {
            id: r.try_get(0)?,
            instance_id: r.try_get(1)?,
            step_name: def.state_name(&step).to_owned(),
            step,
            kind: r.try_get(3)?,
            assignee_id: r.try_get(4)?,
            status: r.try_get(5)?,
            due_at: r.try_get(6)?,
            due_date: r.try_get(7)?,
            card: r.try_get(8)?,
            urged: r.try_get(9)?,
            created_at: r.try_get(10)?,
            handled_at: r.try_get(11)?,
            result: r.try_get(12)?,
            title: r.try_get(13)?,
            business_type: r.try_get(14)?,
            business_id: r.try_get(15)?,
            region_code: r.try_get(16)?,
            instance_version: r.try_get(17)?,
            region_name: r.try_get::<Option<String>, _>(18)?.unwrap_or_default(),
            assignee_name: r.try_get::<Option<String>, _>(19)?.unwrap_or_default(),
            delegated_from_name: r.try_get(20)?,
        })
    }

    /// The caller's inbox: 待办 (open tasks), 已办 (handled) or 抄送我的.
    pub async fn tasks(&self, actor: &Principal, q: &TaskQuery) -> IamResult<Page<WfTask>> {
        let page = PageQuery { page: q.page, page_size: q.page_size };
        let (limit, offset) = page.limit_offset();
        let (cond, order) = match q.box_.as_deref().unwrap_or("todo") {
            "todo" => ("t.kind = 'todo' AND t.status = 'open'", "t.id DESC"),
            "done" => ("t.kind = 'todo' AND t.status = 'done'", "t.id DESC"),
            "cc" => ("t.kind = 'cc'", "t.id DESC"),
            _ => return Err(IamError::field("box", "box 只能是 todo、done 或 cc")),
        };
        let card = q.card.as_deref().filter(|s| !s.is_empty());
        if let Some(c) = card {
            if !matches!(c, "remind" | "yellow" | "red") {
                return Err(IamError::field("card", "card 只能是 remind、yellow 或 red"));
            }
        }
        let filters = |b: &mut tg_db::SqlBuf| {
            b.push(" WHERE t.assignee_id = ").bind(actor.user_id).push(" AND ").push(cond);
            if let Some(bt) = q.business_type.as_deref().filter(|s| !s.is_empty()) {
                b.push(" AND t.business_type = ").bind(bt);
            }
            if let Some(s) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                b.push(" AND i.title LIKE ").bind(tg_db::SqlBuf::like_contains(s)).push(" ESCAPE '\\'");
            }
            if let Some(c) = card {
                b.push(" AND t.card = ").bind(c);
            }
        };
        // Without a title filter the count reads the inbox index alone.
        let title = q.q.as_deref().is_some_and(|s| !s.trim().is_empty());
        let mut count = tg_db::SqlBuf::new(if title {
            "SELECT COUNT(*) FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id"
        } else {
            "SELECT COUNT(*) FROM wf_tasks t"
        });
        filters(&mut count);
        let total: i64 = count.query().fetch_one(self.db().pool()).await?.try_get(0)?;
        let mut sel = tg_db::SqlBuf::new(TASK_SELECT);
        filters(&mut sel);
        sel.push(" ORDER BY ").push(order).push(" LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let rows = sel.query().fetch_all(self.db().pool()).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let code: String = r.try_get::<String, _>(21)?;
            let ver: i64 = r.try_get(22)?;
            let def = self.definition(&code, ver).await?;
            items.push(self.task_dto(&r, &def)?);
        }
        Ok(Page::new(items, total, &page))
    }

    pub async fn counts(&self, actor: &Principal) -> IamResult<TaskCounts> {
        let r = sqlx::query(
            "SELECT \
             COALESCE(SUM(CASE WHEN kind = 'todo' AND status = 'open' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN kind = 'cc' AND read_at IS NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN kind = 'todo' AND status = 'open' AND card IN ('yellow', 'red') THEN 1 ELSE 0 END), 0) \
             FROM wf_tasks WHERE assignee_id = $1 AND (status = 'open' OR (kind = 'cc' AND read_at IS NULL))",
        )
        .bind(actor.user_id)
        .fetch_one(self.db().pool())
        .await?;
        Ok(TaskCounts { todo: r.try_get(0)?, cc_unread: r.try_get(1)?, overdue: r.try_get(2)? })
    }

    /// Marks a copy as read.
    pub async fn mark_read(&self, actor: &Principal, task: i64) -> IamResult<()> {
        let n = sqlx::query("UPDATE wf_tasks SET read_at = $1, status = 'done' WHERE id = $2 AND assignee_id = $3 AND kind = 'cc'")
            .bind(self.now())
            .bind(task)
            .bind(actor.user_id)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(IamError::not_found("抄送", "wf.task_not_found"));
        }
        Ok(())
    }

    /// Users one may hand a step to, delegate to, add or copy: active users in the city, by name.
    pub async fn candidates(&self, actor: &Principal, id: i64, q: Option<&str>, region: Option<&str>) -> IamResult<Vec<WfCandidate>> {
        let mut conn = self.db().pool().acquire().await?;
        let l = self.load(&mut conn, id).await?;
        let ok = self.visible(&mut conn, actor, &l.inst).await?;
        drop(conn);
        if !ok {
            return Err(IamError::OutOfScope);
        }
        let root = region.filter(|r| !r.is_empty()).unwrap_or(&self.city);
        let root = RegionCode::parse(root).map_err(|_| IamError::field("region", "区划代码不正确"))?;
        let (lo, hi) = root.subtree_bounds();
        let pat = format!("%{}%", q.unwrap_or("").trim().replace(['%', '_'], ""));
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, r.name, d.name, \
             (SELECT COALESCE(MIN(ro.name), '') FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id WHERE ur.user_id = u.id) \
             FROM users u JOIN regions r ON r.code = u.region_code LEFT JOIN departments d ON d.id = u.department_id \
             WHERE u.status = 'active' AND u.region_code >= $1 AND u.region_code < $2 AND (u.display_name LIKE $3 OR u.username LIKE $3) \
             AND u.id <> $4 ORDER BY u.region_code, u.id LIMIT 50",
        )
        .bind(lo)
        .bind(hi)
        .bind(pat)
        .bind(actor.user_id)
        .fetch_all(self.db().pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(WfCandidate {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                region_name: r.try_get(2)?,
                department_name: r.try_get(3)?,
                roles: r.try_get(4)?,
            });
        }
        Ok(out)
    }

    /// Runs one timeout job: raises the card, tells the holder (and the initiator when overdue) and
    /// escalates where the step says so. A task handled meanwhile is left alone.
    pub async fn fire(&self, task_id: i64, kind: crate::jobs::Kind) -> IamResult<bool> {
        let mut tx = self.db().begin().await?;
        // Jobs of one task may run at once on several workers: lock the row (SQLite's write
        // transaction already serialises them).
        let lock = if self.db().backend() == tg_db::Backend::Postgres { " FOR UPDATE" } else { "" };
        let Some(r) = sqlx::query(&format!(
            "SELECT t.instance_id, t.step, t.assignee_id, t.card, t.status, t.due_date FROM wf_tasks t WHERE t.id = $1 AND t.kind = 'todo'{lock}"
        ))
        .bind(task_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(false);
        };
        let instance: i64 = r.try_get(0)?;
        let step: String = r.try_get(1)?;
        let assignee: i64 = r.try_get(2)?;
        let card: String = r.try_get(3)?;
        let status: String = r.try_get(4)?;
        let due: Option<String> = r.try_get(5)?;
        if !matches!(status.as_str(), "open" | "waiting" | "delegated") || crate::jobs::rank(&card) >= kind.rank() {
            return Ok(false);
        }
        let l = self.load(&mut tx, instance).await?;
        if l.inst.state != step || l.inst.status != "running" {
            return Ok(false);
        }
        tx.later("UPDATE wf_tasks SET card = $1 WHERE id = $2", vec![kind.as_str().into(), task_id.into()]);
        let st = l.state()?.clone();
        let due = due.unwrap_or_default();
        // Jobs may run late and out of order (after downtime): every level not yet raised takes effect once.
        let current = crate::jobs::rank(&card);
        for level in [crate::jobs::Kind::Remind, crate::jobs::Kind::Yellow, crate::jobs::Kind::Red] {
            if level.rank() <= current || level.rank() > kind.rank() {
                continue;
            }
            self.raise(&mut tx, &l, &st, &step, assignee, &due, level).await?;
        }
        tx.later("UPDATE wf_instances SET version = version + 1 WHERE id = $1", vec![instance.into()]);
        tx.commit().await?;
        self.schedule_next(task_id, &st, &due, kind).await;
        Ok(true)
    }

    /// The effects of one timeout level: messages, a log entry for overdue cards, escalation.
    #[allow(clippy::too_many_arguments)]
    async fn raise(
        &self,
        tx: &mut Tx,
        l: &Loaded,
        st: &StateDef,
        step: &str,
        assignee: i64,
        due: &str,
        kind: crate::jobs::Kind,
    ) -> IamResult<()> {
        let instance = l.inst.id;
        let (title, level, body) = match kind {
            crate::jobs::Kind::Remind => {
                (format!("临期提醒：{}", l.inst.title), "info", format!("「{}」将于 {due} 到期，请及时办理", st.name))
            }
            crate::jobs::Kind::Yellow => {
                (format!("黄牌：{}", l.inst.title), "warning", format!("「{}」已超过办理时限（{due}），亮黄牌", st.name))
            }
            crate::jobs::Kind::Red => {
                (format!("红牌：{}", l.inst.title), "error", format!("「{}」严重超期（时限 {due}），亮红牌", st.name))
            }
        };
        let mut to = vec![assignee];
        if kind != crate::jobs::Kind::Remind && l.inst.initiator_id != assignee {
            to.push(l.inst.initiator_id);
        }
        self.iam.post_messages_later(tx, &to, &format!("wf.{}", kind.as_str()), level, &title, &body);
        if kind != crate::jobs::Kind::Remind {
            let uname: String = tx
                .read("SELECT display_name FROM users WHERE id = $1", vec![assignee.into()])
                .await?
                .first()
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or_default();
            let name = if kind == crate::jobs::Kind::Yellow { "超期黄牌" } else { "超期红牌" };
            self.write_log(tx, instance, None, "timeout", name, step, step, &format!("{uname}：{body}"), &[], &[]).await?;
        }
        if kind == crate::jobs::Kind::Yellow && st.on_timeout == OnTimeout::Escalate {
            // Escalate once per step: the escalation holders join the step as approvers.
            let already: i64 = tx
                .read(
                    "SELECT COUNT(*) FROM wf_tasks WHERE instance_id = $1 AND step = $2 AND added = 2",
                    vec![instance.into(), step.into()],
                )
                .await?
                .first()
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or(0);
            if let (0, Some(a)) = (already, st.escalate_to.as_ref()) {
                let region = match a.level {
                    Level::City => self.city.clone(),
                    _ => l.inst.region_code.clone(),
                };
                let users: Vec<i64> = self
                    .users_with(tx, std::slice::from_ref(&a.role), &region)
                    .await?
                    .into_iter()
                    .filter(|u| !l.live().any(|t| t.assignee_id == *u))
                    .collect();
                for u in &users {
                    tx.later(
                        "INSERT INTO wf_tasks (instance_id, kind, step, assignee_id, status, seq, added, created_at, card, jobs_scheduled, business_type) \
                         VALUES ($1, 'todo', $2, $3, 'open', 99, 2, $4, 'yellow', 1, (SELECT business_type FROM wf_instances WHERE id = $1))",
                        vec![instance.into(), step.into(), (*u).into(), self.now().into()],
                    );
                }
                if !users.is_empty() {
                    self.iam.post_messages_later(
                        tx,
                        &users,
                        "wf.escalate",
                        "warning",
                        &format!("超时升级：{}", l.inst.title),
                        &format!("「{}」超时未办，已升级由您督办或代为办理", st.name),
                    );
                    self.write_log(
                        tx,
                        instance,
                        None,
                        "timeout",
                        "超时自动升级",
                        step,
                        step,
                        &format!("升级至 {} 人", users.len()),
                        &[],
                        &[],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// Index of the first extra column (seq, added, delegated_from) of [`view_task_sql`].
const VIEW_TASK_EXTRA: usize = 23;

/// The current step's tasks for an instance view: the inbox columns plus those availability needs,
/// in the order of [`WfService::load`] (`$1` instance; the step is the instance's current one).
fn view_task_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let select = TASK_SELECT.replacen(" FROM wf_tasks t ", ", t.seq, t.added, t.delegated_from FROM wf_tasks t ", 1);
        format!("{select} WHERE t.instance_id = $1 AND t.step = i.state AND t.status <> 'cancelled' ORDER BY t.seq, t.id")
    });
    &SQL
}

/// The instance's region (or the region it is being transferred to) is in the caller's scope.
fn regions_show(actor: &Principal, inst: &Inst) -> bool {
    region_in_scope(actor, &inst.region_code) || inst.pending_region.as_deref().is_some_and(|p| region_in_scope(actor, p))
}

/// The instance view's three reads, sent together: the instance, the current step's tasks (with the
/// inbox columns) and the log; the availability rules work on the same rows.
fn view_reads(id: i64) -> Vec<(&'static str, Vec<Arg>)> {
    const VIEW_LOG_SQL: &str =
        "SELECT id, at, actor_id, actor_name, actor_role, action, action_name, from_state, to_state, comment, attachments, changes \
         FROM wf_log WHERE instance_id = $1 ORDER BY id";
    vec![(load_inst_sql(), vec![id.into()]), (view_task_sql(), vec![id.into()]), (VIEW_LOG_SQL, vec![id.into()])]
}

fn load_inst_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {INST_COLS} FROM wf_instances WHERE id = $1"));
    &SQL
}

/// The tasks [`Loaded`] holds (`$1` instance): those of the instance's current step.
fn load_tasks_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {TASK_COLS} FROM wf_tasks WHERE instance_id = $1 AND step = (SELECT state FROM wf_instances WHERE id = $1) \
             AND status <> 'cancelled' ORDER BY seq, id"
        )
    });
    &SQL
}

/// Active users holding a role (`$1`) in a region (`$2`).
const USERS_WITH_SQL: &str = "SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id \
     WHERE r.code = $1 AND u.region_code = $2 AND u.status = 'active' ORDER BY u.id";

const LOAD_LOG_SQL: &str = "SELECT actor_id, action, from_state, to_state FROM wf_log WHERE instance_id = $1 ORDER BY id";

/// [`Loaded`] from its instance, definition and the rows of [`load_tasks_sql`] and [`LOAD_LOG_SQL`].
fn loaded_from(inst: Inst, def: Arc<Definition>, tasks: &[tg_db::Row], log: &[tg_db::Row]) -> IamResult<Loaded> {
    let tasks = tasks.iter().map(task_from).collect::<Result<Vec<_>, _>>()?;
    let mut steps = Vec::with_capacity(log.len());
    for r in log {
        steps.push(Step { actor_id: r.try_get(0)?, action: r.try_get(1)?, from: r.try_get(2)?, to: r.try_get(3)? });
    }
    Ok(Loaded { inst, def, tasks, steps, holders: None })
}

/// The inbox row: columns 0..=12 of the task, then instance facts, region and names, definition.
const TASK_SELECT: &str = "SELECT t.id, t.instance_id, t.step, t.kind, t.assignee_id, t.status, t.due_at, t.due_date, t.card, t.urged, \
    t.created_at, t.handled_at, t.result, i.title, i.business_type, i.business_id, i.region_code, i.version, \
    (SELECT name FROM regions WHERE code = i.region_code), (SELECT display_name FROM users WHERE id = t.assignee_id), \
    (SELECT u.display_name FROM wf_tasks d JOIN users u ON u.id = d.assignee_id WHERE d.id = t.delegated_from), \
    i.definition, i.def_version \
    FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id";
