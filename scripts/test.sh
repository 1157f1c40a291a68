#!/usr/bin/env bash
# The full test suite: lint, contract freshness, unit + API tests on SQLite and PostgreSQL, and
# browser tests in headless Chromium against one started server. One debug build serves all of it.
# PostgreSQL tests run when CI or TONGGUAN_TEST_PG is set (CI must have PostgreSQL on 127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
export RUST_BACKTRACE=0
step() { echo; echo "==> $*"; }

step "web: install, type-check and build"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)

step "rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features tongguan/web -- -D warnings

step "contract: OpenAPI document and generated TypeScript types are up to date"
cargo build --features web -p tongguan
tmp=$(mktemp -d)
"$TARGET/debug/tongguan" openapi > "$tmp/openapi.json"
if ! diff -q docs/openapi.json "$tmp/openapi.json" >/dev/null; then
  echo "docs/openapi.json is stale: run 'bash scripts/gen-contract.sh' and commit the result" >&2
  exit 1
fi
(cd web && npx openapi-typescript "$tmp/openapi.json" -o "$tmp/types.gen.ts" >/dev/null)
if ! diff -q web/src/api/types.gen.ts "$tmp/types.gen.ts" >/dev/null; then
  echo "web/src/api/types.gen.ts is stale: run 'bash scripts/gen-contract.sh' and commit the result" >&2
  exit 1
fi

step "rust: unit and API tests"
if [[ -n "${CI:-}" && "${CI}" != "false" ]]; then export TONGGUAN_TEST_PG=1; fi
cargo test --workspace --features tongguan/web

step "spatial: tg-spatial against shapely (GEOS) and GeographicLib on generated data, zero differences"
python3 -c "import shapely, geographiclib" 2>/dev/null || python3 -m pip install -q "shapely==2.1.2" geographiclib
cargo build -p tg-bench-spatial
spatial=$(mktemp -d)
"$TARGET/debug/tg-bench-spatial" gen "$spatial" 200000
"$TARGET/debug/tg-bench-spatial" run "$spatial" > "$spatial/timings.json"
python3 bench/spatial/crosscheck.py "$spatial" --max-line-queries 60
rm -rf "$spatial"

step "fuzz: bounded cargo-fuzz runs of the parsers (longer runs: docs/security.md)"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --sanitizer none -O)
fuzzlog=$(mktemp)
for target in open_field sm_crypto_decrypt pii_parse region_code; do
  if ! (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" --sanitizer none -O -- -max_total_time="${TG_FUZZ_SECONDS:-20}") >"$fuzzlog" 2>&1; then
    tail -40 "$fuzzlog"; echo "fuzz target $target failed (crash input under fuzz/artifacts/$target)" >&2; exit 1
  fi
  echo "$target: $(grep -E '^Done' "$fuzzlog" | tail -1)"
done

step "browser: headless Chromium against one started server"
port=${TG_E2E_PORT:-18080}
data=$(mktemp -d)
"$TARGET/debug/tongguan" serve --data-dir "$data" --listen "127.0.0.1:$port" > "$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  if ! kill -0 $server 2>/dev/null; then cat "$data/server.log"; exit 1; fi
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$data/server.log"; exit 1; }
(cd web && TG_BASE_URL="http://127.0.0.1:$port" npm run --silent test:e2e)

step "masking: the server log of the browser run holds no clear ID-card or mobile number"
python3 - "$data/server.log" <<'PY'
import re, sys
# Digits bounded by non-alphanumerics: hex tokens, MACs and keys (letters around digit runs) do not match.
pattern = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9A-Za-z])")
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
bad = [l for l in lines if pattern.search(l)]
if bad:
    print("clear personal data in the server log:", *bad[:5], sep="\n", file=sys.stderr)
    sys.exit(1)
print(f"server log scanned: {len(lines)} lines, no clear ID-card or mobile numbers")
PY

step "api fuzzing: schemathesis over the OpenAPI document (no 5xx), on a second fresh server"
command -v st >/dev/null || python3 -m pip install -q schemathesis
kill $server 2>/dev/null || true
stport=$((port + 1))
stdata=$(mktemp -d)
"$TARGET/debug/tongguan" serve --data-dir "$stdata" --listen "127.0.0.1:$stport" > "$stdata/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$stport/readyz" >/dev/null && break; sleep 0.2; done
token=$(cd web && node scripts/api-token.mjs "http://127.0.0.1:$stport" sysadmin Demo@12345)
# Logout and password change would end the fuzzing session; everything else is exercised.
st run "http://127.0.0.1:$stport/api/openapi.json" -H "Authorization: Bearer $token" \
  --checks not_a_server_error --exclude-path /api/v1/auth/logout --exclude-path /api/v1/auth/password \
  -n "${TG_SCHEMATHESIS_EXAMPLES:-20}" --max-time "${TG_SCHEMATHESIS_SECONDS:-150}" -w 1 --no-shrink \
  --seed "${TG_SCHEMATHESIS_SEED:-20261129}" --warnings off
