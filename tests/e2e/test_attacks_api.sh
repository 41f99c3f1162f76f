#!/usr/bin/env bash
# The attack classes of issue 17, run as an analyst would run them: through
# `dcr serve` (sim, loopback) and the HTTPS API, never in-process: queries
# with `dcr query --format json` (the server's answer exactly as sent: one
# process a query keeps the run short), audit, budget and stored results
# with raw signed requests (scripts/signed-curl.sh) and dcr audit / dcr
# fetch. People
# whose values are known are planted in the data; every check asserts that
# the planted value is not recovered: the answers, refusals, errors and
# report fields are identical on a dataset D and its neighbour D' (the
# planted person with one value changed), or the attack is refused, or the
# incriminating row is withheld.
#
# Three contracts over the same datasets (docs/privacy.md, "Modes"):
#   T    no DP, rules.aggregation.unsafe_free_form_sql_open_to_differencing
#   DP   rules.differential_privacy (free-form SQL, noisy and charged)
#   DEF  no DP, no opt-in: only the contract's template is answered
# Servers: T on D and on D', DP on D and on D', DEF on D (five, all at once).
#
#   1  data-dependent errors (a failing expression in a CASE branch only the
#      planted person reaches) under T and DP: same answer on D and D'
#   2  no count of suppressed groups in the answer or the audit log
#   3  differencing bypasses under T: outer aggregate over a grouped
#      subquery, UNION ALL, CTE, two colluding analysts, a re-upload
#   4  rules.receivers: the asker gets the report only; the receiver fetches
#   5  MIN/MAX refused (min-max without DP, differential-privacy with it)
#   6  multi-query attacks: refused under DEF (free-form-sql), noisy and
#      charged under DP, and under T what the differencing defence catches
#      (the rest is the documented price of the opt-in: see LIMITS below)
#   7  dcr sql --contract DP.json without --state refuses
source "$(dirname "$0")/lib.sh"
SIGNED="$ROOT/scripts/signed-curl.sh"
cd "$T"
PIDS=()
# ev 'SHELL': for check, a condition written as shell text.
ev() { eval "$1"; }
stop_all() {
  local p rc
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    rc=$?
    if [[ $rc -ne 0 ]]; then
      bad "a server exited with status $rc"
      grep -E -A12 'Sanitizer|runtime error' server-*.log | head -30
    fi
  done
  PIDS=()
}
# KEEP_T=DIR keeps the scratch directory (answers, logs) for a look.
trap 'stop_all; [[ -n ${KEEP_T:-} ]] && cp -a "$T" "$KEEP_T"; rm -rf "$T"' EXIT

# ---------------------------------------------------------------- parties
# publisher provides people; mallory provides extra (fake people, a crafted
# one-row dataset) and is an analyst too; analyst and analyst2 collude;
# asker's results go to bob only.
PARTIES="publisher mallory analyst analyst2 asker bob"
for p in $PARTIES; do "$DCR" keygen --out "$p" > /dev/null || exit 1; done

