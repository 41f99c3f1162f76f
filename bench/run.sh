#!/usr/bin/env bash
# bench/run.sh: seal/unseal throughput of dcr against two references
# (OpenSSL's AES-256-GCM speed and DuckDB's read_csv). See bench/README.md.
#
#   ./bench/run.sh [--quick] [--refs-only] [--no-duckdb] [--no-openssl] [--query]
#
# Environment: BENCH_ROWS (default 10000000; 200000 with --quick),
# BENCH_RUNS (default 3, best run is reported), DCR (default build/dcr).
# --query (or BENCH_QUERY=1, e.g. `BENCH_QUERY=1 make bench`) then also runs
# bench/query.sh, the join benchmark (with --quick and --no-duckdb passed on).
# Generated data, keys, npm installs and results live in bench/work/ and
# bench/node_modules/ (both git-ignored).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

quick=0 refs_only=0 use_duckdb=1 use_openssl=1 with_query=${BENCH_QUERY:-0}
[[ "$with_query" == 1 ]] || with_query=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --refs-only) refs_only=1 ;;
    --no-duckdb) use_duckdb=0 ;;
    --no-openssl) use_openssl=0 ;;
    --query) with_query=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

if ((quick)); then rows=${BENCH_ROWS:-200000}; else rows=${BENCH_ROWS:-10000000}; fi
runs=${BENCH_RUNS:-3}
dcr=${DCR:-build/dcr}
work=bench/work
[[ "$rows" =~ ^[0-9]+$ && "$runs" =~ ^[1-9][0-9]*$ ]] || {
  echo "bench: BENCH_ROWS and BENCH_RUNS must be positive integers" >&2
  exit 2
}
mkdir -p "$work"

log() { printf '[bench] %s\n' "$*" >&2; }

