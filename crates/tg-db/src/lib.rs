//! Tongguan storage: one connection pool over SQLite (embedded default) or PostgreSQL, chosen by URL.
//!
//! Business code writes portable SQL with `$1` placeholders (accepted by both engines) against
//! [`Db`]; only the places where dialects truly differ branch on [`Backend`]. Schema lives in SQL
//! migrations, one file per engine with matching names, run by [`migrate`].
//!
//! Adding an engine (MySQL/MariaDB, openGauss, KingbaseES) means a new [`Backend`] variant, its
//! migration files and the placeholder rewrite where needed — business code does not change.

mod group;
mod merge;
mod migrate;
mod sqlbuf;

pub use group::{Committed, Reads, Seal};
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
    // The guard of `Tx::later_expect`: a row is inserted only when a check fails, and that insert
    // fails. Temporary, so it is per connection and never in the database file.
    "CREATE TEMP TABLE IF NOT EXISTS tg_expect (ok INTEGER NOT NULL CHECK (ok <> 0))",
];

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time. Queueing writers here (fair, async) instead of in SQLite's
    /// busy handler (which sleeps in steps of up to 100 ms) keeps write latency low under load.
    writer: Arc<Mutex<WriterState>>,
    /// SQLite: transactions waiting to be committed together (see the `group` module).
    group: Arc<GroupQueue>,
}

#[derive(Default)]
struct GroupQueue {
    queue: std::sync::Mutex<group::Queue>,
    /// Groups committed (or tried) and the transactions in them, since start.
    groups: std::sync::atomic::AtomicU64,
    members: std::sync::atomic::AtomicU64,
    /// Groups that failed before their commit (their members then ran alone).
    failed: std::sync::atomic::AtomicU64,
    /// PostgreSQL: the connections of group leaders that stopped, with what is prepared on them.
    idle: std::sync::Mutex<Vec<(PoolConnection<Any>, Prepared)>>,
}

impl std::fmt::Debug for GroupQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupQueue")
    }
}

/// Group commit's counters since start (see [`Db::group_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Groups run (committed or failed).
    pub groups: u64,
    /// Transactions in them.
    pub members: u64,
    /// Groups that failed before their commit; their members then ran alone.
    pub failed: u64,
}

/// What the process keeps for SQLite's single writer, behind its lock.
#[derive(Debug, Default)]
struct WriterState {
    /// The audit chain head as the last write transaction committed it, if known (see
    /// [`Tx::chain_cached`]).
    chain_head: Option<(i64, String)>,
    /// The connection write transactions run on, between them: one connection keeps the writers'
    /// prepared statements (group commit's texts among them) instead of every pooled one.
    conn: Option<PoolConnection<Any>>,
}

/// The prefix of the error a failed expectation ([`Tx::later_expect`]) reports.
const EXPECT_PREFIX: &str = "tg-db: expectation failed: ";

/// The code of a failed expectation ([`Tx::later_expect`]), if `e` is one.
pub fn expectation_failed(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Protocol(m) => m.strip_prefix(EXPECT_PREFIX),
        _ => None,
    }
}

fn expectation(code: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{EXPECT_PREFIX}{code}"))
}

