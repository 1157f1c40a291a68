//! GeoJSON geometry (RFC 7946) to and from `geo_types`, with validation that gives users a
//! Chinese message, CRS conversion of whole geometries, bounding boxes and anchor points.

use geo::{BoundingRect, InteriorPoint, MapCoords};
use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, Rect};
use serde_json::{json, Value};

use crate::crs::Crs;
use crate::SpatialError;

fn bad(msg: impl Into<String>) -> SpatialError {
    SpatialError::InvalidGeometry(msg.into())
}

fn coord(v: &Value) -> Result<Coord, SpatialError> {
    let a = v.as_array().ok_or_else(|| bad("坐标须为 [经度, 纬度] 数组"))?;
    if a.len() < 2 || a.len() > 3 {
        return Err(bad("坐标须为 [经度, 纬度] 数组"));
    }
    let x = a[0].as_f64().ok_or_else(|| bad("坐标须为数字"))?;
    let y = a[1].as_f64().ok_or_else(|| bad("坐标须为数字"))?;
    if !x.is_finite() || !y.is_finite() {
        return Err(bad("坐标须为有限数字"));
    }
    Ok(Coord { x, y })
}

fn coords(v: &Value) -> Result<Vec<Coord>, SpatialError> {
    v.as_array().ok_or_else(|| bad("坐标列表须为数组"))?.iter().map(coord).collect()
}

fn line(v: &Value) -> Result<LineString, SpatialError> {
    let c = coords(v)?;
    if c.len() < 2 {
        return Err(bad("线至少需要 2 个坐标"));
    }
    Ok(LineString(c))
}

fn ring(v: &Value) -> Result<LineString, SpatialError> {
    let mut c = coords(v)?;
    if c.first() != c.last() {
        if let Some(f) = c.first().copied() {
            c.push(f); // close an unclosed ring, as most GIS tools do
        }
    }
    if c.len() < 4 {
        return Err(bad("多边形的环至少需要 3 个不同的顶点"));
    }
    Ok(LineString(c))
}

fn polygon(v: &Value) -> Result<Polygon, SpatialError> {
    let rings = v.as_array().ok_or_else(|| bad("多边形坐标须为环的数组"))?;
    let mut it = rings.iter();
    let ext = ring(it.next().ok_or_else(|| bad("多边形缺少外环"))?)?;
    let holes = it.map(ring).collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(ext, holes))
}

/// Parses a GeoJSON geometry object (Point, MultiPoint, LineString, MultiLineString, Polygon,
/// MultiPolygon).
pub fn parse_geometry(v: &Value) -> Result<Geometry, SpatialError> {
    let ty = v.get("type").and_then(Value::as_str).ok_or_else(|| bad("缺少几何类型 type"))?;
    let c = v.get("coordinates").ok_or_else(|| bad("缺少坐标 coordinates"))?;
    let arr = |c: &Value| c.as_array().cloned().ok_or_else(|| bad("坐标须为数组"));
    Ok(match ty {
        "Point" => Geometry::Point(Point(coord(c)?)),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(coords(c)?.into_iter().map(Point).collect())),
        "LineString" => Geometry::LineString(line(c)?),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(arr(c)?.iter().map(line).collect::<Result<_, _>>()?)),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(arr(c)?.iter().map(polygon).collect::<Result<_, _>>()?)),
        other => return Err(bad(format!("不支持的几何类型: {other}"))),
    })
}

fn c2v(c: &Coord) -> Value {
    // Seven decimals are about 1 cm: enough for every use here, and keeps responses small.
    let r = |v: f64| (v * 1e7).round() / 1e7;
    json!([r(c.x), r(c.y)])
}

fn ls2v(l: &LineString) -> Value {
    Value::Array(l.0.iter().map(c2v).collect())
}

fn poly2v(p: &Polygon) -> Value {
    Value::Array(std::iter::once(p.exterior()).chain(p.interiors()).map(ls2v).collect())
}

/// Writes a geometry as a GeoJSON geometry object.
pub fn to_geojson(g: &Geometry) -> Value {
    match g {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": c2v(&p.0)}),
        Geometry::MultiPoint(m) => json!({"type": "MultiPoint", "coordinates": m.0.iter().map(|p| c2v(&p.0)).collect::<Vec<_>>()}),
        Geometry::LineString(l) => json!({"type": "LineString", "coordinates": ls2v(l)}),
        Geometry::MultiLineString(m) => json!({"type": "MultiLineString", "coordinates": m.0.iter().map(ls2v).collect::<Vec<_>>()}),
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": poly2v(p)}),
        Geometry::MultiPolygon(m) => json!({"type": "MultiPolygon", "coordinates": m.0.iter().map(poly2v).collect::<Vec<_>>()}),
        _ => json!(null),
    }
}

