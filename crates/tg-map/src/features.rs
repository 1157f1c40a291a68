//! Features (要素) of a layer: geometry, name and attributes checked against the layer's schema.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use tg_db::SqlBuf;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{Page, PageQuery, RegionCode, ValidationErrors};
use tg_spatial::geo_types::Geometry;
use tg_spatial::geojson::{anchor, bbox, check_extent, family, parse_geometry, to_geojson, transform};
use tg_spatial::Crs;
use utoipa::ToSchema;

use crate::layers::{AttrDef, Layer};
use crate::{lock_err, LayerData, MapService};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Feature {
    pub id: i64,
    pub layer_id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub properties: Value,
    /// GeoJSON geometry in the requested `crs`.
    #[schema(value_type = Object)]
    pub geometry: Value,
    pub crs: String,
    pub version: i64,
    pub is_demo: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
    /// GeoJSON geometry in `crs` (default EPSG:4326).
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// Coordinate system of `geometry`: EPSG:4326, EPSG:4490, GCJ02, BD09 or EPSG:3857.
    pub crs: Option<String>,
    /// The region the feature belongs to; found from the boundaries when absent.
    pub region_code: Option<String>,
    /// Required on update: the version the edit started from.
    pub version: Option<i64>,
}

pub(crate) const SELECT: &str = "SELECT f.id, f.layer_id, f.region_code, r.name, f.name, f.props, f.geometry, f.version, f.is_demo, \
    f.created_at, f.updated_at FROM map_features f JOIN regions r ON r.code = f.region_code";

pub(crate) fn from_row(row: &tg_db::Row, crs: Crs) -> Result<Feature, sqlx::Error> {
    let props: String = row.try_get(5)?;
    let geom: String = row.try_get(6)?;
    let geometry = serde_json::from_str::<Value>(&geom)
        .ok()
        .and_then(|v| parse_geometry(&v).ok())
        .map(|g| to_geojson(&transform(&g, Crs::Wgs84, crs)))
        .unwrap_or(Value::Null);
    Ok(Feature {
        id: row.try_get(0)?,
        layer_id: row.try_get(1)?,
        region_code: row.try_get(2)?,
        region_name: row.try_get(3)?,
        name: row.try_get(4)?,
        properties: serde_json::from_str(&props).unwrap_or(Value::Null),
        geometry,
        crs: crs.code().to_string(),
        version: row.try_get(7)?,
        is_demo: row.try_get::<i64, _>(8)? != 0,
        created_at: to_rfc3339(row.try_get(9)?),
        updated_at: to_rfc3339(row.try_get(10)?),
    })
}

/// Parses a `crs` parameter (default WGS-84).
pub fn parse_crs(s: Option<&str>) -> IamResult<Crs> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Crs::Wgs84),
        Some(s) => s.parse::<Crs>().map_err(|e| IamError::field("crs", format!("不支持的坐标系: {}", e.0))),
    }
}

/// Checks attributes against the schema; unknown keys are refused so typos do not pass silently.
pub(crate) fn check_properties(schema: &[AttrDef], props: &Map<String, Value>, v: &mut ValidationErrors) {
    for (k, val) in props {
        let Some(def) = schema.iter().find(|a| &a.name == k) else {
            v.add(&format!("properties.{k}"), "图层未定义该属性");
            continue;
        };
        if val.is_null() {
            continue;
        }
        let ok = match def.kind.as_str() {
            "text" => val.as_str().is_some_and(|s| s.chars().count() <= 2000),
            "number" => val.as_f64().is_some_and(f64::is_finite),
            "integer" => val.as_i64().is_some(),
            "bool" => val.is_boolean(),
            "date" => val.as_str().is_some_and(|s| time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()),
            _ => false,
        };
        if !ok {
            let kind = match def.kind.as_str() {
                "text" => "文本（不超过2000字）",
                "number" => "数字",
                "integer" => "整数",
                "bool" => "是/否",
                _ => "日期（YYYY-MM-DD）",
            };
            v.add(&format!("properties.{k}"), format!("{}须为{}", def.label, kind));
        }
    }
    for def in schema.iter().filter(|a| a.required) {
        if props.get(&def.name).is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())) {
            v.add(&format!("properties.{}", def.name), format!("{}为必填项", def.label));
        }
    }
}

