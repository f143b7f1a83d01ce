#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Where the time of side's frame path goes, per frame, in-process against isolated (docs/bench/breakdown.md).
#
#   scripts/profile-datapath.sh [-b SIDE] [-o DIR] [-d SECONDS] [-s FRAME_SIZE] [MODE/DIR ...]
#
# MODE/DIR is inproc/tx, inproc/rx, process/tx or process/rx (default: all four). For each, one `side run e1000`
# with the built-in verifying peer, one direction, fixed frames (default 60 bytes + FCS = 64 B) for SECONDS
# (default 5), under perf, as root:
#   - perf stat on side and, isolated, on its domain processes (attached as soon as they exist): CPU time,
#     context switches (each one a thread that went to sleep or was preempted: the wake-ups of the path), system
#     calls (all, and futex, read, write, ioctl), divided by the frames verified;
#   - perf record (software cpu-clock: no PMU needed, which a VM often lacks) with call graphs, and a report per
#     process of where the samples fall (self time by symbol), plus folded stacks (DIR/*.folded, one line per
#     stack, for any flame-graph renderer);
#   - side's own counters from `side run --json` (interrupts delivered, device accesses, the data path's
#     crossings where side counts them).
# DIR/summary.txt gets one table of everything per frame. Needs perf (Debian: linux-perf, scripts/setup.sh installs
# it) and root (or perf_event_paranoid <= 0 and the tracepoints readable). The machine's load is written first:
# every figure of a shared machine is only as good as what else ran.
set -eu

side=build/side
out=""
duration=5
size=60
while [ $# -gt 0 ]; do
  case "$1" in
    -b) side=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -s) size=$2; shift 2 ;;
    -h|--help) sed -n '3,22p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- inproc/tx process/tx inproc/rx process/rx