/// The geometry family: `point`, `line` or `polygon`.
pub fn family(g: &Geometry) -> &'static str {
    match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) => "point",
        Geometry::LineString(_) | Geometry::MultiLineString(_) | Geometry::Line(_) => "line",
        _ => "polygon",
    }
}

/// Converts every coordinate between CRSs.
pub fn transform(g: &Geometry, from: Crs, to: Crs) -> Geometry {
    if from == to {
        return g.clone();
    }
    g.map_coords(|c| from.transform(to, c))
}

/// Checks canonical coordinates are longitudes/latitudes, optionally inside an extent.
pub fn check_extent(g: &Geometry, extent: Option<Rect>) -> Result<(), SpatialError> {
    let Some(bb) = g.bounding_rect() else { return Err(bad("几何图形为空")) };
    if bb.min().x < -180.0 || bb.max().x > 180.0 || bb.min().y < -90.0 || bb.max().y > 90.0 {
        return Err(bad("坐标超出经纬度范围，请检查坐标系（crs）是否正确"));
    }
    if let Some(e) = extent {
        if bb.min().x < e.min().x || bb.max().x > e.max().x || bb.min().y < e.min().y || bb.max().y > e.max().y {
            return Err(bad("坐标不在本市范围内，请检查坐标或坐标系（crs）"));
        }
    }
    Ok(())
}

/// OGC simple-feature validity: rings closed and non-self-intersecting, holes inside their shell,
/// polygons of a multipolygon not overlapping, no repeated or non-finite coordinates that break
/// a geometry.
pub fn check_valid(g: &Geometry) -> Result<(), SpatialError> {
    use geo::Validation;
    let problems = g.validation_errors();
    match problems.first() {
        None => Ok(()),
        Some(p) => Err(bad(format!("几何图形不合法（如自相交、洞在外环之外、多个面重叠）：{p}"))),
    }
}

/// The bounding box.
pub fn bbox(g: &Geometry) -> Option<Rect> {
    g.bounding_rect()
}

/// The point used for point queries, clustering and tiles of any geometry: the point itself, a
/// point on the line, or a point inside the polygon.
pub fn anchor(g: &Geometry) -> Option<Coord> {
    match g {
        Geometry::Point(p) => Some(p.0),
        Geometry::LineString(l) => l.0.get(l.0.len() / 2).copied(),
        Geometry::MultiLineString(m) => m.0.first().and_then(|l| l.0.get(l.0.len() / 2).copied()),
        other => other.interior_point().map(|p| p.0),
    }
}

/// The polygons of a polygonal geometry (for region boundaries and query areas).
pub fn as_multipolygon(g: &Geometry) -> Option<MultiPolygon> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let v = json!({"type": "Polygon", "coordinates": [[[112.0, 22.9], [112.1, 22.9], [112.1, 23.0], [112.0, 22.9]]]});
        let g = parse_geometry(&v).unwrap();
        assert_eq!(family(&g), "polygon");
        assert_eq!(to_geojson(&g), v);
        // An unclosed ring is closed.
        let g2 = parse_geometry(&json!({"type": "Polygon", "coordinates": [[[112.0, 22.9], [112.1, 22.9], [112.1, 23.0]]]})).unwrap();
        assert_eq!(g, g2);
        for bad in [
            json!({"type": "Point"}),
            json!({"type": "Point", "coordinates": [1]}),
            json!({"type": "Point", "coordinates": ["a", 2]}),
            json!({"type": "LineString", "coordinates": [[1, 2]]}),
            json!({"type": "Polygon", "coordinates": [[[1, 2], [3, 4]]]}),
            json!({"type": "GeometryCollection", "geometries": []}),
        ] {
            assert!(parse_geometry(&bad).is_err(), "{bad}");
        }
        let p = parse_geometry(&json!({"type": "Point", "coordinates": [200.0, 10.0]})).unwrap();
        assert!(check_extent(&p, None).is_err());
        let a = anchor(&g).unwrap();
        assert!(crate::PreparedArea::new(&as_multipolygon(&g).unwrap()).unwrap().covers(a));
        assert!(check_valid(&g).is_ok());
        let bow_tie = parse_geometry(&json!({"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]})).unwrap();
        assert!(check_valid(&bow_tie).is_err());
        let gcj = transform(&p, Crs::Wgs84, Crs::Gcj02);
        assert_eq!(gcj, p); // outside China nothing moves
    }
}
