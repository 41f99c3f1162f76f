#!/usr/bin/env bash
# End-to-end: `dcr sql --contract --as` through the real binary: a released
# aggregate with its report, and attacks that would leak on a naive engine,
# each refused with its rule and SQL position or suppressed (docs/privacy.md).
source "$(dirname "$0")/lib.sh"

"$DCR" keygen --out "$T/pub" >/dev/null 2>&1
"$DCR" keygen --out "$T/adv" >/dev/null 2>&1
cat >"$T/c.json" <<J
{"dcr_contract": 1, "name": "e2e", "version": 1, "purpose": "attack suite", "development": true,
 "parties": [
  {"name": "publisher", "roles": ["provider", "receiver"], "public_key": "$(cat "$T/pub.pub")"},
  {"name": "advertiser", "roles": ["provider", "analyst", "receiver"], "public_key": "$(cat "$T/adv.pub")"}],
 "datasets": [
  {"name": "impressions", "owner": "publisher", "privacy_unit": "email", "min_units": 5, "columns": [
    {"name": "email", "type": "TEXT", "role": "id"},
    {"name": "campaign", "type": "TEXT", "role": "dimension"},
    {"name": "ip", "type": "TEXT", "role": "hidden"},
    {"name": "cost", "type": "DOUBLE PRECISION", "role": "metric", "bounds": [0, 10]}]},
  {"name": "purchases", "owner": "advertiser", "privacy_unit": "email", "columns": [
    {"name": "email", "type": "TEXT", "role": "id"},
    {"name": "product", "type": "TEXT", "role": "dimension"},
    {"name": "amount", "type": "BIGINT", "role": "metric", "bounds": [0, 1000]}]}],
 "rules": {
  "aggregation": {"min_units": 3, "unsafe_free_form_sql_open_to_differencing": true, "unsafe_min_max_reveal_one_value": true,
   "aggregates": {"impressions.cost": ["SUM"], "purchases.amount": ["SUM", "AVG"]},
   "joins": [{"left": "impressions.email", "right": "purchases.email"}]},
  "receivers": {"advertiser": ["advertiser", "publisher"]}},
 "evidence": [{"type": "sim"}]}
J
# campaign big: 20 people; small: 2; one: 1 (u22); two rows per person.
awk 'BEGIN { print "email,campaign,ip,cost"; for (r = 0; r < 46; r++) { u = int(r / 2);
  printf "u%d,%s,10.0.0.%d,%d\n", u, (u < 20 ? "big" : u < 22 ? "small" : "one"), u, r % 7 } }' >"$T/imp.csv"
awk 'BEGIN { print "email,product,amount"; for (u = 0; u < 30; u++) printf "u%d,%s,%d\n", u, (u < 25 ? "shoes" : "hats"), 10 * u }' >"$T/pur.csv"
"$DCR" seal --contract "$T/c.json" --dataset impressions --in "$T/imp.csv" --out "$T/imp.dcr" --to "$T/adv.pub" >/dev/null 2>&1
"$DCR" seal --contract "$T/c.json" --dataset purchases --in "$T/pur.csv" --out "$T/pur.dcr" --to "$T/adv.pub" >/dev/null 2>&1
echo '{"dataset":"purchases","columns":[{"name":"email","type":"TEXT"},{"name":"product","type":"TEXT"},{"name":"amount","type":"BIGINT"}]}' >"$T/plain.json"
"$DCR" seal --schema "$T/plain.json" --in "$T/pur.csv" --out "$T/plain.dcr" --to "$T/adv.pub" >/dev/null 2>&1
Q=("$DCR" sql --contract "$T/c.json" --as advertiser --data impressions="$T/imp.dcr" --data purchases="$T/pur.dcr" --key "$T/adv.key" --format csv)

"${Q[@]}" "SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign ORDER BY 1" >"$T/out" 2>"$T/err"
printf 'campaign,n\nbig,40\n' >"$T/want"
check "small groups are suppressed" cmp "$T/out" "$T/want"
check "the report says released, k, protection and receivers" \
  grep -q '1 rows released (groups under k = 5 units withheld); threshold-free-form-unsafe; results for advertiser, publisher' "$T/err"
check "the report does not say how many groups were suppressed" bash -c "! grep -q suppressed '$T/err'"

"${Q[@]}" "SELECT i.campaign, SUM(p.amount) AS spent FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY 1" >"$T/out" 2>"$T/err"
printf 'campaign,spent\nbig,3800\n' >"$T/want"
check "an allowed join" cmp "$T/out" "$T/want"

# Attacks: each would leak on a naive engine.
expect_exit 3 'SQL:1:8: refused by rule id-column' "selecting an id column" \
  "${Q[@]}" "SELECT email FROM purchases"
