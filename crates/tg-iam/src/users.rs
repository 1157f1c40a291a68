//! User accounts: creation, scoped listing, updates, locking, password resets and soft deletion.

use crate::audit::{AuditCtx, AuditEvent};
use crate::crypto;
use crate::error::{IamError, IamResult};
use crate::keys::Keyring;
use crate::service::{Iam, Principal, RoleBrief};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;
use tg_db::{is_unique_violation, SqlBuf, Tx};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{DataScope, Page, PageQuery, RegionCode, ValidationErrors};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// Masked mobile number, e.g. `138****1234`.
    pub phone: Option<String>,
    pub region_code: String,
    pub region_name: String,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub roles: Vec<RoleBrief>,
    /// `active`, `locked` or `disabled`.
    pub status: String,
    /// Clearance as a subject (安全标记): which labelled objects the account may reach.
    pub clearance: tg_kernel::SecurityLabel,
    /// Label as an object: accounts above a viewer's clearance are invisible to them.
    pub label: tg_kernel::SecurityLabel,
    pub must_change_password: bool,
    pub is_demo: bool,
    pub last_login_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    /// Initial password; the user must change it at first login.
    pub password: String,
    pub phone: Option<String>,
    pub region_code: String,
    pub department_id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: String,
    pub phone: Option<String>,
    pub region_code: String,
    pub department_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub q: Option<String>,
    pub region_code: Option<RegionCode>,
    pub department_id: Option<i64>,
    pub status: Option<String>,
    pub role: Option<String>,
    /// Exact mobile number, matched through the blind index.
    pub phone: Option<String>,
}

/// `13812341234` → `138****1234` (GB/T 35273 display restriction; see `tg_kernel::pii`).
pub fn mask_phone(p: &str) -> String {
    tg_kernel::pii::mask_phone(p)
}

pub fn normalize_username(u: &str) -> String {
    u.trim().to_lowercase()
}

/// 3-32 characters, a lowercase letter first, then letters, digits, `.`, `_`, `-`.
pub fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// An 11-digit mainland mobile number.
pub fn valid_phone(p: &str) -> bool {
    p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit()) && (b'3'..=b'9').contains(&p.as_bytes()[1])
}

fn check_username(v: &mut ValidationErrors, u: &str) {
    if !valid_username(u) {
        v.add("username", "用户名须为3-32位，以字母开头，只含字母、数字和“.”“_”“-”");
    }
}

fn check_phone(v: &mut ValidationErrors, p: Option<&str>) -> Option<String> {
    let p = p.map(str::trim).filter(|s| !s.is_empty())?;
    if !valid_phone(p) {
        v.add("phone", "手机号须为11位中国大陆手机号码");
    }
    Some(p.to_owned())
}

/// The password rules: minimum length, three of four character classes, not containing the username.
pub fn password_problem(password: &str, username: &str, min_len: usize) -> Option<String> {
    let n = password.chars().count();
    if n < min_len {
        return Some(format!("密码长度不能少于{min_len}位"));
    }
    if n > 64 {
        return Some("密码长度不能超过64位".into());
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|x| **x).count() < 3 {
        return Some("密码须包含大写字母、小写字母、数字、特殊字符中的至少三类".into());
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Some("密码不能包含用户名".into());
    }
    None
}

const SELECT: &str = "SELECT u.id, u.username, u.display_name, u.phone, u.region_code, r.name, u.department_id, d.name, \
    u.status, u.must_change_password, u.is_demo, u.last_login_at, u.created_at, u.clearance, u.label \
    FROM users u JOIN regions r ON r.code = u.region_code LEFT JOIN departments d ON d.id = u.department_id";

const SELECT_PAGED: &str = "SELECT u.id, u.username, u.display_name, u.phone, u.region_code, r.name, u.department_id, d.name, \
    u.status, u.must_change_password, u.is_demo, u.last_login_at, u.created_at, u.clearance, u.label \
    FROM users u JOIN (SELECT u.id FROM users u WHERE 1=1";

/// AAD that binds an encrypted phone number to its account (usernames never change).
pub(crate) fn phone_aad(username: &str) -> String {
    format!("users.phone#{username}")
}