# make_contracts: t.json (free-form threshold opt-in), dp.json, def.json
# and t-minmax.json (t with the MIN/MAX opt-in as well).
make_contracts() {
  python3 - <<'PY'
import json
def contract(mode):
    key = lambda p: open(p + '.pub').read().strip()
    dim = lambda n, t='TEXT': {"name": n, "type": t, "role": "dimension"}
    c = {"dcr_contract": 1, "name": "attacks-" + mode, "version": 1,
         "purpose": "issue 17 attack suite through the API", "development": True,
         "parties": [
           {"name": "publisher", "roles": ["provider"], "public_key": key("publisher")},
           {"name": "mallory", "roles": ["provider", "analyst", "receiver"], "public_key": key("mallory")},
           {"name": "analyst", "roles": ["analyst", "receiver"], "public_key": key("analyst")},
           {"name": "analyst2", "roles": ["analyst", "receiver"], "public_key": key("analyst2")},
           {"name": "asker", "roles": ["analyst"], "public_key": key("asker")},
           {"name": "bob", "roles": ["receiver"], "public_key": key("bob")}],
         "datasets": [
           {"name": "people", "owner": "publisher", "privacy_unit": "email", "min_units": 5, "columns": [
             {"name": "email", "type": "TEXT", "role": "id"},
             dim("cohort"), dim("zip"), dim("diag"), dim("note"),
             dim("age", "BIGINT"), dim("score", "DOUBLE PRECISION"), dim("seen_at", "TIMESTAMP"),
             {"name": "amount", "type": "BIGINT", "role": "metric", "bounds": [0, 1000]},
             {"name": "big", "type": "BIGINT", "role": "metric", "bounds": [0, 4000000000000000000]}]},
           {"name": "extra", "owner": "mallory", "privacy_unit": "email", "min_units": 5, "columns": [
             {"name": "email", "type": "TEXT", "role": "id"}, dim("tag")]}],
         "rules": {
           "aggregation": {"min_units": 5,
             "aggregates": {"people.email": ["COUNT_DISTINCT"], "extra.email": ["COUNT_DISTINCT"],
                            "people.amount": ["SUM", "MIN", "MAX"], "people.big": ["SUM"]},
             "joins": [{"left": "people.email", "right": "extra.email"}]},
           "receivers": {"analyst": ["analyst"], "analyst2": ["analyst2"], "mallory": ["mallory"],
                         "asker": ["bob"]}},
         "evidence": [{"type": "sim"}]}
    r = c["rules"]
    if mode in ("t", "t-minmax"):
        r["aggregation"]["unsafe_free_form_sql_open_to_differencing"] = True
    if mode == "t-minmax":
        r["aggregation"]["unsafe_min_max_reveal_one_value"] = True
    if mode == "dp":
        # zCDP: rho per query at eps 1, delta 1e-6 is 0.01666; a budget of 3.7
        # allows 12 queries per analyst (docs/privacy.md, "Accounting").
        r["differential_privacy"] = {"enabled": True, "epsilon_per_query": 1.0, "delta": 1e-6,
                                     "budget_per_analyst": 3.7, "max_contributions_per_unit": 2}
    if mode == "def":
        r["templates"] = [{"name": "people_by_cohort",
                           "sql": "SELECT cohort, COUNT(DISTINCT email) AS n FROM people GROUP BY cohort"}]
    json.dump(c, open(mode + ".json", "w"), indent=1)
for m in ("t", "dp", "def", "t-minmax"):
    contract(m)
PY
}
make_contracts || { bad "the contracts"; finish; exit 1; }
for m in t dp def; do
  for p in $PARTIES; do
    "$DCR" contract sign --key "$p.key" --out "$m.$p.sig" "$m.json" > /dev/null 2>&1 || bad "sign $m as $p"
  done
done
check "the three contracts lint" bash -c "'$DCR' contract lint t.json && '$DCR' contract lint dp.json && '$DCR' contract lint def.json"

# ---------------------------------------------------------------- data
# people.csv (D) and people_n.csv (D'): the same but for V0's diagnosis.
# Cohorts (each a population of its own, so one attack's releases are far,
# in people, from another's):
#   base  100 people; V0 (zip z-v0, alone in it) has diag hiv in D, flu in D',
#         age 42, score 1e30, note a_b, big 4e18: the victim of classes 1, 2
#   bigs  5 people with big 1.5e18: with V0 their SUM(big) overflows
#   d1-d5 8 people each, one of them (zip zv-dN) the victim of a bypass
#   r     13 people, ages 20-25 and 75-80, and Vr aged 50 with amount 613
#   t     ta (9), tb (10), and Vt alone in zip tv with amount 587
#   s     10 people; Vs has two rows (300 on 2024-01-15, 100 on 2024-03-01)
#   p     Vp alone in zip pz with amount 641, and 4 accounts the analyst
#         opened with amount 0 (the same zip): padding in the dataset itself
#   a     10 people; Va (amount 659) is the row of mallory's crafted dataset
gen_people() {
  python3 - <<'PY'
def people(v0diag, out):
    rows = []
    def row(email, cohort, zip, diag='flu', note='abc', age=30, score=1.5, seen='2024-03-01 10:00:00',
            amount=10, big=1):
        rows.append((email, cohort, zip, diag, note, age, score, seen, amount, big))
    for i in range(100):
        row('b%d@x' % i, 'base', 'z%d' % (i % 5), diag=('flu', 'cold')[i % 2], age=20 + i % 40,
            score=i * 0.5, amount=(i * 37) % 500)
    row('v0@x', 'base', 'z-v0', diag=v0diag, note='a_b', age=42, score=1e30, amount=777, big=4000000000000000000)
    for i in range(5):
        row('g%d@x' % i, 'bigs', 'zg', big=1500000000000000000)
    for d in range(1, 6):
        for i in range(7):
            row('d%d-%d@x' % (d, i), 'd%d' % d, 'zd', amount=20 + i)
        row('vd%d@x' % d, 'd%d' % d, 'zv-d%d' % d, amount=500 + d)
    for i in range(6):
        row('r%d@x' % i, 'r', 'zr', age=20 + i, amount=11 * i)
        row('r%d@x' % (i + 6), 'r', 'zr', age=75 + i, amount=13 * i)
    row('vr@x', 'r', 'zr', age=50, amount=613)
    for i in range(9):
        row('ta%d@x' % i, 't', 'ta', amount=30 + i)
    for i in range(10):
        row('tb%d@x' % i, 't', 'tb', amount=40 + i)
    row('vt@x', 't', 'tv', amount=587)
    for i in range(9):
        row('s%d@x' % i, 's', 'zs', amount=50 + i)
    row('vs@x', 's', 'sv', seen='2024-01-15 10:00:00', amount=300)
    row('vs@x', 's', 'sv', seen='2024-03-01 10:00:00', amount=100)
    row('vp@x', 'p', 'pz', amount=641)
    for i in range(4):
        row('fake%d@mallory' % i, 'p', 'pz', amount=0)
    for i in range(9):
        row('a%d@x' % i, 'a', 'za', amount=60 + i)
    row('va@x', 'a', 'za', amount=659)
    with open(out, 'w') as f:
        f.write('email,cohort,zip,diag,note,age,score,seen_at,amount,big\n')
        for r in rows:
            f.write(','.join(str(x) for x in r) + '\n')
people('hiv', 'people.csv')
people('flu', 'people_n.csv')
PY
}
gen_people
# mallory's extra: first 9 accounts of her own plus the padding victim, then
# (re-uploaded) a crafted one-row dataset naming the anti-join victim.
{ echo "email,tag"; for i in $(seq 0 8); do echo "pad$i@mallory,pad"; done; echo "vp@x,pad"; } > extra_pad.csv
printf 'email,tag\nva@x,crafted\n' > extra_one.csv

