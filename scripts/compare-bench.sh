#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Compares two builds of side on `side bench` on this machine: runs OLD and NEW alternately N times (so that the
# machine's load drifts over both alike), keeps every run's JSON, and prints the median of each figure side by side
# with the change from OLD to NEW.
#
#   scripts/compare-bench.sh [-n N] [-o DIR] OLD NEW [-- BENCH OPTIONS]
#
# OLD and NEW are side executables (e.g. /work/proof/build/side build/side). N defaults to 3; the bench options
# default to --quick (e.g. `-- --quick --sections throughput,latency --sizes 64` for a shorter comparison). Each run
# is `sudo nice -n -5 BIN bench ... --json`; its JSON and stderr are kept in DIR (default: a new directory under
# /tmp). A run that fails is reported and left out of the medians.
set -eu

usage() {
  echo "usage: $0 [-n N] [-o DIR] OLD NEW [-- BENCH OPTIONS]" >&2
  exit 2
}

runs=3
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    -o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    -h|--help) usage ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || usage
old=$1
new=$2
shift 2
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || usage
  shift
fi
[ $# -gt 0 ] || set -- --quick
case "$runs" in ''|*[!0-9]*) usage ;; esac
[ "$runs" -ge 1 ] || usage
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "$0: $b is not an executable" >&2; exit 2; }
done
[ -n "$out" ] || out=$(mktemp -d /tmp/compare-bench.XXXXXX)
mkdir -p "$out"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

i=1
while [ "$i" -le "$runs" ]; do
  for which in old new; do
    if [ "$which" = old ]; then bin=$old; else bin=$new; fi
    echo "run $i/$runs: $which ($bin)" >&2
    if ! $sudo nice -n -5 "$bin" bench "$@" --json >"$out/$which-$i.json" 2>"$out/$which-$i.log"; then
      echo "  failed (see $out/$which-$i.log)" >&2
    fi
  done
  i=$((i + 1))
done

python3 - "$out" "$runs" "$old" "$new" <<'EOF'
import json, statistics, sys

out, runs, old_bin, new_bin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def figures(doc):
    """Every figure of one run, by name: (value, True if higher is better)."""
    f = {}
    for section in ("throughput", "optimisations"):
        for p in doc.get(section, []):
            if not p.get("ok"):
                continue
            name = "%s %s %4d B%s" % (p["isolation"], p["direction"], p["frame_size"],
                                       " -" + p["disabled"] if p.get("disabled") else "")
            f[name + " pps"] = (p["pps"], True)
            f[name + " CPU ns/packet"] = (p["cpu_ns_per_packet"], False)
    for l in doc.get("latency", []):
        if l.get("ok"):
            name = "%s round trip %d B" % (l["isolation"], l["frame_size"])
            f[name + " p50 us"] = (l["p50_us"], False)
            f[name + " p99 us"] = (l["p99_us"], False)
    for t in doc.get("tcp", []):
        if t.get("ok"):
            f["%s TCP Gbit/s" % t["isolation"]] = (t["receiver_gbps"], True)
    probe = doc.get("probe_ms", {})
    for iso in ("inproc", "process"):
        if probe.get(iso + "_median"):
            f["%s probe ms" % iso] = (probe[iso + "_median"], False)
    rec = doc.get("recovery", {})
    if rec.get("count"):
        f["recovery total ms (median)"] = (rec["steps_ms"]["total"]["median"], False)
    return f

def load(which):
    docs = []
    for i in range(1, runs + 1):
        try:
            with open("%s/%s-%d.json" % (out, which, i)) as fh:
                docs.append(figures(json.load(fh)))
        except (OSError, ValueError, KeyError):
            pass
    return docs

old, new = load("old"), load("new")
print("OLD %s: %d good runs; NEW %s: %d good runs; medians (runs kept in %s)" %
      (old_bin, len(old), new_bin, len(new), out))
names = []
for d in old + new:
    for n in d:
        if n not in names:
            names.append(n)
print("%-48s %12s %12s %8s" % ("figure", "OLD", "NEW", "change"))
for n in names:
    o = [d[n][0] for d in old if n in d]
    w = [d[n][0] for d in new if n in d]
    mo = statistics.median(o) if o else None
    mw = statistics.median(w) if w else None
    change = ""
    if mo and mw is not None:
        pct = 100.0 * (mw - mo) / mo
        better = (pct > 0) == next(d[n][1] for d in old + new if n in d)
        change = "%+.1f%%%s" % (pct, "" if abs(pct) < 0.05 else (" +" if better else " -"))
    fmt = lambda v: "n/a" if v is None else ("%.1f" % v if v < 1000 else "%.0f" % v)
    print("%-48s %12s %12s %8s" % (n, fmt(mo), fmt(mw), change))
print("(change: NEW against OLD; '+' better, '-' worse)")
EOF
