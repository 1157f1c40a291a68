//! A point layer's in-memory index: an R-tree for exact queries, plus a multi-level grid
//! aggregate for clustering, heat grids and thinned vector tiles. Both are updated in place
//! on insert, move and delete; nothing is rebuilt.

use std::collections::{BTreeMap, HashMap};

use geo_types::{Coord, Rect};
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};
use serde::Serialize;

use crate::crs::{lonlat_to_world, world_to_lonlat};
use crate::shape::{MatchMode, PreparedShape};
use crate::tile::TileId;

type Entry = GeomWithData<[f64; 2], u64>;

/// The deepest zoom level with a precomputed aggregate. Beyond it clusters are computed
/// from the R-tree for the viewport (few points are visible at such zooms).
pub const MAX_CLUSTER_ZOOM: u8 = 16;
/// Cells per tile side at a zoom's cluster level: 4 cells of 64 px on a 256 px tile.
const CLUSTER_SHIFT: u8 = 2;
/// Extra levels for heat cells (16 px) and tile thinning (4 px), capped at the deepest
/// stored level (at high zooms heat cells and thinning cells grow coarser than that).
const HEAT_SHIFT: u8 = 4;
const THIN_SHIFT: u8 = 6;
/// Levels stored: cell grids with 2^l cells per world side, l = 0 ..= MAX_LEVEL (level 18
/// cells are about 150 m across; deeper levels would hold one entry per point).
const MAX_LEVEL: u8 = MAX_CLUSTER_ZOOM + CLUSTER_SHIFT;

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    count: u32,
    sx: f64,
    sy: f64,
    /// Sum of the ids (wrapping): equal to the single id when `count == 1`.
    ids: u64,
}

/// A cluster or a single point in a viewport.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cluster {
    pub lon: f64,
    pub lat: f64,
    pub count: u32,
    /// The point's id when `count == 1`.
    pub id: Option<u64>,
}

/// A heat-grid cell: the centroid of the points in it and their number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeatCell {
    pub lon: f64,
    pub lat: f64,
    pub weight: u32,
}

/// What a vector tile of a point layer carries.
#[derive(Debug, Clone, PartialEq)]
pub enum TilePoints {
    /// Individual points: id and lon/lat.
    Raw(Vec<(u64, Coord)>),
    /// Too many points for one tile: one feature per 4 px cell, with its count.
    Thinned(Vec<Cluster>),
}

/// The point index of one layer.
#[derive(Debug, Clone)]
pub struct PointIndex {
    tree: RTree<Entry>,
    positions: HashMap<u64, Coord>,
    /// levels[l]: cell key (row << 32 | col) → aggregate, for l in 0..=MAX_LEVEL.
    levels: Vec<BTreeMap<u64, Cell>>,
}

impl Default for PointIndex {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn cell_key(wx: f64, wy: f64, level: u8) -> u64 {
    let n = (1u64 << level) as f64;
    let cx = ((wx * n) as u64).min((1u64 << level) - 1);
    let cy = ((wy * n) as u64).min((1u64 << level) - 1);
    (cy << 32) | cx
}

impl PointIndex {
    pub fn new() -> Self {
        PointIndex { tree: RTree::new(), positions: HashMap::new(), levels: vec![BTreeMap::new(); MAX_LEVEL as usize + 1] }
    }

