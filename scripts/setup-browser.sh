#!/usr/bin/env bash
# Installs Chromium from Debian (package `chromium`, binary /usr/bin/chromium) for the
# dashboard's browser test, when it is missing. Idempotent; installs nothing else.
# Browser downloads (npx playwright install) do not work on this closed network, so the
# test drives the distribution's Chromium through playwright-core.
set -euo pipefail

pkg=chromium
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
echo "setup-browser: installing $pkg (apt)"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "$pkg" >/dev/null
[ -x /usr/bin/chromium ] || { echo "setup-browser: $pkg installed but /usr/bin/chromium is missing" >&2; exit 1; }
echo "setup-browser: $(/usr/bin/chromium --version 2>/dev/null || echo "$pkg installed")"
