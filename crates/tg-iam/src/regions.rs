//! The region hierarchy (行政区划): 市 → 县(市、区) → 镇(街道) → 村(社区) → 组(网格).
//!
//! Official nodes (down to villages) come from the deployment pack and are read-only here; groups and
//! grids below villages are created by administrators (or by the demo seed).

use crate::audit::{AuditCtx, AuditEvent};
use crate::error::{IamError, IamResult};
use crate::service::{Iam, Principal};
use serde::Serialize;
use sqlx::Row;
use tg_db::SqlBuf;
use tg_kernel::{Page, PageQuery, RegionCode, RegionLevel, ValidationErrors};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub level: RegionLevel,
    pub parent_code: Option<String>,
    pub has_children: bool,
    pub is_demo: bool,
}

const SELECT: &str = "SELECT r.code, r.name, r.short_name, r.level, r.parent_code, \
    CASE WHEN EXISTS (SELECT 1 FROM regions c WHERE c.parent_code = r.code) THEN 1 ELSE 0 END, r.is_demo \
    FROM regions r";

fn from_row(row: &tg_db::Row) -> Result<Region, sqlx::Error> {
    let level: String = row.try_get(3)?;
    Ok(Region {
        code: row.try_get(0)?,
        name: row.try_get(1)?,
        short_name: row.try_get(2)?,
        level: RegionLevel::parse(&level).unwrap_or(RegionLevel::Group),
        parent_code: row.try_get(4)?,
        has_children: row.try_get::<i64, _>(5)? != 0,
        is_demo: row.try_get::<i64, _>(6)? != 0,
    })
}

/// The short display name: `牧羊村民委员会` → `牧羊村`, `星岩社区居民委员会` → `星岩社区`.
pub fn short_name(name: &str) -> String {
    if let Some(s) = name.strip_suffix("村民委员会") {
        format!("{s}村")
    } else if let Some(s) = name.strip_suffix("居民委员会") {
        if s.ends_with("社区") {
            s.to_owned()
        } else {
            format!("{s}社区")
        }
    } else {
        name.to_owned()
    }
}

/// One row of the pack's `regions.csv` (`code,name,level,parent_code`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RegionCsvRow {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: String,
}

/// Parses and checks the pack's region table: codes well-formed, levels matching code lengths,
/// parents present and one level up. Returns every problem, row by row.
pub fn parse_region_csv(text: &str) -> Result<Vec<(RegionCode, String, RegionLevel)>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    for (i, rec) in rdr.deserialize::<RegionCsvRow>().enumerate() {
        let line = i + 2;
        let row = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("第{line}行: 无法解析 ({e})"));
                continue;
            }
        };
        let code = match RegionCode::parse(&row.code) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("第{line}行: {e}"));
                continue;
            }
        };
        if RegionLevel::parse(&row.level) != Some(code.level()) {
            errors.push(format!("第{line}行: 层级 {} 与代码 {} 不符", row.level, code));
        }
        let expected_parent = code.parent().map(|p| p.to_string()).unwrap_or_default();
        if row.parent_code.trim() != expected_parent {
            errors.push(format!("第{line}行: 上级代码 {} 应为 {}", row.parent_code, expected_parent));
        } else if !expected_parent.is_empty() && !seen.contains(&expected_parent) {
            errors.push(format!("第{line}行: 上级 {expected_parent} 未在此行之前出现"));
        }
        if row.name.trim().is_empty() {
            errors.push(format!("第{line}行: 名称为空"));
        }
        if !seen.insert(code.to_string()) {
            errors.push(format!("第{line}行: 代码 {code} 重复"));
        }
        out.push((code.clone(), row.name.trim().to_owned(), code.level()));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

