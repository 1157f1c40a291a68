#!/usr/bin/env python3
"""Cross-checks tg-spatial's answers against shapely 2 (GEOS) and GeographicLib.

Reads the data set written by `tg-bench-spatial gen DIR` and the answers written by
`tg-bench-spatial run DIR`, computes the reference answers independently and reports every
difference. Exit status 1 if there is any.

- W1 pairs: every (point, polygon) with the polygon covering the point (GEOS `covered_by`:
  boundary points count, as in tg-spatial). Includes polygons with holes, two-part
  multipolygons, points exactly on vertices and edges, and 1e-9-wide slivers.
- Polygon and rectangle queries: GEOS `covers`.
- Circles and line buffers: the geodesic on WGS-84 (GeographicLib). A planar prefilter in a
  local equirectangular frame with a generous band (2 % + 20 m) decides the clear cases;
  every point in the band gets the exact geodesic distance (to the geodesic segment, found by
  golden-section search along it).

Usage: crosscheck.py DIR [--max-line-queries N]
"""
import json
import math
import sys
import time

import numpy as np
import shapely
from geographiclib.geodesic import Geodesic

G = Geodesic.WGS84


def load(dir_):
    pts = np.fromfile(f"{dir_}/points.f64", dtype="<f8").reshape(-1, 2)
    with open(f"{dir_}/polygons.wkt") as f:
        polys = [shapely.from_wkt(line) for line in f if line.strip()]
    with open(f"{dir_}/queries.json") as f:
        queries = json.load(f)
    with open(f"{dir_}/tg-w2-answers.json") as f:
        answers = json.load(f)
    pairs = np.fromfile(f"{dir_}/tg-w1-pairs.u32", dtype="<u4").reshape(-1, 2)
    return pts, polys, queries, answers, pairs


def local_xy(lon, lat, lon0, lat0):
    """Metres east/north of (lon0, lat0) in an equirectangular frame at the mean latitude."""
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = math.radians(lat0)
    w = math.sqrt(1 - e2 * math.sin(phi) ** 2)
    m = a * (1 - e2) / w**3 * math.pi / 180
    n = a / w * math.pi / 180
    mid = np.radians((lat + lat0) / 2)
    return (lon - lon0) * n * np.cos(mid), (lat - lat0) * m


