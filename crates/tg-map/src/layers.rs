//! The layer registry (图层管理): name, geometry type, attribute schema, style, owner region and
//! department, and the roles that may see it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use tg_db::{is_unique_violation, SqlBuf};
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{Page, PageQuery, RegionCode, ValidationErrors};
use utoipa::ToSchema;

use crate::MapService;

/// One attribute of a layer's features.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttrDef {
    /// Property key (letters, digits, `_`).
    pub name: String,
    /// Label shown to users.
    pub label: String,
    /// `text`, `number`, `integer`, `bool` or `date` (YYYY-MM-DD).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Layer {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `point`, `line` or `polygon`.
    pub geometry_type: String,
    pub description: String,
    pub attr_schema: Vec<AttrDef>,
    /// Drawing style for the map (colour, icon, component), free-form JSON.
    #[schema(value_type = Object)]
    pub style: Value,
    pub region_code: String,
    pub region_name: String,
    pub department_id: Option<i64>,
    /// Role codes that may see the layer; empty = everyone with map access in scope.
    pub visible_roles: Vec<String>,
    pub is_demo: bool,
    /// Optimistic-lock version: send it back when updating.
    pub version: i64,
    pub feature_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerInput {
    /// Unique code, e.g. `demo_events` (letters, digits, `_`, `-`).
    pub code: String,
    pub name: String,
    pub geometry_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub attr_schema: Vec<AttrDef>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub style: Value,
    /// Owner region; defaults to the user's region.
    pub region_code: Option<String>,
    pub department_id: Option<i64>,
    #[serde(default)]
    pub visible_roles: Vec<String>,
    /// Required on update: the version the edit started from.
    pub version: Option<i64>,
}

const SELECT: &str = "SELECT l.id, l.code, l.name, l.geometry_type, l.description, l.attr_schema, l.style, l.region_code, \
    r.name, l.department_id, l.visible_roles, l.is_demo, l.version, \
    (SELECT COUNT(*) FROM map_features f WHERE f.layer_id = l.id), l.created_at, l.updated_at \
    FROM map_layers l JOIN regions r ON r.code = l.region_code";

fn from_row(row: &tg_db::Row) -> Result<Layer, sqlx::Error> {
    let attr: String = row.try_get(5)?;
    let style: String = row.try_get(6)?;
    let roles: String = row.try_get(10)?;
    Ok(Layer {
        id: row.try_get(0)?,
        code: row.try_get(1)?,
        name: row.try_get(2)?,
        geometry_type: row.try_get(3)?,
        description: row.try_get(4)?,
        attr_schema: serde_json::from_str(&attr).unwrap_or_default(),
        style: serde_json::from_str(&style).unwrap_or(Value::Null),
        region_code: row.try_get(7)?,
        region_name: row.try_get(8)?,
        department_id: row.try_get(9)?,
        visible_roles: serde_json::from_str(&roles).unwrap_or_default(),
        is_demo: row.try_get::<i64, _>(11)? != 0,
        version: row.try_get(12)?,
        feature_count: row.try_get(13)?,
        created_at: to_rfc3339(row.try_get(14)?),
        updated_at: to_rfc3339(row.try_get(15)?),
    })
}

/// Whether the user may see the layer (region on one line of the hierarchy, role if listed).
pub(crate) fn visible(actor: &Principal, layer: &Layer) -> bool {
    let Ok(region) = RegionCode::parse(&layer.region_code) else { return false };
    let on_line = actor.scope.region.contains(&region) || region.contains(&actor.scope.region);
    let role_ok = layer.visible_roles.is_empty() || actor.roles.iter().any(|r| layer.visible_roles.contains(&r.code));
    on_line && role_ok
}

fn conflict(e: sqlx::Error) -> IamError {
    if is_unique_violation(&e) {
        IamError::conflict("map.layer_exists", "图层编码已存在")
    } else {
        IamError::Db(e)
    }
}

const KINDS: &[&str] = &["text", "number", "integer", "bool", "date"];

