#!/usr/bin/env bash
# 掌上数窗 dashboard benchmark: a synthetic library of 5,000 indicators and 21.6 million values
# (72 months × 6 regions × 10 categories each) next to the Yunfu demo pack, and a 40-indicator topic
# (17 widgets: cards, trends, county comparisons and rankings, category structures, dual axis).
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
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
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
# Two loads: 200 users who read each dashboard for 1-3 s (THINK=2000 ms on average) — leaders between
# meetings — and the same 200 users in a closed loop (no reading time; a saturation test).
THINK=${THINK:-2000}
api_think=$($BENCH api http://127.0.0.1:18190 "$USERS" "$SECONDS_RUN" "$THINK")
api_loop=$($BENCH api http://127.0.0.1:18190 "$USERS" "$SECONDS_RUN" 0)
kill $tg; wait $tg 2>/dev/null || true
sql_think=$($BENCH sql "$PG" "$USERS" "$SECONDS_RUN" "$THINK")
sql_loop=$($BENCH sql "$PG" "$USERS" "$SECONDS_RUN" 0)
python3 - "$api_think" "$sql_think" "$api_loop" "$sql_loop" <<'PY'
import json, sys
at, st, al, sl = (json.loads(x) for x in sys.argv[1:5])
print("| load | system | requests/s | p50 ms | p95 ms | p99 ms |")
print("|---|---|---:|---:|---:|---:|")
for name, a, s in (("200 users, 1-3 s reading time", at, st), ("200 users, closed loop", al, sl)):
    print(f"| {name} | Tongguan dashboard API (SQLite) | {a['rps']:.0f} | {a['p50_ms']:.1f} | {a['p95_ms']:.1f} | {a['p99_ms']:.1f} |")
    print(f"| {name} | plain SQL on PostgreSQL | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} |")
    print(f"| {name} | ratio SQL / Tongguan | {a['rps']/max(s['rps'],1e-9):.2f}× (Tongguan/SQL) | {s['p50_ms']/max(a['p50_ms'],1e-9):.1f}× | {s['p95_ms']/max(a['p95_ms'],1e-9):.1f}× | {s['p99_ms']/max(a['p99_ms'],1e-9):.1f}× |")
PY
