#!/usr/bin/env bash
# bench/dp_error.sh: the error of differentially private answers to the
# attribution queries (bench/queries.tsv) on the benchmark data, at the
# contract's epsilon. See bench/README.md ("DP error").
#
#   ./bench/dp_error.sh [--quick]
#
# Environment: BENCH_QUERY_ROWS impression rows (default 10000000; 1000000
# with --quick; purchases are a tenth), DP_RUNS DP repetitions per query
# (default 20), DP_EPSILON (0.5), DP_DELTA (1e-6), DP_CONTRIB
# (max_contributions_per_unit, 10), DP_BUDGET (budget_per_analyst, 5): the
# example contract of docs/contract.md.
# Data, keys and sealed files are shared with bench/query.sh in bench/work/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "dp_error: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
if ((quick)); then rows=${BENCH_QUERY_ROWS:-1000000}; else rows=${BENCH_QUERY_ROWS:-10000000}; fi
runs=${DP_RUNS:-20} eps=${DP_EPSILON:-0.5} delta=${DP_DELTA:-1e-6} contrib=${DP_CONTRIB:-10}
budget=${DP_BUDGET:-5}
[[ "$rows" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ && "$contrib" =~ ^[1-9][0-9]*$ ]] || {
  echo "dp_error: BENCH_QUERY_ROWS, DP_RUNS and DP_CONTRIB must be positive integers" >&2
  exit 2
}
prows=$((rows / 10))
((prows > 0)) || prows=1
work=bench/work
dcr=${DCR:-build/dcr}
mkdir -p "$work"
log() { printf '[dp_error] %s\n' "$*" >&2; }
newer() { [[ -s "$1" ]] && for dep in "${@:2}"; do [[ "$1" -nt "$dep" ]] || return 1; done; }

make -s build/dcr build/libdcr.a >&2
libs=$(make -s -p -n 2>/dev/null | sed -n 's/^LIBS *:= *//p' | head -n 1)
if ! newer "$work/dp_error" bench/dp_error.c build/libdcr.a; then
  log "compiling bench/dp_error.c"
  cc -O2 -std=c17 -Wall -Wextra -Werror -Isrc -D_DEFAULT_SOURCE -o "$work/dp_error" \
    bench/dp_error.c build/libdcr.a $libs
fi

# The same data as bench/query.sh (same generators, seeds and file names).
for g in gen_events gen_purchases; do
  if ! newer "$work/$g" "bench/$g.c" bench/gen_common.h; then
    cc -O2 -std=c17 -Wall -Wextra -Werror -o "$work/$g" "bench/$g.c"
  fi
done
imp_csv=$work/impressions-$rows.csv pur_csv=$work/purchases-$prows.csv
if ! newer "$imp_csv" bench/gen_events.c; then
  log "generating $imp_csv"
  "$work/gen_events" "$rows" > "$imp_csv.tmp" && mv -f "$imp_csv.tmp" "$imp_csv"
fi
if ! newer "$pur_csv" bench/gen_purchases.c; then
  log "generating $pur_csv"
  "$work/gen_purchases" "$prows" > "$pur_csv.tmp" && mv -f "$pur_csv.tmp" "$pur_csv"
fi
key=$work/bench
if [[ ! -s "$key.key" || ! -s "$key.pub" ]]; then
  rm -f "$key.key" "$key.pub"
  "$dcr" keygen --out "$key" >&2
fi
seal_if_stale() {
  if ! newer "$3" "$1" "$2" "$key.pub"; then
    log "sealing $1"
    "$dcr" seal --schema "$2" --in "$1" --out "$3" --to "$key.pub" --force >&2
  fi
}
imp_dcr=$work/impressions-$rows.dcr pur_dcr=$work/purchases-$prows.dcr
seal_if_stale "$imp_csv" bench/events.schema.json "$imp_dcr"
seal_if_stale "$pur_csv" bench/purchases.schema.json "$pur_dcr"

log "$rows x $prows rows, $runs DP runs per query, epsilon=$eps delta=$delta contributions=$contrib budget=$budget"
"$work/dp_error" "$key.key" "$imp_dcr" "$pur_dcr" "$runs" "$eps" "$delta" "$contrib" "$budget" \
  | tee "$work/dp_error-$rows.tsv"
