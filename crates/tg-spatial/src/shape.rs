//! Query shapes (空间查询 / 空间判断): polygon, circle, rectangle, buffer around a polyline
//! and administrative region, prepared for fast exact tests. Every shape is in canonical
//! WGS-84 lon/lat; circle radii and buffer distances are metres on the ellipsoid.

use geo_types::{Coord, LineString, MultiPolygon, Rect};
use serde::{Deserialize, Serialize};

use crate::area::{Location, PreparedArea};
use crate::geodesic::{
    approx_margin, densify, distance_m, distance_to_segment_m, metres_per_degree, origin_segment_dist2, LocalFrame, APPROX_LIMIT_M,
};
use crate::SpatialError;

/// Largest circle radius or buffer distance accepted (metres).
pub const MAX_DISTANCE_M: f64 = 500_000.0;

/// A query shape as clients send it (already converted to canonical coordinates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shape {
    /// Polygon or multipolygon (holes allowed).
    Polygon { area: MultiPolygon },
    /// Circle: centre and radius in metres (geodesic).
    Circle { center: Coord, radius_m: f64 },
    /// Longitude/latitude rectangle, edges included.
    Rect { rect: Rect },
    /// Everything within `distance_m` metres (geodesic) of a polyline (线周边).
    LineBuffer { line: LineString, distance_m: f64 },
}

/// Whether a query returns the objects matching the shape or the ones that do not
/// (正向匹配 / 反向匹配).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    Inside,
    Outside,
}

/// A shape prepared for exact, fast containment tests.
#[derive(Debug, Clone)]
pub enum PreparedShape {
    Area(PreparedArea),
    Rect(Rect),
    Circle(Circle),
    LineBuffer(LineBuffer),
}

#[derive(Debug, Clone)]
pub struct Circle {
    center: Coord,
    radius: f64,
    frame: LocalFrame,
    bbox: Rect,
    margin: f64,
}

#[derive(Debug, Clone)]
pub struct LineBuffer {
    vertices: Vec<Coord>,
    /// Densified copy for the approximate test (pieces ≤ 1 km).
    dense: Vec<Coord>,
    distance: f64,
    bbox: Rect,
    margin: f64,
}

fn check_coord(c: Coord) -> Result<(), SpatialError> {
    if !c.x.is_finite() || !c.y.is_finite() || c.x.abs() > 180.0 || c.y.abs() > 90.0 {
        return Err(SpatialError::InvalidGeometry(format!("坐标超出经纬度范围: ({}, {})", c.x, c.y)));
    }
    Ok(())
}

fn check_distance(d: f64, what: &str) -> Result<(), SpatialError> {
    if !(0.0..=MAX_DISTANCE_M).contains(&d) {
        return Err(SpatialError::InvalidGeometry(format!("{what}须在 0 至 {MAX_DISTANCE_M} 米之间")));
    }
    Ok(())
}

/// A lon/lat box that contains every point within `d` metres of the box `r` (with a safety
/// factor, so it is never too small).
fn grow_by_metres(r: Rect, d: f64) -> Rect {
    let max_abs_lat = r.min().y.abs().max(r.max().y.abs());
    let (ky, _) = metres_per_degree(0.0); // the meridian degree is shortest at the equator
    let dlat = d / ky * 1.01 + 1e-9;
    let lat_edge = (max_abs_lat + dlat).min(89.999_999);
    let (_, kx) = metres_per_degree(lat_edge);
    let dlon = (d / kx * 1.01 + 1e-9).min(360.0);
    Rect::new(
        Coord { x: r.min().x - dlon, y: (r.min().y - dlat).max(-90.0) },
        Coord { x: r.max().x + dlon, y: (r.max().y + dlat).min(90.0) },
    )
}

