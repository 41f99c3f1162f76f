#!/usr/bin/env bash
# bench/query.sh: the attribution query of BRIEF §8 (impressions JOIN
# purchases ON email, grouped by campaign) in dcr sql, DuckDB and SQLite on
# the same data. See bench/README.md.
#
#   ./bench/query.sh [--quick] [--no-duckdb] [--no-sqlite]
#
# Environment: BENCH_QUERY_ROWS impression rows (default 10000000; 1000000
# with --quick; purchases are a tenth of it), BENCH_RUNS (default 3: dcr runs
# each query that many times before DuckDB and again after, DuckDB twice that,
# SQLite that many; the best run is reported), DCR (default build/dcr),
# SQLITE_TIMEOUT (seconds, default 120).
# Data, keys, sealed files, databases and results live in bench/work/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

quick=0 use_duckdb=1 use_sqlite=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-duckdb) use_duckdb=0 ;;
    --no-sqlite) use_sqlite=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "query bench: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

if ((quick)); then rows=${BENCH_QUERY_ROWS:-1000000}; else rows=${BENCH_QUERY_ROWS:-10000000}; fi
runs=${BENCH_RUNS:-3}
dcr=${DCR:-build/dcr}
sqlite_timeout=${SQLITE_TIMEOUT:-120}
work=bench/work
out=$work/query
[[ "$rows" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ && "$sqlite_timeout" =~ ^[1-9][0-9]*$ ]] || {
  echo "query bench: BENCH_QUERY_ROWS, BENCH_RUNS and SQLITE_TIMEOUT must be positive integers" >&2
  exit 2
}
prows=$((rows / 10))
((prows > 0)) || prows=1
mkdir -p "$work" "$out"

