//! Generates the spatial benchmark data set (fixed seed), runs the tg-spatial side of the
//! workloads and writes its answers for `crosscheck.py` (shapely/GEOS and GeographicLib).
//!
//! ```text
//! tg-bench-spatial gen  DIR [POINTS]   # points.f64, polygons.wkt, queries.json
//! tg-bench-spatial run  DIR            # timings as JSON on stdout; answers in DIR/tg-*.{bin,json}
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tg_spatial::geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};
use tg_spatial::mvt::{encode_tile, LayerBuilder, TileGeometry, Value, EXTENT};
use tg_spatial::{AreaIndex, MatchMode, PointIndex, Shape, TileId, TilePoints};

const LON0: f64 = 111.0;
const LON1: f64 = 112.6;
const LAT0: f64 = 22.3;
const LAT1: f64 = 23.3;
const COLS: usize = 10;
const ROWS: usize = 10;

use tg_spatial::rng::SplitMix64 as Rng;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Query {
    Circle { center: [f64; 2], radius_m: f64 },
    Rect { min: [f64; 2], max: [f64; 2] },
    Polygon { ring: Vec<[f64; 2]> },
    Line { line: Vec<[f64; 2]>, distance_m: f64 },
}

impl Query {
    fn shape(&self) -> Shape {
        let c = |p: &[f64; 2]| Coord { x: p[0], y: p[1] };
        match self {
            Query::Circle { center, radius_m } => Shape::Circle { center: c(center), radius_m: *radius_m },
            Query::Rect { min, max } => Shape::Rect { rect: Rect::new(c(min), c(max)) },
            Query::Polygon { ring } => {
                Shape::Polygon { area: MultiPolygon(vec![Polygon::new(LineString(ring.iter().map(c).collect()), vec![])]) }
            }
            Query::Line { line, distance_m } => {
                Shape::LineBuffer { line: LineString(line.iter().map(c).collect()), distance_m: *distance_m }
            }
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Query::Circle { .. } => "circle",
            Query::Rect { .. } => "rect",
            Query::Polygon { .. } => "polygon",
            Query::Line { .. } => "line",
        }
    }
}

/// The wiggly shared edge between two lattice vertices: both neighbours get the same points.
fn edge(a: Coord, b: Coord, seed: u64, straight: bool) -> Vec<Coord> {
    let mut r = Rng(seed);
    let n = 12;
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (nx, ny) = (-dy, dx);
    (0..=n)
        .map(|k| {
            let t = k as f64 / n as f64;
            let off = if straight || k == 0 || k == n { 0.0 } else { r.range(-0.08, 0.08) * (t * (1.0 - t) * 4.0) };
            Coord { x: a.x + t * dx + off * nx, y: a.y + t * dy + off * ny }
        })
        .collect()
}

fn hexagon(c: Coord, r: f64) -> Vec<Coord> {
    let mut v: Vec<Coord> = (0..6)
        .map(|k| {
            let a = k as f64 * std::f64::consts::TAU / 6.0;
            Coord { x: c.x + r * a.cos(), y: c.y + r * 0.8 * a.sin() }
        })
        .collect();
    v.push(v[0]);
    v
}

