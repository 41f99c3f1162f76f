#!/usr/bin/env bash
# One party of the multi-party demo: `party.sh cleanroom|publisher|advertiser`.
# compose.yaml runs each role in its own container from the dcr image;
# tests/container/run.sh runs them with podman and, for reference, on the
# host with build/dcr, and checks both give the same results.
#
# Each party keeps its private key and raw data in its own state directory
# ($DCR_STATE, the container's /var/lib/dcr volume). Only public things go
# through $EXCHANGE, standing in for e-mail between the companies: public
# keys, the contract and signatures, the clean room's URL, and (for the
# comparison with the host run) the results the analyst received. Data
# goes to the clean room only over its attested HTTPS API. Steps wait for
# each other's files (published atomically).
#
# The flow: the parties make keys; the publisher drafts the contract,
# pinning the clean-room measurement ($DCR_MEASUREMENT: the SHA-384 of the
# dcr binary that a reproducible build of the agreed commit gives, sim mode;
# unset or "auto": the binary this party runs); both sign. The clean room
# starts `dcr serve` (fresh instance keys, evidence binding them to the
# contract); each provider runs `dcr attest check` and uploads (sealed
# locally to the attested instance); the advertiser runs the agreed
# queries, sees a query for raw e-mails refused, and both fetch and verify
# the audit log. Then the clean room restarts (new instance, new keys, same
# state volume), each provider verifies it and re-grants its data key
# (`dcr grant`), and the advertiser checks a query gives the same answer.
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
  if [[ -n "${DCR_MEASUREMENT:-}" && "$DCR_MEASUREMENT" != auto ]]; then
    echo "$DCR_MEASUREMENT"
  else # demo default: trust the binary this party itself runs
    sha384sum "$(command -v "$DCR")" | cut -d' ' -f1
  fi
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