# ---------------------------------------------------------------- servers
# serve NAME CONTRACT: dcr serve on a free loopback port; sets URL_NAME.
serve() {
  local name=$1 c=$2 i sigs=()
  for p in $PARTIES; do sigs+=("$c.$p.sig"); done
  mkdir -m 700 "st-$name"
  "$DCR" serve --contract "$c.json" --signatures "${sigs[@]}" --state "st-$name" \
    --listen 127.0.0.1:0 --tee sim --ready-file "ready-$name" --rate 100000 \
    >> "server-$name.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 400); do
    [[ -s "ready-$name" ]] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s "ready-$name" ]] || return 1
  printf -v "URL_${name//-/_}" '%s' "$(cat "ready-$name")"
}
# upload NAME CONTRACT KEY DATASET CSV
upload() {
  local u="URL_${1//-/_}"
  "$DCR" upload --server "${!u}" --contract "$2.json" --quiet --key "$3.key" --dataset "$4" "$5"
}
for s in "T t" "Tn t" "DP dp" "DPn dp" "DEF def"; do
  set -- $s
  check "server $1 starts ($2 contract)" serve "$1" "$2"
done
[[ $_fail -eq 0 ]] || { grep -h -A3 'runtime error\|Sanitizer' server-*.log | head -20; finish; exit 1; }
check "uploads to T (D)" ev 'upload T t publisher people people.csv && upload T t mallory extra extra_pad.csv'
check "uploads to Tn (D')" upload Tn t publisher people people_n.csv
check "uploads to DP (D)" ev 'upload DP dp publisher people people.csv && upload DP dp mallory extra extra_pad.csv'
check "uploads to DPn (D')" upload DPn dp publisher people people_n.csv
check "uploads to DEF (D)" ev 'upload DEF def publisher people people.csv && upload DEF def mallory extra extra_pad.csv'

