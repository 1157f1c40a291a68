//! The identity-and-access service: state shared by every operation, the security policy, and the
//! principal (the signed-in user as every handler sees them).

use crate::audit::{self, AuditCtx, AuditEvent, AuditKey};
use crate::error::IamResult;
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
        }
    }
}

#[derive(Clone, Debug)]
pub struct Iam {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit_key: AuditKey,
    pub(crate) policy: Arc<SecurityPolicy>,
    /// Password hashing is CPU-bound: at most one hash per core runs at once and the rest queue
    /// fairly, instead of a thousand blocking threads thrashing two cores.
    pub(crate) hash_gate: Arc<tokio::sync::Semaphore>,
}

impl Iam {
    pub fn new(db: Db, clock: Arc<dyn Clock>, audit_key: AuditKey, policy: SecurityPolicy) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self { db, clock, audit_key, policy: Arc::new(policy), hash_gate: Arc::new(tokio::sync::Semaphore::new(cores)) }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn policy(&self) -> &SecurityPolicy {
        &self.policy
    }

    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// Appends an audit row inside an open transaction.
    pub async fn audit(&self, tx: &mut Tx, ctx: &AuditCtx, ev: AuditEvent) -> IamResult<()> {
        audit::append(tx, self.db.backend(), &self.audit_key, self.now(), ctx, &ev).await?;
        Ok(())
    }

    /// Records an event that has no other write (a denial, a failed login) in its own transaction.
    pub async fn audit_alone(&self, ctx: &AuditCtx, ev: AuditEvent) -> IamResult<()> {
        let mut tx = self.db.begin().await?;
        self.audit(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        Ok(())
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
