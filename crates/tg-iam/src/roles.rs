//! Roles (permission sets with a data-scope rule) and grants of roles to users.

use crate::audit::{AuditCtx, AuditEvent};
use crate::error::{IamError, IamResult};
use crate::permissions::{is_known, BUILTIN_ROLES};
use crate::service::{Iam, Principal};
use crate::users::{check_duties, User};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use tg_db::{is_unique_violation, SqlBuf};
use tg_kernel::{DataScope, Page, PageQuery, RegionCode, ValidationErrors};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Role {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// `subtree` (本级及下级) or `subtree_dept` (本级及下级·仅本部门).
    pub data_scope: String,
    pub permissions: Vec<String>,
    pub user_count: i64,
    /// Holders must sign in with the SM3 dynamic password as well.
    pub require_mfa: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub data_scope: String,
    pub permissions: Vec<String>,
    #[serde(default)]
    pub require_mfa: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    pub roles: Vec<String>,
}

fn validate(input: &RoleInput) -> IamResult<()> {
    let mut v = ValidationErrors::new();
    let code = input.code.trim();
    let ok = (2..=32).contains(&code.len())
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        v.add("code", "角色编码须为2-32位小写字母、数字或下划线，以字母开头");
    }
    v.text("name", "角色名称", &input.name, 50);
    if input.description.chars().count() > 200 {
        v.add("description", "描述不能超过200个字符");
    }
    if !matches!(input.data_scope.as_str(), "subtree" | "subtree_dept") {
        v.add("data_scope", "数据范围须为 subtree 或 subtree_dept");
    }
    if let Some(p) = input.permissions.iter().find(|p| !is_known(p)) {
        v.add("permissions", format!("未知权限 {p}"));
    }
    v.finish()?;
    check_duties(&input.permissions)
}

