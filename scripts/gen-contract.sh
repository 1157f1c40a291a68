#!/usr/bin/env bash
# Regenerates docs/openapi.json from the handlers and web/src/api/types.gen.ts from it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p tongguan -- openapi > docs/openapi.json
(cd web && npx openapi-typescript ../docs/openapi.json -o src/api/types.gen.ts)
