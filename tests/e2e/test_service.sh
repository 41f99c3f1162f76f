#!/usr/bin/env bash
# The clean-room service end to end, through the real binary and server on
# loopback: two providers and an analyst; attestation check, uploads,
# queries and refusals (unknown key, replayed request, tampered ciphertext
# in transit and on disk, an unaccepted measurement, a server whose TLS key
# is not the attested one), the audit log verified (and a rollback caught),
# and a restart followed by re-grants.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/service_lib.sh"
SIGNED="$ROOT/scripts/signed-curl.sh"
cd "$T"
FAKE_PID=
trap 'stop_server; [[ -n "$FAKE_PID" ]] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$T"' EXIT

# Three parties: two providers and an analyst who receives the results; DP
# off, so the aggregation threshold (k = 50) is the protection. Mallory
# holds a key the contract does not name.
"$DCR" keygen --out mallory > /dev/null
check "keys and the signed three-party contract" make_contract
check "the three-party contract lints" "$DCR" contract lint c.json

# Data: 3000 people see impressions, 4000 buy; about 2200 overlap.
make_data 20000 5000 1
# One buyer of a product nobody else buys: the victim of the differencing check.
echo "victim@example.com,p9,2024-03-02 10:00:00,42.00" >> pur.csv

mkdir -m 700 st
expect_exit 4 "mallory has not signed|not in force" "serve refuses a contract not signed by every party" \
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig --state st --listen 127.0.0.1:0 --tee sim
sed 's/{"type": "sim"}/{"type": "sim", "measurements": ["'"$(printf '0%.0s' {1..96})"'"]}/' c.json > c_meas.json
"$DCR" contract sign --key pub.key --out m1.sig c_meas.json > /dev/null
"$DCR" contract sign --key adv.key --out m2.sig c_meas.json > /dev/null
"$DCR" contract sign --key ana.key --out m3.sig c_meas.json > /dev/null
mkdir -m 700 st_meas
expect_exit 4 "would not accept.*measurement" "serve refuses to start when the contract does not accept its measurement" \
  "$DCR" serve --contract c_meas.json --signatures m1.sig m2.sig m3.sig --state st_meas --listen 127.0.0.1:0 --tee sim

mkdir -m 700 st_args
expect_exit 2 "cannot resolve 'no-such-host.invalid'" "serve refuses an unresolvable --listen name" \
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state st_args --listen no-such-host.invalid:0 --tee sim
check "... before touching the state (no state.db, no audit record)" bash -c '[[ ! -e st_args/state.db ]]'
expect_exit 2 "this host has no address 192.0.2.1" "serve refuses an address this host does not have" \
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state st_args --listen 192.0.2.1:0 --tee sim
check "... also before touching the state" bash -c '[[ ! -e st_args/state.db ]]'
"$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state st_args \
  --listen localhost:0 --tee sim --ready-file ready_lh >> server.log 2>&1 &
lh_pid=$!
for i in $(seq 200); do [[ -s ready_lh ]] && break; sleep 0.05; done
check "serve accepts --listen localhost (a loopback name) and binds 127.0.0.1" grep -q "^https://127.0.0.1:" ready_lh
kill "$lh_pid" 2>/dev/null; wait "$lh_pid" 2>/dev/null

check "server starts (sim, loopback, free port)" start_server st --rate 100000
A=(--server "$URL" --contract c.json --quiet)
expect_exit 3 "in use by another running instance" "a second instance on a running server's state is refused" \
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state st --listen 127.0.0.1:0 --tee sim
check "attest check verifies the evidence and the pinned key" "$DCR" attest check --server "$URL" --contract c.json
"$DCR" attest check --server "$URL" --contract c.json > check.out 2>&1
check "attest check says sim is insecure" grep -q "simulated evidence" check.out
expect_exit 4 "another contract" "attest check refuses a server running another contract" \
  "$DCR" attest check --server "$URL" --contract c_meas.json

expect_exit 3 "not uploaded yet: its owner publisher must run .dcr upload." \
  "a query before the upload says which dataset is missing and who must upload it" \
  "$DCR" query "${A[@]}" --key ana.key "SELECT COUNT(*) FROM impressions"
check "publisher uploads impressions" "$DCR" upload "${A[@]}" --key pub.key --dataset impressions imp.csv
check "advertiser uploads purchases" "$DCR" upload "${A[@]}" --key adv.key --dataset purchases pur.csv
gzip -c pur.csv > pur.csv.gz
check "upload takes a gzip file, told by content (a re-upload of the same rows)" \
  "$DCR" upload "${A[@]}" --key adv.key --dataset purchases pur.csv.gz
