//! Bulk account provisioning (NFR-25): validate every row first, then create all accounts in one
//! transaction — or none. Initial passwords are generated, returned once, and must be changed at
//! first login.

use crate::audit::{AuditCtx, AuditEvent};
use crate::error::{IamError, IamResult};
use crate::service::{Iam, Principal};
use crate::users::{normalize_username, valid_phone, valid_username};
use serde::Serialize;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use tg_db::is_unique_violation;
use tg_kernel::{DataScope, RegionCode};
use utoipa::ToSchema;

/// At most this many rows per file: hashing initial passwords is deliberately slow.
pub const MAX_IMPORT_ROWS: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct ImportRow {
    /// 1-based row number in the file (the header is row 1).
    pub row: usize,
    pub username: String,
    pub display_name: String,
    pub phone: String,
    pub region_code: String,
    pub department_code: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportedUser {
    pub row: usize,
    pub username: String,
    /// One-time initial password; shown once, must be changed at first login.
    pub initial_password: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub total: usize,
    /// Every problem, row by row. When not empty nothing was written.
    pub errors: Vec<RowError>,
    pub created: Vec<ImportedUser>,
}

/// 16 characters from four classes, so it always meets the password rules.
pub fn generate_password() -> String {
    let bytes = crate::crypto::random_bytes::<16>();
    let sets: [&[u8]; 4] = [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnpqrstuvwxyz", b"23456789", b"@#%+=!"];
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let set = sets[i % 4];
            set[*b as usize % set.len()] as char
        })
        .collect()
}

struct Checked {
    row: usize,
    username: String,
    display_name: String,
    phone: Option<String>,
    region: RegionCode,
    department_id: Option<i64>,
}

impl Iam {
    pub async fn import_users(&self, actor: &Principal, ctx: &AuditCtx, rows: &[ImportRow], dry_run: bool) -> IamResult<ImportReport> {
        let mut errors = Vec::new();
        let mut err = |row: usize, field: &str, message: String| errors.push(RowError { row, field: field.into(), message });
        if rows.is_empty() {
            err(0, "file", "文件中没有数据行".into());
        }
        if rows.len() > MAX_IMPORT_ROWS {
            err(0, "file", format!("一次最多导入{MAX_IMPORT_ROWS}行，请拆分文件"));
        }
        let mut seen = HashSet::new();
        let mut depts: HashMap<String, Option<(i64, String)>> = HashMap::new();
        let mut checked = Vec::new();
        for r in rows.iter().take(MAX_IMPORT_ROWS) {
            let username = normalize_username(&r.username);
            let mut ok = true;
            if !valid_username(&username) {
                err(r.row, "username", "用户名须为3-32位，以字母开头，只含字母、数字和“.”“_”“-”".into());
                ok = false;
            } else if !seen.insert(username.clone()) {
                err(r.row, "username", format!("用户名 {username} 在文件中重复"));
                ok = false;
            } else if self.user_id_by_name(&username).await?.is_some() {
                err(r.row, "username", format!("用户名 {username} 已存在"));
                ok = false;
            }
            let name = r.display_name.trim();
            if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
                err(r.row, "display_name", "姓名不能为空且不超过50个字符".into());
                ok = false;
            }
            let phone = r.phone.trim();
            if !phone.is_empty() && !valid_phone(phone) {
                err(r.row, "phone", "手机号须为11位中国大陆手机号码".into());
                ok = false;
            }
            let region = match RegionCode::parse(&r.region_code) {
                Ok(c) if !actor.scope.contains_region(&c) => {
                    err(r.row, "region_code", format!("区划 {c} 超出您的数据权限范围"));
                    None
                }
                Ok(c) if self.region_raw(&c).await?.is_none() => {
                    err(r.row, "region_code", format!("区划 {c} 不存在"));
                    None
                }
                Ok(c) => Some(c),
                Err(_) => {
                    err(r.row, "region_code", format!("区划代码 {} 格式不正确", r.region_code.trim()));
                    None
                }
            };
            let code = r.department_code.trim();
            let mut department_id = None;
            if !code.is_empty() {
                if !depts.contains_key(code) {
                    let row = sqlx::query("SELECT id, region_code FROM departments WHERE code = $1")
                        .bind(code)
                        .fetch_optional(self.db.pool())
                        .await?;
                    let v = match row {
                        Some(row) => Some((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)),
                        None => None,
                    };
                    depts.insert(code.to_owned(), v);
                }
                match depts.get(code).cloned().flatten() {
                    None => {
                        err(r.row, "department_code", format!("部门编码 {code} 不存在"));
                        ok = false;
                    }
                    Some((id, dept_region)) => {
                        let dept_region = RegionCode::parse(&dept_region).map_err(|e| IamError::Internal(e.to_string()))?;
                        if let Some(reg) = &region {
                            let target = DataScope { region: reg.clone(), department_id: Some(id), clearance: None };
                            if !actor.scope.covers(&target) || !actor.scope.contains_region(&dept_region) {
                                err(r.row, "department_code", format!("部门 {code} 超出您的数据权限范围"));
                                ok = false;
                            } else if !dept_region.contains(reg) {
                                err(r.row, "department_code", "用户所属区划须在部门所在区划之内".into());
                                ok = false;
                            }
                        }
                        department_id = Some(id);
                    }
                }
            } else if actor.scope.department_id.is_some() {
                err(r.row, "department_code", "您只能在本部门内创建用户，请填写部门编码".into());
                ok = false;
            }
            if let (true, Some(region)) = (ok, region) {
                checked.push(Checked {
                    row: r.row,
                    username,
                    display_name: name.to_owned(),
                    phone: (!phone.is_empty()).then(|| phone.to_owned()),
                    region,
                    department_id,
                });
            }
        }
        let total = rows.len();
        if !errors.is_empty() || dry_run {
            return Ok(ImportReport { dry_run, total, errors, created: Vec::new() });
        }

