#!/usr/bin/env bash
# Installs what is missing and builds. Idempotent; both README commands run it.
#   - Node 20 is required (uWebSockets.js ships native code for Node 20 only here).
#   - npm packages from the lockfile (npm ci), once, or again when the lockfile changed.
#   - System libraries for the native module from apt (UCX, libpmem2, libclang for
#     bindgen), once.
#   - The native module (native/, Rust, napi-rs), rebuilt when its sources changed.
#   - TypeScript build (tsc) into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" != "20" ]; then
  echo "setup: Pegasus needs Node 20 (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Debian packages the native module builds against. dpkg-query tells what is missing.
apt_pkgs=(libucx-dev ucx-utils libpmem2-dev libclang-dev pkg-config)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} (apt)"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=node_modules/.pegasus-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# The native module: rebuilt when any of its sources or the toolchain changed.
native_stamp=native/target/.pegasus-build-stamp
native_hash=$( (cat native/Cargo.toml native/Cargo.lock native/build.rs native/wrapper.h; find native/src -type f -name '*.rs' | sort | xargs cat; rustc --version) | sha256sum | cut -d' ' -f1)
if [ ! -f native/pegasus-native.linux-x64-gnu.node ] || [ ! -f "$native_stamp" ] || [ "$(cat "$native_stamp")" != "$native_hash" ]; then
  echo "setup: building the native module (cargo, release)"
  (cd native && npx --no-install napi build --platform --release --js binding.cjs --dts binding.d.cts)
  mkdir -p native/target && echo "$native_hash" > "$native_stamp"
fi

echo "setup: building TypeScript"
rm -rf dist
npx --no-install tsc -p tsconfig.json