/// A queued write, with the number of rows it must change (and the code to fail with), if any.
#[derive(Clone)]
struct Queued {
    sql: &'static str,
    args: Vec<Arg>,
    expect: Option<(u64, &'static str)>,
}

/// What to check of a statement of a batch.
#[derive(Clone, Copy)]
enum Check {
    None,
    /// PostgreSQL: the statement must change this many rows.
    Rows(u64, &'static str),
    /// SQLite: a guard statement, which fails when the statement before it changed another number
    /// of rows than expected.
    Guard(&'static str),
}

/// What one statement of a batch did: the rows it returned and the rows it changed.
#[derive(Default)]
pub struct Done {
    pub rows: Vec<Row>,
    pub rows_affected: u64,
}

/// A read-write transaction. Dereferences to the connection, so `&mut *tx` is an executor.
/// Dropping it without [`Tx::commit`] rolls back.
///
/// Writes whose results the caller does not need can be queued with [`Tx::later`]: they run, in
/// order, at the next [`Tx::flush`], [`Tx::read`], [`Tx::batch`] or [`Tx::commit`], together with
/// that call's own statements in one round trip (see [`Db::batch`] for how each engine sends several
/// statements at once). A round trip, not the SQL, is most of a short statement's cost: on SQLite a
/// hand-over to the driver's connection thread, on PostgreSQL a network exchange and a wake-up of
/// both processes, and on either it happens while the transaction holds its locks. Using the
/// connection directly while writes are queued would let them run out of order, so it is refused
/// (a panic in debug builds): flush first, or read through [`Tx::read`]. On PostgreSQL, queued
/// writes to different tables go out joined into one statement (see the `merge` module), so a
/// queued write must not rely on a trigger's changes to a table another queued write uses.
///
/// This type runs `BEGIN` / `COMMIT` itself, so that `COMMIT` travels with the last queued writes,
/// and, for a transaction begun with [`Db::begin_lazy`], `BEGIN` with the first statements.
pub struct Tx {
    hand: HandTx,
    backend: Backend,
    pending: Vec<Queued>,
    /// The head (sequence, MAC) of the audit hash chain as known inside this transaction, read
    /// while holding the lock that serialises appends (SQLite's write lock, PostgreSQL's row lock).
    /// Appends keep it current, so a second append in the same transaction does not read it again.
    pub chain_head: Option<(i64, String)>,
    /// `chain_head` is the process's copy (SQLite: what the last write transaction committed),
    /// taken with the write lock, not read in this transaction. An append must then make its head
    /// update conditional on that head ([`Tx::later_expect`]): another process writing the same
    /// file would otherwise go unnoticed.
    pub chain_cached: bool,
    /// Where a lazily begun transaction gets its connection (and, on SQLite, the write lock).
    db: Db,
}

/// A transaction run by hand on a pooled connection (on SQLite also holding the process's write lock).
struct HandTx {
    /// `Some` from [`Tx::acquire`] until dropped.
    conn: Option<PoolConnection<Any>>,
    /// `BEGIN` has been sent.
    begun: bool,
    /// Committed or rolled back.
    done: bool,
    writer: Option<OwnedMutexGuard<WriterState>>,
}

impl HandTx {
    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.conn {
            Some(c) => c,
            None => unreachable!("a transaction has its connection from its first statement until dropped"),
        }
    }

    /// Forgets the cached chain head: after a failed statement the stored head is not known.
    fn forget_chain(&mut self) {
        if let Some(g) = self.writer.as_mut() {
            g.chain_head = None;
        }
    }
}

impl Drop for HandTx {
    fn drop(&mut self) {
        if !self.begun || self.done {
            // The writer's connection stays with the write lock.
            if let (Some(c), Some(g)) = (self.conn.take(), self.writer.as_mut()) {
                g.conn = Some(c);
            }
            return;
        }
        let Some(mut c) = self.conn.take() else { return };
        // Roll back before the connection goes back to the pool and before the write lock is
        // released. Without a runtime (shutdown), close the connection instead: both engines roll
        // back an open transaction when its connection closes.
        let guard = self.writer.take();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    match (sqlx::query("ROLLBACK").execute(&mut *c).await, guard) {
                        (Ok(_), Some(mut g)) => g.conn = Some(c),
                        (Ok(_), None) => drop(c),
                        (Err(_), _) => drop(c.detach()),
                    }
                });
            }
            Err(_) => drop(c.detach()),
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Queues a write (no result rows, no `RETURNING`) written with its own `$1…$n`.
    pub fn later(&mut self, sql: &'static str, args: Vec<Arg>) {
        debug_assert!(!sql.to_ascii_uppercase().contains("RETURNING"), "queued writes return nothing: {sql}");
        self.pending.push(Queued { sql, args, expect: None });
    }

    /// Queues a write that must change exactly `rows` rows, such as an optimistic-locking claim
    /// (`… WHERE id = $1 AND version = $2`). Otherwise the statements after it do not run and the
    /// call that sends it fails with an error for which [`expectation_failed`] returns `code`; the
    /// transaction must then be dropped. On SQLite a guard statement after it checks `changes()`
    /// (so the check travels in the same hand-over); on PostgreSQL its count is checked before the
    /// next statement is sent.
    pub fn later_expect(&mut self, sql: &'static str, args: Vec<Arg>, rows: u64, code: &'static str) {
        debug_assert!(!sql.to_ascii_uppercase().contains("RETURNING"), "queued writes return nothing: {sql}");
        self.pending.push(Queued { sql, args, expect: Some((rows, code)) });
    }

    /// Takes the connection and, on SQLite, the process's write lock. Sending does this itself;
    /// call it first only to hold the lock before work that needs it.
    pub async fn acquire(&mut self) -> Result<(), sqlx::Error> {
        if self.hand.conn.is_some() {
            return Ok(());
        }
        // SQLite writers queue here, in the process, instead of in SQLite's busy handler.
        if self.backend == Backend::Sqlite {
            let mut g = self.db.writer.clone().lock_owned().await;
            let c = match g.conn.take() {
                Some(c) => c,
                None => self.db.pool.acquire().await?,
            };
            self.hand.writer = Some(g);
            self.hand.conn = Some(c);
            return Ok(());
        }
        self.hand.conn = Some(self.db.pool.acquire().await?);
        Ok(())
    }

    /// [`Tx::acquire`], and on SQLite take the audit chain head the last write transaction of this
    /// process committed, if known, as [`Tx::chain_head`] (with [`Tx::chain_cached`] set): an
    /// append then needs no read, and the whole transaction can go in one hand-over. If another
    /// process wrote to the database since, the append's conditional head update fails and the
    /// transaction with it (code `audit.head_moved`); the copy is then forgotten, so only callers
    /// that retry such a failure should use this.
    pub async fn acquire_with_chain(&mut self) -> Result<(), sqlx::Error> {
        self.acquire().await?;
        if self.chain_head.is_none() {
            if let Some(g) = self.hand.writer.as_ref() {
                self.chain_head = g.chain_head.clone();
                self.chain_cached = self.chain_head.is_some();
            }
        }
        Ok(())
    }

