#!/usr/bin/env bash
# rules.receivers enforced, end to end through `dcr serve` and the API and
# through `dcr sql --state`: the analyst's results go only to the
# advertiser. The analyst's query answers with the report and a result id,
# no rows; the advertiser fetches the rows (dcr fetch, GET /v1/results/ID);
# the analyst and the publisher are refused; the audit log holds the query
# record (naming receivers and id) and one record per fetch.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/service_lib.sh"
cd "$T"
trap 'stop_server; rm -rf "$T"' EXIT

# The service contract, with the analyst's results sent to the advertiser only.
check "keys and the signed contract" make_contract
python3 - <<'PY'
s = open('c.json').read()
s = s.replace('"receivers": {"analyst": ["analyst"]}', '"receivers": {"analyst": ["advertiser"]}')
s = s.replace('"name": "advertiser", "roles": ["provider"]', '"name": "advertiser", "roles": ["provider", "receiver"]', 1)
open('c.json', 'w').write(s)
PY
check "the contract sends the analyst's results to the advertiser" grep -q '"analyst": \["advertiser"\]' c.json
rm -f pub.sig adv.sig ana.sig
for p in pub adv ana; do "$DCR" contract sign --key $p.key --out $p.sig c.json > /dev/null; done
check "the contract lints" "$DCR" contract lint c.json
make_data 6000 3000 7

mkdir -m 700 st
check "server starts" start_server st --rate 100000
A=(--server "$URL" --contract c.json --quiet)
check "publisher uploads impressions" "$DCR" upload "${A[@]}" --key pub.key --dataset impressions imp.csv
check "advertiser uploads purchases" "$DCR" upload "${A[@]}" --key adv.key --dataset purchases pur.csv

SQL="SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY i.campaign"
check "the analyst's query is accepted" "$DCR" query "${A[@]}" --key ana.key --format json "$SQL"
"$DCR" query "${A[@]}" --key ana.key --format json "$SQL" > q.json 2> q.err
check "the analyst's answer has no rows, says why, and names the result" python3 - <<'PY'
import json
o = json.load(open('q.json'))
assert 'rows' not in o, o
r = o['result']
assert r['delivered'] is False and r['receivers'] == ['advertiser'], r
assert 'not one of them' in r['note'] and r['id'] in r['note'], r
assert o['privacy']['rows_released'] == 4 and o['privacy']['receivers'] == ['advertiser'], o
open('id', 'w').write(r['id'])
PY
ID=$(cat id)
"$DCR" query "${A[@]}" --key ana.key --format csv "$SQL" > q.csv 2> q.err
check "in CSV the analyst sees a header at most" bash -c '[[ $(wc -l < q.csv) -le 1 ]]'
check "and is told where the rows went" grep -q "result: .*not one of them.*fetch them as result r[0-9a-f]\{32\}" q.err

check "the advertiser fetches the result" "$DCR" fetch "${A[@]}" --key adv.key --format csv "$ID"
"$DCR" fetch "${A[@]}" --key adv.key --format csv "$ID" > f.csv 2> f.err
check "the advertiser gets the four campaigns" bash -c '[[ $(wc -l < f.csv) -eq 5 ]] && head -1 f.csv | grep -q "campaign,buyers"'
check "a second fetch is allowed" "$DCR" fetch "${A[@]}" --key adv.key --format json "$ID"
expect_exit 4 "is not addressed to analyst" "the analyst cannot fetch the advertiser's result" \
  "$DCR" fetch "${A[@]}" --key ana.key "$ID"
expect_exit 4 "is not addressed to publisher" "a third party cannot fetch it" \
  "$DCR" fetch "${A[@]}" --key pub.key "$ID"
expect_exit 3 "no result" "an unknown result id is a 404" \
  "$DCR" fetch "${A[@]}" --key adv.key r0123456789abcdef0123456789abcdef
check "the stored result is ciphertext" bash -c "! grep -q campaign st/results/$ID && grep -q '\"sealed\"' st/results/$ID"

"$DCR" audit "${A[@]}" --key pub.key --head pub.head > audit.out 2>&1
check "the audit log verifies" grep -qi "verified" audit.out
check "the query record names the receivers and the result id" grep -q "receivers: advertiser; result: $ID" audit.out
check "the advertiser's fetch is audited" bash -c "grep 'result_fetch' audit.out | grep advertiser | grep -q accepted"
check "the refused fetches are audited" bash -c "grep 'result_fetch' audit.out | grep analyst | grep -q refused && grep 'result_fetch' audit.out | grep publisher | grep -q refused"
stop_server

# The same rule in dcr sql --contract --as --state (local mode).
"$DCR" seal --contract c.json --dataset impressions --in imp.csv --out imp.dcr --to ana.pub > /dev/null 2>&1
"$DCR" seal --contract c.json --dataset purchases --in pur.csv --out pur.dcr --to ana.pub > /dev/null 2>&1
mkdir -m 700 local
L=("$DCR" sql --contract c.json --as analyst --data impressions=imp.dcr --data purchases=pur.dcr --key ana.key --format csv --state local)
check "a local run as the analyst is accepted" "${L[@]}" "$SQL"
"${L[@]}" "$SQL" > l.csv 2> l.err
check "it prints no rows" bash -c '[[ ! -s l.csv ]]'
check "it says where the rows went" grep -q "not a receiver.*stored as result" l.err
LID=$(grep -o 'result r[0-9a-f]*' l.err | head -1 | cut -d' ' -f2)
check "the advertiser fetches it from the state" "$DCR" sql --contract c.json --as advertiser --state local --key adv.key --format csv --fetch "$LID"
"$DCR" sql --contract c.json --as advertiser --state local --key adv.key --format csv --fetch "$LID" > lf.csv 2>/dev/null
check "with the four campaigns" bash -c '[[ $(wc -l < lf.csv) -eq 5 ]]'
expect_exit 4 "is not addressed to analyst" "the analyst cannot fetch it locally" \
  "$DCR" sql --contract c.json --as analyst --state local --key ana.key --fetch "$LID"
check "local fetches are audited" bash -c "sqlite3 local/state.db 'SELECT record FROM audit' | grep result_fetch | grep -q refused"
"$DCR" sql --contract c.json --as analyst --data impressions=imp.dcr --data purchases=pur.dcr --key ana.key --format csv "$SQL" > n.csv 2> n.err
check "without --state the analyst gets no rows either" bash -c '[[ ! -s n.csv ]] && grep -q "nothing stored" n.err'
finish
