# Shared set-up for the service end-to-end tests (sourced after lib.sh, in
# the scratch directory $T): keys pub/adv/ana, a three-party contract c.json
# (publisher and advertiser provide, analyst queries and receives; DP off,
# so the aggregation threshold k = 50 protects, with free-form SQL opted in) signed by all three, and
# helpers to start and stop `dcr serve` on a free loopback port.

# make_contract: keys and the signed three-party contract in the cwd.
make_contract() {
  local p
  for p in pub adv ana; do "$DCR" keygen --out $p > /dev/null || return 1; done
  "$DCR" contract init --out base.json --party publisher=pub.pub --party advertiser=adv.pub \
    > /dev/null || return 1
  python3 - "$(cat ana.pub)" <<'PY' || return 1
import re, sys
s = open('base.json').read()
s = s.replace('"roles": ["provider", "analyst", "receiver"]', '"roles": ["provider"]')
s = s.replace('"roles": ["provider", "receiver"]', '"roles": ["provider"]')
s = s.replace('\n  ],\n  "datasets"', ',\n    {"name": "analyst", "roles": ["analyst", "receiver"],\n     "public_key": "%s"}\n  ],\n  "datasets"' % sys.argv[1].strip(), 1)
s = s.replace('"enabled": true', '"enabled": false')
s = s.replace('"min_units": 50,', '"min_units": 50, "unsafe_free_form_sql_open_to_differencing": true,', 1)
s = re.sub(r'"overlap": \[.*?\],\n', '', s)
s = s.replace('"receivers": {"advertiser": ["advertiser"]}', '"receivers": {"analyst": ["analyst"]}')
open('c.json', 'w').write(s)
PY
  "$DCR" contract sign --key pub.key --out pub.sig c.json > /dev/null &&
    "$DCR" contract sign --key adv.key --out adv.sig c.json > /dev/null &&
    "$DCR" contract sign --key ana.key --out ana.sig c.json > /dev/null
}

# make_data ROWS_IMP ROWS_PUR SEED [PEOPLE_IMP PEOPLE_PUR]: imp.csv and
# pur.csv, drawn from 3000 / 4000 people unless given.
make_data() {
  awk -v n="$1" -v s="$3" -v m="${4:-3000}" 'BEGIN{srand(s); print "email,campaign,shown_at,cost,clicked";
    for (i = 0; i < n; i++) printf "User%d@Example.com,c%d,2024-03-01 10:00:00,%.3f,false\n",
      int(rand()*m), int(rand()*4), rand()}' > imp.csv
  awk -v n="$2" -v s="$3" -v m="${5:-4000}" 'BEGIN{srand(s + 1); print "email,product,bought_at,amount";
    for (i = 0; i < n; i++) printf "user%d@example.com,p%d,2024-03-02 10:00:00,%.2f\n",
      int(rand()*m), int(rand()*3), rand()*100}' > pur.csv
}

SERVER_PID=
SERVER_LOG=${SERVER_LOG:-server.log}
# start_server STATE [serve options...]: dcr serve on a free loopback port;
# sets $URL and $SERVER_PID. Fails when it does not come up in 20 s.
start_server() {
  local state=$1; shift
  rm -f ready
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state "$state" \
    --listen 127.0.0.1:0 --tee sim --ready-file ready "$@" >> "$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 400); do
    [[ -s ready ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  URL=$(cat ready 2>/dev/null)
  [[ -n "$URL" ]]
}

# stop_server: SIGTERM and wait; a server that does not exit cleanly (a
# sanitizer report at exit, say) fails the test.
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  local rc=$?
  SERVER_PID=
  if [[ $rc -ne 0 ]]; then
    bad "the server exited with status $rc"
    grep -E -A12 'Sanitizer|runtime error' "$SERVER_LOG" | head -30
  fi
}
