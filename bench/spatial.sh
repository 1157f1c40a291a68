#!/usr/bin/env bash
# The spatial benchmark (W1-W4 of the spatial engine issue), tg-spatial side by side with
# shapely 2 / GEOS, PostGIS and supercluster on one generated data set, in one run.
# Needs: PostgreSQL with PostGIS on 127.0.0.1 (apt-get install postgresql-15-postgis-3),
# python3 with shapely, geographiclib and psycopg, node. Writes data/bench-spatial/ and prints
# a Markdown table with same-run ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-data/bench-spatial}
python3 -c "import shapely, geographiclib, psycopg" 2>/dev/null || python3 -m pip install -q "shapely==2.1.2" geographiclib "psycopg[binary]"
psql -h 127.0.0.1 -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='bench_spatial'" postgres | grep -q 1 \
  || createdb -h 127.0.0.1 -U postgres bench_spatial
(cd bench/spatial && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release -p tg-bench-spatial
target/release/tg-bench-spatial gen "$dir"
target/release/tg-bench-spatial run "$dir" > "$dir/tg.json"
python3 bench/spatial/crosscheck.py "$dir" > "$dir/crosscheck.json"
python3 bench/spatial/anchors.py "$dir" > "$dir/anchors.json"
node --max-old-space-size=8000 bench/spatial/supercluster.mjs "$dir" > "$dir/supercluster.json"
python3 bench/spatial/report.py "$dir"
