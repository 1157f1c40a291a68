//! Departments (部门/行局): the organisations users work in, each seated at a region.

use crate::audit::{AuditCtx, AuditEvent};
use crate::error::{IamError, IamResult};
use crate::service::{Iam, Principal};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tg_db::{is_unique_violation, SqlBuf};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{DataScope, Page, PageQuery, RegionCode, ValidationErrors};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub region_code: String,
    pub region_name: String,
    pub user_count: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    /// Unique department code, e.g. `YF-STHJ` (letters, digits, `-`, `_`).
    pub code: String,
    pub name: String,
    pub region_code: String,
}

#[derive(Debug, Clone, Default)]
pub struct DepartmentFilter {
    pub q: Option<String>,
    pub region_code: Option<RegionCode>,
}

const SELECT: &str = "SELECT d.id, d.code, d.name, d.region_code, r.name, \
    (SELECT COUNT(*) FROM users u WHERE u.department_id = d.id AND u.status <> 'disabled'), d.created_at \
    FROM departments d JOIN regions r ON r.code = d.region_code";

fn from_row(row: &tg_db::Row) -> Result<Department, sqlx::Error> {
    Ok(Department {
        id: row.try_get(0)?,
        code: row.try_get(1)?,
        name: row.try_get(2)?,
        region_code: row.try_get(3)?,
        region_name: row.try_get(4)?,
        user_count: row.try_get(5)?,
        created_at: to_rfc3339(row.try_get(6)?),
    })
}

fn apply_scope(q: &mut SqlBuf, scope: &DataScope) {
    let (lo, hi) = scope.bounds();
    q.push(" AND d.region_code >= ").bind(lo).push(" AND d.region_code < ").bind(hi);
    if let Some(d) = scope.department_id {
        q.push(" AND d.id = ").bind(d);
    }
}

fn dept_conflict(e: sqlx::Error) -> IamError {
    if is_unique_violation(&e) {
        IamError::conflict("dept.exists", "部门编码已存在，或该区划下已有同名部门")
    } else {
        IamError::Db(e)
    }
}

fn validate(input: &DepartmentInput) -> Result<RegionCode, IamError> {
    let mut v = ValidationErrors::new();
    let code = input.code.trim();
    if code.len() < 2 || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        v.add("code", "部门编码须为2-32位字母、数字、“-”或“_”");
    }
    v.text("name", "部门名称", &input.name, 50);
    let region = RegionCode::parse(&input.region_code);
    if region.is_err() {
        v.add("region_code", "行政区划代码格式不正确");
    }
    v.finish()?;
    region.map_err(|e| IamError::field("region_code", e.to_string()))
}

impl Iam {
    pub async fn list_departments(&self, actor: &Principal, f: &DepartmentFilter, page: &PageQuery) -> IamResult<Page<Department>> {
        let narrowed = actor.scope.narrow(f.region_code.as_ref()).ok_or(IamError::OutOfScope)?;
        let filter = |q: &mut SqlBuf| {
            apply_scope(q, &actor.scope);
            let (lo, hi) = narrowed.subtree_bounds();
            q.push(" AND d.region_code >= ").bind(lo).push(" AND d.region_code < ").bind(hi);
            if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                let like = SqlBuf::like_contains(text);
                q.push(" AND (d.name LIKE ")
                    .bind(like.as_str())
                    .push(" ESCAPE '\\' OR d.code LIKE ")
                    .bind(like.as_str())
                    .push(" ESCAPE '\\')");
            }
        };
        let mut c = SqlBuf::new("SELECT COUNT(*) FROM departments d WHERE 1=1");
        filter(&mut c);
        let total: i64 = c.query().fetch_one(self.db.pool()).await?.try_get(0)?;
        let (limit, offset) = page.limit_offset();
        let mut q = SqlBuf::new(SELECT);
        q.push(" WHERE 1=1");
        filter(&mut q);
        q.push(" ORDER BY d.region_code, d.sort, d.id LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let items = q.query().fetch_all(self.db.pool()).await?.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok(Page::new(items, total, page))
    }

