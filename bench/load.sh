#!/usr/bin/env bash
# bench/load.sh: load on the clean-room service (a benchmark, not a test).
#
# Starts `dcr serve` (sim TEE, loopback) on demo-sized data (1M impressions,
# 100k purchases from the bench generators, the demo's contract), then runs
# LOAD_CLIENTS concurrent analysts for LOAD_SECONDS of mixed queries
# (attribution, overlap, reach & frequency, and a refused raw-list query),
# in one or both of two client modes:
#   py   bench/load_client.py: one process per client, one keep-alive
#        connection pinned to the TLS key `dcr attest check` verified once,
#        signed requests; measures the server.
#   dcr  a loop of `dcr query` processes per client: each call verifies the
#        attestation and opens a fresh pinned connection (what a party's CLI
#        does), so this includes the client's cost.
# Reports answered queries per second, p50/p99 latency, 503 retries (the
# server refuses rather than queues over --max-queries; clients retry), the
# unexpected answers (must be 0), and the server's peak RSS (VmHWM).
#
#   bench/load.sh            LOAD_CLIENTS=50 LOAD_SECONDS=60 LOAD_MODE="py dcr"
#   DCR=build/asan/dcr LOAD_CLIENTS=10 LOAD_SECONDS=15 bench/load.sh
# With an ASan build the server's exit status and log are checked for
# sanitizer reports (leaks included) after a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source "$ROOT/scripts/demo_contract.sh"
DCR=${DCR:-build/dcr}
DCR=$(cd "$(dirname "$DCR")" && pwd)/$(basename "$DCR")
CLIENTS=${LOAD_CLIENTS:-50}
SECONDS_RUN=${LOAD_SECONDS:-60}
MODES=${LOAD_MODE:-py dcr}
MAXQ=${LOAD_MAX_QUERIES:-4}
IMPRESSIONS=${LOAD_IMPRESSIONS:-1000000}
PURCHASES=${LOAD_PURCHASES:-100000}
data=bench/work/load
mkdir -p "$data"
if [[ ! -s $data/impressions-$IMPRESSIONS.csv || ! -s $data/purchases-$PURCHASES.csv ]]; then
  cc -O2 -std=c17 -o "$data/gen_events" bench/gen_events.c
  cc -O2 -std=c17 -o "$data/gen_purchases" bench/gen_purchases.c
  "$data/gen_events" "$IMPRESSIONS" > "$data/impressions-$IMPRESSIONS.csv"
  "$data/gen_purchases" "$PURCHASES" > "$data/purchases-$PURCHASES.csv"
fi
work=$(mktemp -d /tmp/dcr-load-XXXXXX)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# The demo's contract (scripts/demo_contract.sh).
"$DCR" keygen --out publisher > /dev/null
"$DCR" keygen --out advertiser > /dev/null
demo_contract load bench/load.sh > contract.json
"$DCR" contract sign --key publisher.key --out publisher.sig contract.json > /dev/null 2>&1
"$DCR" contract sign --key advertiser.key --out advertiser.sig contract.json > /dev/null 2>&1
mkdir -m 700 state
"$DCR" serve --contract contract.json --signatures publisher.sig advertiser.sig --state state \
  --listen 127.0.0.1:0 --tee sim --ready-file ready --rate 1000000 --max-queries "$MAXQ" \
  2> server.log &
server_pid=$!
for _ in $(seq 600); do [[ -s ready ]] && break; sleep 0.05; done
url=$(cat ready)
P=(--server "$url" --contract contract.json --quiet)
"$DCR" upload "${P[@]}" --key publisher.key --dataset impressions "$ROOT/$data/impressions-$IMPRESSIONS.csv" > /dev/null 2>&1
"$DCR" upload "${P[@]}" --key advertiser.key --dataset purchases "$ROOT/$data/purchases-$PURCHASES.csv" > /dev/null 2>&1
pin=$("$DCR" attest check --server "$url" --contract contract.json --json | jq -r .tls_spki_sha256)
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
echo "server: $(basename "$DCR"), $IMPRESSIONS impressions, $PURCHASES purchases, --max-queries $MAXQ, $(nproc) CPUs; RSS after upload $(( $(rss_kb) / 1024 )) MiB"

