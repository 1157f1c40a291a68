//! Reading a zipped Esri Shapefile (.shp + .dbf, with .prj and .cpg honoured) into GeoJSON
//! geometries and attribute maps, for the layer import. Written from the public format
//! description: the main file's records (Point, MultiPoint, PolyLine, Polygon and their Z/M
//! variants, whose extra measures are ignored) and dBase III tables.

use std::io::Read;

use encoding_rs::{Encoding, GBK, UTF_8};
use serde_json::{json, Map, Value};
use tg_spatial::Crs;

/// A shapefile's features: GeoJSON geometry (or null for a null shape) and attributes.
pub struct Shapefile {
    pub crs: Option<Crs>,
    pub features: Vec<(Value, Map<String, Value>)>,
}

/// Why a file could not be read (Chinese, for users).
#[derive(Debug)]
pub struct ShapefileError(pub String);

fn err(msg: impl Into<String>) -> ShapefileError {
    ShapefileError(msg.into())
}

fn le_i32(b: &[u8], at: usize) -> Result<i32, ShapefileError> {
    b.get(at..at + 4).map(|s| i32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(|| err("SHP 文件不完整"))
}
fn be_i32(b: &[u8], at: usize) -> Result<i32, ShapefileError> {
    b.get(at..at + 4).map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(|| err("SHP 文件不完整"))
}
fn le_f64(b: &[u8], at: usize) -> Result<f64, ShapefileError> {
    b.get(at..at + 8).map(|s| f64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])).ok_or_else(|| err("SHP 文件不完整"))
}

/// The CRS a .prj (ESRI WKT) names, when it is one of the geographic or Web Mercator systems
/// this platform stores; projected Gauss–Krüger systems are refused with a clear message.
pub fn crs_from_prj(wkt: &str) -> Result<Crs, ShapefileError> {
    let w = wkt.to_ascii_uppercase().replace([' ', '-'], "_");
    if w.starts_with("PROJCS") || w.starts_with("PROJCRS") {
        if w.contains("MERCATOR_AUXILIARY_SPHERE") || w.contains("PSEUDO_MERCATOR") || w.contains("WEB_MERCATOR") {
            return Ok(Crs::WebMercator);
        }
        return Err(err("该 Shapefile 使用投影坐标系（如 CGCS2000 高斯-克吕格），请先转换为经纬度（EPSG:4490 或 EPSG:4326）再导入"));
    }
    if w.contains("CGCS2000") || w.contains("CHINA_GEODETIC_COORDINATE_SYSTEM_2000") || w.contains("CHINA_2000") {
        return Ok(Crs::Cgcs2000);
    }
    if w.contains("WGS_1984") || w.contains("WGS_84") || w.contains("WGS84") {
        return Ok(Crs::Wgs84);
    }
    Err(err("无法识别 .prj 中的坐标系，请使用 WGS-84 或 CGCS2000 经纬度，或在导入时指定 crs"))
}

fn encoding_of(cpg: Option<&str>, ldid: u8) -> &'static Encoding {
    match cpg.map(|s| s.trim().to_ascii_uppercase()) {
        Some(s) if s.contains("UTF") && s.contains('8') => UTF_8,
        Some(s) if s.contains("GBK") || s.contains("936") || s.contains("GB2312") || s.contains("GB18030") => GBK,
        Some(s) => Encoding::for_label(s.as_bytes()).unwrap_or(UTF_8),
        // dBase language driver id 0x4D is code page 936 (simplified Chinese).
        None if ldid == 0x4D => GBK,
        None => UTF_8,
    }
}

fn decode(bytes: &[u8], enc: &'static Encoding) -> String {
    let (text, _, had_errors) = enc.decode(bytes);
    if had_errors && enc == UTF_8 {
        // Many Chinese files carry GBK text without a .cpg.
        return GBK.decode(bytes).0.into_owned();
    }
    text.into_owned()
}