expect_exit 3 'SQL:1:38: refused by rule id-literal' "comparing an id with a literal" \
  "${Q[@]}" "SELECT COUNT(*) FROM purchases WHERE email = 'u7'"
expect_exit 3 'SQL:1:41: refused by rule id-column' "grouping on an id" \
  "${Q[@]}" "SELECT COUNT(*) FROM purchases GROUP BY email"
expect_exit 3 'SQL:1:90: refused by rule id-column' "laundering an id through a WITH query" \
  "${Q[@]}" "WITH t AS (SELECT email AS x, product FROM purchases) SELECT x, COUNT(*) FROM t GROUP BY x"
expect_exit 3 'SQL:1:40: refused by rule hidden-column' "a hidden column" \
  "${Q[@]}" "SELECT COUNT(*) FROM impressions WHERE ip = '10.0.0.22'"
expect_exit 3 'SQL:1:38: refused by rule metric-column' "a metric as a filter" \
  "${Q[@]}" "SELECT COUNT(*) FROM purchases WHERE amount = 220"
expect_exit 3 'refused by rule aggregate-not-allowed' "a disallowed aggregate" \
  "${Q[@]}" "SELECT MAX(amount) FROM purchases"
expect_exit 3 'refused by rule join-not-allowed' "a disallowed join" \
  "${Q[@]}" "SELECT COUNT(*) FROM impressions i JOIN purchases p ON i.campaign = p.product"
expect_exit 3 'refused by rule not-aggregated' "row-level output" \
  "${Q[@]}" "SELECT campaign FROM impressions"
expect_exit 3 'refused by rule analyst-role: party "publisher" does not have the analyst role' \
  "a party without the analyst role" \
  "$DCR" sql --contract "$T/c.json" --as publisher --data purchases="$T/pur.dcr" --key "$T/adv.key" "SELECT COUNT(*) FROM purchases"

"${Q[@]}" "SELECT campaign, SUM(cost) FROM impressions WHERE campaign = 'one' GROUP BY campaign" >"$T/out" 2>"$T/err"
check "a group of one is suppressed" grep -q '0 rows released (groups under k' "$T/err"
"${Q[@]}" "SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign HAVING COUNT(*) < 3" >"$T/out" 2>"$T/err"
check "HAVING cannot pick out small groups" grep -q '0 rows released (groups under k' "$T/err"
"${Q[@]}" "SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign ORDER BY n LIMIT 1" >"$T/out" 2>"$T/err"
printf 'campaign,n\nbig,40\n' >"$T/want"
check "ORDER BY + LIMIT cannot reach suppressed groups" cmp "$T/out" "$T/want"
"${Q[@]}" "SELECT COUNT(*) AS groups FROM (SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign) s" >"$T/out" 2>"$T/err"
printf 'groups\n1\n' >"$T/want"
check "nested aggregates see only released groups" cmp "$T/out" "$T/want"
"${Q[@]}" "SELECT product, COUNT(*) FROM purchases GROUP BY product UNION ALL SELECT campaign, COUNT(*) FROM impressions WHERE campaign = 'one' GROUP BY campaign" >"$T/out" 2>"$T/err"
printf 'product,count\nhats,5\nshoes,25\n' >"$T/want"
check "each UNION ALL branch is thresholded" cmp <(head -1 "$T/out"; tail -n +2 "$T/out" | sort) "$T/want"

# Data and contract must match.
expect_exit 3 'not sealed for this contract' "a file sealed without the contract" \
  "$DCR" sql --contract "$T/c.json" --as advertiser --data purchases="$T/plain.dcr" --key "$T/adv.key" "SELECT COUNT(*) FROM purchases"
expect_exit 3 'the contract has no dataset "sales"' "a table that is not a contract dataset" \
  "$DCR" sql --contract "$T/c.json" --as advertiser --data sales="$T/pur.dcr" --key "$T/adv.key" "SELECT COUNT(*) FROM sales"
expect_exit 3 'refused by rule dataset-unavailable: dataset "[a-z]+" is not available: it was not given to this run: add --data' "a dataset that was not given (the refusal says how to give it)" \
  "$DCR" sql --contract "$T/c.json" --as advertiser --data purchases="$T/pur.dcr" --key "$T/adv.key" "SELECT COUNT(*) FROM impressions"
expect_exit 2 '--contract and --as go together' "--contract without --as" \
  "$DCR" sql --contract "$T/c.json" --data purchases="$T/pur.dcr" --key "$T/adv.key" "SELECT 1"
"${Q[@]}" --explain "SELECT product, COUNT(*) FROM purchases GROUP BY product" >"$T/plan" 2>&1
check "--explain shows the threshold counts" grep -q 'count(DISTINCT email)' "$T/plan"

finish
