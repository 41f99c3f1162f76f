#!/usr/bin/env bash
# End-to-end: data in and out (issue 23) through the real binary: other
# delimiters, header-less files, gzip and zstd input told by content (also
# under a .csv name), truncated and foreign compressed files, seal
# --validate, the refusal of 0-row seals, and dcr sql --out / --file.
source "$(dirname "$0")/lib.sh"
cd "$T"

"$DCR" keygen --out k >/dev/null 2>&1
cat > s.json <<'J'
{"dataset": "buyers",
 "columns": [{"name": "email", "type": "TEXT", "normalize": ["trim", "lower"], "not_null": true},
             {"name": "amount", "type": "DOUBLE PRECISION"},
             {"name": "day", "type": "DATE"}]}
J
printf 'email,amount,day\nAnn@x.com,10.5,2024-01-01\n"bo, jr@x.com",2,2024-01-02\ncy@x.com,,2024-01-03\n' > p.csv
"$DCR" seal --schema s.json --in p.csv --out p.dcr --to k.pub 2>/dev/null
"$DCR" unseal --key k.key p.dcr > want.csv

# seal_same NAME FILE [OPTIONS...]: FILE seals to the same rows as p.csv.
seal_same() {
  local name=$1 file=$2
  shift 2
  check "$name" bash -c "'$DCR' seal --schema s.json --in '$file' --out x.dcr --to k.pub --force $* \
    && '$DCR' unseal --key k.key x.dcr | cmp - want.csv"
}

sed 's/,/;/g; s/bo; jr/bo, jr/' p.csv > semi.csv
seal_same "semicolon-separated (--delimiter ';')" semi.csv --delimiter "';'"
tr ',' '\t' < p.csv | sed 's/bo\t jr/bo, jr/' > t.tsv
seal_same "tab-separated (--delimiter tab)" t.tsv --delimiter tab
seal_same "tab-separated (--delimiter '\\t')" t.tsv --delimiter "'\\t'"
sed 's/,/|/g; s/bo| jr/bo, jr/' p.csv > pipe.csv
seal_same "pipe-separated" pipe.csv --delimiter "'|'"
tail -n +2 p.csv > nohead.csv
seal_same "header-less (--no-header: the schema's column order)" nohead.csv --no-header
gzip -c p.csv > p.csv.gz
seal_same "gzip input" p.csv.gz
cp p.csv.gz disguised.csv
seal_same "gzip input named .csv (told by content)" disguised.csv
zstd -q -c p.csv > p.csv.zst
seal_same "zstd input" p.csv.zst
{ gzip -c p.csv; printf 'dd@x.com,1,2024-01-04\n' | gzip -c; } > two.gz
check "concatenated gzip members are one file" bash -c \
  "'$DCR' seal --schema s.json --in two.gz --out two.dcr --to k.pub 2>&1 | grep -q 'sealed 4 rows.*gzip input'"
gzip -c t.tsv > t.tsv.gz
seal_same "gzip and a delimiter together" t.tsv.gz --delimiter tab
check "gzip from standard input" bash -c \
  "'$DCR' seal --schema s.json --in - --out x.dcr --to k.pub --force < p.csv.gz && '$DCR' unseal --key k.key x.dcr | cmp - want.csv"

# JSON Lines: keys are the column names, in any order; a missing key is NULL.
printf '%s\n' '{"email": "Ann@x.com", "amount": 10.5, "day": "2024-01-01"}' \
  '{"day": "2024-01-02", "email": "bo, jr@x.com", "amount": 2}' '' '{"email": "cy@x.com", "day": "2024-01-03"}' > p.jsonl