/// Reads the dBase table: one attribute map per record (deleted records are `None`).
fn read_dbf(b: &[u8], cpg: Option<&str>) -> Result<Vec<Option<Map<String, Value>>>, ShapefileError> {
    if b.len() < 32 {
        return Err(err("DBF 文件不完整"));
    }
    let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    let header_len = u16::from_le_bytes([b[8], b[9]]) as usize;
    let record_len = u16::from_le_bytes([b[10], b[11]]) as usize;
    let enc = encoding_of(cpg, b[29]);
    let mut fields = Vec::new();
    let mut at = 32;
    while at + 32 <= header_len && b.get(at) != Some(&0x0D) {
        let d = &b[at..at + 32];
        let name_end = d[..11].iter().position(|c| *c == 0).unwrap_or(11);
        let name = decode(&d[..name_end], enc).trim().to_string();
        fields.push((name, d[11], d[16] as usize));
        at += 32;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let start = header_len + i * record_len;
        let rec = b.get(start..start + record_len).ok_or_else(|| err("DBF 记录不完整"))?;
        if rec[0] == b'*' {
            out.push(None);
            continue;
        }
        let mut map = Map::new();
        let mut pos = 1;
        for (name, kind, len) in &fields {
            let raw = rec.get(pos..pos + len).ok_or_else(|| err("DBF 字段超出记录长度"))?;
            pos += len;
            let text = decode(raw, enc);
            let t = text.trim();
            let v = match kind {
                b'N' | b'F' => t.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(|n| {
                    if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15) {
                        Value::from(n.as_f64().unwrap_or_default() as i64)
                    } else {
                        Value::Number(n)
                    }
                }),
                b'L' => match t {
                    "T" | "t" | "Y" | "y" => Some(Value::Bool(true)),
                    "F" | "f" | "N" | "n" => Some(Value::Bool(false)),
                    _ => None,
                },
                b'D' if t.len() == 8 => Some(Value::String(format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..]))),
                _ => (!t.is_empty()).then(|| Value::String(t.to_string())),
            };
            map.insert(name.clone(), v.unwrap_or(Value::Null));
        }
        out.push(Some(map));
    }
    Ok(out)
}

fn ring_signed_area(r: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for i in 0..r.len() {
        let (a, b) = (r[i], r[(i + 1) % r.len()]);
        s += a[0] * b[1] - b[0] * a[1];
    }
    s / 2.0
}