impl Shape {
    /// Validates and prepares the shape.
    pub fn prepare(&self) -> Result<PreparedShape, SpatialError> {
        match self {
            Shape::Polygon { area } => {
                for p in &area.0 {
                    for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                        if ring.0.len() < 4 {
                            return Err(SpatialError::InvalidGeometry("多边形的环至少需要 4 个坐标（首尾相同）".into()));
                        }
                        for c in &ring.0 {
                            check_coord(*c)?;
                        }
                    }
                }
                PreparedArea::new(area).map(PreparedShape::Area).ok_or_else(|| SpatialError::InvalidGeometry("多边形为空".into()))
            }
            Shape::Rect { rect } => {
                check_coord(rect.min())?;
                check_coord(rect.max())?;
                Ok(PreparedShape::Rect(*rect))
            }
            Shape::Circle { center, radius_m } => {
                check_coord(*center)?;
                check_distance(*radius_m, "半径")?;
                let margin = if *radius_m <= APPROX_LIMIT_M { approx_margin(*radius_m) } else { f64::INFINITY };
                Ok(PreparedShape::Circle(Circle {
                    center: *center,
                    radius: *radius_m,
                    frame: LocalFrame::new(*center),
                    bbox: grow_by_metres(Rect::new(*center, *center), *radius_m),
                    margin,
                }))
            }
            Shape::LineBuffer { line, distance_m } => {
                check_distance(*distance_m, "缓冲距离")?;
                if line.0.len() < 2 {
                    return Err(SpatialError::InvalidGeometry("线至少需要 2 个坐标".into()));
                }
                for c in &line.0 {
                    check_coord(*c)?;
                }
                let mut dense = vec![line.0[0]];
                for w in line.0.windows(2) {
                    let piece = densify(w[0], w[1], 1000.0);
                    dense.extend_from_slice(&piece[1..]);
                }
                let mut bb = Rect::new(line.0[0], line.0[0]);
                for c in &dense {
                    bb = crate::area::union(bb, Rect::new(*c, *c));
                }
                let margin = if *distance_m <= APPROX_LIMIT_M { approx_margin(*distance_m) } else { f64::INFINITY };
                Ok(PreparedShape::LineBuffer(LineBuffer {
                    vertices: line.0.clone(),
                    dense,
                    distance: *distance_m,
                    bbox: grow_by_metres(bb, *distance_m),
                    margin,
                }))
            }
        }
    }
}

impl PreparedShape {
    /// A lon/lat box containing every covered point.
    pub fn bbox(&self) -> Rect {
        match self {
            PreparedShape::Area(a) => a.bbox(),
            PreparedShape::Rect(r) => *r,
            PreparedShape::Circle(c) => c.bbox,
            PreparedShape::LineBuffer(l) => l.bbox,
        }
    }

    /// Exact location of `p`. For circles and buffers, `Boundary` means at exactly the
    /// distance (in floating point); such points are covered.
    pub fn locate(&self, p: Coord) -> Location {
        let bb = self.bbox();
        if p.x < bb.min().x || p.x > bb.max().x || p.y < bb.min().y || p.y > bb.max().y {
            return Location::Outside;
        }
        match self {
            PreparedShape::Area(a) => a.locate(p),
            PreparedShape::Rect(r) => {
                if p.x == r.min().x || p.x == r.max().x || p.y == r.min().y || p.y == r.max().y {
                    Location::Boundary
                } else {
                    Location::Inside
                }
            }
            PreparedShape::Circle(c) => {
                let approx = c.frame.distance(p);
                if approx < c.radius - c.margin {
                    return Location::Inside;
                }
                if approx > c.radius + c.margin {
                    return Location::Outside;
                }
                compare(distance_m(c.center, p), c.radius)
            }
            PreparedShape::LineBuffer(l) => {
                let frame = LocalFrame::new(p);
                let mut best = f64::INFINITY;
                let mut prev = frame.project(l.dense[0]);
                for c in &l.dense[1..] {
                    let cur = frame.project(*c);
                    best = best.min(origin_segment_dist2(prev.0, prev.1, cur.0, cur.1));
                    prev = cur;
                }
                let approx = best.sqrt();
                if approx < l.distance - l.margin {
                    return Location::Inside;
                }
                if approx > l.distance + l.margin {
                    return Location::Outside;
                }
                compare(l.exact_distance(p), l.distance)
            }
        }
    }

    /// Inside or on the boundary.
    #[inline]
    pub fn covers(&self, p: Coord) -> bool {
        self.locate(p).covered()
    }

    /// Whether `p` matches in the given mode.
    #[inline]
    pub fn matches(&self, p: Coord, mode: MatchMode) -> bool {
        self.covers(p) == (mode == MatchMode::Inside)
    }
}

