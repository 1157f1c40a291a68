//! Timeout jobs (临期提醒, 黄牌, 红牌, escalation) kept in the same database by the apalis job
//! library (its SQL storage for SQLite or PostgreSQL), so a restart loses none: a job whose time
//! passed while the server was down runs as soon as a worker polls again.
//!
//! Jobs are written after the business transaction commits. A crash in between leaves tasks with
//! `jobs_scheduled = 0`; [`WfService::start_worker`] schedules those again at start-up.

use crate::WfService;
use apalis::prelude::*;
use apalis_sql::postgres::PostgresStorage;
use apalis_sql::sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Remind,
    Yellow,
    Red,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Remind => "remind",
            Kind::Yellow => "yellow",
            Kind::Red => "red",
        }
    }
    pub fn rank(self) -> u8 {
        rank(self.as_str())
    }
}

pub fn rank(card: &str) -> u8 {
    match card {
        "remind" => 1,
        "yellow" => 2,
        "red" => 3,
        _ => 0,
    }
}

/// One timeout job: raise `kind` on task `task` (if it is still open then).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimeoutJob {
    pub task: i64,
    pub kind: Kind,
}

/// The job storage of this installation's database.
#[derive(Clone)]
pub enum Queue {
    Sqlite(SqliteStorage<TimeoutJob>),
    Postgres(PostgresStorage<TimeoutJob>),
}

const NAMESPACE: &str = "tongguan::wf::timeout";

fn config() -> apalis_sql::Config {
    // Deadlines are in days: polling each second is plenty and keeps the single SQLite writer free.
    apalis_sql::Config::new(NAMESPACE).set_poll_interval(Duration::from_secs(1))
}

/// The SQLite URL of the job file that belongs to database `url`.
pub fn jobs_url(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if path.contains(":memory:") {
        return url.to_owned();
    }
    let path = match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}-jobs.db"),
        None => format!("{path}-jobs"),
    };
    let query = if query.is_empty() {
        "mode=rwc".to_owned()
    } else if query.contains("mode=") {
        query.to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    format!("{path}?{query}")
}

impl Queue {
    /// Opens the job tables in the installation's database (creating them on first use).
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            // A file of its own next to the database (`tongguan.db` → `tongguan-jobs.db`): the job
            // library's tables stay out of the application's schema, backups and scans.
            let opts: sqlx::sqlite::SqliteConnectOptions = jobs_url(url).parse()?;
            let opts = opts
                .busy_timeout(Duration::from_secs(10))
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(2).connect_with(opts).await?;
            SqliteStorage::setup(&pool).await?;
            Ok(Queue::Sqlite(SqliteStorage::new_with_config(pool, config())))
        } else {
            // The job library keeps its tables in schema `apalis`; its migration bookkeeping goes to
            // schema `tg_jobs` (first on this pool's search path), not into the application's schema.
            let opts: sqlx::postgres::PgConnectOptions = url.parse()?;
            let opts = opts.options([("search_path", "tg_jobs,public")]);
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_with(opts).await?;
            sqlx::query("CREATE SCHEMA IF NOT EXISTS tg_jobs").execute(&pool).await?;
            PostgresStorage::setup(&pool).await?;
            Ok(Queue::Postgres(PostgresStorage::new_with_config(pool, config())))
        }
    }

    async fn schedule(&self, job: TimeoutJob, at_ms: i64) -> Result<(), sqlx::Error> {
        let on = at_ms.div_euclid(1000);
        match self.clone() {
            Queue::Sqlite(mut s) => s.schedule(job, on).await.map(|_| ()),
            Queue::Postgres(mut s) => s.schedule(job, on).await.map(|_| ()),
        }
    }

    /// Jobs not yet done (for tests and the operations page).
    pub async fn pending(&self) -> Result<i64, sqlx::Error> {
        match self {
            Queue::Sqlite(s) => sqlx::query("SELECT COUNT(*) FROM Jobs WHERE job_type = $1 AND status IN ('Pending', 'Running', 'Failed')")
                .bind(NAMESPACE)
                .fetch_one(s.pool())
                .await?
                .try_get(0),
            Queue::Postgres(s) => {
                sqlx::query("SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1 AND status IN ('Pending', 'Running', 'Failed')")
                    .bind(NAMESPACE)
                    .fetch_one(s.pool())
                    .await?
                    .try_get(0)
            }
        }
    }
}

async fn run_job(job: TimeoutJob, svc: Data<WfService>) -> Result<(), BoxDynError> {
    svc.fire(job.task, job.kind).await.map(|_| ()).map_err(|e| Box::new(std::io::Error::other(format!("{e}: {e:?}"))) as BoxDynError)
}

impl WfService {
    /// Connects the job storage (call once at start-up, serving or not).
    pub async fn attach_jobs(&self, url: &str) -> Result<(), sqlx::Error> {
        if self.jobs.get().is_none() {
            let q = Queue::open(url).await?;
            let _ = self.jobs.set(q);
        }
        Ok(())
    }

    pub fn queue(&self) -> Option<&Queue> {
        self.jobs.get()
    }

