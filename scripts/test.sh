#!/usr/bin/env bash
# The one test entry point (CI runs it through .ci/run): installs what the tests need and is missing
# (Debian packages when root, npm ci, a build), then runs typecheck, lint and every test suite.
# Exits non-zero on any failure. Needs no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export NODE_OPTIONS="${NODE_OPTIONS:-} --no-warnings=ExperimentalWarning"

step() { printf '\n== %s\n' "$*"; }

# Debian packages the suites drive as real peers (chromium for the website, with a font for its
# screenshots; tmux as the terminal `npm start` shows the display in; QEMU and the arm64 C/C++ runtime
# for the emulated Pi; systemd for systemd-analyze). Installed when missing; as non-root a missing one is
# an error, never a skip.
DEBIAN_PACKAGES=(socat mbpoll python3-pymodbus python3-serial python3-serial-asyncio chromium fonts-dejavu-core tmux testssl.sh
  qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross systemd)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing Debian packages ${missing[*]} and not root: install them with apt-get" >&2
    exit 1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund </dev/null
fi

step "build"
node scripts/build.mjs

step "typecheck (tsc --noEmit, strict)"
npx --no-install tsc --noEmit -p tsconfig.json

step "lint and format check (biome)"
npx --no-install biome check .

step "tests (node:test)"
mapfile -t files < <(find test -name '*.test.ts' -not -path 'test/load/*' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=2 --test-timeout=300000 "${files[@]}" </dev/null

# Load tests (the soak, the denial-of-service flood) saturate both cores on purpose: alone, one at a
# time, so they neither disturb timing-sensitive tests (RTU framing, timeouts) nor are disturbed.
step "load tests (node:test, one at a time)"
mapfile -t load < <(find test/load -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=300000 "${load[@]}" </dev/null

step "emulated Raspberry Pi smoke test (scripts/pi-smoke.sh)"
bash scripts/pi-smoke.sh </dev/null