    /// Builds the index in bulk (much faster than inserting one by one). Later duplicates of
    /// an id replace earlier ones.
    pub fn bulk_load(points: Vec<(u64, Coord)>) -> Self {
        let mut positions: HashMap<u64, Coord> = HashMap::with_capacity(points.len());
        for (id, c) in &points {
            positions.insert(*id, *c);
        }
        let entries: Vec<Entry> = positions.iter().map(|(id, c)| GeomWithData::new([c.x, c.y], *id)).collect();
        // Deepest level first from sorted keys, then each parent from its children.
        let mut cells: Vec<(u64, Cell)> = positions
            .iter()
            .map(|(id, c)| {
                let (wx, wy) = lonlat_to_world(*c);
                (cell_key(wx, wy, MAX_LEVEL), Cell { count: 1, sx: wx, sy: wy, ids: *id })
            })
            .collect();
        let mut levels: Vec<BTreeMap<u64, Cell>> = vec![BTreeMap::new(); MAX_LEVEL as usize + 1];
        for level in (0..=MAX_LEVEL).rev() {
            cells.sort_unstable_by_key(|(k, _)| *k);
            let mut merged: Vec<(u64, Cell)> = Vec::with_capacity(cells.len());
            for (k, c) in cells {
                match merged.last_mut() {
                    Some((lk, lc)) if *lk == k => {
                        lc.count += c.count;
                        lc.sx += c.sx;
                        lc.sy += c.sy;
                        lc.ids = lc.ids.wrapping_add(c.ids);
                    }
                    _ => merged.push((k, c)),
                }
            }
            cells = merged.iter().map(|(k, c)| (((k >> 33) << 32) | ((k & 0xffff_ffff) >> 1), *c)).collect();
            levels[level as usize] = merged.into_iter().collect();
        }
        PointIndex { tree: RTree::bulk_load(entries), positions, levels }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<Coord> {
        self.positions.get(&id).copied()
    }

    fn aggregate(&mut self, c: Coord, id: u64, sign: i8) {
        let (wx, wy) = lonlat_to_world(c);
        for level in 0..=MAX_LEVEL {
            let key = cell_key(wx, wy, level);
            let map = &mut self.levels[level as usize];
            if sign > 0 {
                let cell = map.entry(key).or_default();
                cell.count += 1;
                cell.sx += wx;
                cell.sy += wy;
                cell.ids = cell.ids.wrapping_add(id);
            } else if let Some(cell) = map.get_mut(&key) {
                cell.count -= 1;
                if cell.count == 0 {
                    map.remove(&key);
                } else {
                    cell.sx -= wx;
                    cell.sy -= wy;
                    cell.ids = cell.ids.wrapping_sub(id);
                }
            }
        }
    }

    /// Inserts a point or moves an existing one.
    pub fn upsert(&mut self, id: u64, c: Coord) {
        self.remove(id);
        self.tree.insert(GeomWithData::new([c.x, c.y], id));
        self.positions.insert(id, c);
        self.aggregate(c, id, 1);
    }

    /// Removes a point; returns whether it was there.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(c) = self.positions.remove(&id) else { return false };
        self.tree.remove(&GeomWithData::new([c.x, c.y], id));
        self.aggregate(c, id, -1);
        true
    }

    /// Ids of the points in a lon/lat box (edges included).
    pub fn in_rect(&self, r: Rect) -> impl Iterator<Item = (u64, Coord)> + '_ {
        let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        self.tree.locate_in_envelope(&env).map(|e| (e.data, Coord { x: e.geom()[0], y: e.geom()[1] }))
    }

    /// Ids of the points matching a shape, in ascending id order. `Outside` returns every
    /// point the shape does not cover.
    pub fn query(&self, shape: &PreparedShape, mode: MatchMode) -> Vec<u64> {
        let mut out: Vec<u64> = match mode {
            MatchMode::Inside => self.in_rect(shape.bbox()).filter(|(_, c)| shape.covers(*c)).map(|(id, _)| id).collect(),
            MatchMode::Outside => {
                let bb = shape.bbox();
                self.positions
                    .iter()
                    .filter(|(_, c)| c.x < bb.min().x || c.x > bb.max().x || c.y < bb.min().y || c.y > bb.max().y || !shape.covers(**c))
                    .map(|(id, _)| *id)
                    .collect()
            }
        };
        out.sort_unstable();
        out
    }

