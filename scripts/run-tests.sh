#!/usr/bin/env bash
# Every test: installs what is missing (and builds, once per machine, the QEMU whose device models the QEMU device
# tests drive: scripts/build-qemu.sh), then
#   1. the normal build and its whole CTest suite (unit, kbuild test modules, Debian modules, CLI);
#   2. the quick benchmarks (side bench --quick: every figure and ratio, in under two minutes; then the disk's,
#      side bench --class block --quick, in under a minute), and a short soak
#      (iperf3 through the isolated e1000 with a fault every 2 s; scripts/soak.sh runs the hour-long one);
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build and its suite;
#   4. the libFuzzer targets (clang), each run briefly from its kept inputs (scripts/fuzz.sh, short mode).
# SIDE_FUZZ_SECONDS sets the length of each fuzz run (default 20).
# The sanitizer build compiles while the normal suite runs, and the fuzzing build while the sanitizer suite runs,
# each at the lowest CPU priority: those suites run their network tests one at a time and leave a CPU mostly idle,
# and a niced build takes only what they leave (the tests' timing is theirs). Nothing is built while the
# benchmarks measure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-qemu.sh >/dev/null
jobs=$(nproc)
# The compiler cache lives outside the clone, like QEMU's build: the normal, sanitizer and fuzzing builds of an
# unchanged tree come from it (as root; otherwise ccache's own default in the user's home).
if [[ $(id -u) -eq 0 ]]; then export CCACHE_DIR=${CCACHE_DIR:-/var/cache/side/ccache}; fi
fuzz_seconds=${SIDE_FUZZ_SECONDS:-20}

# Runs "$@" at the lowest CPU priority in the background, its output in the log file $1 (printed if it fails);
# background_wait collects it.
background_pid=""
background_log=""
background() {
  background_log=$1
  shift
  setsid -w nice -n 19 "$@" >"$background_log" 2>&1 &
  background_pid=$!
}
# A failing stage ends the run: its background build (a process group of its own) goes with it.
trap '[[ -z $background_pid ]] || kill -- -"$background_pid" 2>/dev/null || true' EXIT
background_wait() {
  if ! wait "$background_pid"; then
    cat "$background_log"
    echo "run-tests: the background build failed (log above: $background_log)" >&2
    exit 1
  fi
  background_pid=""
}

echo "== build and test"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
scripts/install.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIDE_SANITIZE=ON >/dev/null
background build/asan-build.log cmake --build build-asan -j "$jobs"
ctest --test-dir build -j "$jobs" --output-on-failure
grep -h "^hostile suite:" build/Testing/Temporary/LastTest.log || true
echo "== waiting for the sanitizer build"
background_wait

echo "== benchmark (side bench --quick)"
# Figures, not pass/fail on goals: the command fails only if a measurement failed (a fault, a lost or corrupt frame).
build/side bench --quick --json --out build/bench-quick > build/bench-quick.json
sed -n '/^## Goals/,/^## Throughput/p' build/bench-quick/report.md | head -n -1
echo "== benchmark (side bench --class block --quick)"
# virtio_blk on QEMU's virtio-blk-pci, isolated against in-process (12-18 s here): fails only if a point failed.
build/side bench --class block --quick --json --out build/bench-block-quick > build/bench-block-quick.json
sed -n '/^## Throughput/,/^## CPU/p' build/bench-block-quick/report.md | head -n -1

echo "== soak (2 minutes of iperf3 with a fault injected every 2 s)"
scripts/soak.sh --minutes 2

echo "== sanitizers (ASan + UBSan)"
background build-asan/fuzz-build.log scripts/fuzz.sh --build-only
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j "$jobs" --output-on-failure

echo "== fuzzing (${fuzz_seconds}s per target)"
background_wait
SIDE_FUZZ_SECONDS=$fuzz_seconds scripts/fuzz.sh
echo "all test stages passed"
