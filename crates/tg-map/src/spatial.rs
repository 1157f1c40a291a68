//! Spatial queries (空间查询), judgments (空间判断), clusters, heat grids and vector tiles over a
//! layer, always within the user's scope.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tg_db::SqlBuf;
use tg_iam::{IamError, IamResult, Principal};
use tg_kernel::{Page, PageQuery, RegionCode};
use tg_spatial::geo_types::{Coord, LineString, Rect};
use tg_spatial::geojson::{as_multipolygon, parse_geometry, transform};
use tg_spatial::mvt::{encode_tile, LayerBuilder, TileGeometry, Value as MvtValue, EXTENT};
use tg_spatial::{Cluster, Crs, HeatCell, MatchMode, PreparedShape, Shape, TileId, TilePoints};
use utoipa::ToSchema;

use crate::features::{from_row, parse_crs, Feature, SELECT};
use crate::{lock_err, MapService};

/// A query shape as the API takes it, in `crs` coordinates.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShapeInput {
    /// A drawn polygon (GeoJSON Polygon or MultiPolygon).
    Polygon {
        #[schema(value_type = Object)]
        geometry: Value,
    },
    /// A circle: centre [lon, lat] and radius in metres.
    Circle { center: [f64; 2], radius_m: f64 },
    /// A rectangle [min_lon, min_lat, max_lon, max_lat].
    Rect { bbox: [f64; 4] },
    /// Within `distance_m` metres of a polyline.
    LineBuffer { line: Vec<[f64; 2]>, distance_m: f64 },
    /// An administrative region, by code (its boundary).
    Region { region_code: String },
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttrFilter {
    pub field: String,
    /// `eq`, `ne`, `gt`, `lt`, `contains`.
    pub op: String,
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub shape: ShapeInput,
    /// `inside` (正向匹配, default) or `outside` (反向匹配).
    #[serde(default)]
    #[schema(value_type = String)]
    pub mode: MatchMode,
    /// Coordinate system of the shape and of the returned geometries.
    pub crs: Option<String>,
    /// Narrow to a region within the user's scope.
    pub region_code: Option<String>,
    #[serde(default)]
    pub filters: Vec<AttrFilter>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgeRequest {
    /// Points [lon, lat] (at most 10,000).
    pub points: Vec<[f64; 2]>,
    /// When present, each point is judged against this shape too.
    pub shape: Option<ShapeInput>,
    pub crs: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Judgment {
    /// The point as given (in the request's `crs`).
    pub lon: f64,
    pub lat: f64,
    /// Against the shape, when one was given (boundary counts as inside).
    pub inside: Option<bool>,
    /// The finest region whose boundary covers the point (点与辖区).
    pub region_code: Option<String>,
    pub region_name: Option<String>,
}

pub const MAX_JUDGE_POINTS: usize = 10_000;

fn field_err(e: impl std::fmt::Display) -> IamError {
    IamError::field("shape", e.to_string())
}

impl MapService {
    /// Converts a shape input to a canonical prepared shape.
    pub async fn prepare_shape(&self, actor: &Principal, input: &ShapeInput, crs: Crs) -> IamResult<PreparedShape> {
        let c = |p: &[f64; 2]| crs.to_canonical(Coord { x: p[0], y: p[1] });
        let shape = match input {
            ShapeInput::Polygon { geometry } => {
                let g = parse_geometry(geometry).map_err(field_err)?;
                let g = transform(&g, crs, Crs::Wgs84);
                let area = as_multipolygon(&g).ok_or_else(|| field_err("多边形查询须提供 Polygon 或 MultiPolygon"))?;
                Shape::Polygon { area }
            }
            ShapeInput::Circle { center, radius_m } => Shape::Circle { center: c(center), radius_m: *radius_m },
            ShapeInput::Rect { bbox } => {
                let (a, b) = (c(&[bbox[0], bbox[1]]), c(&[bbox[2], bbox[3]]));
                if !(bbox[0] <= bbox[2] && bbox[1] <= bbox[3]) {
                    return Err(field_err("矩形须为 [最小经度, 最小纬度, 最大经度, 最大纬度]"));
                }
                Shape::Rect { rect: Rect::new(a, b) }
            }
            ShapeInput::LineBuffer { line, distance_m } => {
                if line.len() > 10_000 {
                    return Err(field_err("线的顶点不能超过10000个"));
                }
                Shape::LineBuffer { line: LineString(line.iter().map(c).collect()), distance_m: *distance_m }
            }
            ShapeInput::Region { region_code } => {
                let code = RegionCode::parse(region_code).map_err(|e| IamError::field("shape.region_code", e.to_string()))?;
                if !(actor.scope.region.contains(&code) || code.contains(&actor.scope.region)) {
                    return Err(IamError::OutOfScope);
                }
                let idx = self.region_index().await?;
                let area = idx
                    .get(&code.as_str().to_string())
                    .cloned()
                    .ok_or_else(|| IamError::field("shape.region_code", "该行政区划尚无边界数据"))?;
                return Ok(PreparedShape::Area(area));
            }
        };
        shape.prepare().map_err(field_err)
    }

    /// 空间查询: features of a layer matching (or, in `outside` mode, not matching) a shape, in
    /// the user's scope, filtered by attributes, paged by ascending id.
    pub async fn query(&self, actor: &Principal, layer_id: i64, req: &QueryRequest) -> IamResult<Page<Feature>> {
        let (layer, crs, ids) = self.matching_ids(actor, layer_id, req).await?;
        let page = PageQuery { page: req.page, page_size: req.page_size };
        let (limit, offset) = page.limit_offset();
        if req.filters.is_empty() {
            let total = ids.len() as i64;
            let slice: Vec<i64> = ids.into_iter().skip(offset as usize).take(limit as usize).collect();
            let items = self.fetch_features(layer.id, &slice, crs).await?;
            return Ok(Page::new(items, total, &page));
        }
        // With attribute filters: walk the matches in id order, chunk by chunk.
        let mut total = 0i64;
        let mut items = Vec::new();
        for chunk in ids.chunks(500) {
            for f in self.fetch_features(layer.id, chunk, crs).await? {
                if req.filters.iter().all(|flt| matches(&f, flt)) {
                    if total >= offset && (items.len() as i64) < limit {
                        items.push(f);
                    }
                    total += 1;
                }
            }
        }
        Ok(Page::new(items, total, &page))
    }

    /// Every feature a query matches (for export), at most `max`.
    pub async fn query_all(
        &self,
        actor: &Principal,
        layer_id: i64,
        req: &QueryRequest,
        max: usize,
    ) -> IamResult<(crate::Layer, Vec<Feature>)> {
        let (layer, crs, ids) = self.matching_ids(actor, layer_id, req).await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            for f in self.fetch_features(layer.id, chunk, crs).await? {
                if req.filters.iter().all(|flt| matches(&f, flt)) {
                    out.push(f);
                    if out.len() > max {
                        return Err(IamError::conflict("map.export_too_large", format!("结果超过 {max} 个，请缩小查询范围后导出")));
                    }
                }
            }
        }
        Ok((layer, out))
    }

    /// The ids (ascending) of the features in scope the query's shape matches.
    async fn matching_ids(&self, actor: &Principal, layer_id: i64, req: &QueryRequest) -> IamResult<(crate::Layer, Crs, Vec<i64>)> {
        let layer = self.layer(actor, layer_id).await?;
        let crs = parse_crs(req.crs.as_deref())?;
        let region = req
            .region_code
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(RegionCode::parse)
            .transpose()
            .map_err(|e| IamError::field("region_code", e.to_string()))?;
        let scope = actor.scope.narrow(region.as_ref()).ok_or(IamError::OutOfScope)?;
        for f in &req.filters {
            if !layer.attr_schema.iter().any(|a| a.name == f.field) && f.field != "name" {
                return Err(IamError::field("filters", format!("图层没有属性 {}", f.field)));
            }
            if !["eq", "ne", "gt", "lt", "contains"].contains(&f.op.as_str()) {
                return Err(IamError::field("filters", "条件须为 eq、ne、gt、lt 或 contains"));
            }
        }
        let shape = self.prepare_shape(actor, &req.shape, crs).await?;
        let data = self.layer_index(layer.id).await?;
        let (lo, hi) = scope.subtree_bounds();
        let ids: Vec<i64> = {
            let d = data.read().map_err(lock_err)?;
            d.index
                .query(&shape, req.mode)
                .into_iter()
                .filter(|id| d.regions.get(id).is_some_and(|r| r.as_str() >= lo.as_str() && r.as_str() < hi.as_str()))
                .map(|id| id as i64)
                .collect()
        };
        Ok((layer, crs, ids))
    }

    async fn fetch_features(&self, layer_id: i64, ids: &[i64], crs: Crs) -> IamResult<Vec<Feature>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut s = SqlBuf::new(SELECT);
            s.push(" WHERE f.layer_id = ").bind(layer_id).push(" AND f.id IN (");
            s.bind_list(chunk.iter().copied());
            s.push(") ORDER BY f.id");
            for r in s.query().fetch_all(self.iam.db().pool()).await? {
                out.push(from_row(&r, crs)?);
            }
        }
        Ok(out)
    }

    /// 空间判断: for each point, the finest region it falls in and, with a shape, whether the
    /// shape covers it.
    pub async fn judge(&self, actor: &Principal, req: &JudgeRequest) -> IamResult<Vec<Judgment>> {
        if req.points.is_empty() || req.points.len() > MAX_JUDGE_POINTS {
            return Err(IamError::field("points", format!("点的数量须为 1 至 {MAX_JUDGE_POINTS} 个")));
        }
        let crs = parse_crs(req.crs.as_deref())?;
        let shape = match &req.shape {
            Some(s) => Some(self.prepare_shape(actor, s, crs).await?),
            None => None,
        };
        let regions = self.region_index().await?;
        let names = self.region_names().await?;
        let mut out = Vec::with_capacity(req.points.len());
        for p in &req.points {
            if !p[0].is_finite() || !p[1].is_finite() {
                return Err(IamError::field("points", "坐标须为有限数字"));
            }
            let c = crs.to_canonical(Coord { x: p[0], y: p[1] });
            let region = crate::boundaries::finest(&regions, c);
            // A region outside the user's line of the hierarchy is not disclosed.
            let region = region.filter(|code| {
                RegionCode::parse(code).is_ok_and(|rc| actor.scope.region.contains(&rc) || rc.contains(&actor.scope.region))
            });
            out.push(Judgment {
                lon: p[0],
                lat: p[1],
                inside: shape.as_ref().map(|s| s.covers(c)),
                region_name: region.as_ref().and_then(|r| names.get(r).cloned()),
                region_code: region,
            });
        }
        Ok(out)
    }

    async fn region_names(&self) -> IamResult<std::collections::HashMap<String, String>> {
        use sqlx::Row;
        let rows = sqlx::query("SELECT b.region_code, r.name FROM region_boundaries b JOIN regions r ON r.code = b.region_code")
            .fetch_all(self.iam.db().pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
    }

    /// Points of a layer in a box, in the user's scope (for subsets the pyramid cannot serve).
    fn scoped_points(&self, data: &crate::LayerData, actor: &Principal, bbox: Rect) -> Vec<(u64, Coord)> {
        let (lo, hi) = actor.scope.bounds();
        data.index
            .in_rect(bbox)
            .filter(|(id, _)| data.regions.get(id).is_some_and(|r| r.as_str() >= lo.as_str() && r.as_str() < hi.as_str()))
            .collect()
    }

    /// Whether the user's scope holds every feature of the layer (then the layer-wide pyramid
    /// answers directly).
    fn whole_layer(data: &crate::LayerData, actor: &Principal) -> bool {
        let (lo, hi) = actor.scope.bounds();
        data.regions.values().all(|r| r.as_str() >= lo.as_str() && r.as_str() < hi.as_str())
    }

    /// Clusters of a layer's features for a viewport (canonical bbox) and zoom.
    pub async fn clusters(&self, actor: &Principal, layer_id: i64, bbox: Rect, zoom: f64) -> IamResult<Vec<Cluster>> {
        let layer = self.layer(actor, layer_id).await?;
        let data = self.layer_index(layer.id).await?;
        let d = data.read().map_err(lock_err)?;
        if Self::whole_layer(&d, actor) {
            return Ok(d.index.clusters(bbox, zoom));
        }
        Ok(tg_spatial::cluster_points(self.scoped_points(&d, actor, bbox).into_iter(), zoom))
    }

    /// A heat grid of a layer's features for a viewport and zoom.
    pub async fn heat(&self, actor: &Principal, layer_id: i64, bbox: Rect, zoom: f64) -> IamResult<Vec<HeatCell>> {
        let layer = self.layer(actor, layer_id).await?;
        let data = self.layer_index(layer.id).await?;
        let d = data.read().map_err(lock_err)?;
        if Self::whole_layer(&d, actor) {
            return Ok(d.index.heat(bbox, zoom));
        }
        Ok(tg_spatial::heat_points(self.scoped_points(&d, actor, bbox).into_iter(), zoom))
    }

    /// A Mapbox Vector Tile of a layer (features as points at their anchors: raw with `id`, or
    /// thinned cells with `count`).
    pub async fn tile(&self, actor: &Principal, layer_id: i64, tile: TileId) -> IamResult<Vec<u8>> {
        let layer = self.layer(actor, layer_id).await?;
        let data = self.layer_index(layer.id).await?;
        let content = {
            let d = data.read().map_err(lock_err)?;
            if Self::whole_layer(&d, actor) {
                d.index.tile_points(tile, 20_000)
            } else {
                tg_spatial::tile_subset(tile, self.scoped_points(&d, actor, tile.lonlat_bounds()), 20_000)
            }
        };
        let mut lb = LayerBuilder::new(&layer.code);
        match content {
            TilePoints::Raw(pts) => {
                for (id, c) in pts {
                    let (x, y) = tile.to_tile_frame(c, EXTENT);
                    lb.add(
                        Some(id),
                        &TileGeometry::Points(vec![(x.floor() as i32, y.floor() as i32)]),
                        &[("id", MvtValue::Int(id as i64))],
                    );
                }
            }
            TilePoints::Thinned(cells) => {
                for cl in cells {
                    let (x, y) = tile.to_tile_frame(Coord { x: cl.lon, y: cl.lat }, EXTENT);
                    let mut props = vec![("count", MvtValue::Int(cl.count as i64))];
                    if let Some(id) = cl.id {
                        props.push(("id", MvtValue::Int(id as i64)));
                    }
                    lb.add(cl.id, &TileGeometry::Points(vec![(x.floor() as i32, y.floor() as i32)]), &props);
                }
            }
        }
        Ok(encode_tile(&[lb]))
    }
}

fn matches(f: &Feature, flt: &AttrFilter) -> bool {
    let v = if flt.field == "name" { Value::String(f.name.clone()) } else { f.properties.get(&flt.field).cloned().unwrap_or(Value::Null) };
    let cmp = |a: &Value, b: &Value| -> Option<std::cmp::Ordering> {
        match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => match (a.as_str(), b.as_str()) {
                (Some(x), Some(y)) => Some(x.cmp(y)),
                _ => None,
            },
        }
    };
    match flt.op.as_str() {
        "eq" => v == flt.value || cmp(&v, &flt.value) == Some(std::cmp::Ordering::Equal),
        "ne" => !(v == flt.value || cmp(&v, &flt.value) == Some(std::cmp::Ordering::Equal)),
        "gt" => cmp(&v, &flt.value) == Some(std::cmp::Ordering::Greater),
        "lt" => cmp(&v, &flt.value) == Some(std::cmp::Ordering::Less),
        "contains" => match (v.as_str(), flt.value.as_str()) {
            (Some(a), Some(b)) => a.contains(b),
            _ => false,
        },
        _ => false,
    }
}