/// Decrypts and masks a stored phone number; a ciphertext that fails its tag shows as a marker.
fn masked_phone(keys: &Keyring, username: &str, stored: Option<&str>) -> Option<String> {
    let s = stored?;
    Some(match keys.open(PHONE_DOMAIN, &phone_aad(username), s) {
        Ok(p) => tg_kernel::pii::mask_phone(&p),
        Err(e) => {
            tracing::error!(user = username, error = %e, "phone ciphertext failed verification");
            "[密文校验失败]".into()
        }
    })
}

pub(crate) const PHONE_DOMAIN: &str = "users.phone";

fn from_row(keys: &Keyring, row: &tg_db::Row) -> Result<User, sqlx::Error> {
    let phone: Option<String> = row.try_get(3)?;
    let username: String = row.try_get(1)?;
    Ok(User {
        id: row.try_get(0)?,
        phone: masked_phone(keys, &username, phone.as_deref()),
        username,
        display_name: row.try_get(2)?,
        region_code: row.try_get(4)?,
        region_name: row.try_get(5)?,
        department_id: row.try_get(6)?,
        department_name: row.try_get(7)?,
        roles: Vec::new(),
        status: row.try_get(8)?,
        must_change_password: row.try_get::<i64, _>(9)? != 0,
        is_demo: row.try_get::<i64, _>(10)? != 0,
        last_login_at: row.try_get::<Option<i64>, _>(11)?.map(to_rfc3339),
        created_at: to_rfc3339(row.try_get(12)?),
        clearance: tg_kernel::SecurityLabel::from_level(row.try_get(13)?).unwrap_or(tg_kernel::SecurityLabel::Sensitive),
        label: tg_kernel::SecurityLabel::from_level(row.try_get(14)?).unwrap_or(tg_kernel::SecurityLabel::Sensitive),
    })
}

pub(crate) fn apply_user_scope(q: &mut SqlBuf, scope: &DataScope) {
    let (lo, hi) = scope.bounds();
    q.push(" AND u.region_code >= ").bind(lo).push(" AND u.region_code < ").bind(hi);
    if let Some(d) = scope.department_id {
        q.push(" AND u.department_id = ").bind(d);
    }
    if let Some(c) = scope.clearance {
        q.push(" AND u.label <= ").bind(c.level());
    }
}

/// A password to set, and what else happens with it.
pub(crate) struct PasswordChange<'a> {
    pub username: &'a str,
    pub id: i64,
    pub password: &'a str,
    pub must_change: bool,
    pub action: &'a str,
    pub keep_session: Option<&'a str>,
}

/// Everything needed to create an account from the command line or the demo seed.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub phone: Option<String>,
    pub region: RegionCode,
    pub department_id: Option<i64>,
    pub roles: Vec<String>,
    pub must_change_password: bool,
    pub is_demo: bool,
}