fn validate(actor: &Principal, input: &LayerInput) -> IamResult<RegionCode> {
    let mut v = ValidationErrors::new();
    let code = input.code.trim();
    if code.len() < 2 || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        v.add("code", "图层编码须为2-64位字母、数字、“_”或“-”");
    }
    v.text("name", "图层名称", &input.name, 50);
    if !["point", "line", "polygon"].contains(&input.geometry_type.as_str()) {
        v.add("geometry_type", "几何类型须为 point、line 或 polygon");
    }
    if input.description.chars().count() > 500 {
        v.add("description", "说明不能超过500字");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, a) in input.attr_schema.iter().enumerate() {
        if a.name.is_empty() || a.name.len() > 40 || !a.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            v.add(&format!("attr_schema[{i}].name"), "属性名须为1-40位字母、数字或“_”");
        }
        if !seen.insert(a.name.clone()) {
            v.add(&format!("attr_schema[{i}].name"), "属性名重复");
        }
        if a.label.trim().is_empty() || a.label.chars().count() > 40 {
            v.add(&format!("attr_schema[{i}].label"), "属性显示名须为1-40个字");
        }
        if !KINDS.contains(&a.kind.as_str()) {
            v.add(&format!("attr_schema[{i}].type"), "属性类型须为 text、number、integer、bool 或 date");
        }
    }
    if input.attr_schema.len() > 100 {
        v.add("attr_schema", "属性不能超过100个");
    }
    if !(input.style.is_object() || input.style.is_null()) || input.style.to_string().len() > 8000 {
        v.add("style", "样式须为不超过8000字节的 JSON 对象");
    }
    if input.visible_roles.len() > 50 || input.visible_roles.iter().any(|r| r.is_empty() || r.len() > 64) {
        v.add("visible_roles", "可见角色列表不正确");
    }
    let region = match input.region_code.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(actor.scope.region.clone()),
        Some(c) => RegionCode::parse(c),
    };
    if region.is_err() {
        v.add("region_code", "行政区划代码格式不正确");
    }
    v.finish()?;
    let region = region.map_err(|e| IamError::field("region_code", e.to_string()))?;
    if !actor.scope.contains_region(&region) {
        return Err(IamError::OutOfScope);
    }
    Ok(region)
}

impl MapService {
    /// Layers the user may see (paged), optionally filtered by name or code.
    pub async fn list_layers(&self, actor: &Principal, q: Option<&str>, page: &PageQuery) -> IamResult<Page<Layer>> {
        let mut sql = SqlBuf::new(SELECT);
        sql.push(" WHERE 1=1");
        if let Some(text) = q.map(str::trim).filter(|s| !s.is_empty()) {
            let like = SqlBuf::like_contains(text);
            sql.push(" AND (l.name LIKE ")
                .bind(like.as_str())
                .push(" ESCAPE '\\' OR l.code LIKE ")
                .bind(like.as_str())
                .push(" ESCAPE '\\')");
        }
        sql.push(" ORDER BY l.id");
        // Visibility depends on the hierarchy and roles; the registry is small, so filter here.
        let all: Vec<Layer> = sql.query().fetch_all(self.iam.db().pool()).await?.iter().map(from_row).collect::<Result<_, _>>()?;
        let visible: Vec<Layer> = all.into_iter().filter(|l| visible(actor, l)).collect();
        let total = visible.len() as i64;
        let (limit, offset) = page.limit_offset();
        let items = visible.into_iter().skip(offset as usize).take(limit as usize).collect();
        Ok(Page::new(items, total, page))
    }

    /// One layer the user may see.
    pub async fn layer(&self, actor: &Principal, id: i64) -> IamResult<Layer> {
        let mut sql = SqlBuf::new(SELECT);
        sql.push(" WHERE l.id = ").bind(id);
        let row = sql.query().fetch_optional(self.iam.db().pool()).await?;
        let layer = row.as_ref().map(from_row).transpose()?.ok_or(IamError::not_found("图层", "map.layer_not_found"))?;
        if !visible(actor, &layer) {
            return Err(IamError::not_found("图层", "map.layer_not_found"));
        }
        Ok(layer)
    }