QUERIES=(
  "$DEMO_SQL_ATTRIBUTION"
  "$DEMO_SQL_REACHED"
  "$DEMO_SQL_REACH"
  "SELECT p.email, p.amount FROM purchases p JOIN impressions i ON i.email = p.email"
)
# dcr_client N DEADLINE: one analyst running `dcr query` in a loop; one line
# per call: kind status latency_s (status: ok, refused, busy, or the error).
dcr_client() {
  local i=$1 kind t0 t1 rc st
  while (($(date +%s) < $2)); do
    kind=$((i % 4))
    t0=$(date +%s%N)
    rc=0
    "$DCR" query "${P[@]}" --key advertiser.key --format csv "${QUERIES[$kind]}" > /dev/null 2> "c$1.err" || rc=$?
    t1=$(date +%s%N)
    if [[ $rc -eq 0 ]]; then st=ok
    elif grep -q 'HTTP 422 refused' "c$1.err"; then st=refused
    elif grep -q 'HTTP 503 too_many_queries' "c$1.err"; then st=busy
    else st="error:$(tr ' \n' '__' < "c$1.err" | head -c 200)"; fi
    echo "$kind $st $(((t1 - t0) / 1000000))" >> "c$1.log"
    [[ $st == busy ]] && sleep 0.05
    i=$((i + 1))
  done
}

for mode in $MODES; do
  if [[ $mode == py ]]; then
    python3 "$ROOT/bench/load_client.py" "$url" advertiser.key advertiser "$pin" "$CLIENTS" "$SECONDS_RUN" > py.json
    python3 - py.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"py  (pinned keep-alive connections): {s['clients']} clients, {s['seconds']} s: "
      f"{s['answered']} answered, {s['per_second']} queries/s, p50 {s['p50_ms']} ms, "
      f"p99 {s['p99_ms']} ms, {s['busy_503_retried']} 503 retries, {s['unexpected']} unexpected")
for k, b in s['by_kind'].items():
    print(f"    {k:12s} {b['n']:6d} answered  p50 {b['p50_ms']:8.1f} ms  p99 {b['p99_ms']:8.1f} ms")
if s['unexpected']: print('    unexpected:', s['unexpected_sample'])
PY
  else
    rm -f c*.log
    deadline=$(($(date +%s) + SECONDS_RUN))
    t0=$(date +%s.%N)
    pids=()
    for i in $(seq "$CLIENTS"); do dcr_client "$i" "$deadline" & pids+=($!); done
    wait "${pids[@]}"
    t1=$(date +%s.%N)
    cat c*.log | python3 -c "
import sys
wall = $t1 - $t0
names = ['attribution', 'overlap', 'reach', 'refused']
rows = [l.split(' ', 2) for l in sys.stdin.read().splitlines()]
ans = sorted(int(r[2]) for r in rows if r[1] != 'busy')
busy = sum(1 for r in rows if r[1] == 'busy')
bad = [r for r in rows if r[1] not in ('busy', 'refused' if r[0] == '3' else 'ok')]
p = lambda v, q: v[min(len(v) - 1, int(q / 100 * len(v)))] if v else 0
print(f'dcr (a dcr query process per call, attestation each time): $CLIENTS clients, {wall:.1f} s: '
      f'{len(ans)} answered, {len(ans) / wall:.2f} queries/s, p50 {p(ans, 50)} ms, p99 {p(ans, 99)} ms, '
      f'{busy} 503 retries, {len(bad)} unexpected')
for k in range(4):
    v = sorted(int(r[2]) for r in rows if r[0] == str(k) and r[1] != 'busy')
    print(f'    {names[k]:12s} {len(v):6d} answered  p50 {p(v, 50):8d} ms  p99 {p(v, 99):8d} ms')
for r in bad[:5]: print('    unexpected:', r)
"
  fi
done
echo "server peak RSS (VmHWM): $(( $(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status") / 1024 )) MiB"
kill "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=
if grep -qE 'Sanitizer|runtime error|LeakSanitizer' server.log || [[ $rc -ne 0 ]]; then
  echo "server exit status $rc; sanitizer report:"
  grep -E -A20 'Sanitizer|runtime error' server.log | head -40
  exit 1
fi
echo "server stopped cleanly (exit 0, no sanitizer report)"
