#!/usr/bin/env bash
# End-to-end: dcr contract init / lint / hash / show / sign / verify and
# dcr seal --contract, through the real binary: exit codes, messages,
# tampering, foreign and missing signatures.
source "$(dirname "$0")/lib.sh"
cd "$T"

check "keygen publisher" "$DCR" keygen --out publisher
check "keygen advertiser" "$DCR" keygen --out advertiser
check "keygen mallory" "$DCR" keygen --out mallory

check "init writes a starter contract" "$DCR" contract init --out c.json --party publisher=publisher.pub --party advertiser=advertiser.pub
expect_exit 3 "already exists" "init refuses to overwrite" "$DCR" contract init --out c.json --party publisher=publisher.pub --party advertiser=advertiser.pub
check "show says how many queries the zCDP ledger allows (307 for epsilon 0.5, delta 1e-6, budget 10; not budget/epsilon = 20)" bash -c "\"$DCR\" contract show c.json | grep -q \"the budget allows 307 queries per analyst\""
check "show explains the noisy release threshold" bash -c "\"$DCR\" contract show c.json | grep -q \"NOISY count of people\""
check "init writes a DP contract (show says so)" bash -c "\"$DCR\" contract show c.json | grep -q \"^protection: differential privacy\""
expect_exit 2 "exactly two --party" "init needs two parties" "$DCR" contract init --out c2.json --party publisher=publisher.pub
expect_exit 2 "NAME=NAME.pub" "init refuses a bad party name" "$DCR" contract init --out c2.json --party Pub=publisher.pub --party advertiser=advertiser.pub

check "the starter lints clean" bash -c "'$DCR' contract lint c.json | grep -q 'valid contract'"
hash=$("$DCR" contract hash c.json)
check "hash is SHA-256 of the exact bytes" test "$hash" = "$(sha256sum c.json | cut -d' ' -f1)"
"$DCR" contract show c.json > show.txt 2>&1
check "show names parties and roles" grep -q 'advertiser *provider, analyst, receiver' show.txt
check "show names datasets, owner, privacy unit, k" grep -q 'impressions: provided by publisher, privacy unit email, at least 50' show.txt
check "show lists receivers" grep -q 'advertiser; results go to advertiser' show.txt
check "show lists joins" grep -q 'impressions.email = purchases.email' show.txt
check "show flags development mode" grep -q 'DEVELOPMENT' show.txt
check "show shows the hash" grep -q "$hash" show.txt

check "publisher signs" "$DCR" contract sign --key publisher.key --out publisher.sig c.json
check "advertiser signs" "$DCR" contract sign --key advertiser.key --out advertiser.sig c.json
check "signature file is one dcr-sig-v1 line" bash -c "[ \$(wc -l < publisher.sig) = 1 ] && grep -qE '^dcr-sig-v1:[0-9a-f]{64}:$hash:[0-9a-f]{128}\$' publisher.sig"
check "verify: fully signed, exit 0" bash -c "'$DCR' contract verify c.json publisher.sig advertiser.sig | grep -q 'signed by every party'"

expect_exit 4 "missing a valid signature from advertiser" "verify with a signature missing" "$DCR" contract verify c.json publisher.sig
check "verify lists who has not signed" bash -c "'$DCR' contract verify c.json publisher.sig 2>/dev/null | grep -q 'advertiser *NOT SIGNED'"
expect_exit 3 "not the key of any party" "sign refuses a key that is not a party's" "$DCR" contract sign --key mallory.key --out m.sig c.json
expect_exit 3 "this is a public key.*NAME.key" "sign given a .pub file says it is the public key (no chmod advice)" "$DCR" contract sign --key publisher.pub --out m.sig c.json

# A signature by a stranger's key, made over the same hash with a copy of
# the contract that names mallory instead of the advertiser.
sed "s|$(cat advertiser.pub)|$(cat mallory.pub)|" c.json > mc.json
check "mallory signs her own copy" "$DCR" contract sign --key mallory.key --out mallory.sig mc.json
expect_exit 4 "signed another contract" "a signature over another contract is rejected" "$DCR" contract verify c.json publisher.sig advertiser.sig mallory.sig
# Same stranger signature, relabelled with this contract's hash.
sed "s|:$("$DCR" contract hash mc.json):|:$hash:|" mallory.sig > mallory2.sig
expect_exit 4 "not the key of any party" "a signature by a key not in the contract is rejected" "$DCR" contract verify c.json publisher.sig advertiser.sig mallory2.sig

