#!/usr/bin/env bash
# Foundation HTTP benchmark: login and a scoped, paged user list over 10,000 users, at 100 and 1,000
# concurrent connections, next to a bare axum hello-world built in the same run (the ceiling).
# Load generator: Debian's wrk (installed if missing). Client and servers share this machine's cores,
# so only same-run ratios are meaningful. Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
DURATION=${DURATION:-15s}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
ulimit -n 65536 || true
cargo build --release -q -p tongguan -p tg-bench-hello
work=$(mktemp -d)
TG="$TARGET/release/tongguan"
$TG --data-dir "$work" seed-demo >/dev/null 2>&1
python3 bench/seed_users.py "$work/tongguan.db" 10000
# wrk replays one body, so the bench logs in with a plain password (the SM2 envelope is single-use by
# design) and without the per-IP/per-account login rate limits, which would otherwise answer 429.
TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN=true TONGGUAN_SECURITY__LOGIN_RATE_PER_IP=0 TONGGUAN_SECURITY__LOGIN_RATE_PER_ACCOUNT=0 \
  $TG --data-dir "$work" serve --listen 127.0.0.1:18180 >"$work/server.log" 2>&1 &
tg=$!
"$TARGET/release/tg-bench-hello" 127.0.0.1:18181 &
hello=$!
trap 'kill $tg $hello 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do curl -sf http://127.0.0.1:18180/readyz >/dev/null && curl -sf http://127.0.0.1:18181/ >/dev/null && break; sleep 0.1; done
token=$(curl -sf -X POST http://127.0.0.1:18180/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"username":"yc.leader","password":"Demo@12345"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
total=$(curl -sf "http://127.0.0.1:18180/api/v1/users?page_size=1" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "users visible to yc.leader (云城区 scope): $total of $(python3 -c "import sqlite3;print(sqlite3.connect('$work/tongguan.db').execute('select count(*) from users').fetchone()[0])")" >&2

cat > "$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"yc.leader","password":"Demo@12345"}'
LUA
run() { # name conns url [script]
  local name=$1 c=$2 url=$3 script=${4:-}
  local args=(-t2 -c"$c" -d"$DURATION" --latency --timeout 30s)
  [[ -n $script ]] && args+=(-s "$script")
  local out
  out=$(wrk "${args[@]}" -H "authorization: Bearer $token" "$url")
  python3 bench/wrk_row.py "$name" "$c" <<<"$out"
}
echo "| workload | connections | requests/s | p50 | p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for c in 100 1000; do
  run "axum hello-world (ceiling)" $c http://127.0.0.1:18181/
  run "GET /api/v1/users?page=1&page_size=20 (scoped, audited)" $c "http://127.0.0.1:18180/api/v1/users?page=1&page_size=20"
  run "POST /api/v1/auth/login (PBKDF2-HMAC-SM3, 10k iterations)" $c http://127.0.0.1:18180/api/v1/auth/login "$work/login.lua"
done
