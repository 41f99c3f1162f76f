#!/usr/bin/env bash
# The demo: the clean-room lifecycle as far as dcr implements it today.
# A publisher and an advertiser make keys, agree a contract and both sign it;
# each seals its data under the contract (schema, types and normalisation
# from the contract, the contract's hash bound into the file) to the clean
# room's key; what a sealed file reveals is shown (structure, never data);
# the clean room opens it; tampering, a stranger's key and a bad contract
# are refused. The clean room's attested service comes with later issues:
# here a plain key pair stands in for its attested instance key.
set -euo pipefail
cd "$(dirname "$0")/.."
DCR=${DCR:-build/dcr}
DCR=$(cd "$(dirname "$DCR")" && pwd)/$(basename "$DCR")
impressions=${DEMO_IMPRESSIONS:-200000}
purchases=${DEMO_PURCHASES:-20000}
work=$(mktemp -d /tmp/dcr-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Each party makes its key pair (Ed25519 identity + X25519 for data keys)"
"$DCR" keygen --out publisher
"$DCR" keygen --out advertiser
"$DCR" keygen --out cleanroom > /dev/null
echo "(cleanroom.pub stands in for the attested clean room's instance key)"

say "2. They draft a contract: who provides what, who may query, under which rules"
"$DCR" contract init --out contract.json --party publisher=publisher.pub --party advertiser=advertiser.pub
"$DCR" contract lint contract.json
"$DCR" contract show contract.json | sed -n '1,4p;6,9p;20,24p;27,34p'
echo "..."

say "3. A careless edit is caught with its line and column"
sed 's/"min_units": 50/"min_units": 1/' contract.json > careless.json
"$DCR" contract lint careless.json || echo "(lint refused it, exit $?)"

say "4. Both parties sign the exact bytes; the contract is in force only when all have"
"$DCR" contract sign --key publisher.key --out publisher.sig contract.json
"$DCR" contract verify contract.json publisher.sig || echo "(not yet in force, exit $?)"
"$DCR" contract sign --key advertiser.key --out advertiser.sig contract.json
"$DCR" contract verify contract.json publisher.sig advertiser.sig

say "5. Each party exports its data (generated: $impressions impressions, $purchases purchases)"
awk -v n="$impressions" -v users=$((impressions / 4)) 'BEGIN {
  srand(7); print "email,campaign,shown_at,cost,clicked";
  for (i = 0; i < n; i++) {
    u = int(rand() * users); c = int(rand() * 12); s = int(rand() * 86400 * 28);
    printf "%sUser%d@Example.com,campaign_%02d,2024-03-%02d %02d:%02d:%02d,%.4f,%s\n",
      (i % 50 == 0 ? " " : ""), u, c, 1 + int(s / 86400), int(s / 3600) % 24, int(s / 60) % 60,
      s % 60, rand() / 100, (rand() < 0.03 ? "true" : "false") } }' > impressions.csv
awk -v n="$purchases" -v users=$((impressions / 4)) 'BEGIN {
  srand(11); print "email,product,bought_at,amount";
  for (i = 0; i < n; i++) {
    u = int(rand() * users * 1.5); s = int(rand() * 86400 * 28);
    printf "user%d@example.com,sku_%03d,2024-03-%02d %02d:%02d:%02d,%.2f\n", u, int(rand() * 200),
      1 + int(s / 86400), int(s / 3600) % 24, int(s / 60) % 60, s % 60, 5 + rand() * 195 } }' > purchases.csv
head -3 impressions.csv; head -3 purchases.csv

say "6. Each seals its own data under the contract, to the clean room"
"$DCR" seal --contract contract.json --dataset impressions --in impressions.csv \
  --out impressions.dcr --to cleanroom.pub --stats
"$DCR" seal --contract contract.json --dataset purchases --in purchases.csv \
  --out purchases.dcr --to cleanroom.pub --stats

say "7. What a sealed file reveals to the operator who stores it: structure, no data"
"$DCR" inspect impressions.dcr | sed -n '1,16p'
echo "contract hash: $("$DCR" contract hash contract.json)  (= the context above)"

say "8. The clean room opens them (every chunk authenticated first)"
"$DCR" unseal --key cleanroom.key --out impressions.back.csv impressions.dcr
"$DCR" unseal --key cleanroom.key --out purchases.back.csv purchases.dcr
head -3 impressions.back.csv
echo "emails were normalised on the way in: $(grep -c 'User' impressions.csv) mixed-case in, $(grep -c 'User' impressions.back.csv) out"

say "9. The host flips one bit of a stored file: refused, no plaintext written"
cp impressions.dcr tampered.dcr
printf '\x01' | dd of=tampered.dcr bs=1 seek=5000 conv=notrunc status=none
rc=0
"$DCR" unseal --key cleanroom.key tampered.dcr > leak.csv || rc=$?
[[ $rc -ne 0 ]] || { echo "UNEXPECTED: tampered file accepted"; exit 1; }
echo "(exit status $rc, $(wc -c < leak.csv) bytes of output)"

say "10. Neither the other party nor a stranger can open a file sealed to the clean room"
"$DCR" unseal --key advertiser.key impressions.dcr > /dev/null || echo "(advertiser refused, exit $?)"

say "Done. Next: the attested clean-room service runs the agreed analyses on these files."