command -v perf >/dev/null || { echo "$0: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
[ -x "$side" ] || { echo "$0: $side is not an executable" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/profile-datapath.XXXXXX)
mkdir -p "$out"
events=task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter
events=$events,syscalls:sys_enter_futex,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_ioctl
{
  echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# side: $side ($(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo '?'))"
} >"$out/machine.txt"

# The domain processes of side process $1 (children that are not QEMU), comma-separated; waits for them a while.
domains_of() {
  i=0
  while [ $i -lt 200 ]; do
    kids=$(pgrep -P "$1" -d, 2>/dev/null || true)
    [ -n "$kids" ] && { echo "$kids"; return 0; }
    sleep 0.02
    i=$((i + 1))
  done
  return 1
}

# One `side run` of point $1 (mode/dir) into $out/$2.json, its side process id in $sup.
start_run() {
  "$side" run e1000 --isolation "${1%/*}" --frame-size "$size" --direction "${1#*/}" --duration "$duration" \
    --json --quiet >"$out/$2.json" 2>"$out/$2.log" &
  sup=$!
}

for point in "$@"; do
  mode=${point%/*}
  name=$mode-${point#*/}
  echo "profiling $point, $((size + 4)) B, ${duration} s: counting" >&2
  # Counting and sampling are separate runs: tracing every system call would distort the samples.
  start_run "$point" "$name"
  perf stat -x, -e "$events" -p "$sup" -o "$out/$name.side.stat" 2>/dev/null &
  if [ "$mode" = process ] && doms=$(domains_of "$sup"); then
    perf stat -x, -e "$events" -p "$doms" -o "$out/$name.domain.stat" 2>/dev/null &
  fi
  wait "$sup" || echo "  side run failed (see $out/$name.log)" >&2
  wait 2>/dev/null || true
  echo "profiling $point: sampling" >&2
  start_run "$point" "$name.sampled"
  pids=$sup
  if [ "$mode" = process ] && doms=$(domains_of "$sup"); then pids=$sup,$doms; fi
  # Sampling starts once the driver is up (probe and open are not the path), and ends with the traffic.
  sleep 1
  perf record -q -e cpu-clock -F 1999 -g -p "$pids" -o "$out/$name.perf.data" -- \
    sleep "$((duration - 1))" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  # The domain process runs as "exe" (side re-executed through /proc/self/exe), side as "side".
  perf report -i "$out/$name.perf.data" --no-children --sort comm,dso,sym --stdio -g none --percent-limit 0.5 \
    >"$out/$name.report.txt" 2>/dev/null || true
  perf script -i "$out/$name.perf.data" -F pid,ip,sym 2>/dev/null | python3 "$(dirname "$0")/fold-stacks.py" \
    >"$out/$name.folded" || true
done

python3 - "$out" "$@" <<'EOF' | tee "$out/summary.txt"
import json, os, sys

out, points = sys.argv[1], sys.argv[2:]

def stat(path):
    """perf stat -x, output: event -> value."""
    v = {}
    if not os.path.exists(path):
        return v
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 2 and not line.startswith("#"):
            try:
                v[f[2]] = float(f[0])
            except ValueError:
                pass
    return v

rows = [("CPU us per frame", "task-clock", 1e3), ("context switches per frame", "context-switches", 1),
        ("system calls per frame", "raw_syscalls:sys_enter", 1), ("  futex", "syscalls:sys_enter_futex", 1),
        ("  read", "syscalls:sys_enter_read", 1), ("  write", "syscalls:sys_enter_write", 1),
        ("  ioctl", "syscalls:sys_enter_ioctl", 1)]
cols, frames = [], {}
for p in points:
    name = p.replace("/", "-")
    try:
        doc = json.load(open(f"{out}/{name}.json"))
    except (OSError, ValueError):
        print(f"{p}: no result")
        continue
    n = doc.get("verified_packets", 0)
    frames[p] = n
    cols.append((p, n, stat(f"{out}/{name}.side.stat"), stat(f"{out}/{name}.domain.stat"), doc))
print(open(f"{out}/machine.txt").read().rstrip())
print("%-30s" % "per frame" + "".join("%22s" % c[0] for c in cols))
print("%-30s" % "frames verified" + "".join("%22d" % c[1] for c in cols))
for label, ev, scale in rows:
    cells = []
    for _, n, s, d, _ in cols:
        a, b = s.get(ev), d.get(ev)
        if a is None or not n:
            cells.append("n/a")
            continue
        # task-clock is in ms: scale to us. Isolated: side + domain.
        fa = a * (1e3 if ev == "task-clock" else 1) / n
        fb = (b or 0) * (1e3 if ev == "task-clock" else 1) / n
        cells.append("%.3f + %.3f" % (fa, fb) if d else "%.3f" % fa)
    print("%-30s" % label + "".join("%22s" % c for c in cells))
for label, key in (("interrupts delivered", ("interrupts", "delivered")),
                   ("device accesses", ("device_accesses", "via_rewritten_sites")),
                   ("crossings to the supervisor", ("crossings", "to_supervisor")),
                   ("  device writes (posted)", ("crossings", "device_writes")),
                   ("  device reads (round trips)", ("crossings", "device_reads")),
                   ("  DMA permission changes", ("crossings", "dma_changes")),
                   ("  frames in (receive ring)", ("crossings", "frames_in")),
                   ("  frames out (transmit ring)", ("crossings", "frames_out")),
                   ("  other events", ("crossings", "events")),
                   ("side service-thread waits", ("crossings", "service_waits")),
                   ("domain doorbells rung", ("crossings", "domain_bells")),
                   ("domain woken (futex wakes)", ("crossings", "domain_wakes"))):
    cells = []
    for _, n, _, _, doc in cols:
        v = doc.get(key[0], {}).get(key[1]) if isinstance(doc.get(key[0]), dict) else None
        cells.append("n/a" if v is None or not n else "%.3f" % (v / n))
    print("%-30s" % label + "".join("%22s" % c for c in cells))
print("(isolated: side + domain process; perf reports per process in %s/*.report.txt)" % out)
EOF
