#!/usr/bin/env bash
# Installs metergate as a system service on a Raspberry Pi (docs/raspberry-pi.md). Idempotent: run it
# again after an update. Run from a checkout whose dist/ is built (npm ci && npm run build).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo scripts/install-pi.sh [options]

Installs metergate on this board (run from a checkout with dist/ built: npm ci && npm run build):
  /opt/metergate/slots/a|b             dist/, package.json, package-lock.json and the production
                                       node_modules (npm ci --omit=dev), owned by root, read-only;
                                       the slot current does not name, then current -> it (updates:
                                       docs/updates.md)
  /opt/metergate/launcher.mjs          starts current, installs signed updates, falls back
  /opt/metergate/trusted-keys          the keys update bundles must be signed with (--update-key)
  /usr/local/bin/metergate             the command line (inspect, factory-reset, ...)
  system user and group 'metergate'    no login, no home of its own
  /var/lib/metergate/                  the data dir, mode 0700, owned by metergate (root key 0600)
  /etc/default/metergate               METERGATE_OPTS, extra device flags (kept when present)
  /etc/systemd/system/metergate.service  enabled, then (re)started
Running it again updates the firmware and repairs owners and modes; the data dir and
/etc/default/metergate are kept.

options:
  --root DIR               install into DIR instead of / (an image being built, tests): users and
                           files go there (useradd --prefix), the unit is enabled, nothing is started
  --key-provider file|otp  the root key's source: a file in the data dir (default), or derived from
                           the Pi 4/5 OTP device key (adds the group 'video' for /dev/vcio). Written to
                           /etc/default/metergate when that is created, or when given explicitly
  --node PATH              the node the service runs (default: node on PATH; Node 20 or later)
  --update-key FILE        trust update bundles signed with this key (FILE: the 'ed25519 <base64>'
                           line of `npm run bundle -- keygen`); repeat for more keys. Given, the
                           keys replace /opt/metergate/trusted-keys; not given, it is kept (none:
                           every update is refused)
  --skip-npm               do not run npm ci --omit=dev in the new slot (node_modules provided
                           otherwise)
  --no-start               enable the service but do not (re)start it
  -h, --help               this text
EOF
}

die() {
  printf 'install-pi: %s\n' "$*" >&2
  exit 1
}
note() { printf 'install-pi: %s\n' "$*"; }

root=""
key_provider=""
node_bin=""
skip_npm=0
start=1
update_keys=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --key-provider) key_provider="${2:?--key-provider needs file or otp}"; shift 2 ;;
    --node) node_bin="${2:?--node needs a path}"; shift 2 ;;
    --update-key) update_keys+=("${2:?--update-key needs a file}"); shift 2 ;;
    --skip-npm) skip_npm=1; shift ;;
    --no-start) start=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
case "$key_provider" in "" | file | otp) ;; *) die "--key-provider must be 'file' or 'otp', got '$key_provider'" ;; esac

src="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "$root" ]; then
  mkdir -p "$root"
  root="$(cd "$root" && pwd)"
  [ "$root" != "/" ] || root=""
fi
is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1
if [ -z "$root" ] && [ $is_root -eq 0 ]; then die "run it as root (sudo), or with --root DIR"; fi

OPT=/opt/metergate
DATA=/var/lib/metergate
UNIT=/etc/systemd/system/metergate.service
DEFAULTS=/etc/default/metergate
USER_NAME=metergate

# ---- checks before anything is changed ------------------------------------------------------------
for file in dist/device.mjs dist/cli.mjs dist/launcher.mjs dist/web/index.html package.json package-lock.json \
  scripts/systemd/metergate.service docs/raspberry-pi.md; do
  [ -e "$src/$file" ] || die "$src/$file is missing: build first (npm ci && npm run build)"
done
for key in "${update_keys[@]}"; do
  [ -r "$key" ] || die "--update-key $key: no such file"
  grep -Eq '^ed25519 [A-Za-z0-9+/]{43}= ?' "$key" ||
    die "--update-key $key: not a public key line 'ed25519 <base64>' (npm run bundle -- keygen writes FILE.pub)"
