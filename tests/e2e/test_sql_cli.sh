#!/usr/bin/env bash
# End-to-end: `dcr sql` over sealed files through the real binary: formats,
# EXPLAIN, joins of two datasets, refusals with their SQL position, runtime
# errors, wrong keys and tampered files, and exit codes.
source "$(dirname "$0")/lib.sh"

"$DCR" keygen --out "$T/k" >/dev/null 2>&1
"$DCR" keygen --out "$T/other" >/dev/null 2>&1
cat >"$T/s.json" <<'J'
{"dataset":"sales","columns":[{"name":"id","type":"BIGINT"},{"name":"region","type":"TEXT"},
 {"name":"amount","type":"DOUBLE PRECISION"},{"name":"paid","type":"BOOLEAN"},{"name":"day","type":"DATE"}]}
J
printf 'id,region,amount,paid,day\n1,north,10.5,true,2024-01-01\n2,south,20,false,2024-01-02\n3,north,,true,2024-01-02\n4,,5,true,2024-01-03\n5,south,1.25,,2024-01-05\n' >"$T/s.csv"
cat >"$T/r.json" <<'J'
{"dataset":"regions","columns":[{"name":"name","type":"TEXT"},{"name":"manager","type":"TEXT"}]}
J
printf 'name,manager\nnorth,ann\nsouth,bo\n' >"$T/r.csv"
"$DCR" seal --schema "$T/s.json" --in "$T/s.csv" --out "$T/s.dcr" --to "$T/k.pub" >/dev/null 2>&1
"$DCR" seal --schema "$T/r.json" --in "$T/r.csv" --out "$T/r.dcr" --to "$T/k.pub" >/dev/null 2>&1
Q=("$DCR" sql --data sales="$T/s.dcr" --data regions="$T/r.dcr" --key "$T/k.key")

"${Q[@]}" --format csv "SELECT region, count(*) AS n, sum(amount) AS total FROM sales GROUP BY region ORDER BY region" >"$T/out.csv" 2>"$T/err"
printf 'region,n,total\nnorth,2,10.5\nsouth,2,21.25\n,1,5\n' >"$T/want.csv"
check "group by, csv output" cmp "$T/out.csv" "$T/want.csv"

"${Q[@]}" "SELECT id, amount FROM sales WHERE paid AND day >= '2024-01-02' ORDER BY id" >"$T/out.txt"
printf ' id | amount\n----+--------\n  3 |       \n  4 |      5\n(2 rows)\n' >"$T/want.txt"
check "table output, date literal, NULL" cmp "$T/out.txt" "$T/want.txt"

"${Q[@]}" --format json "SELECT r.manager, count(DISTINCT s.id) AS ids FROM sales s JOIN regions r ON s.region = r.name GROUP BY 1 ORDER BY 1" >"$T/out.json"
printf '{"columns": [{"name": "manager", "type": "TEXT"}, {"name": "ids", "type": "BIGINT"}],\n "rows": [\n  ["ann", 2],\n  ["bo", 2]\n ]}\n' >"$T/want.json"
check "join of two datasets, json output" cmp "$T/out.json" "$T/want.json"

"${Q[@]}" --format json "SELECT id, day - DATE '2024-01-01' AS age, day + INTERVAL '1 month 2 hours' AS due, (day + 1) - TIMESTAMP '2024-01-01 12:00' AS since FROM sales WHERE id <= 2 ORDER BY id" >"$T/iv.json"
printf '{"columns": [{"name": "id", "type": "BIGINT"}, {"name": "age", "type": "BIGINT"}, {"name": "due", "type": "TIMESTAMP"}, {"name": "since", "type": "INTERVAL"}],\n "rows": [\n  [1, 0, "2024-02-01 02:00:00", "12:00:00"],\n  [2, 1, "2024-02-02 02:00:00", "1 day 12:00:00"]\n ]}\n' >"$T/iv.want"
check "date and interval arithmetic, json output" cmp "$T/iv.json" "$T/iv.want"
expect_exit 3 'SQL:1:12: date out of range' "date arithmetic overflow is an error" \
  "${Q[@]}" "SELECT day + 3000000 FROM sales"
printf '{"dataset":"d","columns":[{"name":"span","type":"INTERVAL"}]}' >"$T/iv-schema.json"
printf 'span\n1 day\n' >"$T/iv.csv"
expect_exit 3 'must be one of BIGINT, DOUBLE PRECISION, TEXT, BOOLEAN, DATE, TIMESTAMP' "a dataset column cannot be INTERVAL" \
  "$DCR" seal --schema "$T/iv-schema.json" --in "$T/iv.csv" --out "$T/iv.dcr" --to "$T/k.pub"