/// 100 irregular polygons tiling the area, with holes, two-part multipolygons (an exclave
/// filling another polygon's hole) and empty holes; plus five thin slivers overlapping them.
fn polygons() -> Vec<MultiPolygon> {
    let mut r = Rng(20_261_129);
    let (cw, ch) = ((LON1 - LON0) / COLS as f64, (LAT1 - LAT0) / ROWS as f64);
    let mut v = vec![vec![Coord { x: 0.0, y: 0.0 }; ROWS + 1]; COLS + 1];
    for (i, col) in v.iter_mut().enumerate() {
        for (j, p) in col.iter_mut().enumerate() {
            let jx = if i == 0 || i == COLS { 0.0 } else { r.range(-0.3, 0.3) * cw };
            let jy = if j == 0 || j == ROWS { 0.0 } else { r.range(-0.3, 0.3) * ch };
            *p = Coord { x: LON0 + i as f64 * cw + jx, y: LAT0 + j as f64 * ch + jy };
        }
    }
    let h = |i: usize, j: usize| edge(v[i][j], v[i + 1][j], (i * 100 + j) as u64 * 2 + 1, j == 0 || j == ROWS);
    let vert = |i: usize, j: usize| edge(v[i][j], v[i][j + 1], (i * 100 + j) as u64 * 2 + 2, i == 0 || i == COLS);
    let mut cells: Vec<Vec<Polygon>> = Vec::new();
    for j in 0..ROWS {
        for i in 0..COLS {
            let mut ring: Vec<Coord> = h(i, j);
            ring.extend(vert(i + 1, j).into_iter().skip(1));
            ring.extend(h(i, j + 1).into_iter().rev().skip(1));
            ring.extend(vert(i, j).into_iter().rev().skip(1));
            cells.push(vec![Polygon::new(LineString(ring), vec![])]);
        }
    }
    // Holes: every 7th cell gets one; in most the next cell owns the island as a second part.
    for k in (3..cells.len()).step_by(7) {
        let outer = cells[k][0].exterior().clone();
        let (mut sx, mut sy) = (0.0, 0.0);
        let n = outer.0.len() - 1;
        for c in &outer.0[..n] {
            sx += c.x;
            sy += c.y;
        }
        let hole = hexagon(Coord { x: sx / n as f64, y: sy / n as f64 }, 0.012);
        cells[k][0] = Polygon::new(outer, vec![LineString(hole.clone())]);
        if k % 3 != 0 {
            let owner = (k + 1) % cells.len();
            cells[owner].push(Polygon::new(LineString(hole), vec![]));
        }
    }
    let mut out: Vec<MultiPolygon> = cells.into_iter().map(MultiPolygon).collect();
    for s in 0..5 {
        let x = LON0 + 0.2 + 0.25 * s as f64;
        let y = LAT0 + 0.1 + 0.15 * s as f64;
        out.push(MultiPolygon(vec![Polygon::new(
            LineString(vec![Coord { x, y }, Coord { x: x + 0.3, y: y + 0.1 }, Coord { x: x + 0.3 + 1e-9, y: y + 0.1 }, Coord { x, y }]),
            vec![],
        )]));
    }
    out
}

fn wkt(mp: &MultiPolygon) -> String {
    let ring = |l: &LineString| {
        let pts: Vec<String> = l.0.iter().map(|c| format!("{:?} {:?}", c.x, c.y)).collect();
        format!("({})", pts.join(", "))
    };
    let polys: Vec<String> =
        mp.0.iter()
            .map(|p| {
                let mut rings = vec![ring(p.exterior())];
                rings.extend(p.interiors().iter().map(ring));
                format!("({})", rings.join(", "))
            })
            .collect();
    format!("MULTIPOLYGON ({})", polys.join(", "))
}

