#!/usr/bin/env bash
# dcr serve with a TPM for its state (--state-tcti; on Azure the vTPM that
# attests, here swtpm): the differencing key is sealed to the TPM (no
# plaintext key file), a restart unseals it, and an older copy of the state
# put back by the operator is refused as rolled back. Without the TPM that
# anchored state is refused too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/service_lib.sh"
source "$(dirname "$0")/swtpm_lib.sh"
cd "$T"
trap 'stop_server; [[ -n "$SWTPM" ]] && kill $SWTPM 2>/dev/null; rm -rf "$T"' EXIT
swtpm_start
check "keys and a three-party contract" make_contract
make_data 3000 2000 5
mkdir -m 700 st
check "the server starts with its state on the TPM" start_server st --state-tcti "$TCTI"
check "the server says its state is anchored" grep -q "state anchored on TPM" server.log
A=(--server "$URL" --contract c.json --quiet)
check "upload impressions" "$DCR" upload "${A[@]}" --key pub.key --dataset impressions imp.csv
check "upload purchases" "$DCR" upload "${A[@]}" --key adv.key --dataset purchases pur.csv
SQL="SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign"
check "a query" "$DCR" query "${A[@]}" --key ana.key "$SQL"
check "the differencing key is sealed: differencing.key.tpm, no plaintext key" \
  bash -c '[[ -s st/differencing.key.tpm && ! -e st/differencing.key ]]'
stop_server
cp -a st st-old
check "the server restarts on the same state and TPM" start_server st --state-tcti "$TCTI"
A=(--server "$URL" --contract c.json --quiet)
for ds in impressions:pub purchases:adv; do
  "$DCR" grant "${A[@]}" --key "${ds#*:}.key" --dataset "${ds%:*}" > /dev/null 2>&1
done
check "after the restart the sealed key unseals and queries run" \
  "$DCR" query "${A[@]}" --key ana.key "$SQL"
stop_server
rm -rf st && mv st-old st
# refused_start WHAT PATTERN [serve options]: the server must stop at once
# with exit 3 and PATTERN in its log.
refused_start() {
  local what=$1 pattern=$2 rc
  shift 2
  : > server.log
  start_server st "$@"
  wait "$SERVER_PID"
  rc=$?
  SERVER_PID=
  check "$what" bash -c "[[ $rc -eq 3 ]] && grep -q '$pattern' server.log"
}
refused_start "an older copy of the state put back is refused as rolled back" "ROLLED BACK" \
  --state-tcti "$TCTI"
refused_start "the anchored state without its TPM is refused" "anchored in TPM NV counter" \
  --state-tcti none
finish
