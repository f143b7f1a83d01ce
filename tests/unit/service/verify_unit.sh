#!/bin/sh
# The repository's unit file (dist/side@.service) as systemd would load it, checked offline by
# `systemd-analyze verify` (no systemd needs to run as PID 1): syntax, every directive known, its values valid.
# One thing verify checks belongs to an installation rather than to the unit: that ExecStart's program exists. The
# copy verified therefore names the built side instead of /usr/local/bin/side; everything else is the file as it is.
# Any warning fails the test, as an error does.
set -u
unit=$1 side=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze is not installed (apt-get install systemd)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
grep -q '^ExecStart=/usr/local/bin/side run %i ' "$unit" || { echo "FAIL: ExecStart does not run side run %i"; exit 1; }
for line in Type=notify Restart=on-failure KillMode=mixed; do
  grep -qx "$line" "$unit" || { echo "FAIL: $unit lacks $line"; exit 1; }
done
sed "s#/usr/local/bin/side#$side#" "$unit" >"$dir/side@e1000.service"
out=$(systemd-analyze verify --man=no --generators=no "$dir/side@e1000.service" 2>&1)
status=$?
[ -n "$out" ] && echo "$out"
if [ "$status" -ne 0 ] || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify: status $status"
  exit 1
fi
echo "ok: $unit verifies (systemd-analyze $(systemd-analyze --version | head -1 | cut -d' ' -f2))"
