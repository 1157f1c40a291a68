//! Demo map data: a layer of events (事件) spread over the city's real county boundaries, each
//! assigned to a village of the county it falls in. Everything is marked as demo.

use serde_json::json;
use sqlx::Row;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult};
use tg_kernel::RegionCode;
use tg_spatial::geo_types::Coord;
use tg_spatial::geojson::to_geojson;

use crate::features::Prepared;
use crate::MapService;

pub const DEMO_EVENTS_LAYER: &str = "demo_events";

use tg_spatial::rng::SplitMix64 as Rng;

const CATEGORIES: &[&str] = &["矛盾纠纷", "治安隐患", "环境卫生", "安全生产", "消防隐患", "道路交通", "民生诉求", "地质灾害隐患"];
const STATUSES: &[&str] = &["待受理", "处置中", "已办结"];

impl MapService {
    /// Creates the demo events layer with `n` points (no-op when the layer exists). Returns the
    /// number of features created.
    pub async fn seed_demo(&self, ctx: &AuditCtx, city: &RegionCode, n: usize) -> IamResult<usize> {
        if self.layer_id_by_code(DEMO_EVENTS_LAYER).await?.is_some() {
            return Ok(0);
        }
        let regions = self.region_index().await?;
        let counties: Vec<String> =
            sqlx::query("SELECT region_code FROM region_boundaries WHERE LENGTH(region_code) = 6 AND region_code <> $1")
                .bind(city.as_str())
                .fetch_all(self.iam.db().pool())
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let mut villages: std::collections::HashMap<String, Vec<String>> = Default::default();
        for r in sqlx::query("SELECT code FROM regions WHERE level = 'village'").fetch_all(self.iam.db().pool()).await? {
            let code: String = r.try_get(0)?;
            villages.entry(code[..6].to_string()).or_default().push(code);
        }
        for v in villages.values_mut() {
            v.sort();
        }
        let Some(bb) = counties.iter().filter_map(|c| regions.get(c).map(|a| a.bbox())).reduce(crate::union) else {
            return Err(IamError::Internal("no county boundaries to place demo features in".into()));
        };
        let mut rng = Rng(20_261_129);
        let mut items = Vec::with_capacity(n);
        let mut tries = 0;
        // Events cluster around town centres in reality; a mix of hot spots and background.
        let hot: Vec<Coord> =
            (0..40).map(|_| Coord { x: bb.min().x + rng.unit() * bb.width(), y: bb.min().y + rng.unit() * bb.height() }).collect();
        while items.len() < n && tries < n * 20 {
            tries += 1;
            let c = if rng.unit() < 0.6 {
                let h = hot[(rng.next_u64() % hot.len() as u64) as usize];
                let (r, a) = (0.05 * rng.unit().sqrt(), rng.unit() * std::f64::consts::TAU);
                Coord { x: h.x + r * a.cos(), y: h.y + r * a.sin() * 0.9 }
            } else {
                Coord { x: bb.min().x + rng.unit() * bb.width(), y: bb.min().y + rng.unit() * bb.height() }
            };
            let Some(county) = counties.iter().find(|k| regions.get(k).is_some_and(|a| a.covers(c))) else { continue };
            let Some(vs) = villages.get(county.as_str()).filter(|v| !v.is_empty()) else { continue };
            // The village whose (demo) boundary holds the point, else any village of the county.
            let located = crate::boundaries::finest(&regions, c).filter(|k| k.len() == 12);
            let village = match &located {
                Some(v) => v,
                None => &vs[(rng.next_u64() % vs.len() as u64) as usize],
            };
            let category = CATEGORIES[(rng.next_u64() % CATEGORIES.len() as u64) as usize];
            let status = STATUSES[(rng.next_u64() % STATUSES.len() as u64) as usize];
            let day = 1 + rng.next_u64() % 28;
            let month = 1 + rng.next_u64() % 11;
            let g = tg_spatial::geo_types::Geometry::Point(tg_spatial::geo_types::Point(c));
            items.push(Prepared {
                name: format!("{category}（演示）#{}", items.len() + 1),
                props: json!({"category": category, "status": status, "reported_on": format!("2026-{month:02}-{day:02}"),
                              "urgent": rng.unit() < 0.1, "demo": true})
                .to_string(),
                geometry: to_geojson(&g).to_string(),
                bbox: [c.x, c.y, c.x, c.y],
                anchor: [c.x, c.y],
                region: RegionCode::parse(village).map_err(|e| IamError::Internal(e.to_string()))?,
            });
        }
        let now = self.now();
        let style = json!({"component": "cluster", "color": "#e6553a", "icon": "event"});
        let schema = json!([
            {"name": "category", "label": "事件类型", "type": "text", "required": true},
            {"name": "status", "label": "办理状态", "type": "text", "required": true},
            {"name": "reported_on", "label": "上报日期", "type": "date", "required": false},
            {"name": "urgent", "label": "紧急", "type": "bool", "required": false},
            {"name": "demo", "label": "演示数据", "type": "bool", "required": false}
        ]);
        let mut tx = self.iam.db().begin().await?;
        let row = sqlx::query(
            "INSERT INTO map_layers (code, name, geometry_type, description, attr_schema, style, region_code, visible_roles, is_demo, version, created_at, updated_at) \
             VALUES ($1, $2, 'point', $3, $4, $5, $6, '[]', 1, 1, $7, $7) RETURNING id",
        )
        .bind(DEMO_EVENTS_LAYER)
        .bind("事件分布（演示）")
        .bind("演示数据：按真实县区边界随机生成的事件点位，不代表真实事件")
        .bind(schema.to_string())
        .bind(style.to_string())
        .bind(city.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let layer_id: i64 = row.try_get(0)?;
        self.insert_many(&mut tx, layer_id, &items, true, None).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("map.seed_demo", format!("{} 个演示事件", items.len()))).await?;
        tx.commit().await?;
        Ok(items.len())
    }
}