done
node_bin="${node_bin:-$(command -v node || true)}"
[ -n "$node_bin" ] || die "no node on PATH: install Node.js 20 (docs/raspberry-pi.md) or pass --node PATH"
case "$node_bin" in /*) ;; *) die "--node must be an absolute path, got '$node_bin'" ;; esac
if [ -x "$root$node_bin" ] || [ -x "$node_bin" ]; then
  runnable="$node_bin"
  [ -x "$root$node_bin" ] && [ -n "$root" ] && runnable="$root$node_bin"
  if major="$("$runnable" -p 'process.versions.node.split(".")[0]' 2>/dev/null)"; then
    [ "$major" -ge 20 ] || die "$node_bin is Node $major; metergate needs Node 20 or later"
  fi
elif [ -z "$root" ]; then
  die "$node_bin is not executable"
fi

# ---- the system user ------------------------------------------------------------------------------
if [ $is_root -eq 1 ]; then
  if [ -n "$root" ]; then
    [ -f "$root/etc/passwd" ] || die "$root/etc/passwd is missing: --root needs a root file system with /etc"
    user_exists() { grep -q "^$USER_NAME:" "$root/etc/passwd"; }
    prefix=(--prefix "$root")
  else
    user_exists() { getent passwd "$USER_NAME" >/dev/null; }
    prefix=()
  fi
  if ! user_exists; then
    useradd "${prefix[@]}" --system --user-group --home-dir "$DATA" --no-create-home \
      --shell /usr/sbin/nologin --comment "metergate firmware" "$USER_NAME"
    note "created the system user $USER_NAME"
  fi
  owner="$(awk -F: -v u="$USER_NAME" '$1 == u { print $3 ":" $4 }' "${root:-}/etc/passwd")"
  [ -n "$owner" ] || die "the user $USER_NAME is not in ${root:-}/etc/passwd (NSS-only users are not supported)"
else
  note "not root: no user created, files stay owned by $(id -un) (--root only)"
  owner=""
fi

# ---- the firmware: into the slot current does not name, then switch (docs/updates.md) ------------
install -d -m 0755 "$root$OPT" "$root$OPT/docs" "$root$OPT/slots" "$root$OPT/state" "$root/usr/local/bin"
current="$(readlink "$root$OPT/current" 2>/dev/null || true)"
case "$current" in slots/a) slot=b ;; *) slot=a ;; esac
new="$root$OPT/slots/$slot.new"
rm -rf "$new"
install -d -m 0755 "$new"
cp -R "$src/dist" "$new/dist"
install -m 0644 "$src/package.json" "$src/package-lock.json" "$new/"
if [ $skip_npm -eq 0 ]; then
  note "npm ci --omit=dev in $OPT/slots/$slot"
  (cd "$new" && npm ci --omit=dev --no-audit --no-fund </dev/null)
  [ -d "$new/node_modules" ] || die "node_modules is missing after npm ci"
fi
chmod -R u=rwX,go=rX "$new"
[ "$(readlink "$root$OPT/previous" 2>/dev/null || true)" != "slots/$slot" ] || rm -f "$root$OPT/previous"
rm -rf "$root$OPT/slots/$slot"
mv "$new" "$root$OPT/slots/$slot"
# An update on trial is settled by hand now: this install is what runs.
rm -f "$root$OPT/state/trial.json"
if [ -n "$current" ]; then ln -sfn "$current" "$root$OPT/previous.new" && mv -T "$root$OPT/previous.new" "$root$OPT/previous"; fi
ln -sfn "slots/$slot" "$root$OPT/current.new"
mv -T "$root$OPT/current.new" "$root$OPT/current"
# The layout before A/B slots kept the firmware in /opt/metergate itself.
rm -rf "$root$OPT/dist" "$root$OPT/node_modules" "$root$OPT/package.json" "$root$OPT/package-lock.json"
install -m 0644 "$src/dist/launcher.mjs" "$root$OPT/launcher.mjs"
install -m 0644 "$src/docs/raspberry-pi.md" "$src/docs/updates.md" "$root$OPT/docs/"
if [ ${#update_keys[@]} -gt 0 ]; then
  cat "${update_keys[@]}" >"$root$OPT/trusted-keys.new"
  chmod 0644 "$root$OPT/trusted-keys.new"
  mv "$root$OPT/trusted-keys.new" "$root$OPT/trusted-keys"
  note "trusted update keys: ${#update_keys[@]}"
elif [ ! -e "$root$OPT/trusted-keys" ]; then
  note "no --update-key: every update bundle will be refused until one is installed"
fi
printf '#!/bin/sh\n# metergate command line (scripts/install-pi.sh)\nexec %s %s/current/dist/cli.mjs "$@"\n' \
  "$node_bin" "$OPT" >"$root/usr/local/bin/metergate"
chmod 0755 "$root/usr/local/bin/metergate"

# ---- the data dir: only the firmware user reads it ------------------------------------------------
install -d -m 0755 "$root/var/lib"
install -d -m 0700 "$root$DATA"
if [ -d "$root$DATA/keys" ]; then
  chmod 0700 "$root$DATA/keys"
  find "$root$DATA/keys" -maxdepth 1 -type f -exec chmod 0600 {} +
fi
[ -z "$owner" ] || chown -R "$owner" "$root$DATA"

# ---- configuration and the unit -------------------------------------------------------------------
install -d -m 0755 "$root/etc/default" "$root/etc/systemd/system"
if [ ! -e "$root$DEFAULTS" ] || [ -n "$key_provider" ]; then
  cat >"$root$DEFAULTS.new" <<EOF
# metergate: extra device flags, appended to the ExecStart of metergate.service; a flag given here
# again overrides the unit's (e.g. --display). See docs/raspberry-pi.md.
#   --meter SOURCE          the meter this board reads (required; see docs/meters.md), e.g.
#                           --meter modbus-rtu:/dev/ttyUSB0?baud=9600&parity=even&unit=1&profile=eastron-sdm630
#                           (no quotes here: systemd splits METERGATE_OPTS at spaces and keeps quotes)
#   --key-provider otp      root key derived from the Pi 4/5 OTP device key (needs the group video)
#   --rtu /dev/ttyAMA0      Modbus RTU on the Pi's UART
#   --display /dev/ttyUSB0  the local display on a serial terminal
METERGATE_OPTS="--key-provider ${key_provider:-file}"
EOF
  if [ -e "$root$DEFAULTS" ]; then
    # An explicit --key-provider changes only that flag; other flags set there are kept.
    opts="$(sed -n 's/^METERGATE_OPTS="\(.*\)"$/\1/p' "$root$DEFAULTS" | sed 's/--key-provider [a-z]*//')"
    opts="$(echo "--key-provider $key_provider $opts" | tr -s ' ' | sed 's/ $//')"
    # `&`, `|` and `\` in the kept flags (a --meter source has `&`) are literal in sed's replacement.
    opts="$(printf '%s' "$opts" | sed 's/[&|\\]/\\&/g')"
    sed -i "s|^METERGATE_OPTS=.*|METERGATE_OPTS=\"$opts\"|" "$root$DEFAULTS.new"
  fi
  chmod 0644 "$root$DEFAULTS.new"
  mv "$root$DEFAULTS.new" "$root$DEFAULTS"
