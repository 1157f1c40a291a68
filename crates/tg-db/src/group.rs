//! Group commit: transactions that are ready to commit at the same moment go to the database
//! together, as one transaction: on SQLite in one hand-over to the connection's thread, on
//! PostgreSQL in two messages (ADR 0014).
//!
//! SQLite has one writer. A transaction whose statements are all queued holds the write lock for
//! one hand-over, but under load most of that hand-over is waiting: for the connection's thread to
//! wake, and for the runtime to schedule the task that holds the lock once the results are back
//! (ADR 0012 measured 1.3–1.6 ms per commit, most of it kernel time). Transactions that queue for
//! the lock meanwhile can share the next hand-over instead of waiting for one each (ADR 0013).
//!
//! PostgreSQL has many writers, but every audited transaction locks the audit chain's head until it
//! commits, and without groups each held it for two round trips and the scheduling in between. A
//! group's first message sends every member's writes and then locks the head; the members are
//! sealed; the second sends their audit rows, the commit and their reads. The head is held for one
//! round trip per group, and two groups run at once, one writing while the other holds the head.
//! Statements run as `EXECUTE` of statements prepared on the leader's connection (ADR 0014).
//!
//! - Each member keeps its own checks ([`Tx::later_expect`]). If any statement of the group fails,
//!   the whole group is rolled back and each member then runs alone, so a member's outcome is
//!   exactly what it would have been without the group.
//! - The audit hash chain runs through the group in order: a member's audit rows are written by its
//!   [`Seal`], called with the chain head the member before it left.
//! - The groups are run by a task of its own, so a caller that goes away (a closed HTTP connection)
//!   cannot leave the other members without an answer.

use crate::merge::Merged;
use crate::{send_checked, Arg, Backend, Check, Db, Prepared, Queued, Row, Tx, WriterState};
use sqlx::pool::PoolConnection;
use sqlx::Any;
use sqlx::Executor;
use std::sync::atomic::Ordering;
use tokio::sync::{oneshot, OwnedMutexGuard};

/// Writes what must be written last, once the audit chain head the transaction continues is known:
/// called with [`Tx::chain_head`] set (and [`Tx::chain_cached`]), it queues its writes and leaves the
/// head it wrote in [`Tx::chain_head`]. It may be called a second time, on the same transaction
/// with its queue as it was before the first call, if the group it went with failed.
pub type Seal = Box<dyn Fn(&mut Tx) -> Result<(), sqlx::Error> + Send + Sync>;

