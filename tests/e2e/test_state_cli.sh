#!/usr/bin/env bash
# End-to-end: `dcr sql --contract --as --state DIR` through the real binary:
# accepted and refused queries land in the state's signed audit log, several
# concurrent runs on one state serialise, and a tampered log, a loose
# directory mode and --state without a contract are refused.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { bad "sqlite3 is needed (scripts/deps.sh installs it)"; finish; exit 1; }

"$DCR" keygen --out "$T/adv" >/dev/null 2>&1
cat >"$T/c.json" <<J
{"dcr_contract": 1, "name": "e2e-state", "version": 1, "purpose": "state", "development": true,
 "parties": [
  {"name": "advertiser", "roles": ["provider", "analyst", "receiver"], "public_key": "$(cat "$T/adv.pub")"}],
 "datasets": [
  {"name": "purchases", "owner": "advertiser", "privacy_unit": "email", "min_units": 3, "columns": [
    {"name": "email", "type": "TEXT", "role": "id"},
    {"name": "product", "type": "TEXT", "role": "dimension"},
    {"name": "amount", "type": "BIGINT", "role": "metric", "bounds": [0, 1000]}]}],
 "rules": {"aggregation": {"min_units": 3, "unsafe_free_form_sql_open_to_differencing": true, "aggregates": {"purchases.amount": ["SUM"]}},
  "receivers": {"advertiser": ["advertiser"]}},
 "evidence": [{"type": "sim"}]}
J
awk 'BEGIN { print "email,product,amount"; for (u = 0; u < 30; u++) printf "u%d,%s,%d\n", u, (u < 25 ? "shoes" : "hats"), 10 * u }' >"$T/pur.csv"
"$DCR" seal --contract "$T/c.json" --dataset purchases --in "$T/pur.csv" --out "$T/pur.dcr" --to "$T/adv.pub" >/dev/null 2>&1
S=$T/state
Q=("$DCR" sql --contract "$T/c.json" --as advertiser --data purchases="$T/pur.dcr" --key "$T/adv.key" --format csv --state "$S")
db() { sqlite3 "$S/state.db" "$@"; }

check "an accepted query with --state" "${Q[@]}" "SELECT product, COUNT(*) AS n FROM purchases GROUP BY 1 ORDER BY 1"
[[ $(db "SELECT count(*) FROM audit") == 2 ]] && ok "instance_start and query records" || bad "instance_start and query records ($(db 'SELECT count(*) FROM audit'))"
db "SELECT record FROM audit WHERE seq = 1" | grep -q '"decision":"accepted".*"rows_released":' &&
  ok "the query record says accepted" || bad "the query record says accepted ($(db 'SELECT record FROM audit WHERE seq = 1'))"
[[ $(stat -c %a "$S") == 700 && $(stat -c %a "$S/state.db") == 600 ]] && ok "state is private (700/600)" || bad "state is private"

expect_exit 3 'refused by rule id-column' "a refused query with --state" \
  "${Q[@]}" "SELECT email FROM purchases"
db "SELECT record FROM audit ORDER BY seq DESC LIMIT 1" | grep '"decision":"refused"' | grep -q '"party":"advertiser","reason":"id-column: ' &&
  ok "the refusal is audited with its rule" || bad "the refusal is audited ($(db 'SELECT record FROM audit ORDER BY seq DESC LIMIT 1'))"

# six runs at once on one state
pids=()
for i in 1 2 3 4 5 6; do
  "${Q[@]}" "SELECT COUNT(*) FROM purchases" >"$T/par$i.out" 2>"$T/par$i.err" & pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
[[ $fails == 0 ]] && ok "six concurrent runs succeed" || bad "six concurrent runs succeed ($fails failed: $(cat "$T"/par*.err | head -5))"
[[ $(db "SELECT count(*) FROM audit") == 16 && $(db "SELECT count(DISTINCT seq) FROM audit") == 16 && $(db "SELECT max(seq) FROM audit") == 15 ]] &&
  ok "every run appended its two records, no gaps" || bad "every run appended ($(db 'SELECT count(*), max(seq) FROM audit'))"
check "the state reopens (head, links and ledger check)" "${Q[@]}" "SELECT COUNT(*) FROM purchases"

# the operator edits the newest record
db "UPDATE audit SET record = replace(record, 'accepted', 'refused') WHERE seq = (SELECT max(seq) FROM audit)"
expect_exit 3 'fails its hash or signature \(tampered\)' "a tampered audit record is refused" \
  "${Q[@]}" "SELECT COUNT(*) FROM purchases"

S2=$T/loose
mkdir -m 777 "$S2"
expect_exit 3 'writable by group or others' "a world-writable state directory is refused" \
  "$DCR" sql --contract "$T/c.json" --as advertiser --data purchases="$T/pur.dcr" --key "$T/adv.key" --state "$S2" "SELECT COUNT(*) FROM purchases"
expect_exit 2 '--state needs --contract' "--state without a contract" \
  "$DCR" sql --data purchases="$T/pur.dcr" --key "$T/adv.key" --state "$S" "SELECT COUNT(*) FROM purchases"
# A DP contract without --state would answer without charging any budget.
sed 's/"receivers": {"advertiser": \["advertiser"\]}}/"receivers": {"advertiser": ["advertiser"]},\n  "differential_privacy": {"enabled": true, "epsilon_per_query": 1, "delta": 1e-6, "budget_per_analyst": 2, "max_contributions_per_unit": 1}}/' "$T/c.json" >"$T/dp.json"
grep -q differential_privacy "$T/dp.json" || bad "the DP contract was not made"
"$DCR" seal --contract "$T/dp.json" --dataset purchases --in "$T/pur.csv" --out "$T/pur-dp.dcr" --to "$T/adv.pub" >/dev/null 2>&1
expect_exit 3 'differential privacy.*give --state DIR' "DP without --state is refused, saying why" \
  "$DCR" sql --contract "$T/dp.json" --as advertiser --data purchases="$T/pur-dp.dcr" --key "$T/adv.key" "SELECT COUNT(*) FROM purchases"
check "DP with --state answers and charges" \
  "$DCR" sql --contract "$T/dp.json" --as advertiser --data purchases="$T/pur-dp.dcr" --key "$T/adv.key" --state "$T/state-dp" "SELECT COUNT(*) FROM purchases"
"$DCR" sql --contract "$T/dp.json" --as advertiser --data purchases="$T/pur-dp.dcr" --key "$T/adv.key" --state "$T/state-dp" --format json "SELECT COUNT(*) AS n FROM purchases" >"$T/dp.json.out" 2>/dev/null
check "dcr sql --format json under a contract prints the API's answer shape (columns, rows, privacy)" python3 - "$T/dp.json.out" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert [c["name"] for c in o["columns"]] == ["n"] and o["columns"][0]["type"] == "BIGINT", o
assert len(o["rows"]) == 1 and isinstance(o["rows"][0][0], int), o
assert o["privacy"]["protection"] == "differential-privacy" and o["privacy"]["epsilon"] > 0, o
PY
check "a DP query's charge record says charged (it is written before any data is read)" \
  bash -c "sqlite3 '$T/state-dp/state.db' 'SELECT record FROM audit' | grep -q '\"decision\":\"charged\".*\"rows_released\":0'"
check "... and a query_result record says what it released" \
  bash -c "sqlite3 '$T/state-dp/state.db' 'SELECT record FROM audit' | grep '\"type\":\"query_result\"' | grep -q '\"decision\":\"accepted\".*\"rows_released\":1'"

finish