    /// Number of points matching a shape.
    pub fn count(&self, shape: &PreparedShape) -> usize {
        self.in_rect(shape.bbox()).filter(|(_, c)| shape.covers(*c)).count()
    }

    fn cells_in(&self, r: Rect, level: u8) -> Vec<(u64, Cell)> {
        let (x0, y1) = lonlat_to_world(r.min());
        let (x1, y0) = lonlat_to_world(r.max());
        let k0 = cell_key(x0, y0, level);
        let k1 = cell_key(x1, y1, level);
        let (r0, c0, r1, c1) = (k0 >> 32, k0 & 0xffff_ffff, k1 >> 32, k1 & 0xffff_ffff);
        let map = &self.levels[level as usize];
        let mut out = Vec::new();
        for row in r0..=r1 {
            for (k, c) in map.range((row << 32) | c0..=(row << 32) | c1) {
                out.push((*k, *c));
            }
        }
        out
    }

    fn to_cluster(c: &Cell) -> Cluster {
        let n = c.count as f64;
        let ll = world_to_lonlat(c.sx / n, c.sy / n);
        Cluster { lon: ll.x, lat: ll.y, count: c.count, id: (c.count == 1).then_some(c.ids) }
    }

    /// Clusters for a viewport at a map zoom (grid clustering with 64 px cells; a cluster's
    /// position is the mean of its points). Above [`MAX_CLUSTER_ZOOM`] every point is its own
    /// cluster.
    pub fn clusters(&self, viewport: Rect, zoom: f64) -> Vec<Cluster> {
        let z = zoom.floor().clamp(0.0, 30.0) as u8;
        if z > MAX_CLUSTER_ZOOM {
            return self.in_rect(viewport).map(|(id, c)| Cluster { lon: c.x, lat: c.y, count: 1, id: Some(id) }).collect();
        }
        self.cells_in(viewport, z + CLUSTER_SHIFT).iter().map(|(_, c)| Self::to_cluster(c)).collect()
    }

    /// A heat grid for a viewport: 16 px cells with their point counts.
    pub fn heat(&self, viewport: Rect, zoom: f64) -> Vec<HeatCell> {
        let z = zoom.floor().clamp(0.0, 30.0) as u8;
        let level = (z + HEAT_SHIFT).min(MAX_LEVEL);
        self.cells_in(viewport, level)
            .iter()
            .map(|(_, c)| {
                let cl = Self::to_cluster(c);
                HeatCell { lon: cl.lon, lat: cl.lat, weight: c.count }
            })
            .collect()
    }

    /// The points of a vector tile: raw when at most `raw_limit` fall in it, otherwise one
    /// feature per 4 px cell with a count (the tile stays small at any zoom).
    pub fn tile_points(&self, tile: TileId, raw_limit: usize) -> TilePoints {
        let bounds = tile.lonlat_bounds();
        let level = tile.z.saturating_add(THIN_SHIFT).min(MAX_LEVEL);
        let cells = self.cells_in(bounds, level);
        let total: u64 = cells.iter().map(|(_, c)| c.count as u64).sum();
        if total as usize <= raw_limit {
            let mut pts: Vec<(u64, Coord)> = self
                .in_rect(bounds)
                .filter(|(_, c)| {
                    // Half-open tile ownership so a point on a tile border is drawn once.
                    let (wx, wy) = lonlat_to_world(*c);
                    tile.owns_world(wx, wy)
                })
                .collect();
            pts.sort_unstable_by_key(|(id, _)| *id);
            return TilePoints::Raw(pts);
        }
        TilePoints::Thinned(
            cells
                .iter()
                .filter(|(_, c)| {
                    let n = c.count as f64;
                    tile.owns_world(c.sx / n, c.sy / n)
                })
                .map(|(_, c)| Self::to_cluster(c))
                .collect(),
        )
    }
}

