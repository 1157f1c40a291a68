#!/usr/bin/env python3
"""The anchors of the spatial benchmark: shapely 2 (GEOS, STRtree) and PostGIS (GiST) on the
data set written by `tg-bench-spatial gen DIR`, timing W1, W2 and W4 and checking that their
answers equal tg-spatial's (DIR/tg-w2-answers.json from `tg-bench-spatial run DIR`).

Circles and line buffers are geodesic everywhere: shapely has no geodesic predicate, so its
anchor is STRtree candidates plus GeographicLib for the points near the edge (the same method
crosscheck.py uses); PostGIS uses geography ST_DWithin on the spheroid.

Usage: anchors.py DIR [--pg postgresql://postgres@127.0.0.1/bench_spatial]
Prints one JSON document.
"""
import json
import statistics
import sys
import time

import numpy as np
import shapely

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from crosscheck import reference_circle, reference_line  # noqa: E402


def ms_stats(v):
    v = sorted(v)
    return {"median_ms": statistics.median(v), "p95_ms": v[round((len(v) - 1) * 0.95)], "n": len(v)}


def shapely_side(dir_, pts, polys, queries, answers):
    out = {}
    geoms = shapely.points(pts)
    t = time.perf_counter()
    tree = shapely.STRtree(geoms)
    tiling = polys[:100]
    for p in tiling:
        shapely.prepare(p)
    build = time.perf_counter() - t
    # Two ways, the faster one counts: STRtree predicate queries, and prepared polygons over
    # bounding-box-filtered coordinate arrays (intersects_xy: boundary points count).
    t = time.perf_counter()
    assigned = 0
    for p in tiling:
        assigned += len(tree.query(p, predicate="covers"))
    secs_tree = time.perf_counter() - t
    t = time.perf_counter()
    x, y = pts[:, 0], pts[:, 1]
    assigned_xy = 0
    for p in tiling:
        x0, y0, x1, y1 = p.bounds
        m = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        assigned_xy += int(shapely.intersects_xy(p, x[m], y[m]).sum())
    secs_xy = time.perf_counter() - t
    secs = min(secs_tree, secs_xy)
    out["w1"] = {"points_per_s": len(pts) / secs, "seconds": secs, "strtree_s": secs_tree, "prepared_xy_s": secs_xy,
                 "pairs": assigned, "pairs_xy": assigned_xy, "index_build_s": build}
    times, mismatches = {}, {}
    for q, got in zip(queries, answers):
        kind = q["kind"]
        t = time.perf_counter()
        if kind == "circle":
            ids = reference_circle(pts, tree, q)
        elif kind == "rect":
            ids = sorted(tree.query(shapely.box(*q["min"], *q["max"]), predicate="covers").tolist())
        elif kind == "polygon":
            ids = sorted(tree.query(shapely.Polygon(q["ring"]), predicate="covers").tolist())
        else:
            ids = reference_line(pts, tree, q)
        times.setdefault(kind, []).append((time.perf_counter() - t) * 1e3)
        mismatches[kind] = mismatches.get(kind, 0) + (ids != got)
    out["w2"] = {k: ms_stats(v) for k, v in times.items()}
    out["w2_queries_differing_from_tg"] = mismatches
    return out


