//! Login with lockout, server-side sessions with idle and absolute timeouts, logout and password change.
//!
//! Session tokens are 256-bit random values handed to the client once; the database keeps only their
//! SM3 digest, so a database dump does not yield usable sessions.

use crate::audit::{AuditCtx, AuditEvent};
use crate::crypto::{self, sm3_hex};
use crate::error::{IamError, IamResult};
use crate::service::{Iam, Principal, RoleBrief};
use crate::users::{normalize_username, password_problem, PasswordChange};
use sqlx::Row;
use std::collections::BTreeSet;
use tg_kernel::{DataScope, RegionCode};

/// A fresh session: the token goes to the client, never into the database.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub expires_at: i64,
    pub principal: Principal,
}

/// Request facts for login auditing.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
}

/// A verifier for a password nobody has, so that unknown users cost as much time as known ones.
fn dummy_verifier(iterations: u32) -> String {
    format!("pbkdf2-sm3${iterations}${}${}", "00".repeat(16), "00".repeat(32))
}

impl Iam {
    pub async fn login(&self, username: &str, password: &str, client: &ClientInfo) -> IamResult<NewSession> {
        let username = normalize_username(username);
        let ctx = AuditCtx { actor_username: username.clone(), ..AuditCtx::anonymous(&client.ip, &client.request_id) };
        let row = sqlx::query(
            "SELECT id, password_hash, status, failed_count, failed_window_start, locked_until, region_code FROM users WHERE username = $1",
        )
        .bind(&username)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            self.verify_blocking(password.to_owned(), dummy_verifier(self.policy.pbkdf2_iterations)).await?;
            self.audit_alone(&ctx, AuditEvent::failure("auth.login", username.clone(), "用户不存在")).await?;
            return Err(IamError::InvalidCredentials);
        };
        let id: i64 = row.try_get(0)?;
        let hash: String = row.try_get(1)?;
        let status: String = row.try_get(2)?;
        let failed_count: i64 = row.try_get(3)?;
        let window_start: i64 = row.try_get(4)?;
        let locked_until: i64 = row.try_get(5)?;
        let region: String = row.try_get(6)?;
        let ctx = AuditCtx { actor_id: Some(id), actor_region: region, ..ctx };
        let target = format!("#{id} {username}");
        let password_ok = self.verify_blocking(password.to_owned(), hash).await?;
        let now = self.now();

        if status != "active" {
            let why = if status == "locked" { "账户已被管理员锁定" } else { "账户已停用" };
            self.audit_alone(&ctx, AuditEvent::failure("auth.login", target, why)).await?;
            return Err(IamError::InvalidCredentials);
        }
        if locked_until > now {
            // Locked accounts answer the correct password with the same generic message.
            self.audit_alone(&ctx, AuditEvent::failure("auth.login", target, "连续失败已临时锁定")).await?;
            return Err(IamError::InvalidCredentials);
        }
        if !password_ok {
            let (count, start) =
                if now - window_start > self.policy.lockout_window_ms { (1, now) } else { (failed_count + 1, window_start) };
            let lock = if count >= self.policy.lockout_threshold { now + self.policy.lockout_duration_ms } else { 0 };
            let mut tx = self.db.begin().await?;
            sqlx::query("UPDATE users SET failed_count = $1, failed_window_start = $2, locked_until = $3 WHERE id = $4")
                .bind(if lock > 0 { 0 } else { count })
                .bind(start)
                .bind(lock)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let detail = if lock > 0 {
                format!("密码错误，第{count}次，账户临时锁定")
            } else {
                format!("密码错误，第{count}次")
            };
            self.audit(&mut tx, &ctx, AuditEvent::failure("auth.login", target, detail)).await?;
            tx.commit().await?;
            return Err(IamError::InvalidCredentials);
        }

