#!/usr/bin/env bash
# Workflow / 招商 benchmark: 100,000 projects with full histories (log rows and handled tasks for every
# step passed, an open task at the current step) on the embedded SQLite default and on PostgreSQL.
# 1. 200 signed-in users (county staff, county leaders, 市投促) opening their 待办 inbox or the project
#    list with a random filter — with 1–3 s reading time, and in a closed loop — against the same two
#    queries as plain SQL on PostgreSQL (no HTTP, no sessions, no scoping code).
# 2. Transitions per second: both county leaders approving 县区在谈审核 steps through the API with 16
#    concurrent requests, against the same state change as a hand-written SQL transaction.
# Client and servers share this machine's cores: compare same-run ratios. Needs PostgreSQL on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
N=${PROJECTS:-100000}
USERS=${USERS:-200}
SECONDS_RUN=${SECONDS_RUN:-30}
ACT_SECONDS=${ACT_SECONDS:-10}
WORKERS=${WORKERS:-16}
THINK=${THINK:-2000}
PG=${PG:-postgres://postgres@127.0.0.1:5432/bench_wf}
ulimit -n 65536 || true
[[ -n "${SKIP_WEB:-}" ]] || (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
cargo build --release -q -p tongguan --features web -p tg-bench-workflow
TG="$TARGET/release/tongguan"
BENCH="$TARGET/release/tg-bench-workflow"
work=$(mktemp -d)
export TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN=true TONGGUAN_SECURITY__LOGIN_RATE_PER_IP=0 TONGGUAN_SECURITY__LOGIN_RATE_PER_ACCOUNT=0

run_server() { # data-dir port [database-url]
  local args=(--data-dir "$1")
  [[ -n "${3:-}" ]] && args+=(--database-url "$3")
  "$TG" "${args[@]}" serve --listen "127.0.0.1:$2" >"$1/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return; sleep 0.2; done
  echo "server on :$2 did not start" >&2; cat "$1/server.log" >&2; exit 1
}
trap 'kill ${server:-0} 2>/dev/null || true' EXIT

echo "==> SQLite: seed and generate $N projects" >&2
mkdir -p "$work/lite"
"$TG" --data-dir "$work/lite" seed-demo >&2
gen_lite=$("$BENCH" gen "sqlite://$work/lite/tongguan.db" "$N")
echo "$gen_lite" >&2
run_server "$work/lite" 18191
lite_think=$("$BENCH" api http://127.0.0.1:18191 "$USERS" "$SECONDS_RUN" "$THINK")
lite_loop=$("$BENCH" api http://127.0.0.1:18191 "$USERS" "$SECONDS_RUN" 0)
lite_act=$("$BENCH" act http://127.0.0.1:18191 "$ACT_SECONDS" "$WORKERS")
kill $server; wait $server 2>/dev/null || true

echo "==> PostgreSQL: seed and generate $N projects" >&2
dropdb -h 127.0.0.1 -U postgres --if-exists bench_wf
createdb -h 127.0.0.1 -U postgres bench_wf
mkdir -p "$work/pg"
"$TG" --data-dir "$work/pg" --database-url "$PG" seed-demo >&2
"$BENCH" gen "$PG" "$N" >&2
# Bulk-loaded rows have no visibility map or statistics yet; a live database has both from autovacuum
# (pgbench vacuums after loading for the same reason). Without it index-only counts visit the heap.
psql -h 127.0.0.1 -U postgres -q -d bench_wf -c "VACUUM ANALYZE" >&2
run_server "$work/pg" 18192 "$PG"
pg_think=$("$BENCH" api http://127.0.0.1:18192 "$USERS" "$SECONDS_RUN" "$THINK")
pg_loop=$("$BENCH" api http://127.0.0.1:18192 "$USERS" "$SECONDS_RUN" 0)
pg_act=$("$BENCH" act http://127.0.0.1:18192 "$ACT_SECONDS" "$WORKERS")
kill $server; wait $server 2>/dev/null || true
sql_think=$("$BENCH" sql "$PG" "$USERS" "$SECONDS_RUN" "$THINK")
sql_loop=$("$BENCH" sql "$PG" "$USERS" "$SECONDS_RUN" 0)
sql_act=$("$BENCH" sqlact "$PG" "$ACT_SECONDS" "$WORKERS")
python3 - "$lite_think" "$pg_think" "$sql_think" "$lite_loop" "$pg_loop" "$sql_loop" "$lite_act" "$pg_act" "$sql_act" <<'PY'
import json, sys
r = [json.loads(a) for a in sys.argv[1:]]
names = ["Tongguan API, SQLite", "Tongguan API, PostgreSQL", "plain SQL, PostgreSQL"]
for title, rows in [("200 users, 1-3 s reading time", r[0:3]), ("200 users, closed loop", r[3:6])]:
    print(f"\n{title}: inbox + filtered list")
    print("| | requests/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for n, x in zip(names, rows):
        print(f"| {n} | {x['rps']:.0f} | {x['p50_ms']:.1f} | {x['p95_ms']:.1f} | {x['p99_ms']:.1f} |")
print("\ntransitions (县区在谈审核 → 在谈), 16 concurrent")
print("| | transitions/s | p50 ms | p99 ms | failed |")
print("|---|---:|---:|---:|---:|")
for n, x in zip(names, r[6:9]):
    print(f"| {n} | {x['transitions_per_s']:.0f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {x.get('failed', 0)} |")
PY
echo "$lite_think $pg_think $sql_think $lite_loop $pg_loop $sql_loop $lite_act $pg_act $sql_act" > "$work/results.jsonl"
echo "raw results: $work/results.jsonl" >&2