impl Iam {
    async fn attach_roles(&self, users: &mut [User]) -> IamResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut q =
            SqlBuf::new("SELECT ur.user_id, ro.code, ro.name FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id WHERE ur.user_id IN (");
        q.bind_list(users.iter().map(|u| u.id));
        q.push(") ORDER BY ro.id");
        let mut map: HashMap<i64, Vec<RoleBrief>> = HashMap::new();
        for row in q.query().fetch_all(self.db.pool()).await? {
            map.entry(row.try_get(0)?).or_default().push(RoleBrief { code: row.try_get(1)?, name: row.try_get(2)? });
        }
        for u in users.iter_mut() {
            u.roles = map.remove(&u.id).unwrap_or_default();
        }
        Ok(())
    }

    /// Lists users in the caller's scope. Reading personal data is audited.
    pub async fn list_users(&self, actor: &Principal, ctx: &AuditCtx, f: &UserFilter, page: &PageQuery) -> IamResult<Page<User>> {
        let narrowed = actor.scope.narrow(f.region_code.as_ref()).ok_or(IamError::OutOfScope)?;
        let phone_bidx = match f.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => {
                let p = tg_kernel::pii::Phone::parse(p).map_err(|e| IamError::field("phone", e.message()))?;
                Some(self.keys.blind_index(PHONE_DOMAIN, &p.index_form())?)
            }
            None => None,
        };
        let filter = |q: &mut SqlBuf| {
            apply_user_scope(q, &actor.scope);
            let (lo, hi) = narrowed.subtree_bounds();
            q.push(" AND u.region_code >= ").bind(lo).push(" AND u.region_code < ").bind(hi);
            if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                let like = SqlBuf::like_contains(text);
                q.push(" AND (u.username LIKE ")
                    .bind(like.as_str())
                    .push(" ESCAPE '\\' OR u.display_name LIKE ")
                    .bind(like.as_str())
                    .push(" ESCAPE '\\')");
            }
            if let Some(d) = f.department_id {
                q.push(" AND u.department_id = ").bind(d);
            }
            if let Some(b) = &phone_bidx {
                q.push(" AND u.phone_bidx = ").bind(b.as_str());
            }
            if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
                q.push(" AND u.status = ").bind(s);
            }
            if let Some(r) = f.role.as_deref().filter(|s| !s.is_empty()) {
                q.push(
                    " AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id WHERE ur.user_id = u.id AND ro.code = ",
                )
                .bind(r)
                .push(")");
            }
        };
        let mut c = SqlBuf::new("SELECT COUNT(*) FROM users u WHERE 1=1");
        filter(&mut c);
        let total: i64 = c.query().fetch_one(self.db.pool()).await?.try_get(0)?;
        let (limit, offset) = page.limit_offset();
        // Deferred join: page over the (covering) region index first, then join the 20 rows.
        let mut q = SqlBuf::new(SELECT_PAGED);
        filter(&mut q);
        q.push(" ORDER BY u.id LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        q.push(
            ") p ON p.id = u.id JOIN regions r ON r.code = u.region_code LEFT JOIN departments d ON d.id = u.department_id ORDER BY u.id",
        );
        let mut items: Vec<User> =
            q.query().fetch_all(self.db.pool()).await?.iter().map(|r| from_row(&self.keys, r)).collect::<Result<_, _>>()?;
        self.attach_roles(&mut items).await?;
        let detail = format!("第{}页，{}条，区划 {narrowed}", page.page(), items.len());
        self.audit_alone(ctx, AuditEvent::success("user.list", "用户列表").with_detail(detail)).await?;
        Ok(Page::new(items, total, page))
    }

    pub(crate) async fn user_unaudited(&self, scope: &DataScope, id: i64) -> IamResult<User> {
        let mut q = SqlBuf::new(SELECT);
        q.push(" WHERE u.id = ").bind(id);
        apply_user_scope(&mut q, scope);
        let row = q.query().fetch_optional(self.db.pool()).await?;
        let mut u =
            vec![row.as_ref().map(|r| from_row(&self.keys, r)).transpose()?.ok_or(IamError::not_found("用户", "user.not_found"))?];
        self.attach_roles(&mut u).await?;
        Ok(u.remove(0))
    }

    /// One user in scope (a read of personal data, audited).
    pub async fn user(&self, actor: &Principal, ctx: &AuditCtx, id: i64) -> IamResult<User> {
        let u = self.user_unaudited(&actor.scope, id).await?;
        self.audit_alone(ctx, AuditEvent::success("user.read", format!("#{id} {}", u.username))).await?;
        Ok(u)
    }

    /// Checks that a region and department exist, fit together, and lie within `scope`.
    async fn check_placement(&self, scope: &DataScope, region: &RegionCode, department_id: Option<i64>) -> IamResult<()> {
        let target = DataScope { region: region.clone(), department_id, clearance: None };
        if !scope.covers(&target) {
            return Err(IamError::OutOfScope);
        }
        if self.region_raw(region).await?.is_none() {
            return Err(IamError::field("region_code", "行政区划不存在"));
        }
        if let Some(d) = department_id {
            let row = sqlx::query("SELECT region_code FROM departments WHERE id = $1").bind(d).fetch_optional(self.db.pool()).await?;
            let Some(row) = row else {
                return Err(IamError::field("department_id", "部门不存在"));
            };
            let dept_region: String = row.try_get(0)?;
            let dept_region = RegionCode::parse(&dept_region).map_err(|e| IamError::Internal(e.to_string()))?;
            if !scope.contains_region(&dept_region) {
                return Err(IamError::OutOfScope);
            }
            if !dept_region.contains(region) {
                return Err(IamError::field("department_id", "用户所属区划须在部门所在区划之内"));
            }
        }
        Ok(())
    }

    pub async fn create_user(&self, actor: &Principal, ctx: &AuditCtx, input: &NewUser) -> IamResult<User> {
        let username = normalize_username(&input.username);
        let mut v = ValidationErrors::new();
        check_username(&mut v, &username);
        v.text("display_name", "姓名", &input.display_name, 50);
        let phone = check_phone(&mut v, input.phone.as_deref());
        if let Some(p) = password_problem(&input.password, &username, self.policy().password_min_length) {
            v.add("password", p);
        }
        let region = RegionCode::parse(&input.region_code);
        if region.is_err() {
            v.add("region_code", "行政区划代码格式不正确");
        }
        v.finish()?;
        let region = region.map_err(|e| IamError::field("region_code", e.to_string()))?;
        self.check_placement(&actor.scope, &region, input.department_id).await?;
        let spec = UserSpec {
            username,
            display_name: input.display_name.trim().to_owned(),
            password: input.password.clone(),
            phone,
            region,
            department_id: input.department_id,
            roles: Vec::new(),
            must_change_password: true,
            is_demo: false,
        };
        let id = self.insert_user(ctx, &spec).await?;
        self.user_unaudited(&actor.scope, id).await
    }

    /// Creates an account without an actor's scope check: the CLI, `init` and the demo seed.
    pub async fn insert_user(&self, ctx: &AuditCtx, spec: &UserSpec) -> IamResult<i64> {
        let hash = self.hash_password(&spec.username, &spec.password).await?;
        let (phone_enc, phone_bidx) = self.seal_phone(&spec.username, spec.phone.as_deref())?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, phone, phone_bidx, region_code, department_id, password_hash, must_change_password, \
             status, password_changed_at, is_demo, created_at, updated_at) \
             VALUES ($1, $2, $3, $10, $4, $5, $6, $7, 'active', $8, $9, $8, $8) RETURNING id",
        )
        .bind(&spec.username)
        .bind(&spec.display_name)
        .bind(phone_enc.as_deref())
        .bind(spec.region.as_str())
        .bind(spec.department_id)
        .bind(&hash)
        .bind(i64::from(spec.must_change_password))
        .bind(now)
        .bind(i64::from(spec.is_demo))
        .bind(phone_bidx.as_deref())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                IamError::conflict("user.exists", format!("用户名 {} 已存在", spec.username))
            } else {
                IamError::Db(e)
            }
        })?;
        let id: i64 = row.try_get(0)?;
        let detail = format!("区划 {}，部门 {:?}", spec.region, spec.department_id);
        self.audit(&mut tx, ctx, AuditEvent::success("user.create", format!("#{id} {}", spec.username)).with_detail(detail)).await?;
        if !spec.roles.is_empty() {
            self.replace_roles(&mut tx, ctx, id, &spec.username, &spec.roles).await?;
        } else {
            self.refresh_user_mac(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The SM4-GCM envelope and blind index of a phone number.
    pub(crate) fn seal_phone(&self, username: &str, phone: Option<&str>) -> IamResult<(Option<String>, Option<String>)> {
        let Some(p) = phone else {
            return Ok((None, None));
        };
        let parsed = tg_kernel::pii::Phone::parse(p).map_err(|e| IamError::field("phone", e.message()))?;
        let enc = self.keys.seal(PHONE_DOMAIN, &phone_aad(username), parsed.expose())?;
        let bidx = self.keys.blind_index(PHONE_DOMAIN, &parsed.index_form())?;
        Ok((Some(enc), Some(bidx)))
    }

    /// A PBKDF2-HMAC-SM3 verifier, wrapped with SM4-GCM under the pepper key and bound to the account.
    pub(crate) async fn hash_password(&self, username: &str, password: &str) -> IamResult<String> {
        let pw = password.to_owned();
        let iterations = self.policy().pbkdf2_iterations;
        let verifier = {
            let _permit = self.hash_gate.acquire().await.map_err(|e| IamError::Internal(e.to_string()))?;
            tokio::task::spawn_blocking(move || crypto::hash_password(&pw, iterations))
                .await
                .map_err(|e| IamError::Internal(e.to_string()))?
        };
        self.pepper_wrap(username, &verifier)
    }

    pub async fn update_user(&self, actor: &Principal, ctx: &AuditCtx, id: i64, input: &UserUpdate) -> IamResult<User> {
        let old = self.user_unaudited(&actor.scope, id).await?;
        let mut v = ValidationErrors::new();
        v.text("display_name", "姓名", &input.display_name, 50);
        let phone = check_phone(&mut v, input.phone.as_deref());
        let region = RegionCode::parse(&input.region_code);
        if region.is_err() {
            v.add("region_code", "行政区划代码格式不正确");
        }
        v.finish()?;
        let region = region.map_err(|e| IamError::field("region_code", e.to_string()))?;
        self.check_placement(&actor.scope, &region, input.department_id).await?;
        let (phone_enc, phone_bidx) = self.seal_phone(&old.username, phone.as_deref())?;
        let old_bidx: Option<String> =
            sqlx::query("SELECT phone_bidx FROM users WHERE id = $1").bind(id).fetch_one(self.db.pool()).await?.try_get(0)?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE users SET display_name = $1, phone = $2, phone_bidx = $7, region_code = $3, department_id = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(input.display_name.trim())
        .bind(phone_enc.as_deref())
        .bind(region.as_str())
        .bind(input.department_id)
        .bind(self.now())
        .bind(id)
        .bind(phone_bidx.as_deref())
        .execute(&mut *tx)
        .await?;
        self.refresh_user_mac(&mut tx, id).await?;
        let mut changes = Vec::new();
        if old.display_name != input.display_name.trim() {
            changes.push(format!("姓名: {} → {}", old.display_name, input.display_name.trim()));
        }
        if old.region_code != region.as_str() {
            changes.push(format!("区划: {} → {region}", old.region_code));
        }
        if old.department_id != input.department_id {
            changes.push(format!("部门: {:?} → {:?}", old.department_id, input.department_id));
        }
        if old_bidx != phone_bidx {
            changes.push("手机号已修改".into());
        }
        self.audit(&mut tx, ctx, AuditEvent::success("user.update", format!("#{id} {}", old.username)).with_detail(changes.join("; ")))
            .await?;
        tx.commit().await?;
        self.user_unaudited(&actor.scope, id).await
    }

    fn not_self(actor: &Principal, id: i64) -> IamResult<()> {
        if actor.user_id == id {
            Err(IamError::conflict("user.self", "不能对自己的账户执行此操作"))
        } else {
            Ok(())
        }
    }

    pub async fn set_user_status(&self, actor: &Principal, ctx: &AuditCtx, id: i64, status: &str) -> IamResult<User> {
        Self::not_self(actor, id)?;
        let old = self.user_unaudited(&actor.scope, id).await?;
        if old.status == "disabled" {
            return Err(IamError::conflict("user.disabled", "该账户已停用"));
        }
        self.apply_status(ctx, id, &old.username, status).await?;
        self.user_unaudited(&actor.scope, id).await
    }

    pub async fn reset_password(&self, actor: &Principal, ctx: &AuditCtx, id: i64, password: &str) -> IamResult<()> {
        Self::not_self(actor, id)?;
        let old = self.user_unaudited(&actor.scope, id).await?;
        if let Some(p) = password_problem(password, &old.username, self.policy().password_min_length) {
            return Err(IamError::field("password", p));
        }
        self.set_password(
            ctx,
            PasswordChange { username: &old.username, id, password, must_change: true, action: "user.reset_password", keep_session: None },
        )
        .await
    }

    /// Sets a password and ends sessions (all of them, or all but `keep_session`).
    pub(crate) async fn set_password(&self, ctx: &AuditCtx, change: PasswordChange<'_>) -> IamResult<()> {
        let PasswordChange { username, id, password, must_change, action, keep_session } = change;
        let hash = self.hash_password(username, password).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2, password_changed_at = $3, failed_count = 0, \
             locked_until = 0, updated_at = $3 WHERE id = $4",
        )
        .bind(&hash)
        .bind(i64::from(must_change))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        self.audit(&mut tx, ctx, AuditEvent::success(action, format!("#{id} {username}"))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finds a user id by username (CLI operations).
    pub async fn user_id_by_name(&self, username: &str) -> IamResult<Option<i64>> {
        let row = sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(normalize_username(username))
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// CLI: lock, unlock or reset without an actor (the operator on the server is trusted).
    pub async fn cli_set_status(&self, ctx: &AuditCtx, username: &str, status: &str) -> IamResult<()> {
        let id = self.user_id_by_name(username).await?.ok_or(IamError::not_found("用户", "user.not_found"))?;
        self.apply_status(ctx, id, username, status).await
    }

    /// Sets `active`, `locked` or `disabled`, clears temporary lockouts, and ends sessions unless active.
    async fn apply_status(&self, ctx: &AuditCtx, id: i64, username: &str, status: &str) -> IamResult<()> {
        let action = match status {
            "locked" => "user.lock",
            "active" => "user.unlock",
            _ => "user.delete",
        };
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE users SET status = $1, failed_count = 0, locked_until = 0, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(self.now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if status != "active" {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        }
        self.audit(&mut tx, ctx, AuditEvent::success(action, format!("#{id} {username}"))).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn cli_reset_password(&self, ctx: &AuditCtx, username: &str, password: &str) -> IamResult<()> {
        let username = normalize_username(username);
        let id = self.user_id_by_name(&username).await?.ok_or(IamError::not_found("用户", "user.not_found"))?;
        if let Some(p) = password_problem(password, &username, self.policy().password_min_length) {
            return Err(IamError::WeakPassword(p));
        }
        self.set_password(
            ctx,
            PasswordChange { username: &username, id, password, must_change: true, action: "user.reset_password", keep_session: None },
        )
        .await
    }

    /// The unmasked phone number of a user in scope, for a holder of `pii:unmask` who states a
    /// reason. Audited with the reason; the response must not be cached.
    pub async fn unmask_user_phone(&self, actor: &Principal, ctx: &AuditCtx, id: i64, reason: &str) -> IamResult<Option<String>> {
        let reason = reason.trim();
        if reason.chars().count() < 4 || reason.chars().count() > 200 {
            return Err(IamError::field("reason", "请填写查看事由（4-200个字）"));
        }
        let u = self.user_unaudited(&actor.scope, id).await?;
        let stored: Option<String> =
            sqlx::query("SELECT phone FROM users WHERE id = $1").bind(id).fetch_one(self.db.pool()).await?.try_get(0)?;
        let phone = match stored {
            Some(s) => Some(self.keys.open(PHONE_DOMAIN, &phone_aad(&u.username), &s)?),
            None => None,
        };
        self.audit_alone(
            ctx,
            AuditEvent::success("pii.unmask", format!("#{id} {}", u.username)).with_detail(format!("字段: 手机号; 事由: {reason}")),
        )
        .await?;
        Ok(phone)
    }

    /// Whether any demo account is still active (`serve` warns while one is).
    pub async fn demo_accounts_active(&self) -> IamResult<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users WHERE is_demo = 1 AND status = 'active'").fetch_one(self.db.pool()).await?.try_get(0)?)
    }

    pub async fn user_count(&self) -> IamResult<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(self.db.pool()).await?.try_get(0)?)
    }

    /// Replaces a user's roles inside `tx` after the separation-of-duties check.
    pub(crate) async fn replace_roles(&self, tx: &mut Tx, ctx: &AuditCtx, user_id: i64, username: &str, codes: &[String]) -> IamResult<()> {
        let mut ids = Vec::new();
        let mut perms: Vec<String> = Vec::new();
        for code in codes {
            let row = sqlx::query("SELECT id FROM roles WHERE code = $1").bind(code).fetch_optional(&mut **tx).await?;
            let Some(row) = row else {
                return Err(IamError::field("roles", format!("角色 {code} 不存在")));
            };
            let id: i64 = row.try_get(0)?;
            for p in sqlx::query("SELECT permission FROM role_permissions WHERE role_id = $1").bind(id).fetch_all(&mut **tx).await? {
                perms.push(p.try_get(0)?);
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        check_duties(&perms)?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
        for id in &ids {
            sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)").bind(user_id).bind(*id).execute(&mut **tx).await?;
        }
        self.refresh_user_mac(tx, user_id).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::success("user.grant", format!("#{user_id} {username}")).with_detail(format!("角色: {}", codes.join(","))),
        )
        .await?;
        Ok(())
    }
}

/// 三员分立: refuse a permission set that spans more than one of the separated duties.
pub(crate) fn check_duties(perms: &[String]) -> IamResult<()> {
    let d = crate::permissions::duties(perms.iter().map(String::as_str));
    if d.len() > 1 {
        let names: Vec<&str> = d.iter().map(|x| x.label()).collect();
        return Err(IamError::RoleConflict(format!("三员分立：同一账户不能同时具有{}职责", names.join("、"))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(password_problem("Ab1!", "x", 8).is_some());
        assert!(password_problem("abcdefgh", "x", 8).is_some());
        assert!(password_problem("abcdefg1", "x", 8).is_some());
        assert!(password_problem("Abcdefg1", "x", 8).is_none());
        assert!(password_problem("zhangsan@Ab1", "zhangsan", 8).is_some());
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("123"), "***");
    }
}
