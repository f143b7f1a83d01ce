#!/usr/bin/env bash
# The load-and-fault soak: iperf3 traffic through the isolated e1000 (host interface to a peer namespace) while a
# fault of every kind in turn (crash, bitflip, loop, pointer, wild, dma, storm, alloc, lostirq) is injected every
# 2 seconds. The supervisor's open descriptors, threads, RSS and DMA mappings are sampled at the start, every 10 s
# and at the end. Fails if a fault is not recovered, iperf3 fails, or a resource grew beyond a small tolerance.
#   scripts/soak.sh [--minutes N] [--every S] [--side PATH]     (default 60 minutes, a fault every 2 s)
# Needs root (or CAP_NET_ADMIN) and iperf3. CI runs a short one from scripts/run-tests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=60 every=2 side=build/side
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --side) side=$2; shift 2 ;;
    *) echo "usage: scripts/soak.sh [--minutes N] [--every S] [--side PATH]" >&2; exit 2 ;;
  esac
done
command -v iperf3 >/dev/null || { echo "soak: iperf3 is not installed" >&2; exit 2; }
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
[ "$seconds" -ge 10 ] || { echo "soak: --minutes must give at least 10 seconds" >&2; exit 2; }

# Names and addresses of this run only: several soaks (or tests) may run at once.
ifname="soak$$"
net="10.$((100 + $$ % 100)).$(($$ / 100 % 250)).0"
host_addr="${net%.0}.1/24" peer_addr="${net%.0}.2/24" peer_ip="${net%.0}.2"
# side's whole output (driver logs, a counter line per second, iperf3 every 10 s) stays in build/ to explain a failure.
mkdir -p build
log=build/soak-$ifname.log

# A driver runs ahead of user work in a kernel; here the supervisor, its domains and the traffic run ahead of
# whatever else the machine does (builds beside a soak made restarts take seconds and TCP's back-off then outlived
# the soak's timeouts). Not below the caller's own priority if it cannot raise it.
# With autogroup scheduling (kernel.sched_autogroup_enabled) nice only orders tasks of one session against each
# other, and every session weighs the same; the soak's session is raised as a whole too.
priority=-10
[ "$(id -u)" -eq 0 ] || priority=0
[ "$priority" -eq 0 ] || echo "$priority" 2>/dev/null >"/proc/$$/autogroup" || true
echo "soak: ${minutes} min of iperf3 through side's e1000 ($ifname), a fault every ${every} s"
timeout -k 10 -s INT $((seconds + 120)) nice -n "$priority" "$side" run e1000 --ifname "$ifname" --host-addr "$host_addr" --peer-addr "$peer_addr" \
  --inject-every "$every" --peer-exec "iperf3 -s" \
  --exec "timeout -s KILL $((seconds + 60)) iperf3 -c $peer_ip -t $seconds -i 10 --connect-timeout 5000" >"$log" 2>&1 &
pid=$!
# The supervisor seen from outside, every 10 s: descriptors, threads, RSS. $pid is the timeout(1) wrapper; the
# supervisor is its child.
supervisor=""
while kill -0 "$pid" 2>/dev/null; do
  [ -n "$supervisor" ] || supervisor=$(pgrep -P "$pid" -x side || true)
  if [ -n "$supervisor" ] && [ -d /proc/$supervisor/fd ]; then
    fds=$(ls /proc/$supervisor/fd 2>/dev/null | wc -l) threads=$(ls /proc/$supervisor/task 2>/dev/null | wc -l)
    rss=$(awk '/^VmRSS/ { print $2 }' /proc/$supervisor/status 2>/dev/null || true)
    echo "soak: [$(date +%T)] supervisor $supervisor: fds $fds threads $threads rss_kib ${rss:-?}"
  fi
  for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null && sleep 1; done
done
status=0
wait "$pid" || status=$?
grep -E "^side soak:|^side run:|iperf3: error|receiver$|sender$|fault:|^side:.*(gave up|giving up)" "$log" || true

# The supervisor's own samples at the start (driver up, spare started) and the end (last restart settled).
field() { sed -n "s/.*$2 \([0-9]*\).*/\1/p" <<<"$1"; }
start=$(grep "^side soak: start:" "$log" | tail -1) end=$(grep "^side soak: end:" "$log" | tail -1)
if [ -z "$start" ] || [ -z "$end" ]; then
  echo "soak: FAILED: no start or end sample (side exited with $status)"; tail -20 "$log"; exit 1
fi
injected=$(field "$end" "injected") recovered=$(field "$end" ", recovered") lost=$(field "$end" "not recovered")
fail=0
check() {  # name start end allowed-growth
  local grow=$(($3 - $2))
  printf 'soak: %-13s start %8s end %8s (growth %d, allowed %d)\n' "$1" "$2" "$3" "$grow" "$4"
  if [ "$grow" -gt "$4" ]; then echo "soak: FAILED: $1 grew"; fail=1; fi
}
echo "soak: faults injected $injected, recovered $recovered, not recovered $lost"
fds0=$(field "$start" fds) fds1=$(field "$end" fds)
thr0=$(field "$start" threads) thr1=$(field "$end" threads)
rss0=$(field "$start" rss_kib) rss1=$(field "$end" rss_kib)
dma0=$(field "$start" dma_mappings) dma1=$(field "$end" dma_mappings)
check "fds" "$fds0" "$fds1" 2
check "threads" "$thr0" "$thr1" 2
check "rss_kib" "$rss0" "$rss1" $((rss0 / 10 > 16384 ? rss0 / 10 : 16384))
check "dma_mappings" "$dma0" "$dma1" $((dma0 / 10 + 64))
[ "$injected" -gt 0 ] || { echo "soak: FAILED: no fault injected"; fail=1; }
[ "$lost" -eq 0 ] || { echo "soak: FAILED: $lost faults not recovered"; fail=1; }
[ "$status" -eq 0 ] || { echo "soak: FAILED: side run exited with $status"; tail -20 "$log"; fail=1; }
if [ "$fail" -eq 0 ]; then rm -f "$log"; else echo "soak: side's whole output: $log"; fi
[ "$fail" -eq 0 ] && echo "soak: passed"
exit "$fail"
