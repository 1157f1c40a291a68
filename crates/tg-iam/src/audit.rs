//! The tamper-evident audit trail (留痕).
//!
//! Every row is appended inside the transaction of the action it records, so an action whose audit
//! row cannot be written does not happen. Rows form a hash chain: each row's MAC is HMAC-SM3 over its
//! own fields and the previous row's MAC, keyed with a secret that is not stored in the database.
//! Editing, deleting or inserting a row breaks the chain at that row; [`verify`] names the first
//! broken link. Appends lock the single `audit_head` row, which serialises the chain on every engine.

use crate::keys::{Keyring, Purpose};
use serde::Serialize;
use sqlx::Row;
use tg_crypto::{constant_time_eq, hmac_sm3};
use tg_db::{Backend, Db, SqlBuf, Tx};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{Page, PageQuery, Timestamp};
use utoipa::ToSchema;

/// The data-key domain of the audit chain's HMAC-SM3 keys.
pub const AUDIT_DOMAIN: &str = "chain";

/// Who acts, from where: captured once per request.
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub actor_id: Option<i64>,
    pub actor_username: String,
    pub actor_roles: String,
    pub actor_region: String,
    pub ip: String,
    pub request_id: String,
}

impl AuditCtx {
    pub fn anonymous(ip: &str, request_id: &str) -> Self {
        Self { ip: ip.to_owned(), request_id: request_id.to_owned(), ..Self::default() }
    }
    /// Operations run from the command line on the server itself.
    pub fn cli(command: &str) -> Self {
        Self {
            actor_username: format!("cli:{command}"),
            ip: "local".into(),
            request_id: tg_crypto::random_token()[..16].to_owned(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    Success,
    Failure,
    Denied,
}

impl AuditResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: String,
    pub target: String,
    pub result: AuditResult,
    pub detail: String,
}

impl AuditEvent {
    pub fn success(action: &str, target: impl Into<String>) -> Self {
        Self { action: action.into(), target: target.into(), result: AuditResult::Success, detail: String::new() }
    }
    pub fn failure(action: &str, target: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { action: action.into(), target: target.into(), result: AuditResult::Failure, detail: detail.into() }
    }
    pub fn denied(action: &str, target: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { action: action.into(), target: target.into(), result: AuditResult::Denied, detail: detail.into() }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

struct Fields<'a> {
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    actor_username: &'a str,
    actor_roles: &'a str,
    actor_region: &'a str,
    ip: &'a str,
    request_id: &'a str,
    action: &'a str,
    target: &'a str,
    result: &'a str,
    detail: &'a str,
    prev_mac: &'a str,
}

fn mac(key: &[u8], f: &Fields<'_>) -> String {
    // Length-prefixed fields: no two different rows serialise to the same bytes.
    let seq = f.seq.to_string();
    let at = f.at.to_string();
    let actor = f.actor_id.map(|i| i.to_string()).unwrap_or_default();
    let parts: [&[u8]; 13] = [
        seq.as_bytes(),
        at.as_bytes(),
        actor.as_bytes(),
        f.actor_username.as_bytes(),
        f.actor_roles.as_bytes(),
        f.actor_region.as_bytes(),
        f.ip.as_bytes(),
        f.request_id.as_bytes(),
        f.action.as_bytes(),
        f.target.as_bytes(),
        f.result.as_bytes(),
        f.detail.as_bytes(),
        f.prev_mac.as_bytes(),
    ];
    let mut buf = Vec::with_capacity(256);
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
        buf.extend_from_slice(p);
    }
    hex::encode(hmac_sm3(key, &[b"tongguan-audit-v1", &buf]))
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Appends one audit row inside `tx`: takes the chain head (the transaction's own, the process's
/// copy taken with SQLite's write lock, or read, running the writes queued before it), then queues
/// the row and the new head with [`Tx::later`]. Returns its sequence number. The caller
/// flushes or commits.
pub async fn append(
    tx: &mut Tx,
    backend: Backend,
    keys: &Keyring,
    now: Timestamp,
    ctx: &AuditCtx,
    ev: &AuditEvent,
) -> Result<i64, sqlx::Error> {
    if tx.chain_head.is_none() {
        // On SQLite the process's copy of the head comes with the write lock.
        tx.acquire().await?;
    }
    let (prev_seq, prev_mac) = match tx.chain_head.take() {
        Some(h) => h,
        None => {
            let head_sql = match backend {
                Backend::Postgres => "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE",
                // SQLite write transactions start with BEGIN IMMEDIATE and already hold the write lock.
                Backend::Sqlite => "SELECT seq, mac FROM audit_head WHERE id = 1",
            };
            let rows = tx.read(head_sql, Vec::new()).await?;
            let head = rows.first().ok_or(sqlx::Error::RowNotFound)?;
            tx.chain_cached = false;
            (head.try_get(0)?, head.try_get(1)?)
        }
    };
    append_to(tx, (prev_seq, prev_mac), keys, now, ctx, ev)
}

/// Queues the audit row after the chain head `(prev_seq, prev_mac)`, with the head update (made
/// conditional on that head when it is the process's copy, [`Tx::chain_cached`]), and leaves the new
/// head in [`Tx::chain_head`]. Returns the row's sequence number.
pub fn append_to(
    tx: &mut Tx,
    (prev_seq, prev_mac): (i64, String),
    keys: &Keyring,
    now: Timestamp,
    ctx: &AuditCtx,
    ev: &AuditEvent,
) -> Result<i64, sqlx::Error> {
    // Audit rows, exports and syslog copies never carry a clear ID-card or mobile number.
    let target = tg_kernel::pii::scrub_text(&clip(&ev.target, 500)).into_owned();
    let detail = tg_kernel::pii::scrub_text(&clip(&ev.detail, 2000)).into_owned();
    // A login attempt may name an ID-card or phone number as its "username".
    let actor_username = tg_kernel::pii::scrub_text(&clip(&ctx.actor_username, 100)).into_owned();
    let f = Fields {
        seq: prev_seq + 1,
        at: now,
        actor_id: ctx.actor_id,
        actor_username: &actor_username,
        actor_roles: &ctx.actor_roles,
        actor_region: &ctx.actor_region,
        ip: &ctx.ip,
        request_id: &ctx.request_id,
        action: &ev.action,
        target: &target,
        result: ev.result.as_str(),
        detail: &detail,
        prev_mac: &prev_mac,
    };
    let (key_version, key) = keys.current(Purpose::Audit, AUDIT_DOMAIN).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let m = mac(&key, &f);
    if tx.chain_cached {
        // The head is the process's copy (SQLite), not read here. The update, first, proves it
        // current, or fails the transaction before the row is written (another process appended:
        // the copy is then forgotten, and the caller runs the operation again).
        tx.later_expect(
            "UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1 AND seq = $3 AND mac = $4",
            vec![f.seq.into(), m.as_str().into(), prev_seq.into(), prev_mac.as_str().into()],
            1,
            "audit.head_moved",
        );
        tx.chain_cached = false;
    } else {
        tx.later("UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1", vec![f.seq.into(), m.as_str().into()]);
    }
    tx.later(
        "INSERT INTO audit_log (seq, at, actor_id, actor_username, actor_roles, actor_region, ip, request_id, \
         action, target, result, detail, prev_mac, mac, key_version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
        vec![
            f.seq.into(),
            f.at.into(),
            f.actor_id.into(),
            f.actor_username.into(),
            f.actor_roles.into(),
            f.actor_region.into(),
            f.ip.into(),
            f.request_id.into(),
            f.action.into(),
            f.target.into(),
            f.result.into(),
            f.detail.into(),
            f.prev_mac.into(),
            m.as_str().into(),
            key_version.into(),
        ],
    );
    let seq = f.seq;
    tx.chain_head = Some((seq, m));
    Ok(seq)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor_username: String,
    pub actor_roles: String,
    pub actor_region: String,
    pub ip: String,
    pub request_id: String,
    pub action: String,
    pub target: String,
    pub result: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The auditor's region: below city level only rows of actors inside it are visible. Rows
    /// without a region (unknown-user logins, command-line actions) are for the city level only.
    pub scope: Option<tg_kernel::RegionCode>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub result: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl AuditFilter {
    fn apply(&self, b: &mut SqlBuf) {
        if let Some(scope) = self.scope.as_ref().filter(|s| s.level() != tg_kernel::RegionLevel::City) {
            let (lo, hi) = scope.subtree_bounds();
            b.push(" AND actor_region >= ").bind(lo).push(" AND actor_region < ").bind(hi);
        }
        if let Some(a) = self.actor.as_deref().filter(|s| !s.is_empty()) {
            b.push(" AND actor_username LIKE ").bind(SqlBuf::like_contains(a)).push(" ESCAPE '\\'");
        }
        if let Some(a) = self.action.as_deref().filter(|s| !s.is_empty()) {
            b.push(" AND action = ").bind(a);
        }
        if let Some(r) = self.result.as_deref().filter(|s| !s.is_empty()) {
            b.push(" AND result = ").bind(r);
        }
        if let Some(f) = self.from {
            b.push(" AND at >= ").bind(f);
        }
        if let Some(t) = self.to {
            b.push(" AND at <= ").bind(t);
        }
    }
}

fn record_from_row(r: &tg_db::Row) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        seq: r.try_get(0)?,
        at: to_rfc3339(r.try_get(1)?),
        actor_id: r.try_get(2)?,
        actor_username: r.try_get(3)?,
        actor_roles: r.try_get(4)?,
        actor_region: r.try_get(5)?,
        ip: r.try_get(6)?,
        request_id: r.try_get(7)?,
        action: r.try_get(8)?,
        target: r.try_get(9)?,
        result: r.try_get(10)?,
        detail: r.try_get(11)?,
    })
}

/// Newest first, paged.
pub async fn list(db: &Db, filter: &AuditFilter, page: &PageQuery) -> Result<Page<AuditRecord>, sqlx::Error> {
    let mut count = SqlBuf::new("SELECT COUNT(*) FROM audit_log WHERE 1=1");
    filter.apply(&mut count);
    let total: i64 = count.query().fetch_one(db.pool()).await?.try_get(0)?;
    let (limit, offset) = page.limit_offset();
    let mut q = SqlBuf::new("");
    q.push("SELECT seq, at, actor_id, actor_username, actor_roles, actor_region, ip, request_id, action, target, result, detail FROM audit_log WHERE 1=1");
    filter.apply(&mut q);
    q.push(" ORDER BY seq DESC LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
    let rows = q.query().fetch_all(db.pool()).await?;
    let items = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
    Ok(Page::new(items, total, page))
}

/// Rows `first..=last` in sequence order (syslog shipping).
pub async fn range(db: &Db, first: i64, last: i64) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_id, actor_username, actor_roles, actor_region, ip, request_id, action, target, result, detail \
         FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(first)
    .bind(last)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// Every matching row, oldest first, for export (bounded by `max`).
pub async fn export_rows(db: &Db, filter: &AuditFilter, max: i64) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut q = SqlBuf::new("SELECT seq, at, actor_id, actor_username, actor_roles, actor_region, ip, request_id, action, target, result, detail FROM audit_log WHERE 1=1");
    filter.apply(&mut q);
    q.push(" ORDER BY seq LIMIT ").bind(max);
    let rows = q.query().fetch_all(db.pool()).await?;
    rows.iter().map(record_from_row).collect()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    /// Rows checked before the first break (or all rows).
    pub checked: i64,
    /// Sequence number of the first row that does not verify.
    pub first_broken_seq: Option<i64>,
    pub reason: Option<String>,
}

pub(crate) fn anchor_canon(first_seq: i64, prev_mac: &str, purged_rows: i64, purged_at: i64) -> Vec<u8> {
    format!("tongguan-audit-anchor-v1|{first_seq}|{prev_mac}|{purged_rows}|{purged_at}").into_bytes()
}

/// Where the chain starts: after a retention purge, the MAC-protected anchor; otherwise the beginning.
/// `Err(reason)` when the anchor itself was altered.
pub async fn chain_start(db: &Db, keys: &Keyring) -> Result<Result<(i64, String), String>, sqlx::Error> {
    let Some(a) = sqlx::query("SELECT first_seq, prev_mac, purged_rows, purged_at, mac FROM audit_anchor WHERE id = 1")
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(Ok((0, String::new())));
    };
    let first_seq: i64 = a.try_get(0)?;
    let prev_mac: String = a.try_get(1)?;
    let canon = anchor_canon(first_seq, &prev_mac, a.try_get(2)?, a.try_get(3)?);
    if !keys.mac_ok(Purpose::Audit, AUDIT_DOMAIN, &[&canon], &a.try_get::<String, _>(4)?) {
        return Ok(Err("审计链起点（保留期清理锚点）被篡改".into()));
    }
    Ok(Ok((first_seq - 1, prev_mac)))
}

/// Walks the whole chain in sequence order and reports the first broken link.
pub async fn verify(db: &Db, keys: &Keyring) -> Result<VerifyReport, sqlx::Error> {
    let broken =
        |seq: i64, checked: i64, reason: String| VerifyReport { ok: false, checked, first_broken_seq: Some(seq), reason: Some(reason) };
    let (mut last_seq, mut last_mac) = match chain_start(db, keys).await? {
        Ok(start) => start,
        Err(reason) => return Ok(broken(1, 0, reason)),
    };
    let mut checked = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, actor_username, actor_roles, actor_region, ip, request_id, action, target, \
             result, detail, prev_mac, mac, key_version FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 2000",
        )
        .bind(last_seq)
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let actor_username: String = r.try_get(3)?;
            let actor_roles: String = r.try_get(4)?;
            let actor_region: String = r.try_get(5)?;
            let ip: String = r.try_get(6)?;
            let request_id: String = r.try_get(7)?;
            let action: String = r.try_get(8)?;
            let target: String = r.try_get(9)?;
            let result: String = r.try_get(10)?;
            let detail: String = r.try_get(11)?;
            let prev_mac: String = r.try_get(12)?;
            let stored: String = r.try_get(13)?;
            if seq != last_seq + 1 {
                return Ok(broken(last_seq + 1, checked, format!("缺少序号 {} 的记录（下一条为 {seq}）", last_seq + 1)));
            }
            if !constant_time_eq(prev_mac.as_bytes(), last_mac.as_bytes()) {
                return Ok(broken(seq, checked, "前序链接值不匹配（记录被删除、插入或替换）".into()));
            }
            let f = Fields {
                seq,
                at: r.try_get(1)?,
                actor_id: r.try_get(2)?,
                actor_username: &actor_username,
                actor_roles: &actor_roles,
                actor_region: &actor_region,
                ip: &ip,
                request_id: &request_id,
                action: &action,
                target: &target,
                result: &result,
                detail: &detail,
                prev_mac: &prev_mac,
            };
            let key_version: i64 = r.try_get(14)?;
            let Some(key) = keys.get(Purpose::Audit, AUDIT_DOMAIN, key_version) else {
                return Ok(broken(seq, checked, format!("记录引用了不存在的审计密钥版本 v{key_version}")));
            };
            if !constant_time_eq(mac(&key, &f).as_bytes(), stored.as_bytes()) {
                return Ok(broken(seq, checked, "记录内容与校验值不符（记录被修改）".into()));
            }
            last_seq = seq;
            last_mac = stored;
            checked += 1;
        }
    }
    let head = sqlx::query("SELECT seq, mac FROM audit_head WHERE id = 1").fetch_one(db.pool()).await?;
    let head_seq: i64 = head.try_get(0)?;
    let head_mac: String = head.try_get(1)?;
    if head_seq != last_seq || head_mac != last_mac {
        return Ok(broken(last_seq + 1, checked, format!("链尾不一致：链头记录序号 {head_seq}，实际最后序号 {last_seq}")));
    }
    Ok(VerifyReport { ok: true, checked, first_broken_seq: None, reason: None })
}