    /// After a commit: the chain head this transaction leaves is the one the next will start from.
    /// A transaction that did not touch the chain leaves the copy as it was.
    fn keep_chain(&mut self) {
        let Some(head) = self.chain_head.clone() else { return };
        if let Some(g) = self.hand.writer.as_mut() {
            g.chain_head = Some(head);
        }
    }

    /// Sends `BEGIN` if not sent yet, the queue, then `stmts`, in one round trip; returns what
    /// `stmts` did.
    async fn send(&mut self, stmts: &[(&str, &[Arg])]) -> Result<Vec<Done>, sqlx::Error> {
        self.acquire().await?;
        let (pending, mut checks) = self.take_pending()?;
        let begin: Option<(&str, &[Arg])> = if self.hand.begun { None } else { Some((self.begin_sql(), &[])) };
        if begin.is_some() {
            checks.insert(0, Check::None);
        }
        let all: Vec<(&str, &[Arg])> =
            begin.into_iter().chain(pending.iter().map(|m| (m.sql.as_ref(), m.args.as_slice()))).chain(stmts.iter().copied()).collect();
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let skip = all.len() - stmts.len();
        self.hand.begun = true;
        let (mut out, err) = send_checked(self.hand.conn(), self.backend, &all, &checks).await;
        if let Some(e) = err {
            self.hand.forget_chain();
            return Err(e);
        }
        Ok(out.split_off(skip))
    }

    /// Takes the queued writes as they go out, with what to check of each: on PostgreSQL, runs of
    /// writes to different tables joined into one statement each (see the `merge` module); on
    /// SQLite, each expectation followed by its guard statement.
    fn take_pending(&mut self) -> Result<(Vec<merge::Merged>, Vec<Check>), sqlx::Error> {
        const GUARD: &str = "INSERT INTO temp.tg_expect (ok) SELECT 0 WHERE changes() <> ";
        let pending = std::mem::take(&mut self.pending);
        let mut out = Vec::with_capacity(pending.len());
        let mut checks = Vec::with_capacity(pending.len());
        let mut run: Vec<(&'static str, Vec<Arg>)> = Vec::new();
        for q in pending {
            match (self.backend, q.expect) {
                (Backend::Postgres, None) => run.push((q.sql, q.args)),
                (Backend::Postgres, Some((rows, code))) => {
                    for m in merge::merge(&std::mem::take(&mut run))? {
                        out.push(m);
                        checks.push(Check::None);
                    }
                    out.push(merge::Merged { sql: q.sql.into(), args: q.args });
                    checks.push(Check::Rows(rows, code));
                }
                (Backend::Sqlite, expect) => {
                    out.push(merge::Merged { sql: q.sql.into(), args: q.args });
                    checks.push(Check::None);
                    if let Some((rows, code)) = expect {
                        out.push(merge::Merged { sql: format!("{GUARD}{rows}").into(), args: Vec::new() });
                        checks.push(Check::Guard(code));
                    }
                }
            }
        }
        for m in merge::merge(&run)? {
            out.push(m);
            checks.push(Check::None);
        }
        Ok((out, checks))
    }

    fn begin_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Runs the queued writes.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.send(&[]).await.map(|_| ())
    }

