//! Coordinate reference systems used in China and the transforms between them.
//!
//! The canonical CRS of every stored geometry is WGS-84 longitude/latitude (EPSG:4326).
//! CGCS2000 (EPSG:4490) is treated as identical to WGS-84: the two reference frames differ by
//! a few centimetres (well under a metre) at the current epoch, far below the accuracy of
//! the data this platform handles. GCJ-02 (the obfuscated frame every Chinese web map uses)
//! and BD-09 (Baidu) have closed-form forward transforms; their inverses are solved by
//! fixed-point iteration until the forward transform of the answer reproduces the input to
//! better than 1e-9 degrees (about 0.1 mm), far inside the 0.5 m requirement.

use std::fmt;
use std::str::FromStr;

use geo_types::Coord;
use serde::{Deserialize, Serialize};

/// A coordinate reference system accepted by every API that takes or returns coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Crs {
    /// WGS-84 longitude/latitude, EPSG:4326: the canonical storage CRS.
    #[default]
    Wgs84,
    /// CGCS2000 longitude/latitude, EPSG:4490: treated as WGS-84 (sub-metre difference).
    Cgcs2000,
    /// GCJ-02 (国测局坐标): 高德, 腾讯 and 天地图-derived web maps.
    Gcj02,
    /// BD-09 (百度坐标).
    Bd09,
    /// Web Mercator metres, EPSG:3857.
    WebMercator,
}

/// An unknown CRS name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coordinate system {0:?}; use EPSG:4326, EPSG:4490, GCJ02, BD09 or EPSG:3857")]
pub struct UnknownCrs(pub String);

impl FromStr for Crs {
    type Err = UnknownCrs;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s.trim().chars().filter(|c| !matches!(c, '-' | '_' | ' ')).collect::<String>().to_ascii_uppercase();
        let norm = norm.trim_start_matches("URN:OGC:DEF:CRS:").trim_start_matches("HTTP://WWW.OPENGIS.NET/DEF/CRS/").to_string();
        Ok(match norm.as_str() {
            "EPSG:4326" | "EPSG/0/4326" | "4326" | "WGS84" | "OGC:CRS84" | "OGC/1.3/CRS84" | "CRS84" => Crs::Wgs84,
            "EPSG:4490" | "EPSG/0/4490" | "4490" | "CGCS2000" => Crs::Cgcs2000,
            "GCJ02" | "GCJ" => Crs::Gcj02,
            "BD09" | "BD09LL" | "BAIDU" => Crs::Bd09,
            "EPSG:3857" | "EPSG/0/3857" | "3857" | "EPSG:900913" | "WEBMERCATOR" => Crs::WebMercator,
            _ => return Err(UnknownCrs(s.to_string())),
        })
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Crs {
    /// The identifier used in APIs and responses.
    pub fn code(self) -> &'static str {
        match self {
            Crs::Wgs84 => "EPSG:4326",
            Crs::Cgcs2000 => "EPSG:4490",
            Crs::Gcj02 => "GCJ02",
            Crs::Bd09 => "BD09",
            Crs::WebMercator => "EPSG:3857",
        }
    }

    /// Whether coordinates are degrees (everything except Web Mercator).
    pub fn is_geographic(self) -> bool {
        !matches!(self, Crs::WebMercator)
    }

    /// Converts a coordinate in this CRS to canonical WGS-84 longitude/latitude.
    pub fn to_canonical(self, c: Coord) -> Coord {
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => c,
            Crs::Gcj02 => gcj02_to_wgs84(c),
            Crs::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(c)),
            Crs::WebMercator => mercator_to_lonlat(c),
        }
    }

    /// Converts a canonical WGS-84 longitude/latitude to this CRS.
    pub fn from_canonical(self, c: Coord) -> Coord {
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => c,
            Crs::Gcj02 => wgs84_to_gcj02(c),
            Crs::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(c)),
            Crs::WebMercator => lonlat_to_mercator(c),
        }
    }

    /// Converts a coordinate from `self` to `to`.
    pub fn transform(self, to: Crs, c: Coord) -> Coord {
        if self == to {
            return c;
        }
        to.from_canonical(self.to_canonical(c))
    }
}