def geodesic_segment_distance(p, a, b):
    line = G.InverseLine(a[1], a[0], b[1], b[0])
    length = line.s13
    dist = lambda s: G.Inverse(p[1], p[0], *(lambda r: (r["lat2"], r["lon2"]))(line.Position(s)))["s12"]
    lo, hi = 0.0, length
    phi = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
    f1, f2 = dist(x1), dist(x2)
    while hi - lo > 1e-4:
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - phi * (hi - lo)
            f1 = dist(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + phi * (hi - lo)
            f2 = dist(x2)
    d_end = min(G.Inverse(p[1], p[0], a[1], a[0])["s12"], G.Inverse(p[1], p[0], b[1], b[0])["s12"])
    return min(dist((lo + hi) / 2), d_end)


def candidates(tree, bbox):
    return tree.query(shapely.box(*bbox))


def reference_circle(pts, tree, q):
    (lon0, lat0), r = q["center"], q["radius_m"]
    dlat = r / 110000 * 1.2
    dlon = dlat / math.cos(math.radians(lat0 + dlat))
    idx = candidates(tree, (lon0 - dlon, lat0 - dlat, lon0 + dlon, lat0 + dlat))
    x, y = local_xy(pts[idx, 0], pts[idx, 1], lon0, lat0)
    approx = np.hypot(x, y)
    band = 0.02 * r + 20
    inside = list(idx[approx < r - band])
    for i in idx[np.abs(approx - r) <= band]:
        if G.Inverse(lat0, lon0, pts[i, 1], pts[i, 0])["s12"] <= r:
            inside.append(i)
    return sorted(int(i) for i in inside)


def reference_line(pts, tree, q):
    line, d = q["line"], q["distance_m"]
    xs, ys = [p[0] for p in line], [p[1] for p in line]
    dlat = d / 110000 * 1.2 + 0.001
    dlon = dlat / math.cos(math.radians(max(ys) + dlat)) + 0.001
    idx = candidates(tree, (min(xs) - dlon, min(ys) - dlat, max(xs) + dlon, max(ys) + dlat))
    lon0, lat0 = sum(xs) / len(xs), sum(ys) / len(ys)
    x, y = local_xy(pts[idx, 0], pts[idx, 1], lon0, lat0)
    segs = []
    for a, b in zip(line, line[1:]):
        ax, ay = local_xy(np.array(a[0]), np.array(a[1]), lon0, lat0)
        bx, by = local_xy(np.array(b[0]), np.array(b[1]), lon0, lat0)
        segs.append((float(ax), float(ay), float(bx), float(by), a, b))
    per_seg = []
    for ax, ay, bx, by, _, _ in segs:
        dx, dy = bx - ax, by - ay
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
        per_seg.append(np.hypot(x - (ax + t * dx), y - (ay + t * dy)))
    per_seg = np.array(per_seg)
    approx = per_seg.min(axis=0)
    band = 0.02 * d + 20
    inside = list(idx[approx < d - band])
    for k in np.nonzero(np.abs(approx - d) <= band)[0]:
        i = idx[k]
        best = math.inf
        for s, (_, _, _, _, a, b) in enumerate(segs):
            if per_seg[s, k] <= d + band:
                best = min(best, geodesic_segment_distance(pts[i], a, b))
        if best <= d:
            inside.append(i)
    return sorted(int(i) for i in inside)


def main():
    dir_ = sys.argv[1]
    max_line = int(sys.argv[sys.argv.index("--max-line-queries") + 1]) if "--max-line-queries" in sys.argv else None
    pts, polys, queries, answers, pairs = load(dir_)
    geoms = shapely.points(pts)
    report = {"points": len(pts), "polygons": len(polys), "queries": len(queries)}
    problems = 0

    t = time.time()
    ptree = shapely.STRtree(polys)
    inp, tree_idx = ptree.query(geoms, predicate="covered_by")
    ref = set(zip(inp.tolist(), tree_idx.tolist()))
    ours = set(map(tuple, pairs.tolist()))
    missing, extra = ref - ours, ours - ref
    report["w1_pairs"] = {"reference": len(ref), "tg": len(ours), "missing": len(missing), "extra": len(extra),
                          "seconds": round(time.time() - t, 2)}
    problems += len(missing) + len(extra)
    for p in sorted(missing)[:5] + sorted(extra)[:5]:
        print("W1 difference", p, pts[p[0]].tolist(), file=sys.stderr)

    t = time.time()
    tree = shapely.STRtree(geoms)
    diffs = {"circle": 0, "rect": 0, "polygon": 0, "line": 0}
    checked = {k: 0 for k in diffs}
    for q, got in zip(queries, answers):
        kind = q["kind"]
        if kind == "circle":
            ref = reference_circle(pts, tree, q)
        elif kind == "rect":
            ref = sorted(tree.query(shapely.box(*q["min"], *q["max"]), predicate="covers").tolist())
        elif kind == "polygon":
            ref = sorted(tree.query(shapely.Polygon(q["ring"]), predicate="covers").tolist())
        else:
            if max_line is not None and checked["line"] >= max_line:
                continue
            ref = reference_line(pts, tree, q)
        checked[kind] += 1
        if ref != got:
            diffs[kind] += 1
            a, b = set(ref), set(got)
            print(f"W2 {kind} difference: missing {sorted(a - b)[:5]} extra {sorted(b - a)[:5]}", file=sys.stderr)
    report["w2"] = {"checked": checked, "queries_with_differences": diffs, "seconds": round(time.time() - t, 2)}
    problems += sum(diffs.values())
    report["differences"] = problems
    print(json.dumps(report, indent=2))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
