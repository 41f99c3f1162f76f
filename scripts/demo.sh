#!/usr/bin/env bash
# The demo: what dcr does end to end today. A publisher and an advertiser
# make keys; the publisher seals a generated impressions file to the
# advertiser (and itself), inspects what the sealed file reveals (no data),
# the advertiser unseals it, and a tampered copy is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
DCR=${DCR:-build/dcr}
rows=${DEMO_ROWS:-200000}
work=$(mktemp -d /tmp/dcr-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Each party makes its key pair (Ed25519 identity + X25519 for data keys)"
"$DCR" keygen --out "$work/publisher"
"$DCR" keygen --out "$work/advertiser"

say "2. The publisher exports $rows ad impressions as CSV (generated)"
cat > "$work/impressions.schema.json" <<'JSON'
{"dataset": "impressions",
 "columns": [{"name": "email", "type": "TEXT", "normalize": ["trim", "lower"], "not_null": true},
             {"name": "campaign", "type": "TEXT"},
             {"name": "shown_at", "type": "TIMESTAMP"},
             {"name": "cost", "type": "DOUBLE PRECISION"},
             {"name": "clicked", "type": "BOOLEAN"}]}
JSON
awk -v n="$rows" 'BEGIN {
  srand(7); print "email,campaign,shown_at,cost,clicked";
  for (i = 0; i < n; i++) {
    u = int(rand() * n / 4); c = int(rand() * 12); s = int(rand() * 86400 * 28);
    printf "%sUser%d@Example.com,campaign_%02d,2024-03-%02d %02d:%02d:%02d,%.4f,%s\n",
      (i % 50 == 0 ? " " : ""), u, c, 1 + int(s / 86400), int(s / 3600) % 24, int(s / 60) % 60,
      s % 60, rand() / 100, (rand() < 0.03 ? "true" : "false")
  } }' > "$work/impressions.csv"
head -4 "$work/impressions.csv"
echo "... $(wc -c < "$work/impressions.csv") bytes"

say "3. The publisher seals it to the advertiser and itself (types checked, emails normalised)"
"$DCR" seal --schema "$work/impressions.schema.json" --in "$work/impressions.csv" \
  --out "$work/impressions.dcr" --to "$work/advertiser.pub" --to "$work/publisher.pub" --stats

say "4. Anyone can inspect the sealed file: structure only, never data"
"$DCR" inspect "$work/impressions.dcr" | head -24

say "5. The advertiser unseals it (every chunk authenticated first)"
"$DCR" unseal --key "$work/advertiser.key" --out "$work/roundtrip.csv" --stats "$work/impressions.dcr"
head -4 "$work/roundtrip.csv"

say "6. A host flips one bit in the stored file: refused, nothing written"
cp "$work/impressions.dcr" "$work/tampered.dcr"
printf '\x01' | dd of="$work/tampered.dcr" bs=1 seek=5000 conv=notrunc status=none
if "$DCR" unseal --key "$work/advertiser.key" "$work/tampered.dcr" > "$work/leak.csv"; then
  echo "UNEXPECTED: tampered file accepted"; exit 1
fi
echo "exit status $? and $(wc -c < "$work/leak.csv") bytes of output"

say "7. A third party's key cannot open it"
"$DCR" keygen --out "$work/stranger" > /dev/null
"$DCR" unseal --key "$work/stranger.key" "$work/impressions.dcr" > /dev/null || echo "refused (exit $?)"

say "Done: sealed, inspected, unsealed, and tampering and the wrong key refused."
