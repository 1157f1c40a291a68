#!/usr/bin/env python3
"""Prints the spatial benchmark's Markdown table from DIR/{tg,anchors,supercluster,crosscheck}.json."""
import json
import sys

d = sys.argv[1]
tg = json.load(open(f"{d}/tg.json"))
an = json.load(open(f"{d}/anchors.json"))
sc = json.load(open(f"{d}/supercluster.json"))["supercluster"]
cc = json.load(open(f"{d}/crosscheck.json"))
sh, pg = an["shapely"], an["postgis"]


def row(name, ours, *others, higher_better=False, unit=""):
    cells = [f"{ours:,.4g}{unit}"]
    for o in others:
        ratio = (ours / o) if higher_better else (o / ours)
        cells.append(f"{o:,.4g}{unit} (×{ratio:.1f})")
    print(f"| {name} | " + " | ".join(cells) + " |")


print(f"Points: {tg['w1']['points']:,}; cross-check differences: {cc['differences']}; "
      f"PostGIS differing W2 queries: {pg['w2_queries_differing_from_tg'] or 'none'}; "
      f"shapely differing W2 queries: {sum(sh['w2_queries_differing_from_tg'].values())}\n")
print("| workload | tg-spatial | shapely 2 (tg faster by) | PostGIS (tg faster by) |")
print("|---|---|---|---|")
row("W1 geofence, points/s", tg["w1"]["points_per_s"], sh["w1"]["points_per_s"], pg["w1"]["points_per_s"], higher_better=True)
for k, label in [("circle", "2 km circle"), ("rect", "rectangle"), ("polygon", "polygon"), ("line", "500 m line buffer")]:
    row(f"W2 {label}, median ms", tg["w2"][k]["median_ms"], sh["w2"][k]["median_ms"], pg["w2"][k]["median_ms"])
    row(f"W2 {label}, p95 ms", tg["w2"][k]["p95_ms"], sh["w2"][k]["p95_ms"], pg["w2"][k]["p95_ms"])
print()
print("| workload | tg-spatial | supercluster (tg faster by) |")
print("|---|---|---|")
row("W3 index build, s", tg["index_build_s"], sc["index_build_s"])
row("W3 viewport query, median ms", tg["w3"]["query"]["median_ms"], sc["query"]["median_ms"])
row("W3 viewport query, p95 ms", tg["w3"]["query"]["p95_ms"], sc["query"]["p95_ms"])
print()
print("| workload | tg-spatial | PostGIS ST_AsMVT (tg faster/smaller by) |")
print("|---|---|---|")
row("W4 tile, median ms", tg["w4"]["tile"]["median_ms"], pg["w4"]["tile"]["median_ms"])
row("W4 tile, p95 ms", tg["w4"]["tile"]["p95_ms"], pg["w4"]["tile"]["p95_ms"])
row("W4 tile size, median kB", tg["w4"]["size"]["median_kb"], pg["w4"]["size"]["median_kb"])
row("W4 tile size, p95 kB", tg["w4"]["size"]["p95_kb"], pg["w4"]["size"]["p95_kb"])
