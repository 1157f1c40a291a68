//! The identity-and-access service: state shared by every operation, the security policy, and the
//! principal (the signed-in user as every handler sees them).

use crate::audit::{self, AuditCtx, AuditEvent};
use crate::error::{IamError, IamResult};
use crate::keys::Keyring;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use tg_db::{Db, Tx};
use tg_kernel::{Clock, DataScope, RegionCode};
use utoipa::ToSchema;

/// Password, lockout and session rules. Validated by the binary's configuration loader.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    pub pbkdf2_iterations: u32,
    pub password_min_length: usize,
    pub lockout_threshold: i64,
    pub lockout_window_ms: i64,
    pub lockout_duration_ms: i64,
    pub session_idle_ms: i64,
    pub session_absolute_ms: i64,
    /// Days after which a password must be changed (0 = never; 等保 profile: 90).
    pub password_max_age_days: i64,
    /// Days without login after which an account is disabled (0 = never).
    pub inactivity_disable_days: i64,
    /// CIDR ranges the three administrators may sign in from (empty = anywhere).
    pub admin_ip_allowlist: Vec<String>,
    /// Login attempts per client IP per minute before HTTP 429 (0 = unlimited).
    pub login_rate_per_ip: i64,
    /// Login attempts per account per minute before HTTP 429 (0 = unlimited).
    pub login_rate_per_account: i64,
    /// Accept a plaintext `password` in the login body (API clients on a trusted TLS link). The web app
    /// always sends the SM2 envelope.
    pub allow_plain_login: bool,
    /// Audit rows younger than this are never purged (law: at least 180).
    pub audit_retention_days: i64,
    /// The three administrators' built-in roles require the second factor.
    pub mfa_for_admins: bool,
    /// Office hours in Beijing time, `[start, end)`; administrator actions outside raise an alert.
    pub office_hours: (i64, i64),
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            pbkdf2_iterations: 10_000,
            password_min_length: 8,
            lockout_threshold: 5,
            lockout_window_ms: 15 * 60_000,
            lockout_duration_ms: 30 * 60_000,
            session_idle_ms: 30 * 60_000,
            session_absolute_ms: 12 * 3_600_000,
            password_max_age_days: 90,
            inactivity_disable_days: 90,
            admin_ip_allowlist: Vec::new(),
            login_rate_per_ip: 60,
            login_rate_per_account: 20,
            allow_plain_login: false,
            audit_retention_days: 180,
            mfa_for_admins: true,
            office_hours: (7, 22),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Iam {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) policy: Arc<std::sync::RwLock<SecurityPolicy>>,
    pub(crate) limiter: Arc<crate::ratelimit::RateLimiter>,
    pub(crate) sm2_cache: Arc<crate::signing::KeyCache>,
    /// Password hashing is CPU-bound: at most one hash per core runs at once and the rest queue
    /// fairly, instead of a thousand blocking threads thrashing two cores.
    pub(crate) hash_gate: Arc<tokio::sync::Semaphore>,
    /// Stand-alone audit events (reads, denials, failed logins) are group-committed by one task.
    audit_queue: tokio::sync::mpsc::UnboundedSender<AuditJob>,
}

struct AuditJob {
    ctx: AuditCtx,
    ev: AuditEvent,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

impl std::fmt::Debug for AuditJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditJob").field("action", &self.ev.action).finish()
    }
}

/// Appends queued stand-alone events in batches: one transaction (one chain-head lock, one commit) for
/// everything that arrived while the previous batch was being written. Each caller still waits for the
/// commit of its own row, so a read whose audit row cannot be written fails.
async fn audit_writer(db: Db, key: Arc<Keyring>, clock: Arc<dyn Clock>, mut rx: tokio::sync::mpsc::UnboundedReceiver<AuditJob>) {
    const MAX_BATCH: usize = 256;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result: Result<(), sqlx::Error> = async {
            // Each append starts with a read of the chain head, so `BEGIN` can travel with it.
            let mut tx = db.begin_lazy();
            for j in &batch {
                audit::append(&mut tx, db.backend(), &key, clock.now_ms(), &j.ctx, &j.ev).await?;
            }
            tx.commit().await
        }
        .await;
        let result = result.map_err(|e| e.to_string());
        for j in batch {
            let _ = j.done.send(result.clone());
        }
    }
}