# ---------------------------------------------------------------- helpers
# q SERVER PARTY OUT SQL: the query as PARTY with `dcr query --format json`
# (which prints the server's answer as sent); OUT.code is the exit code
# (0, or 3 for a refusal or failure: OUT.err has the HTTP status, the error
# code and the message, which names the rule).
declare -A CONTRACT_OF=([T]=t [Tn]=t [DP]=dp [DPn]=dp [DEF]=def)
q() {
  local u="URL_${1//-/_}" party=$2 out=$3 sql=$4
  "$DCR" query --server "${!u}" --contract "${CONTRACT_OF[$1]}.json" --quiet --key "$party.key" \
    --format json "$sql" > "$out.json" 2> "$out.err"
  echo $? > "$out.code"
}
# q4 OUT SQL: as analyst on T, Tn, DP and DPn at once (OUT-T-D, OUT-T-Dn,
# OUT-DP-D, OUT-DP-Dn).
q4() {
  local w=()
  q T analyst "$1-T-D" "$2" & w+=($!)
  q Tn analyst "$1-T-Dn" "$2" & w+=($!)
  q DP analyst "$1-DP-D" "$2" & w+=($!)
  q DPn analyst "$1-DP-Dn" "$2" & w+=($!)
  wait "${w[@]}"
}
# get SERVER PARTY OUT PATH: a signed GET.
get() {
  local u="URL_${1//-/_}"
  "$SIGNED" "$2.key" "$2" "${!u}" GET "$4" > "$3.raw" 2>&1
  sed -n 's/^HTTP //p' "$3.raw" | tail -1 > "$3.code"
  sed '$d' "$3.raw" > "$3.json"
}
# same MODE A B: the two answers are the same: exit code and error text
# (HTTP status, error code, message naming the rule), or columns, the
# privacy report and the delivery (but a stored result's random id), and
# the rows for MODE exact, only their number for dp and status (status:
# a threshold SUM is exact, so its value may differ; dp: values are noisy).
norm() {
  if [[ $(cat "$2.code") != 0 ]]; then echo "exit $(cat "$2.code"): $(cat "$2.err")"; return; fi
  jq -S -c --arg m "$1" '
    (if (.result | type) == "object" then .result |= del(.id, .note) else . end)
    | if $m != "exact" and has("rows") then .rows |= length else . end' "$2.json" 2>&1
}
same() {
  local x y
  x=$(norm "$1" "$2"); y=$(norm "$1" "$3")
  [[ "$x" == "$y" ]] || { echo "D:  $x"; echo "D': $y"; return 1; }
}
# jf FILE EXPR: jq -e on a query answer (the check passes when EXPR is true).
jf() { jq -e "$2" "$1.json" > /dev/null 2>&1; }
# no_cell_is OUT VALUE: no released cell equals VALUE.
no_cell_is() { ! jq -e --argjson v "$2" '[.rows[]?[]] | index($v)' "$1.json" > /dev/null 2>&1; }
code_is() { [[ $(cat "$1.code") == "$2" ]]; }
# withheld OUT VALUE: answered, and VALUE (what the attack would recover)
# is not among the released cells.
withheld() { code_is "$1" 0 && no_cell_is "$1" "$2"; }
# refused_by OUT RULE: dcr query exited 3 on an HTTP 422 naming RULE.
refused_by() { code_is "$1" 3 && grep -q "HTTP 422 .*refused by rule $2:" "$1.err"; }
released_n() { code_is "$1" 0 && jf "$1" ".privacy.rows_released == $2 and (.rows | length) == $2"; }

# ================================================================ class 1
# Data-dependent errors. The failing expression sits in a CASE branch only
# V0 reaches when V0's diagnosis is hiv (D; flu in D'), inside
# coalesce(..) so that every row passes the filter whatever the branch
# gives: the released count is the same on D and D' unless the error
# itself (or its absence) leaks.
V0="zip = 'z-v0' AND diag = 'hiv'"
declare -A ORACLE=(
  [bigint-overflow]="coalesce(CASE WHEN $V0 THEN age * 9223372036854775807 END, 0) >= 0"
  [double-overflow]="coalesce(CASE WHEN $V0 THEN score * 1e308 END, 0) >= 0"
  [cast-double-bigint]="coalesce(CASE WHEN $V0 THEN CAST(score AS BIGINT) END, 0) >= 0"
  [interval-8000y]="coalesce(CASE WHEN $V0 THEN seen_at + INTERVAL '8000 years' END, TIMESTAMP '2000-01-01') > TIMESTAMP '1900-01-01'"
  [substr-negative]="length(coalesce(CASE WHEN $V0 THEN substr(note, 1, -1) END, '')) >= 0"
  [like-escape-column]="coalesce(CASE WHEN $V0 THEN note LIKE 'a%' ESCAPE diag END, true) IS NOT NULL"
)
ORACLES="bigint-overflow double-overflow cast-double-bigint interval-8000y substr-negative like-escape-column"
for name in $ORACLES; do
  sql="SELECT COUNT(*) AS n FROM people WHERE ${ORACLE[$name]}"
  q4 "e-$name" "$sql"
  check "1 error oracle $name (threshold): same answer on D and D'" same exact "e-$name-T-D" "e-$name-T-Dn"
  check "1 error oracle $name (DP): same status, rule and report on D and D'" same dp "e-$name-DP-D" "e-$name-DP-Dn"
done
# SUM overflow: bigs' SUM(big) is 7.5e18; with V0 (4e18) it passes BIGINT's
# range. The query must not fail on D only (the sum itself is exact in
# threshold mode, so only status and report are compared there).
sql="SELECT SUM(big) AS s FROM people WHERE cohort = 'bigs' OR ($V0)"
q4 e-sum "$sql"
check "1 error oracle SUM overflow (threshold): same status and report on D and D'" same status e-sum-T-D e-sum-T-Dn
check "1 error oracle SUM overflow (DP): same status, rule and report on D and D'" same dp e-sum-DP-D e-sum-DP-Dn
check "1 the threshold answers say protection threshold-free-form-unsafe" \
  jf e-bigint-overflow-T-Dn '.privacy.protection == "threshold-free-form-unsafe"'

