//! The workflow engine: process definitions as data (in the deployment pack, stored versioned),
//! instances bound to business records, per-user tasks (待办/已办/抄送), the operations Chinese
//! approval systems have (暂存, 提交, 审核, 退回, 撤回, 会签/或签/依次, 抄送, 转办, 委派, 加签, 终止,
//! 催办, 流转), per-step field permissions, deadlines in working days on the Chinese calendar, and
//! timeout jobs (reminders, 黄牌/红牌, escalation) kept in the database by a job library so they
//! survive restarts.
//!
//! Business services (招商引资 first) call [`WfService::start_in`] and [`WfService::act_in`] inside
//! their own transaction, apply their own changes, then [`WfService::commit`] (which schedules the
//! new deadlines' jobs after the commit).

pub mod calendar;
pub mod def;
pub mod engine;
pub mod jobs;

use calendar::{Calendar, CalendarDay, DayKind, YearFile};
use def::Definition;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use tg_iam::{AuditCtx, AuditEvent, Iam, IamError, IamResult};

pub use engine::{Facts, Outcome, Snapshot, WfActInput, WfAvailable, WfCandidate, WfChange, WfInstance, WfLogEntry, WfTask, WfView};

pub const MIGRATIONS: &[tg_db::Migration] = &[tg_db::Migration {
    component: "workflow",
    version: 1,
    name: "workflow",
    sqlite: include_str!("../migrations/sqlite/0001_workflow.sql"),
    postgres: include_str!("../migrations/postgres/0001_workflow.sql"),
}];

/// When the latest definition versions (`.0`, `.1`) and the calendar revision (`.2`) were last read.
#[derive(Debug)]
struct Freshness(std::time::Instant, HashMap<String, i64>, Option<std::time::Instant>);

/// Stored definitions by (code, version); versions never change once stored.
type DefCache = HashMap<(String, i64), Arc<Definition>>;

/// The workflow service. Cheap to clone.
#[derive(Clone)]
pub struct WfService {
    pub(crate) iam: Iam,
    pub(crate) city: String,
    defs: Arc<RwLock<DefCache>>,
    cal: Arc<RwLock<(i64, Arc<Calendar>)>>,
    /// When the calendar revision and the latest definition versions were last read (epoch ms):
    /// operations inside a transaction reuse them for a second instead of taking a second connection.
    fresh: Arc<RwLock<Freshness>>,
    pub(crate) jobs: Arc<OnceLock<jobs::Queue>>,
    /// Instances whose new deadlines need timeout jobs, for the scheduler task (see `jobs.rs`).
    pub(crate) sched: Arc<OnceLock<tokio::sync::mpsc::UnboundedSender<i64>>>,
    /// Instance id -> business type, which never changes once an instance exists.
    business_types: Arc<RwLock<HashMap<i64, String>>>,
}

impl std::fmt::Debug for WfService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WfService").field("city", &self.city).finish()
    }
}

pub(crate) fn poisoned<T>(_: T) -> IamError {
    IamError::Internal("workflow cache lock poisoned".into())
}

/// Calendar years in the pack: (file name, text).
pub type PackFiles<'a> = &'a [(&'a str, &'a str)];

impl WfService {
    pub fn new(iam: Iam, city: &str) -> Self {
        WfService {
            iam,
            city: city.to_owned(),
            defs: Default::default(),
            cal: Arc::new(RwLock::new((-1, Arc::new(Calendar::default())))),
            fresh: Arc::new(RwLock::new(Freshness(std::time::Instant::now(), HashMap::new(), None))),
            jobs: Arc::new(OnceLock::new()),
            sched: Arc::new(OnceLock::new()),
            business_types: Default::default(),
        }
    }