impl LineBuffer {
    /// The exact geodesic distance from `p` to the polyline.
    pub fn exact_distance(&self, p: Coord) -> f64 {
        self.vertices.windows(2).map(|w| distance_to_segment_m(p, w[0], w[1])).fold(f64::INFINITY, f64::min)
    }
}

fn compare(d: f64, limit: f64) -> Location {
    if d < limit {
        Location::Inside
    } else if d == limit {
        Location::Boundary
    } else {
        Location::Outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesic::destination;
    use geo_types::{coord, line_string};
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_shapes() {
        assert!(Shape::Circle { center: coord! { x: 200.0, y: 0.0 }, radius_m: 10.0 }.prepare().is_err());
        assert!(Shape::Circle { center: coord! { x: 112.0, y: 23.0 }, radius_m: -1.0 }.prepare().is_err());
        assert!(Shape::Circle { center: coord! { x: 112.0, y: 23.0 }, radius_m: f64::NAN }.prepare().is_err());
        assert!(Shape::LineBuffer { line: line_string![(x: 112.0, y: 23.0)], distance_m: 10.0 }.prepare().is_err());
    }

    #[test]
    fn circle_edge_cases() {
        let c = coord! { x: 112.04, y: 22.92 };
        let s = Shape::Circle { center: c, radius_m: 2000.0 }.prepare().unwrap();
        for azi in [0.0, 45.0, 90.0, 180.0, -90.0] {
            assert!(s.covers(destination(c, azi, 1999.99)), "{azi}");
            assert!(!s.covers(destination(c, azi, 2000.01)), "{azi}");
        }
        assert!(s.covers(c));
    }

    #[test]
    fn buffer_around_a_long_line_follows_the_geodesic() {
        // A 60 km segment: a straight line in lon/lat deviates from the geodesic by metres,
        // so the approximate test alone would misjudge points near the buffer's edge.
        let a = coord! { x: 111.5, y: 22.5 };
        let b = coord! { x: 112.1, y: 22.7 };
        let s = Shape::LineBuffer { line: line_string![a, b], distance_m: 500.0 }.prepare().unwrap();
        let PreparedShape::LineBuffer(lb) = &s else { unreachable!() };
        let (len, azi) = crate::geodesic::distance_azimuth(a, b);
        for f in [0.1, 0.37, 0.5, 0.81] {
            let on = destination(a, azi, len * f);
            for side in [azi + 90.0, azi - 90.0] {
                let inside = destination(on, side, 499.9);
                let outside = destination(on, side, 500.1);
                assert!(s.covers(inside), "{f} {side} {}", lb.exact_distance(inside));
                assert!(!s.covers(outside), "{f} {side} {}", lb.exact_distance(outside));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn circle_agrees_with_geodesic(lon in 111.0f64..112.6, lat in 22.3f64..23.3, r in 10.0f64..5000.0,
                                         pts in proptest::collection::vec((-0.06f64..0.06, -0.06f64..0.06), 100)) {
            let c = coord! { x: lon, y: lat };
            let s = Shape::Circle { center: c, radius_m: r }.prepare().unwrap();
            for (dx, dy) in pts {
                let p = coord! { x: lon + dx, y: lat + dy };
                prop_assert_eq!(s.covers(p), distance_m(c, p) <= r);
            }
        }

        #[test]
        fn buffer_agrees_with_geodesic(x0 in 111.0f64..112.6, y0 in 22.3f64..23.3, dx in -0.1f64..0.1, dy in -0.1f64..0.1,
                                        d in 10.0f64..2000.0, pts in proptest::collection::vec((-0.12f64..0.12, -0.12f64..0.12), 40)) {
            let a = coord! { x: x0, y: y0 };
            let b = coord! { x: x0 + dx, y: y0 + dy };
            let s = Shape::LineBuffer { line: line_string![a, b], distance_m: d }.prepare().unwrap();
            let PreparedShape::LineBuffer(lb) = &s else { unreachable!() };
            for (px, py) in pts {
                let p = coord! { x: x0 + px, y: y0 + py };
                prop_assert_eq!(s.covers(p), lb.exact_distance(p) <= d);
            }
        }
    }
}
