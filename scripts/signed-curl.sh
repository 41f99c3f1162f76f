#!/usr/bin/env bash
# signed-curl.sh: one signed dcr API request with curl and openssl only, to
# show (and test) that docs/api.md's signing scheme is all a client needs.
#
#   scripts/signed-curl.sh KEY.key PARTY URL METHOD PATH [BODY_FILE]
#
# It fetches GET /v1/attestation for the server's attested TLS key hash (it
# does NOT verify the evidence: use `dcr attest check` for that), pins that
# key, signs the request and prints the response body. Environment:
# DCR_NONCE / DCR_TIME override the nonce and time (tests replay requests).
set -euo pipefail
key=$1 party=$2 url=$3 method=$4 path=$5 body=${6:-/dev/null}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seed=$(cut -d: -f2 "$key" | tr -d '\n')
# PKCS#8 for an Ed25519 seed: a fixed 16-byte prefix, then the seed.
printf '302e020100300506032b657004220420%s' "$seed" | xxd -r -p |
  openssl pkey -inform DER -out "$tmp/key.pem"
tls=$(curl -sS -k --tlsv1.3 "$url/v1/attestation" |
  sed -n 's/.*"tls_spki_sha256":"\([0-9a-f]*\)".*/\1/p')
pin="sha256//$(printf '%s' "$tls" | xxd -r -p | base64)"
now=${DCR_TIME:-$(date +%s)}
nonce=${DCR_NONCE:-$(openssl rand -hex 16)}
bodyhash=$(openssl dgst -sha256 -r "$body" | cut -d' ' -f1)
printf 'dcr request v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n' \
  "$method" "$path" "$party" "$now" "$nonce" "$bodyhash" "$tls" > "$tmp/msg"
sig=$(openssl pkeyutl -sign -inkey "$tmp/key.pem" -rawin -in "$tmp/msg" | xxd -p | tr -d '\n')
args=(-sS -k --tlsv1.3 --pinnedpubkey "$pin" -X "$method"
  -H "X-Dcr-Party: $party" -H "X-Dcr-Time: $now" -H "X-Dcr-Nonce: $nonce"
  -H "X-Dcr-Content-Sha256: $bodyhash" -H "X-Dcr-Signature: $sig")
[[ "$body" != /dev/null ]] && args+=(--data-binary "@$body" -H 'Content-Type: application/json')
# The body, then "HTTP <code>"; like `curl --fail`, an HTTP error exits 22
# (after printing the error body, which says what went wrong).
curl "${args[@]}" -w 'HTTP %{http_code}\n' "$url$path" | tee "$tmp/out"
code=$(tail -n 1 "$tmp/out" | sed -n 's/^HTTP \([0-9]*\)$/\1/p')
[[ -n "$code" && "$code" -lt 400 ]] || exit 22
