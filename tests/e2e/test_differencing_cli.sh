#!/usr/bin/env bash
# End-to-end: the differencing defence through `dcr sql --contract --as
# --state DIR`: a count with and without one person across two runs (the
# second is suppressed, also as an outer aggregate over groups), a tracker, the key file, and a run without --state
# (no history: the naive answer). docs/privacy.md, "Differencing defence".
source "$(dirname "$0")/lib.sh"

"$DCR" keygen --out "$T/adv" >/dev/null 2>&1
cat >"$T/c.json" <<J
{"dcr_contract": 1, "name": "e2e-diff", "version": 1, "purpose": "differencing", "development": true,
 "parties": [
  {"name": "advertiser", "roles": ["provider", "analyst", "receiver"], "public_key": "$(cat "$T/adv.pub")"}],
 "datasets": [
  {"name": "purchases", "owner": "advertiser", "privacy_unit": "email", "min_units": 5, "columns": [
    {"name": "email", "type": "TEXT", "role": "id"},
    {"name": "product", "type": "TEXT", "role": "dimension"},
    {"name": "day", "type": "DATE", "role": "dimension"}]}],
 "rules": {"aggregation": {"min_units": 5, "unsafe_free_form_sql_open_to_differencing": true}, "receivers": {"advertiser": ["advertiser"]}},
 "evidence": [{"type": "sim"}]}
J
# u0..u59; product a for u0..u29; u7 alone bought on 2024-01-08
awk 'BEGIN { print "email,product,day"; for (u = 0; u < 60; u++) printf "u%d,%s,2024-01-%02d\n", u, (u < 30 ? "a" : "b"), (u % 28) + 1 }' >"$T/pur.csv"
"$DCR" seal --contract "$T/c.json" --dataset purchases --in "$T/pur.csv" --out "$T/pur.dcr" --to "$T/adv.pub" >/dev/null 2>&1
S=$T/state
mkdir -m 700 "$S"
Q=("$DCR" sql --contract "$T/c.json" --as advertiser --data purchases="$T/pur.dcr" --key "$T/adv.key" --format csv)

out=$("${Q[@]}" --state "$S" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'a'" 2>"$T/err1")
[[ $out == $'n\n30' ]] && ok "the first count is released" || bad "the first count is released ($out)"
[[ -f $S/differencing.key && $(stat -c %a "$S/differencing.key") == 600 && $(stat -c %s "$S/differencing.key") == 32 ]] &&
  ok "the key file is created, 32 bytes, 0600" || bad "the key file"
key1=$(od -An -tx1 "$S/differencing.key")

# u7 and u35 bought on 2024-01-08; only u7 is in product a
out=$("${Q[@]}" --state "$S" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'a' AND day <> '2024-01-08'" 2>"$T/err2")
[[ $out == "n" ]] && ok "the count without one person is suppressed" || bad "the count without one person is suppressed ($out)"
grep -q "0 rows released (groups under k = 5 units withheld)" "$T/err2" && ! grep -q "suppressed\|differencing" "$T/err2" &&
  ok "stderr withholds the row without saying why or how many" || bad "stderr withholds the row ($(cat "$T/err2"))"
[[ $(od -An -tx1 "$S/differencing.key") == "$key1" ]] && ok "the key is kept across runs" || bad "the key is kept"

out=$("${Q[@]}" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'a' AND day <> '2024-01-08'" 2>/dev/null)
[[ $out == $'n\n29' ]] && ok "without --state there is no history (naive answer)" || bad "without --state ($out)"

# tracker: product b padded with the two people of 2024-01-01 in a (u0, u28)
out=$("${Q[@]}" --state "$S" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'b' OR (product = 'a' AND day = '2024-01-01')" 2>/dev/null)
[[ $out == $'n\n32' ]] && ok "the padded count is released" || bad "the padded count ($out)"
out=$("${Q[@]}" --state "$S" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'b'" 2>/dev/null)
[[ $out == "n" ]] && ok "the padding alone is suppressed (tracker)" || bad "the padding alone ($out)"

# The pair again, the second half as an outer aggregate over released
# groups (each group new, their union one person short of everyone).
out=$("${Q[@]}" --state "$S" "SELECT COUNT(*) AS n FROM purchases" 2>/dev/null)
[[ $out == $'n\n60' ]] && ok "everyone is released" || bad "everyone ($out)"
out=$("${Q[@]}" --state "$S" "SELECT SUM(c) AS n FROM (SELECT product, COUNT(*) AS c FROM purchases WHERE day <> '2024-01-08' OR product = 'b' GROUP BY product) t" 2>/dev/null)
[[ $out == "n" ]] && ok "everyone but one, through a nested aggregate, is suppressed" ||
  bad "everyone but one, through a nested aggregate ($out)"

# Both halves of a pair at once, on fresh states: runs on one state take
# turns, so never are both released.
both=0
for r in 1 2 3 4 5; do
  S2=$T/state-par$r; mkdir -m 700 "$S2"
  "${Q[@]}" --state "$S2" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'a'" >"$T/p1" 2>/dev/null &
  "${Q[@]}" --state "$S2" "SELECT COUNT(*) AS n FROM purchases WHERE product = 'a' AND day <> '2024-01-08'" >"$T/p2" 2>/dev/null &
  wait
  [[ $(wc -l <"$T/p1") -eq 2 && $(wc -l <"$T/p2") -eq 2 ]] && both=$((both + 1))
done
[[ $both -eq 0 ]] && ok "a pair sent at once: never both released (5 rounds)" ||
  bad "a pair sent at once: both released in $both of 5 rounds"

printf 'short' >"$S/differencing.key"
expect_exit 3 'not a 32-byte key file' "a damaged key file fails the query" \
  "${Q[@]}" --state "$S" "SELECT COUNT(*) AS n FROM purchases"
finish
