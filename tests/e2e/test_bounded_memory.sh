#!/usr/bin/env bash
# A large CSV (1 GiB by default; DCR_BIG_MB to change, smaller under ASan)
# seals from a pipe and unseals to a pipe with peak memory far below its size.
source "$(dirname "$0")/lib.sh"
cd "$T"
mb=${DCR_BIG_MB:-1024}
[[ "$DCR" == */asan/* ]] && mb=${DCR_BIG_MB:-96}
limit=400

"$DCR" keygen --out k >/dev/null
cat > s.json <<'JSON'
{"dataset": "big", "columns": [{"name": "email", "type": "TEXT"}, {"name": "campaign", "type": "TEXT"},
 {"name": "ts", "type": "TIMESTAMP"}, {"name": "amount", "type": "DOUBLE PRECISION"}]}
JSON
line='someone@example.com,campaign_17,2024-03-01 12:34:56,123.45'
gen() { echo "email,campaign,ts,amount"; yes "$line" | head -n $(( (mb << 20) / (${#line} + 1) )); }
gen | "$DCR" seal --schema s.json --in - --out big.dcr --to k.pub --stats 2> seal.err
check "seal of $mb MiB succeeds" grep -q 'sealed' seal.err
cat seal.err
rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' seal.err)
check "seal peak RSS ${rss} MiB < $limit MiB" awk "BEGIN { exit !($rss < $limit) }"
rows=$(gen | wc -l)
"$DCR" unseal --key k.key --stats big.dcr 2> unseal.err | wc -l > lines.txt
cat unseal.err
check "unseal gives back every row" test "$(cat lines.txt)" -eq "$rows"
rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' unseal.err)
check "unseal peak RSS ${rss} MiB < $limit MiB" awk "BEGIN { exit !($rss < $limit) }"
finish