/// A validated feature ready to store.
pub(crate) struct Prepared {
    pub name: String,
    pub props: String,
    pub geometry: String,
    pub bbox: [f64; 4],
    pub anchor: [f64; 2],
    pub region: RegionCode,
}

impl MapService {
    /// Validates a feature for a layer: geometry family, coordinates inside the city's
    /// boundaries, attributes, and the region in the user's scope.
    pub(crate) async fn prepare_feature(&self, actor: &Principal, layer: &Layer, input: &FeatureInput) -> IamResult<Prepared> {
        let mut v = ValidationErrors::new();
        if input.name.chars().count() > 200 {
            v.add("name", "名称不能超过200字");
        }
        check_properties(&layer.attr_schema, &input.properties, &mut v);
        let crs = parse_crs(input.crs.as_deref())?;
        let geom: Option<Geometry> = match parse_geometry(&input.geometry) {
            Ok(g) => {
                let g = transform(&g, crs, Crs::Wgs84);
                if family(&g) != layer.geometry_type {
                    v.add("geometry", format!("图层几何类型为 {}，要素为 {}", layer.geometry_type, family(&g)));
                    None
                } else if let Err(e) = check_extent(&g, None).and_then(|_| tg_spatial::geojson::check_valid(&g)) {
                    v.add("geometry", e.to_string());
                    None
                } else {
                    Some(g)
                }
            }
            Err(e) => {
                v.add("geometry", e.to_string());
                None
            }
        };
        v.finish()?;
        let g = geom.ok_or_else(|| IamError::field("geometry", "几何图形无效"))?;
        let (Some(bb), Some(a)) = (bbox(&g), anchor(&g)) else {
            return Err(IamError::field("geometry", "几何图形为空"));
        };
        let located = self.region_of(a).await?;
        let region = match input.region_code.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => RegionCode::parse(c).map_err(|e| IamError::field("region_code", e.to_string()))?,
            None => match located.as_deref() {
                Some(c) => RegionCode::parse(c).map_err(|e| IamError::Internal(e.to_string()))?,
                None => return Err(IamError::field("geometry", "位置不在本市行政区划范围内，请检查坐标或坐标系（crs）")),
            },
        };
        let Some(located) = located.as_deref().and_then(|c| RegionCode::parse(c).ok()) else {
            return Err(IamError::field("geometry", "位置不在本市行政区划范围内，请检查坐标或坐标系（crs）"));
        };
        if !(located.contains(&region) || region.contains(&located)) {
            return Err(IamError::field("region_code", format!("位置位于 {located}，与所选行政区划 {region} 不符")));
        }
        if self.iam.region_raw(&region).await?.is_none() {
            return Err(IamError::field("region_code", "行政区划不存在"));
        }
        if !actor.scope.contains_region(&region) {
            return Err(IamError::OutOfScope);
        }
        Ok(Prepared {
            name: input.name.trim().to_string(),
            props: Value::Object(input.properties.clone()).to_string(),
            geometry: to_geojson(&g).to_string(),
            bbox: [bb.min().x, bb.min().y, bb.max().x, bb.max().y],
            anchor: [a.x, a.y],
            region,
        })
    }

    /// Features of a layer in the user's scope (paged), optionally by region and name.
    pub async fn list_features(
        &self,
        actor: &Principal,
        layer_id: i64,
        region: Option<&RegionCode>,
        q: Option<&str>,
        crs: Crs,
        page: &PageQuery,
    ) -> IamResult<Page<Feature>> {
        let layer = self.layer(actor, layer_id).await?;
        let narrowed = actor.scope.narrow(region).ok_or(tg_iam::IamError::OutOfScope)?;
        let (lo, hi) = narrowed.subtree_bounds();
        let filter = |s: &mut SqlBuf| {
            s.push(" AND f.layer_id = ").bind(layer.id);
            s.push(" AND f.region_code >= ").bind(lo.as_str()).push(" AND f.region_code < ").bind(hi.as_str());
            if let Some(text) = q.map(str::trim).filter(|s| !s.is_empty()) {
                s.push(" AND f.name LIKE ").bind(SqlBuf::like_contains(text)).push(" ESCAPE '\\'");
            }
        };
        let mut c = SqlBuf::new("SELECT COUNT(*) FROM map_features f WHERE 1=1");
        filter(&mut c);
        let total: i64 = c.query().fetch_one(self.iam.db().pool()).await?.try_get(0)?;
        let (limit, offset) = page.limit_offset();
        let mut s = SqlBuf::new(SELECT);
        s.push(" WHERE 1=1");
        filter(&mut s);
        s.push(" ORDER BY f.id LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        let items = s.query().fetch_all(self.iam.db().pool()).await?.iter().map(|r| from_row(r, crs)).collect::<Result<_, _>>()?;
        Ok(Page::new(items, total, page))
    }

    /// The layer of a feature (404 when there is no such feature).
    pub async fn feature_layer(&self, id: i64) -> IamResult<i64> {
        let row = sqlx::query("SELECT layer_id FROM map_features WHERE id = $1").bind(id).fetch_optional(self.iam.db().pool()).await?;
        row.map(|r| r.try_get::<i64, _>(0)).transpose()?.ok_or(IamError::not_found("要素", "map.feature_not_found"))
    }

    /// One feature in scope.
    pub async fn feature(&self, actor: &Principal, layer_id: i64, id: i64, crs: Crs) -> IamResult<Feature> {
        let layer = self.layer(actor, layer_id).await?;
        let mut s = SqlBuf::new(SELECT);
        s.push(" WHERE f.id = ").bind(id).push(" AND f.layer_id = ").bind(layer.id);
        let row = s.query().fetch_optional(self.iam.db().pool()).await?;
        let f = row.as_ref().map(|r| from_row(r, crs)).transpose()?.ok_or(IamError::not_found("要素", "map.feature_not_found"))?;
        let region = RegionCode::parse(&f.region_code).map_err(|e| IamError::Internal(e.to_string()))?;
        if !actor.scope.contains_region(&region) {
            return Err(IamError::not_found("要素", "map.feature_not_found"));
        }
        Ok(f)
    }

    pub async fn create_feature(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        layer_id: i64,
        input: &FeatureInput,
        is_demo: bool,
    ) -> IamResult<Feature> {
        let layer = self.layer(actor, layer_id).await?;
        let p = self.prepare_feature(actor, &layer, input).await?;
        let now = self.now();
        let mut tx = self.iam.db().begin().await?;
        let id = insert(&mut tx, layer.id, &p, is_demo, Some(actor.user_id), now).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("map.feature.create", format!("{} #{id} {}", layer.name, p.name))).await?;
        tx.commit().await?;
        self.index_upsert(layer.id, id, &p)?;
        self.feature(actor, layer.id, id, parse_crs(input.crs.as_deref())?).await
    }

    pub async fn update_feature(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        layer_id: i64,
        id: i64,
        input: &FeatureInput,
    ) -> IamResult<Feature> {
        let layer = self.layer(actor, layer_id).await?;
        let old = self.feature(actor, layer.id, id, Crs::Wgs84).await?;
        let Some(version) = input.version else {
            return Err(IamError::field("version", "修改时须提供版本号 version"));
        };
        let p = self.prepare_feature(actor, &layer, input).await?;
        let mut tx = self.iam.db().begin().await?;
        let n = sqlx::query(
            "UPDATE map_features SET region_code = $1, name = $2, props = $3, geometry = $4, min_x = $5, min_y = $6, max_x = $7, max_y = $8, \
             anchor_x = $9, anchor_y = $10, version = version + 1, updated_at = $11 WHERE id = $12 AND layer_id = $13 AND version = $14",
        )
        .bind(p.region.as_str())
        .bind(p.name.as_str())
        .bind(p.props.as_str())
        .bind(p.geometry.as_str())
        .bind(p.bbox[0])
        .bind(p.bbox[1])
        .bind(p.bbox[2])
        .bind(p.bbox[3])
        .bind(p.anchor[0])
        .bind(p.anchor[1])
        .bind(self.now())
        .bind(id)
        .bind(layer.id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 0 {
            return Err(IamError::conflict("map.version_conflict", "要素已被他人修改，请刷新后重试"));
        }
        self.iam.audit(&mut tx, ctx, AuditEvent::success("map.feature.update", format!("{} #{id} {}", layer.name, old.name))).await?;
        tx.commit().await?;
        self.index_upsert(layer.id, id, &p)?;
        self.feature(actor, layer.id, id, parse_crs(input.crs.as_deref())?).await
    }

    pub async fn delete_feature(&self, actor: &Principal, ctx: &AuditCtx, layer_id: i64, id: i64) -> IamResult<()> {
        let layer = self.layer(actor, layer_id).await?;
        let old = self.feature(actor, layer.id, id, Crs::Wgs84).await?;
        let mut tx = self.iam.db().begin().await?;
        sqlx::query("DELETE FROM map_features WHERE id = $1 AND layer_id = $2").bind(id).bind(layer.id).execute(&mut *tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("map.feature.delete", format!("{} #{id} {}", layer.name, old.name))).await?;
        tx.commit().await?;
        if let Some(c) = self.cached_layer(layer.id)? {
            let mut d = c.write().map_err(lock_err)?;
            d.index.remove(id as u64);
            d.regions.remove(&(id as u64));
        }
        Ok(())
    }

    /// Inserts many validated features in one transaction (the demo seed and imports); the
    /// caller audits.
    pub(crate) async fn insert_many(
        &self,
        tx: &mut tg_db::Tx,
        layer_id: i64,
        items: &[Prepared],
        is_demo: bool,
        by: Option<i64>,
    ) -> IamResult<Vec<i64>> {
        let now = self.now();
        let mut ids = Vec::with_capacity(items.len());
        for p in items {
            ids.push(insert(tx, layer_id, p, is_demo, by, now).await?);
        }
        Ok(ids)
    }

    fn index_upsert(&self, layer_id: i64, id: i64, p: &Prepared) -> IamResult<()> {
        if let Some(c) = self.cached_layer(layer_id)? {
            let mut d = c.write().map_err(lock_err)?;
            d.index.upsert(id as u64, tg_spatial::geo_types::Coord { x: p.anchor[0], y: p.anchor[1] });
            d.regions.insert(id as u64, p.region.as_str().to_string());
        }
        Ok(())
    }

    /// The layer's index, built from the database on first use.
    pub(crate) async fn layer_index(&self, layer_id: i64) -> IamResult<std::sync::Arc<std::sync::RwLock<LayerData>>> {
        if let Some(c) = self.cached_layer(layer_id)? {
            return Ok(c);
        }
        let rows = sqlx::query("SELECT id, anchor_x, anchor_y, region_code FROM map_features WHERE layer_id = $1")
            .bind(layer_id)
            .fetch_all(self.iam.db().pool())
            .await?;
        let mut pts = Vec::with_capacity(rows.len());
        let mut regions = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get(0)?;
            pts.push((id as u64, tg_spatial::geo_types::Coord { x: r.try_get(1)?, y: r.try_get(2)? }));
            regions.insert(id as u64, r.try_get::<String, _>(3)?);
        }
        self.store_layer(layer_id, LayerData { index: tg_spatial::PointIndex::bulk_load(pts), regions })
    }
}

