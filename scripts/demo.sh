#!/usr/bin/env bash
# The main job (npm start): install what is missing, build, start a server with
# the embedded defaults and run a sample shuffle against it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/scripts/demo.js