impl Iam {
    /// Loads (or refreshes the names of) the official regions from the pack. Idempotent.
    pub async fn load_regions(&self, csv_text: &str) -> IamResult<usize> {
        let rows = parse_region_csv(csv_text).map_err(|errs| IamError::Internal(errs.join("; ")))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        for (i, (code, name, level)) in rows.iter().enumerate() {
            sqlx::query(
                "INSERT INTO regions (code, name, short_name, level, parent_code, sort, is_demo, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, short_name = excluded.short_name",
            )
            .bind(code.as_str())
            .bind(name.as_str())
            .bind(short_name(name))
            .bind(level.as_str())
            .bind(code.parent().map(|p| p.to_string()))
            .bind(i as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Any node, without a scope check (internal use: principals, breadcrumbs, validation).
    pub async fn region_raw(&self, code: &RegionCode) -> IamResult<Option<Region>> {
        let mut q = SqlBuf::new(SELECT);
        q.push(" WHERE r.code = ").bind(code.as_str());
        let row = q.query().fetch_optional(self.db.pool()).await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    fn check_scope(actor: &Principal, code: &RegionCode) -> IamResult<()> {
        if actor.scope.contains_region(code) {
            Ok(())
        } else {
            Err(IamError::not_found("行政区划", "region.not_found"))
        }
    }

    pub async fn region(&self, actor: &Principal, code: &RegionCode) -> IamResult<Region> {
        Self::check_scope(actor, code)?;
        self.region_raw(code).await?.ok_or(IamError::not_found("行政区划", "region.not_found"))
    }

    pub async fn region_children(&self, actor: &Principal, code: &RegionCode, page: &PageQuery) -> IamResult<Page<Region>> {
        self.region(actor, code).await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM regions WHERE parent_code = $1")
            .bind(code.as_str())
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)?;
        let size = page.page_size_or(200);
        let (limit, offset) = page.limit_offset_with(size);
        let mut q = SqlBuf::new(SELECT);
        q.push(" WHERE r.parent_code = ").bind(code.as_str());
        q.push(" ORDER BY r.code LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let items = q.query().fetch_all(self.db.pool()).await?.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total, page: page.page(), page_size: size, capped: false })
    }

    /// Root → node. The node must be in scope; its ancestors are shown for orientation.
    pub async fn region_ancestors(&self, actor: &Principal, code: &RegionCode) -> IamResult<Vec<Region>> {
        self.region(actor, code).await?;
        let mut q = SqlBuf::new(SELECT);
        q.push(" WHERE r.code IN (");
        q.bind_list(code.lineage().iter().map(|c| c.as_str()));
        q.push(") ORDER BY LENGTH(r.code), r.code");
        Ok(q.query().fetch_all(self.db.pool()).await?.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    pub async fn region_subtree(
        &self,
        actor: &Principal,
        code: &RegionCode,
        level: Option<RegionLevel>,
        page: &PageQuery,
    ) -> IamResult<Page<Region>> {
        self.region(actor, code).await?;
        let (lo, hi) = code.subtree_bounds();
        let filter = |q: &mut SqlBuf| {
            q.push(" WHERE r.code >= ").bind(lo.as_str()).push(" AND r.code < ").bind(hi.as_str());
            q.push(" AND r.code <> ").bind(code.as_str());
            if let Some(l) = level {
                q.push(" AND r.level = ").bind(l.as_str());
            }
        };
        self.region_page(filter, " ORDER BY r.code LIMIT ", page).await
    }

    /// Search by name, short name or code prefix within the caller's scope.
    pub async fn region_search(
        &self,
        actor: &Principal,
        text: &str,
        level: Option<RegionLevel>,
        page: &PageQuery,
    ) -> IamResult<Page<Region>> {
        let (lo, hi) = actor.scope.bounds();
        let text = text.trim();
        let filter = |q: &mut SqlBuf| {
            q.push(" WHERE r.code >= ").bind(lo.as_str()).push(" AND r.code < ").bind(hi.as_str());
            if !text.is_empty() {
                let like = SqlBuf::like_contains(text);
                q.push(" AND (r.name LIKE ").bind(like.as_str()).push(" ESCAPE '\\' OR r.short_name LIKE ");
                q.bind(like.as_str()).push(" ESCAPE '\\'");
                if text.bytes().all(|b| b.is_ascii_digit()) {
                    q.push(" OR (r.code >= ").bind(text).push(" AND r.code < ").bind(format!("{text}:")).push(")");
                }
                q.push(")");
            }
            if let Some(l) = level {
                q.push(" AND r.level = ").bind(l.as_str());
            }
        };
        self.region_page(filter, " ORDER BY LENGTH(r.code), r.code LIMIT ", page).await
    }

    /// Counts and pages regions matching `filter` (which starts the WHERE clause).
    async fn region_page(&self, filter: impl Fn(&mut SqlBuf), order_limit: &'static str, page: &PageQuery) -> IamResult<Page<Region>> {
        let mut c = SqlBuf::new("SELECT COUNT(*) FROM regions r");
        filter(&mut c);
        let total: i64 = c.query().fetch_one(self.db.pool()).await?.try_get(0)?;
        let (limit, offset) = page.limit_offset();
        let mut q = SqlBuf::new(SELECT);
        filter(&mut q);
        q.push(order_limit).bind(limit).push(" OFFSET ").bind(offset);
        let items = q.query().fetch_all(self.db.pool()).await?.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok(Page::new(items, total, page))
    }

    /// Creates a 组/网格 under a village, numbered with the next free 3-digit sequence.
    pub async fn create_group(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        parent: &RegionCode,
        name: &str,
        is_demo: bool,
    ) -> IamResult<Region> {
        let mut v = ValidationErrors::new();
        v.text("name", "名称", name, 50);
        v.finish()?;
        if !actor.scope.contains_region(parent) {
            return Err(IamError::OutOfScope);
        }
        let code = self.insert_group(ctx, parent, name.trim(), is_demo).await?;
        self.region_raw(&code).await?.ok_or(IamError::Internal("group vanished".into()))
    }

    /// Inserts a group without a scope check (the demo seed and the checked path above).
    pub async fn insert_group(&self, ctx: &AuditCtx, parent: &RegionCode, name: &str, is_demo: bool) -> IamResult<RegionCode> {
        if parent.level() != RegionLevel::Village {
            return Err(IamError::field("parent_code", "组(网格)只能建在村(社区)之下"));
        }
        let mut tx = self.db.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM regions WHERE code = $1").bind(parent.as_str()).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(IamError::field("parent_code", "上级村(社区)不存在"));
        }
        let dup = sqlx::query("SELECT 1 FROM regions WHERE parent_code = $1 AND name = $2")
            .bind(parent.as_str())
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if dup.is_some() {
            return Err(IamError::conflict("region.exists", format!("该村(社区)下已有名为“{name}”的组(网格)")));
        }
        let max: Option<String> = sqlx::query("SELECT MAX(code) FROM regions WHERE parent_code = $1")
            .bind(parent.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let next = max.and_then(|m| m.get(12..).and_then(|s| s.parse::<u32>().ok())).unwrap_or(0) + 1;
        if next > 999 {
            return Err(IamError::conflict("region.full", "该村(社区)下的组(网格)已达上限 999 个"));
        }
        let code = RegionCode::parse(&format!("{parent}{next:03}")).map_err(|e| IamError::Internal(e.to_string()))?;
        sqlx::query(
            "INSERT INTO regions (code, name, short_name, level, parent_code, sort, is_demo, created_at) \
             VALUES ($1, $2, $2, 'group', $3, $4, $5, $6)",
        )
        .bind(code.as_str())
        .bind(name)
        .bind(parent.as_str())
        .bind(i64::from(next))
        .bind(i64::from(is_demo))
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        self.audit(&mut tx, ctx, AuditEvent::success("region.create", format!("{code} {name}"))).await?;
        tx.commit().await?;
        Ok(code)
    }

    pub async fn rename_group(&self, actor: &Principal, ctx: &AuditCtx, code: &RegionCode, name: &str) -> IamResult<Region> {
        let mut v = ValidationErrors::new();
        v.text("name", "名称", name, 50);
        v.finish()?;
        let old = self.region(actor, code).await?;
        if old.level != RegionLevel::Group {
            return Err(IamError::conflict("region.official", "官方行政区划由区划数据包维护，不能在此修改"));
        }
        let name = name.trim();
        let mut tx = self.db.begin().await?;
        let dup = sqlx::query("SELECT 1 FROM regions WHERE parent_code = $1 AND name = $2 AND code <> $3")
            .bind(old.parent_code.as_deref())
            .bind(name)
            .bind(code.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if dup.is_some() {
            return Err(IamError::conflict("region.exists", format!("该村(社区)下已有名为“{name}”的组(网格)")));
        }
        sqlx::query("UPDATE regions SET name = $1, short_name = $1 WHERE code = $2")
            .bind(name)
            .bind(code.as_str())
            .execute(&mut *tx)
            .await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::success("region.update", format!("{code} {}", old.name)).with_detail(format!("名称: {} → {name}", old.name)),
        )
        .await?;
        tx.commit().await?;
        self.region_raw(code).await?.ok_or(IamError::not_found("行政区划", "region.not_found"))
    }

    pub async fn delete_group(&self, actor: &Principal, ctx: &AuditCtx, code: &RegionCode) -> IamResult<()> {
        let old = self.region(actor, code).await?;
        if old.level != RegionLevel::Group {
            return Err(IamError::conflict("region.official", "官方行政区划由区划数据包维护，不能在此删除"));
        }
        let mut tx = self.db.begin().await?;
        let used: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM users WHERE region_code = $1) + (SELECT COUNT(*) FROM departments WHERE region_code = $1)",
        )
        .bind(code.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if used > 0 {
            return Err(IamError::conflict("region.in_use", "该组(网格)下仍有用户或部门，不能删除"));
        }
        sqlx::query("DELETE FROM regions WHERE code = $1").bind(code.as_str()).execute(&mut *tx).await.map_err(|e| {
            if tg_db::is_foreign_key_violation(&e) {
                IamError::conflict("region.in_use", "该组(网格)仍被其他数据引用（如地图要素、边界），不能删除")
            } else {
                IamError::Db(e)
            }
        })?;
        self.audit(&mut tx, ctx, AuditEvent::success("region.delete", format!("{code} {}", old.name))).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Iam {
    /// Inserts many groups in one transaction with one audit row (the demo seed). Skips existing codes.
    pub async fn insert_groups_bulk(&self, ctx: &AuditCtx, groups: &[(RegionCode, String)], is_demo: bool) -> IamResult<usize> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut n = 0;
        for (code, name) in groups {
            if code.level() != RegionLevel::Group {
                return Err(IamError::Internal(format!("{code} is not a group code")));
            }
            let seq: i64 = code.as_str()[12..].parse().unwrap_or(0);
            let r = sqlx::query(
                "INSERT INTO regions (code, name, short_name, level, parent_code, sort, is_demo, created_at) \
                 VALUES ($1, $2, $2, 'group', $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
            )
            .bind(code.as_str())
            .bind(name.as_str())
            .bind(code.parent().map(|p| p.to_string()))
            .bind(seq)
            .bind(i64::from(is_demo))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            n += r.rows_affected() as usize;
        }
        self.audit(&mut tx, ctx, AuditEvent::success("region.create_bulk", format!("{n} 个组(网格)"))).await?;
        tx.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name("牧羊村民委员会"), "牧羊村");
        assert_eq!(short_name("星岩社区居民委员会"), "星岩社区");
        assert_eq!(short_name("城北居民委员会"), "城北社区");
        assert_eq!(short_name("云城街道"), "云城街道");
    }

    #[test]
    fn csv_checks_report_each_row() {
        let ok = "code,name,level,parent_code\n445300,云浮市,city,\n445302,云城区,county,445300\n";
        assert_eq!(parse_region_csv(ok).unwrap().len(), 2);
        let bad = "code,name,level,parent_code\n445300,云浮市,city,\n445302,云城区,town,445300\n445302001,x,town,445303\nabc,y,town,\n";
        let errs = parse_region_csv(bad).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("第3行"));
    }
}