/// Grid aggregation of an arbitrary set of points (for subsets such as the points of one
/// town, where the layer-wide pyramid does not apply): the same cells as the pyramid.
fn aggregate_points(points: impl Iterator<Item = (u64, Coord)>, level: u8) -> Vec<Cluster> {
    let mut cells: HashMap<u64, Cell> = HashMap::new();
    for (id, c) in points {
        let (wx, wy) = lonlat_to_world(c);
        let cell = cells.entry(cell_key(wx, wy, level)).or_default();
        cell.count += 1;
        cell.sx += wx;
        cell.sy += wy;
        cell.ids = cell.ids.wrapping_add(id);
    }
    let mut out: Vec<(u64, Cluster)> = cells.into_iter().map(|(k, c)| (k, PointIndex::to_cluster(&c))).collect();
    out.sort_unstable_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, c)| c).collect()
}

/// [`PointIndex::clusters`] over a subset of points.
pub fn cluster_points(points: impl Iterator<Item = (u64, Coord)>, zoom: f64) -> Vec<Cluster> {
    let z = zoom.floor().clamp(0.0, 30.0) as u8;
    if z > MAX_CLUSTER_ZOOM {
        return points.map(|(id, c)| Cluster { lon: c.x, lat: c.y, count: 1, id: Some(id) }).collect();
    }
    aggregate_points(points, z + CLUSTER_SHIFT)
}

/// [`PointIndex::heat`] over a subset of points.
pub fn heat_points(points: impl Iterator<Item = (u64, Coord)>, zoom: f64) -> Vec<HeatCell> {
    let z = zoom.floor().clamp(0.0, 30.0) as u8;
    aggregate_points(points, (z + HEAT_SHIFT).min(MAX_LEVEL))
        .into_iter()
        .map(|c| HeatCell { lon: c.lon, lat: c.lat, weight: c.count })
        .collect()
}

