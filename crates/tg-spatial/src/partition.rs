//! Partitioning an area into cells around seed points (Voronoi cells clipped to the area): used
//! to generate clearly-labelled demo boundaries for towns and villages that tile their county
//! until the city imports real ones.

use geo::{Area, BooleanOps};
use geo_types::{Coord, LineString, MultiPolygon, Polygon};

use crate::area::PreparedArea;

/// Clips a convex polygon (ring without the closing point) by the half-plane of points at least
/// as close to `a` as to `b`.
fn clip_half_plane(poly: &[Coord], a: Coord, b: Coord) -> Vec<Coord> {
    // Keep p where (p - m)·(b - a) <= 0, m the midpoint.
    let m = Coord { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 };
    let d = Coord { x: b.x - a.x, y: b.y - a.y };
    let side = |p: Coord| (p.x - m.x) * d.x + (p.y - m.y) * d.y;
    let mut out = Vec::with_capacity(poly.len() + 1);
    for i in 0..poly.len() {
        let (p, q) = (poly[i], poly[(i + 1) % poly.len()]);
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp < 0.0 && sq > 0.0) || (sp > 0.0 && sq < 0.0) {
            let t = sp / (sp - sq);
            out.push(Coord { x: p.x + t * (q.x - p.x), y: p.y + t * (q.y - p.y) });
        }
    }
    out
}

/// The Voronoi cell of each seed, clipped to `container`. Cells tile the container (up to the
/// rounding of the polygon clipping); a seed outside the container may get an empty cell.
pub fn voronoi_partition(container: &MultiPolygon, seeds: &[Coord]) -> Vec<MultiPolygon> {
    let Some(area) = PreparedArea::new(container) else { return vec![MultiPolygon(vec![]); seeds.len()] };
    let bb = area.bbox();
    let pad = (bb.width() + bb.height()).max(1e-9);
    let frame = vec![
        Coord { x: bb.min().x - pad, y: bb.min().y - pad },
        Coord { x: bb.max().x + pad, y: bb.min().y - pad },
        Coord { x: bb.max().x + pad, y: bb.max().y + pad },
        Coord { x: bb.min().x - pad, y: bb.max().y + pad },
    ];
    seeds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut cell = frame.clone();
            for (j, o) in seeds.iter().enumerate() {
                if i != j && o != s {
                    cell = clip_half_plane(&cell, *s, *o);
                    if cell.len() < 3 {
                        return MultiPolygon(vec![]);
                    }
                }
            }
            let mut ring = cell.clone();
            ring.push(cell[0]);
            let poly = Polygon::new(LineString(ring), vec![]);
            poly.intersection(container)
        })
        .collect()
}

/// `n` seed points spread over an area (best-candidate sampling: each new seed is the candidate
/// farthest from the seeds so far), deterministic for a given `seed`.
pub fn spread_seeds(container: &MultiPolygon, n: usize, seed: u64) -> Vec<Coord> {
    let Some(area) = PreparedArea::new(container) else { return Vec::new() };
    let bb = area.bbox();
    let mut rng = crate::rng::SplitMix64(seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut unit = || rng.unit();
    let mut out: Vec<Coord> = Vec::with_capacity(n);
    let mut guard = 0;
    while out.len() < n && guard < n * 400 {
        let mut best: Option<(f64, Coord)> = None;
        let mut found = 0;
        while found < 12 && guard < n * 400 {
            guard += 1;
            let c = Coord { x: bb.min().x + unit() * bb.width(), y: bb.min().y + unit() * bb.height() };
            if !area.covers(c) {
                continue;
            }
            found += 1;
            let d = out.iter().map(|o| (o.x - c.x).powi(2) + (o.y - c.y).powi(2)).fold(f64::INFINITY, f64::min);
            if best.is_none_or(|(bd, _)| d > bd) {
                best = Some((d, c));
            }
        }
        match best {
            Some((_, c)) => out.push(c),
            None => break,
        }
    }
    out
}

/// Unsigned area in square degrees (for tests and sanity checks).
pub fn area_deg2(mp: &MultiPolygon) -> f64 {
    mp.unsigned_area()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn cells_tile_the_container() {
        let l_shape = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 3.0), (x: 0.0, y: 3.0), (x: 0.0, y: 0.0)
        ]]);
        let seeds = spread_seeds(&l_shape, 7, 42);
        assert_eq!(seeds.len(), 7);
        let cells = voronoi_partition(&l_shape, &seeds);
        let total: f64 = cells.iter().map(area_deg2).sum();
        assert!((total - area_deg2(&l_shape)).abs() < 1e-6, "{total}"); // polygon clipping snaps to a fine integer grid
                                                                        // Every probe point inside the container falls in exactly one cell's interior or on borders.
        let prepared: Vec<PreparedArea> = cells.iter().filter_map(PreparedArea::new).collect();
        assert_eq!(prepared.len(), 7);
        for i in 0..40 {
            for j in 0..30 {
                let p = Coord { x: 0.05 + i as f64 * 0.1, y: 0.05 + j as f64 * 0.1 };
                let n = prepared.iter().filter(|a| a.covers(p)).count();
                let inside = PreparedArea::new(&l_shape).unwrap().covers(p);
                assert_eq!(n >= 1, inside, "{p:?}");
                assert!(n <= 2, "{p:?} in {n} cells");
            }
        }
        // Each seed lies in its own cell.
        for (s, a) in seeds.iter().zip(&prepared) {
            assert!(a.covers(*s));
        }
    }
}
