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

/// How long the scheduler task gathers new deadlines before writing their jobs.
const GATHER: Duration = Duration::from_millis(100);

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
    /// Connects the job storage (call once at start-up, serving or not) and starts the task that
    /// schedules the jobs of new deadlines.
    pub async fn attach_jobs(&self, url: &str) -> Result<(), sqlx::Error> {
        if self.jobs.get().is_none() {
            let q = Queue::open(url).await?;
            let _ = self.jobs.set(q);
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<i64>();
        if self.sched.set(tx).is_ok() {
            let svc = self.clone();
            tokio::spawn(async move {
                // Everything that arrives within a moment of the first, or while the previous
                // round was written, goes in one round: one query for the tasks, one transaction
                // for their marks. Deadlines are days away; under load the wait turns one write
                // transaction per operation (a turn of SQLite's single writer) into one per round.
                while let Some(first) = rx.recv().await {
                    tokio::time::sleep(GATHER).await;
                    let mut ids = vec![first];
                    while ids.len() < 2000 {
                        match rx.try_recv() {
                            Ok(id) => ids.push(id),
                            Err(_) => break,
                        }
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    if let Err(e) = svc.schedule_pending(Some(&ids)).await {
                        tracing::error!(error = %e, "scheduling timeout jobs failed; start-up schedules them again");
                    }
                }
            });
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

    /// Hands the instance of an operation that created deadlines to the scheduler task, which writes
    /// the first job of each (临期提醒; each job schedules the next level when it runs), then marks
    /// the tasks scheduled. Requests do not wait for the job storage; a crash before the marks
    /// leaves `jobs_scheduled = 0`, which start-up catches up.
    pub(crate) fn schedule(&self, out: &crate::engine::Outcome) {
        if !out.deadlines || self.jobs.get().is_none() {
            return;
        }
        if let Some(tx) = self.sched.get() {
            let _ = tx.send(out.instance_id);
        }
    }

    /// Writes the first job of every open task with a deadline whose jobs are not written yet (of
    /// `instances`, or all), then marks them. Returns how many tasks it scheduled.
    pub(crate) async fn schedule_pending(&self, instances: Option<&[i64]>) -> tg_iam::IamResult<usize> {
        let Some(q) = self.jobs.get() else { return Ok(0) };
        let mut sql = tg_db::SqlBuf::new(
            "SELECT t.id, t.step, t.due_date, i.definition, i.def_version FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id \
             WHERE t.jobs_scheduled = 0 AND t.due_date IS NOT NULL AND t.kind = 'todo' AND t.status IN ('open', 'waiting', 'delegated')",
        );
        if let Some(ids) = instances {
            if ids.is_empty() {
                return Ok(0);
            }
            sql.push(" AND t.instance_id IN (");
            sql.bind_list(ids.iter().copied());
            sql.push(")");
        }
        sql.push(" ORDER BY t.id LIMIT 10000");
        let rows = sql.query().fetch_all(self.db().pool()).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let cal = self.calendar().await?;
        let mut done = Vec::new();
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let step: String = r.try_get(1)?;
            let due: Option<String> = r.try_get(2)?;
            let def = self.definition(&r.try_get::<String, _>(3)?, r.try_get(4)?).await?;
            let Some(st) = def.state(&step) else { continue };
            let Some((kind, at)) = self.jobs_for(st, due.as_deref(), &cal).into_iter().next() else { continue };
            match q.schedule(TimeoutJob { task: id, kind }, at).await {
                Ok(()) => done.push(id),
                Err(e) => tracing::error!(task = id, error = %e, "scheduling a timeout job failed; it is retried at start-up"),
            }
        }
        let mut tx = self.db().begin().await?;
        for chunk in done.chunks(500) {
            let mut up = tg_db::SqlBuf::new("UPDATE wf_tasks SET jobs_scheduled = 1 WHERE id IN (");
            up.bind_list(chunk.iter().copied());
            up.push(")");
            up.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.len())
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
        self.schedule_pending(None).await
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
