//! Administrative boundaries (行政区划边界): the region layer used by 行政区域 queries and by
//! point-in-division judgments. The pack provides the official city and county boundaries; town
//! and village boundaries are imported when the city has them.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::RegionCode;
use tg_spatial::geojson::{as_multipolygon, parse_geometry};
use tg_spatial::AreaIndex;
use utoipa::ToSchema;

use crate::MapService;

/// The outcome of loading boundaries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoundaryLoad {
    pub loaded: usize,
    pub replaced: usize,
}

fn bad(msg: impl Into<String>) -> IamError {
    IamError::field("geometry", msg)
}

impl MapService {
    /// Loads boundaries from a GeoJSON FeatureCollection whose features carry `properties.code`
    /// (a region code that exists). All or nothing; an existing boundary is replaced.
    pub async fn load_boundaries(&self, ctx: &AuditCtx, geojson: &str, source: &str) -> IamResult<BoundaryLoad> {
        self.load_boundaries_as(None, ctx, geojson, source).await
    }

    /// [`MapService::load_boundaries`] by a user: every region must be in the user's scope.
    pub async fn import_boundaries(&self, actor: &Principal, ctx: &AuditCtx, geojson: &str) -> IamResult<BoundaryLoad> {
        self.load_boundaries_as(Some(actor), ctx, geojson, "imported").await
    }

