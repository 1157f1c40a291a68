//! Integrity and confidentiality of the security-relevant rows (密评 §8.4 b, c, e, g):
//! HMAC-SM3 row MACs over roles (permissions, data scope, second-factor rule) and over each user's
//! grants and data scope; the SM4-GCM pepper around password verifiers; the security policy stored
//! with a MAC; the integrity report; and security alerts into the message list.

use crate::audit::{AuditCtx, AuditEvent};
use crate::error::{IamError, IamResult};
use crate::keys::Purpose;
use crate::service::{Iam, SecurityPolicy};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tg_db::Tx;
use utoipa::ToSchema;

const ACL_DOMAIN: &str = "rows";
const PEPPER_DOMAIN: &str = "password";

fn len_prefixed(parts: &[&str]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
        buf.extend_from_slice(p.as_bytes());
    }
    buf
}

/// Canonical bytes of a role for its MAC: id, code, data scope, second-factor rule, sorted permissions.
fn role_canon(id: i64, code: &str, data_scope: &str, require_mfa: i64, perms: &[String]) -> Vec<u8> {
    let mut p = perms.to_vec();
    p.sort();
    let (id, mfa, perms) = (id.to_string(), require_mfa.to_string(), p.join(","));
    len_prefixed(&["role-v1", &id, code, data_scope, &mfa, &perms])
}

/// Canonical bytes of a user's grants, data scope and security labels: id, username, region,
/// department, sorted role ids, clearance and label.
fn user_canon(id: i64, username: &str, region: &str, department: Option<i64>, role_ids: &[i64], labels: (i64, i64)) -> Vec<u8> {
    let (clearance, label) = (labels.0.to_string(), labels.1.to_string());
    user_fields(id, department, role_ids, |id, dept, roles| {
        len_prefixed(&["user-acl-v2", id, username, region, dept, roles, &clearance, &label])
    })
}

/// The id, department and sorted role ids of a user as text, for the canonical forms.
fn user_fields<R>(id: i64, department: Option<i64>, role_ids: &[i64], f: impl FnOnce(&str, &str, &str) -> R) -> R {
    let mut r = role_ids.to_vec();
    r.sort_unstable();
    let roles = r.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    f(&id.to_string(), &department.map(|d| d.to_string()).unwrap_or_default(), &roles)
}

/// The form before security labels existed, accepted once to upgrade rows (see `secure_legacy_rows`).
fn user_canon_v1(id: i64, username: &str, region: &str, department: Option<i64>, role_ids: &[i64]) -> Vec<u8> {
    user_fields(id, department, role_ids, |id, dept, roles| len_prefixed(&["user-acl-v1", id, username, region, dept, roles]))
}

fn setting_canon(name: &str, value: &str) -> Vec<u8> {
    len_prefixed(&["setting-v1", name, value])
}

/// A column holding personal information, why it is kept and how it is protected (GB/T 35273 §5,
/// 个人信息保护法 第六条: only what the purpose needs). A schema test fails on an unlisted PII column.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PiiField {
    pub table: &'static str,
    pub column: &'static str,
    pub kind: &'static str,
    pub purpose: &'static str,
    pub protection: &'static str,
}

pub const PII_FIELDS: &[PiiField] = &[
    PiiField {
        table: "users",
        column: "phone",
        kind: "手机号",
        purpose: "联系账户持有人（工作通知、找回账户）",
        protection: "SM4-GCM 行绑定加密 + HMAC-SM3 盲索引；展示脱敏；查看明文需 pii:unmask 并记录事由",
    },
    PiiField {
        table: "users",
        column: "phone_bidx",
        kind: "手机号盲索引",
        purpose: "按手机号精确查找账户",
        protection: "HMAC-SM3（不可逆）",
    },
    PiiField {
        table: "users",
        column: "display_name",
        kind: "姓名",
        purpose: "在系统内标识工作人员、审计留痕",
        protection: "工作人员实名为业务必需；不导出到外部",
    },
    PiiField {
        table: "inv_projects",
        column: "contact_phone",
        kind: "手机号",
        purpose: "联系招商项目投资方联系人（项目跟进）",
        protection: "SM4-GCM 加密；接口与导出一律脱敏；修改时回传脱敏值即保留原号码",
    },
    PiiField {
        table: "inv_projects",
        column: "contact_phone_mask",
        kind: "手机号（脱敏）",
        purpose: "列表与导出中展示",
        protection: "仅存脱敏形式（前3后4）",
    },
];