fn gen(dir: &Path, n: usize) -> Result<()> {
    fs::create_dir_all(dir)?;
    let polys = polygons();
    let mut r = Rng(7);
    let mut pts: Vec<[f64; 2]> = (0..n).map(|_| [r.range(LON0, LON1), r.range(LAT0, LAT1)]).collect();
    // Exact boundary cases: every polygon vertex, and points on the straight outer border.
    for mp in &polys {
        for p in &mp.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                pts.extend(ring.0.iter().step_by(3).map(|c| [c.x, c.y]));
            }
        }
    }
    for k in 0..200 {
        let t = k as f64 / 200.0;
        pts.push([LON0, LAT0 + t * (LAT1 - LAT0)]);
        pts.push([LON0 + t * (LON1 - LON0), LAT1]);
    }
    let mut f = fs::File::create(dir.join("points.f64"))?;
    let mut buf = Vec::with_capacity(pts.len() * 16);
    for p in &pts {
        buf.extend_from_slice(&p[0].to_le_bytes());
        buf.extend_from_slice(&p[1].to_le_bytes());
    }
    f.write_all(&buf)?;
    fs::write(dir.join("polygons.wkt"), polys.iter().map(wkt).collect::<Vec<_>>().join("\n") + "\n")?;
    let mut q: Vec<Query> = Vec::new();
    let mut rq = Rng(11);
    let inner = |r: &mut Rng| [r.range(LON0 + 0.05, LON1 - 0.05), r.range(LAT0 + 0.05, LAT1 - 0.05)];
    for _ in 0..200 {
        q.push(Query::Circle { center: inner(&mut rq), radius_m: 2000.0 });
    }
    for _ in 0..200 {
        let c = inner(&mut rq);
        q.push(Query::Rect { min: c, max: [c[0] + 0.04, c[1] + 0.03] });
    }
    for _ in 0..200 {
        let c = inner(&mut rq);
        let mut ring: Vec<[f64; 2]> = (0..12)
            .map(|k| {
                let a = k as f64 * std::f64::consts::TAU / 12.0;
                let rad = rq.range(0.01, 0.03);
                [c[0] + rad * a.cos(), c[1] + rad * a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        q.push(Query::Polygon { ring });
    }
    for _ in 0..200 {
        let mut p = inner(&mut rq);
        let mut line = vec![p];
        for _ in 0..3 {
            p = [p[0] + rq.range(-0.02, 0.02), p[1] + rq.range(-0.02, 0.02)];
            line.push(p);
        }
        q.push(Query::Line { line, distance_m: 500.0 });
    }
    fs::write(dir.join("queries.json"), serde_json::to_vec(&q)?)?;
    // W3 viewports (a 1280x800 px window at zoom 8-16) and W4 tiles (zoom 8-14).
    let mut r = Rng(3);
    let mut views: Vec<(u8, [f64; 4])> = Vec::new();
    for _ in 0..1000 {
        let z = 8 + (r.next_u64() % 9) as u8;
        let c = Coord { x: r.range(LON0, LON1), y: r.range(LAT0, LAT1) };
        let world_px = 256.0 * (1u64 << z) as f64;
        let (wx, wy) = tg_spatial::crs::lonlat_to_world(c);
        let a = tg_spatial::crs::world_to_lonlat(wx - 640.0 / world_px, wy + 400.0 / world_px);
        let b = tg_spatial::crs::world_to_lonlat(wx + 640.0 / world_px, wy - 400.0 / world_px);
        views.push((z, [a.x, a.y, b.x, b.y]));
    }
    fs::write(dir.join("viewports.json"), serde_json::to_vec(&views)?)?;
    let tiles: Vec<TileId> = (0..500)
        .map(|_| {
            let z = 8 + (r.next_u64() % 7) as u8;
            TileId::containing(Coord { x: r.range(LON0, LON1), y: r.range(LAT0, LAT1) }, z)
        })
        .collect();
    fs::write(dir.join("tiles.json"), serde_json::to_vec(&tiles)?)?;
    eprintln!("wrote {} points, {} polygons, {} queries to {}", pts.len(), polys.len(), q.len(), dir.display());
    Ok(())
}

fn load_points(dir: &Path) -> Result<Vec<Coord>> {
    let b = fs::read(dir.join("points.f64")).context("points.f64 (run gen first)")?;
    Ok(b.chunks_exact(16)
        .map(|c| {
            let x = f64::from_le_bytes(c[0..8].try_into().unwrap_or_default());
            let y = f64::from_le_bytes(c[8..16].try_into().unwrap_or_default());
            Coord { x, y }
        })
        .collect())
}

fn stats(mut v: Vec<f64>, unit: &str) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let q = |f: f64| v[((v.len() as f64 - 1.0) * f).round() as usize];
    serde_json::json!({ format!("median_{unit}"): q(0.5), format!("p95_{unit}"): q(0.95), "n": v.len() })
}

fn run(dir: &Path) -> Result<()> {
    let pts = load_points(dir)?;
    let polys = polygons();
    let queries: Vec<Query> = serde_json::from_slice(&fs::read(dir.join("queries.json"))?)?;
    let mut report = serde_json::Map::new();

    // W1: assign every point to its polygon (the 100 tiling polygons, as the benchmark says).
    let t = Instant::now();
    let idx = AreaIndex::build(polys.iter().take(COLS * ROWS).cloned().enumerate().map(|(i, p)| (i as u32, p)).collect());
    let build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let assigned = idx.locate_batch(&pts);
    let secs = t.elapsed().as_secs_f64();
    let hit = assigned.iter().filter(|a| a.is_some()).count();
    report.insert(
        "w1".into(),
        serde_json::json!({ "build_s": build, "points": pts.len(), "seconds": secs,
                            "points_per_s": pts.len() as f64 / secs, "assigned": hit }),
    );
    // Cross-check answers: every (point, polygon) pair with the polygon covering the point,
    // over all 105 polygons (slivers included).
    let all = AreaIndex::build(polys.iter().cloned().enumerate().map(|(i, p)| (i as u32, p)).collect());
    let mut pairs = Vec::new();
    for (i, p) in pts.iter().enumerate() {
        for (k, _) in all.locate_all(*p) {
            pairs.extend_from_slice(&(i as u32).to_le_bytes());
            pairs.extend_from_slice(&k.to_le_bytes());
        }
    }
    fs::write(dir.join("tg-w1-pairs.u32"), pairs)?;

    // W2: queries over an index of all points.
    let t = Instant::now();
    let pidx = PointIndex::bulk_load(pts.iter().enumerate().map(|(i, c)| (i as u64, *c)).collect());
    report.insert("index_build_s".into(), serde_json::json!(t.elapsed().as_secs_f64()));
    let mut answers: Vec<Vec<u64>> = Vec::with_capacity(queries.len());
    let mut times: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for q in &queries {
        let t = Instant::now();
        let shape = q.shape().prepare()?;
        let ids = pidx.query(&shape, MatchMode::Inside);
        times.entry(q.kind()).or_default().push(t.elapsed().as_secs_f64() * 1e3);
        answers.push(ids);
    }
    report.insert(
        "w2".into(),
        serde_json::json!(times.into_iter().map(|(k, v)| (k.to_string(), stats(v, "ms"))).collect::<serde_json::Map<_, _>>()),
    );
    fs::write(dir.join("tg-w2-answers.json"), serde_json::to_vec(&answers)?)?;

    // W3: clustering for the 1,000 viewports (the index build is `index_build_s`).
    let views: Vec<(u8, [f64; 4])> = serde_json::from_slice(&fs::read(dir.join("viewports.json"))?)?;
    let mut times = Vec::new();
    let mut clusters = 0usize;
    for (z, b) in &views {
        let t = Instant::now();
        let cl = pidx.clusters(Rect::new(Coord { x: b[0], y: b[1] }, Coord { x: b[2], y: b[3] }), *z as f64);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        clusters += cl.len();
    }
    report.insert("w3".into(), serde_json::json!({ "query": stats(times, "ms"), "clusters_returned": clusters }));

    // W4: the 500 vector tiles.
    let tiles: Vec<TileId> = serde_json::from_slice(&fs::read(dir.join("tiles.json"))?)?;
    let mut times = Vec::new();
    let mut bytes = Vec::new();
    let mut points_drawn = 0u64;
    for tile in tiles {
        let t = Instant::now();
        let mut layer = LayerBuilder::new("points");
        match pidx.tile_points(tile, 20_000) {
            TilePoints::Raw(p) => {
                points_drawn += p.len() as u64;
                for (id, c) in p {
                    let (x, y) = tile.to_tile_frame(c, EXTENT);
                    layer.add(Some(id), &TileGeometry::Points(vec![(x as i32, y as i32)]), &[]);
                }
            }
            TilePoints::Thinned(cells) => {
                for cl in cells {
                    points_drawn += cl.count as u64;
                    let (x, y) = tile.to_tile_frame(Coord { x: cl.lon, y: cl.lat }, EXTENT);
                    layer.add(None, &TileGeometry::Points(vec![(x as i32, y as i32)]), &[("count", Value::Int(cl.count as i64))]);
                }
            }
        }
        let data = encode_tile(&[layer]);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        bytes.push(data.len() as f64 / 1e3);
    }
    report.insert(
        "w4".into(),
        serde_json::json!({ "tile": stats(times, "ms"), "size": stats(bytes, "kb"), "points_represented": points_drawn }),
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let dir = PathBuf::from(args.get(2).context("gen DIR [POINTS]")?);
            let n = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
            gen(&dir, n)
        }
        Some("run") => run(&PathBuf::from(args.get(2).context("run DIR")?)),
        _ => bail!("usage: tg-bench-spatial gen DIR [POINTS] | run DIR"),
    }
}
