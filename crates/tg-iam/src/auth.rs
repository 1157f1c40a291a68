//! Login with lockout, server-side sessions with idle and absolute timeouts, logout and password change.
//!
//! Session tokens are 256-bit random values handed to the client once; the database keeps only their
//! SM3 digest, so a database dump does not yield usable sessions.

use crate::audit::{AuditCtx, AuditEvent};
use crate::crypto::{self, sm3_hex};
use crate::ratelimit::STUFFING_ACCOUNTS;

fn tg_crypto_verify(password: &str, hash: &str) -> bool {
    crypto::verify_password(password, hash)
}
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

/// What the login form sends. The page sends `cipher`: the SM2 (C1C3C2, npm `sm-crypto`) encryption of
/// `{"password": "...", "nonce": "..."}` to the login public key, with a nonce from the challenge.
/// `password` in clear is accepted only when the policy allows plain logins (API clients on TLS).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub cipher: Option<String>,
    /// The current SM3 dynamic password, when the account has a token (one-step login at aal 2).
    #[serde(default)]
    pub otp_code: Option<String>,
}

impl std::fmt::Display for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoginRequest({})", self.username)
    }
}

/// A one-time login nonce and the public key to encrypt the password to.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LoginChallenge {
    pub nonce: String,
    /// SM2 public key, uncompressed SEC1 hex (`04…`); `sm-crypto` takes it as is.
    pub public_key: String,
    pub expires_at: String,
}

const NONCE_TTL_MS: i64 = 5 * 60_000;

pub(crate) struct OpenedSession {
    token: String,
    session_id: String,
    user_id: i64,
    aal: i64,
    expires_at: i64,
}

/// The user columns a principal is built from (see `principal_from`), over [`PRINCIPAL_JOINS`].
const PRINCIPAL_COLS: &str = "u.username, u.display_name, u.region_code, r.name, u.department_id, d.name, u.must_change_password, \
     u.password_changed_at, u.acl_mac, (SELECT status FROM user_otp o WHERE o.user_id = u.id), u.clearance, u.label";
const PRINCIPAL_JOINS: &str = "JOIN regions r ON r.code = u.region_code LEFT JOIN departments d ON d.id = u.department_id \
     LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles ro ON ro.id = ur.role_id LEFT JOIN role_permissions rp ON rp.role_id = ro.id";
/// The columns of [`PRINCIPAL_COLS`] and, after them, one role permission per row ([`ROLE_COLS`] of
/// them; all NULL for a user without roles): the principal and its grants in one read.
const PRINCIPAL_COLS_N: usize = 12;
const ROLE_COLS: &str = "ro.id, ro.code, ro.name, ro.data_scope, ro.require_mfa, ro.mac, rp.permission";