head -1 pur.csv > pur-empty.csv
expect_exit 3 "no data rows after the header row: refusing" "upload refuses a file with no rows" \
  "$DCR" upload "${A[@]}" --key adv.key --dataset purchases pur-empty.csv
expect_exit 3 "belongs to publisher in the contract, not to advertiser" \
  "advertiser cannot upload the publisher's dataset (refused before sealing)" \
  "$DCR" upload "${A[@]}" --key adv.key --dataset impressions imp.csv
check "... without sealing first" bash -c "! grep -q 'sealed' '$T/.err'"
expect_exit 3 "belongs to publisher in the contract, not to analyst" "the analyst cannot upload" \
  "$DCR" upload "${A[@]}" --key ana.key --dataset impressions imp.csv
"$DCR" seal --contract c.json --dataset purchases --in pur.csv --out mistaken.dcr --to adv.pub 2> /dev/null
expect_exit 3 "mistaken.dcr is a sealed dcr file, not a CSV" "uploading a .dcr file by mistake is recognised" \
  "$DCR" upload "${A[@]}" --key adv.key --dataset purchases mistaken.dcr
expect_exit 2 "not the key of any party" "a stranger's key is refused by the client" \
  "$DCR" status "${A[@]}" --key mallory.key

SQL="SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers, SUM(p.amount) AS revenue FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY i.campaign"
check "analyst runs the attribution query" "$DCR" query "${A[@]}" --key ana.key --format csv "$SQL"
"$DCR" query "${A[@]}" --key ana.key --format csv "$SQL" > q.csv 2> q.err
check "four campaigns released" bash -c '[[ $(wc -l < q.csv) -eq 5 ]] && head -1 q.csv | grep -q "campaign,buyers,revenue"'
# Results as files (issue 23): --out FILE.csv, --file QUERY.sql.
"$DCR" query "${A[@]}" --key ana.key --out q2.csv "$SQL" 2> /dev/null
check "query --out FILE.csv writes what stdout shows, mode 0600" \
  bash -c 'cmp q2.csv q.csv && [[ $(stat -c %a q2.csv) == 600 ]]'
printf '%s\n' "$SQL" > q.sql
"$DCR" query "${A[@]}" --key ana.key --format csv --file q.sql > q3.csv 2> /dev/null
check "query --file reads the SQL from a file" cmp q3.csv q.csv
expect_exit 3 "q2.csv: already exists; give --force" "query --out does not replace a file" \
  "$DCR" query "${A[@]}" --key ana.key --out q2.csv "$SQL"
check "the query matches the plaintext" python3 - <<'PY'
import csv
# Join semantics: every impression row meets every purchase of its e-mail.
imp = {}
for r in csv.DictReader(open('imp.csv')):
    imp.setdefault(r['campaign'], []).append(r['email'].strip().lower())
pur = {}
for r in csv.DictReader(open('pur.csv')): pur.setdefault(r['email'], []).append(float(r['amount']))
got = {r['campaign']: r for r in csv.DictReader(open('q.csv'))}
for c, rows in imp.items():
    buyers = {e for e in rows if e in pur}
    revenue = sum(sum(pur[e]) for e in rows if e in pur)
    assert int(got[c]['buyers']) == len(buyers), (c, got[c], len(buyers))
    assert abs(float(got[c]['revenue']) - revenue) < 0.01 * max(1, revenue / 1e4), (c, revenue)
PY
expect_exit 3 "id-column|not-aggregated" "a query returning e-mails is refused, naming the rule" \
  "$DCR" query "${A[@]}" --key ana.key "SELECT email FROM purchases"
expect_exit 4 "role analyst" "a provider cannot query" \
  "$DCR" query "${A[@]}" --key pub.key "SELECT COUNT(*) FROM purchases"
# Differencing through the server: a count with the victim, then without.
"$DCR" query "${A[@]}" --key ana.key --format csv \
  "SELECT COUNT(DISTINCT email) AS n FROM purchases WHERE product IN ('p0', 'p9')" > d1.csv 2> d1.err
"$DCR" query "${A[@]}" --key ana.key --format csv \
  "SELECT COUNT(DISTINCT email) AS n FROM purchases WHERE product = 'p0'" > d2.csv 2> d2.err
check "differencing: the count with one more person is released" \
  bash -c '[[ $(wc -l < d1.csv) -eq 2 ]]'
check "differencing: the count without that person is suppressed" \
  bash -c '[[ $(wc -l < d2.csv) -eq 1 ]]'
check "differencing: the key of the unit hashes is in the state, 0600" \
  bash -c '[[ $(stat -c %a st/differencing.key) == 600 ]]'
