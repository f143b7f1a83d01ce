#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Compares builds of side on `side bench` on this machine: runs OLD and NEW (and any more builds given) in turn, N
# rounds (so that the machine's load drifts over all alike), keeps every run's JSON, and prints the median of each
# figure side by side with the change from OLD to the last build.
#
#   scripts/compare-bench.sh [-n N] [-o DIR] OLD NEW [MORE...] [-- BENCH OPTIONS]
#
# OLD, NEW, ... are side executables (e.g. /work/proof/build/side build/side). N defaults to 3; the bench options
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
bins=""
count=0
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  [ -x "$1" ] || { echo "$0: $1 is not an executable" >&2; exit 2; }
  case "$1" in *[[:space:]]*) echo "$0: $1: no spaces in paths, please" >&2; exit 2 ;; esac
  bins="$bins $1"
  count=$((count + 1))
  shift
done
[ "$count" -ge 2 ] || usage
if [ $# -gt 0 ]; then shift; fi
[ $# -gt 0 ] || set -- --quick
case "$runs" in ''|*[!0-9]*) usage ;; esac
[ "$runs" -ge 1 ] || usage
[ -n "$out" ] || out=$(mktemp -d /tmp/compare-bench.XXXXXX)
mkdir -p "$out"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

i=1
while [ "$i" -le "$runs" ]; do
  b=0
  for bin in $bins; do
    b=$((b + 1))
    echo "run $i/$runs: build $b ($bin)" >&2
    if ! $sudo nice -n -5 "$bin" bench "$@" --json >"$out/$b-$i.json" 2>"$out/$b-$i.log"; then
      echo "  failed (see $out/$b-$i.log)" >&2
    fi
  done
  i=$((i + 1))
done

# shellcheck disable=SC2086
python3 - "$out" "$runs" $bins <<'EOF'
import json, statistics, sys

out, runs, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

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

def load(b):
    docs = []
    for i in range(1, runs + 1):
        try:
            with open("%s/%d-%d.json" % (out, b, i)) as fh:
                docs.append(figures(json.load(fh)))
        except (OSError, ValueError, KeyError):
            pass
    return docs

runs_of = [load(b + 1) for b in range(len(bins))]
for b, (path, docs) in enumerate(zip(bins, runs_of)):
    print("build %d: %s (%d good runs)" % (b + 1, path, len(docs)))
print("medians of each figure (runs kept in %s)" % out)
every = [d for docs in runs_of for d in docs]
names = []
for d in every:
    for n in d:
        if n not in names:
            names.append(n)
fmt = lambda v: "n/a" if v is None else ("%.1f" % v if v < 1000 else "%.0f" % v)
print("%-48s" % "figure" + "".join("%11s" % ("build %d" % (b + 1)) for b in range(len(bins))) + "   change")
for n in names:
    med = []
    for docs in runs_of:
        v = [d[n][0] for d in docs if n in d]
        med.append(statistics.median(v) if v else None)
    change = ""
    first, last = med[0], med[-1]
    if first and last is not None:
        pct = 100.0 * (last - first) / first
        better = (pct > 0) == next(d[n][1] for d in every if n in d)
        change = "%+.1f%%%s" % (pct, "" if abs(pct) < 0.05 else (" +" if better else " -"))
    print("%-48s" % n + "".join("%11s" % fmt(m) for m in med) + "   " + change)
print("(change: the last build against the first; '+' better, '-' worse)")
EOF