/// [`PointIndex::tile_points`] over a subset of points (already limited to the tile's box).
pub fn tile_subset(tile: TileId, points: Vec<(u64, Coord)>, raw_limit: usize) -> TilePoints {
    let mut pts: Vec<(u64, Coord)> = points
        .into_iter()
        .filter(|(_, c)| {
            let (wx, wy) = lonlat_to_world(*c);
            tile.owns_world(wx, wy)
        })
        .collect();
    if pts.len() <= raw_limit {
        pts.sort_unstable_by_key(|(id, _)| *id);
        return TilePoints::Raw(pts);
    }
    TilePoints::Thinned(aggregate_points(pts.into_iter(), tile.z.saturating_add(THIN_SHIFT).min(MAX_LEVEL)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;
    use geo_types::coord;
    use proptest::prelude::*;

    fn demo(n: u64) -> Vec<(u64, Coord)> {
        let mut s = 42u64;
        (0..n)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let x = 111.0 + 1.6 * ((s >> 11) as f64 / (1u64 << 53) as f64);
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let y = 22.3 + 1.0 * ((s >> 11) as f64 / (1u64 << 53) as f64);
                (i, coord! { x: x, y: y })
            })
            .collect()
    }

    #[test]
    fn bulk_and_incremental_agree() {
        let pts = demo(5000);
        let bulk = PointIndex::bulk_load(pts.clone());
        let mut inc = PointIndex::new();
        for (id, c) in &pts {
            inc.upsert(*id, *c);
        }
        for level in 0..=MAX_LEVEL as usize {
            let a: Vec<(u64, u32, u64)> = bulk.levels[level].iter().map(|(k, c)| (*k, c.count, c.ids)).collect();
            let b: Vec<(u64, u32, u64)> = inc.levels[level].iter().map(|(k, c)| (*k, c.count, c.ids)).collect();
            assert_eq!(a, b, "level {level}");
        }
        // Moving and deleting keep the aggregates exact.
        inc.upsert(7, coord! { x: 112.5, y: 23.2 });
        assert!(inc.remove(8));
        assert!(!inc.remove(8));
        let total: u32 =
            inc.clusters(Rect::new(coord! { x: 110.0, y: 22.0 }, coord! { x: 113.0, y: 24.0 }), 3.0).iter().map(|c| c.count).sum();
        assert_eq!(total, 4999);
        assert_eq!(inc.get(7), Some(coord! { x: 112.5, y: 23.2 }));
    }

    #[test]
    fn clusters_count_every_point_once_and_single_points_keep_ids() {
        let pts = demo(20_000);
        let idx = PointIndex::bulk_load(pts.clone());
        let all = Rect::new(coord! { x: 110.0, y: 22.0 }, coord! { x: 113.0, y: 24.0 });
        for z in [0.0, 5.0, 8.0, 10.0, 12.0, 16.0, 17.0] {
            let cl = idx.clusters(all, z);
            assert_eq!(cl.iter().map(|c| c.count as usize).sum::<usize>(), pts.len(), "zoom {z}");
            for c in cl.iter().filter(|c| c.count == 1) {
                let id = c.id.unwrap();
                let p = pts[id as usize].1;
                assert!((p.x - c.lon).abs() < 1e-9 && (p.y - c.lat).abs() < 1e-9);
            }
        }
        let heat = idx.heat(all, 9.0);
        assert_eq!(heat.iter().map(|h| h.weight as usize).sum::<usize>(), pts.len());
        // The subset functions give the same cells as the pyramid for the same points.
        for z in [6.0, 11.0] {
            let mut a = idx.clusters(all, z);
            let mut b = cluster_points(pts.iter().copied(), z);
            a.sort_by(|x, y| (x.lon, x.lat).partial_cmp(&(y.lon, y.lat)).unwrap());
            b.sort_by(|x, y| (x.lon, x.lat).partial_cmp(&(y.lon, y.lat)).unwrap());
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!((x.count, x.id), (y.count, y.id));
                assert!((x.lon - y.lon).abs() < 1e-9 && (x.lat - y.lat).abs() < 1e-9);
            }
        }
        assert_eq!(heat_points(pts.iter().copied(), 9.0).len(), heat.len());
    }

    #[test]
    fn tiles_partition_the_points() {
        let pts = demo(3000);
        let idx = PointIndex::bulk_load(pts.clone());
        // Zoom 8 tiles covering the area: every point is in exactly one tile.
        let mut total = 0;
        for x in 205..=209 {
            for y in 109..=112 {
                match idx.tile_points(TileId { z: 8, x, y }, 1_000_000) {
                    TilePoints::Raw(p) => total += p.len(),
                    TilePoints::Thinned(_) => unreachable!(),
                }
            }
        }
        assert_eq!(total, pts.len());
        let mut thinned_total = 0;
        for x in 205..=209 {
            for y in 109..=112 {
                if let TilePoints::Thinned(c) = idx.tile_points(TileId { z: 8, x, y }, 10) {
                    thinned_total += c.iter().map(|c| c.count as usize).sum::<usize>();
                }
            }
        }
        assert_eq!(thinned_total, pts.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn queries_match_brute_force(lon in 111.0f64..112.6, lat in 22.3f64..23.3, r in 100.0f64..20_000.0) {
            let pts = demo(4000);
            let idx = PointIndex::bulk_load(pts.clone());
            let shape = Shape::Circle { center: coord! { x: lon, y: lat }, radius_m: r }.prepare().unwrap();
            let mut expect: Vec<u64> = pts.iter().filter(|(_, c)| shape.covers(*c)).map(|(id, _)| *id).collect();
            expect.sort_unstable();
            prop_assert_eq!(idx.query(&shape, MatchMode::Inside), expect.clone());
            let outside = idx.query(&shape, MatchMode::Outside);
            prop_assert_eq!(outside.len() + expect.len(), pts.len());
            prop_assert!(outside.iter().all(|id| expect.binary_search(id).is_err()));
        }
    }
}
