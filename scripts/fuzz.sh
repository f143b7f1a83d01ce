#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, build-fuzz/) and runs each from its kept inputs, then prints per target the
# executions, the rate and the crashes.
#   scripts/fuzz.sh            short mode (CI): SIDE_FUZZ_SECONDS (default 20) seconds per target
#   scripts/fuzz.sh --long     at least SIDE_FUZZ_RUNS (default 10,000,000) executions per target: hours
#   scripts/fuzz.sh [--long] TARGET...   only the named targets
#   scripts/fuzz.sh --build-only         build the targets and run nothing (CI builds them while other tests run)
# Each target grows its corpus in build-fuzz/corpus/<target>/ (seeded from its regressions). A crash leaves its
# input in build-fuzz/crashes/ and fails the run: keep it as tests/fuzz/<part>/regressions/<bug-name>, fix the
# bug, and add a unit test next to the code it broke (the regressions are replayed by CTest in every build).
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per target, "executable:part[:options]" (part = the directory under tests/fuzz with its CMakeLists and
# regressions; options go to libFuzzer). e1000_fuzz's inputs are programs of device operations: beyond 512 bytes
# (about 40 operations, enough for TSO over rings that wrap) a run mostly repeats operations and costs several
# times more, which cut its long run to under 1,500 runs/s.
targets=(
  fuzz_elf:loader
  fuzz_emulation:emulation
  fuzz_relocate:relocate
  fuzz_sfi_translate:sfi
  e1000_fuzz:devices:-max_len=512
  channel_fuzz:supervisor
  ring_fuzz:ipc
  sanitize_fuzz:common
  fuzz_cli:cli
  vfio_user_fuzz:vfio_user
  nbd_fuzz:block
  driver_disk_fuzz:session
  tap_offload_fuzz:host
  net_offload_fuzz:kapi
)

long=0
build_only=0
selected=()
for arg in "$@"; do
  case $arg in
    --long) long=1 ;;
    --build-only) build_only=1 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $arg" >&2; exit 2 ;;
    *) selected+=("$arg") ;;
  esac
done
if ((${#selected[@]})); then
  chosen=()
  for name in "${selected[@]}"; do
    match=""
    for entry in "${targets[@]}"; do [[ ${entry%%:*} == "$name" ]] && match=$entry; done
    [[ -n $match ]] || { echo "fuzz.sh: no target $name" >&2; exit 2; }
    chosen+=("$match")
  done
  targets=("${chosen[@]}")
fi

if ((long)); then
  budget=(-runs="${SIDE_FUZZ_RUNS:-10000000}")
else
  budget=(-max_total_time="${SIDE_FUZZ_SECONDS:-20}")
fi

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIDE_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]%%:*}"
((build_only == 0)) || exit 0
mkdir -p build-fuzz/crashes build-fuzz/logs

# The figure libFuzzer's final statistics give for `key`, or its last status line's when it stopped on a crash.
stat() {
  local log=$1 key=$2 value
  value=$(sed -n "s/^stat::$key: *//p" "$log" | tail -n 1)
  if [[ -z $value ]]; then
    case $key in
      number_of_executed_units) value=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#') ;;
      average_exec_per_sec) value=$(grep -o 'exec/s: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2) ;;
    esac
  fi
  echo "${value:-0}"
}

# One target's run, its figures left in build-fuzz/logs/<target>.summary (run in parallel, printed in order).
run_target() {
  local entry=$1 target rest part options=() corpus log before status=0 runs per_cpu crashes
  target=${entry%%:*} rest=${entry#*:}
  part=${rest%%:*}
  [[ $rest == *:* ]] && read -ra options <<<"${rest#*:}"
  corpus=build-fuzz/corpus/$target log=build-fuzz/logs/$target.log
  mkdir -p "$corpus"
  cp -n tests/fuzz/"$part"/regressions/* "$corpus"/ 2>/dev/null || true
  before=$(find build-fuzz/crashes -name "$target-*" | wc -l)
  TIMEFORMAT='%U %S'
  { time build-fuzz/tests/fuzz/"$part"/"$target" "$corpus" "${budget[@]}" "${options[@]}" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/"$target"- >"$log" 2>&1 || status=$?; } 2>"$log.cpu"
  runs=$(stat "$log" number_of_executed_units)
  per_cpu=$(awk -v runs="$runs" '{ cpu = $1 + $2; printf "%d", (cpu > 0 ? runs / cpu : 0) }' "$log.cpu")
  crashes=$(($(find build-fuzz/crashes -name "$target-*" | wc -l) - before))
  {
    printf '%-16s %14s %10s %12s %8s\n' "$target" "$runs" "$(stat "$log" average_exec_per_sec)" "$per_cpu" "$crashes"
    if ((status != 0 || crashes != 0)); then
      grep -m 3 -E 'ERROR|SUMMARY|Test unit written' "$log" | sed 's/^/    /' || true
      echo "    log: $log; keep the input as tests/fuzz/$part/regressions/<bug-name> and add a unit test"
    fi
  } >"build-fuzz/logs/$target.summary"
  ((status == 0 && crashes == 0)) || touch "build-fuzz/logs/$target.failed"
}

# As many targets at once as there are CPUs (each is single-threaded): the short mode's wall time is then
# SIDE_FUZZ_SECONDS per CPU's share of the targets, not per target.
parallel=$(nproc)
rm -f build-fuzz/logs/*.failed
for entry in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  run_target "$entry" &
done
wait
# exec/s is per second of wall time; exec/cpu-s per second of CPU the target got (the fairer figure on a shared
# machine).
printf '%-16s %14s %10s %12s %8s\n' target executions exec/s exec/cpu-s crashes
failed=0
for entry in "${targets[@]}"; do
  cat "build-fuzz/logs/${entry%%:*}.summary"
  [[ ! -e build-fuzz/logs/${entry%%:*}.failed ]] || failed=1
done
exit "$failed"