impl Iam {
    /// Issues a single-use nonce for the SM2 password envelope.
    pub async fn login_challenge(&self) -> IamResult<LoginChallenge> {
        let nonce = tg_crypto::random_token()[..32].to_owned();
        let now = self.now();
        let public_key = self.login_public_key().await?;
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM auth_nonces WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO auth_nonces (nonce, expires_at, used) VALUES ($1, $2, 0)")
            .bind(&nonce)
            .bind(now + NONCE_TTL_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(LoginChallenge { nonce, public_key, expires_at: tg_kernel::clock::to_rfc3339(now + NONCE_TTL_MS) })
    }

    /// Decrypts the envelope and consumes its nonce; a replayed or forged envelope fails.
    async fn open_envelope(&self, cipher: &str) -> IamResult<String> {
        #[derive(serde::Deserialize)]
        struct Inner {
            password: String,
            nonce: String,
        }
        if cipher.len() > 4096 {
            return Err(IamError::BadEnvelope);
        }
        let plain = self.login_decrypt(cipher).await?;
        let inner: Inner = serde_json::from_slice(&plain).map_err(|_| IamError::BadEnvelope)?;
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("UPDATE auth_nonces SET used = 1 WHERE nonce = $1 AND used = 0 AND expires_at >= $2")
            .bind(&inner.nonce)
            .bind(self.now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if n != 1 {
            return Err(IamError::NonceInvalid);
        }
        Ok(inner.password)
    }

    pub async fn login(&self, req: &LoginRequest, client: &ClientInfo) -> IamResult<NewSession> {
        let username = normalize_username(&req.username);
        let ctx = AuditCtx { actor_username: username.clone(), ..AuditCtx::anonymous(&client.ip, &client.request_id) };
        let policy = self.policy();
        let now = self.now();
        if !self.limiter.hit(&format!("ip:{}", client.ip), policy.login_rate_per_ip, now)
            || !self.limiter.hit(&format!("acct:{username}"), policy.login_rate_per_account, now)
        {
            self.audit_alone(&ctx, AuditEvent::denied("auth.login", username.clone(), "登录请求过于频繁")).await?;
            return Err(IamError::RateLimited);
        }
        let password = match (&req.cipher, &req.password) {
            (Some(c), _) => match self.open_envelope(c).await {
                Ok(p) => p,
                Err(e) => {
                    let why = if matches!(e, IamError::NonceInvalid) {
                        "登录随机数无效或已使用（疑似重放）"
                    } else {
                        "登录密文无法解密"
                    };
                    self.audit_alone(&ctx, AuditEvent::failure("auth.login", username.clone(), why)).await?;
                    return Err(e);
                }
            },
            (None, Some(p)) if policy.allow_plain_login => p.clone(),
            (None, Some(_)) => {
                self.audit_alone(&ctx, AuditEvent::failure("auth.login", username.clone(), "未使用SM2加密传输口令")).await?;
                return Err(IamError::EnvelopeRequired);
            }
            // A missing password is a failed attempt like a wrong one.
            (None, None) => String::new(),
        };
        let row = sqlx::query(
            "SELECT id, password_hash, status, failed_count, failed_window_start, locked_until, region_code, expires_at, \
             COALESCE(last_login_at, created_at) FROM users WHERE username = $1",
        )
        .bind(&username)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            self.verify_blocking(password, dummy_verifier(policy.pbkdf2_iterations)).await?;
            self.note_failure_source(&client.ip, &username).await?;
            self.audit_alone(&ctx, AuditEvent::failure("auth.login", username.clone(), "用户不存在")).await?;
            return Err(IamError::InvalidCredentials);
        };
        let id: i64 = row.try_get(0)?;
        let hash: String = row.try_get(1)?;
        let status: String = row.try_get(2)?;
        let locked_until: i64 = row.try_get(5)?;
        let region: String = row.try_get(6)?;
        let expires_at: Option<i64> = row.try_get(7)?;
        let last_active: i64 = row.try_get(8)?;
        let ctx = AuditCtx { actor_id: Some(id), actor_region: region, ..ctx };
        let target = format!("#{id} {username}");
        let verifier = self.pepper_unwrap(&username, &hash)?;
        let password_ok = !password.is_empty() && self.verify_blocking(password.clone(), verifier).await?;
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
            let why = if password.is_empty() { "未提供密码" } else { "密码错误" };
            self.note_failure_source(&client.ip, &username).await?;
            self.count_failure(id, &ctx, "auth.login", &target, why).await?;
            return Err(IamError::InvalidCredentials);
        }
        // Expired and long-unused accounts are disabled (等保 §8.1.4.2 c); same generic answer.
        let idle_limit = policy.inactivity_disable_days * 86_400_000;
        let expired = expires_at.is_some_and(|e| e <= now);
        if expired || (idle_limit > 0 && now - last_active > idle_limit) {
            let why = if expired { "账户已过有效期，自动停用" } else { "长期未登录，自动停用" };
            let mut tx = self.db.begin().await?;
            sqlx::query("UPDATE users SET status = 'disabled', updated_at = $1 WHERE id = $2").bind(now).bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
            self.audit(&mut tx, &ctx, AuditEvent::failure("auth.login", target.clone(), why)).await?;
            self.audit(&mut tx, &AuditCtx::cli("auto-disable"), AuditEvent::success("user.auto_disable", target).with_detail(why)).await?;
            tx.commit().await?;
            return Err(IamError::InvalidCredentials);
        }
        if !policy.admin_ip_allowlist.is_empty()
            && self.is_administrator(id).await?
            && !crate::net::allowed(&policy.admin_ip_allowlist, &client.ip)
        {
            self.audit_alone(
                &ctx,
                AuditEvent::denied("auth.login", target.clone(), format!("管理员从不在白名单的地址 {} 登录", client.ip)),
            )
            .await?;
            self.raise_alert("admin_ip", "critical", "管理员从非授权地址登录", &format!("账户 {target} 从 {} 登录被拒绝", client.ip))
                .await?;
            return Err(IamError::IpNotAllowed);
        }
        // One-step login with the dynamic password when one is given.
        let mut aal = 1;
        if let Some(code) = req.otp_code.as_deref().filter(|c| !c.trim().is_empty()) {
            let ok = match self.otp_row(id).await? {
                Some((seed, st, last_step)) if st == "active" => {
                    match tg_crypto::otp_verify(&seed, code.trim(), now.div_euclid(1000), Some(last_step), &crate::mfa::OTP_POLICY) {
                        Some(step) => {
                            let mut tx = self.db.begin().await?;
                            let n = sqlx::query("UPDATE user_otp SET last_step = $1 WHERE user_id = $2 AND last_step = $3")
                                .bind(step)
                                .bind(id)
                                .bind(last_step)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                            tx.commit().await?;
                            n == 1
                        }
                        None => false,
                    }
                }
                _ => false,
            };
            if !ok {
                self.count_failure(id, &ctx, "auth.login", &target, "动态口令错误或已使用").await?;
                return Err(IamError::InvalidCredentials);
            }
            aal = 2;
        }
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE users SET failed_count = 0, failed_window_start = 0, locked_until = 0, last_login_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let s = self.open_session(&mut tx, id, aal, client).await?;
        self.audit(&mut tx, &ctx, AuditEvent::success("auth.login", target).with_detail(format!("认证强度 AAL{aal}"))).await?;
        tx.commit().await?;
        // A stored hash without the pepper gets it now that the password is known.
        if !hash.starts_with("pep.") {
            let new_hash = self.hash_password(&username, &password).await?;
            let mut tx = self.db.begin().await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(new_hash).bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        self.finish_session(s).await
    }

    /// Whether the account holds one of the three administrator duties.
    async fn is_administrator(&self, user_id: i64) -> IamResult<bool> {
        let perms: Vec<String> = sqlx::query(
            "SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_id = $1",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        Ok(!crate::permissions::duties(perms.iter().map(String::as_str)).is_empty())
    }

    pub(crate) async fn locked_until(&self, user_id: i64) -> IamResult<Option<i64>> {
        Ok(sqlx::query("SELECT locked_until FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.db.pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    /// Counts a failed authentication step (password or dynamic password, wrong or missing) toward
    /// the lockout, in one transaction with its audit row.
    pub(crate) async fn count_failure(&self, user_id: i64, ctx: &AuditCtx, action: &str, target: &str, why: &str) -> IamResult<()> {
        let policy = self.policy();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row =
            sqlx::query("SELECT failed_count, failed_window_start FROM users WHERE id = $1").bind(user_id).fetch_one(&mut *tx).await?;
        let failed_count: i64 = row.try_get(0)?;
        let window_start: i64 = row.try_get(1)?;
        let (count, start) = if now - window_start > policy.lockout_window_ms { (1, now) } else { (failed_count + 1, window_start) };
        let lock = if count >= policy.lockout_threshold { now + policy.lockout_duration_ms } else { 0 };
        sqlx::query("UPDATE users SET failed_count = $1, failed_window_start = $2, locked_until = $3 WHERE id = $4")
            .bind(if lock > 0 { 0 } else { count })
            .bind(start)
            .bind(lock)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let detail = if lock > 0 { format!("{why}，第{count}次，账户临时锁定") } else { format!("{why}，第{count}次") };
        self.audit(&mut tx, ctx, AuditEvent::failure(action, target.to_owned(), detail)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Intrusion rule: one source failing against many accounts (credential stuffing) raises an alert.
    async fn note_failure_source(&self, ip: &str, username: &str) -> IamResult<()> {
        if self.limiter.distinct_failures(ip, username, STUFFING_ACCOUNTS, self.now()) {
            self.raise_alert(
                "brute_force",
                "critical",
                "疑似撞库攻击",
                &format!("地址 {ip} 在10分钟内对{STUFFING_ACCOUNTS}个不同账户登录失败"),
            )
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn open_session(&self, tx: &mut tg_db::Tx, user_id: i64, aal: i64, client: &ClientInfo) -> IamResult<OpenedSession> {
        let token = crypto::random_token();
        let session_id = sm3_hex(token.as_bytes());
        let now = self.now();
        let expires_at = now + self.policy().session_absolute_ms;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, aal) VALUES ($1, $2, $3, $3, $4, $5, $6, $7)",
        )
        .bind(&session_id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(&client.ip)
        .bind(client.user_agent.chars().take(300).collect::<String>())
        .bind(aal)
        .execute(&mut **tx)
        .await?;
        Ok(OpenedSession { token, session_id, user_id, aal, expires_at })
    }

    pub(crate) async fn finish_session(&self, s: OpenedSession) -> IamResult<NewSession> {
        let principal = self.load_principal(&s.session_id, s.user_id, s.aal).await?;
        Ok(NewSession { token: s.token, expires_at: s.expires_at, principal })
    }

    async fn verify_blocking(&self, password: String, hash: String) -> IamResult<bool> {
        let _permit = self.hash_gate.acquire().await.map_err(|e| IamError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || tg_crypto_verify(&password, &hash)).await.map_err(|e| IamError::Internal(e.to_string()))
    }

    /// Resolves a session token to its principal, enforcing idle and absolute timeouts and the
    /// account's current status. Expired sessions are deleted.
    pub async fn authenticate(&self, token: &str) -> IamResult<Principal> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IamError::Unauthenticated);
        }
        let session_id = sm3_hex(token.as_bytes());
        // The session and the user's principal columns in one read (columns 5.. as in `load_principal`).
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT s.user_id, s.last_seen_at, s.expires_at, u.status, s.aal, {PRINCIPAL_COLS}, {ROLE_COLS} FROM sessions s \
                 JOIN users u ON u.id = s.user_id {PRINCIPAL_JOINS} WHERE s.id = $1 ORDER BY ro.id"
            )
        });
        let rows = sqlx::query(&SQL).bind(&session_id).fetch_all(self.db.pool()).await?;
        let Some(row) = rows.first() else {
            return Err(IamError::Unauthenticated);
        };
        let user_id: i64 = row.try_get(0)?;
        let last_seen: i64 = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let status: String = row.try_get(3)?;
        let aal: i64 = row.try_get(4)?;
        let now = self.now();
        let policy = self.policy();
        if status != "active" {
            let mut tx = self.db.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            tx.commit().await?;
            return Err(IamError::Unauthenticated);
        }
        if now >= expires_at || now - last_seen > policy.session_idle_ms {
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
        self.principal_from(&session_id, user_id, aal, &rows, 5).await
    }

    /// Builds the principal and checks the row MACs of the user's grants and roles: a grant or data
    /// scope changed behind the application's back is refused, audited and alerted.
    /// The principal of a user without a session (demo seeding and command-line jobs acting as them).
    pub async fn principal_by_id(&self, user_id: i64) -> IamResult<Principal> {
        self.load_principal("", user_id, 2).await
    }

    async fn load_principal(&self, session_id: &str, user_id: i64, aal: i64) -> IamResult<Principal> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!("SELECT {PRINCIPAL_COLS}, {ROLE_COLS} FROM users u {PRINCIPAL_JOINS} WHERE u.id = $1 ORDER BY ro.id")
        });
        let rows = sqlx::query(&SQL).bind(user_id).fetch_all(self.db.pool()).await?;
        if rows.is_empty() {
            return Err(IamError::Unauthenticated);
        }
        self.principal_from(session_id, user_id, aal, &rows, 0).await
    }