    /// Runs the queued writes, then `sql` (a query written with its own `$1…$n`), and returns its rows,
    /// in one round trip.
    pub async fn read(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, sqlx::Error> {
        let mut done = self.send(&[(sql, &args)]).await?;
        Ok(done.pop().map(|d| d.rows).unwrap_or_default())
    }

    /// Runs the queued writes, then `stmts` (each written with its own `$1…$n`), in one round trip.
    pub async fn batch(&mut self, stmts: &[(&str, Vec<Arg>)]) -> Result<Vec<Done>, sqlx::Error> {
        let refs: Vec<(&str, &[Arg])> = stmts.iter().map(|(s, a)| (*s, a.as_slice())).collect();
        self.send(&refs).await
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if !self.hand.begun && self.pending.is_empty() {
            return Ok(());
        }
        self.send(&[("COMMIT", &[])]).await?;
        self.hand.done = true;
        self.keep_chain();
        Ok(())
    }

    /// Commits, then runs `reads` (each written with its own `$1…$n`) on the same connection, in the
    /// same round trip on SQLite, and returns the rows of each: what a caller reads back after its
    /// write costs no hand-over of its own. The outer error means the commit failed and nothing was
    /// written; the inner one that the commit succeeded but a read failed (read again to recover).
    pub async fn commit_then_read(mut self, reads: &[(&str, Vec<Arg>)]) -> Result<Result<Vec<Vec<Row>>, sqlx::Error>, sqlx::Error> {
        let mut all: Vec<(&str, &[Arg])> = Vec::with_capacity(reads.len() + 1);
        let committing = self.hand.begun || !self.pending.is_empty();
        if committing {
            all.push(("COMMIT", &[]));
        }
        all.extend(reads.iter().map(|(s, a)| (*s, a.as_slice())));
        self.acquire().await?;
        let (pending, mut checks) = self.take_pending()?;
        let begin: Option<(&str, &[Arg])> = if !self.hand.begun && committing { Some((self.begin_sql(), &[])) } else { None };
        if begin.is_some() {
            checks.insert(0, Check::None);
        }
        let stmts: Vec<(&str, &[Arg])> =
            begin.into_iter().chain(pending.iter().map(|m| (m.sql.as_ref(), m.args.as_slice()))).chain(all).collect();
        let before = stmts.len() - reads.len();
        self.hand.begun |= committing;
        let (done, err) = send_checked(self.hand.conn(), self.backend, &stmts, &checks).await;
        if done.len() < before {
            // The commit did not happen: the drop rolls back whatever ran.
            self.hand.forget_chain();
            return Err(err.unwrap_or_else(|| sqlx::Error::Protocol("a batch ended before its commit".into())));
        }
        self.hand.done = true;
        self.keep_chain();
        if let Some(e) = err {
            return Ok(Err(e));
        }
        Ok(Ok(done.into_iter().skip(before).map(|d| d.rows).collect()))
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.pending.clear();
        self.hand.forget_chain();
        if self.hand.begun && !self.hand.done {
            let r = self.hand.conn().execute(sqlx::raw_sql("ROLLBACK")).await.map(|_| ());
            self.hand.done = true;
            return r;
        }
        Ok(())
    }
}

/// Sends statements (each written with its own `$1…$n`) and returns what each did.
///
/// - SQLite: one multi-statement string, placeholders renumbered past the arguments of the
///   statements before, all arguments bound: one hand-over to the connection's thread.
/// - PostgreSQL: one statement after another on the connection, each a prepared statement with
///   bound arguments (argument-less ones, such as `BEGIN` and `COMMIT`, in the simple protocol).
///   Sending several as one simple-protocol query would save round trips but needs the arguments
///   written into the text, and PostgreSQL then plans every statement on every call: measured on
///   transitions, the planning cost what the round trips saved (ADR 0011), so the statements stay
///   prepared and their plans cached.
async fn send_batch(conn: &mut sqlx::AnyConnection, backend: Backend, stmts: &[(&str, &[Arg])]) -> Result<Vec<Done>, sqlx::Error> {
    match send_batch_partial(conn, backend, stmts).await {
        (out, None) if out.len() == stmts.len() => Ok(out),
        (out, None) => Err(sqlx::Error::Protocol(format!("a batch of {} statements reported {} results", stmts.len(), out.len()))),
        (_, Some(e)) => Err(e),
    }
}

/// [`send_batch`], returning what the statements that completed did, and the error that stopped the
/// rest (the statements after a failing one do not run).
async fn send_batch_partial(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    stmts: &[(&str, &[Arg])],
) -> (Vec<Done>, Option<sqlx::Error>) {
    send_checked(conn, backend, stmts, &[]).await
}

/// [`send_batch_partial`] with a check per statement (missing ones are [`Check::None`]): a failed
/// check stops the batch with the expectation's error.
async fn send_checked(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    stmts: &[(&str, &[Arg])],
    checks: &[Check],
) -> (Vec<Done>, Option<sqlx::Error>) {
    let mut out: Vec<Done> = Vec::with_capacity(stmts.len());
    let err = send_into(conn, backend, stmts, checks, &mut out).await.err().map(|e| match checks.get(out.len()) {
        // SQLite: the statement that failed is a guard.
        Some(Check::Guard(code)) => expectation(code),
        _ => e,
    });
    (out, err)
}

/// The statements prepared (`PREPARE`) on the connection PostgreSQL groups run on, by text and
/// argument types (see [`send_message`]).
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    names: std::collections::HashMap<(String, String), String>,
}

/// At most this many statements are kept prepared on a group connection; past it, they are all
/// deallocated and prepared again as used.
const MAX_PREPARED: usize = 512;