    /// Schedules the jobs of an operation whose transaction the caller committed itself.
    pub async fn commit_scheduled(&self, out: &crate::engine::Outcome) {
        self.schedule(out)
    }

    /// Writes the first job of each new deadline (临期提醒; each job schedules the next level when it
    /// runs) in the background, then marks the tasks scheduled. Requests do not wait for the job
    /// storage; a crash before the marks leaves `jobs_scheduled = 0`, which start-up catches up.
    pub(crate) fn schedule(&self, out: &crate::engine::Outcome) {
        if self.jobs.get().is_none() || out.deadlines.is_empty() {
            return;
        }
        let svc = self.clone();
        let deadlines = out.deadlines.clone();
        tokio::spawn(async move { svc.schedule_now(&deadlines).await });
    }

    pub(crate) async fn schedule_now(&self, deadlines: &[(i64, Vec<(Kind, i64)>)]) {
        let Some(q) = self.jobs.get() else { return };
        let mut done = Vec::new();
        for (task, jobs) in deadlines {
            let Some((kind, at)) = jobs.first() else { continue };
            match q.schedule(TimeoutJob { task: *task, kind: *kind }, *at).await {
                Ok(()) => done.push(*task),
                Err(e) => tracing::error!(task, error = %e, "scheduling a timeout job failed; it is retried at start-up"),
            }
        }
        if done.is_empty() {
            return;
        }
        let result: Result<(), sqlx::Error> = async {
            let mut tx = self.db().begin().await?;
            for id in &done {
                sqlx::query("UPDATE wf_tasks SET jobs_scheduled = 1 WHERE id = $1").bind(*id).execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "marking tasks scheduled failed; start-up schedules them again");
        }
    }

    /// Schedules the level after `kind` of a task's deadline (called by the job that raised `kind`).
    pub(crate) async fn schedule_next(&self, task: i64, st: &crate::def::StateDef, due: &str, kind: Kind) {
        let Some(q) = self.jobs.get() else { return };
        let Ok(cal) = self.calendar().await else { return };
        if let Some((next, at)) = self.jobs_for(st, Some(due), &cal).into_iter().find(|(k, _)| k.rank() > kind.rank()) {
            if let Err(e) = q.schedule(TimeoutJob { task, kind: next }, at).await {
                tracing::error!(task, error = %e, "scheduling the next timeout level failed");
            }
        }
    }

    /// Schedules jobs for open tasks with deadlines whose jobs were never written (a crash between
    /// commit and scheduling). Returns how many tasks were caught up.
    pub async fn catch_up(&self) -> tg_iam::IamResult<usize> {
        let rows = sqlx::query(
            "SELECT t.id, t.instance_id, t.step, t.due_date FROM wf_tasks t WHERE t.jobs_scheduled = 0 AND t.due_date IS NOT NULL \
             AND t.kind = 'todo' AND t.status IN ('open', 'waiting', 'delegated') ORDER BY t.id LIMIT 10000",
        )
        .fetch_all(self.db().pool())
        .await?;
        let cal = self.calendar().await?;
        let mut out = crate::engine::Outcome::default();
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let instance: i64 = r.try_get(1)?;
            let step: String = r.try_get(2)?;
            let due: Option<String> = r.try_get(3)?;
            let row = sqlx::query("SELECT definition, def_version FROM wf_instances WHERE id = $1")
                .bind(instance)
                .fetch_one(self.db().pool())
                .await?;
            let def = self.definition(&row.try_get::<String, _>(0)?, row.try_get(1)?).await?;
            if let Some(st) = def.state(&step) {
                out.deadlines.push((id, self.jobs_for(st, due.as_deref(), &cal)));
            }
        }
        let n = out.deadlines.len();
        self.schedule_now(&out.deadlines).await;
        Ok(n)
    }

    /// Starts the worker that runs due jobs (serving nodes only). Several nodes may run one each:
    /// the storage hands each job to one worker.
    pub async fn start_worker(&self) -> tg_iam::IamResult<()> {
        let Some(q) = self.jobs.get().cloned() else { return Ok(()) };
        let caught = self.catch_up().await?;
        if caught > 0 {
            tracing::info!(caught, "scheduled missing workflow timeout jobs");
        }
        let svc = self.clone();
        let name = format!("wf-timeouts-{}", std::process::id());
        match q {
            Queue::Sqlite(s) => {
                let worker = WorkerBuilder::new(name).data(svc).backend(s).build_fn(run_job);
                tokio::spawn(async move {
                    if let Err(e) = Monitor::new().register(worker).run().await {
                        tracing::error!(error = %e, "workflow timeout worker stopped");
                    }
                });
            }
            Queue::Postgres(s) => {
                let worker = WorkerBuilder::new(name).data(svc).backend(s).build_fn(run_job);
                tokio::spawn(async move {
                    if let Err(e) = Monitor::new().register(worker).run().await {
                        tracing::error!(error = %e, "workflow timeout worker stopped");
                    }
                });
            }
        }
        Ok(())
    }
}