    /// The principal from rows holding [`PRINCIPAL_COLS`] from column `o` on (the same in every row)
    /// and [`ROLE_COLS`] after them (one role permission per row).
    async fn principal_from(&self, session_id: &str, user_id: i64, aal: i64, rows: &[tg_db::Row], o: usize) -> IamResult<Principal> {
        let row = rows.first().ok_or(IamError::Unauthenticated)?;
        let region: String = row.try_get(o + 2)?;
        let region = RegionCode::parse(&region).map_err(|e| IamError::Internal(e.to_string()))?;
        let department_id: Option<i64> = row.try_get(o + 4)?;
        let mut roles: Vec<RoleBrief> = Vec::new();
        let mut permissions = BTreeSet::new();
        let mut dept_only = true;
        let mut any_role = false;
        let ro = o + PRINCIPAL_COLS_N;
        let mut mfa_required = false;
        // (id, code, scope, require_mfa, mac, permissions) per role, for the MAC check.
        let mut role_rows: Vec<(i64, String, String, i64, String, Vec<String>)> = Vec::new();
        for r in rows {
            // A user without roles has one row, its role columns NULL.
            let Some(id) = r.try_get::<Option<i64>, _>(ro)? else { continue };
            let code: String = r.try_get(ro + 1)?;
            if !roles.iter().any(|x| x.code == code) {
                let scope: String = r.try_get(ro + 3)?;
                let require: i64 = r.try_get(ro + 4)?;
                dept_only &= scope == "subtree_dept";
                any_role = true;
                mfa_required |= require != 0;
                role_rows.push((id, code.clone(), scope, require, r.try_get(ro + 5)?, Vec::new()));
                roles.push(RoleBrief { code, name: r.try_get(ro + 2)? });
            }
            if let Some(p) = r.try_get::<Option<String>, _>(ro + 6)? {
                if let Some(last) = role_rows.last_mut() {
                    last.5.push(p.clone());
                }
                permissions.insert(p);
            }
        }
        let username: String = row.try_get(o)?;
        let acl_mac: String = row.try_get(o + 8)?;
        let role_ids: Vec<i64> = role_rows.iter().map(|r| r.0).collect();
        let clearance_level: i64 = row.try_get(o + 10)?;
        let labels = (clearance_level, row.try_get::<i64, _>(o + 11)?);
        let user_ok = self.user_mac_ok(user_id, &username, region.as_str(), department_id, &role_ids, labels, &acl_mac);
        let bad_role = role_rows.iter().find(|(id, code, scope, req, mac, perms)| !self.role_mac_ok(*id, code, scope, *req, perms, mac));
        if !user_ok || bad_role.is_some() {
            let what = match bad_role {
                Some(r) => format!("角色 #{} {} 的权限或数据范围校验失败", r.0, r.1),
                None => format!("用户 #{user_id} {username} 的授权或数据范围校验失败"),
            };
            let ctx = AuditCtx { actor_id: Some(user_id), actor_username: username.clone(), ..AuditCtx::cli("integrity") };
            self.audit_alone(&ctx, AuditEvent::denied("integrity.acl", format!("#{user_id} {username}"), what.clone())).await?;
            self.raise_alert("integrity", "critical", "授权数据完整性校验失败", &what).await?;
            return Err(IamError::Integrity(what));
        }
        let dept_only = any_role && dept_only;
        // A department-only role without a department narrows to nothing but the user's own region.
        let scope = DataScope {
            region: region.clone(),
            department_id: if dept_only { department_id.or(Some(-1)) } else { None },
            clearance: Some(tg_kernel::SecurityLabel::from_level(clearance_level).unwrap_or(tg_kernel::SecurityLabel::Public)),
        };
        Ok(Principal {
            user_id,
            username,
            display_name: row.try_get(o + 1)?,
            region,
            region_name: row.try_get(o + 3)?,
            department_id,
            department_name: row.try_get(o + 5)?,
            roles,
            permissions,
            scope,
            must_change_password: row.try_get::<i64, _>(o + 6)? != 0,
            session_id: session_id.to_owned(),
            aal,
            mfa_required,
            mfa_enrolled: row.try_get::<Option<String>, _>(o + 9)?.as_deref() == Some("active"),
            password_expired: {
                let max_age = self.policy().password_max_age_days * 86_400_000;
                let changed: i64 = row.try_get(o + 7)?;
                max_age > 0 && self.now() - changed > max_age
            },
        })
    }

    pub async fn logout(&self, p: &Principal, ctx: &AuditCtx) -> IamResult<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(p.user_id).execute(&mut *tx).await?;
        self.audit(&mut tx, ctx, AuditEvent::success("auth.logout", format!("#{} {}", p.user_id, p.username))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's own password. Other sessions of the account end; this one stays.
    pub async fn change_password(&self, p: &Principal, ctx: &AuditCtx, old: &str, new: &str) -> IamResult<()> {
        let hash: String =
            sqlx::query("SELECT password_hash FROM users WHERE id = $1").bind(p.user_id).fetch_one(self.db.pool()).await?.try_get(0)?;
        let verifier = self.pepper_unwrap(&p.username, &hash)?;
        if !self.verify_blocking(old.to_owned(), verifier).await? {
            self.audit_alone(ctx, AuditEvent::failure("auth.password_change", format!("#{} {}", p.user_id, p.username), "原密码错误"))
                .await?;
            return Err(IamError::field("old_password", "原密码不正确"));
        }
        if old == new {
            return Err(IamError::field("new_password", "新密码不能与原密码相同"));
        }
        if let Some(problem) = password_problem(new, &p.username, self.policy().password_min_length) {
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