/// One row that failed its integrity check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntegrityProblem {
    /// `role`, `user_acl`, `setting`, `field` or `audit`.
    pub kind: String,
    pub id: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntegrityReport {
    pub ok: bool,
    pub roles_checked: i64,
    pub users_checked: i64,
    pub settings_checked: i64,
    pub fields_checked: i64,
    pub audit: crate::audit::VerifyReport,
    pub problems: Vec<IntegrityProblem>,
    pub checked_at: String,
}

/// A message in a user's list (security alerts now; notices of every module later).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub level: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub read: bool,
}

/// The editable part of the security policy, as the security page shows and saves it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    pub password_min_length: i64,
    pub password_max_age_days: i64,
    pub lockout_threshold: i64,
    pub lockout_window_minutes: i64,
    pub lockout_duration_minutes: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub inactivity_disable_days: i64,
    pub login_rate_per_ip: i64,
    pub login_rate_per_account: i64,
    /// CIDR ranges (IPv4 or IPv6) the three administrators may sign in from; empty = anywhere.
    pub admin_ip_allowlist: Vec<String>,
}

impl PolicySettings {
    pub fn from_policy(p: &SecurityPolicy) -> Self {
        Self {
            password_min_length: p.password_min_length as i64,
            password_max_age_days: p.password_max_age_days,
            lockout_threshold: p.lockout_threshold,
            lockout_window_minutes: p.lockout_window_ms / 60_000,
            lockout_duration_minutes: p.lockout_duration_ms / 60_000,
            session_idle_minutes: p.session_idle_ms / 60_000,
            session_absolute_hours: p.session_absolute_ms / 3_600_000,
            inactivity_disable_days: p.inactivity_disable_days,
            login_rate_per_ip: p.login_rate_per_ip,
            login_rate_per_account: p.login_rate_per_account,
            admin_ip_allowlist: p.admin_ip_allowlist.clone(),
        }
    }

    /// Range checks with Chinese messages per field.
    pub fn validate(&self) -> IamResult<()> {
        let mut v = tg_kernel::ValidationErrors::new();
        let mut range = |field: &str, val: i64, lo: i64, hi: i64, label: &str| {
            if !(lo..=hi).contains(&val) {
                v.add(field, format!("{label}须在{lo}到{hi}之间"));
            }
        };
        range("password_min_length", self.password_min_length, 8, 64, "密码最小长度");
        range("password_max_age_days", self.password_max_age_days, 0, 365, "密码有效期(天)");
        range("lockout_threshold", self.lockout_threshold, 3, 20, "失败锁定次数");
        range("lockout_window_minutes", self.lockout_window_minutes, 1, 1440, "失败计数窗口(分钟)");
        range("lockout_duration_minutes", self.lockout_duration_minutes, 1, 1440, "锁定时长(分钟)");
        range("session_idle_minutes", self.session_idle_minutes, 5, 240, "会话空闲超时(分钟)");
        range("session_absolute_hours", self.session_absolute_hours, 1, 24, "会话最长有效期(小时)");
        range("inactivity_disable_days", self.inactivity_disable_days, 0, 365, "长期未登录停用(天)");
        range("login_rate_per_ip", self.login_rate_per_ip, 0, 100_000, "每IP每分钟登录次数");
        range("login_rate_per_account", self.login_rate_per_account, 0, 1000, "每账户每分钟登录次数");
        if self.admin_ip_allowlist.len() > 100 {
            v.add("admin_ip_allowlist", "地址段不能超过100条");
        }
        for c in &self.admin_ip_allowlist {
            if crate::net::Cidr::parse(c).is_none() {
                v.add("admin_ip_allowlist", format!("“{c}”不是有效的IP地址或CIDR地址段"));
            }
        }
        v.finish()?;
        Ok(())
    }

    pub fn apply(&self, p: &mut SecurityPolicy) {
        p.password_min_length = self.password_min_length as usize;
        p.password_max_age_days = self.password_max_age_days;
        p.lockout_threshold = self.lockout_threshold;
        p.lockout_window_ms = self.lockout_window_minutes * 60_000;
        p.lockout_duration_ms = self.lockout_duration_minutes * 60_000;
        p.session_idle_ms = self.session_idle_minutes * 60_000;
        p.session_absolute_ms = self.session_absolute_hours * 3_600_000;
        p.inactivity_disable_days = self.inactivity_disable_days;
        p.login_rate_per_ip = self.login_rate_per_ip;
        p.login_rate_per_account = self.login_rate_per_account;
        p.admin_ip_allowlist = self.admin_ip_allowlist.clone();
    }
}