# awk-based arithmetic helpers (bash has no floating point).
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
is_num() { [[ "${1:-}" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
# mbps BYTES SECONDS -> MB/s (10^6 bytes); guards /usr/bin/time's 0.00.
mbps() { calc '%.1f' "$1 / 1e6 / (($2 > 0) ? $2 : 0.005)"; }
ratio() { if is_num "${1:-}" && is_num "${2:-}"; then calc '%.2f' "$1 / $2"; else echo n/a; fi; }

# ---------------------------------------------------------------- data
gen=$work/gen_events
if [[ ! -x "$gen" || bench/gen_events.c -nt "$gen" || bench/gen_common.h -nt "$gen" ]]; then
  log "compiling bench/gen_events.c"
  cc -O2 -std=c17 -Wall -Wextra -Werror -o "$gen" bench/gen_events.c
fi
csv=$work/events-$rows.csv
if [[ ! -s "$csv" || bench/gen_events.c -nt "$csv" ]]; then
  log "generating $csv ($rows rows)"
  "$gen" "$rows" > "$csv.tmp"
  mv -f "$csv.tmp" "$csv"
fi
csv_bytes=$(stat -c %s "$csv")
load_start=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN { exit !($load_start > 0.5) }"; then
  log "WARNING: load average is $load_start before starting; other work on this machine will skew the figures"
fi
log "input: $csv, $rows rows, $csv_bytes bytes"

# timed OUTPUT_TO_REMOVE CMD...: runs CMD $runs times (removing OUTPUT first
# each time) under /usr/bin/time; sets t_secs (best wall seconds) and t_kb
# (largest peak RSS in KB over the runs).
timed() {
  local out=$1 i secs kb
  shift
  t_secs='' t_kb=0
  for ((i = 1; i <= runs; i++)); do
    rm -f "$out"
    if ! /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" > "$work/cmd.log" 2>&1; then
      log "FAILED: $*"
      cat "$work/cmd.log" "$work/time.txt" >&2 || true
      exit 1
    fi
    read -r secs kb < <(tail -n 1 "$work/time.txt")
    log "  run $i: ${secs} s, peak RSS $((kb / 1024)) MiB"
    if [[ -z "$t_secs" ]] || awk "BEGIN { exit !($secs < $t_secs) }"; then t_secs=$secs; fi
    if ((kb > t_kb)); then t_kb=$kb; fi
  done
}

# ---------------------------------------------------------------- dcr
seal_mbps=n/a unseal_mbps=n/a seal_secs=n/a unseal_secs=n/a
seal_rss=n/a unseal_rss=n/a unseal_null_mbps=n/a unseal_null_secs=n/a sealed_bytes=n/a sealed_pct=n/a unseal_lines=n/a
if ((!refs_only)); then
  if [[ ! -x "$dcr" ]]; then
    echo "bench: $dcr not found; run 'make bench' (or use --refs-only)" >&2
    exit 1
  fi
  key=$work/bench
  if [[ ! -s "$key.key" || ! -s "$key.pub" ]]; then
    log "creating the bench key pair $key.{key,pub}"
    rm -f "$key.key" "$key.pub"
    "$dcr" keygen --out "$key" >&2
  fi
  sealed=$work/events.dcr
  log "dcr seal (best of $runs)"
  timed "$sealed" "$dcr" seal --schema bench/events.schema.json --in "$csv" \
    --out "$sealed" --to "$key.pub"
  seal_secs=$t_secs seal_rss=$((t_kb / 1024))
  cp "$work/cmd.log" "$work/seal.log"
  seal_mbps=$(mbps "$csv_bytes" "$seal_secs")
  sealed_bytes=$(stat -c %s "$sealed")
  sealed_pct=$(calc '%.1f' "100 * $sealed_bytes / $csv_bytes")

  # Unsealed to a real file, not /dev/null: dcr writes outputs atomically
  # (temp file + rename), which must never be pointed at a device node.
  plain=$work/events.unsealed.csv
  log "dcr unseal (best of $runs)"
  timed "$plain" "$dcr" unseal --key "$key.key" --out "$plain" "$sealed"
  unseal_secs=$t_secs unseal_rss=$((t_kb / 1024))
  unseal_mbps=$(mbps "$csv_bytes" "$unseal_secs")
  unseal_lines=$(wc -l < "$plain")
  if ((unseal_lines != rows + 1)); then
    log "WARNING: unsealed output has $unseal_lines lines, expected $((rows + 1)) (header + rows)"
  fi
  rm -f "$plain"

  # The same to standard output thrown away: no file write or fsync, so
  # this is the decrypt + decode + CSV formatting cost alone.
  log "dcr unseal > /dev/null (best of $runs)"
  # shellcheck disable=SC2016 # $0/$1 are expanded by the inner bash
  timed "$plain" bash -c 'exec "$0" unseal --key "$1" "$2" > /dev/null' "$dcr" "$key.key" "$sealed"
  unseal_null_secs=$t_secs
  unseal_null_mbps=$(mbps "$csv_bytes" "$unseal_null_secs")
fi

# ---------------------------------------------------------------- openssl
ossl1=n/a ossl2=n/a
if ((use_openssl)); then
  # The numbers openssl prints are in 1000s of bytes per second; 16384-byte
  # blocks approximate bulk encryption of large chunks.
  ossl_speed() {
    openssl speed -evp aes-256-gcm -seconds 2 -bytes 16384 "$@" 2> /dev/null |
      awk 'toupper($1) == "AES-256-GCM" { v = $NF }
           END { sub(/k$/, "", v); if (v != "") printf "%.1f", v / 1000 }'
  }
  log "openssl speed -evp aes-256-gcm (1 process best of $runs, then -multi 2)"
  # One core: best of $runs (other load on the machine only ever lowers it).
  ossl1=''
  for ((i = 1; i <= runs; i++)); do
    v=$(ossl_speed) || true
    if is_num "$v" && { [[ -z "$ossl1" ]] || awk "BEGIN { exit !($v > $ossl1) }"; }; then ossl1=$v; fi
  done
  ossl2=$(ossl_speed -multi 2) || true
  is_num "$ossl1" || ossl1=n/a
  is_num "$ossl2" || ossl2=n/a
fi

# ---------------------------------------------------------------- DuckDB
duck_table=n/a duck_agg=n/a duck_table_mbps=n/a duck_agg_mbps=n/a duck_rss=n/a duck_version=n/a
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
      duck() { # MODE -> best seconds, or nothing on failure
        local out
        out=$(/usr/bin/time -f '%M' -o "$work/duck-time.txt" \
          node bench/duckdb_read_csv.mjs "$csv" "$1" "$runs" 2) || return 0
        sed -n 's/^best_seconds=\([0-9.]*\) .*/\1/p' <<< "$out"
      }
      log "DuckDB read_csv -> CREATE TABLE (threads=2, best of $runs)"
      duck_table=$(duck table)
      if is_num "$duck_table"; then
        duck_rss=$(($(tail -n 1 "$work/duck-time.txt") / 1024))
        duck_table_mbps=$(mbps "$csv_bytes" "$duck_table")
      else
        duck_table=n/a
        log "DuckDB unavailable: the table run failed"
      fi
      log "DuckDB read_csv -> count(*), sum(amount) (threads=2, best of $runs)"
      duck_agg=$(duck agg)
      if is_num "$duck_agg"; then duck_agg_mbps=$(mbps "$csv_bytes" "$duck_agg"); else duck_agg=n/a; fi
    fi
  fi
fi

# ---------------------------------------------------------------- report
mib() { calc '%.1f' "$1 / 1048576"; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
results=$work/results-seal.txt
{
  echo "dcr seal benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $rev"
  echo "machine: $(nproc) cores, ${cpu:-unknown CPU}; $(openssl version | cut -d' ' -f1-2); DuckDB $duck_version"
  echo "load:    1-min load average $load_start at start, $(cut -d' ' -f1 /proc/loadavg) at end (2 cores; anything near 1+ means a busy machine)"
  echo "input:   $csv: $rows rows, $csv_bytes bytes ($(mib "$csv_bytes") MiB); warm page cache; best of $runs runs"
  echo "MB = 10^6 bytes; all throughputs are CSV bytes / wall seconds."
  echo
  printf '%-44s %12s %10s\n' "measure" "value" "seconds"
  printf '%-44s %12s %10s\n' "--------------------------------------------" "------------" "----------"
  printf '%-44s %12s %10s\n' "dcr seal (MB/s)" "$seal_mbps" "$seal_secs"
  printf '%-44s %12s %10s\n' "dcr unseal to a file (MB/s)" "$unseal_mbps" "$unseal_secs"
  printf '%-44s %12s %10s\n' "dcr unseal to stdout > /dev/null (MB/s)" "$unseal_null_mbps" "$unseal_null_secs"
  printf '%-44s %12s\n' "dcr seal peak RSS (MiB)" "$seal_rss"
  printf '%-44s %12s\n' "dcr unseal peak RSS (MiB)" "$unseal_rss"
  printf '%-44s %12s\n' "sealed size (bytes)" "$sealed_bytes"
  printf '%-44s %12s\n' "sealed size / CSV size (%)" "$sealed_pct"
  printf '%-44s %12s\n' "openssl aes-256-gcm, 1 core (MB/s)" "$ossl1"
  printf '%-44s %12s\n' "openssl aes-256-gcm, -multi 2 (MB/s)" "$ossl2"
  printf '%-44s %12s %10s\n' "DuckDB read_csv -> table, 2 threads (MB/s)" "$duck_table_mbps" "$duck_table"
  printf '%-44s %12s %10s\n' "DuckDB read_csv -> count/sum, 2 thr (MB/s)" "$duck_agg_mbps" "$duck_agg"
  printf '%-44s %12s\n' "DuckDB node process peak RSS (MiB)" "$duck_rss"
  printf '%-44s %12s\n' "ratio dcr seal / DuckDB table" "$(ratio "$seal_mbps" "$duck_table_mbps")"
  printf '%-44s %12s\n' "ratio dcr seal / DuckDB count/sum" "$(ratio "$seal_mbps" "$duck_agg_mbps")"
  printf '%-44s %12s\n' "ratio dcr seal / openssl 1 core" "$(ratio "$seal_mbps" "$ossl1")"
  printf '%-44s %12s\n' "ratio dcr unseal / openssl 1 core" "$(ratio "$unseal_mbps" "$ossl1")"
} | tee "$results"
log "results written to $results"

# ---------------------------------------------------------------- query
if ((with_query)); then
  if ((refs_only)); then
    log "--query ignored with --refs-only (the query benchmark needs $dcr)"
  else
    query_args=()
    ((quick)) && query_args+=(--quick)
    ((use_duckdb)) || query_args+=(--no-duckdb)
    echo
    DCR=$dcr BENCH_RUNS=$runs ./bench/query.sh "${query_args[@]}"
  fi
fi