        // Hash on every core; the hashing gate keeps it to one hash per core.
        let mut set = tokio::task::JoinSet::new();
        for (i, c) in checked.iter().enumerate() {
            let iam = self.clone();
            let username = c.username.clone();
            set.spawn(async move {
                let pw = generate_password();
                let hash = iam.hash_password(&username, &pw).await;
                (i, pw, hash)
            });
        }
        let mut secrets = vec![(String::new(), String::new()); checked.len()];
        while let Some(res) = set.join_next().await {
            let (i, pw, hash) = res.map_err(|e| IamError::Internal(e.to_string()))?;
            secrets[i] = (pw, hash?);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut created = Vec::new();
        for (c, (pw, hash)) in checked.iter().zip(secrets) {
            let (phone_enc, phone_bidx) = self.seal_phone(&c.username, c.phone.as_deref())?;
            let id: i64 = sqlx::query(
                "INSERT INTO users (username, display_name, phone, phone_bidx, region_code, department_id, password_hash, must_change_password, \
                 status, password_changed_at, is_demo, created_at, updated_at) VALUES ($1, $2, $3, $8, $4, $5, $6, 1, 'active', $7, 0, $7, $7) RETURNING id",
            )
            .bind(&c.username)
            .bind(&c.display_name)
            .bind(phone_enc.as_deref())
            .bind(c.region.as_str())
            .bind(c.department_id)
            .bind(&hash)
            .bind(now)
            .bind(phone_bidx.as_deref())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { IamError::conflict("user.exists", format!("用户名 {} 已存在", c.username)) } else { IamError::Db(e) })?
            .try_get(0)?;
            self.refresh_user_mac(&mut tx, id).await?;
            let ev = AuditEvent::success("user.create", format!("#{id} {}", c.username))
                .with_detail(format!("批量导入第{}行，区划 {}", c.row, c.region));
            self.audit(&mut tx, ctx, ev).await?;
            created.push(ImportedUser { row: c.row, username: c.username.clone(), initial_password: pw });
        }
        self.audit(&mut tx, ctx, AuditEvent::success("user.import", format!("{} 个用户", created.len()))).await?;
        tx.commit().await?;
        Ok(ImportReport { dry_run, total, errors, created })
    }
}
