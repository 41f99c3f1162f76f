#!/usr/bin/env bash
# End-to-end: dcr keygen / seal / inspect / unseal through the real binary,
# including refusals, exit codes and tampered files.
source "$(dirname "$0")/lib.sh"
cd "$T"

check "keygen alice" "$DCR" keygen --out alice
check "keygen bob" "$DCR" keygen --out bob

cat > schema.json <<'JSON'
{"dataset": "customers",
 "columns": [{"name": "email", "type": "TEXT", "normalize": ["trim", "lower"], "not_null": true},
             {"name": "spend", "type": "DOUBLE PRECISION"},
             {"name": "visits", "type": "BIGINT"},
             {"name": "member", "type": "BOOLEAN"},
             {"name": "joined", "type": "DATE"},
             {"name": "seen", "type": "TIMESTAMP"},
             {"name": "note", "type": "TEXT"}]}
JSON
printf 'email,spend,visits,member,joined,seen,note\r\n Carol@Example.com ,12.5,3,true,2023-05-01,2024-01-02 03:04:05,"hello, ""world"""\r\nsecret-dave@example.com,,,,,,\r\nerin@example.com,0.1,-7,f,1999-12-31,1999-12-31T23:59:59.5Z,""\r\n' > data.csv
cat > expected.csv <<'CSV'
email,spend,visits,member,joined,seen,note
carol@example.com,12.5,3,true,2023-05-01,2024-01-02 03:04:05,"hello, ""world"""
secret-dave@example.com,,,,,,
erin@example.com,0.1,-7,false,1999-12-31,1999-12-31 23:59:59.5,""
CSV

check "seal" "$DCR" seal --schema schema.json --in data.csv --out data.dcr --to alice.pub
check "unseal to stdout matches" bash -c "'$DCR' unseal --key alice.key data.dcr > out.csv && cmp out.csv expected.csv"
check "unseal --out writes mode 0600" bash -c "'$DCR' unseal --key alice.key --out out2.csv data.dcr && cmp out2.csv expected.csv && [ \$(stat -c %a out2.csv) = 600 ]"
check "seal from stdin" bash -c "'$DCR' seal --schema schema.json --in - --out stdin.dcr --to alice.pub < data.csv && '$DCR' unseal --key alice.key stdin.dcr | cmp - expected.csv"
check "two recipients can both unseal" bash -c "'$DCR' seal --schema schema.json --in data.csv --out both.dcr --to alice.pub --to bob.pub && '$DCR' unseal --key bob.key both.dcr | cmp - expected.csv && '$DCR' unseal --key alice.key both.dcr | cmp - expected.csv"
check "small chunks round trip" bash -c "'$DCR' seal --schema schema.json --in data.csv --out small.dcr --to alice.pub --chunk-rows 1 --threads 3 && '$DCR' unseal --key alice.key small.dcr | cmp - expected.csv"

# codecs: e-mails (mostly distinct TEXT) in LZ4 by default, zstd with --compress small
{ echo 'email,spend,visits,member,joined,seen,note'
  for i in $(seq 1 3000); do echo "user$((i * 7919 % 100000))@example.com,$i.5,$i,true,2024-01-01,2024-01-01 00:00:00,n$((i % 3))"; done; } > many.csv
check "seal many rows (default --compress fast)" "$DCR" seal --schema schema.json --in many.csv --out fast.dcr --to alice.pub
check "seal many rows --compress small" "$DCR" seal --schema schema.json --in many.csv --out zs.dcr --to alice.pub --compress small
check "fast: e-mails in lz4, the rest in zstd" bash -c "'$DCR' inspect --key alice.key fast.dcr | grep -E '^ +email +lengths .* lz4\$' && '$DCR' inspect --key alice.key fast.dcr | grep -E '^ +note +dictionary .* zstd\$'"
check "small: no lz4 at all" bash -c "'$DCR' inspect --key alice.key zs.dcr | grep -E '^ +email +lengths .* zstd\$' && ! '$DCR' inspect --key alice.key zs.dcr | grep -q lz4"
check "both unseal to the same rows" bash -c "'$DCR' unseal --key alice.key fast.dcr > f.csv && '$DCR' unseal --key alice.key zs.dcr | cmp - f.csv && [ \$(wc -l < f.csv) = 3001 ]"
check "small is smaller" bash -c "[ \$(stat -c %s zs.dcr) -lt \$(stat -c %s fast.dcr) ]"
expect_exit 2 "--compress must be fast or small" "an unknown --compress is a usage error" "$DCR" seal --schema schema.json --in many.csv --out x.dcr --to alice.pub --compress best

"$DCR" inspect data.dcr > inspect.txt 2>&1
check "inspect shows the schema" grep -q 'customers' inspect.txt
check "inspect shows no plaintext" bash -c "! grep -qi 'dave\|carol\|hello' inspect.txt"
check "inspect --key authenticates" bash -c "'$DCR' inspect --key alice.key data.dcr | grep -q 'all chunks authenticated'"
check "context is bound and shown" bash -c "'$DCR' seal --schema schema.json --in data.csv --out ctx.dcr --to alice.pub --context 00ff && '$DCR' inspect ctx.dcr | grep -q 'context:     00ff'"