impl Iam {
    /// Creates missing built-in roles and keeps their permissions equal to the code's definition.
    pub async fn ensure_builtin_roles(&self) -> IamResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        for r in BUILTIN_ROLES {
            let existing = sqlx::query("SELECT id FROM roles WHERE code = $1").bind(r.code).fetch_optional(&mut *tx).await?;
            let id: i64 = match existing {
                Some(row) => {
                    let id: i64 = row.try_get(0)?;
                    sqlx::query(
                        "UPDATE roles SET name = $1, description = $2, data_scope = $3, builtin = 1, require_mfa = $5 WHERE id = $4",
                    )
                    .bind(r.name)
                    .bind(r.description)
                    .bind(r.data_scope)
                    .bind(id)
                    .bind(i64::from(r.require_mfa && self.policy().mfa_for_admins))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *tx).await?;
                    id
                }
                None => sqlx::query(
                    "INSERT INTO roles (code, name, description, builtin, data_scope, created_at, updated_at, require_mfa) \
                     VALUES ($1, $2, $3, 1, $4, $5, $5, $6) RETURNING id",
                )
                .bind(r.code)
                .bind(r.name)
                .bind(r.description)
                .bind(r.data_scope)
                .bind(now)
                .bind(i64::from(r.require_mfa && self.policy().mfa_for_admins))
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?,
            };
            for p in r.permissions {
                sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
                    .bind(id)
                    .bind(*p)
                    .execute(&mut *tx)
                    .await?;
            }
            self.refresh_role_mac(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_roles(&self, filter: Option<i64>, page: Option<&PageQuery>) -> IamResult<(Vec<Role>, i64)> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM roles").fetch_one(self.db.pool()).await?.try_get(0)?;
        let mut q = SqlBuf::new(
            "SELECT r.id, r.code, r.name, r.description, r.builtin, r.data_scope, r.require_mfa, \
             (SELECT COUNT(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id WHERE ur.role_id = r.id AND u.status <> 'disabled') \
             FROM roles r WHERE 1=1",
        );
        if let Some(id) = filter {
            q.push(" AND r.id = ").bind(id);
        }
        q.push(" ORDER BY r.builtin DESC, r.id");
        if let Some(p) = page {
            let (limit, offset) = p.limit_offset();
            q.push(" LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        }
        let mut roles = Vec::new();
        for row in q.query().fetch_all(self.db.pool()).await? {
            roles.push(Role {
                id: row.try_get(0)?,
                code: row.try_get(1)?,
                name: row.try_get(2)?,
                description: row.try_get(3)?,
                builtin: row.try_get::<i64, _>(4)? != 0,
                data_scope: row.try_get(5)?,
                require_mfa: row.try_get::<i64, _>(6)? != 0,
                permissions: Vec::new(),
                user_count: row.try_get(7)?,
            });
        }
        if !roles.is_empty() {
            let mut pq = SqlBuf::new("SELECT role_id, permission FROM role_permissions WHERE role_id IN (");
            pq.bind_list(roles.iter().map(|r| r.id));
            pq.push(") ORDER BY permission");
            let mut map: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            for row in pq.query().fetch_all(self.db.pool()).await? {
                map.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
            }
            for r in roles.iter_mut() {
                r.permissions = map.remove(&r.id).unwrap_or_default();
            }
        }
        Ok((roles, total))
    }

    pub async fn list_roles(&self, page: &PageQuery) -> IamResult<Page<Role>> {
        let (items, total) = self.load_roles(None, Some(page)).await?;
        Ok(Page::new(items, total, page))
    }

    pub async fn role(&self, id: i64) -> IamResult<Role> {
        let (mut items, _) = self.load_roles(Some(id), None).await?;
        items.pop().ok_or(IamError::not_found("角色", "role.not_found"))
    }

    pub async fn create_role(&self, ctx: &AuditCtx, input: &RoleInput) -> IamResult<Role> {
        validate(input)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO roles (code, name, description, builtin, data_scope, created_at, updated_at, require_mfa) VALUES ($1, $2, $3, 0, $4, $5, $5, $6) RETURNING id",
        )
        .bind(input.code.trim())
        .bind(input.name.trim())
        .bind(input.description.trim())
        .bind(&input.data_scope)
        .bind(now)
        .bind(i64::from(input.require_mfa))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { IamError::conflict("role.exists", "角色编码已存在") } else { IamError::Db(e) })?
        .try_get(0)?;
        let mut perms = input.permissions.clone();
        perms.sort();
        perms.dedup();
        for p in &perms {
            sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)").bind(id).bind(p).execute(&mut *tx).await?;
        }
        self.refresh_role_mac(&mut tx, id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::success("role.create", format!("#{id} {}", input.code.trim())).with_detail(format!("权限: {}", perms.join(","))),
        )
        .await?;
        tx.commit().await?;
        self.role(id).await
    }

    pub async fn update_role(&self, ctx: &AuditCtx, id: i64, input: &RoleInput) -> IamResult<Role> {
        validate(input)?;
        let old = self.role(id).await?;
        if old.builtin {
            return Err(IamError::conflict("role.builtin", "内置角色不能修改，请新建角色"));
        }
        let mut tx = self.db.begin().await?;
        // Holders of this role must not end up spanning two separated duties through their other roles.
        let holders = sqlx::query("SELECT user_id FROM user_roles WHERE role_id = $1").bind(id).fetch_all(&mut *tx).await?;
        for h in holders {
            let uid: i64 = h.try_get(0)?;
            let mut perms = input.permissions.clone();
            let rows = sqlx::query("SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_id = $1 AND ur.role_id <> $2")
                .bind(uid)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                perms.push(r.try_get(0)?);
            }
            check_duties(&perms)?;
        }
        sqlx::query(
            "UPDATE roles SET code = $1, name = $2, description = $3, data_scope = $4, updated_at = $5, require_mfa = $7 WHERE id = $6",
        )
        .bind(input.code.trim())
        .bind(input.name.trim())
        .bind(input.description.trim())
        .bind(&input.data_scope)
        .bind(self.now())
        .bind(id)
        .bind(i64::from(input.require_mfa))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                IamError::conflict("role.exists", "角色编码已存在")
            } else {
                IamError::Db(e)
            }
        })?;
        sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *tx).await?;
        let mut perms = input.permissions.clone();
        perms.sort();
        perms.dedup();
        for p in &perms {
            sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)").bind(id).bind(p).execute(&mut *tx).await?;
        }
        self.refresh_role_mac(&mut tx, id).await?;
        let detail =
            format!("权限: {} → {}; 数据范围: {} → {}", old.permissions.join(","), perms.join(","), old.data_scope, input.data_scope);
        self.audit(&mut tx, ctx, AuditEvent::success("role.update", format!("#{id} {}", old.code)).with_detail(detail)).await?;
        tx.commit().await?;
        self.role(id).await
    }

    pub async fn delete_role(&self, ctx: &AuditCtx, id: i64) -> IamResult<()> {
        let old = self.role(id).await?;
        if old.builtin {
            return Err(IamError::conflict("role.builtin", "内置角色不能删除"));
        }
        let mut tx = self.db.begin().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM user_roles WHERE role_id = $1").bind(id).fetch_one(&mut *tx).await?.try_get(0)?;
        if n > 0 {
            return Err(IamError::conflict("role.in_use", format!("仍有{n}个用户拥有该角色，请先取消授权")));
        }
        sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM roles WHERE id = $1").bind(id).execute(&mut *tx).await?;
        self.audit(&mut tx, ctx, AuditEvent::success("role.delete", format!("#{id} {}", old.code))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants exactly `roles` to a user. The grantor cannot change their own roles, cannot reach
    /// users outside their scope, and cannot give a scope wider than their own.
    pub async fn grant_roles(&self, actor: &Principal, ctx: &AuditCtx, user_id: i64, input: &GrantInput) -> IamResult<User> {
        if actor.user_id == user_id {
            return Err(IamError::conflict("user.self", "不能修改自己的角色"));
        }
        let target = self.user_by_scope(&actor.scope, user_id).await?;
        if target.status == "disabled" {
            return Err(IamError::conflict("user.disabled", "该账户已停用"));
        }
        let mut codes = input.roles.clone();
        codes.sort();
        codes.dedup();
        // The scope the target would get: department-only if every granted role says so.
        let mut dept_only = !codes.is_empty();
        for c in &codes {
            let row = sqlx::query("SELECT data_scope FROM roles WHERE code = $1").bind(c).fetch_optional(self.db.pool()).await?;
            match row {
                Some(r) => {
                    let s: String = r.try_get(0)?;
                    dept_only &= s == "subtree_dept";
                }
                None => return Err(IamError::field("roles", format!("角色 {c} 不存在"))),
            }
        }
        let region = RegionCode::parse(&target.region_code).map_err(|e| IamError::Internal(e.to_string()))?;
        let target_scope = DataScope { region, department_id: if dept_only { target.department_id } else { None }, clearance: None };
        if !actor.scope.covers(&target_scope) {
            return Err(IamError::OutOfScope);
        }
        let mut tx = self.db.begin().await?;
        self.replace_roles(&mut tx, ctx, user_id, &target.username, &codes).await?;
        tx.commit().await?;
        self.user_by_scope(&actor.scope, user_id).await
    }

    pub(crate) async fn user_by_scope(&self, scope: &DataScope, id: i64) -> IamResult<User> {
        // An unaudited internal read: grants are audited as grants.
        self.user_unaudited(scope, id).await
    }
}