    pub async fn department(&self, actor: &Principal, id: i64) -> IamResult<Department> {
        let mut q = SqlBuf::new(SELECT);
        q.push(" WHERE d.id = ").bind(id);
        apply_scope(&mut q, &actor.scope);
        let row = q.query().fetch_optional(self.db.pool()).await?;
        row.as_ref().map(from_row).transpose()?.ok_or(IamError::not_found("部门", "dept.not_found"))
    }

    async fn check_dept_region(&self, actor: &Principal, region: &RegionCode) -> IamResult<()> {
        if !actor.scope.contains_region(region) {
            return Err(IamError::OutOfScope);
        }
        if self.region_raw(region).await?.is_none() {
            return Err(IamError::field("region_code", "行政区划不存在"));
        }
        Ok(())
    }

    pub async fn create_department(&self, actor: &Principal, ctx: &AuditCtx, input: &DepartmentInput) -> IamResult<Department> {
        let region = validate(input)?;
        if actor.scope.department_id.is_some() {
            return Err(IamError::OutOfScope);
        }
        self.check_dept_region(actor, &region).await?;
        let id = self.insert_department(ctx, input.code.trim(), input.name.trim(), &region, false).await?;
        self.department(actor, id).await
    }

    /// Inserts without a scope check (used by the checked path above and by the demo seed).
    pub async fn insert_department(&self, ctx: &AuditCtx, code: &str, name: &str, region: &RegionCode, is_demo: bool) -> IamResult<i64> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(
            "INSERT INTO departments (code, name, region_code, sort, is_demo, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $5, $5) RETURNING id",
        )
        .bind(code)
        .bind(name)
        .bind(region.as_str())
        .bind(i64::from(is_demo))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(dept_conflict)?;
        let id: i64 = row.try_get(0)?;
        self.audit(&mut tx, ctx, AuditEvent::success("dept.create", format!("#{id} {name}"))).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn update_department(&self, actor: &Principal, ctx: &AuditCtx, id: i64, input: &DepartmentInput) -> IamResult<Department> {
        let region = validate(input)?;
        let old = self.department(actor, id).await?;
        self.check_dept_region(actor, &region).await?;
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE departments SET code = $1, name = $2, region_code = $3, updated_at = $4 WHERE id = $5")
            .bind(input.code.trim())
            .bind(input.name.trim())
            .bind(region.as_str())
            .bind(self.now())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(dept_conflict)?;
        let detail = format!(
            "编码: {} → {}; 名称: {} → {}; 区划: {} → {}",
            old.code,
            input.code.trim(),
            old.name,
            input.name.trim(),
            old.region_code,
            region
        );
        self.audit(&mut tx, ctx, AuditEvent::success("dept.update", format!("#{id} {}", old.name)).with_detail(detail)).await?;
        tx.commit().await?;
        self.department(actor, id).await
    }

    pub async fn delete_department(&self, actor: &Principal, ctx: &AuditCtx, id: i64) -> IamResult<()> {
        let old = self.department(actor, id).await?;
        let mut tx = self.db.begin().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE department_id = $1").bind(id).fetch_one(&mut *tx).await?.try_get(0)?;
        if n > 0 {
            return Err(IamError::conflict("dept.in_use", format!("该部门下还有{n}个用户（含已停用），不能删除")));
        }
        sqlx::query("DELETE FROM departments WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(|e| {
            if tg_db::is_foreign_key_violation(&e) {
                IamError::conflict("dept.in_use", "该部门仍被其他数据引用（如地图图层的所属部门），不能删除")
            } else {
                IamError::Db(e)
            }
        })?;
        self.audit(&mut tx, ctx, AuditEvent::success("dept.delete", format!("#{id} {}", old.name))).await?;
        tx.commit().await?;
        Ok(())
    }
}
