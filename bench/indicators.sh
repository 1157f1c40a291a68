#!/usr/bin/env bash
# 掌上数窗 dashboard benchmark: a synthetic library of 5,000 indicators and 21.6 million values
# (72 months × 6 regions × 10 categories each) next to the Yunfu demo pack, and a 40-indicator topic
# (18 widgets: cards, trends, county comparisons and rankings, category structures, dual axis).
# Tongguan's dashboard API (SQLite, the embedded default) under 200 concurrent signed-in users,
# side by side with the same aggregation written as plain SQL on PostgreSQL (window functions),
# both in this run, on this machine (client and servers share its cores: compare same-run ratios).
# Needs PostgreSQL on 127.0.0.1 (database bench_ind is created). Prints JSON lines and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
USERS=${USERS:-200}
SECONDS_RUN=${SECONDS_RUN:-30}
PG=${PG:-postgres://postgres@127.0.0.1:5432/bench_ind}
ulimit -n 65536 || true
psql -h 127.0.0.1 -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='bench_ind'" postgres | grep -q 1 || createdb -h 127.0.0.1 -U postgres bench_ind
cargo build --release -q -p tongguan --features web -p tg-bench-indicators
work=${1:-$(mktemp -d)}
TG="$TARGET/release/tongguan"
BENCH="$TARGET/release/tg-bench-indicators"
if [[ ! -f "$work/generated" ]]; then
  $TG --data-dir "$work" seed-demo >&2
  $BENCH gen "$work" "$PG" | tee "$work/generated"
fi
TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN=true TONGGUAN_SECURITY__LOGIN_RATE_PER_IP=0 TONGGUAN_SECURITY__LOGIN_RATE_PER_ACCOUNT=0 \
  $TG --data-dir "$work" serve --listen 127.0.0.1:18190 >"$work/server.log" 2>&1 &
tg=$!
trap 'kill $tg 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf http://127.0.0.1:18190/readyz >/dev/null && break; sleep 0.2; done
api=$($BENCH api http://127.0.0.1:18190 "$USERS" "$SECONDS_RUN")
echo "api $api"
kill $tg; wait $tg 2>/dev/null || true
sql=$($BENCH sql "$PG" "$USERS" "$SECONDS_RUN")
echo "sql $sql"
python3 - "$api" "$sql" <<'PY'
import json, sys
a, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("| | requests/s | p50 ms | p95 ms | p99 ms |")
print("|---|---|---|---|---|")
print(f"| Tongguan dashboard API (SQLite) | {a['rps']:.0f} | {a['p50_ms']:.1f} | {a['p95_ms']:.1f} | {a['p99_ms']:.1f} |")
print(f"| plain SQL on PostgreSQL | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} |")
print(f"| ratio (SQL / Tongguan) | {s['p50_ms'] and a['rps']/max(s['rps'],1e-9):.1f}× throughput | {s['p50_ms']/max(a['p50_ms'],1e-9):.1f}× | {s['p95_ms']/max(a['p95_ms'],1e-9):.1f}× | {s['p99_ms']/max(a['p99_ms'],1e-9):.1f}× |")
PY