log() { printf '[query] %s\n' "$*" >&2; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
is_num() { [[ "${1:-}" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
ratio() { if is_num "${1:-}" && is_num "${2:-}"; then calc '%.2f' "$1 / (($2 > 0) ? $2 : 0.005)"; else echo n/a; fi; }
newer() { [[ -s "$1" ]] && for dep in "${@:2}"; do [[ "$1" -nt "$dep" ]] || return 1; done; }

if [[ ! -x "$dcr" ]]; then
  echo "query bench: $dcr not found; run 'make' first" >&2
  exit 1
fi

# ---------------------------------------------------------------- data
for g in gen_events gen_purchases; do
  if [[ ! -x "$work/$g" || "bench/$g.c" -nt "$work/$g" || bench/gen_common.h -nt "$work/$g" ]]; then
    log "compiling bench/$g.c"
    cc -O2 -std=c17 -Wall -Wextra -Werror -o "$work/$g" "bench/$g.c"
  fi
done
imp_csv=$work/impressions-$rows.csv
pur_csv=$work/purchases-$prows.csv
if ! newer "$imp_csv" bench/gen_events.c; then
  if newer "$work/events-$rows.csv" bench/gen_events.c; then
    # run.sh's input is the same generator with the same seed: share it.
    ln -f "$work/events-$rows.csv" "$imp_csv"
  else
    log "generating $imp_csv ($rows rows)"
    "$work/gen_events" "$rows" > "$imp_csv.tmp"
    mv -f "$imp_csv.tmp" "$imp_csv"
  fi
fi
if ! newer "$pur_csv" bench/gen_purchases.c; then
  log "generating $pur_csv ($prows rows)"
  "$work/gen_purchases" "$prows" > "$pur_csv.tmp"
  mv -f "$pur_csv.tmp" "$pur_csv"
fi

key=$work/bench
if [[ ! -s "$key.key" || ! -s "$key.pub" ]]; then
  log "creating the bench key pair $key.{key,pub}"
  rm -f "$key.key" "$key.pub"
  "$dcr" keygen --out "$key" >&2
fi

# seal_if_stale CSV SCHEMA OUT: seals once (not timed here: run.sh measures seal).
seal_if_stale() {
  if ! newer "$3" "$1" "$2" "$key.pub" "$dcr"; then
    log "sealing $1 -> $3"
    "$dcr" seal --schema "$2" --in "$1" --out "$3" --to "$key.pub" --force >&2
  fi
}
imp_dcr=$work/impressions-$rows.dcr
pur_dcr=$work/purchases-$prows.dcr
seal_if_stale "$imp_csv" bench/events.schema.json "$imp_dcr"
seal_if_stale "$pur_csv" bench/purchases.schema.json "$pur_dcr"

load_start=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN { exit !($load_start > 0.5) }"; then
  log "WARNING: load average is $load_start before starting; other work on this machine will skew the figures"
fi

# The queries: bench/queries.tsv, one "NAME<TAB>SQL" per line.
names=() sqls=()
while IFS=$'\t' read -r name sql; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  names+=("$name") sqls+=("$sql")
done < bench/queries.tsv

# timed OUTFILE CMD...: runs CMD $runs times, stdout to OUTFILE, under
# /usr/bin/time; sets t_secs (best wall seconds), t_cpu (least CPU seconds,
# user + sys: far less sensitive to other load on the machine than wall
# time) and t_kb (largest peak RSS).
timed() {
  local dest=$1 i secs kb usr sys cpu
  shift
  t_secs='' t_cpu='' t_kb=0
  for ((i = 1; i <= runs; i++)); do
    if ! /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "$@" > "$dest" 2> "$work/cmd.log"; then
      log "FAILED: $*"
      cat "$work/cmd.log" "$work/time.txt" >&2 || true
      exit 1
    fi
    read -r secs kb usr sys < <(tail -n 1 "$work/time.txt")
    cpu=$(calc '%.2f' "$usr + $sys")
    log "  run $i: ${secs} s, CPU ${cpu} s, peak RSS $((kb / 1024)) MiB"
    if [[ -z "$t_secs" ]] || awk "BEGIN { exit !($secs < $t_secs) }"; then t_secs=$secs; fi
    if [[ -z "$t_cpu" ]] || awk "BEGIN { exit !($cpu < $t_cpu) }"; then t_cpu=$cpu; fi
    if ((kb > t_kb)); then t_kb=$kb; fi
  done
}

# ---------------------------------------------------------------- dcr
# dcr runs in two rounds of $runs, one before DuckDB's runs and one after,
# and reports the best of both; DuckDB gets 2 x $runs runs. Why: this kind
# of VM drifts, the same binary taking 60% longer from one ten minutes to
# the next (bench/README.md), so runs taken at different times would
# compare the times as much as the engines.
declare -A dcr_secs dcr_cpu dcr_rss duck_secs sqlite_secs agree
data=(--data "impressions=$imp_dcr" --data "purchases=$pur_dcr" --key "$key.key")
dcr_round() {
  local q n
  for q in "${!names[@]}"; do
    n=${names[$q]}
    log "dcr sql $n (round $1, $runs runs)"
    timed "$out/dcr-$n.csv" "$dcr" sql "${data[@]}" --format csv "${sqls[$q]}"
    if [[ -z "${dcr_secs[$n]:-}" ]] || awk "BEGIN { exit !($t_secs < ${dcr_secs[$n]}) }"; then
      dcr_secs[$n]=$t_secs
    fi
    if [[ -z "${dcr_cpu[$n]:-}" ]] || awk "BEGIN { exit !($t_cpu < ${dcr_cpu[$n]}) }"; then
      dcr_cpu[$n]=$t_cpu
    fi
    if ((t_kb / 1024 > ${dcr_rss[$n]:-0})); then dcr_rss[$n]=$((t_kb / 1024)); fi
  done
}
dcr_round 1
# Where dcr's time goes: the same columns decrypted + decoded with no join.
log "dcr sql scan-only of the joined columns (best of $runs)"
timed "$out/dcr-scan-i.csv" "$dcr" sql "${data[@]}" --format csv \
  "SELECT max(email), max(campaign) FROM impressions"
scan_i=$t_secs scan_i_rss=$((t_kb / 1024))
timed "$out/dcr-scan-p.csv" "$dcr" sql "${data[@]}" --format csv \
  "SELECT max(email), max(amount) FROM purchases"
scan_p=$t_secs
scan_total=$(calc '%.2f' "$scan_i + $scan_p")

# ---------------------------------------------------------------- DuckDB
duck_load=n/a duck_version=n/a duck_rss=n/a overlap=n/a
if ((use_duckdb)); then
  if ! command -v node > /dev/null; then
    log "DuckDB unavailable: node is not installed"
  else
    if [[ ! -d bench/node_modules/@duckdb/node-api ]]; then
      log "installing @duckdb/node-api into bench/node_modules"
      npm install --prefix bench --no-audit --no-fund --loglevel=error >&2 ||
        log "DuckDB unavailable: npm install failed"
    fi
    if [[ -d bench/node_modules/@duckdb/node-api ]]; then
      duck_version=$(node -p 'require("./bench/node_modules/@duckdb/node-api/package.json").version' 2> /dev/null || echo '?')
      log "DuckDB: load both CSVs, then each query (threads=2, best of $((2 * runs)))"
      if /usr/bin/time -f '%M' -o "$work/duck-time.txt" \
        node bench/duckdb_query.mjs "$imp_csv" "$pur_csv" "$out" "$((2 * runs))" 2 > "$out/duckdb.out"; then
        duck_load=$(sed -n 's/^load_seconds=\([0-9.]*\) .*/\1/p' "$out/duckdb.out")
        duck_rss=$(($(tail -n 1 "$work/duck-time.txt") / 1024))
        for n in "${names[@]}"; do
          duck_secs[$n]=$(sed -n "s/^query $n best_seconds=\([0-9.]*\) .*/\1/p" "$out/duckdb.out")
        done
        overlap=$(awk '/^overlap/ { split($2, a, "="); split($3, b, "=");
          printf "%d of %d distinct purchasers (%.1f%%) appear in impressions", b[2], a[2], 100 * b[2] / a[2] }' "$out/duckdb.out")
      else
        log "DuckDB failed"
      fi
    fi
  fi
fi

dcr_round 2

# ---------------------------------------------------------------- SQLite
sqlite_load=n/a sqlite_version=n/a sqlite_note=''
if ((use_sqlite)); then
  if ! command -v sqlite3 > /dev/null; then
    log "SQLite unavailable: install Debian's sqlite3 package (apt-get install -y sqlite3)"
  else
    sqlite_version=$(sqlite3 --version | cut -d' ' -f1)
    db=$work/query-$rows.sqlite
    if ! newer "$db" "$imp_csv" "$pur_csv" bench/sqlite_load.sql.in || [[ ! -s "$db.load" ]]; then
      log "SQLite: loading both CSVs into $db"
      rm -f "$db" "$db.load"
      sed -e "s#@IMP@#$imp_csv#" -e "s#@PUR@#$pur_csv#" bench/sqlite_load.sql.in > "$work/sqlite_load.sql"
      /usr/bin/time -f '%e' -o "$work/time.txt" sqlite3 -bail "$db" < "$work/sqlite_load.sql" > "$work/cmd.log"
      tail -n 1 "$work/time.txt" > "$db.load"
    else
      log "SQLite: reusing $db (load time measured when it was built)"
      sqlite_note=" (measured when $db was built: $(date -u -r "$db.load" '+%Y-%m-%d %H:%M UTC'))"
    fi
    sqlite_load=$(cat "$db.load")
    for q in "${!names[@]}"; do
      n=${names[$q]}
      log "SQLite $n (best of $runs, timeout ${sqlite_timeout} s)"
      best=''
      for ((i = 1; i <= runs; i++)); do
        rc=0
        /usr/bin/time -f '%e %M' -o "$work/time.txt" timeout "$sqlite_timeout" \
          sqlite3 -bail -csv -header "$db" "${sqls[$q]}" > "$out/sqlite-$n.csv.tmp" || rc=$?
        if ((rc == 124)); then
          log "  run $i: timed out after ${sqlite_timeout} s"
          best="> $sqlite_timeout"
          break
        elif ((rc != 0)); then
          log "  run $i: sqlite3 failed (exit $rc)"
          best=''
          break
        fi
        read -r secs _ < <(tail -n 1 "$work/time.txt")
        log "  run $i: ${secs} s"
        mv -f "$out/sqlite-$n.csv.tmp" "$out/sqlite-$n.csv"
        if [[ -z "$best" ]] || awk "BEGIN { exit !($secs < $best) }"; then best=$secs; fi
      done
      rm -f "$out/sqlite-$n.csv.tmp"
      sqlite_secs[$n]=${best:-n/a}
    done
  fi
fi

# ---------------------------------------------------------------- results
mismatch=0
for n in "${names[@]}"; do
  files=("$out/dcr-$n.csv")
  [[ -n "${duck_secs[$n]:-}" ]] && files+=("$out/duckdb-$n.csv")
  is_num "${sqlite_secs[$n]:-}" && files+=("$out/sqlite-$n.csv")
  if ((${#files[@]} < 2)); then
    agree[$n]="not checked (no reference ran)"
    continue
  fi
  if res=$(node bench/compare_results.mjs "${files[@]}"); then
    # (|| true: a failed test inside $(...) would end the script under set -e)
    agree[$n]="$(head -n 1 <<< "$res") (dcr$([[ -n "${duck_secs[$n]:-}" ]] && echo ", DuckDB" || true)$(is_num "${sqlite_secs[$n]:-}" && echo ", SQLite" || true))"
  else
    mismatch=1
    agree[$n]="MISMATCH"
    {
      echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
      echo "!!! RESULT MISMATCH in query $n between ${files[*]}"
      echo "$res"
      echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    } >&2
  fi
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
results=$work/results-query.txt
{
  echo "dcr query benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $rev"
  echo "machine: $(nproc) cores, ${cpu:-unknown CPU}; DuckDB $duck_version (threads=2); SQLite $sqlite_version"
  echo "load:    1-min load average $load_start at start, $(cut -d' ' -f1 /proc/loadavg) at end (2 cores)"
  echo "input:   $rows impressions ($(stat -c %s "$imp_csv") CSV bytes, $(stat -c %s "$imp_dcr") sealed), $prows purchases ($(stat -c %s "$pur_csv") CSV bytes, $(stat -c %s "$pur_dcr") sealed)"
  echo "overlap: $overlap"
  echo "times:   wall seconds, best of $((2 * runs)) (dcr's in two rounds of $runs, before and after DuckDB's; SQLite: best of $runs);"
  echo "         dcr = whole 'dcr sql' process incl. key load, decryption and"
  echo "         decoding of the used columns, join, aggregation, CSV output; DuckDB and SQLite = the query"
  echo "         only, on tables already loaded from the plaintext CSVs (load times below);"
  echo "         dcr CPU = user + sys seconds of the dcr process, least over the runs"
  echo
  for q in "${!names[@]}"; do echo "$(printf '%-13s' "${names[$q]}:") ${sqls[$q]}"; done
  echo
  printf '%-16s %9s %9s %9s %12s %12s %10s %10s\n' query "dcr" "DuckDB" "SQLite" "dcr/DuckDB" "dcr/SQLite" "dcr CPU" "dcr RSS"
  printf '%-16s %9s %9s %9s %12s %12s %10s %10s\n' ---------------- --------- --------- --------- ------------ ------------ ---------- ----------
  for n in "${names[@]}"; do
    s=${sqlite_secs[$n]:-n/a}
    printf '%-16s %9s %9s %9s %12s %12s %10s %10s\n' "$n" "${dcr_secs[$n]}" "${duck_secs[$n]:-n/a}" "$s" \
      "$(ratio "${dcr_secs[$n]}" "${duck_secs[$n]:-}")" "$(ratio "${dcr_secs[$n]}" "$s")" "${dcr_cpu[$n]} s" "${dcr_rss[$n]} MiB"
  done
  echo
  printf '%-58s %s\n' "dcr scan only (decrypt+decode the 4 joined columns, s)" "$scan_total (impressions $scan_i, purchases $scan_p; RSS $scan_i_rss MiB)"
  printf '%-58s %s\n' "DuckDB load of both CSVs into tables (s)" "$duck_load (node peak RSS $duck_rss MiB)"
  printf '%-58s %s\n' "SQLite load of both CSVs into a database file (s)" "$sqlite_load$sqlite_note"
  for n in "${names[@]}"; do printf '%-58s %s\n' "results agree, $n" "${agree[$n]}"; done
} | tee "$results"
log "results written to $results"
exit "$mismatch"
