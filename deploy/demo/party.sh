#!/usr/bin/env bash
# One party of the multi-party demo: `party.sh cleanroom|publisher|advertiser`.
# compose.yaml runs each role in its own container from the dcr image;
# tests/container/run.sh runs them with podman and, for reference, on the
# host with build/dcr, and checks both give the same results.
#
# Each party keeps its private key and raw data in its own state directory
# ($DCR_STATE, the container's /var/lib/dcr volume) and shares only public
# things through $EXCHANGE: public keys, the contract and signatures, the
# clean room's evidence, sealed (encrypted) datasets and the released
# results. Steps wait for each other's files (published atomically).
#
# Flow: the parties make keys; the publisher drafts the contract, pinning
# the clean-room measurement ($DCR_MEASUREMENT: the SHA-384 of the dcr
# binary that a reproducible build of the agreed commit gives; sim mode);
# both sign. The clean room makes its key and sim evidence binding
# SHA-512(its public key). Each provider verifies that evidence against the
# pinned measurement before sealing its data to that key. The clean room
# checks the contract is fully signed, runs the agreed aggregate queries and
# publishes the results. The clean-room service (`dcr serve`, `dcr upload`,
# `dcr query`) replaces the file exchange of datasets and results when it
# lands.
set -euo pipefail
role=${1:?usage: party.sh cleanroom|publisher|advertiser}
DCR=${DCR:-dcr}
EXCHANGE=${EXCHANGE:-/exchange}
DCR_STATE=${DCR_STATE:-/var/lib/dcr}
INPUT=${INPUT:-/input}
WAIT_SECONDS=${WAIT_SECONDS:-300}
IMPRESSIONS=${DEMO_IMPRESSIONS:-200000}
PURCHASES=${DEMO_PURCHASES:-20000}
cd "$DCR_STATE"
umask 077

say() { printf '[%s] %s\n' "$role" "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }
# Publishes a file to the exchange atomically (copy, then rename).
publish() { # file [name in the exchange]
  local dest="$EXCHANGE/${2:-$(basename "$1")}"
  local tmp
  tmp="$(dirname "$dest")/.$(basename "$dest").tmp"
  cp "$1" "$tmp" && chmod 0644 "$tmp" && mv "$tmp" "$dest"
}
wait_for() { # files in the exchange
  local deadline=$((SECONDS + WAIT_SECONDS)) f
  for f in "$@"; do
    until [[ -e "$EXCHANGE/$f" ]]; do
      [[ -e "$EXCHANGE/FAILED" ]] && die "another party failed: $(cat "$EXCHANGE/FAILED")"
      ((SECONDS < deadline)) || die "timed out after ${WAIT_SECONDS}s waiting for $f"
      sleep 0.2
    done
  done
}
trap 'rc=$?; [[ $rc -eq 0 ]] || echo "$role (exit $rc)" > "$EXCHANGE/FAILED" 2>/dev/null || true' EXIT

measurement() {
  if [[ -n "${DCR_MEASUREMENT:-}" ]]; then
    echo "$DCR_MEASUREMENT"
  else # demo default: trust the binary this party itself runs
    sha384sum "$(command -v "$DCR")" | cut -d' ' -f1
  fi
}

# A party verifies the clean room's evidence before it trusts its key:
# sim evidence, the pinned measurement, report data = SHA-512(cleanroom.pub).
verify_cleanroom() {
  wait_for cleanroom.pub cleanroom.evidence
  local rd
  rd=$(sha512sum "$EXCHANGE/cleanroom.pub" | cut -d' ' -f1)
  "$DCR" attest verify --type sim --evidence "$EXCHANGE/cleanroom.evidence" \
    --measurement "$(measurement)" --report-data "$rd" > evidence-claims.json ||
    die "the clean room's evidence does not verify against the pinned measurement"
  cp "$EXCHANGE/cleanroom.pub" cleanroom.pub
  say "clean room attested: sim measurement $(measurement | cut -c1-16)... and its key bound"
}

# Deterministic synthetic data, unless the party brings its own CSV.
gen_impressions() {
  awk -v n="$IMPRESSIONS" -v users=$((IMPRESSIONS / 4)) 'BEGIN {
    srand(7); print "email,campaign,shown_at,cost,clicked";
    for (i = 0; i < n; i++) {
      u = int(rand() * users); c = int(rand() * 12); s = int(rand() * 86400 * 28);
      printf "%sUser%d@Example.com,campaign_%02d,2024-03-%02d %02d:%02d:%02d,%.4f,%s\n",
        (i % 50 == 0 ? " " : ""), u, c, 1 + int(s / 86400), int(s / 3600) % 24, int(s / 60) % 60,
        s % 60, rand() / 100, (rand() < 0.03 ? "true" : "false") } }'
}
gen_purchases() {
  awk -v n="$PURCHASES" -v users=$((IMPRESSIONS / 4)) 'BEGIN {
    srand(11); print "email,product,bought_at,amount";
    for (i = 0; i < n; i++) {
      u = int(rand() * users * 1.5); s = int(rand() * 86400 * 28);
      printf "user%d@example.com,sku_%03d,2024-03-%02d %02d:%02d:%02d,%.2f\n", u, int(rand() * 200),
        1 + int(s / 86400), int(s / 3600) % 24, int(s / 60) % 60, s % 60, 5 + rand() * 195 } }'
}
input_csv() { # dataset -> path of this party's CSV
  if [[ -f "$INPUT/$1.csv" ]]; then echo "$INPUT/$1.csv"; else "gen_$1" > "$1.csv"; echo "$1.csv"; fi
}