impl Iam {
    pub fn new(db: Db, clock: Arc<dyn Clock>, keys: Arc<Keyring>, policy: SecurityPolicy) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let (audit_queue, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(audit_writer(db.clone(), keys.clone(), clock.clone(), rx));
        Self {
            db,
            clock,
            keys,
            policy: Arc::new(std::sync::RwLock::new(policy)),
            limiter: Arc::new(crate::ratelimit::RateLimiter::default()),
            sm2_cache: Arc::new(Default::default()),
            hash_gate: Arc::new(tokio::sync::Semaphore::new(cores)),
            audit_queue,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A snapshot of the security policy in force (the security administrator can change it).
    pub fn policy(&self) -> SecurityPolicy {
        self.policy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_policy_in_memory(&self, p: SecurityPolicy) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = p;
    }

    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Appends an audit row inside an open transaction.
    pub async fn audit(&self, tx: &mut Tx, ctx: &AuditCtx, ev: AuditEvent) -> IamResult<()> {
        self.audit_at_commit(tx, ctx, ev).await?;
        tx.flush().await?;
        Ok(())
    }

    /// Like [`Self::audit`], but leaves the row queued in `tx` (see [`Tx::later`]) for the caller's
    /// next flush or commit: for a transaction that ends right after, it saves a round trip.
    pub async fn audit_at_commit(&self, tx: &mut Tx, ctx: &AuditCtx, ev: AuditEvent) -> IamResult<()> {
        audit::append(tx, self.db.backend(), &self.keys, self.now(), ctx, &ev).await?;
        self.intrusion_rules(ctx, &ev);
        Ok(())
    }

    /// Intrusion rules over the audit stream (等保 入侵防范 f): administrators acting outside office hours
    /// and bulk reading or export of personal data raise alerts. Alerts are written after the current
    /// transaction, by a separate task.
    /// The audit row of an operation as a [`tg_db::Seal`], for [`tg_db::Tx::commit_grouped`]: written
    /// once the chain head before it is known. Call [`Self::audited`] after the commit.
    pub fn audit_seal(&self, ctx: AuditCtx, ev: AuditEvent) -> tg_db::Seal {
        let keys = self.keys.clone();
        let now = self.now();
        Box::new(move |tx| {
            let head = tx.chain_head.take().ok_or(sqlx::Error::RowNotFound)?;
            audit::append_to(tx, head, &keys, now, &ctx, &ev).map(|_| ())
        })
    }

    /// What follows an audited operation that committed (see [`Self::audit_seal`]): the intrusion
    /// rules.
    pub fn audited(&self, ctx: &AuditCtx, ev: &AuditEvent) {
        self.intrusion_rules(ctx, ev);
    }

    fn intrusion_rules(&self, ctx: &AuditCtx, ev: &AuditEvent) {
        if ev.action == "security.alert" || ctx.actor_id.is_none() {
            return;
        }
        let now = self.now();
        let policy = self.policy();
        let admin = ctx.actor_roles.split(',').any(|r| matches!(r, "sysadmin" | "secadmin" | "auditadmin"));
        let mut alert: Option<(&'static str, String, String)> = None;
        if admin && ev.result == audit::AuditResult::Success && !ev.action.starts_with("auth.") {
            // Beijing time (UTC+8), hours [start, end) are office hours.
            let hour = (now.div_euclid(3_600_000) + 8).rem_euclid(24);
            let (start, end) = policy.office_hours;
            if (hour < start || hour >= end) && self.limiter.once_per(&format!("offhours:{}", ctx.actor_username), 3_600_000, now) {
                alert = Some((
                    "off_hours_admin",
                    "管理员非工作时间操作".into(),
                    format!("管理员 {}（{}）在北京时间 {hour} 时执行 {}（{}）", ctx.actor_username, ctx.ip, ev.action, ev.target),
                ));
            }
        }
        let bulk = match ev.action.as_str() {
            "audit.export" => Some(("export", 5)),
            "pii.unmask" => Some(("unmask", 10)),
            "user.list" => Some(("read", 60)),
            _ => None,
        };
        if let Some((kind, limit)) = bulk {
            if self.limiter.events(&format!("bulk:{kind}:{}", ctx.actor_username), limit, now) {
                alert = Some((
                    "mass_export",
                    "疑似批量导出或读取个人信息".into(),
                    format!("账户 {}（{}）10分钟内 {kind} 操作达到 {limit} 次（{}）", ctx.actor_username, ctx.ip, ev.action),
                ));
            }
        }
        if let Some((kind, title, body)) = alert {
            let iam = self.clone();
            tokio::spawn(async move {
                if let Err(e) = iam.raise_alert(kind, "warning", &title, &body).await {
                    tracing::error!(error = %e, "raising an alert failed");
                }
            });
        }
    }

    /// Records an event that has no other write (a read, a denial, a failed login). Returns once the
    /// row is committed; concurrent events share one transaction.
    pub async fn audit_alone(&self, ctx: &AuditCtx, ev: AuditEvent) -> IamResult<()> {
        self.intrusion_rules(ctx, &ev);
        let (done, wait) = tokio::sync::oneshot::channel();
        self.audit_queue.send(AuditJob { ctx: ctx.clone(), ev, done }).map_err(|_| IamError::Internal("audit writer stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(IamError::Internal(format!("audit append failed: {e}"))),
            Err(_) => Err(IamError::Internal("audit writer stopped".into())),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleBrief {
    pub code: String,
    pub name: String,
}

/// The authenticated user of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub region: RegionCode,
    pub region_name: String,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub roles: Vec<RoleBrief>,
    pub permissions: BTreeSet<String>,
    pub scope: DataScope,
    pub must_change_password: bool,
    pub session_id: String,
    /// Authentication assurance level of the session: 1 = password, 2 = password + SM3 dynamic password.
    pub aal: i64,
    /// Whether a role of this user requires the second factor (the session must reach aal 2).
    pub mfa_required: bool,
    /// Whether the user has an active dynamic-password token.
    pub mfa_enrolled: bool,
    /// The password is older than the policy allows; only the password change works.
    pub password_expired: bool,
}

impl Principal {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    pub fn audit_ctx(&self, ip: &str, request_id: &str) -> AuditCtx {
        AuditCtx {
            actor_id: Some(self.user_id),
            actor_username: self.username.clone(),
            actor_roles: self.roles.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(","),
            actor_region: self.region.to_string(),
            ip: ip.to_owned(),
            request_id: request_id.to_owned(),
        }
    }
}