const GCJ_A: f64 = 6_378_245.0;
const GCJ_EE: f64 = 0.006_693_421_622_965_943;
const PI: f64 = std::f64::consts::PI;
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// GCJ-02 offsets only apply inside China's rough bounding box; outside it the frames agree.
pub fn outside_china(c: Coord) -> bool {
    !(72.004..=137.8347).contains(&c.x) || !(0.8293..=55.8271).contains(&c.y)
}

fn gcj_delta_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn gcj_delta_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02 (closed form).
pub fn wgs84_to_gcj02(c: Coord) -> Coord {
    if outside_china(c) {
        return c;
    }
    let dlat = gcj_delta_lat(c.x - 105.0, c.y - 35.0);
    let dlon = gcj_delta_lon(c.x - 105.0, c.y - 35.0);
    let rad_lat = c.y / 180.0 * PI;
    let magic = 1.0 - GCJ_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (GCJ_A / sqrt_magic * rad_lat.cos() * PI);
    Coord { x: c.x + dlon, y: c.y + dlat }
}

/// Solves `forward(w) = target` by fixed-point iteration: the offsets vary slowly (their
/// derivative is below 1e-3), so each step gains three digits.
fn invert(target: Coord, forward: impl Fn(Coord) -> Coord, start: Coord) -> Coord {
    let mut w = start;
    for _ in 0..40 {
        let f = forward(w);
        let (dx, dy) = (f.x - target.x, f.y - target.y);
        w = Coord { x: w.x - dx, y: w.y - dy };
        if dx.abs() < 1e-11 && dy.abs() < 1e-11 {
            break;
        }
    }
    w
}

/// GCJ-02 → WGS-84 (iterative inverse of [`wgs84_to_gcj02`]).
pub fn gcj02_to_wgs84(c: Coord) -> Coord {
    if outside_china(c) {
        return c;
    }
    invert(c, wgs84_to_gcj02, c)
}

/// GCJ-02 → BD-09 (closed form).
pub fn gcj02_to_bd09(c: Coord) -> Coord {
    let z = (c.x * c.x + c.y * c.y).sqrt() + 0.000_02 * (c.y * BD_X_PI).sin();
    let theta = c.y.atan2(c.x) + 0.000_003 * (c.x * BD_X_PI).cos();
    Coord { x: z * theta.cos() + 0.0065, y: z * theta.sin() + 0.006 }
}

/// BD-09 → GCJ-02: the usual closed-form approximation, refined by iteration against
/// [`gcj02_to_bd09`].
pub fn bd09_to_gcj02(c: Coord) -> Coord {
    let x = c.x - 0.0065;
    let y = c.y - 0.006;
    let z = (x * x + y * y).sqrt() - 0.000_02 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * BD_X_PI).cos();
    let start = Coord { x: z * theta.cos(), y: z * theta.sin() };
    invert(c, gcj02_to_bd09, start)
}

/// The Web Mercator sphere radius (metres).
pub const MERCATOR_R: f64 = 6_378_137.0;
/// Web Mercator's latitude limit.
pub const MERCATOR_MAX_LAT: f64 = 85.051_128_779_806_59;

/// WGS-84 lon/lat → Web Mercator metres (latitude clamped to ±85.0511°).
pub fn lonlat_to_mercator(c: Coord) -> Coord {
    let lat = c.y.clamp(-MERCATOR_MAX_LAT, MERCATOR_MAX_LAT).to_radians();
    Coord { x: MERCATOR_R * c.x.to_radians(), y: MERCATOR_R * (PI / 4.0 + lat / 2.0).tan().ln() }
}

/// Web Mercator metres → WGS-84 lon/lat.
pub fn mercator_to_lonlat(c: Coord) -> Coord {
    Coord { x: (c.x / MERCATOR_R).to_degrees(), y: (2.0 * (c.y / MERCATOR_R).exp().atan() - PI / 2.0).to_degrees() }
}

