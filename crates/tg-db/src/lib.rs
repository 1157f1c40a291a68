//! Tongguan storage: one connection pool over SQLite (embedded default) or PostgreSQL, chosen by URL.
//!
//! Business code writes portable SQL with `$1` placeholders (accepted by both engines) against
//! [`Db`]; only the places where dialects truly differ branch on [`Backend`]. Schema lives in SQL
//! migrations, one file per engine with matching names, run by [`migrate`].
//!
//! Adding an engine (MySQL/MariaDB, openGauss, KingbaseES) means a new [`Backend`] variant, its
//! migration files and the placeholder rewrite where needed — business code does not change.

mod migrate;
mod sqlbuf;

pub use migrate::{migrate, Migration, MigrationError};
pub use sqlbuf::{Arg, SqlBuf};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx;

pub type Row = sqlx::any::AnyRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL scheme (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Classifies database errors that services turn into user-facing conflicts.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

/// WAL for concurrent readers; NORMAL sync is durable across process crashes in WAL mode (only an OS
/// crash or power loss may lose the last transactions); foreign keys on; wait for locks held by other
/// processes (the CLI) instead of failing. Reads go through a memory map: every commit empties the
/// other connections' page caches, and reading pages back through the map avoids a system call and a
/// copy per page (the map is address space, not memory).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA mmap_size=1073741824",
];

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time. Queueing writers here (fair, async) instead of in SQLite's
    /// busy handler (which sleeps in steps of up to 100 ms) keeps write latency low under load.
    writer: Arc<Mutex<()>>,
}