    pub fn iam(&self) -> &Iam {
        &self.iam
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    pub(crate) fn db(&self) -> &tg_db::Db {
        self.iam.db()
    }

    pub(crate) fn now(&self) -> i64 {
        self.iam.now()
    }

    /// Stores each pack definition whose content differs from its latest stored version as a new
    /// version, and each calendar year the database does not have yet (edits made by the system
    /// administrator are kept). Returns the number of new definition versions.
    pub async fn sync_pack(&self, definitions: PackFiles<'_>, calendar_years: PackFiles<'_>) -> IamResult<usize> {
        let mut added = 0;
        for (file, text) in definitions {
            let d = Definition::parse_toml(text).map_err(|e| IamError::Internal(format!("workflow {file}: {e}")))?;
            let hash = d.hash();
            let latest = sqlx::query("SELECT version, hash FROM wf_definitions WHERE code = $1 ORDER BY version DESC LIMIT 1")
                .bind(&d.code)
                .fetch_optional(self.db().pool())
                .await?;
            let (version, same) = match latest {
                Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)? == hash),
                None => (0, false),
            };
            if same {
                continue;
            }
            self.store_definition(&d, version + 1).await?;
            added += 1;
        }
        for (file, text) in calendar_years {
            let y = YearFile::parse(text).map_err(|e| IamError::Internal(format!("calendar {file}: {e}")))?;
            let have: i64 = sqlx::query("SELECT COUNT(*) FROM wf_calendar WHERE day >= $1 AND day <= $2")
                .bind(format!("{}-01-01", y.year))
                .bind(format!("{}-12-31", y.year))
                .fetch_one(self.db().pool())
                .await?
                .try_get(0)?;
            if have > 0 {
                continue;
            }
            let mut tx = self.db().begin().await?;
            for d in y.days().map_err(IamError::Internal)? {
                sqlx::query("INSERT INTO wf_calendar (day, kind, name, source, updated_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&d.date)
                    .bind(d.kind.as_str())
                    .bind(&d.name)
                    .bind(&y.source)
                    .bind(self.now())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE wf_state SET cal_rev = cal_rev + 1 WHERE id = 1").execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(added)
    }

    /// Stores a definition as `version` (checked first).
    pub async fn store_definition(&self, d: &Definition, version: i64) -> IamResult<()> {
        d.check().map_err(|e| IamError::field("definition", e))?;
        let mut d = d.clone();
        d.version = version;
        let body = serde_json::to_string(&d).map_err(|e| IamError::Internal(e.to_string()))?;
        sqlx::query(
            "INSERT INTO wf_definitions (code, version, name, business_type, body, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&d.code)
        .bind(version)
        .bind(&d.name)
        .bind(&d.business_type)
        .bind(body)
        .bind(d.hash())
        .bind(self.now())
        .execute(self.db().pool())
        .await?;
        self.fresh.write().map_err(poisoned)?.1.remove(&d.code);
        tracing::info!(code = %d.code, version, "workflow definition stored");
        Ok(())
    }

    /// A definition version (cached; versions never change once stored).
    pub async fn definition(&self, code: &str, version: i64) -> IamResult<Arc<Definition>> {
        if let Some(d) = self.defs.read().map_err(poisoned)?.get(&(code.to_owned(), version)) {
            return Ok(d.clone());
        }
        let mut conn = self.db().pool().acquire().await?;
        self.definition_on(&mut conn, code, version).await
    }

    /// [`Self::definition`] on a given connection (inside a transaction: never a second connection).
    pub async fn definition_on(&self, conn: &mut sqlx::AnyConnection, code: &str, version: i64) -> IamResult<Arc<Definition>> {
        if let Some(d) = self.defs.read().map_err(poisoned)?.get(&(code.to_owned(), version)) {
            return Ok(d.clone());
        }
        let row = sqlx::query("SELECT body FROM wf_definitions WHERE code = $1 AND version = $2")
            .bind(code)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| IamError::not_found("流程定义", "wf.definition_not_found"))?;
        let body: String = row.try_get(0)?;
        let d: Definition =
            serde_json::from_str(&body).map_err(|e| IamError::Internal(format!("stored definition {code}/{version}: {e}")))?;
        let d = Arc::new(d);
        self.defs.write().map_err(poisoned)?.insert((code.to_owned(), version), d.clone());
        Ok(d)
    }

    fn latest_cached(&self, code: &str) -> IamResult<Option<i64>> {
        let f = self.fresh.read().map_err(poisoned)?;
        Ok(if f.0.elapsed() < std::time::Duration::from_secs(1) { f.1.get(code).copied() } else { None })
    }

    /// The latest version of a definition.
    pub async fn latest(&self, code: &str) -> IamResult<Arc<Definition>> {
        if let Some(v) = self.latest_cached(code)? {
            return self.definition(code, v).await;
        }
        let mut conn = self.db().pool().acquire().await?;
        self.latest_on(&mut conn, code).await
    }

    /// [`Self::latest`] on a given connection.
    pub async fn latest_on(&self, conn: &mut sqlx::AnyConnection, code: &str) -> IamResult<Arc<Definition>> {
        if let Some(v) = self.latest_cached(code)? {
            return self.definition_on(conn, code, v).await;
        }
        let v: Option<i64> =
            sqlx::query("SELECT MAX(version) FROM wf_definitions WHERE code = $1").bind(code).fetch_one(&mut *conn).await?.try_get(0)?;
        if let Some(v) = v {
            let mut f = self.fresh.write().map_err(poisoned)?;
            if f.0.elapsed() >= std::time::Duration::from_secs(1) {
                f.1.clear();
                f.0 = std::time::Instant::now();
            }
            f.1.insert(code.to_owned(), v);
        }
        match v {
            Some(v) => self.definition_on(conn, code, v).await,
            None => Err(IamError::not_found("流程定义", "wf.definition_not_found")),
        }
    }

    /// Codes of all stored definitions.
    pub async fn definition_codes(&self) -> IamResult<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT code FROM wf_definitions ORDER BY code").fetch_all(self.db().pool()).await?;
        rows.iter().map(|r| r.try_get(0).map_err(IamError::from)).collect()
    }

    /// Stored versions of a definition and how many of its instances are running.
    pub async fn versions(&self, code: &str) -> IamResult<(Vec<i64>, i64)> {
        let rows = sqlx::query("SELECT version FROM wf_definitions WHERE code = $1 ORDER BY version")
            .bind(code)
            .fetch_all(self.db().pool())
            .await?;
        let versions = rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
        let running: i64 = sqlx::query("SELECT COUNT(*) FROM wf_instances WHERE definition = $1 AND status = 'running'")
            .bind(code)
            .fetch_one(self.db().pool())
            .await?
            .try_get(0)?;
        Ok((versions, running))
    }

    /// Fills the Chinese role names of a definition's assignees (for display).
    pub async fn name_roles(&self, d: &mut Definition) -> IamResult<()> {
        for s in &mut d.states {
            for a in [s.assignee.as_mut(), s.escalate_to.as_mut()].into_iter().flatten() {
                if let Some(r) =
                    sqlx::query("SELECT name FROM roles WHERE code = $1").bind(&a.role).fetch_optional(self.db().pool()).await?
                {
                    a.role_name = r.try_get(0)?;
                }
            }
        }
        Ok(())
    }

    /// The business type of an instance (404 when there is none).
    pub async fn business_type_of(&self, instance: i64) -> IamResult<String> {
        if let Some(t) = self.business_types.read().map_err(poisoned)?.get(&instance) {
            return Ok(t.clone());
        }
        let r = sqlx::query("SELECT business_type FROM wf_instances WHERE id = $1")
            .bind(instance)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| IamError::not_found("流程实例", "wf.instance_not_found"))?;
        let t: String = r.try_get(0)?;
        let mut cache = self.business_types.write().map_err(poisoned)?;
        // A bounded memo: start over rather than grow without limit.
        if cache.len() >= 200_000 {
            cache.clear();
        }
        cache.insert(instance, t.clone());
        Ok(t)
    }

