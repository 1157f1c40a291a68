#!/usr/bin/env bash
# Build and run the whole system on the embedded SQLite default with Yunfu demo data.
# Usage: bash scripts/run.sh [serve options, e.g. --listen 0.0.0.0:8080]
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
echo "==> building the web app (web/dist)"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
echo "==> building tongguan (release, web app embedded)"
cargo build --release --features web -p tongguan
echo "==> starting: data in ./data (first start seeds Yunfu demo data)"
exec "$TARGET/release/tongguan" serve "$@"