seal_same "JSON Lines (--format jsonl)" p.jsonl --format jsonl
gzip -c p.jsonl > p.jsonl.gz
seal_same "gzip JSON Lines" p.jsonl.gz --format jsonl
printf '%s\n' '{"email": "a@x.com", "amount": "lots"}' '{"email": "b@x.com", "nosuch": 1}' 'oops' > bad.jsonl
"$DCR" seal --schema s.json --in bad.jsonl --format jsonl --validate > vj.out 2> /dev/null
check "validate lists bad JSON lines with line and reason" bash -c "grep -q 'bad.jsonl: line 1, column \"amount\"' vj.out \
  && grep -q 'bad.jsonl: line 2: key \"nosuch\" is not a column' vj.out && grep -q 'bad.jsonl: line 3, character [0-9]*: not valid JSON' vj.out"
expect_exit 2 'are for CSV, not --format jsonl' "--delimiter with jsonl is a usage error" \
  "$DCR" seal --schema s.json --in p.jsonl --format jsonl --delimiter tab --validate

# Broken and foreign files: a clear error, nothing written.
head -c $(($(stat -c %s p.csv.gz) - 6)) p.csv.gz > cut.csv.gz
expect_exit 3 'cut.csv.gz: the gzip data ends early, after [0-9]+ compressed bytes: the file is truncated' \
  "a truncated gzip file is refused, saying so" \
  "$DCR" seal --schema s.json --in cut.csv.gz --out cut.dcr --to k.pub
check "... and nothing is written" test ! -e cut.dcr
head -c 20 p.csv.zst > cut.zst
expect_exit 3 'the zstd data ends early' "a truncated zstd file is refused" \
  "$DCR" seal --schema s.json --in cut.zst --out cut.dcr --to k.pub
if command -v xz > /dev/null; then
  xz -c p.csv > p.csv.xz
  expect_exit 3 'is xz-compressed, not CSV data: decompress it' "xz input is named, not parsed as CSV" \
    "$DCR" seal --schema s.json --in p.csv.xz --out x2.dcr --to k.pub
fi
expect_exit 2 'one ASCII character' "a multi-character delimiter is a usage error" \
  "$DCR" seal --schema s.json --in semi.csv --out x2.dcr --to k.pub --delimiter ';;'
expect_exit 2 "cannot be '\"'" "a quote delimiter is a usage error" \
  "$DCR" seal --schema s.json --in semi.csv --out x2.dcr --to k.pub --delimiter '"'
expect_exit 3 'line 1, field 1: column "email;amount;day" is not in the schema' \
  "a semicolon file without --delimiter names its header as one unknown column" \
  "$DCR" seal --schema s.json --in semi.csv --out x2.dcr --to k.pub

# --validate: every bad row with line, column and reason; exit status; no output.
{ echo 'email,amount,day'
  echo 'ok@x.com,1,2024-01-01'
  echo 'a@x.com,lots,2024-01-01'
  echo ',2,2024-01-01'
  echo 'b@x.com,3,2024-02-30'
  echo 'c@x.com,4'
  for i in $(seq 1 200); do echo "u$i@x.com,x$i,2024-01-01"; done
  echo 'last@x.com,5,2024-01-05'; } > bad.csv
"$DCR" seal --schema s.json --in bad.csv --validate > v.out 2> v.err
echo $? > v.rc
check "validate exits 3 when a row is bad" grep -qx 3 v.rc
check "validate lists line, column and reason" bash -c "grep -q 'bad.csv: line 3, column \"amount\" (field 2): invalid DOUBLE PRECISION value \"lots\"' v.out \
  && grep -q 'line 4, column \"email\" (field 1): .*NOT NULL' v.out && grep -q 'line 5, column \"day\".*2024-02-30' v.out \
  && grep -q 'line 6: expected 3 fields, found 2' v.out"
check "validate stops listing at 100 and counts the rest" bash -c \
  "[ \$(grep -c 'bad.csv: line' v.out) = 100 ] && grep -q '^\.\.\. and 104 more bad rows' v.out"
check "validate sums up on stderr and writes nothing" bash -c \
  "grep -q '2 rows good, 204 bad; nothing written' v.err && test ! -e bad.dcr"