provider() { # dataset
  local ds=$1 csv
  csv=$(input_csv "$ds")
  verify_cleanroom
  "$DCR" seal --contract contract.json --dataset "$ds" --in "$csv" --out "$ds.dcr" --to cleanroom.pub --stats
  publish "$ds.dcr"
  say "sealed $(($(wc -l < "$csv") - 1)) rows of $ds to the attested clean room"
}

wait_results() {
  wait_for results/done
  say "results released by the clean room:"
  for f in "$EXCHANGE"/results/*.csv; do
    echo "--- $(basename "$f" .csv)"
    cat "$f"
  done
}

case "$role" in
cleanroom)
  "$DCR" keygen --out cleanroom > /dev/null
  rd=$(sha512sum cleanroom.pub | cut -d' ' -f1)
  "$DCR" attest evidence --tee sim --report-data "$rd" --out cleanroom.evidence
  publish cleanroom.evidence
  publish cleanroom.pub
  say "instance key made; sim evidence binds SHA-512(cleanroom.pub)"
  wait_for contract.json publisher.sig advertiser.sig
  cp "$EXCHANGE"/contract.json "$EXCHANGE"/publisher.sig "$EXCHANGE"/advertiser.sig .
  "$DCR" contract verify contract.json publisher.sig advertiser.sig
  wait_for impressions.dcr purchases.dcr
  mkdir -p results "$EXCHANGE/results"
  q() { # name, SQL: run over both sealed datasets, publish the CSV
    "$DCR" sql --data impressions="$EXCHANGE/impressions.dcr" --data purchases="$EXCHANGE/purchases.dcr" \
      --key cleanroom.key --format csv "$2" > "results/$1.csv"
    publish "results/$1.csv" "results/$1.csv"
    say "ran $1"
  }
  q attribution_by_campaign "SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers,
      ROUND(SUM(p.amount), 2) AS revenue
    FROM impressions i JOIN purchases p ON i.email = p.email
    WHERE p.bought_at >= TIMESTAMP '2024-03-01' GROUP BY i.campaign ORDER BY i.campaign"
  q overlap "SELECT COUNT(DISTINCT i.email) AS matched_users FROM impressions i JOIN purchases p ON i.email = p.email"
  q reach_by_campaign "SELECT campaign, COUNT(DISTINCT email) AS reach, COUNT(*) AS impressions
    FROM impressions GROUP BY campaign ORDER BY campaign"
  : > results/done
  publish results/done results/done
  say "done"
  ;;
publisher)
  "$DCR" keygen --out publisher > /dev/null
  publish publisher.pub
  wait_for advertiser.pub
  cp "$EXCHANGE/advertiser.pub" .
  "$DCR" contract init --out draft.json --party publisher=publisher.pub --party advertiser=advertiser.pub > /dev/null
  # Pin the clean room: sim evidence only, with the reproducible measurement.
  sed "s/{\"type\": \"sim\"}/{\"type\": \"sim\", \"measurements\": [\"$(measurement)\"]}/" draft.json > contract.json
  grep -q '"measurements"' contract.json || die "could not pin the measurement in the contract"
  "$DCR" contract lint contract.json
  "$DCR" contract sign --key publisher.key --out publisher.sig contract.json
  publish contract.json
  publish publisher.sig
  say "contract $("$DCR" contract hash contract.json | cut -c1-16)... drafted and signed"
  provider impressions
  wait_results
  ;;
advertiser)
  "$DCR" keygen --out advertiser > /dev/null
  publish advertiser.pub
  wait_for contract.json
  cp "$EXCHANGE/contract.json" .
  grep -q "\"$(measurement)\"" contract.json || die "the contract does not pin the measurement this party expects"
  "$DCR" contract lint contract.json
  "$DCR" contract sign --key advertiser.key --out advertiser.sig contract.json
  publish advertiser.sig
  say "reviewed and signed the contract"
  provider purchases
  wait_results
  ;;
*) die "unknown role $role" ;;
esac