wait_results() {
  wait_for results/done
  say "results released by the clean room:"
  for f in "$EXCHANGE"/results/*.csv; do
    echo "--- $(basename "$f" .csv)"
    cat "$f"
  done
}

server_url() { # [restarted]
  local f=${1:-server}.url
  if [[ -n "${DCR_SERVER_URL:-}" ]]; then
    [[ -z "${1:-}" ]] || wait_for "$f"
    echo "$DCR_SERVER_URL"
  else
    wait_for "$f"
    cat "$EXCHANGE/$f"
  fi
}

# After the restart: verify the new instance, re-grant our data key to it.
serve_regrant() { # dataset
  local url
  url=$(server_url restarted)
  "$DCR" grant --server "$url" --contract contract.json --key "$role.key" --quiet --dataset "$1"
  say "re-granted $1 to the restarted clean room"
}

# The agreed queries: the analyst (advertiser) runs them; results are CSV.
QUERIES=(
  attribution_by_campaign "SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers,
      ROUND(SUM(p.amount), 2) AS revenue
    FROM impressions i JOIN purchases p ON i.email = p.email
    WHERE p.bought_at >= TIMESTAMP '2024-03-01' GROUP BY i.campaign ORDER BY i.campaign"
  overlap "SELECT COUNT(DISTINCT i.email) AS matched_users FROM impressions i JOIN purchases p ON i.email = p.email"
  reach_by_campaign "SELECT i.campaign, COUNT(DISTINCT i.email) AS reach, COUNT(*) AS impressions
    FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY i.campaign"
)

# The agreed queries as contract templates (JSON array members, one line).
agreed_templates() {
  local i sql
  for ((i = 0; i < ${#QUERIES[@]}; i += 2)); do
    sql=$(printf '%s' "${QUERIES[i + 1]}" | tr -s '\n ' '  ') # one line, single spaces
    printf '{"name": "demo_%s", "sql": "%s"}, ' "${QUERIES[i]}" "$sql"
  done
}

# Starts one clean-room instance on the state directory; sets $pid and
# publishes its URL as $1 (server.url, then restarted.url).
start_instance() {
  rm -f /tmp/dcr-ready
  "$DCR" serve --contract contract.json --signatures publisher.sig advertiser.sig --state state \
    --listen "${DCR_LISTEN:-127.0.0.1:0}" --tee "${DCR_TEE:-sim}" --ready-file /tmp/dcr-ready &
  pid=$!
  local i
  for ((i = 0; i < 600; i++)); do [[ -s /tmp/dcr-ready ]] && break; kill -0 $pid 2> /dev/null || break; sleep 0.1; done
  [[ -s /tmp/dcr-ready ]] || die "dcr serve did not start"
  cat /tmp/dcr-ready > "$1"
  publish "$1"
  say "serving at $(cat "$1")"
}
stop_instance() {
  kill -TERM $pid
  wait $pid || die "dcr serve exited with status $?"
  say "instance stopped cleanly"
}

# The clean room: serves until both parties are done, then restarts (a new
# instance: new keys, new evidence, same state) and serves until the parties
# have re-granted their data keys and checked a result again.
serve_cleanroom() {
  wait_for contract.json publisher.sig advertiser.sig
  cp "$EXCHANGE"/contract.json "$EXCHANGE"/publisher.sig "$EXCHANGE"/advertiser.sig .
  "$DCR" contract verify contract.json publisher.sig advertiser.sig
  mkdir -p -m 700 state
  start_instance server.url
  if [[ "${KEEP_SERVING:-0}" == 1 ]]; then wait $pid; return; fi
  # A test may hold the first instance until it has probed it (HEALTHCHECK).
  [[ -z "${HOLD_UNTIL:-}" ]] || wait_for "$HOLD_UNTIL"
  wait_for finished-publisher finished-advertiser
  stop_instance
  start_instance restarted.url
  wait_for regranted-publisher regranted-advertiser
  stop_instance
}

serve_provider() { # dataset
  local ds=$1 csv url
  csv=$(input_csv "$ds")
  url=$(server_url)
  "$DCR" attest check --server "$url" --contract contract.json
  "$DCR" upload --server "$url" --contract contract.json --key "$role.key" --quiet --dataset "$ds" "$csv"
  : > "uploaded-$ds"
  publish "uploaded-$ds"
  say "uploaded $(($(wc -l < "$csv") - 1)) rows of $ds, sealed to the attested instance"
}

serve_analyst() {
  local url i rc
  url=$(server_url)
  wait_for uploaded-impressions uploaded-purchases
  mkdir -p results "$EXCHANGE/results"
  for ((i = 0; i < ${#QUERIES[@]}; i += 2)); do
    "$DCR" query --server "$url" --contract contract.json --key advertiser.key --quiet --format csv \
      "${QUERIES[i + 1]}" > "results/${QUERIES[i]}.csv"
    publish "results/${QUERIES[i]}.csv" "results/${QUERIES[i]}.csv"
    say "ran ${QUERIES[i]}"
  done
  rc=0
  "$DCR" query --server "$url" --contract contract.json --key advertiser.key --quiet --format csv \
    "SELECT p.email, p.amount FROM purchases p JOIN impressions i ON i.email = p.email" \
    > refused.out 2> refused.err || rc=$?
  [[ $rc -ne 0 && ! -s refused.out ]] || die "a query for raw e-mails was not refused"
  say "a query for raw e-mails was refused (exit $rc): $(head -c 200 refused.err)"
  echo "exit $rc" > results/refused.txt
  publish results/refused.txt results/refused.txt
  : > results/done
  publish results/done results/done
}

serve_audit() {
  "$DCR" audit --server "$(server_url)" --contract contract.json --key "$role.key" --quiet \
    --head audit.head > audit.txt
  say "audit log fetched and verified: $(grep -c . audit.txt) lines"
}

case "$role" in
cleanroom)
  serve_cleanroom
  ;;
publisher)
  "$DCR" keygen --out publisher > /dev/null
  publish publisher.pub
  wait_for advertiser.pub
  cp "$EXCHANGE/advertiser.pub" .
  "$DCR" contract init --out draft.json --party publisher=publisher.pub --party advertiser=advertiser.pub > /dev/null
  # Pin the clean room: sim evidence only, with the reproducible measurement.
  # Differential privacy off, so the demo's results can be compared exactly
  # (the aggregation threshold still applies); without DP only templates run
  # (docs/privacy.md, "Modes"), so the agreed queries become templates.
  sed -e "s/{\"type\": \"sim\"}/{\"type\": \"sim\", \"measurements\": [\"$(measurement)\"]}/" \
    -e 's/"differential_privacy": {"enabled": true/"differential_privacy": {"enabled": false/' \
    -e "s|\"templates\": \[|\"templates\": [$(agreed_templates)|" \
    draft.json > contract.json
  grep -q '"demo_overlap"' contract.json || die "could not add the agreed queries as templates"
  grep -q '"measurements"' contract.json || die "could not pin the measurement in the contract"
  ! grep -q '"differential_privacy": {"enabled": true' contract.json ||
    die "could not turn differential privacy off in the demo contract"
  "$DCR" contract lint contract.json
  "$DCR" contract sign --key publisher.key --out publisher.sig contract.json
  publish contract.json
  publish publisher.sig
  say "contract $("$DCR" contract hash contract.json | cut -c1-16)... drafted and signed"
  serve_provider impressions
  wait_for results/done
  serve_audit
  wait_results
  : > finished-publisher
  publish finished-publisher
  serve_regrant impressions
  : > regranted-publisher
  publish regranted-publisher
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
  serve_provider purchases
  serve_analyst
  serve_audit
  wait_results
  : > finished-advertiser
  publish finished-advertiser
  serve_regrant purchases
  wait_for regranted-publisher
  "$DCR" query --server "$(server_url restarted)" --contract contract.json --key advertiser.key --quiet \
    --format csv "${QUERIES[3]}" > results/after_restart.csv
  cmp -s results/after_restart.csv results/overlap.csv || die "the restarted clean room answers differently"
  publish results/after_restart.csv results/after_restart.csv
  say "after the restart and re-grants, the overlap query gives the same answer"
  : > regranted-advertiser
  publish regranted-advertiser
  ;;
*) die "unknown role $role" ;;
esac
