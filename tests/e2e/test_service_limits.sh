#!/usr/bin/env bash
# The service's limits through the real server and client, each with its own
# HTTP status, JSON error code and message: request body too large (an
# upload over --max-upload, a JSON body over 1 MiB, both refused on their
# declared length), per-party request rate (--rate), queries at once
# (--max-queries), query memory (--query-memory) and query time
# (--query-seconds; the late query releases nothing and charges nothing).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/service_lib.sh"
SIGNED="$ROOT/scripts/signed-curl.sh"
cd "$T"
trap 'stop_server; rm -rf "$T"' EXIT
check "keys and a three-party contract" make_contract
client() { timeout 120 "$DCR" "$1" --server "$URL" --contract c.json --quiet "${@:2}"; }

# --- body size and rate: a server with small limits -------------------------
make_data 100000 100 1
mkdir -m 700 st1
check "a server with --max-upload 65536 --rate 20 starts" start_server st1 --max-upload 65536 --rate 20
expect_exit 3 "HTTP 413 body_too_large: the request body exceeds the limit of 65536 bytes for PUT" \
  "an upload over --max-upload is refused with 413 body_too_large" \
  client upload --key pub.key --dataset impressions imp.csv
check "the refused upload left nothing behind" bash -c '[[ -z "$(ls -A st1/datasets)" ]]'
head -c 70000 /dev/urandom > big.bin
"$SIGNED" pub.key publisher "$URL" PUT /v1/datasets/impressions big.bin > r1.out 2>&1
check "a raw over-long upload is refused on its declared length (413)" \
  bash -c 'grep -q "HTTP 413" r1.out && grep -q "\"code\":\"body_too_large\"" r1.out'
python3 -c "print('{\"sql\": \"SELECT 1 ' + ' ' * (1 << 20) + '\"}')" > huge.json
"$SIGNED" ana.key analyst "$URL" POST /v1/query huge.json > r2.out 2>&1
check "a JSON body over 1 MiB is refused (413 body_too_large, limit 1048576)" \
  bash -c 'grep -q "HTTP 413" r2.out && grep -q "limit of 1048576 bytes for POST /v1/query" r2.out'
# The rate: a burst of 20 per party, refilled at 20 per minute. The
# advertiser has made no request yet; the publisher's are not counted
# against it.
# 30 at once, so that the refill (one every 3 s) hardly matters even on a
# slow (sanitizer) build.
pids=()
for i in $(seq 30); do
  (client status --key adv.key > "rate$i.out" 2> "rate$i.err"; echo $? > "rate$i.rc") &
  pids+=($!)
done
wait "${pids[@]}"
passed=$(cat rate*.rc | grep -cx 0)
echo "# $passed of 30 passed"
check "a burst over --rate: about 20 pass, the others get 429 rate_limited naming the limit" \
  bash -c "[[ $passed -ge 19 && $passed -le 25 ]] && [[ \$(grep -l 'HTTP 429 rate_limited: advertiser is over the rate limit of 20 requests per minute' rate*.err | wc -l) -eq $((30 - passed)) ]]"
check "the rate is per party: the analyst is still served" client budget --key ana.key
stop_server

# --- queries: concurrency, memory, time ---------------------------------------
# impressions and purchases share 50 people with 600 rows each, so their
# join is slow (18M pairs: seconds, well over --query-seconds 1); purchases also has many distinct
# people, so COUNT(DISTINCT email) needs more than 16 MiB.
awk 'BEGIN{srand(3); print "email,campaign,shown_at,cost,clicked";
  for (i = 0; i < 30000; i++) printf "u%d@x.com,c%d,2024-03-01 10:00:00,%.3f,false\n",
    int(rand()*50), int(rand()*4), rand()}' > imp.csv
awk 'BEGIN{srand(4); print "email,product,bought_at,amount";
  for (i = 0; i < 30000; i++) printf "u%d@x.com,p%d,2024-03-02 10:00:00,%.2f\n", int(rand()*50), int(rand()*3), rand()*100;
  for (i = 0; i < 400000; i++) printf "w%d@x.com,p%d,2024-03-02 10:00:00,%.2f\n", i, int(rand()*3), rand()*100}' > pur.csv
mkdir -m 700 st2
check "a server with --max-queries 1 --query-seconds 1 starts" \
  start_server st2 --max-queries 1 --query-seconds 1 --rate 100000
check "publisher uploads" client upload --key pub.key --dataset impressions imp.csv
check "advertiser uploads" client upload --key adv.key --dataset purchases pur.csv
SLOW="SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers, SUM(p.amount) AS revenue FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign"
t_slow=$SECONDS
client query --key ana.key "$SLOW" > slow.out 2> slow.err &
SLOW_PID=$!
# Wait until the slow query holds the only slot.
for _ in $(seq 100); do
  client status --key ana.key 2> /dev/null | grep -q '"queries_running": 1' && break
  sleep 0.05
done
expect_exit 3 "HTTP 503 too_many_queries: 1 queries are running, the limit; retry when one finishes" \
  "a second query while one runs is refused with 503 too_many_queries" \
  client query --key ana.key "SELECT COUNT(*) AS n FROM impressions"
wait $SLOW_PID
slow_rc=$?
check "the slow query stops at --query-seconds with 504 query_timeout, nothing released" \
  bash -c "[[ $slow_rc -eq 3 ]] && grep -q 'HTTP 504 query_timeout: query time limit of 1 s exceeded; nothing released' slow.err && ! grep -q revenue slow.out"
# The abandoned query keeps its slot until the executor returns.
for _ in $(seq 600); do
  client status --key ana.key 2> /dev/null | grep -q '"queries_running": 0' && break
  sleep 0.1
done
echo "# the abandoned query ran about $((SECONDS - t_slow)) s"
# A stop while an abandoned query still runs waits for it (it reads the
# state and keys the stop frees); stop_server fails on an unclean exit.
expect_exit 3 "HTTP 504 query_timeout" "another slow query times out" client query --key ana.key "$SLOW"
t_stop=$SECONDS
stop_server
check "the server stops cleanly, after the abandoned query" grep -q "waiting for 1 abandoned queries" server.log
echo "# the stop waited $((SECONDS - t_stop)) s"

# Memory: the same state, restarted with --query-memory 16, re-granted.
check "the server restarts with --query-memory 16" start_server st2 --query-memory 16 --rate 100000
check "re-grants" bash -c "$(declare -f client); URL=$URL DCR=$DCR; client grant --key pub.key --dataset impressions && client grant --key adv.key --dataset purchases"
expect_exit 3 "HTTP 422 query_failed: the query needs more than its memory limit of 16 MiB" \
  "a query over --query-memory is refused with 422 and the limit" \
  client query --key ana.key "SELECT COUNT(DISTINCT email) AS people FROM purchases"
check "a small query still runs" client query --key ana.key "SELECT COUNT(*) AS n FROM impressions"
client audit --key pub.key --head pub.head > audit.out 2>&1
check "the audit log records the limits' refusals" bash -c \
  'grep -q "refused.*time-limit" audit.out && grep -q "refused.*concurrency-limit" audit.out && grep -q "refused.*memory limit" audit.out'
check "the late queries left no accepted record" bash -c '! grep -q "accepted.*SUM(p.amount) AS revenue" audit.out'
stop_server
finish
