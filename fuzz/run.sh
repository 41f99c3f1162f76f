#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, on a working
# copy of its seed corpus (fuzz/corpus/NAME). SECONDS = 0 only replays the
# seeds (what `make test` does, so a seed that once found a bug keeps
# guarding against it). Seeds for sealed files are made
# fresh with the fixed fuzz test key; the targets in $seeded write their own.
# docs/fuzzing.md lists every target. Any crash fails the run; the reproducer
# is left in build/fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/fuzz}
secs=${2:-60}
work="$dir/work"
findings="$dir/findings"
mkdir -p "$work" "$findings"

# fresh sealed seeds for the fixed test key
seeds="$work/sealed-seeds"
mkdir -p "$seeds"
if [[ -x build/dcr ]]; then
  printf 'a,b\n1,x\n2,"y,z"\n,\n' > "$seeds/in.csv"
  echo '{"dataset":"s","columns":[{"name":"a","type":"BIGINT"},{"name":"b","type":"TEXT"}]}' > "$seeds/s.json"
  for rows in 1 2 8; do
    build/dcr seal --schema "$seeds/s.json" --in "$seeds/in.csv" --out "$seeds/seed$rows.dcr" \
      --to fuzz/fuzz-test.pub --chunk-rows $rows --force 2>/dev/null || true
  done
  rm -f "$seeds/in.csv" "$seeds/s.json"
fi

# Targets that write their own seeds (fuzz/fuzz_fixture.h: signed requests,
# an attestation, audit exports for the fixed contract and keys); this also
# checks the seeds still get the decisions they were made for.
seeded="request api_json audit template guarded chunk"

failed=0
for target in "$dir"/fuzz_*; do
  [[ -x "$target" && -f "$target" ]] || continue
  name=$(basename "$target"); name=${name#fuzz_}
  corpus="$work/corpus-$name"
  mkdir -p "$corpus"
  [[ -d fuzz/corpus/$name ]] && cp -n fuzz/corpus/$name/* "$corpus/" 2>/dev/null || true
  [[ $name == sealed ]] && cp -n "$seeds"/* "$corpus/" 2>/dev/null || true
  if [[ " $seeded " == *" $name "* ]] && ! DCR_FUZZ_WRITE_SEEDS="$corpus" "$target" \
       > "$work/$name.seeds.log" 2>&1; then
    failed=$((failed + 1))
    echo "FAIL fuzz_$name: its seeds are broken, see $work/$name.seeds.log"
    continue
  fi
  if ((secs == 0)); then
    how=(-runs=0)
    echo "== fuzz_$name: replaying its seeds =="
  else
    how=(-max_total_time="$secs")
    echo "== fuzz_$name for ${secs}s =="
  fi
  if "$target" "${how[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$findings/$name-" "$corpus" > "$work/$name.log" 2>&1; then
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/$name.log" | sed 's/^/   /'
    echo "ok   fuzz_$name: $(grep -c . <(ls "$corpus")) corpus files, no finding"
  else
    failed=$((failed + 1))
    echo "FAIL fuzz_$name: see $work/$name.log and $findings"
    grep -E 'ERROR|SUMMARY' "$work/$name.log" | head -5
  fi
done
total=$(ls "$dir"/fuzz_* 2>/dev/null | grep -c . || true)
echo "$((total - failed)) passed, $failed failed"
[[ $failed -eq 0 ]]