fi
# The node of this board in ExecStartPre and ExecStart (the unit names /usr/bin/node).
sed -E "s|^(ExecStart(Pre)?=\+?)/usr/bin/node |\1$node_bin |" "$src/scripts/systemd/metergate.service" >"$root$UNIT.new"
chmod 0644 "$root$UNIT.new"
mv "$root$UNIT.new" "$root$UNIT"

# OTP is read through /dev/vcio (vcmailbox), group video on Raspberry Pi OS: only for --key-provider otp.
dropin="$root/etc/systemd/system/metergate.service.d/otp-key.conf"
if grep -q -- '^METERGATE_OPTS=.*--key-provider otp' "$root$DEFAULTS"; then
  install -d -m 0755 "$(dirname "$dropin")"
  printf '# scripts/install-pi.sh: --key-provider otp reads OTP through /dev/vcio.\n[Service]\nSupplementaryGroups=video\n' \
    >"$dropin"
  chmod 0644 "$dropin"
else
  rm -f "$dropin"
  rmdir "$(dirname "$dropin")" 2>/dev/null || true
fi

# ---- enable (and start) -----------------------------------------------------------------------------
if [ -n "$root" ]; then
  install -d -m 0755 "$root/etc/systemd/system/multi-user.target.wants"
  ln -sfn "$UNIT" "$root/etc/systemd/system/multi-user.target.wants/metergate.service"
  note "installed into $root; enabled, not started"
else
  systemctl daemon-reload
  systemctl enable metergate.service
  if [ $start -eq 1 ]; then
    systemctl restart metergate.service
    note "started: journalctl -u metergate -f shows the log (the certificate fingerprint too)"
  else
    note "enabled; start it with systemctl start metergate"
  fi
fi