async fn insert(tx: &mut tg_db::Tx, layer_id: i64, p: &Prepared, is_demo: bool, by: Option<i64>, now: i64) -> IamResult<i64> {
    let row = sqlx::query(
        "INSERT INTO map_features (layer_id, region_code, name, props, geometry, min_x, min_y, max_x, max_y, anchor_x, anchor_y, version, is_demo, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $14, $14) RETURNING id",
    )
    .bind(layer_id)
    .bind(p.region.as_str())
    .bind(p.name.as_str())
    .bind(p.props.as_str())
    .bind(p.geometry.as_str())
    .bind(p.bbox[0])
    .bind(p.bbox[1])
    .bind(p.bbox[2])
    .bind(p.bbox[3])
    .bind(p.anchor[0])
    .bind(p.anchor[1])
    .bind(i64::from(is_demo))
    .bind(by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// One problem of one imported row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureImportError {
    /// Row number in the file (the header is row 1; GeoJSON features count from 1).
    pub row: usize,
    pub field: String,
    pub message: String,
}

/// The outcome of an import: with `dry_run` nothing was written; otherwise `imported` rows were
/// written in one transaction (all rows, or with `partial` the valid ones).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureImportReport {
    pub dry_run: bool,
    pub partial: bool,
    pub total: usize,
    pub valid: usize,
    pub imported: usize,
    pub errors: Vec<FeatureImportError>,
    /// Source fields that are not attributes of the layer and were left out.
    pub ignored_fields: Vec<String>,
}