# ================================================================ class 2
# A filter on quasi-identifiers leaves V0 alone in a group on D, and no
# group at all on D': nothing in the answer or the audit log may count it.
sql="SELECT diag, COUNT(*) AS n FROM people WHERE zip = 'z-v0' AND diag = 'hiv' GROUP BY diag"
q4 sup "$sql"
check "2 suppressed group (threshold): same answer on D and D'" same exact sup-T-D sup-T-Dn
check "2 suppressed group (DP): same answer on D and D'" same dp sup-DP-D sup-DP-Dn
check "2 the group of one is not released" released_n sup-T-D 0
check "2 no answer carries a key about suppressed groups" bash -c \
  '! grep -qi suppress sup-* e-*'
w=()
for s in T Tn DP DPn; do
  get "$s" publisher "audit-$s" /v1/audit & w+=($!)
  u="URL_$s"
  "$DCR" audit --server "${!u}" --contract "${CONTRACT_OF[$s]}.json" --quiet \
    --key publisher.key --head "head-$s" > "audit-$s.out" 2>&1 & w+=($!)
done
wait "${w[@]}"
check "2 GET /v1/audit and dcr audit answer" bash -c \
  'for s in T Tn DP DPn; do grep -qx 200 audit-$s.code && grep -q query audit-$s.out || exit 1; done'
check "2 no audit record (raw or as dcr audit prints it) mentions suppressed groups" bash -c \
  '! grep -qi suppress audit-T.json audit-Tn.json audit-DP.json audit-DPn.json audit-*.out'
# The audit records of the class 1 and 2 queries, without times, hashes and
# signatures, are the same on D and D'.
audit_queries() {
  jq -c '.records[].record | fromjson | select(.type == "query")
         | del(.time, .at, .timestamp, .seq, .instance, .key_id, .hash, .prev, .sig)' "$1.json" 2>/dev/null
}
check "2 the query audit records are the same on D and D' (threshold)" \
  ev "diff <(audit_queries audit-T) <(audit_queries audit-Tn) && [[ -n \$(audit_queries audit-T) ]]"
check "2 the query audit records are the same on D and D' (DP)" \
  ev "diff <(audit_queries audit-DP) <(audit_queries audit-DPn) && [[ -n \$(audit_queries audit-DP) ]]"

# ================================================================ class 3
# The with-and-without-one-person pair, the second half in a form that
# bypassed the differencing defence. Cohort dN has 8 people; its victim
# (zip zv-dN) is the one the second query leaves out: 8, then 7 would tell
# the victim is in dN. Expected: the second release withheld (no cell 7).
first() { echo "SELECT COUNT(DISTINCT email) AS n FROM people WHERE cohort = '$1'"; }
but() { echo "SELECT cohort, COUNT(DISTINCT email) AS u FROM people WHERE cohort = '$1' AND zip <> 'zv-$1' GROUP BY cohort"; }
q T analyst d1-a "$(first d1)"
q T analyst d1-b "SELECT SUM(u) AS n FROM ($(but d1)) t"
check "3 the first half is released (8 people)" ev "jf d1-a '.rows == [[8]]'"
check "3 outer aggregate over a grouped subquery: withheld" withheld d1-b 7
q T analyst d2-a "$(first d2)"
q T analyst d2-b "SELECT SUM(u) AS n FROM ($(but d2) UNION ALL SELECT cohort, COUNT(DISTINCT email) AS u FROM people WHERE cohort = 'r' GROUP BY cohort) t"
check "3 via UNION ALL (7 + 13 = 20): withheld" ev "withheld d2-b 20 && withheld d2-b 7"
q T analyst d3-a "$(first d3)"
q T analyst d3-b "WITH g AS ($(but d3)) SELECT SUM(u) AS n FROM g"
check "3 via a CTE: withheld" withheld d3-b 7
q T analyst d4-a "$(first d4)"
q T analyst2 d4-b "SELECT COUNT(DISTINCT email) AS n FROM people WHERE cohort = 'd4' AND zip <> 'zv-d4'"
check "3 two colluding analysts (each asks one half): withheld" withheld d4-b 7
q T analyst d5-a "$(first d5)"
upload T t publisher people people.csv > /dev/null 2>&1 || bad "3 re-upload people"
q T analyst d5-b "SELECT COUNT(DISTINCT email) AS n FROM people WHERE cohort = 'd5' AND zip <> 'zv-d5'"
check "3 across a re-upload of the dataset: withheld" withheld d5-b 7
check "3 each first half was released" \
  ev 'for d in d2 d3 d4 d5; do jf $d-a ".rows == [[8]]" || return 1; done'

