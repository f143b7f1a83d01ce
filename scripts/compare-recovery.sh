#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Where a restart's and a probe's time goes, for builds of side side by side: runs each build in turn, N rounds
# (so that the machine's load drifts over all alike), and prints, per build, the median and range over the rounds of
#   - e1000's isolated probe (`side run e1000 --packets 10 --json`: timings_ms.probe, one driver life per run);
#   - the recovery bench (`side bench --quick --sections recovery --json`: 20 SIGKILLs under traffic), each step's
#     median per run (steps a build does not measure are left out), and the frames lost.
#
#   scripts/compare-recovery.sh [-n N] [-p PROBES] OLD NEW [MORE...]
#
# N rounds (default 3); PROBES probe runs per build per round (default 3). Runs under `unshare -n` (its own network
# namespace: no interference with other sides). Prints the machine's load before and after.
set -eu

rounds=3
probes=3
while [ $# -gt 0 ]; do
  case "$1" in
    -n) rounds=$2; shift 2 ;;
    -p) probes=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [-n N] [-p PROBES] BUILD..." >&2; exit 2; }
out=$(mktemp -d /tmp/compare-recovery.XXXXXX)
echo "load before: $(uptime)"
r=1
while [ "$r" -le "$rounds" ]; do
  i=0
  for bin in "$@"; do
    i=$((i + 1))
    p=1
    while [ "$p" -le "$probes" ]; do
      unshare -n "$bin" run e1000 --packets 10 --json --quiet >"$out/probe-$i-$r-$p.json" 2>/dev/null || true
      p=$((p + 1))
    done
    unshare -n "$bin" bench --quick --sections recovery --json --quiet >"$out/recovery-$i-$r.json" 2>/dev/null || true
  done
  r=$((r + 1))
done
echo "load after: $(uptime)"
echo "runs kept in $out"
python3 - "$out" "$@" <<'EOF'
import glob, json, statistics, sys
out, bins = sys.argv[1], sys.argv[2:]
def load(path):
    try:
        return json.load(open(path))
    except Exception:
        return None
def summary(values):
    if not values:
        return "-"
    return "%.1f (%.1f-%.1f, n=%d)" % (statistics.median(values), min(values), max(values), len(values))
for i, b in enumerate(bins, 1):
    print("== %s" % b)
    probe = [d["timings_ms"]["probe"] for d in map(load, glob.glob("%s/probe-%d-*.json" % (out, i))) if d]
    print("  probe, isolated (ms): %s" % summary(probe))
    steps, lost = {}, []
    for d in map(load, sorted(glob.glob("%s/recovery-%d-*.json" % (out, i)))):
        if not d or "recovery" not in d:
            continue
        rec = d["recovery"]
        lost.append(rec["frames_lost"])
        for name, fig in rec["steps_ms"].items():
            for k in ("median", "p99"):
                if fig.get(k) is not None:
                    steps.setdefault((name, k), []).append(fig[k])
    for (name, k), v in sorted(steps.items(), key=lambda x: (x[0][1], x[0][0])):
        print("  recovery %-11s %-6s (ms): %s" % (name, k, summary(v)))
    print("  recovery frames lost per run: %s" % (lost,))
EOF