def postgis_side(dir_, dsn, pts, polys, queries, answers):
    import psycopg

    out = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        cur.execute("DROP TABLE IF EXISTS pts, polys")
        cur.execute("CREATE TABLE pts (id int PRIMARY KEY, geom geometry(Point, 4326))")
        cur.execute("CREATE TABLE polys (id int PRIMARY KEY, geom geometry(MultiPolygon, 4326))")
        t = time.perf_counter()
        with cur.copy("COPY pts (id, geom) FROM STDIN") as cp:
            for i, (x, y) in enumerate(pts.tolist()):
                cp.write_row((i, f"SRID=4326;POINT({x!r} {y!r})"))
        for i, p in enumerate(polys):
            cur.execute("INSERT INTO polys VALUES (%s, ST_GeomFromText(%s, 4326))", (i, p.wkt))
        cur.execute("CREATE INDEX ON pts USING gist (geom)")
        cur.execute("CREATE INDEX ON pts USING gist ((geom::geography))")
        cur.execute("CREATE INDEX ON polys USING gist (geom)")
        cur.execute("VACUUM ANALYZE pts")
        cur.execute("VACUUM ANALYZE polys")
        out["load_and_index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        cur.execute("SELECT count(*) FROM pts p JOIN polys g ON ST_Covers(g.geom, p.geom) WHERE g.id < 100")
        pairs = cur.fetchone()[0]
        secs = time.perf_counter() - t
        out["w1"] = {"points_per_s": len(pts) / secs, "seconds": secs, "pairs": pairs}
        times, mismatches, diff_points = {}, {}, {}
        for q, got in zip(queries, answers):
            kind = q["kind"]
            if kind == "circle":
                (x, y), r = q["center"], q["radius_m"]
                sql = "SELECT id FROM pts WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s,%s),4326)::geography, %s, true) ORDER BY id"
                args = (x, y, r)
            elif kind == "rect":
                sql = "SELECT id FROM pts WHERE ST_Covers(ST_MakeEnvelope(%s,%s,%s,%s,4326), geom) ORDER BY id"
                args = (*q["min"], *q["max"])
            elif kind == "polygon":
                sql = "SELECT id FROM pts WHERE ST_Covers(ST_GeomFromText(%s,4326), geom) ORDER BY id"
                args = (shapely.Polygon(q["ring"]).wkt,)
            else:
                sql = "SELECT id FROM pts WHERE ST_DWithin(geom::geography, ST_GeomFromText(%s,4326)::geography, %s, true) ORDER BY id"
                args = (shapely.LineString(q["line"]).wkt, q["distance_m"])
            t = time.perf_counter()
            cur.execute(sql, args)
            ids = [r[0] for r in cur.fetchall()]
            times.setdefault(kind, []).append((time.perf_counter() - t) * 1e3)
            if ids != got:
                mismatches[kind] = mismatches.get(kind, 0) + 1
                diff_points[kind] = diff_points.get(kind, 0) + len(set(ids) ^ set(got))
        out["w2"] = {k: ms_stats(v) for k, v in times.items()}
        out["w2_queries_differing_from_tg"] = mismatches
        out["w2_points_differing_from_tg"] = diff_points
        with open(f"{dir_}/tiles.json") as f:
            tiles = json.load(f)
        times, sizes = [], []
        for t_ in tiles:
            z, x, y = t_["z"], t_["x"], t_["y"]
            t = time.perf_counter()
            cur.execute(
                """SELECT ST_AsMVT(q, 'points', 4096, 'geom', 'id') FROM (
                     SELECT id, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(%s,%s,%s), 4096, 64, true) AS geom
                     FROM pts WHERE geom && ST_Transform(ST_TileEnvelope(%s,%s,%s, margin => 64.0/4096), 4326)) q""",
                (z, x, y, z, x, y),
            )
            data = cur.fetchone()[0]
            times.append((time.perf_counter() - t) * 1e3)
            sizes.append(len(data or b"") / 1e3)
        out["w4"] = {"tile": ms_stats(times), "size": {"median_kb": statistics.median(sizes), "p95_kb": sorted(sizes)[round(0.95 * (len(sizes) - 1))]}}
    return out


def main():
    dir_ = sys.argv[1]
    dsn = sys.argv[sys.argv.index("--pg") + 1] if "--pg" in sys.argv else "postgresql://postgres@127.0.0.1/bench_spatial"
    pts = np.fromfile(f"{dir_}/points.f64", dtype="<f8").reshape(-1, 2)
    with open(f"{dir_}/polygons.wkt") as f:
        polys = [shapely.from_wkt(line) for line in f if line.strip()]
    with open(f"{dir_}/queries.json") as f:
        queries = json.load(f)
    with open(f"{dir_}/tg-w2-answers.json") as f:
        answers = json.load(f)
    report = {"shapely": shapely_side(dir_, pts, polys, queries, answers)}
    report["postgis"] = postgis_side(dir_, dsn, pts, polys, queries, answers)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