impl Iam {
    // ---- password pepper -------------------------------------------------------------------

    /// Wraps a PBKDF2 verifier with SM4-GCM under the pepper key: `pep.v{n}.{hex}`; a database dump
    /// alone no longer allows offline guessing.
    pub(crate) fn pepper_wrap(&self, username: &str, verifier: &str) -> IamResult<String> {
        let key = self.keys.field_key(Purpose::Pepper, PEPPER_DOMAIN)?;
        Ok(format!("pep.{}", tg_crypto::seal_field(&key, format!("users.password#{username}").as_bytes(), verifier.as_bytes())))
    }

    /// The verifier inside a stored hash (legacy unwrapped verifiers pass through).
    pub(crate) fn pepper_unwrap(&self, username: &str, stored: &str) -> IamResult<String> {
        let Some(sealed) = stored.strip_prefix("pep.") else {
            return Ok(stored.to_owned());
        };
        let v = tg_crypto::field_key_version(sealed).ok_or_else(|| IamError::Integrity("口令密文格式错误".into()))?;
        let key = self.keys.field_key_version(Purpose::Pepper, PEPPER_DOMAIN, v)?;
        let pt = tg_crypto::open_field(&key, format!("users.password#{username}").as_bytes(), sealed)
            .map_err(|_| IamError::Integrity(format!("账户 {username} 的口令密文校验失败")))?;
        String::from_utf8(pt).map_err(|_| IamError::Integrity("口令密文内容错误".into()))
    }

    // ---- row MACs --------------------------------------------------------------------------