/// How an import writes.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Validate only.
    pub dry_run: bool,
    /// Write the valid rows even when others are wrong.
    pub partial: bool,
    /// Source fields left out (reported back).
    pub ignored_fields: Vec<String>,
    /// A client-chosen id under which progress can be polled while the import runs.
    pub progress_id: Option<String>,
}

/// Most rows one import may carry.
pub const MAX_IMPORT_ROWS: usize = 50_000;

impl MapService {
    /// Validates every row; then writes nothing (`dry_run`), everything (no errors), or — with
    /// `partial` — the valid rows, in one transaction. Each row carries its number in the file.
    pub async fn import_features(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        layer_id: i64,
        rows: Vec<(usize, FeatureInput)>,
        opts: ImportOptions,
    ) -> IamResult<FeatureImportReport> {
        let ImportOptions { dry_run, partial, ignored_fields, progress_id } = opts;
        let progress = progress_id.as_deref();
        let layer = self.layer(actor, layer_id).await?;
        if rows.len() > MAX_IMPORT_ROWS {
            return Err(IamError::field("file", format!("一次最多导入 {MAX_IMPORT_ROWS} 条")));
        }
        let total = rows.len();
        let mut ok = Vec::with_capacity(total);
        let mut errors = Vec::new();
        for (i, (row, input)) in rows.iter().enumerate() {
            if i % 100 == 0 {
                self.set_progress(actor.user_id, progress, "validating", i, total);
            }
            match self.prepare_feature(actor, &layer, input).await {
                Ok(p) => ok.push(p),
                Err(IamError::Validation(v)) => {
                    for fe in v.0 {
                        errors.push(FeatureImportError { row: *row, field: fe.field, message: fe.message });
                    }
                }
                Err(IamError::OutOfScope) => {
                    errors.push(FeatureImportError {
                        row: *row, field: "region_code".into(), message: "位置不在您的管辖范围内".into()
                    })
                }
                Err(other) => return Err(other),
            }
        }
        let valid = ok.len();
        let write = !dry_run && (errors.is_empty() || partial) && valid > 0;
        let mut imported = 0;
        if write {
            self.set_progress(actor.user_id, progress, "writing", 0, valid);
            let mut tx = self.iam.db().begin().await?;
            let ids = self.insert_many(&mut tx, layer.id, &ok, false, Some(actor.user_id)).await?;
            self.iam
                .audit(
                    &mut tx,
                    ctx,
                    AuditEvent::success("map.import", format!("{} 导入 {} 条", layer.name, ids.len()))
                        .with_detail(format!("共 {total} 行，错误 {} 处", errors.len())),
                )
                .await?;
            tx.commit().await?;
            imported = ids.len();
            for (id, p) in ids.iter().zip(&ok) {
                self.index_upsert(layer.id, *id, p)?;
            }
        }
        self.set_progress(actor.user_id, progress, "done", total, total);
        Ok(FeatureImportReport { dry_run, partial, total, valid, imported, errors, ignored_fields })
    }

    /// Every feature of a layer in scope (for export), at most `max`.
    pub async fn export_features(&self, actor: &Principal, layer_id: i64, crs: Crs, max: i64) -> IamResult<(Layer, Vec<Feature>)> {
        let layer = self.layer(actor, layer_id).await?;
        let (lo, hi) = actor.scope.bounds();
        let mut s = SqlBuf::new(SELECT);
        s.push(" WHERE f.layer_id = ").bind(layer.id);
        s.push(" AND f.region_code >= ").bind(lo.as_str()).push(" AND f.region_code < ").bind(hi.as_str());
        s.push(" ORDER BY f.id LIMIT ").bind(max + 1);
        let items: Vec<Feature> =
            s.query().fetch_all(self.iam.db().pool()).await?.iter().map(|r| from_row(r, crs)).collect::<Result<_, _>>()?;
        if items.len() as i64 > max {
            return Err(IamError::conflict("map.export_too_large", format!("要素超过 {max} 个，请缩小范围（按区划或空间查询）后导出")));
        }
        Ok((layer, items))
    }
}
