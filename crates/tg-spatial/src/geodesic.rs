//! Distances on the WGS-84 ellipsoid.
//!
//! The exact answer is Karney's geodesic (GeographicLib). Hot loops first use a local
//! equirectangular approximation with a proven error margin and fall back to the exact
//! geodesic only for points within that margin of the threshold, so answers are the geodesic
//! ones at a fraction of the cost.

use geo_types::Coord;
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use std::sync::OnceLock;

fn wgs84() -> &'static Geodesic {
    static G: OnceLock<Geodesic> = OnceLock::new();
    G.get_or_init(Geodesic::wgs84)
}

const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;
const E2: f64 = F * (2.0 - F);

/// Geodesic distance in metres between two lon/lat points.
pub fn distance_m(a: Coord, b: Coord) -> f64 {
    wgs84().inverse(a.y, a.x, b.y, b.x)
}

/// Distance and forward azimuth (degrees) from `a` to `b`.
pub fn distance_azimuth(a: Coord, b: Coord) -> (f64, f64) {
    let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) = wgs84().inverse(a.y, a.x, b.y, b.x);
    (s12, azi1)
}

/// The point `s` metres from `a` along azimuth `azi` (degrees).
pub fn destination(a: Coord, azi: f64, s: f64) -> Coord {
    let (lat, lon): (f64, f64) = wgs84().direct(a.y, a.x, azi, s);
    Coord { x: lon, y: lat }
}

/// Metres per degree of latitude and of longitude at latitude `lat` (degrees): the meridian
/// and the parallel radii of curvature of the ellipsoid.
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    let phi = lat.to_radians();
    let s = phi.sin();
    let w = (1.0 - E2 * s * s).sqrt();
    let m = A * (1.0 - E2) / (w * w * w); // meridional radius
    let n = A / w; // prime vertical radius
    let k = std::f64::consts::PI / 180.0;
    (m * k, n * phi.cos() * k)
}

/// Distances up to which the local approximation is trusted with [`approx_margin`].
pub const APPROX_LIMIT_M: f64 = 50_000.0;

/// The error bound of [`LocalFrame`] distances of up to `d` metres: 1e-3 relative plus
/// half a metre. A property test shows the real error stays below a tenth of this for all
/// distances up to [`APPROX_LIMIT_M`] at latitudes up to 60°.
pub fn approx_margin(d: f64) -> f64 {
    1e-3 * d + 0.5
}

/// A local equirectangular frame around an origin, in metres.
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    origin: Coord,
    ky: f64,
    kx: f64,
}

impl LocalFrame {
    pub fn new(origin: Coord) -> Self {
        let (ky, kx) = metres_per_degree(origin.y);
        LocalFrame { origin, ky, kx }
    }

    /// Projects a lon/lat point into the frame (metres east, north of the origin). The
    /// longitude scale uses the mean latitude of the origin and the point, which removes the
    /// first-order error of a fixed-latitude frame.
    #[inline]
    pub fn project(&self, c: Coord) -> (f64, f64) {
        let mid: f64 = 0.5 * (self.origin.y + c.y);
        let kx = self.kx * mid.to_radians().cos() / self.origin.y.to_radians().cos().max(1e-12);
        ((c.x - self.origin.x) * kx, (c.y - self.origin.y) * self.ky)
    }

    /// Approximate distance from the origin to `c`.
    #[inline]
    pub fn distance(&self, c: Coord) -> f64 {
        let (x, y) = self.project(c);
        x.hypot(y)
    }
}

/// Distance from point `p` to the geodesic segment from `a` to `b`, in metres, by
/// golden-section search along the segment (the distance to points of a geodesic segment is
/// unimodal for segments far shorter than a quarter meridian).
pub fn distance_to_segment_m(p: Coord, a: Coord, b: Coord) -> f64 {
    let (len, azi) = distance_azimuth(a, b);
    if len < 1e-6 {
        return distance_m(p, a);
    }
    let f = |t: f64| distance_m(p, destination(a, azi, t));
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = (0.0, len);
    let mut x1 = hi - phi * (hi - lo);
    let mut x2 = lo + phi * (hi - lo);
    let mut f1 = f(x1);
    let mut f2 = f(x2);
    while hi - lo > 1e-4 {
        if f1 <= f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - phi * (hi - lo);
            f1 = f(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + phi * (hi - lo);
            f2 = f(x2);
        }
    }
    let interior = f(0.5 * (lo + hi));
    interior.min(distance_m(p, a)).min(distance_m(p, b))
}

/// Splits the geodesic from `a` to `b` into pieces no longer than `max_piece` metres;
/// returns the vertices including both ends.
pub fn densify(a: Coord, b: Coord, max_piece: f64) -> Vec<Coord> {
    let (len, azi) = distance_azimuth(a, b);
    let n = (len / max_piece).ceil().max(1.0) as usize;
    let mut out = Vec::with_capacity(n + 1);
    out.push(a);
    for i in 1..n {
        out.push(destination(a, azi, len * i as f64 / n as f64));
    }
    out.push(b);
    out
}

/// Squared planar distance from the origin to the segment (x1,y1)-(x2,y2).
#[inline]
pub(crate) fn origin_segment_dist2(x1: f64, y1: f64, x2: f64, y2: f64) -> f64 {
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (-(x1 * dx + y1 * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (x, y) = (x1 + t * dx, y1 + t * dy);
    x * x + y * y
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_distance() {
        // GeographicLib's documented example: Wellington to Salamanca.
        let d = distance_m(Coord { x: 174.81, y: -41.32 }, Coord { x: -5.50, y: 40.96 });
        assert!((d - 19_959_679.267).abs() < 1e-3, "{d}");
    }

    #[test]
    fn segment_distance_matches_perpendicular_foot() {
        let a = Coord { x: 112.0, y: 22.9 };
        let b = Coord { x: 112.1, y: 22.9 };
        // A point 300 m north of the middle of the segment.
        let mid = destination(a, distance_azimuth(a, b).1, distance_m(a, b) / 2.0);
        let p = destination(mid, 0.0, 300.0);
        let d = distance_to_segment_m(p, a, b);
        assert!((d - 300.0).abs() < 0.5, "{d}");
        // Beyond the end the nearest point is the end itself.
        let q = Coord { x: 112.2, y: 22.9 };
        assert!((distance_to_segment_m(q, a, b) - distance_m(q, b)).abs() < 1e-6);
    }

    proptest! {
        #[test]
        fn local_frame_error_is_within_a_tenth_of_the_margin(
            lon in 73.0f64..135.0, lat in -60.0f64..60.0, azi in -180.0f64..180.0, d in 0.0f64..APPROX_LIMIT_M
        ) {
            let o = Coord { x: lon, y: lat };
            let p = destination(o, azi, d);
            let approx = LocalFrame::new(o).distance(p);
            prop_assert!((approx - d).abs() < approx_margin(d) / 10.0, "approx {} exact {}", approx, d);
        }
    }
}