    fn calendar_cached(&self) -> IamResult<Option<Arc<Calendar>>> {
        let recent = self.fresh.read().map_err(poisoned)?.2.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1));
        let c = self.cal.read().map_err(poisoned)?;
        Ok((recent && c.0 >= 0).then(|| c.1.clone()))
    }

    /// The current calendar (reloaded when an edit on any node bumped its revision).
    pub async fn calendar(&self) -> IamResult<Arc<Calendar>> {
        if let Some(c) = self.calendar_cached()? {
            return Ok(c);
        }
        let mut conn = self.db().pool().acquire().await?;
        self.calendar_on(&mut conn).await
    }

    /// [`Self::calendar`] on a given connection.
    pub async fn calendar_on(&self, conn: &mut sqlx::AnyConnection) -> IamResult<Arc<Calendar>> {
        if let Some(c) = self.calendar_cached()? {
            return Ok(c);
        }
        let rev: i64 = sqlx::query("SELECT cal_rev FROM wf_state WHERE id = 1").fetch_one(&mut *conn).await?.try_get(0)?;
        self.fresh.write().map_err(poisoned)?.2 = Some(std::time::Instant::now());
        {
            let c = self.cal.read().map_err(poisoned)?;
            if c.0 == rev {
                return Ok(c.1.clone());
            }
        }
        let rows = sqlx::query("SELECT day, kind FROM wf_calendar").fetch_all(&mut *conn).await?;
        let mut days = Vec::with_capacity(rows.len());
        for r in rows {
            let day: String = r.try_get(0)?;
            let kind: String = r.try_get(1)?;
            if let Some(k) = DayKind::parse(&kind) {
                days.push((day, k));
            }
        }
        let cal = Arc::new(Calendar::from_days(days.iter().map(|(d, k)| (d.as_str(), *k))));
        *self.cal.write().map_err(poisoned)? = (rev, cal.clone());
        Ok(cal)
    }

    /// The exception days of a year and where they come from.
    pub async fn calendar_year(&self, year: i32) -> IamResult<(Vec<CalendarDay>, String)> {
        let rows = sqlx::query("SELECT day, kind, name, source FROM wf_calendar WHERE day >= $1 AND day <= $2 ORDER BY day")
            .bind(format!("{year:04}-01-01"))
            .bind(format!("{year:04}-12-31"))
            .fetch_all(self.db().pool())
            .await?;
        let mut days = Vec::with_capacity(rows.len());
        let mut source = String::new();
        for r in rows {
            let kind: String = r.try_get(1)?;
            let src: String = r.try_get(3)?;
            if source.is_empty() && src != "manual" {
                source = src;
            }
            days.push(CalendarDay { date: r.try_get(0)?, kind: DayKind::parse(&kind).unwrap_or(DayKind::Holiday), name: r.try_get(2)? });
        }
        Ok((days, source))
    }

    /// Sets a day to a holiday or a make-up working day (system administrator; audited).
    pub async fn set_day(&self, ctx: &AuditCtx, date: &str, kind: DayKind, name: &str) -> IamResult<CalendarDay> {
        let d = calendar::parse_date(date).ok_or_else(|| IamError::field("date", "日期格式应为 YYYY-MM-DD"))?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 30 {
            return Err(IamError::field("name", "请填写节日或调休名称（不超过30字）"));
        }
        let weekend = matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday);
        if kind == DayKind::Workday && !weekend {
            return Err(IamError::field("kind", "调休上班只能设在周六或周日"));
        }
        let date = calendar::fmt_date(d);
        let mut tx = self.db().begin().await?;
        sqlx::query("DELETE FROM wf_calendar WHERE day = $1").bind(&date).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO wf_calendar (day, kind, name, source, updated_at) VALUES ($1, $2, $3, 'manual', $4)")
            .bind(&date)
            .bind(kind.as_str())
            .bind(name)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE wf_state SET cal_rev = cal_rev + 1 WHERE id = 1").execute(&mut *tx).await?;
        let mut ev = AuditEvent::success("wf.calendar.set", format!("calendar:{date}"));
        ev.detail = format!("{} {name}", kind.as_str());
        self.iam.audit(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        self.fresh.write().map_err(poisoned)?.2 = None;
        Ok(CalendarDay { date, kind, name: name.to_owned() })
    }

    /// Makes a day ordinary again (audited).
    pub async fn clear_day(&self, ctx: &AuditCtx, date: &str) -> IamResult<()> {
        let d = calendar::parse_date(date).ok_or_else(|| IamError::field("date", "日期格式应为 YYYY-MM-DD"))?;
        let date = calendar::fmt_date(d);
        let mut tx = self.db().begin().await?;
        let n = sqlx::query("DELETE FROM wf_calendar WHERE day = $1").bind(&date).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Err(IamError::not_found("日历例外日", "wf.day_not_found"));
        }
        sqlx::query("UPDATE wf_state SET cal_rev = cal_rev + 1 WHERE id = 1").execute(&mut *tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("wf.calendar.clear", format!("calendar:{date}"))).await?;
        tx.commit().await?;
        self.fresh.write().map_err(poisoned)?.2 = None;
        Ok(())
    }
}