        let token = crypto::random_token();
        let session_id = sm3_hex(token.as_bytes());
        let expires_at = now + self.policy.session_absolute_ms;
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE users SET failed_count = 0, failed_window_start = 0, locked_until = 0, last_login_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent) VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(&session_id)
        .bind(id)
        .bind(now)
        .bind(expires_at)
        .bind(&client.ip)
        .bind(client.user_agent.chars().take(300).collect::<String>())
        .execute(&mut *tx)
        .await?;
        self.audit(&mut tx, &ctx, AuditEvent::success("auth.login", target)).await?;
        tx.commit().await?;
        let principal = self.load_principal(&session_id, id).await?;
        Ok(NewSession { token, expires_at, principal })
    }

    async fn verify_blocking(&self, password: String, hash: String) -> IamResult<bool> {
        let _permit = self.hash_gate.acquire().await.map_err(|e| IamError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash)).await.map_err(|e| IamError::Internal(e.to_string()))
    }

    /// Resolves a session token to its principal, enforcing idle and absolute timeouts and the
    /// account's current status. Expired sessions are deleted.
    pub async fn authenticate(&self, token: &str) -> IamResult<Principal> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IamError::Unauthenticated);
        }
        let session_id = sm3_hex(token.as_bytes());
        let row = sqlx::query(
            "SELECT s.user_id, s.last_seen_at, s.expires_at, u.status FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(&session_id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Err(IamError::Unauthenticated);
        };
        let user_id: i64 = row.try_get(0)?;
        let last_seen: i64 = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let status: String = row.try_get(3)?;
        let now = self.now();
        if status != "active" {
            let mut tx = self.db.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            tx.commit().await?;
            return Err(IamError::Unauthenticated);
        }
        if now >= expires_at || now - last_seen > self.policy.session_idle_ms {
            let mut tx = self.db.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&session_id).execute(&mut *tx).await?;
            tx.commit().await?;
            return Err(IamError::SessionExpired);
        }
        if now - last_seen > 30_000 {
            let mut tx = self.db.begin().await?;
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2").bind(now).bind(&session_id).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        self.load_principal(&session_id, user_id).await
    }

    async fn load_principal(&self, session_id: &str, user_id: i64) -> IamResult<Principal> {
        let row = sqlx::query(
            "SELECT u.username, u.display_name, u.region_code, r.name, u.department_id, d.name, u.must_change_password \
             FROM users u JOIN regions r ON r.code = u.region_code LEFT JOIN departments d ON d.id = u.department_id WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(IamError::Unauthenticated)?;
        let region: String = row.try_get(2)?;
        let region = RegionCode::parse(&region).map_err(|e| IamError::Internal(e.to_string()))?;
        let department_id: Option<i64> = row.try_get(4)?;
        let mut roles: Vec<RoleBrief> = Vec::new();
        let mut permissions = BTreeSet::new();
        let mut dept_only = true;
        let mut any_role = false;
        let rows = sqlx::query(
            "SELECT ro.code, ro.name, ro.data_scope, rp.permission FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id \
             LEFT JOIN role_permissions rp ON rp.role_id = ro.id WHERE ur.user_id = $1 ORDER BY ro.id",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?;
        for r in rows {
            let code: String = r.try_get(0)?;
            if !roles.iter().any(|x| x.code == code) {
                let scope: String = r.try_get(2)?;
                dept_only &= scope == "subtree_dept";
                any_role = true;
                roles.push(RoleBrief { code, name: r.try_get(1)? });
            }
            if let Some(p) = r.try_get::<Option<String>, _>(3)? {
                permissions.insert(p);
            }
        }
        let dept_only = any_role && dept_only;
        // A department-only role without a department narrows to nothing but the user's own region.
        let scope = DataScope { region: region.clone(), department_id: if dept_only { department_id.or(Some(-1)) } else { None } };
        Ok(Principal {
            user_id,
            username: row.try_get(0)?,
            display_name: row.try_get(1)?,
            region,
            region_name: row.try_get(3)?,
            department_id,
            department_name: row.try_get(5)?,
            roles,
            permissions,
            scope,
            must_change_password: row.try_get::<i64, _>(6)? != 0,
            session_id: session_id.to_owned(),
        })
    }

    pub async fn logout(&self, p: &Principal, ctx: &AuditCtx) -> IamResult<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&p.session_id).execute(&mut *tx).await?;
        self.audit(&mut tx, ctx, AuditEvent::success("auth.logout", format!("#{} {}", p.user_id, p.username))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's own password. Other sessions of the account end; this one stays.
    pub async fn change_password(&self, p: &Principal, ctx: &AuditCtx, old: &str, new: &str) -> IamResult<()> {
        let hash: String =
            sqlx::query("SELECT password_hash FROM users WHERE id = $1").bind(p.user_id).fetch_one(self.db.pool()).await?.try_get(0)?;
        if !self.verify_blocking(old.to_owned(), hash).await? {
            self.audit_alone(ctx, AuditEvent::failure("auth.password_change", format!("#{} {}", p.user_id, p.username), "原密码错误"))
                .await?;
            return Err(IamError::field("old_password", "原密码不正确"));
        }
        if old == new {
            return Err(IamError::field("new_password", "新密码不能与原密码相同"));
        }
        if let Some(problem) = password_problem(new, &p.username, self.policy.password_min_length) {
            return Err(IamError::field("new_password", problem));
        }
        self.set_password(
            ctx,
            PasswordChange {
                username: &p.username,
                id: p.user_id,
                password: new,
                must_change: false,
                action: "auth.password_change",
                keep_session: Some(&p.session_id),
            },
        )
        .await
    }
}