# ================================================================ class 4
# asker's results go to bob only: asker gets the report, not the rows; bob
# fetches them; asker and a third party cannot.
N_ALL=$(($(wc -l < people.csv) - 1))
q T asker rcv "SELECT COUNT(*) AS n FROM people"
check "4 the asker gets the report" ev "code_is rcv 0 && jf rcv '.privacy.rows_released == 1'"
check "4 ... but no rows" jf rcv '(.rows // []) == [] and .result.delivered == false'
check "4 ... and the count is nowhere in the answer" bash -c "! grep -q '$N_ALL' rcv.json"
RID=$(jq -r '.result.id // empty' rcv.json 2>/dev/null)
check "4 the answer names the stored result" test -n "$RID"
get T bob fetch-bob "/v1/results/$RID"
get T asker fetch-asker "/v1/results/$RID"
get T publisher fetch-pub "/v1/results/$RID"
check "4 bob (the receiver) fetches the sealed result" code_is fetch-bob 200
check "4 the asker cannot fetch it" ev "code_is fetch-asker 403 && ! grep -q '$N_ALL' fetch-asker.json"
check "4 a third party cannot fetch it" ev "code_is fetch-pub 403 && ! grep -q '$N_ALL' fetch-pub.json"
"$DCR" fetch --server "$URL_T" --contract t.json --quiet --key bob.key --format csv "$RID" > fetch.csv 2> fetch.err
check "4 dcr fetch opens it for bob: the rows" grep -qx "$N_ALL" fetch.csv
expect_exit 4 "." "4 dcr fetch refuses the asker" \
  "$DCR" fetch --server "$URL_T" --contract t.json --quiet --key asker.key "$RID"
"$DCR" query --server "$URL_T" --contract t.json --quiet --key asker.key --format csv \
  "SELECT COUNT(*) AS n FROM people" > rcv-cli.csv 2> rcv-cli.err
check "4 dcr query as the asker prints no rows" bash -c "! grep -qx '$N_ALL' rcv-cli.csv"
get T publisher audit-rcv /v1/audit
check "4 the fetches are audited" bash -c \
  "jq -r '.records[].record' audit-rcv.json | grep -c result_fetch | awk '\$1 >= 3 {ok=1} END {exit !ok}'"

# ================================================================ class 5
# V0's amount (777) is the largest in base.
q T analyst mm-t "SELECT MAX(amount) AS m FROM people WHERE cohort = 'base'"
q T analyst mm-t2 "SELECT zip, MIN(amount) AS m FROM people WHERE cohort = 'base' GROUP BY zip"
q DP analyst mm-dp "SELECT MAX(amount) AS m FROM people WHERE cohort = 'base'"
check "5 MAX without DP and without the opt-in: refused by min-max" refused_by mm-t min-max
check "5 MIN per group without DP: refused by min-max" refused_by mm-t2 min-max
check "5 MAX under DP: refused by differential-privacy" refused_by mm-dp differential-privacy
check "5 the largest amount is in none of them" bash -c '! grep -q 777 mm-t.json mm-t2.json mm-dp.json'
# The opt-in is what lets MAX through (local dcr sql: no server needed).
"$DCR" seal --contract t-minmax.json --dataset people --in people.csv --out people-mm.dcr --to analyst.pub > /dev/null 2>&1
"$DCR" sql --contract t-minmax.json --as analyst --data people=people-mm.dcr --key analyst.key --format csv \
  "SELECT MAX(amount) AS m FROM people WHERE cohort = 'base'" > mm-opt.csv 2> /dev/null
check "5 with unsafe_min_max_reveal_one_value the value is released (the documented risk)" grep -qx 777 mm-opt.csv