"${Q[@]}" --explain "SELECT region FROM sales WHERE amount > 1" >"$T/plan.txt"
check "explain shows only the scanned columns" grep -q 'Scan sales \[region, amount\]' "$T/plan.txt"
"${Q[@]}" "EXPLAIN SELECT count(*) FROM sales" >"$T/plan2.txt"
check "EXPLAIN statement" grep -q 'Aggregate by \[\] compute \[count(\*)\]' "$T/plan2.txt"

expect_exit 3 'SQL:2:26: SIMILAR TO is not supported' "refusal names construct and line:column" \
  "${Q[@]}" "SELECT id
 FROM sales WHERE region SIMILAR TO 'n%'"
expect_exit 3 'SQL:1:11: division by zero' "runtime error points into the SQL" \
  "${Q[@]}" "SELECT id / (id - 3) FROM sales"
expect_exit 3 'column "nope" does not exist' "unknown column" "${Q[@]}" "SELECT nope FROM sales"
expect_exit 3 'relation "x" does not exist' "unknown table" "${Q[@]}" "SELECT 1 FROM x"
expect_exit 3 'syntax error' "syntax error" "${Q[@]}" "SELEC 1"
expect_exit 2 'exactly one SQL statement' "missing SQL is a usage error" "${Q[@]}"
expect_exit 2 'NAME=FILE' "bad --data is a usage error" "$DCR" sql --data x --key "$T/k.key" "SELECT 1"
expect_exit 2 'format must be' "bad --format" "${Q[@]}" --format xml "SELECT 1"
expect_exit 4 'not sealed to the given key' "a key that is not a recipient" \
  "$DCR" sql --data sales="$T/s.dcr" --key "$T/other.key" "SELECT count(*) FROM sales"

# One bit flipped in the last column's segment (day; docs/format.md,
# "Segmented chunks"): a query that reads day is refused; one that does not
# authenticates only what it reads and answers from the authentic rows;
# unseal, which reads everything, refuses the file.
cp "$T/s.dcr" "$T/bad.dcr"
size=$(stat -c %s "$T/bad.dcr")
flip_bit "$T/bad.dcr" $((size - 20))
expect_exit 4 'chunk 0 failed authentication' "a tampered chunk is refused" \
  "$DCR" sql --data sales="$T/bad.dcr" --key "$T/k.key" "SELECT count(*), max(day) FROM sales"
check "a query not reading the tampered column answers from authentic bytes" \
  bash -c "[ \"\$('$DCR' sql --data sales='$T/bad.dcr' --key '$T/k.key' --format csv 'SELECT count(*) AS n, sum(amount) AS s FROM sales')\" = \"\$(printf 'n,s\\n5,36.75')\" ]"
expect_exit 4 'failed authentication' "unseal refuses the tampered file" \
  "$DCR" unseal --key "$T/k.key" "$T/bad.dcr"

# a bigger file over several chunks: results agree with a direct computation
awk 'BEGIN { print "id,region,amount,paid,day"; for (i = 1; i <= 50000; i++) printf "%d,r%d,%d,%s,2024-01-%02d\n", i, i % 7, i % 100, (i % 2 ? "true" : "false"), i % 28 + 1 }' >"$T/big.csv"
"$DCR" seal --schema "$T/s.json" --in "$T/big.csv" --out "$T/big.dcr" --to "$T/k.pub" --chunk-rows 4096 >/dev/null 2>&1
"$DCR" sql --data sales="$T/big.dcr" --key "$T/k.key" --format csv \
  "SELECT region, count(*), sum(amount), count(DISTINCT day) FROM sales WHERE paid GROUP BY region ORDER BY region" >"$T/big.out"
awk -F, 'NR > 1 && $4 == "true" { n[$2]++; s[$2] += $3; if (!seen[$2 "," $5]++) d[$2]++ }
  END { print "region,count,sum,count"; for (r in n) print r "," n[r] "," s[r] "," d[r] }' "$T/big.csv" |
  (read -r h; echo "$h"; sort) >"$T/big.want"
check "multi-chunk aggregate matches awk" cmp "$T/big.out" "$T/big.want"
expect_exit 3 'memory limit of 1 MiB' "memory limit" \
  "$DCR" sql --data sales="$T/big.dcr" --key "$T/k.key" --memory-limit 1 "SELECT * FROM sales ORDER BY id"

# Table output pads by display width: the bars line up after CJK text.
"${Q[@]}" "SELECT c, n FROM (SELECT '東京' AS c, 1 AS n FROM sales LIMIT 1) a UNION ALL SELECT 'ab', 2 FROM (SELECT 1 AS z FROM sales LIMIT 1) b" >"$T/wide.out" 2>&1
check "table columns line up after wide characters" bash -c "grep -qx ' 東京 | 1' '$T/wide.out' && grep -qx ' ab   | 2' '$T/wide.out'"

finish