    /// A layer by code, without scope checks (seed and internal use).
    pub async fn layer_id_by_code(&self, code: &str) -> IamResult<Option<i64>> {
        let row = sqlx::query("SELECT id FROM map_layers WHERE code = $1").bind(code).fetch_optional(self.iam.db().pool()).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn check_department(&self, actor: &Principal, department_id: Option<i64>) -> IamResult<()> {
        if let Some(d) = department_id {
            self.iam.department(actor, d).await.map_err(|e| match e {
                IamError::NotFound { .. } => IamError::field("department_id", "部门不存在或不在您的管辖范围内"),
                other => other,
            })?;
        }
        Ok(())
    }

    pub async fn create_layer(&self, actor: &Principal, ctx: &AuditCtx, input: &LayerInput, is_demo: bool) -> IamResult<Layer> {
        let region = validate(actor, input)?;
        self.check_department(actor, input.department_id).await?;
        let now = self.now();
        let mut tx = self.iam.db().begin().await?;
        let row = sqlx::query(
            "INSERT INTO map_layers (code, name, geometry_type, description, attr_schema, style, region_code, department_id, visible_roles, is_demo, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING id",
        )
        .bind(input.code.trim())
        .bind(input.name.trim())
        .bind(input.geometry_type.as_str())
        .bind(input.description.trim())
        .bind(serde_json::to_string(&input.attr_schema).unwrap_or_else(|_| "[]".into()))
        .bind(if input.style.is_null() { "{}".to_string() } else { input.style.to_string() })
        .bind(region.as_str())
        .bind(input.department_id)
        .bind(serde_json::to_string(&input.visible_roles).unwrap_or_else(|_| "[]".into()))
        .bind(i64::from(is_demo))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict)?;
        let id: i64 = row.try_get(0)?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("map.layer.create", format!("#{id} {}", input.name.trim()))).await?;
        tx.commit().await?;
        self.layer(actor, id).await
    }

    pub async fn update_layer(&self, actor: &Principal, ctx: &AuditCtx, id: i64, input: &LayerInput) -> IamResult<Layer> {
        let region = validate(actor, input)?;
        let old = self.layer(actor, id).await?;
        if !actor.scope.contains_region(&RegionCode::parse(&old.region_code).map_err(|e| IamError::Internal(e.to_string()))?) {
            return Err(IamError::OutOfScope);
        }
        let Some(version) = input.version else {
            return Err(IamError::field("version", "修改时须提供版本号 version"));
        };
        if old.geometry_type != input.geometry_type && old.feature_count > 0 {
            return Err(IamError::field("geometry_type", "图层已有要素，不能修改几何类型"));
        }
        self.check_department(actor, input.department_id).await?;
        let mut tx = self.iam.db().begin().await?;
        let n = sqlx::query(
            "UPDATE map_layers SET code = $1, name = $2, geometry_type = $3, description = $4, attr_schema = $5, style = $6, \
             region_code = $7, department_id = $8, visible_roles = $9, version = version + 1, updated_at = $10 WHERE id = $11 AND version = $12",
        )
        .bind(input.code.trim())
        .bind(input.name.trim())
        .bind(input.geometry_type.as_str())
        .bind(input.description.trim())
        .bind(serde_json::to_string(&input.attr_schema).unwrap_or_else(|_| "[]".into()))
        .bind(if input.style.is_null() { "{}".to_string() } else { input.style.to_string() })
        .bind(region.as_str())
        .bind(input.department_id)
        .bind(serde_json::to_string(&input.visible_roles).unwrap_or_else(|_| "[]".into()))
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        if n.rows_affected() == 0 {
            return Err(IamError::conflict("map.version_conflict", "图层已被他人修改，请刷新后重试"));
        }
        self.iam
            .audit(
                &mut tx,
                ctx,
                AuditEvent::success("map.layer.update", format!("#{id} {}", old.name)).with_detail(format!(
                    "名称: {} → {}",
                    old.name,
                    input.name.trim()
                )),
            )
            .await?;
        tx.commit().await?;
        self.layer(actor, id).await
    }

    /// Deletes a layer and all its features.
    pub async fn delete_layer(&self, actor: &Principal, ctx: &AuditCtx, id: i64) -> IamResult<()> {
        let old = self.layer(actor, id).await?;
        if !actor.scope.contains_region(&RegionCode::parse(&old.region_code).map_err(|e| IamError::Internal(e.to_string()))?) {
            return Err(IamError::OutOfScope);
        }
        let mut tx = self.iam.db().begin().await?;
        sqlx::query("DELETE FROM map_features WHERE layer_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM map_layers WHERE id = $1").bind(id).execute(&mut *tx).await?;
        self.iam
            .audit(
                &mut tx,
                ctx,
                AuditEvent::success("map.layer.delete", format!("#{id} {}", old.name))
                    .with_detail(format!("含要素 {} 个", old.feature_count)),
            )
            .await?;
        tx.commit().await?;
        self.drop_layer_cache(id)?;
        Ok(())
    }
}