fn point_in_ring(p: [f64; 2], r: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let mut j = r.len() - 1;
    for i in 0..r.len() {
        let (a, b) = (r[i], r[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// One shape record's content as GeoJSON geometry.
fn shape(c: &[u8]) -> Result<Value, ShapefileError> {
    let ty = le_i32(c, 0)?;
    let pts = |at: usize, n: usize| -> Result<Vec<[f64; 2]>, ShapefileError> {
        (0..n).map(|i| Ok([le_f64(c, at + i * 16)?, le_f64(c, at + i * 16 + 8)?])).collect()
    };
    match ty {
        0 => Ok(Value::Null),
        1 | 11 | 21 => Ok(json!({"type": "Point", "coordinates": [le_f64(c, 4)?, le_f64(c, 12)?]})),
        8 | 18 | 28 => {
            let n = le_i32(c, 36)? as usize;
            Ok(json!({"type": "MultiPoint", "coordinates": pts(40, n)?}))
        }
        3 | 13 | 23 | 5 | 15 | 25 => {
            let parts = le_i32(c, 36)? as usize;
            let n = le_i32(c, 40)? as usize;
            if parts > n || n > 50_000_000 {
                return Err(err("SHP 记录的部件数不正确"));
            }
            let starts: Vec<usize> = (0..parts).map(|i| le_i32(c, 44 + i * 4).map(|v| v as usize)).collect::<Result<_, _>>()?;
            let all = pts(44 + parts * 4, n)?;
            let mut rings: Vec<Vec<[f64; 2]>> = Vec::with_capacity(parts);
            for (i, s) in starts.iter().enumerate() {
                let e = starts.get(i + 1).copied().unwrap_or(n);
                if *s > e || e > n {
                    return Err(err("SHP 记录的部件索引不正确"));
                }
                rings.push(all[*s..e].to_vec());
            }
            if matches!(ty, 3 | 13 | 23) {
                return Ok(if rings.len() == 1 {
                    json!({"type": "LineString", "coordinates": rings[0]})
                } else {
                    json!({"type": "MultiLineString", "coordinates": rings})
                });
            }
            // Outer rings run clockwise (negative signed area), holes counter-clockwise.
            let mut polys: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
            let mut holes = Vec::new();
            for r in rings.into_iter().filter(|r| r.len() >= 4) {
                if ring_signed_area(&r) <= 0.0 {
                    let mut outer = r;
                    outer.reverse(); // GeoJSON: exterior counter-clockwise
                    polys.push(vec![outer]);
                } else {
                    holes.push(r);
                }
            }
            for h in holes {
                let mut hole = h;
                let owner = polys.iter().position(|p| point_in_ring(hole[0], &p[0]));
                match owner {
                    Some(i) => {
                        hole.reverse();
                        polys[i].push(hole);
                    }
                    // A counter-clockwise ring outside every outer ring: treat it as an outer ring.
                    None => polys.push(vec![hole]),
                }
            }
            Ok(match polys.len() {
                0 => Value::Null,
                1 => json!({"type": "Polygon", "coordinates": polys[0]}),
                _ => json!({"type": "MultiPolygon", "coordinates": polys}),
            })
        }
        other => Err(err(format!("不支持的 SHP 几何类型 {other}"))),
    }
}

/// Reads a zip holding one shapefile (.shp, .dbf; optional .prj, .cpg).
pub fn read_zip(bytes: &[u8]) -> Result<Shapefile, ShapefileError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| err("无法读取 ZIP 文件"))?;
    let (mut shp, mut dbf, mut prj, mut cpg) = (None, None, None, None);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|_| err("无法读取 ZIP 中的文件"))?;
        let name = f.name().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
        if f.size() > 512 * 1024 * 1024 {
            return Err(err("ZIP 中的文件过大"));
        }
        let slot = if name.ends_with(".shp") {
            &mut shp
        } else if name.ends_with(".dbf") {
            &mut dbf
        } else if name.ends_with(".prj") {
            &mut prj
        } else if name.ends_with(".cpg") {
            &mut cpg
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(err("ZIP 中只能包含一个 Shapefile"));
        }
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(|_| err("无法解压 ZIP 中的文件"))?;
        *slot = Some(buf);
    }
    let shp = shp.ok_or_else(|| err("ZIP 中没有 .shp 文件"))?;
    let dbf = dbf.ok_or_else(|| err("ZIP 中没有 .dbf 文件"))?;
    let crs = prj.map(|p| crs_from_prj(&String::from_utf8_lossy(&p))).transpose()?;
    let cpg = cpg.map(|c| String::from_utf8_lossy(&c).into_owned());
    if be_i32(&shp, 0)? != 9994 {
        return Err(err("不是有效的 SHP 文件"));
    }
    let records = read_dbf(&dbf, cpg.as_deref())?;
    let mut features = Vec::new();
    let mut at = 100;
    let mut index = 0;
    while at + 8 <= shp.len() {
        let words = be_i32(&shp, at + 4)?;
        let len = usize::try_from(words).map_err(|_| err("SHP 记录长度不正确"))? * 2;
        let content = shp.get(at + 8..at + 8 + len).ok_or_else(|| err("SHP 记录不完整"))?;
        let geom = shape(content)?;
        match records.get(index) {
            Some(Some(attrs)) => features.push((geom, attrs.clone())),
            Some(None) => {}
            None => return Err(err("SHP 与 DBF 的记录数不一致")),
        }
        index += 1;
        at += 8 + len;
    }
    Ok(Shapefile { crs, features })
}

/// Whether a zip holds a shapefile (as opposed to, say, an .xlsx workbook).
pub fn is_shapefile_zip(bytes: &[u8]) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else { return false };
    (0..zip.len())
        .any(|i| zip.by_index(i).ok().and_then(|f| f.name().ok().map(|n| n.to_ascii_lowercase().ends_with(".shp"))).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prj_names() {
        let wgs = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(crs_from_prj(wgs).unwrap(), Crs::Wgs84);
        let cgcs = r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]]]"#;
        assert_eq!(crs_from_prj(cgcs).unwrap(), Crs::Cgcs2000);
        let gk = r#"PROJCS["CGCS2000_3_Degree_GK_CM_111E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"],PROJECTION["Gauss_Kruger"]]"#;
        assert!(crs_from_prj(gk).is_err());
        let wm = r#"PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984"]]"#;
        assert_eq!(crs_from_prj(wm).unwrap(), Crs::WebMercator);
    }

    #[test]
    fn rejects_garbage() {
        assert!(read_zip(b"PK\x03\x04 not really").is_err());
        assert!(read_zip(b"hello").is_err());
    }
}