# Tampering: any change to the signed bytes invalidates every signature.
sed 's/"min_units": 50/"min_units": 5/' c.json > t1.json
expect_exit 4 "signed another contract" "a tampered contract's signatures are rejected" "$DCR" contract verify t1.json publisher.sig advertiser.sig
printf ' ' >> t2.json; cat c.json >> t2.json
expect_exit 4 "signed another contract" "even a whitespace change is rejected" "$DCR" contract verify t2.json publisher.sig advertiser.sig
sed 's/"min_units": 50/"min_units": 1/' c.json > t3.json
expect_exit 3 't3.json:[0-9]+:[0-9]+: min_units must be at least 2' "verify refuses an invalid contract with exit 3" "$DCR" contract verify t3.json publisher.sig advertiser.sig
expect_exit 3 "refuses|min_units" "sign refuses an invalid contract" "$DCR" contract sign --key publisher.key --out p3.sig t3.json
check "no signature written for an invalid contract" test ! -e p3.sig
head -c 100 publisher.sig > bad.sig
expect_exit 3 "signature line is" "a malformed signature file is an input error" "$DCR" contract verify c.json bad.sig advertiser.sig

# Lint reports every problem with its position, sorted.
sed -e 's/"epsilon_per_query": 0.5/"epsilon_per_query": 0/' -e 's/"owner": "publisher"/"owner": "nobody"/' c.json > t4.json
"$DCR" contract lint t4.json > lint.out 2> lint.err; rc=$?
check "lint exits 3 on problems" test "$rc" -eq 3
check "lint reports the owner with line:column" grep -qE '^t4.json:14:38: owner "nobody" is not a party of this contract$' lint.err
check "lint reports epsilon with line:column" grep -qE '^t4.json:[0-9]+:[0-9]+: epsilon_per_query must be greater than 0$' lint.err
check "lint reports problems in position order" bash -c "grep -n owner lint.err | cut -d: -f1 | xargs -I{} test {} -eq 1"
printf '{"dcr_contract": 1,\n "name": "x" "version": 1}' > t5.json
expect_exit 3 '^t5.json:2:14: invalid JSON' "lint reports a syntax error's position" "$DCR" contract lint t5.json
expect_exit 3 "cannot open|No such" "lint of a missing file" "$DCR" contract lint nope.json
expect_exit 2 "unknown subcommand" "unknown subcommand" "$DCR" contract frob c.json

# seal --contract: schema from the contract, context = contract hash.
printf 'email,campaign,shown_at,cost,clicked\n Ann@Example.com ,spring,2024-03-01 10:00:00,0.25,true\nbob@example.com,spring,2024-03-02,1.5,false\n' > imp.csv
check "seal --contract --dataset" "$DCR" seal --contract c.json --dataset impressions --in imp.csv --out imp.dcr --to publisher.pub
check "inspect shows the contract hash as context" bash -c "'$DCR' inspect imp.dcr | grep -q 'context:     $hash'"
check "inspect shows the contract's schema" bash -c "'$DCR' inspect imp.dcr | grep -q 'email  *TEXT NOT NULL normalize=trim,lower'"
check "unseal round trip with normalisation" bash -c "'$DCR' unseal --key publisher.key imp.dcr | grep -q '^ann@example.com,spring,2024-03-01 10:00:00,0.25,true\$'"
expect_exit 3 'no dataset "clicks"' "seal refuses an unknown dataset" "$DCR" seal --contract c.json --dataset clicks --in imp.csv --out x.dcr --to publisher.pub
expect_exit 3 "min_units must be at least 2" "seal refuses an invalid contract" "$DCR" seal --contract t3.json --dataset impressions --in imp.csv --out x.dcr --to publisher.pub
expect_exit 2 "exactly one of --schema or --contract" "seal needs one schema source" "$DCR" seal --in imp.csv --out x.dcr --to publisher.pub
expect_exit 2 "--context cannot be used with --contract" "seal refuses --context with --contract" "$DCR" seal --contract c.json --dataset impressions --context 00 --in imp.csv --out x.dcr --to publisher.pub
expect_exit 2 "--dataset NAME goes with --contract" "seal needs --dataset with --contract" "$DCR" seal --contract c.json --in imp.csv --out x.dcr --to publisher.pub
printf 'email,campaign,shown_at,cost,clicked\n,spring,2024-03-01,1,true\n' > nullid.csv
expect_exit 3 'NOT NULL' "the privacy unit column is NOT NULL" "$DCR" seal --contract c.json --dataset impressions --in nullid.csv --out x.dcr --to publisher.pub

check "dcr help lists contract" bash -c "'$DCR' help | grep -q 'contract'"
check "dcr contract --help" bash -c "'$DCR' contract --help | grep -q 'dcr contract verify FILE SIG'"
finish