check "--max-errors N lists N" bash -c \
  "'$DCR' seal --schema s.json --in bad.csv --validate --max-errors 2 | grep -c 'bad.csv: line' | grep -qx 2"
check "validate exits 0 on a good (gzip) file" bash -c \
  "'$DCR' seal --schema s.json --in p.csv.gz --validate 2>&1 | grep -q 'p.csv.gz (gzip): 3 rows good, 0 bad'"
expect_exit 2 'goes with --validate' "--max-errors without --validate is a usage error" \
  "$DCR" seal --schema s.json --in p.csv --out x2.dcr --to k.pub --max-errors 3

# 0 rows: refused unless --allow-empty.
head -1 p.csv > empty.csv
expect_exit 3 'empty.csv: no data rows after the header row: refusing to seal an empty dataset .*--allow-empty' \
  "a header-only file is refused" "$DCR" seal --schema s.json --in empty.csv --out e.dcr --to k.pub
check "... and nothing is written" test ! -e e.dcr
check "--allow-empty seals it" "$DCR" seal --schema s.json --in empty.csv --out e.dcr --to k.pub --allow-empty
printf 'email,amount,day\na@x.com,x,2024-01-01\n' > allbad.csv
expect_exit 3 'all 1 data rows are bad' "skipping every row is no seal" \
  "$DCR" seal --schema s.json --in allbad.csv --out e2.dcr --to k.pub --max-bad-rows 5
expect_exit 3 'no data rows' "validate of an empty file fails too" \
  "$DCR" seal --schema s.json --in empty.csv --validate

# Results as files: dcr sql --out, format from the name or --format; atomic.
Q=("$DCR" sql --data buyers=p.dcr --key k.key)
SQL="SELECT email, amount FROM buyers ORDER BY email"
check "sql --out r.csv writes CSV" bash -c "$(printf '%q ' "${Q[@]}") --out r.csv '$SQL' && head -1 r.csv | grep -qx 'email,amount' && [ \$(stat -c %a r.csv) = 600 ]"
check "... the same bytes as stdout" bash -c "$(printf '%q ' "${Q[@]}") --format csv '$SQL' | cmp - r.csv"
check "sql --out r.json writes JSON" bash -c "$(printf '%q ' "${Q[@]}") --out r.json '$SQL' && python3 -c 'import json; assert len(json.load(open(\"r.json\"))[\"rows\"]) == 3'"
check "--format wins over the name" bash -c "$(printf '%q ' "${Q[@]}") --out r.txt --format table '$SQL' && grep -q '(3 rows)' r.txt"
expect_exit 2 'cannot tell the format from the name' "an unknown extension without --format is a usage error" \
  "${Q[@]}" --out r.dat "$SQL"
expect_exit 3 'r.csv: already exists; give --force' "an existing --out is not replaced" "${Q[@]}" --out r.csv "$SQL"
cp r.csv r.keep
expect_exit 3 'SQL:1:8' "a failing query with --out --force ..." \
  "${Q[@]}" --out r.csv --force "SELECT nosuch FROM buyers"
check "... leaves the old file untouched and no temp file" bash -c "cmp r.csv r.keep && ! ls -a | grep -q 'r\.csv\.tmp'"
expect_exit 3 'already exists' "a new query with --out and no --force fails before running" \
  "${Q[@]}" --out r.csv "SELECT nosuch FROM buyers"
check "--force replaces it" bash -c "$(printf '%q ' "${Q[@]}") --out r.csv --force --format json '$SQL' && grep -q columns r.csv"
printf '%s\n' "SELECT count(*) AS n" "FROM buyers" > q.sql
check "--file reads the SQL" bash -c "$(printf '%q ' "${Q[@]}") --format csv --file q.sql | grep -qx 3"
expect_exit 2 'either with --file or as the argument' "--file and an argument together are refused" \
  "${Q[@]}" --file q.sql "$SQL"
expect_exit 3 'nosuch.sql' "a missing --file is named" "${Q[@]}" --file nosuch.sql

finish