check "budget answers the analyst" "$DCR" budget "${A[@]}" --key ana.key
check "status shows both datasets granted" bash -c \
  "'$DCR' status ${A[*]} --key pub.key | grep -c '\"granted\": true' | grep -qx 2"

# Raw signed requests (scripts/signed-curl.sh: curl + openssl, as docs/api.md).
"$SIGNED" ana.key analyst "$URL" GET /v1/budget > r1.out 2>&1
check "a request signed with curl and openssl is accepted" grep -q "HTTP 200" r1.out
check "the JSON body ends with a newline (HTTP status on the next line)" \
  bash -c 'grep -B1 "^HTTP 200" r1.out | head -1 | grep -q "}$"' 
DCR_NONCE=0123456789abcdef0123456789abcdef "$SIGNED" ana.key analyst "$URL" GET /v1/budget > r2.out 2>&1
DCR_NONCE=0123456789abcdef0123456789abcdef "$SIGNED" ana.key analyst "$URL" GET /v1/budget > r3.out 2>&1
check "a replayed request is refused" bash -c 'grep -q "HTTP 200" r2.out && grep -q "HTTP 401" r3.out && grep -q replayed_request r3.out'
DCR_TIME=$(( $(date +%s) - 3600 )) "$SIGNED" ana.key analyst "$URL" GET /v1/budget > r4.out 2>&1
check "a stale request is refused" grep -q stale_request r4.out
"$SIGNED" mallory.key mallory "$URL" GET /v1/status > r5.out 2>&1
r5=$?
check "an unknown party is refused" grep -q unknown_party r5.out
check "signed-curl.sh exits 22 on an HTTP error, 0 on success" bash -c "[[ $r5 -eq 22 ]] && '$SIGNED' ana.key analyst '$URL' GET /v1/budget > /dev/null"
"$SIGNED" mallory.key analyst "$URL" GET /v1/status > r6.out 2>&1
check "a key not in the contract is refused" grep -q bad_signature r6.out
curl -sS -k --tlsv1.3 "$URL/v1/status" > r7.out 2>&1
check "an unsigned request is refused" grep -q unauthenticated r7.out
curl -sS -k --tls-max 1.2 "$URL/v1/health" > r8.out 2>&1
check "TLS 1.2 is refused" bash -c '! grep -q "\"ok\"" r8.out'

# Tampered ciphertext in transit: sealed to the instance key, one bit flipped.
hpke=$(curl -sS -k --tlsv1.3 "$URL/v1/attestation" | sed -n 's/.*"hpke_public_key":"\([0-9a-f]*\)".*/\1/p')
echo "dcr-pub-v1:$(printf '0%.0s' {1..64}):$hpke" > inst.pub
"$DCR" seal --contract c.json --dataset purchases --in pur.csv --out pur.dcr --to inst.pub 2> /dev/null
cp pur.dcr bad.dcr
flip_bit bad.dcr 3000
"$SIGNED" adv.key advertiser "$URL" PUT /v1/datasets/purchases bad.dcr > r9.out 2>&1
check "a tampered upload is refused" bash -c 'grep -q "HTTP 403" r9.out && grep -q "does not authenticate" r9.out'
head -c 20000 pur.dcr > short.dcr
"$SIGNED" adv.key advertiser "$URL" PUT /v1/datasets/purchases short.dcr > r10.out 2>&1
check "a truncated upload is refused" grep -q "truncated" r10.out
"$DCR" seal --contract c.json --dataset purchases --in pur.csv --out own.dcr --to adv.pub 2> /dev/null
"$SIGNED" adv.key advertiser "$URL" PUT /v1/datasets/purchases own.dcr > r11.out 2>&1
check "an upload not wrapped to the instance key is refused" grep -q "not wrapped to this instance" r11.out
"$SIGNED" adv.key advertiser "$URL" PUT /v1/datasets/impressions pur.dcr > r12.out 2>&1
check "the server itself refuses an upload by a party that does not own the dataset" \
  bash -c 'grep -q "HTTP 403" r12.out && grep -q "belongs to publisher" r12.out' 
check "the refused uploads left the dataset intact" "$DCR" query "${A[@]}" --key ana.key "$SQL"

# The audit log: verified, then a rollback of the state is caught.
check "audit verifies the whole chain" "$DCR" audit "${A[@]}" --key pub.key --head pub.head
"$DCR" audit "${A[@]}" --key pub.key --head pub.head > audit.out 2>&1
mkdir fresh-home
check "audit without --head remembers the head under a fresh \$HOME" \
  env -u XDG_STATE_HOME HOME="$PWD/fresh-home" "$DCR" audit "${A[@]}" --key pub.key