# ================================================================ class 6
# Each attack is a list of queries; $A_name holds them separated by '|'.
R1="SELECT COUNT(*) AS n, SUM(amount) AS s FROM people WHERE cohort = 'r' AND age <= 50"
R2="SELECT COUNT(*) AS n, SUM(amount) AS s FROM people WHERE cohort = 'r' AND age >= 50"
R3="SELECT COUNT(*) AS n, SUM(amount) AS s FROM people WHERE cohort = 'r'"
TT="SELECT SUM(amount) AS s FROM people WHERE cohort = 't'"
TG="SELECT zip, SUM(amount) AS s FROM people WHERE cohort = 't' GROUP BY zip"
S1="SELECT SUM(amount) AS s FROM people WHERE cohort = 's'"
S2="SELECT SUM(amount) AS s FROM people WHERE cohort = 's' AND CASE WHEN zip = 'sv' THEN seen_at > TIMESTAMP '2024-02-01' ELSE true END"
P1="SELECT COUNT(DISTINCT email) AS n, SUM(amount) AS s FROM people WHERE zip = 'pz'"
PX="SELECT COUNT(*) AS n, SUM(p.amount) AS s FROM extra e LEFT JOIN people p ON e.email = p.email WHERE e.tag = 'pad'"
A1="SELECT SUM(amount) AS s FROM people WHERE cohort = 'a'"
A2="SELECT SUM(p.amount) AS s FROM people p LEFT JOIN extra e ON p.email = e.email WHERE p.cohort = 'a' AND e.tag IS NULL"
ATTACKS="ranges total-minus-groups same-set padding-own-dataset padding-accounts anti-join"
declare -A ATT=(
  [ranges]="$R1|$R2|$R3" [total-minus-groups]="$TT|$TG" [same-set]="$S1|$S2"
  [padding-own-dataset]="$PX" [padding-accounts]="$P1" [anti-join]="$A1|$A2")

# DEF: every one of them is refused by free-form-sql; the template runs.
for a in $ATTACKS; do
  IFS='|' read -ra qs <<< "${ATT[$a]}"
  i=0; okk=1
  for s in "${qs[@]}"; do
    i=$((i + 1)); q DEF analyst "def-$a-$i" "$s"
    refused_by "def-$a-$i" free-form-sql || { okk=0; cat "def-$a-$i.json"; }
  done
  check "6 default contract: $a refused by free-form-sql" test $okk -eq 1
done
q DEF analyst def-bypass "SELECT SUM(u) AS n FROM ($(but d1)) t"
check "6 default contract: the class 3 bypass is refused by free-form-sql" refused_by def-bypass free-form-sql
q DEF analyst def-tpl "SELECT cohort, COUNT(DISTINCT email) AS n FROM people GROUP BY cohort"
check "6 default contract: the template is answered (threshold-template)" \
  jf def-tpl '.privacy.protection == "threshold-template" and (.rows | length) > 0'

# T (opt-in): run them (mallory re-uploads her dataset as the crafted
# one-row one before the anti-join) and see what the differencing defence
# catches. The value each attack recovers when its rows are all released:
leak() {  # leak ATTACK: the recovered value, or "" when a row was withheld
  case $1 in
    ranges) jq -s -e 'map(.rows[0]) | if length == 3 and all(length == 2) then
              "count \(.[0][0] + .[1][0] - .[2][0]), amount \(.[0][1] + .[1][1] - .[2][1])" else empty end' \
              t-ranges-1.json t-ranges-2.json t-ranges-3.json ;;
    total-minus-groups) jq -s -e '(.[0].rows[0][0]) as $t | [.[1].rows[][1]] as $g
              | if $t == null then empty else $t - ($g | add // 0) end' t-total-minus-groups-1.json t-total-minus-groups-2.json ;;
    same-set) jq -s -e 'if (.[0].rows | length) == 1 and (.[1].rows | length) == 1 then .[0].rows[0][0] - .[1].rows[0][0] else empty end' \
              t-same-set-1.json t-same-set-2.json ;;
    padding-own-dataset) jq -e '.rows[0] // empty | .[1]' t-padding-own-dataset-1.json ;;
    padding-accounts) jq -e '.rows[0] // empty | .[1]' t-padding-accounts-1.json ;;
    anti-join) jq -s -e 'if (.[0].rows | length) == 1 and (.[1].rows | length) == 1 then .[0].rows[0][0] - .[1].rows[0][0] else empty end' \
              t-anti-join-1.json t-anti-join-2.json ;;
  esac 2>/dev/null
}
declare -A PLANTED=([ranges]="count 1, amount 613" [total-minus-groups]=587 [same-set]=300
  [padding-own-dataset]=641 [padding-accounts]=641 [anti-join]=659)
