#!/usr/bin/env bash
# Runs the unit test binaries and the end-to-end scripts for each build dir
# given (build, build/asan), and ends with one line: "N passed, N failed".
# Each unit binary and each e2e script ends its own output with such a line.
set -u
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0

record() { # name, log file, exit code
  local name=$1 log=$2 rc=$3 line p f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [[ -z "$line" ]]; then
    echo "FAIL $name: no result line (exit $rc)"; tail -n 20 "$log" | sed 's/^/    /'
    total_fail=$((total_fail + 1)); return
  fi
  p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [[ $f -ne 0 ]]; then
    echo "FAIL $name: $line (exit $rc)"; grep -E '^FAIL|CHECK failed|lacks|not ok|ERROR|Sanitizer|runtime error' "$log" | head -n 30 | sed 's/^/    /'
  else
    echo "ok   $name: $p passed"
  fi
}

for dir in "$@"; do
  echo "== tests with $dir =="
  logdir="$dir/test-logs"; mkdir -p "$logdir"
  for t in "$dir"/tests/test_*; do
    [[ -x "$t" ]] || continue
    name=$(basename "$t")
    "$t" >"$logdir/$name.log" 2>&1; rc=$?
    record "$name" "$logdir/$name.log" $rc
  done
  for t in tests/e2e/test_*.sh; do
    [[ -f "$t" ]] || continue
    name=$(basename "$t" .sh)
    DCR="$dir/dcr" bash "$t" >"$logdir/$name.log" 2>&1; rc=$?
    record "e2e/$name" "$logdir/$name.log" $rc
  done
done

# Once per run, not per flavour: the container test builds its own image and
# compares it with the release build (skipped for a lone ASan run).
# DCR_CONTAINER_TEST=0 leaves it out.
if [[ "${DCR_CONTAINER_TEST:-1}" != 0 && $# -gt 0 && "$1" != *asan* ]]; then
  echo "== container test (tests/container/run.sh) =="
  log="$1/test-logs/container.log"
  tests/container/run.sh "$1/dcr" >"$log" 2>&1; rc=$?
  record container "$log" $rc
  grep -E '^SKIP|^image |^dcr SHA-384|^ok   podman build' "$log" | sed 's/^/    /'
fi
# Once per run: the include graph matches docs/architecture.md's pieces
# table (scripts/layers.sh, also `make layers`).
if [[ $# -gt 0 && "$1" != *asan* ]]; then
  echo "== include graph (scripts/layers.sh) =="
  log="$1/test-logs/layers.log"
  mkdir -p "$1/test-logs"
  ./scripts/layers.sh >"$log" 2>&1; rc=$?
  record layers "$log" $rc
fi
# Once per run: every fuzz target replays its seed corpus (fuzz/run.sh with
# 0 seconds) when `make fuzz-build` made them.
fuzz_dir=${DCR_FUZZ_DIR:-build/fuzz}
if [[ $# -gt 0 && "$1" != *asan* ]] && compgen -G "$fuzz_dir/fuzz_*" > /dev/null; then
  echo "== fuzz targets replay their seeds (fuzz/run.sh $fuzz_dir 0) =="
  log="$1/test-logs/fuzz-seeds.log"
  ./fuzz/run.sh "$fuzz_dir" 0 >"$log" 2>&1; rc=$?
  record fuzz-seeds "$log" $rc
fi
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