    async fn load_boundaries_as(&self, actor: Option<&Principal>, ctx: &AuditCtx, geojson: &str, source: &str) -> IamResult<BoundaryLoad> {
        let v: Value = serde_json::from_str(geojson).map_err(|e| bad(format!("GeoJSON 无法解析: {e}")))?;
        let features = v.get("features").and_then(Value::as_array).ok_or_else(|| bad("须为 FeatureCollection"))?;
        let mut rows = Vec::with_capacity(features.len());
        for (i, f) in features.iter().enumerate() {
            let code = f
                .pointer("/properties/code")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("第{}个要素缺少 properties.code", i + 1)))?;
            let code = RegionCode::parse(code).map_err(|e| bad(format!("第{}个要素: {e}", i + 1)))?;
            let g = parse_geometry(f.get("geometry").unwrap_or(&Value::Null)).map_err(|e| bad(format!("第{}个要素: {e}", i + 1)))?;
            if as_multipolygon(&g).is_none() {
                return Err(bad(format!("第{}个要素: 边界须为面", i + 1)));
            }
            tg_spatial::geojson::check_extent(&g, None).map_err(|e| bad(format!("第{}个要素: {e}", i + 1)))?;
            if actor.is_some_and(|a| !a.scope.contains_region(&code)) {
                return Err(bad(format!("第{}个要素: 行政区划 {code} 不在您的管辖范围内", i + 1)));
            }
            if self.iam.region_raw(&code).await?.is_none() {
                return Err(bad(format!("第{}个要素: 行政区划 {code} 不存在", i + 1)));
            }
            rows.push((code, tg_spatial::geojson::to_geojson(&g).to_string()));
        }
        self.write_boundaries(ctx, &rows, source).await
    }

    /// Writes validated boundaries (replacing existing ones of the same regions) in one
    /// transaction.
    pub(crate) async fn write_boundaries(&self, ctx: &AuditCtx, rows: &[(RegionCode, String)], source: &str) -> IamResult<BoundaryLoad> {
        let now = self.now();
        let mut tx = self.iam.db().begin().await?;
        let mut replaced = 0;
        for (code, geom) in rows {
            let n = sqlx::query("DELETE FROM region_boundaries WHERE region_code = $1").bind(code.as_str()).execute(&mut *tx).await?;
            replaced += n.rows_affected() as usize;
            sqlx::query("INSERT INTO region_boundaries (region_code, geometry, source, updated_at) VALUES ($1, $2, $3, $4)")
                .bind(code.as_str())
                .bind(geom.as_str())
                .bind(source)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        self.iam.audit(&mut tx, ctx, AuditEvent::success("map.boundaries.load", format!("{} 个边界 ({source})", rows.len()))).await?;
        tx.commit().await?;
        self.invalidate_regions()?;
        Ok(BoundaryLoad { loaded: rows.len(), replaced })
    }

    /// Loads the pack's boundaries when the table is empty (first start).
    pub async fn ensure_boundaries(&self, ctx: &AuditCtx, geojson: &str) -> IamResult<()> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM region_boundaries").fetch_one(self.iam.db().pool()).await?.try_get(0)?;
        if n == 0 {
            self.load_boundaries(ctx, geojson, "official").await?;
        }
        Ok(())
    }

    /// The index of every boundary, keyed by region code.
    pub async fn region_index(&self) -> IamResult<std::sync::Arc<AreaIndex<String>>> {
        if let Some(idx) = self.cached_regions()? {
            return Ok(idx);
        }
        let rows = sqlx::query("SELECT region_code, geometry FROM region_boundaries").fetch_all(self.iam.db().pool()).await?;
        let mut areas = Vec::with_capacity(rows.len());
        for r in rows {
            let code: String = r.try_get(0)?;
            let text: String = r.try_get(1)?;
            let v: Value = serde_json::from_str(&text).map_err(|e| IamError::Internal(format!("boundary {code}: {e}")))?;
            let g = parse_geometry(&v).map_err(|e| IamError::Internal(format!("boundary {code}: {e}")))?;
            if let Some(mp) = as_multipolygon(&g) {
                areas.push((code, mp));
            }
        }
        self.store_regions(AreaIndex::build(areas))
    }

    /// The finest region whose boundary covers a point (canonical lon/lat).
    pub async fn region_of(&self, p: tg_spatial::geo_types::Coord) -> IamResult<Option<String>> {
        let idx = self.region_index().await?;
        Ok(finest(&idx, p))
    }

    /// Boundaries in the user's scope as a GeoJSON FeatureCollection (for the offline base map).
    /// `level`: city, county, town, village or group; all levels when absent.
    pub async fn boundaries(&self, actor: &Principal, level: Option<&str>, crs: tg_spatial::Crs) -> IamResult<Value> {
        let rows = sqlx::query(
            "SELECT b.region_code, r.name, r.level, b.geometry, b.source FROM region_boundaries b \
             JOIN regions r ON r.code = b.region_code ORDER BY b.region_code",
        )
        .fetch_all(self.iam.db().pool())
        .await?;
        let mut features = Vec::new();
        for r in rows {
            let code: String = r.try_get(0)?;
            let Ok(rc) = RegionCode::parse(&code) else { continue };
            // The user's own region and everything below it, plus the regions above it (context).
            if !(actor.scope.region.contains(&rc) || rc.contains(&actor.scope.region)) {
                continue;
            }
            let lvl: String = r.try_get(2)?;
            if level.is_some_and(|l| l != lvl) {
                continue;
            }
            let name: String = r.try_get(1)?;
            let geom: String = r.try_get(3)?;
            let source: String = r.try_get(4)?;
            features.push(serde_json::json!({
                "type": "Feature",
                "id": code,
                "properties": {"code": code, "name": name, "level": lvl, "source": source},
                "geometry": serde_json::from_str::<Value>(&geom)
                    .ok()
                    .and_then(|v| parse_geometry(&v).ok())
                    .map(|g| tg_spatial::geojson::to_geojson(&tg_spatial::geojson::transform(&g, tg_spatial::Crs::Wgs84, crs)))
                    .unwrap_or(Value::Null),
            }));
        }
        Ok(serde_json::json!({"type": "FeatureCollection", "features": features}))
    }
}

/// The finest (longest code) region covering `p`.
pub(crate) fn finest(idx: &AreaIndex<String>, p: tg_spatial::geo_types::Coord) -> Option<String> {
    idx.locate_all(p)
        .into_iter()
        .filter_map(|(k, _)| RegionCode::parse(&k).ok())
        .max_by_key(|k| (k.level(), k.clone()))
        .map(|k| k.as_str().to_string())
}
