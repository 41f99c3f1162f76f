#!/usr/bin/env bash
# The demo: a publisher and an advertiser measure which ad campaigns lead to
# purchases, without showing each other a single row. Each makes a key; they
# agree on a contract and both sign it; the clean room starts (in simulation
# mode on loopback: no TEE here) and each party verifies its attestation
# before sending anything; both upload their data sealed to the attested
# instance; the advertiser (the analyst) runs attribution, overlap and reach
# & frequency through the templates both approved; its own SQL is refused
# (thresholds alone cannot stop differencing); the audit log is fetched and
# verified. Then a second clean room whose contract adds differential
# privacy answers the analyst's own SQL with noise until its budget is
# spent, and still refuses the raw e-mail list. The clean rooms stop.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source "$ROOT/scripts/demo_contract.sh"
DCR=${DCR:-build/dcr}
DCR=$(cd "$(dirname "$DCR")" && pwd)/$(basename "$DCR")
impressions=${DEMO_IMPRESSIONS:-1000000}
purchases=${DEMO_PURCHASES:-100000}
work=$(mktemp -d /tmp/dcr-demo-XXXXXX)
server_pid= dp_pid=
cleanup() {
  local p
  for p in $server_pid $dp_pid; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
t0=$(date +%s.%N)

say "1. Each party makes its key pair (Ed25519 identity + X25519 for data keys)"
"$DCR" keygen --out publisher
"$DCR" keygen --out advertiser

say "2. They agree a contract: who provides what, who may ask, which protections"
demo_contract newsco-x-shopco-attribution \
  "Which of NewsCo's campaigns lead to purchases at ShopCo (demo)." > contract.json
"$DCR" contract lint contract.json
"$DCR" contract sign --key publisher.key --out publisher.sig contract.json
"$DCR" contract sign --key advertiser.key --out advertiser.sig contract.json

say "3. Each exports its data ($impressions impressions, $purchases purchases, generated)"
cc -O2 -std=c17 -o gen_events "$ROOT/bench/gen_events.c"
cc -O2 -std=c17 -o gen_purchases "$ROOT/bench/gen_purchases.c"
./gen_events "$impressions" > impressions.csv
./gen_purchases "$purchases" > purchases.csv
head -3 impressions.csv
head -3 purchases.csv

# start_room CONTRACT SIGNATURE-SUFFIX STATE LOG: dcr serve on a free
# loopback port; sets $room_pid and $room_url.
start_room() {
  local contract=$1 suffix=$2 state=$3 log=$4
  mkdir -m 700 "$state"
  "$DCR" serve --contract "$contract" --signatures "publisher$suffix.sig" "advertiser$suffix.sig" \
    --state "$state" --listen 127.0.0.1:0 --tee sim --ready-file "$state.ready" 2> "$log" &
  room_pid=$!
  for _ in $(seq 200); do [[ -s "$state.ready" ]] && break; sleep 0.05; done
  [[ -s "$state.ready" ]] || { cat "$log"; exit 1; }
  room_url=$(cat "$state.ready")
}

say "4. The clean room starts: fresh keys, evidence binding them to the contract"
start_room contract.json "" state server.log
server_pid=$room_pid url=$room_url
grep -v ' GET \| PUT \| POST ' server.log
P=(--server "$url" --contract contract.json --quiet)

say "5. Before sending anything, each party verifies the attestation"
"$DCR" attest check --server "$url" --contract contract.json

say "6. Each seals its data to the attested instance (and itself) and uploads it"
"$DCR" upload "${P[@]}" --key publisher.key --dataset impressions impressions.csv
"$DCR" upload "${P[@]}" --key advertiser.key --dataset purchases purchases.csv

say "7. Attribution: buyers and revenue by campaign (top 8)"
"$DCR" query "${P[@]}" --key advertiser.key "$DEMO_SQL_ATTRIBUTION"

say "8. Overlap: how many buyers saw any ad at all"
"$DCR" query "${P[@]}" --key advertiser.key "$DEMO_SQL_REACHED"

say "9. Reach & frequency of the campaigns among buyers (top 8)"
"$DCR" query "${P[@]}" --key advertiser.key "$DEMO_SQL_REACH"

say "10. SQL of the analyst's own is refused here: without differential privacy only approved templates run"
"$DCR" query "${P[@]}" --key advertiser.key \
  "SELECT p.email, p.amount FROM purchases p JOIN impressions i ON i.email = p.email" ||
  echo "(refused, exit $?)"

say "11. The publisher fetches and verifies the audit log"
"$DCR" audit "${P[@]}" --key publisher.key --head publisher.head

say "12. A second clean room adds differential privacy: noisy answers until the budget is spent"
demo_contract newsco-x-shopco-dp "Attribution with differential privacy (demo)." dp > contract-dp.json
"$DCR" contract sign --key publisher.key --out publisher-dp.sig contract-dp.json
"$DCR" contract sign --key advertiser.key --out advertiser-dp.sig contract-dp.json
start_room contract-dp.json -dp state-dp server-dp.log
dp_pid=$room_pid
D=(--server "$room_url" --contract contract-dp.json --quiet)
"$DCR" attest check --server "$room_url" --contract contract-dp.json > /dev/null
"$DCR" upload "${D[@]}" --key publisher.key --dataset impressions impressions.csv
"$DCR" upload "${D[@]}" --key advertiser.key --dataset purchases purchases.csv
echo "-- here the analyst may write its own SQL, but the raw e-mail list is still refused, by its rule:"
"$DCR" query "${D[@]}" --key advertiser.key \
  "SELECT p.email, p.amount FROM purchases p JOIN impressions i ON i.email = p.email" ||
  echo "(refused, exit $?)"
dp_sql="SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers FROM impressions i
  JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY buyers DESC LIMIT 5"
for run in 1 2 3; do
  echo "-- the same question, answer $run (noisy: compare with step 7's exact buyers)"
  "$DCR" query "${D[@]}" --key advertiser.key "$dp_sql"
done
"$DCR" budget "${D[@]}" --key advertiser.key
echo "-- a fourth answer would overspend the budget:"
"$DCR" query "${D[@]}" --key advertiser.key "$dp_sql" || echo "(refused, exit $?)"

say "13. The clean rooms stop"
kill "$server_pid" "$dp_pid"
wait "$server_pid" "$dp_pid" 2> /dev/null || true
server_pid= dp_pid=
tail -1 server.log
printf '\nDone in %.1f s.\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