/// Normalised Web Mercator "world" coordinates: x and y in [0, 1), y growing southwards
/// (the tile pyramid's frame).
pub fn lonlat_to_world(c: Coord) -> (f64, f64) {
    let x = c.x / 360.0 + 0.5;
    let lat = c.y.clamp(-MERCATOR_MAX_LAT, MERCATOR_MAX_LAT).to_radians();
    let y = 0.5 - (PI / 4.0 + lat / 2.0).tan().ln() / (2.0 * PI);
    (x.clamp(0.0, 1.0), y.clamp(0.0, 1.0))
}

/// The inverse of [`lonlat_to_world`].
pub fn world_to_lonlat(x: f64, y: f64) -> Coord {
    let lon = (x - 0.5) * 360.0;
    let lat = (2.0 * ((0.5 - y) * 2.0 * PI).exp().atan() - PI / 2.0).to_degrees();
    Coord { x: lon, y: lat }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesic::distance_m;

    #[test]
    fn parses_names() {
        for (s, c) in [
            ("EPSG:4326", Crs::Wgs84),
            ("wgs84", Crs::Wgs84),
            ("OGC:CRS84", Crs::Wgs84),
            ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", Crs::Wgs84),
            ("EPSG:4490", Crs::Cgcs2000),
            ("gcj-02", Crs::Gcj02),
            ("BD09", Crs::Bd09),
            ("EPSG:3857", Crs::WebMercator),
            ("http://www.opengis.net/def/crs/EPSG/0/4490", Crs::Cgcs2000),
        ] {
            assert_eq!(s.parse::<Crs>().unwrap(), c, "{s}");
        }
        assert!("EPSG:2436".parse::<Crs>().is_err());
    }

    #[test]
    fn gcj02_known_offset_in_yunfu() {
        // GCJ-02 shifts coordinates in Yunfu by roughly 500-600 m towards the south-east;
        // the exact value is fixed by the published algorithm.
        let w = Coord { x: 112.044_491, y: 22.915_094 };
        let g = wgs84_to_gcj02(w);
        let shift = distance_m(w, g);
        assert!((400.0..700.0).contains(&shift), "shift {shift}");
        assert!(g.x > w.x && g.y < w.y, "{g:?}");
        // Outside China nothing moves.
        let tokyo = Coord { x: 139.7, y: 35.7 };
        assert_eq!(wgs84_to_gcj02(tokyo), tokyo);
    }

    #[test]
    fn inverses_round_trip_under_half_a_metre() {
        let mut worst = 0.0f64;
        for i in 0..200 {
            for j in 0..50 {
                let w = Coord { x: 74.0 + i as f64 * 0.3, y: 18.0 + j as f64 * 0.7 };
                for crs in [Crs::Gcj02, Crs::Bd09, Crs::WebMercator] {
                    let back = crs.to_canonical(crs.from_canonical(w));
                    worst = worst.max(distance_m(w, back));
                }
            }
        }
        assert!(worst < 0.5e-3, "worst round trip {worst} m");
    }

    #[test]
    fn mercator_matches_known_values() {
        let m = lonlat_to_mercator(Coord { x: 180.0, y: 0.0 });
        assert!((m.x - 20_037_508.342_789_244).abs() < 1e-6);
        let m = lonlat_to_mercator(Coord { x: 112.0, y: 23.0 });
        assert!((m.y - 2_632_018.637_586_423).abs() < 1e-6, "{}", m.y);
        let (x, y) = lonlat_to_world(Coord { x: 0.0, y: 0.0 });
        assert!((x - 0.5).abs() < 1e-15 && (y - 0.5).abs() < 1e-15);
        let c = world_to_lonlat(0.8, 0.4);
        let (x, y) = lonlat_to_world(c);
        assert!((x - 0.8).abs() < 1e-12 && (y - 0.4).abs() < 1e-12);
    }
}