/// PostgreSQL: sends the statements as one simple-query message, in one round trip; returns what
/// each statement that completed did, and the error that stopped the rest.
///
/// - A statement with arguments runs as `EXECUTE` of a statement prepared on this connection
///   (`PREPARE`, with the argument types a bound argument has), with the arguments written in as
///   literals (see `sqlbuf::push_pg_literal`): its plan is cached, as with bound arguments. Statements not
///   prepared yet are prepared first, in a message of their own.
/// - PostgreSQL stops a message at its first failing statement, so a [`Check::Rows`] is checked by
///   the statement itself: it is sent as [`pg_guard`], which fails when the write changed another
///   number of rows.
#[allow(deprecated)]
pub(crate) async fn send_message(
    conn: &mut sqlx::AnyConnection,
    prepared: &mut Prepared,
    stmts: &[(&str, &[Arg])],
    checks: &[Check],
) -> (Vec<Done>, Option<sqlx::Error>) {
    use futures_util::TryStreamExt;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let fail = |m: String| (Vec::new(), Some(sqlx::Error::Protocol(m)));
    if prepared.names.len() > MAX_PREPARED {
        // Only these: the connection's own statement cache (sqlx's) stays valid.
        let all: String = prepared.names.values().map(|n| format!("DEALLOCATE {n};\n")).collect();
        if let Err(e) = conn.execute(sqlx::raw_sql(&all)).await {
            return (Vec::new(), Some(e));
        }
        prepared.names.clear();
    }
    let mut sql = String::new();
    let mut prepare = String::new();
    let mut new_names = Vec::new();
    let mut guards = Vec::with_capacity(stmts.len());
    for (i, (s, a)) in stmts.iter().enumerate() {
        if i > 0 {
            sql.push_str(";\n");
        }
        let s = s.trim().trim_end_matches(';');
        let text = match checks.get(i).copied().unwrap_or(Check::None) {
            Check::Rows(rows, code) => match pg_guard(s, rows) {
                Some(g) => {
                    guards.push(Check::Guard(code));
                    g
                }
                None => return fail(format!("tg-db: cannot check the rows of: {s}")),
            },
            c => {
                guards.push(c);
                s.to_owned()
            }
        };
        if a.is_empty() {
            sql.push_str(&text);
            continue;
        }
        let types = a.iter().map(pg_type).collect::<Vec<_>>().join(", ");
        let key = (text, types);
        let name = match prepared.names.get(&key) {
            Some(n) => n.clone(),
            None => {
                let n = format!("tg_g{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                prepare.push_str(&format!("PREPARE {n} ({}) AS {};\n", key.1, key.0));
                new_names.push((key.clone(), n.clone()));
                n
            }
        };
        sql.push_str("EXECUTE ");
        sql.push_str(&name);
        for (k, arg) in a.iter().enumerate() {
            sql.push_str(if k == 0 { "(" } else { ", " });
            if let Err(e) = sqlbuf::push_pg_literal(arg, &mut sql) {
                return fail(e);
            }
        }
        sql.push(')');
    }
    if !prepare.is_empty() {
        if let Err(e) = conn.execute(sqlx::raw_sql(&prepare)).await {
            return (Vec::new(), Some(e));
        }
        prepared.names.extend(new_names);
    }
    let mut out: Vec<Done> = Vec::with_capacity(stmts.len());
    let mut cur = Done::default();
    let run = async {
        let mut s = conn.fetch_many(sqlx::raw_sql(&sql));
        while let Some(item) = s.try_next().await? {
            match item {
                sqlx::Either::Right(row) => cur.rows.push(row),
                sqlx::Either::Left(r) => {
                    cur.rows_affected = r.rows_affected();
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
        Ok::<(), sqlx::Error>(())
    };
    let err = run.await.err().map(|e| match guards.get(out.len()) {
        Some(Check::Guard(code)) => expectation(code),
        _ => e,
    });
    (out, err)
}

/// The PostgreSQL type a bound argument has.
fn pg_type(a: &Arg) -> &'static str {
    match a {
        Arg::I64(_) | Arg::NullI64 => "int8",
        Arg::F64(_) => "float8",
        Arg::Str(_) | Arg::NullStr => "text",
    }
}

/// A plain write (`UPDATE`, `INSERT`, `DELETE`, no `RETURNING`) as one statement that fails, by a
/// division by zero, unless the write changed exactly `rows` rows.
fn pg_guard(write: &str, rows: u64) -> Option<String> {
    let upper = write.trim_start().to_ascii_uppercase();
    let plain = ["UPDATE ", "INSERT ", "DELETE "].iter().any(|k| upper.starts_with(k));
    if !plain || upper.contains("RETURNING") || upper.contains(';') {
        return None;
    }
    Some(format!("WITH tg_guard AS ({write} RETURNING 1) SELECT 1 / (CASE WHEN COUNT(*) = {rows} THEN 1 ELSE 0 END) FROM tg_guard"))
}

// `Query::fetch_many` is deprecated because only SQLite runs several statements from one prepared
// string; that is what the SQLite arm relies on (sqlx 0.8; see issue 3108 there), and the single
// statement arm uses it for the rows-affected count alongside the rows.
#[allow(deprecated)]
async fn send_into(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    stmts: &[(&str, &[Arg])],
    checks: &[Check],
    out: &mut Vec<Done>,
) -> Result<(), sqlx::Error> {
    use futures_util::TryStreamExt;
    let mut cur = Done::default();
    // Rows come before their statement's result; the result closes the statement.
    let mut collect = |item: sqlx::Either<sqlx::any::AnyQueryResult, Row>, out: &mut Vec<Done>| match item {
        sqlx::Either::Right(row) => cur.rows.push(row),
        sqlx::Either::Left(r) => {
            cur.rows_affected = r.rows_affected();
            out.push(std::mem::take(&mut cur));
        }
    };
    match (backend, stmts) {
        (Backend::Sqlite, [(sql, args)]) => {
            let mut s = sqlbuf::bind_all(sqlx::query(sql), args).fetch_many(conn);
            while let Some(item) = s.try_next().await? {
                collect(item, out);
            }
        }
        (Backend::Sqlite, _) => {
            let (sql, args) = combine(stmts.iter().copied())?;
            let mut s = sqlbuf::bind_all(sqlx::query(&sql), &args).fetch_many(conn);
            while let Some(item) = s.try_next().await? {
                collect(item, out);
            }
        }
        (Backend::Postgres, _) => {
            // One statement after another, each prepared (its plan is kept): see `send_batch`.
            for (i, (sql, args)) in stmts.iter().enumerate() {
                {
                    let mut s = if args.is_empty() {
                        conn.fetch_many(sqlx::raw_sql(sql))
                    } else {
                        sqlbuf::bind_all(sqlx::query(sql), args).fetch_many(&mut *conn)
                    };
                    while let Some(item) = s.try_next().await? {
                        collect(item, out);
                    }
                }
                if let Some(Check::Rows(rows, code)) = checks.get(i) {
                    if out.get(i).is_some_and(|d| d.rows_affected != *rows) {
                        return Err(expectation(code));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Joins statements into one string, each renumbered past the arguments of those before it.
fn combine<'a>(stmts: impl Iterator<Item = (&'a str, &'a [Arg])>) -> Result<(String, Vec<Arg>), sqlx::Error> {
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
        match &self.hand.conn {
            Some(c) => c,
            None => panic!("a lazily begun transaction was used directly before its first statement"),
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        debug_assert!(
            self.pending.is_empty(),
            "queued writes must be flushed before the connection is used: {:?}",
            self.pending.first().map(|p| p.sql)
        );
        // A lazily begun transaction must begin with `read`, `batch`, `flush` or `commit`: direct use
        // before that would run outside the transaction.
        assert!(self.hand.begun, "a lazily begun transaction was used directly before its first statement");
        self.hand.conn()
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
        Ok(Self { pool, backend, writer: Arc::new(Mutex::new(WriterState::default())), group: Arc::default() })
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
        let mut tx = self.begin_lazy();
        tx.acquire().await?;
        let begin = tx.begin_sql();
        tx.hand.conn().execute(sqlx::raw_sql(begin)).await?;
        tx.hand.begun = true;
        Ok(tx)
    }

    /// Like [`Self::begin`], but the connection, the write lock (SQLite) and `BEGIN` are all taken
    /// with the first [`Tx::read`], [`Tx::batch`], [`Tx::flush`] or [`Tx::commit`] (or an explicit
    /// [`Tx::acquire`]): a transaction whose statements are all queued holds the lock for one
    /// round trip. The transaction must start with one of those: using the connection directly
    /// first panics.
    pub fn begin_lazy(&self) -> Tx {
        Tx {
            hand: HandTx { conn: None, begun: false, done: false, writer: None },
            backend: self.backend,
            pending: Vec::new(),
            chain_head: None,
            chain_cached: false,
            db: self.clone(),
        }
    }

    /// Runs `stmts` (each written with its own `$1…$n`) on one pooled connection in one round trip,
    /// outside any transaction, and returns the rows of each. For reads that do not depend on each
    /// other's results; see [`send_batch`] for how each engine sends them.
    pub async fn read_many(&self, stmts: &[(&str, Vec<Arg>)]) -> Result<Vec<Vec<Row>>, sqlx::Error> {
        let refs: Vec<(&str, &[Arg])> = stmts.iter().map(|(s, a)| (*s, a.as_slice())).collect();
        let mut conn = self.pool.acquire().await?;
        Ok(send_batch(&mut conn, self.backend, &refs).await?.into_iter().map(|d| d.rows).collect())
    }

    /// Group commit since start (see [`Tx::commit_grouped`]).
    pub fn group_stats(&self) -> GroupStats {
        use std::sync::atomic::Ordering::Relaxed;
        GroupStats {
            groups: self.group.groups.load(Relaxed),
            members: self.group.members.load(Relaxed),
            failed: self.group.failed.load(Relaxed),
        }
    }

    /// Readiness probe.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        // The writer's connection goes back first: closing waits for every connection.
        drop(self.writer.lock().await.conn.take());
        self.group.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
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
        // Closing the pool waits for every connection to come back, this transaction's too.
        drop(tx);
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
        let mut tx = db.begin_lazy();
        tx.later("INSERT INTO t (id) VALUES ($1)", vec![1.into()]);
        tx.commit().await.unwrap();
        assert_eq!(count(db.clone()).await, 1);
        // Begun by a read, then dropped: rolled back before the write lock is free again.
        let mut tx = db.begin_lazy();
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
    /// Batches on either engine: queued writes, `batch` and `read_many` return each statement's rows
    /// and counts, with awkward values (quotes, backslashes, placeholders inside strings, NULLs,
    /// negative numbers, floats) arriving unchanged; a failing batch changes nothing.
    async fn batches_round_trip(db: Db, table: &str) {
        let create = format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, a TEXT, f DOUBLE PRECISION, n BIGINT)");
        sqlx::query(&create).execute(db.pool()).await.unwrap();
        // Statements must be &'static for `later`; the table name is fixed per engine by the caller.
        let ins: &'static str = Box::leak(format!("INSERT INTO {table} (id, a, f, n) VALUES ($1, $2, $3, $4)").into_boxed_str());
        let sel: &'static str = Box::leak(format!("SELECT id, a, f, n FROM {table} WHERE id >= $1 ORDER BY id").into_boxed_str());
        let upd: &'static str = Box::leak(format!("UPDATE {table} SET n = n - $1 WHERE n IS NOT NULL").into_boxed_str());
        let cnt: &'static str = Box::leak(format!("SELECT COUNT(*) FROM {table}").into_boxed_str());
        let odd = r"it's \ '$1' -- 中文 $2";
        let mut tx = db.begin_lazy();
        tx.later(ins, vec![1.into(), odd.into(), (-2.5).into(), (-7).into()]);
        tx.later(ins, vec![2.into(), None::<String>.into(), 1e-7.into(), None::<i64>.into()]);
        let done = tx.batch(&[(upd, vec![(-3).into()]), (sel, vec![1.into()])]).await.unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done[0].rows_affected, 1);
        let rows = &done[1].rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].try_get::<String, _>(1).unwrap(), odd);
        assert_eq!(rows[0].try_get::<f64, _>(2).unwrap(), -2.5);
        assert_eq!(rows[0].try_get::<i64, _>(3).unwrap(), -4);
        assert_eq!(rows[1].try_get::<Option<String>, _>(1).unwrap(), None);
        assert_eq!(rows[1].try_get::<f64, _>(2).unwrap(), 1e-7);
        assert_eq!(rows[1].try_get::<Option<i64>, _>(3).unwrap(), None);
        tx.commit().await.unwrap();
        let many = db.read_many(&[(sel, vec![2.into()]), (cnt, Vec::new())]).await.unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[0].len(), 1);
        assert_eq!(many[1][0].try_get::<i64, _>(0).unwrap(), 2);
        // A failing statement fails the batch, and nothing of the transaction stays.
        let mut tx = db.begin_lazy();
        tx.later(ins, vec![3.into(), "x".into(), 0.0.into(), 0.into()]);
        tx.later(ins, vec![1.into(), "dup".into(), 0.0.into(), 0.into()]);
        assert!(tx.batch(&[(cnt, Vec::new())]).await.is_err());
        drop(tx);
        let n: i64 = db.read_many(&[(cnt, Vec::new())]).await.unwrap()[0][0].try_get(0).unwrap();
        assert_eq!(n, 2);

        // Queued writes to two tables (on PostgreSQL joined into statements with `WITH`, split where
        // a table comes back), then the commit with reads after it, which see what was committed.
        let other = format!("{table}_b");
        sqlx::query(&format!("CREATE TABLE {other} (id BIGINT PRIMARY KEY, note TEXT)")).execute(db.pool()).await.unwrap();
        let ins2: &'static str = Box::leak(format!("INSERT INTO {other} (id, note) VALUES ($1, $2)").into_boxed_str());
        let cnt2: &'static str = Box::leak(format!("SELECT COUNT(*), MAX(note) FROM {other}").into_boxed_str());
        let mut tx = db.begin_lazy();
        tx.later(upd, vec![1.into()]);
        tx.later(ins2, vec![10.into(), odd.into()]);
        tx.later(ins, vec![4.into(), "four".into(), 4.0.into(), 4.into()]);
        tx.later(ins2, vec![11.into(), None::<String>.into()]);
        let read = tx.commit_then_read(&[(sel, vec![1.into()]), (cnt2, Vec::new())]).await.unwrap().unwrap();
        assert_eq!(read.len(), 2);
        let ns: Vec<Option<i64>> = read[0].iter().map(|r| r.try_get(3).unwrap()).collect();
        // The update ran before the insert of row 4, as queued.
        assert_eq!(ns, vec![Some(-5), None, Some(4)]);
        assert_eq!(read[1][0].try_get::<i64, _>(0).unwrap(), 2);
        assert_eq!(read[1][0].try_get::<String, _>(1).unwrap(), odd);
        // A commit batch that fails keeps nothing and reports the outer error.
        let mut tx = db.begin_lazy();
        tx.later(ins2, vec![12.into(), "x".into()]);
        tx.later(ins, vec![4.into(), "dup".into(), 0.0.into(), 0.into()]);
        assert!(tx.commit_then_read(&[(cnt2, Vec::new())]).await.is_err());
        let n: i64 = db.read_many(&[(cnt2, Vec::new())]).await.unwrap()[0][0].try_get(0).unwrap();
        assert_eq!(n, 2);
        // Without writes, the reads run on their own.
        let tx = db.begin_lazy();
        let read = tx.commit_then_read(&[(cnt2, Vec::new())]).await.unwrap().unwrap();
        assert_eq!(read[0][0].try_get::<i64, _>(0).unwrap(), 2);

        // Expectations: a queued write that must change one row. Met, the transaction goes on; not
        // met, nothing after it runs, nothing stays, and the error carries the code.
        let claim: &'static str = Box::leak(format!("UPDATE {table} SET a = $1 WHERE id = $2").into_boxed_str());
        let mut tx = db.begin_lazy();
        tx.later_expect(claim, vec!["one".into(), 1.into()], 1, "t.claim");
        tx.later(ins2, vec![20.into(), "after".into()]);
        tx.commit().await.unwrap();
        let mut tx = db.begin_lazy();
        tx.later(ins2, vec![21.into(), "before".into()]);
        tx.later_expect(claim, vec!["none".into(), 999.into()], 1, "t.claim");
        tx.later(ins2, vec![22.into(), "never".into()]);
        let e = tx.commit_then_read(&[(cnt2, Vec::new())]).await.err().expect("the expectation fails");
        assert_eq!(expectation_failed(&e), Some("t.claim"), "{e}");
        let mut tx = db.begin_lazy();
        tx.later_expect(claim, vec!["none".into(), 999.into()], 1, "t.other");
        let e = tx.read(cnt2, Vec::new()).await.err().expect("the expectation fails in a read too");
        assert_eq!(expectation_failed(&e), Some("t.other"), "{e}");
        drop(tx);
        let n: i64 = db.read_many(&[(cnt2, Vec::new())]).await.unwrap()[0][0].try_get(0).unwrap();
        assert_eq!(n, 3);
        sqlx::query(&format!("DROP TABLE {table}")).execute(db.pool()).await.unwrap();
        sqlx::query(&format!("DROP TABLE {other}")).execute(db.pool()).await.unwrap();
    }

    #[tokio::test]
    async fn sqlite_batches_round_trip() {
        let dir = std::env::temp_dir().join(format!("tg_db_batch_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url(&dir.join("t.db")), &DbOptions { max_connections: 2, ..Default::default() }).await.unwrap();
        batches_round_trip(db.clone(), "batch_t").await;
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn sqlite_keeps_the_chain_head_under_the_write_lock() {
        let dir = std::env::temp_dir().join(format!("tg_db_chain_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url(&dir.join("t.db")), &DbOptions { max_connections: 2, ..Default::default() }).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)").execute(db.pool()).await.unwrap();
        let mut tx = db.begin_lazy();
        tx.acquire_with_chain().await.unwrap();
        assert_eq!(tx.chain_head, None);
        tx.chain_head = Some((5, "m5".into()));
        tx.later("INSERT INTO t (x) VALUES (1)", Vec::new());
        tx.commit().await.unwrap();
        // The next writer starts from what the last one committed, marked as the process's copy.
        let mut tx = db.begin_lazy();
        tx.acquire_with_chain().await.unwrap();
        assert_eq!(tx.chain_head, Some((5, "m5".into())));
        assert!(tx.chain_cached);
        // A failed statement forgets it; so does a rollback.
        tx.later_expect("UPDATE t SET x = 2 WHERE x = 999", Vec::new(), 1, "t.none");
        assert!(tx.flush().await.is_err());
        drop(tx);
        let mut tx = db.begin_lazy();
        tx.acquire_with_chain().await.unwrap();
        assert_eq!(tx.chain_head, None);
        assert!(!tx.chain_cached);
        tx.chain_head = Some((6, "m6".into()));
        tx.later("INSERT INTO t (x) VALUES (2)", Vec::new());
        tx.commit().await.unwrap();
        // A transaction that does not ask for the copy reads the head itself, and one that does
        // not touch the chain leaves the copy alone.
        let tx = db.begin().await.unwrap();
        assert_eq!(tx.chain_head, None);
        tx.commit().await.unwrap();
        let mut tx = db.begin_lazy();
        tx.acquire_with_chain().await.unwrap();
        assert_eq!(tx.chain_head, Some((6, "m6".into())));
        tx.later("INSERT INTO t (x) VALUES (3)", Vec::new());
        tx.rollback().await.unwrap();
        let mut tx = db.begin_lazy();
        tx.acquire_with_chain().await.unwrap();
        assert_eq!(tx.chain_head, None);
        drop(tx);
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn sqlite_writers_keep_one_connection() {
        let dir = std::env::temp_dir().join(format!("tg_db_writer_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url(&dir.join("t.db")), &DbOptions { max_connections: 4, ..Default::default() }).await.unwrap();
        // A temporary table lives on one connection only: the next writer sees it, a reader does not.
        let mut tx = db.begin().await.unwrap();
        tx.later("CREATE TEMP TABLE mark (x INTEGER)", Vec::new());
        tx.commit().await.unwrap();
        let mut held: Vec<_> = Vec::new();
        for _ in 0..3 {
            held.push(db.pool().acquire().await.unwrap());
        }
        for c in &mut held {
            assert!(sqlx::query("SELECT 1 FROM temp.mark").fetch_optional(&mut **c).await.is_err(), "not on a pooled connection");
        }
        drop(held);
        let mut tx = db.begin_lazy();
        assert!(tx.read("SELECT COUNT(*) FROM temp.mark", Vec::new()).await.is_ok(), "the writer's connection");
        // After a failed transaction (rolled back when dropped), too.
        tx.later("INSERT INTO nowhere VALUES (1)", Vec::new());
        assert!(tx.flush().await.is_err());
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        assert!(tx.read("SELECT COUNT(*) FROM temp.mark", Vec::new()).await.is_ok());
        drop(tx);
        // Closing does not wait for the writer's connection.
        tokio::time::timeout(Duration::from_secs(10), db.close()).await.expect("closes");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn postgres_batches_round_trip() {
        if std::env::var_os("CI").is_none() && std::env::var_os("TONGGUAN_TEST_PG").is_none() {
            eprintln!("PostgreSQL tests not enabled (set TONGGUAN_TEST_PG=1)");
            return;
        }
        let base = std::env::var("TONGGUAN_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let db = Db::connect(&format!("{}/postgres", base.trim_end_matches('/')), &DbOptions { max_connections: 2, ..Default::default() })
            .await
            .unwrap();
        let table = format!("tg_db_batch_{}", std::process::id());
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}")).execute(db.pool()).await.unwrap();
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}_b")).execute(db.pool()).await.unwrap();
        batches_round_trip(db.clone(), &table).await;
        db.close().await;
    }
}