check "the remembered head is in ~/.local/state/dcr" \
  bash -c 'ls fresh-home/.local/state/dcr/audit-*.head'
check "audit lists uploads, accepted and refused queries" bash -c \
  'grep -q "upload .*publisher .*accepted" audit.out && grep -q "query .*analyst .*accepted" audit.out && grep -q "query .*analyst .*refused" audit.out'
check "the text audit shows each record's time in ISO 8601 UTC" \
  grep -qE '^#[0-9]+ +20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z +upload' audit.out
"$DCR" status "${A[@]}" --key pub.key > status.out 2>&1
check "status shows ISO 8601 UTC times" bash -c \
  "grep -qE '\"started_at\": \"20[0-9-]{8}T[0-9:]{8}Z\"' status.out && grep -qE '\"uploaded_at\": \"20[0-9-]{8}T[0-9:]{8}Z\"' status.out"

# A server whose TLS key is not the attested one: a fake serving the real
# instance's attestation with its own certificate.
curl -sS -k --tlsv1.3 "$URL/v1/attestation" > att.json
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fake.key -out fake.crt \
  -days 1 -subj /CN=fake 2> /dev/null
python3 - > fake.port <<'PY' &
import http.server, ssl, socket, sys
body = open('att.json', 'rb').read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('fake.crt', 'fake.key')
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY
FAKE_PID=$!
for _ in $(seq 100); do [[ -s fake.port ]] && break; sleep 0.05; done
expect_exit 4 "TLS key is not the key its attestation evidence binds" \
  "a server whose TLS key differs from its evidence is refused" \
  "$DCR" attest check --server "https://127.0.0.1:$(cat fake.port)" --contract c.json
kill "$FAKE_PID"; FAKE_PID=

# Tampered ciphertext at rest: refused at query time, nothing released.
cp -a st st_backup
f=$(ls st/datasets/* | head -1)
cp "$f" keep.bin
flip_bit "$f" 5000
expect_exit 4 "." "a dataset tampered on disk refuses the query" \
  "$DCR" query "${A[@]}" --key ana.key "$SQL"
cp keep.bin "$f"

# Restart: a new instance with new keys; queries wait for re-grants.
stop_server
check "the server restarts on the same state" start_server st --rate 100000
A=(--server "$URL" --contract c.json --quiet)
expect_exit 3 "not granted to this instance.*its owner (publisher|advertiser) must run .dcr grant." "after a restart the data keys are gone, and the refusal says who must grant" \
  "$DCR" query "${A[@]}" --key ana.key "$SQL"
check "publisher re-grants" "$DCR" grant "${A[@]}" --key pub.key --dataset impressions
check "advertiser re-grants" "$DCR" grant "${A[@]}" --key adv.key --dataset purchases
expect_exit 4 "belongs to advertiser" "a party cannot grant another's dataset" \
  "$DCR" grant "${A[@]}" --key pub.key --dataset purchases
"$DCR" query "${A[@]}" --key ana.key --format csv "$SQL" > q2.csv 2> q2.err
check "the query runs again with the same answer" cmp q.csv q2.csv
# The differencing history outlives the restart and a re-upload (a new
# dataset version): the half of the pair without the victim stays suppressed.
check "advertiser re-uploads purchases" "$DCR" upload "${A[@]}" --key adv.key --dataset purchases pur.csv
"$DCR" query "${A[@]}" --key ana.key --format csv \
  "SELECT COUNT(DISTINCT email) AS n FROM purchases WHERE product = 'p0'" > d3.csv 2> d3.err
"$DCR" query "${A[@]}" --key ana.key --format csv \
  "SELECT COUNT(DISTINCT email) AS n FROM purchases WHERE product IN ('p0', 'p9')" > d4.csv 2> d4.err
check "differencing after a restart and a re-upload: still suppressed" \
  bash -c '[[ $(wc -l < d3.csv) -eq 1 ]]'
check "differencing after a restart and a re-upload: the same set is released again" \
  cmp d1.csv d4.csv
check "the audit log spans both instances and extends the head" \
  "$DCR" audit "${A[@]}" --key pub.key --head pub.head

# Rollback: the operator restores an old copy of the state.
stop_server
rm -rf st && mv st_backup st
check "the server starts on rolled-back state" start_server st --rate 100000
expect_exit 4 "ROLLBACK OR FORK" "the client detects the rolled-back audit log" \
  "$DCR" audit --server "$URL" --contract c.json --quiet --key pub.key --head pub.head
stop_server
finish