/// A read-write transaction. Dereferences to the connection, so `&mut *tx` is an executor.
/// Dropping it without [`Tx::commit`] rolls back.
///
/// Writes whose results the caller does not need can be queued with [`Tx::later`]: they run, in
/// order, at the next [`Tx::flush`], [`Tx::read`] or [`Tx::commit`]. On SQLite the queue goes to the
/// connection as one multi-statement string, one hand-over to the driver's connection thread instead
/// of one per statement; that hand-over, not the SQL, is most of a short statement's cost, and it
/// happens while the single write lock is held. On PostgreSQL they run one after another. Using the
/// connection directly while writes are queued would let them run out of order, so it is refused
/// (a panic in debug builds): flush first, or read through [`Tx::read`].
///
/// On SQLite this type runs `BEGIN IMMEDIATE` / `COMMIT` itself, so that `COMMIT` travels with the
/// last queued writes, and, for a transaction begun with [`Db::begin_lazy`], `BEGIN` with the first.
pub struct Tx {
    inner: Inner,
    pending: Vec<(&'static str, Vec<Arg>)>,
    /// The head (sequence, MAC) of the audit hash chain as known inside this transaction, read
    /// while holding the lock that serialises appends (SQLite's write lock, PostgreSQL's row lock).
    /// Appends keep it current, so a second append in the same transaction does not read it again.
    pub chain_head: Option<(i64, String)>,
}

enum Inner {
    Postgres(sqlx::Transaction<'static, Any>),
    Sqlite(LiteTx),
}

/// A SQLite transaction run by hand on a pooled connection, holding the process's write lock.
struct LiteTx {
    /// Always `Some` until dropped.
    conn: Option<PoolConnection<Any>>,
    /// `BEGIN IMMEDIATE` has been sent.
    begun: bool,
    /// Committed or rolled back.
    done: bool,
    writer: Option<OwnedMutexGuard<()>>,
}

impl LiteTx {
    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.conn {
            Some(c) => c,
            None => unreachable!("a SQLite transaction holds its connection until dropped"),
        }
    }
}

impl Drop for LiteTx {
    fn drop(&mut self) {
        if !self.begun || self.done {
            return;
        }
        let Some(mut c) = self.conn.take() else { return };
        // Roll back before the connection goes back to the pool and before the write lock is
        // released. Without a runtime (shutdown), close the connection instead: SQLite rolls back
        // an open transaction when its connection closes.
        let guard = self.writer.take();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    if sqlx::query("ROLLBACK").execute(&mut *c).await.is_err() {
                        drop(c.detach());
                    }
                    drop(guard);
                });
            }
            Err(_) => drop(c.detach()),
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Postgres(_) => Backend::Postgres,
            Inner::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Queues a write (no result rows, no `RETURNING`) written with its own `$1…$n`.
    pub fn later(&mut self, sql: &'static str, args: Vec<Arg>) {
        debug_assert!(!sql.to_ascii_uppercase().contains("RETURNING"), "queued writes return nothing: {sql}");
        self.pending.push((sql, args));
    }

    /// The SQLite statements to send now: `BEGIN` if not sent yet, the queue, then `tail`.
    fn sqlite_batch(
        lite: &mut LiteTx,
        pending: Vec<(&'static str, Vec<Arg>)>,
        tail: &[(&'static str, &[Arg])],
    ) -> Result<(String, Vec<Arg>), sqlx::Error> {
        let begin: Option<(&'static str, &[Arg])> = if lite.begun { None } else { Some(("BEGIN IMMEDIATE", &[])) };
        let stmts = begin.into_iter().chain(pending.iter().map(|(s, a)| (*s, a.as_slice()))).chain(tail.iter().copied());
        let combined = combine(stmts)?;
        lite.begun = true;
        Ok(combined)
    }

    /// Runs the queued writes.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        match &mut self.inner {
            Inner::Sqlite(lite) => {
                let (sql, args) = Self::sqlite_batch(lite, pending, &[])?;
                sqlbuf::bind_all(sqlx::query(&sql), &args).execute(lite.conn()).await?;
            }
            Inner::Postgres(t) => {
                for (sql, args) in &pending {
                    sqlbuf::bind_all(sqlx::query(sql), args).execute(&mut **t).await?;
                }
            }
        }
        Ok(())
    }

    /// Runs the queued writes, then `sql` (a query written with its own `$1…$n`), and returns its rows.
    /// On SQLite both go in one hand-over.
    pub async fn read(&mut self, sql: &'static str, args: Vec<Arg>) -> Result<Vec<Row>, sqlx::Error> {
        if let Inner::Sqlite(lite) = &mut self.inner {
            let pending = std::mem::take(&mut self.pending);
            let (sql, args) = Self::sqlite_batch(lite, pending, &[(sql, &args)])?;
            return sqlbuf::bind_all(sqlx::query(&sql), &args).fetch_all(lite.conn()).await;
        }
        self.flush().await?;
        match &mut self.inner {
            Inner::Postgres(t) => sqlbuf::bind_all(sqlx::query(sql), &args).fetch_all(&mut **t).await,
            Inner::Sqlite(_) => unreachable!("handled above"),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let Tx { inner, pending, .. } = self;
        match inner {
            Inner::Sqlite(mut lite) => {
                if !lite.begun && pending.is_empty() {
                    return Ok(());
                }
                let (sql, args) = Self::sqlite_batch(&mut lite, pending, &[("COMMIT", &[])])?;
                sqlbuf::bind_all(sqlx::query(&sql), &args).execute(lite.conn()).await?;
                lite.done = true;
                Ok(())
            }
            Inner::Postgres(mut t) => {
                for (sql, args) in &pending {
                    sqlbuf::bind_all(sqlx::query(sql), args).execute(&mut *t).await?;
                }
                t.commit().await
            }
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.inner {
            Inner::Sqlite(mut lite) => {
                if lite.begun && !lite.done {
                    let r = sqlx::query("ROLLBACK").execute(lite.conn()).await.map(|_| ());
                    lite.done = true;
                    return r;
                }
                Ok(())
            }
            Inner::Postgres(t) => t.rollback().await,
        }
    }
}

/// Joins statements into one string, each renumbered past the arguments of those before it.
fn combine<'a>(stmts: impl Iterator<Item = (&'static str, &'a [Arg])>) -> Result<(String, Vec<Arg>), sqlx::Error> {
    let mut sql = String::new();
    let mut args: Vec<Arg> = Vec::new();
    for (s, a) in stmts {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sqlbuf::renumber(s.trim().trim_end_matches(';'), args.len(), a.len(), &mut sql).map_err(sqlx::Error::Protocol)?;
        args.extend_from_slice(a);
    }
    Ok((sql, args))
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        match &self.inner {
            Inner::Postgres(t) => t,
            Inner::Sqlite(LiteTx { conn: Some(c), .. }) => c,
            Inner::Sqlite(_) => unreachable!("a SQLite transaction holds its connection until dropped"),
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        debug_assert!(
            self.pending.is_empty(),
            "queued writes must be flushed before the connection is used: {:?}",
            self.pending.first().map(|p| p.0)
        );
        match &mut self.inner {
            Inner::Postgres(t) => t,
            Inner::Sqlite(lite) => {
                // A lazily begun transaction must begin with `read`, `flush` or `commit`: direct use
                // before that would run outside the transaction.
                assert!(lite.begun, "a lazily begun transaction was used directly before its first statement");
                lite.conn()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(10) }
    }
}

impl Db {
    /// Connects to `sqlite://path?mode=rwc` or `postgres://…`. SQLite connections run in WAL mode with
    /// foreign keys on and a busy timeout, so concurrent readers never block the single writer.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or(DbError::UnsupportedUrl)?;
        let connect = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            // Connections are local or pooled behind a proxy; a ping before every acquire doubles round trips.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // One statement at a time: a multi-statement string may stop after the first.
                        for pragma in SQLITE_PRAGMAS {
                            conn.execute(*pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        Ok(Self { pool, backend, writer: Arc::new(Mutex::new(())) })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a read-write transaction. On SQLite this is `BEGIN IMMEDIATE`: the write lock is taken
    /// up front, so a transaction that reads before it writes cannot fail with a stale snapshot.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let mut tx = self.begin_lazy().await?;
        if let Inner::Sqlite(lite) = &mut tx.inner {
            sqlx::query("BEGIN IMMEDIATE").execute(lite.conn()).await?;
            lite.begun = true;
        }
        Ok(tx)
    }

    /// Like [`Self::begin`], but on SQLite `BEGIN IMMEDIATE` is sent with the first [`Tx::read`],
    /// [`Tx::flush`] or [`Tx::commit`], saving a hand-over. The transaction must start with one of
    /// those: using the connection directly first panics.
    pub async fn begin_lazy(&self) -> Result<Tx, sqlx::Error> {
        let inner = match self.backend {
            Backend::Sqlite => {
                // Writers queue here, in the process, instead of in SQLite's busy handler.
                let guard = self.writer.clone().lock_owned().await;
                let conn = self.pool.acquire().await?;
                Inner::Sqlite(LiteTx { conn: Some(conn), begun: false, done: false, writer: Some(guard) })
            }
            Backend::Postgres => Inner::Postgres(self.pool.begin().await?),
        };
        Ok(Tx { inner, pending: Vec::new(), chain_head: None })
    }

    /// Readiness probe.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Builds a SQLite URL for a file path, creating the file if missing.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    #[tokio::test]
    async fn sqlite_connections_get_their_pragmas() {
        let dir = std::env::temp_dir().join(format!("tg_db_pragma_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url(&dir.join("t.db")), &DbOptions { max_connections: 2, ..Default::default() }).await.unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query("PRAGMA synchronous").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let fk: i64 = sqlx::query("PRAGMA foreign_keys").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(fk, 1);
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn queued_writes_run_in_order_before_reads_and_commit() {
        let dir = std::env::temp_dir().join(format!("tg_db_later_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url(&dir.join("t.db")), &DbOptions { max_connections: 2, ..Default::default() }).await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)").execute(db.pool()).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.later("INSERT INTO t (id, a, b) VALUES ($1, $2, $3)", vec![1.into(), "x $1 'y'".into(), None::<i64>.into()]);
        tx.later("UPDATE t SET b = $2 WHERE id = $1", vec![1.into(), 7.into()]);
        tx.later("INSERT INTO t (id, a, b) VALUES ($1, $2, $1)", vec![2.into(), None::<String>.into()]);
        let rows = tx.read("SELECT id, a, b FROM t WHERE id >= $1 ORDER BY id", vec![1.into()]).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].try_get::<String, _>(1).unwrap(), "x $1 'y'");
        assert_eq!(rows[0].try_get::<i64, _>(2).unwrap(), 7);
        assert_eq!(rows[1].try_get::<Option<String>, _>(1).unwrap(), None);
        assert_eq!(rows[1].try_get::<i64, _>(2).unwrap(), 2);
        tx.later("UPDATE t SET b = 9 WHERE id = $1", vec![2.into()]);
        tx.commit().await.unwrap();
        let b: i64 = sqlx::query("SELECT b FROM t WHERE id = 2").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(b, 9, "commit runs what is still queued");

        // A failing statement in the queue fails the flush, and the transaction rolls back as a whole.
        let mut tx = db.begin().await.unwrap();
        tx.later("INSERT INTO t (id, a, b) VALUES ($1, 'z', 0)", vec![3.into()]);
        tx.later("INSERT INTO t (id, a, b) VALUES ($1, 'dup', 0)", vec![1.into()]);
        assert!(tx.flush().await.is_err());
        drop(tx);
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM t").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(n, 2);

        // A placeholder without an argument is refused, not bound to a neighbour's value.
        let mut tx = db.begin().await.unwrap();
        tx.later("UPDATE t SET b = $1 WHERE id = $2", vec![5.into()]);
        tx.later("UPDATE t SET b = $1 WHERE id = 1", vec![6.into()]);
        assert!(tx.flush().await.is_err());
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn lazy_transactions_begin_with_their_first_batch_and_roll_back_when_dropped() {
        let dir = std::env::temp_dir().join(format!("tg_db_lazy_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url(&dir.join("t.db")), &DbOptions { max_connections: 2, ..Default::default() }).await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(db.pool()).await.unwrap();
        let count = |db: Db| async move {
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM t").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
            n
        };
        // Begun, written and committed in one batch.
        let mut tx = db.begin_lazy().await.unwrap();
        tx.later("INSERT INTO t (id) VALUES ($1)", vec![1.into()]);
        tx.commit().await.unwrap();
        assert_eq!(count(db.clone()).await, 1);
        // Begun by a read, then dropped: rolled back before the write lock is free again.
        let mut tx = db.begin_lazy().await.unwrap();
        tx.later("INSERT INTO t (id) VALUES ($1)", vec![2.into()]);
        assert_eq!(tx.read("SELECT COUNT(*) FROM t", Vec::new()).await.unwrap()[0].try_get::<i64, _>(0).unwrap(), 2);
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(tx.read("SELECT COUNT(*) FROM t", Vec::new()).await.unwrap()[0].try_get::<i64, _>(0).unwrap(), 1);
        // A failed commit rolls the whole transaction back.
        tx.later("INSERT INTO t (id) VALUES ($1)", vec![3.into()]);
        tx.later("INSERT INTO t (id) VALUES ($1)", vec![1.into()]);
        assert!(tx.commit().await.is_err());
        let tx = db.begin().await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(count(db.clone()).await, 1);
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