expect_exit 4 "not sealed to the given key" "wrong key is refused" "$DCR" unseal --key bob.key data.dcr
expect_exit 3 "already exists" "existing output is not overwritten" "$DCR" seal --schema schema.json --in data.csv --out data.dcr --to alice.pub
mkfifo fifo  # never /dev/null itself: an old binary would replace it
expect_exit 3 'not a regular file' "--force never replaces a FIFO or device" "$DCR" unseal --key alice.key --out fifo --force data.dcr
check "the FIFO is still a FIFO" test -p fifo
check "--force overwrites" "$DCR" seal --schema schema.json --in data.csv --out data.dcr --to alice.pub --force

printf 'email,spend,visits,member,joined,seen,note\nok@example.com,1,1,t,2024-01-01,2024-01-01,\nbad@example.com,1,many,t,2024-01-01,2024-01-01,\n' > bad.csv
expect_exit 3 'bad.csv: line 3, column "visits" \(field 3\): invalid BIGINT value "many"' "bad value names file, line, column and value" "$DCR" seal --schema schema.json --in bad.csv --out bad.dcr --to alice.pub
check "a refused input leaves no output" test ! -e bad.dcr
"$DCR" seal --schema schema.json --in bad.csv --out skip.dcr --to alice.pub --max-bad-rows 1 2> skip.err
check "--max-bad-rows skips and reports the bad row" grep -q 'bad.csv: line 3, column "visits"' skip.err
check "--max-bad-rows keeps the good rows" bash -c "'$DCR' unseal --key alice.key skip.dcr | grep -c example.com | grep -qx 1"
printf 'email,spend,visits,member,joined,seen,note\nx@y,1,1,nope,2024-01-01,2024-01-01,\nx@y,1,1,t,2024-01-01,2024-01-01,\nx@y,one,1,t,2024-01-01,2024-01-01,\nx@y,1,1\n' > bad3.csv
expect_exit 3 'more than 2 rows with bad values' "--max-bad-rows refuses past its limit" "$DCR" seal --schema schema.json --in bad3.csv --out bad3.dcr --to alice.pub --max-bad-rows 2
check "a refused input leaves no output (limit)" test ! -e bad3.dcr
printf 'email,spend,visits,member,joined,seen,note\n,1,1,t,2024-01-01,2024-01-01,\n' > null.csv
printf 'email,spend,visits,member,joined,seen,note\nx@y,1,1,t,2024-01-01,2024-01-01,a\0b\n' > nul.csv
expect_exit 3 'column "note" \(field 7\): invalid TEXT value "a\\x00b": contains a NUL byte' "a NUL byte in TEXT is refused" "$DCR" seal --schema schema.json --in nul.csv --out nul.dcr --to alice.pub
expect_exit 3 'column "email".*NOT NULL' "NOT NULL is enforced" "$DCR" seal --schema schema.json --in null.csv --out null.dcr --to alice.pub
expect_exit 3 'unknown key "typo"' "schema with an unknown key is refused" bash -c "echo '{\"dataset\":\"d\",\"typo\":1,\"columns\":[]}' > s2.json; '$DCR' seal --schema s2.json --in data.csv --out x.dcr --to alice.pub"
expect_exit 3 'invalid JSON' "schema with bad JSON is refused" bash -c "echo '{\"dataset\":' > s3.json; '$DCR' seal --schema s3.json --in data.csv --out x.dcr --to alice.pub"
expect_exit 3 'bad magic' "a non-sealed file is refused" "$DCR" unseal --key alice.key data.csv

# Tampering through the binary: a sample of single-bit flips across the file.
size=$(stat -c %s small.dcr)
flips=0; caught=0; leaked=0
for ((pos = 0; pos < size; pos += 7)); do
  cp small.dcr t.dcr
  flip_bit t.dcr "$pos" $((pos % 8))
  flips=$((flips + 1))
  if ! "$DCR" unseal --key alice.key t.dcr > t.out 2> t.err; then caught=$((caught + 1)); fi
  [[ -s t.out ]] && leaked=$((leaked + 1))
done
check "all $flips sampled bit flips are refused" test "$caught" -eq "$flips"
check "no plaintext written for tampered files" test "$leaked" -eq 0
head -c $((size - 20)) small.dcr > trunc.dcr
expect_exit 3 'truncated' "a truncated file is refused" "$DCR" unseal --key alice.key trunc.dcr

expect_exit 2 'required|exactly one of' "missing options are a usage error" "$DCR" seal --in data.csv
expect_exit 2 'unknown command' "an unknown command is a usage error" "$DCR" frobnicate
check "dcr help lists commands" bash -c "'$DCR' help | grep -q 'unseal'"
check "dcr seal --help" bash -c "'$DCR' seal --help | grep -q 'Usage: dcr seal'"
check "dcr help seal" bash -c "'$DCR' help seal | grep -q 'Usage: dcr seal'"
finish