# Caught by the differencing defence or by the per-dataset threshold (a
# test failure if not); the other attacks are the documented price of the
# opt-in (LIMITS below): the test prints what they recover.
CAUGHT="padding-own-dataset anti-join"
LEAKS=""
for a in $ATTACKS; do
  [[ $a == anti-join ]] && { upload T t mallory extra extra_one.csv > /dev/null 2>&1 || bad "6 crafted upload"; }
  IFS='|' read -ra qs <<< "${ATT[$a]}"
  i=0
  for s in "${qs[@]}"; do i=$((i + 1)); q T mallory "t-$a-$i" "$s"; done
  got=$(leak "$a" | tr -d '"')
  if [[ " $CAUGHT " == *" $a "* ]]; then
    check "6 opt-in: $a is stopped (planted ${PLANTED[$a]} not recovered)" test "$got" != "${PLANTED[$a]}"
  elif [[ $got == "${PLANTED[$a]}" ]]; then
    LEAKS+=" $a"
    echo "#    opt-in free-form leaks (documented): $a recovers ${PLANTED[$a]}"
  else
    ok "6 opt-in: $a is stopped (recovered '$got', planted ${PLANTED[$a]})"
  fi
done
check "6 opt-in: every answer is marked threshold-free-form-unsafe" bash -c \
  "jq -e -s 'map(select(.privacy)) | length > 0 and all(.privacy.protection == \"threshold-free-form-unsafe\")' t-*.json"
echo "#    opt-in free-form: still leaking:${LEAKS:- none}"

# DP: mallory runs each attack once (answered, protection
# differential-privacy, charged); analyst2 repeats the simplest pair (Vr
# counted, then not) until the budget refuses: the differences are noisy.
for a in $ATTACKS; do
  IFS='|' read -ra qs <<< "${ATT[$a]}"
  i=0; okk=1
  for s in "${qs[@]}"; do
    i=$((i + 1)); q DP mallory "dp-$a-$i" "$s"
    code_is "dp-$a-$i" 0 && jf "dp-$a-$i" '.privacy.protection == "differential-privacy" and .privacy.epsilon > 0' \
      || grep -q "HTTP 422" "dp-$a-$i.err" || { okk=0; cat "dp-$a-$i.err"; }
  done
  check "6 DP: $a answered noisy and charged (or refused)" test $okk -eq 1
done
get DP mallory dp-budget-m /v1/budget
check "6 DP: the attacks were charged to mallory's budget" jf dp-budget-m '.epsilon_spent > 0'
PA="SELECT COUNT(*) AS n FROM people WHERE cohort = 'r'"
PB="SELECT COUNT(*) AS n FROM people WHERE cohort = 'r' AND age <> 50"
diffs=(); refused=0
for i in $(seq 1 10); do
  q DP analyst2 "pair-$i-a" "$PA"; q DP analyst2 "pair-$i-b" "$PB"
  if code_is "pair-$i-a" 0 && code_is "pair-$i-b" 0; then
    diffs+=("$(jq -s '.[0].rows[0][0] - .[1].rows[0][0]' "pair-$i-a.json" "pair-$i-b.json")")
  else
    refused=$i; break
  fi
done
echo "#    DP pair differences (true difference 1): ${diffs[*]}"
check "6 DP: the repeated pair does not give the exact difference every time" \
  bash -c "[[ ${#diffs[@]} -ge 3 ]] && printf '%s\n' ${diffs[*]} | grep -vqx 1"
check "6 DP: the budget runs out (a later query is refused)" bash -c \
  "[[ $refused -gt 0 ]] && grep -q 'HTTP 422 .*budget' pair-$refused-*.err"
get DP analyst2 dp-budget /v1/budget
check "6 DP: the budget says so" jf dp-budget '.epsilon_remaining < .epsilon_per_query'

# ================================================================ class 7
"$DCR" seal --contract dp.json --dataset people --in people.csv --out people-dp.dcr --to analyst.pub > /dev/null 2>&1
expect_exit 3 "state" "7 dcr sql with a DP contract and no --state refuses" \
  "$DCR" sql --contract dp.json --as analyst --data people=people-dp.dcr --key analyst.key "SELECT COUNT(*) FROM people"

# Class 2 once more, over everything this run received: no answer, error,
# audit log or fetched result mentions suppressed rows.
check "2 nothing received in the whole run mentions suppressed rows" ev '! grep -il suppress -- *.json *.err *.out'

stop_all
# LIMITS (docs/privacy.md): in the opt-in free-form threshold mode
# (unsafe_free_form_sql_open_to_differencing) the differencing defence
# compares released rows pairwise, so these still give one person's value
# away: three range queries whose sum and difference isolate one person;
# the total minus the released groups (the suppressed group by
# subtraction); the same set of people with one person's row left out by a
# CASE in WHERE (the unit sets are identical, so the pair is not a
# difference); padding the victim's group with accounts the analyst
# controls inside the victim's dataset. Padding through the analyst's own
# dataset is stopped by the per-dataset threshold, and the anti-join with a
# crafted one-row dataset by the differencing defence.
finish