impl MapService {
    /// Generates clearly-labelled demo boundaries for towns and villages that have none: Voronoi
    /// cells around spread seed points, clipped to the county (for towns) and to the town (for
    /// villages), so they tile their parent. Real boundaries imported later replace them.
    /// Returns the number generated.
    pub async fn seed_demo_boundaries(&self, ctx: &AuditCtx, city: &RegionCode) -> IamResult<usize> {
        use std::collections::{BTreeMap, HashSet};
        use tg_spatial::partition::{spread_seeds, voronoi_partition};
        let existing: HashSet<String> = sqlx::query("SELECT region_code FROM region_boundaries")
            .fetch_all(self.iam.db().pool())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in sqlx::query("SELECT code, parent_code FROM regions WHERE level IN ('town', 'village') ORDER BY code")
            .fetch_all(self.iam.db().pool())
            .await?
        {
            let code: String = r.try_get(0)?;
            let parent: Option<String> = r.try_get(1)?;
            if let Some(p) = parent {
                children.entry(p).or_default().push(code);
            }
        }
        let counties: Vec<String> = existing.iter().filter(|c| c.len() == 6 && c.as_str() != city.as_str()).cloned().collect();
        let mut rows: Vec<(RegionCode, String)> = Vec::new();
        let mut sorted_counties = counties;
        sorted_counties.sort();
        for county in sorted_counties {
            let Some(towns) = children.get(&county) else { continue };
            if towns.iter().any(|t| existing.contains(t)) {
                continue; // real town boundaries exist for this county
            }
            let Some(county_area) = self.boundary_geometry(&county).await? else { continue };
            let seed = county.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            let seeds = spread_seeds(&county_area, towns.len(), seed);
            let cells = voronoi_partition(&county_area, &seeds);
            for (town, cell) in towns.iter().zip(cells) {
                if cell.0.is_empty() {
                    continue;
                }
                let g = tg_spatial::geo_types::Geometry::MultiPolygon(cell.clone());
                rows.push((RegionCode::parse(town).map_err(|e| IamError::Internal(e.to_string()))?, to_geojson(&g).to_string()));
                let Some(villages) = children.get(town) else { continue };
                let vseed = town.bytes().fold(11u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
                let vseeds = spread_seeds(&cell, villages.len(), vseed);
                for (village, vcell) in villages.iter().zip(voronoi_partition(&cell, &vseeds)) {
                    if vcell.0.is_empty() || existing.contains(village) {
                        continue;
                    }
                    let g = tg_spatial::geo_types::Geometry::MultiPolygon(vcell);
                    rows.push((RegionCode::parse(village).map_err(|e| IamError::Internal(e.to_string()))?, to_geojson(&g).to_string()));
                }
            }
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let n = rows.len();
        self.write_boundaries(ctx, &rows, DEMO_BOUNDARY_SOURCE).await?;
        Ok(n)
    }

    async fn boundary_geometry(&self, code: &str) -> IamResult<Option<tg_spatial::geo_types::MultiPolygon>> {
        let row = sqlx::query("SELECT geometry FROM region_boundaries WHERE region_code = $1")
            .bind(code)
            .fetch_optional(self.iam.db().pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get(0)?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| IamError::Internal(e.to_string()))?;
        let g = tg_spatial::geojson::parse_geometry(&v).map_err(|e| IamError::Internal(e.to_string()))?;
        Ok(tg_spatial::geojson::as_multipolygon(&g))
    }
}

/// The `source` of generated demo boundaries.
pub const DEMO_BOUNDARY_SOURCE: &str = "demo-generated";