    pub(crate) async fn refresh_role_mac(&self, tx: &mut Tx, role_id: i64) -> IamResult<()> {
        let row = sqlx::query("SELECT code, data_scope, require_mfa FROM roles WHERE id = $1").bind(role_id).fetch_one(&mut **tx).await?;
        let perms: Vec<String> = sqlx::query("SELECT permission FROM role_permissions WHERE role_id = $1")
            .bind(role_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let canon = role_canon(role_id, &row.try_get::<String, _>(0)?, &row.try_get::<String, _>(1)?, row.try_get(2)?, &perms);
        let mac = self.keys.mac(Purpose::Acl, ACL_DOMAIN, &[&canon])?;
        sqlx::query("UPDATE roles SET mac = $1 WHERE id = $2").bind(mac).bind(role_id).execute(&mut **tx).await?;
        Ok(())
    }

    pub(crate) async fn refresh_user_mac(&self, tx: &mut Tx, user_id: i64) -> IamResult<()> {
        let row = sqlx::query("SELECT username, region_code, department_id, clearance, label FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
        let roles: Vec<i64> = sqlx::query("SELECT role_id FROM user_roles WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let canon = user_canon(
            user_id,
            &row.try_get::<String, _>(0)?,
            &row.try_get::<String, _>(1)?,
            row.try_get(2)?,
            &roles,
            (row.try_get(3)?, row.try_get(4)?),
        );
        let mac = self.keys.mac(Purpose::Acl, ACL_DOMAIN, &[&canon])?;
        sqlx::query("UPDATE users SET acl_mac = $1 WHERE id = $2").bind(mac).bind(user_id).execute(&mut **tx).await?;
        Ok(())
    }

    pub(crate) fn role_mac_ok(&self, id: i64, code: &str, data_scope: &str, require_mfa: i64, perms: &[String], mac: &str) -> bool {
        self.keys.mac_ok(Purpose::Acl, ACL_DOMAIN, &[&role_canon(id, code, data_scope, require_mfa, perms)], mac)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn user_mac_ok(
        &self,
        id: i64,
        username: &str,
        region: &str,
        dept: Option<i64>,
        roles: &[i64],
        labels: (i64, i64),
        mac: &str,
    ) -> bool {
        self.keys.mac_ok(Purpose::Acl, ACL_DOMAIN, &[&user_canon(id, username, region, dept, roles, labels)], mac)
    }

    /// Start-up duties: MACs for rows created before MACs existed (once), SM4 envelopes for legacy
    /// plaintext phone numbers, and the stored policy.
    pub async fn secure_legacy_rows(&self) -> IamResult<()> {
        let done =
            sqlx::query("SELECT value FROM security_settings WHERE name = 'acl_mac_initialised'").fetch_optional(self.db.pool()).await?;
        if done.is_none() {
            let mut tx = self.db.begin().await?;
            let roles: Vec<i64> =
                sqlx::query("SELECT id FROM roles").fetch_all(&mut *tx).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
            for id in roles {
                self.refresh_role_mac(&mut tx, id).await?;
            }
            let users: Vec<i64> =
                sqlx::query("SELECT id FROM users").fetch_all(&mut *tx).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
            for id in users {
                self.refresh_user_mac(&mut tx, id).await?;
            }
            self.put_setting(&mut tx, "acl_mac_initialised", "1", "system").await?;
            tx.commit().await?;
        }
        // Rows MACed before security labels existed: re-MAC those whose old MAC verifies (and only those).
        let upgraded = sqlx::query("SELECT value FROM security_settings WHERE name = 'acl_mac_v2'").fetch_optional(self.db.pool()).await?;
        if upgraded.is_none() {
            let mut tx = self.db.begin().await?;
            let users = sqlx::query("SELECT id, username, region_code, department_id, acl_mac FROM users").fetch_all(&mut *tx).await?;
            for u in users {
                let id: i64 = u.try_get(0)?;
                let roles: Vec<i64> = sqlx::query("SELECT role_id FROM user_roles WHERE user_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
                let old = user_canon_v1(id, &u.try_get::<String, _>(1)?, &u.try_get::<String, _>(2)?, u.try_get(3)?, &roles);
                if self.keys.mac_ok(Purpose::Acl, ACL_DOMAIN, &[&old], &u.try_get::<String, _>(4)?) {
                    self.refresh_user_mac(&mut tx, id).await?;
                }
            }
            self.put_setting(&mut tx, "acl_mac_v2", "1", "system").await?;
            tx.commit().await?;
        }
        // Phones stored before field encryption: encrypt and index them.
        let legacy = sqlx::query("SELECT id, username, phone FROM users WHERE phone IS NOT NULL AND phone_bidx IS NULL")
            .fetch_all(self.db.pool())
            .await?;
        if !legacy.is_empty() {
            let mut tx = self.db.begin().await?;
            for r in &legacy {
                let id: i64 = r.try_get(0)?;
                let username: String = r.try_get(1)?;
                let phone: String = r.try_get(2)?;
                let (enc, bidx) = self.seal_phone(&username, Some(&phone)).unwrap_or_default();
                sqlx::query("UPDATE users SET phone = $1, phone_bidx = $2 WHERE id = $3")
                    .bind(enc)
                    .bind(bidx)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            tracing::info!(rows = legacy.len(), "encrypted legacy phone numbers");
        }
        self.load_policy_settings().await
    }

    // ---- settings with MACs ----------------------------------------------------------------

    pub(crate) async fn put_setting(&self, tx: &mut Tx, name: &str, value: &str, by: &str) -> IamResult<()> {
        let mac = self.keys.mac(Purpose::Acl, ACL_DOMAIN, &[&setting_canon(name, value)])?;
        sqlx::query("DELETE FROM security_settings WHERE name = $1").bind(name).execute(&mut **tx).await?;
        sqlx::query("INSERT INTO security_settings (name, value, mac, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(name)
            .bind(value)
            .bind(mac)
            .bind(self.now())
            .bind(by)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A setting whose MAC verifies; a tampered one is refused (and reported by the integrity check).
    pub(crate) async fn get_setting(&self, name: &str) -> IamResult<Option<String>> {
        let Some(row) =
            sqlx::query("SELECT value, mac FROM security_settings WHERE name = $1").bind(name).fetch_optional(self.db.pool()).await?
        else {
            return Ok(None);
        };
        let value: String = row.try_get(0)?;
        let mac: String = row.try_get(1)?;
        if !self.keys.mac_ok(Purpose::Acl, ACL_DOMAIN, &[&setting_canon(name, &value)], &mac) {
            return Err(IamError::Integrity(format!("安全配置项 {name} 完整性校验失败")));
        }
        Ok(Some(value))
    }

    /// A numeric system setting (e.g. the syslog position); a tampered row is an integrity error.
    pub async fn setting_i64(&self, name: &str) -> IamResult<Option<i64>> {
        Ok(self.get_setting(name).await?.and_then(|v| v.parse().ok()))
    }

    pub async fn set_setting_system(&self, name: &str, value: &str) -> IamResult<()> {
        let mut tx = self.db.begin().await?;
        self.put_setting(&mut tx, name, value, "system").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn load_policy_settings(&self) -> IamResult<()> {
        match self.get_setting("policy").await {
            Ok(Some(json)) => {
                let s: PolicySettings = serde_json::from_str(&json).map_err(|e| IamError::Internal(format!("stored policy: {e}")))?;
                let mut p = self.policy();
                s.apply(&mut p);
                self.set_policy_in_memory(p);
            }
            Ok(None) => {}
            Err(e) => {
                // Keep the configured defaults; the integrity report and the alert name the row.
                tracing::error!(error = %e, "stored security policy refused");
                self.raise_alert("integrity", "critical", "安全策略配置被篡改", &format!("{e}；已使用配置文件中的默认策略。")).await?;
            }
        }
        Ok(())
    }

    /// Saves the security policy (security administrator), audited with the changes.
    pub async fn save_policy(&self, ctx: &AuditCtx, s: &PolicySettings) -> IamResult<PolicySettings> {
        s.validate()?;
        let old = PolicySettings::from_policy(&self.policy());
        let json = serde_json::to_string(s).map_err(|e| IamError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        self.put_setting(&mut tx, "policy", &json, &ctx.actor_username).await?;
        let old_v = serde_json::to_value(&old).unwrap_or_default();
        let new_v = serde_json::to_value(s).unwrap_or_default();
        let mut changes = Vec::new();
        if let (Some(o), Some(n)) = (old_v.as_object(), new_v.as_object()) {
            for (k, nv) in n {
                if o.get(k) != Some(nv) {
                    changes.push(format!("{k}: {} → {nv}", o.get(k).cloned().unwrap_or_default()));
                }
            }
        }
        self.audit(&mut tx, ctx, AuditEvent::success("security.policy_update", "安全策略").with_detail(changes.join("; "))).await?;
        tx.commit().await?;
        let mut p = self.policy();
        s.apply(&mut p);
        self.set_policy_in_memory(p);
        Ok(s.clone())
    }

    // ---- integrity report ------------------------------------------------------------------

    /// Checks every role, user grant, setting and encrypted field, and the audit chain.
    pub async fn integrity_verify(&self) -> IamResult<IntegrityReport> {
        let mut problems = Vec::new();
        let roles = sqlx::query("SELECT id, code, data_scope, require_mfa, mac FROM roles ORDER BY id").fetch_all(self.db.pool()).await?;
        let perms = sqlx::query("SELECT role_id, permission FROM role_permissions").fetch_all(self.db.pool()).await?;
        let mut perm_map: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for p in perms {
            perm_map.entry(p.try_get(0)?).or_default().push(p.try_get(1)?);
        }
        for r in &roles {
            let id: i64 = r.try_get(0)?;
            let code: String = r.try_get(1)?;
            let ps = perm_map.remove(&id).unwrap_or_default();
            if !self.role_mac_ok(id, &code, &r.try_get::<String, _>(2)?, r.try_get(3)?, &ps, &r.try_get::<String, _>(4)?) {
                problems.push(IntegrityProblem {
                    kind: "role".into(),
                    id: format!("#{id} {code}"),
                    detail: "角色权限或数据范围与校验值不符".into(),
                });
            }
        }
        for (id, _) in perm_map {
            problems.push(IntegrityProblem {
                kind: "role".into(), id: format!("#{id}"), detail: "存在指向不存在角色的权限行".into()
            });
        }
        let users = sqlx::query("SELECT id, username, region_code, department_id, acl_mac, phone, clearance, label FROM users ORDER BY id")
            .fetch_all(self.db.pool())
            .await?;
        let grants = sqlx::query("SELECT user_id, role_id FROM user_roles").fetch_all(self.db.pool()).await?;
        let mut grant_map: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        for g in grants {
            grant_map.entry(g.try_get(0)?).or_default().push(g.try_get(1)?);
        }
        let mut fields_checked = 0;
        for u in &users {
            let id: i64 = u.try_get(0)?;
            let username: String = u.try_get(1)?;
            let roles = grant_map.remove(&id).unwrap_or_default();
            let labels = (u.try_get(6)?, u.try_get(7)?);
            if !self.user_mac_ok(id, &username, &u.try_get::<String, _>(2)?, u.try_get(3)?, &roles, labels, &u.try_get::<String, _>(4)?) {
                problems.push(IntegrityProblem {
                    kind: "user_acl".into(),
                    id: format!("#{id} {username}"),
                    detail: "用户角色、区划或部门与校验值不符".into(),
                });
            }
            if let Some(phone) = u.try_get::<Option<String>, _>(5)? {
                fields_checked += 1;
                if self.keys.open(crate::users::PHONE_DOMAIN, &crate::users::phone_aad(&username), &phone).is_err() {
                    problems.push(IntegrityProblem {
                        kind: "field".into(),
                        id: format!("#{id} {username}"),
                        detail: "手机号密文校验失败".into(),
                    });
                }
            }
        }
        for (id, _) in grant_map {
            problems.push(IntegrityProblem {
                kind: "user_acl".into(), id: format!("#{id}"), detail: "存在指向不存在用户的授权行".into()
            });
        }
        let settings = sqlx::query("SELECT name, value, mac FROM security_settings").fetch_all(self.db.pool()).await?;
        for s in &settings {
            let name: String = s.try_get(0)?;
            if !self.keys.mac_ok(
                Purpose::Acl,
                ACL_DOMAIN,
                &[&setting_canon(&name, &s.try_get::<String, _>(1)?)],
                &s.try_get::<String, _>(2)?,
            ) {
                problems.push(IntegrityProblem { kind: "setting".into(), id: name, detail: "安全配置与校验值不符".into() });
            }
        }
        let audit = crate::audit::verify(&self.db, &self.keys).await?;
        if !audit.ok {
            problems.push(IntegrityProblem {
                kind: "audit".into(),
                id: audit.first_broken_seq.map(|s| format!("seq {s}")).unwrap_or_default(),
                detail: audit.reason.clone().unwrap_or_default(),
            });
        }
        let checkpoint = self.verify_checkpoints().await?;
        problems.extend(checkpoint);
        Ok(IntegrityReport {
            ok: problems.is_empty(),
            roles_checked: roles.len() as i64,
            users_checked: users.len() as i64,
            settings_checked: settings.len() as i64,
            fields_checked,
            audit,
            problems,
            checked_at: tg_kernel::clock::to_rfc3339(self.now()),
        })
    }

    /// The integrity check from the security page: audited, and problems raise an alert.
    pub async fn integrity_check_audited(&self, ctx: &AuditCtx) -> IamResult<IntegrityReport> {
        let r = self.integrity_verify().await?;
        let detail = format!("问题 {} 项", r.problems.len());
        let ev = if r.ok {
            AuditEvent::success("security.integrity_verify", "完整性校验").with_detail(detail)
        } else {
            AuditEvent::failure("security.integrity_verify", "完整性校验", detail)
        };
        self.audit_alone(ctx, ev).await?;
        if !r.ok {
            let list: Vec<String> = r.problems.iter().take(10).map(|p| format!("{} {}: {}", p.kind, p.id, p.detail)).collect();
            self.raise_alert("integrity", "critical", "完整性校验发现问题", &list.join("\n")).await?;
        }
        Ok(r)
    }

    /// Deletes audit rows older than `older_than_days`, never younger than the retention minimum
    /// (≥ 180 days). The chain stays verifiable from a MAC-protected anchor. Returns the rows removed.
    pub async fn purge_audit(&self, ctx: &AuditCtx, older_than_days: i64) -> IamResult<i64> {
        let keep = self.policy().audit_retention_days.max(180);
        if older_than_days < keep {
            return Err(IamError::conflict("audit.retention", format!("审计记录至少保留{keep}天，不能清理{older_than_days}天内的记录")));
        }
        let now = self.now();
        let cutoff = now - older_than_days * 86_400_000;
        let mut tx = self.db.begin().await?;
        let head = sqlx::query("SELECT seq, mac FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
        let first_kept = sqlx::query("SELECT seq, prev_mac FROM audit_log WHERE at >= $1 ORDER BY seq LIMIT 1")
            .bind(cutoff)
            .fetch_optional(&mut *tx)
            .await?;
        let (first_seq, prev_mac): (i64, String) = match first_kept {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (head.try_get::<i64, _>(0)? + 1, head.try_get(1)?),
        };
        sqlx::query("INSERT INTO audit_purge_gate (id, cutoff) VALUES (1, $1)").bind(cutoff).execute(&mut *tx).await?;
        let purged = sqlx::query("DELETE FROM audit_log WHERE seq < $1")
            .bind(first_seq)
            .execute(&mut *tx)
            .await
            .map_err(|e| IamError::conflict("audit.retention", format!("存在保留期内的早期记录，清理已取消：{e}")))?;
        sqlx::query("DELETE FROM audit_purge_gate WHERE id = 1").execute(&mut *tx).await?;
        let purged = purged.rows_affected() as i64;
        let prior: i64 = sqlx::query("SELECT COALESCE(MAX(purged_rows), 0) FROM audit_anchor").fetch_one(&mut *tx).await?.try_get(0)?;
        let total = prior + purged;
        let mac =
            self.keys.mac(Purpose::Audit, crate::audit::AUDIT_DOMAIN, &[&crate::audit::anchor_canon(first_seq, &prev_mac, total, now)])?;
        sqlx::query("DELETE FROM audit_anchor WHERE id = 1").execute(&mut *tx).await?;
        sqlx::query("INSERT INTO audit_anchor (id, first_seq, prev_mac, purged_rows, purged_at, mac) VALUES (1, $1, $2, $3, $4, $5)")
            .bind(first_seq)
            .bind(&prev_mac)
            .bind(total)
            .bind(now)
            .bind(mac)
            .execute(&mut *tx)
            .await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::success("audit.purge", format!("早于 {}", tg_kernel::clock::to_rfc3339(cutoff)))
                .with_detail(format!("清理 {purged} 条，保留期 {keep} 天，链起点序号 {first_seq}")),
        )
        .await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Sets an account's clearance (as a subject) and label (as an object). Only up to the actor's own
    /// clearance, never on oneself; MAC-protected and audited.
    pub async fn set_security_labels(
        &self,
        actor: &crate::service::Principal,
        ctx: &AuditCtx,
        user_id: i64,
        clearance: tg_kernel::SecurityLabel,
        label: tg_kernel::SecurityLabel,
    ) -> IamResult<crate::users::User> {
        if actor.user_id == user_id {
            return Err(IamError::conflict("user.self", "不能修改自己的安全标记"));
        }
        let mine = actor.scope.clearance.unwrap_or(tg_kernel::SecurityLabel::Internal);
        if clearance > mine || label > mine {
            return Err(IamError::field("clearance", format!("不能设置高于本人密级（{}）的安全标记", mine.label_zh())));
        }
        let old = self.user_unaudited(&actor.scope, user_id).await?;
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE users SET clearance = $1, label = $2, updated_at = $3 WHERE id = $4")
            .bind(clearance.level())
            .bind(label.level())
            .bind(self.now())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        self.refresh_user_mac(&mut tx, user_id).await?;
        let detail =
            format!("密级 {} → {}；标记 {} → {}", old.clearance.label_zh(), clearance.label_zh(), old.label.label_zh(), label.label_zh());
        self.audit(&mut tx, ctx, AuditEvent::success("security.label", format!("#{user_id} {}", old.username)).with_detail(detail)).await?;
        tx.commit().await?;
        self.user_unaudited(&actor.scope, user_id).await
    }

    /// Console and bootstrap: the initial security administrator holds the highest clearance.
    pub async fn set_clearance_unchecked(&self, ctx: &AuditCtx, user_id: i64, clearance: tg_kernel::SecurityLabel) -> IamResult<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE users SET clearance = $1 WHERE id = $2").bind(clearance.level()).bind(user_id).execute(&mut *tx).await?;
        self.refresh_user_mac(&mut tx, user_id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::success("security.label", format!("#{user_id}")).with_detail(format!("密级 {}", clearance.label_zh())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rotates one purpose's keys, audited.
    pub async fn rotate_keys(&self, ctx: &AuditCtx, purpose: Purpose) -> IamResult<i64> {
        let v = self.keys.rotate(&self.db, purpose, self.now()).await?;
        if purpose == Purpose::Signing {
            // Cached SM2 keys were unsealed with the old version; they stay valid and are re-read lazily.
            self.sm2_cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        self.audit_alone(ctx, AuditEvent::success("security.key_rotate", purpose.as_str()).with_detail(format!("新版本 v{v}"))).await?;
        Ok(v)
    }

    // ---- alerts and messages ---------------------------------------------------------------

    /// Puts an alert into the message list of every security and audit administrator, and the log.
    pub async fn raise_alert(&self, kind: &str, level: &str, title: &str, body: &str) -> IamResult<()> {
        let body = tg_kernel::pii::scrub_text(body).into_owned();
        tracing::warn!(alert = kind, level, title, body = %body, "security alert");
        let recipients: Vec<i64> = sqlx::query(
            "SELECT DISTINCT ur.user_id FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id \
             JOIN users u ON u.id = ur.user_id WHERE rp.permission IN ('audit:read', 'security:read') AND u.status <> 'disabled'",
        )
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        for uid in recipients {
            sqlx::query("INSERT INTO messages (user_id, kind, level, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(uid)
                .bind(kind)
                .bind(level)
                .bind(title)
                .bind(&body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        self.audit(&mut tx, &AuditCtx::cli("alert"), AuditEvent::success("security.alert", title.to_owned()).with_detail(body)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a message into the message list of each of `users` (inside the caller's transaction).
    pub async fn post_messages(
        &self,
        tx: &mut tg_db::Tx,
        users: &[i64],
        kind: &str,
        level: &str,
        title: &str,
        body: &str,
    ) -> IamResult<()> {
        self.post_messages_later(tx, users, kind, level, title, body);
        tx.flush().await?;
        Ok(())
    }

    /// Like [`Self::post_messages`], but leaves the rows queued in `tx` (see [`tg_db::Tx::later`]).
    pub fn post_messages_later(&self, tx: &mut tg_db::Tx, users: &[i64], kind: &str, level: &str, title: &str, body: &str) {
        let now = self.now();
        for uid in users {
            tx.later(
                "INSERT INTO messages (user_id, kind, level, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![(*uid).into(), kind.into(), level.into(), title.into(), body.into(), now.into()],
            );
        }
    }

    /// The caller's own messages, newest first.
    pub async fn messages(&self, user_id: i64, unread_only: bool, page: &tg_kernel::PageQuery) -> IamResult<tg_kernel::Page<Message>> {
        let cond = if unread_only { " AND read_at IS NULL" } else { "" };
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM messages WHERE user_id = $1{cond}"))
            .bind(user_id)
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)?;
        let (limit, offset) = page.limit_offset();
        let rows = sqlx::query(&format!(
            "SELECT id, kind, level, title, body, created_at, read_at FROM messages WHERE user_id = $1{cond} ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.db.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Message {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    level: r.try_get(2)?,
                    title: r.try_get(3)?,
                    body: r.try_get(4)?,
                    created_at: tg_kernel::clock::to_rfc3339(r.try_get(5)?),
                    read: r.try_get::<Option<i64>, _>(6)?.is_some(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(tg_kernel::Page::new(items, total, page))
    }

    pub async fn mark_message_read(&self, user_id: i64, id: i64) -> IamResult<()> {
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("UPDATE messages SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL")
            .bind(self.now())
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            let exists = sqlx::query("SELECT 1 FROM messages WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(IamError::not_found("消息", "message.not_found"));
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_are_unambiguous_and_order_free() {
        assert_ne!(role_canon(1, "ab", "c", 0, &[]), role_canon(1, "a", "bc", 0, &[]));
        assert_eq!(
            role_canon(1, "x", "subtree", 0, &["b".into(), "a".into()]),
            role_canon(1, "x", "subtree", 0, &["a".into(), "b".into()])
        );
        assert_eq!(user_canon(1, "u", "4453", None, &[3, 1], (2, 2)), user_canon(1, "u", "4453", None, &[1, 3], (2, 2)));
        assert_ne!(user_canon(1, "u", "4453", None, &[1], (2, 2)), user_canon(1, "u", "4453", Some(1), &[1], (2, 2)));
        assert_ne!(user_canon(1, "u", "4453", None, &[1], (2, 2)), user_canon(1, "u", "4453", None, &[1], (2, 3)));
    }

    #[test]
    fn policy_settings_validate_ranges_and_cidrs() {
        let mut s = PolicySettings::from_policy(&SecurityPolicy::default());
        assert!(s.validate().is_ok());
        s.password_min_length = 4;
        s.admin_ip_allowlist = vec!["10.0.0.0/33".into()];
        let Err(IamError::Validation(v)) = s.validate() else { panic!("expected validation error") };
        assert_eq!(v.0.len(), 2);
    }
}
