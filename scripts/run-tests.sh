#!/usr/bin/env bash
# Every test: installs what is missing, then
#   1. the normal build and its whole CTest suite (unit, kbuild test modules, Debian modules, CLI);
#   2. the quick benchmark (side bench --quick: every figure and ratio, in under two minutes), and a short soak
#      (iperf3 through the isolated e1000 with a fault every 2 s; scripts/soak.sh runs the hour-long one);
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build and its suite;
#   4. the libFuzzer targets (clang), each run briefly from its kept inputs.
# SIDE_FUZZ_SECONDS sets the length of each fuzz run (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)
fuzz_seconds=${SIDE_FUZZ_SECONDS:-20}

echo "== build and test"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build -j "$jobs" --output-on-failure

echo "== benchmark (side bench --quick)"
# Figures, not pass/fail on goals: the command fails only if a measurement failed (a fault, a lost or corrupt frame).
build/side bench --quick --json --out build/bench-quick > build/bench-quick.json
sed -n '/^## Goals/,/^## Throughput/p' build/bench-quick/report.md | head -n -1

echo "== soak (2 minutes of iperf3 with a fault injected every 2 s)"
scripts/soak.sh --minutes 2

echo "== sanitizers (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIDE_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j "$jobs" --output-on-failure

echo "== fuzzing (${fuzz_seconds}s per target)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIDE_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
# target:directory of its kept inputs
targets=(fuzz_elf:loader fuzz_emulation:emulation fuzz_relocate:relocate e1000_fuzz:devices channel_fuzz:supervisor)
cmake --build build-fuzz -j "$jobs" --target "${targets[@]%%:*}"
mkdir -p build-fuzz/crashes
for entry in "${targets[@]}"; do
  target=${entry%%:*} part=${entry##*:}
  corpus=$(mktemp -d)
  cp tests/fuzz/"$part"/regressions/* "$corpus"/ 2>/dev/null || true
  echo "-- $target"
  # A crash fails the run and leaves its input in build-fuzz/crashes/: keep it under tests/fuzz/<part>/regressions/.
  build-fuzz/tests/fuzz/"$part"/"$target" "$corpus" -max_total_time="$fuzz_seconds" -rss_limit_mb=4096 \
    -artifact_prefix=build-fuzz/crashes/ 2>&1 | tail -n 1
  rm -rf "$corpus"
done
echo "all test stages passed"
