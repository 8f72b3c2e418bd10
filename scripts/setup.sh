#!/usr/bin/env bash
# Installs what is missing and builds. Idempotent; both README commands run it.
#   - Node 20 is required (uWebSockets.js ships native code for Node 20 only here).
#   - npm packages from the lockfile (npm ci), once, or again when the lockfile changed.
#   - TypeScript build (tsc) into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" != "20" ]; then
  echo "setup: Pegasus needs Node 20 (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

stamp=node_modules/.pegasus-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

echo "setup: building TypeScript"
rm -rf dist
npx --no-install tsc -p tsconfig.json