/// Reads run after a commit (each written with its own `$1…$n`).
pub type Reads = Vec<(&'static str, Vec<Arg>)>;

/// What [`Tx::commit_then_read`] returns: the outer error means the commit failed and nothing was
/// written; the inner one that the commit succeeded but a read failed.
pub type Committed = Result<Result<Vec<Vec<Row>>, sqlx::Error>, sqlx::Error>;

/// A transaction waiting to be committed with others.
pub(crate) struct Member {
    tx: Tx,
    seal: Option<Seal>,
    reads: Reads,
    reply: oneshot::Sender<Committed>,
}

/// At most this many transactions go in one group (bounds the statement text and a failed group's
/// cost).
const MAX_GROUP: usize = 64;

/// The audit chain head (the table tg-iam keeps it in), read when the process has no copy.
const CHAIN_HEAD_SQL: &str = "SELECT seq, mac FROM audit_head WHERE id = 1";

impl Tx {
    /// Whether [`Tx::commit_grouped`] can take this transaction: nothing sent yet.
    pub fn groupable(&self) -> bool {
        self.hand.conn.is_none()
    }

    /// Commits, with `seal` writing the audit rows, then runs `reads`, like
    /// [`Tx::commit_then_read`]; on SQLite, together with the other transactions committing at the
    /// same moment (see the module). A transaction that is not [`Tx::groupable`] commits alone.
    pub async fn commit_grouped(self, seal: Option<Seal>, reads: Reads) -> Committed {
        if !self.groupable() {
            return commit_alone(self, seal.as_ref(), &reads).await;
        }
        let db = self.db.clone();
        let (reply, answer) = oneshot::channel();
        let lead_now = {
            let mut q = db.group.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.members.push(Member { tx: self, seal, reads, reply });
            let start = q.leaders < max_leaders(db.backend);
            q.leaders += usize::from(start);
            start
        };
        if lead_now {
            tokio::spawn(lead(db));
        }
        answer.await.map_err(|_| sqlx::Error::Protocol("tg-db: a group commit ended without an answer".into()))?
    }
}

/// Commits one transaction on its own: the chain head comes from the process's copy or is read in
/// the transaction, then the seal, the commit and the reads.
async fn commit_alone(mut tx: Tx, seal: Option<&Seal>, reads: &Reads) -> Committed {
    if let Some(seal) = seal {
        tx.acquire_with_chain().await?;
        if tx.chain_head.is_none() {
            let sql = match tx.backend {
                Backend::Postgres => "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE",
                Backend::Sqlite => CHAIN_HEAD_SQL,
            };
            let rows = tx.read(sql, Vec::new()).await?;
            tx.chain_head = Some(head_of(&rows)?);
            tx.chain_cached = false;
        }
        seal(&mut tx)?;
    }
    tx.commit_then_read(reads).await
}

fn head_of(rows: &[Row]) -> Result<(i64, String), sqlx::Error> {
    use sqlx::Row as _;
    let r = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// The transactions waiting, and how many [`lead`] tasks are running to commit them.
#[derive(Default)]
pub(crate) struct Queue {
    members: Vec<Member>,
    leaders: usize,
}

/// At most this many groups are committed at once. SQLite: one, as there is one writer; with one
/// leader per transaction, the write lock would pass through every task that finds the queue
/// already taken, each waiting to be scheduled. PostgreSQL: groups write in parallel on their own
/// connections and meet only at the audit chain's head, which each holds for one round trip; with
/// two, one group writes while the other holds the head (1, 2, 4 and 6 leaders measured 498, 523,
/// 478 and 418 transitions/s: more leaders make smaller groups, each paying its own commit).
fn max_leaders(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    }
}

/// Commits the waiting transactions, a group at a time, until none is left.
async fn lead(db: Db) {
    // Should the task end early (a panic), the next transaction must start a new one; if it was
    // the last, those waiting are answered with an error (their reply channels close).
    struct Leading(Db, bool);
    impl Drop for Leading {
        fn drop(&mut self) {
            if self.1 {
                let mut q = self.0.group.queue.lock().unwrap_or_else(|p| p.into_inner());
                q.leaders -= 1;
                if q.leaders == 0 {
                    q.members.clear();
                }
            }
        }
    }
    let mut leading = Leading(db.clone(), true);
    // PostgreSQL: this leader's connection, with what is prepared on it.
    let mut own: Option<(PoolConnection<Any>, Prepared)> = None;
    loop {
        let mut guard = match db.backend {
            Backend::Sqlite => Some(db.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        let members: Vec<Member> = {
            let mut q = db.group.queue.lock().unwrap_or_else(|p| p.into_inner());
            if q.members.is_empty() {
                q.leaders -= 1;
                leading.1 = false;
                drop(q);
                if let Some(c) = own {
                    db.group.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                }
                return;
            }
            let n = q.members.len().min(MAX_GROUP);
            q.members.drain(..n).collect()
        };
        db.group.groups.fetch_add(1, Ordering::Relaxed);
        db.group.members.fetch_add(members.len() as u64, Ordering::Relaxed);
        let r = match guard.as_mut() {
            Some(g) => together(&db, g, members).await,
            None => together_pg(&db, &mut own, members).await,
        };
        let failed = r.err().unwrap_or_default();
        if !failed.is_empty() {
            db.group.failed.fetch_add(1, Ordering::Relaxed);
        }
        // The lock goes back between groups, so other writers take their turn (the lock is fair).
        drop(guard);
        // After a failed group, each alone, in order; each takes the lock itself.
        for m in failed {
            let r = commit_alone(m.tx, m.seal.as_ref(), &m.reads).await;
            let _ = m.reply.send(r);
        }
    }
}

/// PostgreSQL: commits the members as one transaction in two messages on the leader's connection
/// (`own`, taken from the idle ones or the pool when missing) and answers each. The first message
/// sends every member's writes and then locks the audit chain's head (`FOR UPDATE`); the members
/// are sealed in order after it; the second sends their audit rows, the commit and their reads.
/// The head is held for that one round trip, and groups on other connections write meanwhile.
/// Returns the members to run alone if the group failed before its commit (nothing was written).
async fn together_pg(db: &Db, own: &mut Option<(PoolConnection<Any>, Prepared)>, members: Vec<Member>) -> Result<(), Vec<Member>> {
    if own.is_none() {
        let idle = db.group.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        *own = match idle {
            Some(c) => Some(c),
            None => match db.pool.acquire().await {
                Ok(c) => Some((c, Prepared::default())),
                Err(_) => return Err(members),
            },
        };
    }
    let Some((conn, prepared)) = own.as_mut() else { return Err(members) };
    let single = members.len() == 1;
    let sealed = members.iter().any(|m| m.seal.is_some());
    let mut ready: Vec<(Member, Vec<Queued>)> = Vec::with_capacity(members.len());
    let mut parts = Vec::with_capacity(members.len());
    for mut m in members {
        let before = m.tx.pending.clone();
        match m.tx.take_pending() {
            Ok(p) => parts.push(p),
            Err(e) => {
                let _ = m.reply.send(Err(e));
                continue;
            }
        }
        ready.push((m, before));
    }
    if ready.is_empty() {
        return Ok(());
    }
    let mut stmts: Vec<(&str, &[Arg])> = vec![("BEGIN", &[])];
    let mut checks = vec![Check::None];
    push_parts(&parts, &mut stmts, &mut checks);
    if sealed {
        stmts.push(("SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE", &[]));
        checks.push(Check::None);
    }
    let n_first = stmts.len();
    let (done, err) = crate::send_message(conn, prepared, &stmts, &checks).await;
    drop(stmts);
    if done.len() < n_first {
        // Roll back whatever ran (outside a transaction `ROLLBACK` only warns); a connection that
        // cannot even do that is given up.
        if conn.execute(sqlx::raw_sql("ROLLBACK")).await.is_err() {
            own.take().map(|(c, _)| c.detach());
        }
        let e = err.unwrap_or_else(|| sqlx::Error::Protocol("a batch ended before its commit".into()));
        if single && crate::expectation_failed(&e).is_some() {
            // Alone already, and a check failed: the outcome is this one.
            if let Some((m, _)) = ready.pop() {
                let _ = m.reply.send(Err(e));
            }
            return Ok(());
        }
        return Err(restore(ready));
    }
    let mut head = None;
    if sealed {
        match done.last().map(|d| head_of(&d.rows)) {
            Some(Ok(h)) => head = Some(h),
            _ => return Err(abandon(conn, ready).await),
        }
    }
    // Seal in order under the lock, each continuing the chain where the one before left it.
    let mut tails = Vec::with_capacity(ready.len());
    for (m, _) in &mut ready {
        if let Some(seal) = &m.seal {
            m.tx.chain_head = head.take();
            m.tx.chain_cached = false;
            if seal(&mut m.tx).is_err() {
                let Some((conn, _)) = own.as_mut() else { return Err(restore(ready)) };
                return Err(abandon(conn, ready).await);
            }
            head = m.tx.chain_head.take();
        }
        match m.tx.take_pending() {
            Ok(p) => tails.push(p),
            Err(_) => {
                let Some((conn, _)) = own.as_mut() else { return Err(restore(ready)) };
                return Err(abandon(conn, ready).await);
            }
        }
    }
    let Some((conn, prepared)) = own.as_mut() else { return Err(restore(ready)) };
    let mut stmts: Vec<(&str, &[Arg])> = Vec::new();
    let mut checks = Vec::new();
    push_parts(&tails, &mut stmts, &mut checks);
    let commit_at = stmts.len();
    stmts.push(("COMMIT", &[]));
    checks.push(Check::None);
    for (m, _) in &ready {
        stmts.extend(m.reads.iter().map(|(s, a)| (*s, a.as_slice())));
    }
    let (done, err) = crate::send_message(conn, prepared, &stmts, &checks).await;
    drop(stmts);
    if done.len() <= commit_at {
        if conn.execute(sqlx::raw_sql("ROLLBACK")).await.is_err() {
            own.take().map(|(c, _)| c.detach());
        }
        return Err(restore(ready));
    }
    answer(ready.into_iter().map(|(m, _)| m), done.into_iter().skip(commit_at + 1).map(|d| d.rows), err);
    Ok(())
}

/// Appends the members' taken queues (see `Tx::take_pending`) to a group's statements and checks.
fn push_parts<'a>(parts: &'a [(Vec<Merged>, Vec<Check>)], stmts: &mut Vec<(&'a str, &'a [Arg])>, checks: &mut Vec<Check>) {
    for (merged, c) in parts {
        stmts.extend(merged.iter().map(|m| (m.sql.as_ref(), m.args.as_slice())));
        checks.extend_from_slice(c);
    }
}

/// Rolls back a group that cannot go on and hands its members back to run alone.
async fn abandon(conn: &mut PoolConnection<Any>, ready: Vec<(Member, Vec<Queued>)>) -> Vec<Member> {
    let _ = conn.execute(sqlx::raw_sql("ROLLBACK")).await;
    restore(ready)
}

/// Answers the members of a committed group with their reads, in order (`failed_read`: the error
/// that stopped the reads, if one did).
fn answer(members: impl Iterator<Item = Member>, mut rows: impl Iterator<Item = Vec<Row>>, failed_read: Option<sqlx::Error>) {
    let failed_read = failed_read.map(|e| e.to_string());
    for m in members {
        let mut got = Vec::with_capacity(m.reads.len());
        for _ in 0..m.reads.len() {
            match rows.next() {
                Some(r) => got.push(r),
                None => break,
            }
        }
        let answer = if got.len() == m.reads.len() {
            Ok(got)
        } else {
            Err(sqlx::Error::Protocol(failed_read.clone().unwrap_or_else(|| "a read after the commit did not run".into())))
        };
        let _ = m.reply.send(Ok(answer));
    }
}

/// Commits the members as one transaction in one hand-over and answers each. Returns the members
/// to run alone if the group failed before its commit (nothing of it was written).
async fn together(db: &Db, g: &mut OwnedMutexGuard<WriterState>, members: Vec<Member>) -> Result<(), Vec<Member>> {
    // On the writer's connection, where the group texts stay prepared.
    let mut conn = match g.conn.take() {
        Some(c) => c,
        None => match db.pool.acquire().await {
            Ok(c) => c,
            Err(_) => return Err(members),
        },
    };
    let (r, keep) = together_on(&mut conn, g, members).await;
    if keep {
        g.conn = Some(conn);
    } else {
        drop(conn.detach());
    }
    r
}

/// [`together`] on `conn`; also tells whether `conn` is fit to keep.
async fn together_on(conn: &mut PoolConnection<Any>, g: &mut WriterState, members: Vec<Member>) -> (Result<(), Vec<Member>>, bool) {
    let single = members.len() == 1;
    let mut head = g.chain_head.clone();
    if head.is_none() && members.iter().any(|m| m.seal.is_some()) {
        // No copy (the first write since start, or after a failure): read it. Not yet under
        // SQLite's write lock, so the members' head updates stay conditional on it.
        let read = send_checked(conn, Backend::Sqlite, &[(CHAIN_HEAD_SQL, &[])], &[]).await;
        match read {
            (done, None) => head = done.first().and_then(|d| head_of(&d.rows).ok()),
            (_, Some(_)) => return (Err(members), true),
        }
    }
    // Seal in order, each continuing the chain where the one before left it.
    let mut ready: Vec<(Member, Vec<Queued>)> = Vec::with_capacity(members.len());
    for mut m in members {
        let before = m.tx.pending.clone();
        if let Some(seal) = &m.seal {
            m.tx.chain_head = head.clone();
            m.tx.chain_cached = true;
            if let Err(e) = seal(&mut m.tx) {
                let _ = m.reply.send(Err(e));
                continue;
            }
            head = m.tx.chain_head.take();
        }
        ready.push((m, before));
    }
    if ready.is_empty() {
        return (Ok(()), true);
    }
    let mut parts = Vec::with_capacity(ready.len());
    for (m, _) in &mut ready {
        match m.tx.take_pending() {
            Ok(p) => parts.push(p),
            Err(_) => return (Err(restore(ready)), true),
        }
    }
    let mut stmts: Vec<(&str, &[Arg])> = vec![("BEGIN IMMEDIATE", &[])];
    let mut checks = vec![Check::None];
    push_parts(&parts, &mut stmts, &mut checks);
    let commit_at = stmts.len();
    stmts.push(("COMMIT", &[]));
    checks.push(Check::None);
    for (m, _) in &ready {
        stmts.extend(m.reads.iter().map(|(s, a)| (*s, a.as_slice())));
    }
    // Prepared once on the writer's connection: a group of the same members' kinds has the same text.
    let (done, err) = send_checked(conn, Backend::Sqlite, &stmts, &checks).await;
    drop(stmts);
    if done.len() <= commit_at {
        g.chain_head = None;
        let keep = done.is_empty() || conn.execute(sqlx::raw_sql("ROLLBACK")).await.is_ok();
        let moved = err.as_ref().is_some_and(|e| crate::expectation_failed(e) == Some("audit.head_moved"));
        if single && !moved {
            // Alone already: the outcome is this one.
            if let Some((m, _)) = ready.pop() {
                let e = err.unwrap_or_else(|| sqlx::Error::Protocol("a batch ended before its commit".into()));
                let _ = m.reply.send(Err(e));
            }
            return (Ok(()), keep);
        }
        return (Err(restore(ready)), keep);
    }
    if head.is_some() {
        g.chain_head = head;
    }
    answer(ready.into_iter().map(|(m, _)| m), done.into_iter().skip(commit_at + 1).map(|d| d.rows), err);
    (Ok(()), true)
}

/// The members as they were before their seals ran.
fn restore(ready: Vec<(Member, Vec<Queued>)>) -> Vec<Member> {
    ready
        .into_iter()
        .map(|(mut m, before)| {
            m.tx.pending = before;
            m.tx.chain_head = None;
            m.tx.chain_cached = false;
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sqlite_url, DbOptions};
    use sqlx::Row as _;

    /// A chain like tg-iam's: each sealed transaction appends a link after the head it is given.
    fn seal() -> Seal {
        Box::new(|tx: &mut Tx| {
            let (seq, mac) = tx.chain_head.take().ok_or(sqlx::Error::RowNotFound)?;
            let next = (seq + 1, format!("{mac}>{}", seq + 1));
            if tx.chain_cached {
                let args = vec![next.0.into(), next.1.as_str().into(), seq.into(), mac.as_str().into()];
                tx.later_expect(
                    "UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1 AND seq = $3 AND mac = $4",
                    args,
                    1,
                    "audit.head_moved",
                );
            } else {
                tx.later("UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1", vec![next.0.into(), next.1.as_str().into()]);
            }
            tx.later(
                "INSERT INTO chain (seq, prev, mac) VALUES ($1, $2, $3)",
                vec![next.0.into(), mac.as_str().into(), next.1.as_str().into()],
            );
            tx.chain_head = Some(next);
            Ok(())
        })
    }

    /// A database for a test: a SQLite file, or (`pg`) a new PostgreSQL database when PostgreSQL
    /// tests are enabled (`None` otherwise). Returns it with its URL.
    async fn setup(name: &str, pg: bool) -> Option<(Db, String)> {
        let url = if pg {
            if std::env::var_os("CI").is_none() && std::env::var_os("TONGGUAN_TEST_PG").is_none() {
                eprintln!("PostgreSQL tests not enabled (set TONGGUAN_TEST_PG=1)");
                return None;
            }
            let base = std::env::var("TONGGUAN_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            let base = base.trim_end_matches('/').to_owned();
            let admin = Db::connect(&format!("{base}/postgres"), &DbOptions { max_connections: 1, ..Default::default() }).await.unwrap();
            let db_name = format!("tg_db_group_{name}_{}", std::process::id());
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name}")).execute(admin.pool()).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(admin.pool()).await.unwrap();
            admin.close().await;
            format!("{base}/{db_name}")
        } else {
            let dir = std::env::temp_dir().join(format!("tg_db_group_{name}_{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            sqlite_url(&dir.join("t.db"))
        };
        let db = Db::connect(&url, &DbOptions { max_connections: 4, ..Default::default() }).await.unwrap();
        for sql in [
            "CREATE TABLE audit_head (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, mac TEXT NOT NULL)",
            "INSERT INTO audit_head VALUES (1, 0, 'g')",
            "CREATE TABLE chain (seq BIGINT PRIMARY KEY, prev TEXT NOT NULL, mac TEXT NOT NULL)",
            "CREATE TABLE items (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
        ] {
            sqlx::query(sql).execute(db.pool()).await.unwrap();
        }
        for id in 0..40 {
            sqlx::query("INSERT INTO items VALUES ($1, 0)").bind(id as i64).execute(db.pool()).await.unwrap();
        }
        Some((db, url))
    }

    /// Closes the test's database and, on PostgreSQL, drops it.
    async fn teardown(db: Db, url: &str) {
        db.close().await;
        if let Some((base, name)) = url.strip_prefix("postgres://").and_then(|_| url.rsplit_once('/')) {
            let admin = Db::connect(&format!("{base}/postgres"), &DbOptions { max_connections: 1, ..Default::default() }).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(admin.pool()).await.unwrap();
            admin.close().await;
        }
    }

    /// One claim (item `id` from version 0) with its audit link; reads the item back.
    async fn claim(db: Db, id: i64) -> Committed {
        let mut tx = db.begin_lazy();
        tx.later_expect("UPDATE items SET v = v + 1 WHERE id = $1 AND v = 0", vec![id.into()], 1, "items.lost");
        tx.commit_grouped(Some(seal()), vec![("SELECT v FROM items WHERE id = $1", vec![id.into()])]).await
    }

    /// The chain is whole: links 1..=n, each after the one before, and the head is the last.
    async fn assert_chain(db: &Db, n: i64) {
        let rows = sqlx::query("SELECT seq, prev, mac FROM chain ORDER BY seq").fetch_all(db.pool()).await.unwrap();
        assert_eq!(rows.len() as i64, n);
        let mut mac = "g".to_owned();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.get::<i64, _>(0), i as i64 + 1);
            assert_eq!(r.get::<String, _>(1), mac);
            mac = r.get::<String, _>(2);
        }
        let head = sqlx::query("SELECT seq, mac FROM audit_head").fetch_one(db.pool()).await.unwrap();
        assert_eq!((head.get::<i64, _>(0), head.get::<String, _>(1)), (n, mac));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_hand_overs_and_a_lost_claim_fails_alone() {
        share_and_lose(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_groups_share_one_message_and_a_lost_claim_fails_alone() {
        share_and_lose(true).await;
    }

    async fn share_and_lose(pg: bool) {
        let Some((db, url)) = setup("share", pg).await else { return };
        // 30 claims on 20 items: items 0..10 are claimed twice, so exactly 10 claims lose.
        let tasks: Vec<_> = (0..30).map(|i| tokio::spawn(claim(db.clone(), i % 20))).collect();
        let mut won = 0;
        let mut lost = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Ok(rows)) => {
                    assert_eq!(rows[0][0].get::<i64, _>(0), 1, "the read comes after the commit");
                    won += 1;
                }
                Err(e) => {
                    assert_eq!(crate::expectation_failed(&e), Some("items.lost"), "{e}");
                    lost += 1;
                }
                Ok(Err(e)) => panic!("read failed: {e}"),
            }
        }
        assert_eq!((won, lost), (20, 10));
        let crate::GroupStats { groups, members, .. } = db.group_stats();
        assert_eq!(members, 30);
        assert!(groups < members, "commits waiting at the same moment went together: {groups} groups");
        // The losers wrote nothing, not even their audit links, and the chain has no gap.
        let claimed: i64 = sqlx::query_scalar("SELECT CAST(SUM(v) AS BIGINT) FROM items").fetch_one(db.pool()).await.unwrap();
        assert_eq!(claimed, 20);
        assert_chain(&db, 20).await;
        teardown(db, &url).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_process_appending_is_noticed_and_the_group_still_commits() {
        moved(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_another_process_appending_keeps_the_chain_whole() {
        moved(true).await;
    }

    async fn moved(pg: bool) {
        let Some((db, url)) = setup("moved", pg).await else { return };
        claim(db.clone(), 0).await.unwrap().unwrap();
        assert_chain(&db, 1).await;
        // Another process (another pool on the same database) appends a link.
        let other = Db::connect(&url, &DbOptions { max_connections: 1, ..Default::default() }).await.unwrap();
        let mut tx = other.begin().await.unwrap();
        let rows = tx.read("SELECT seq, mac FROM audit_head WHERE id = 1", Vec::new()).await.unwrap();
        tx.chain_head = Some(head_of(&rows).unwrap());
        tx.chain_cached = false;
        seal()(&mut tx).unwrap();
        tx.commit().await.unwrap();
        other.close().await;
        // This process's copy is stale: the group notices, and its members commit anyway.
        let tasks: Vec<_> = (1..6).map(|i| tokio::spawn(claim(db.clone(), i))).collect();
        for t in tasks {
            t.await.unwrap().unwrap().unwrap();
        }
        assert_chain(&db, 7).await;
        teardown(db, &url).await;
    }

    /// Text with quotes and backslashes goes through a PostgreSQL group as written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_group_writes_text_as_given() {
        let Some((db, url)) = setup("text", true).await else { return };
        let odd = r"它's \ 'q' $1 ; -- x";
        let mut tx = db.begin_lazy();
        tx.later("INSERT INTO chain (seq, prev, mac) VALUES ($1, $2, $3)", vec![100.into(), odd.into(), "x".into()]);
        tx.later("UPDATE chain SET mac = $1 WHERE seq = $2", vec![odd.into(), 100.into()]);
        let rows = tx.commit_grouped(None, vec![("SELECT prev, mac FROM chain WHERE seq = $1", vec![100.into()])]).await.unwrap().unwrap();
        assert_eq!(rows[0][0].get::<String, _>(0), odd);
        assert_eq!(rows[0][0].get::<String, _>(1), odd);
        teardown(db, &url).await;
    }
}
