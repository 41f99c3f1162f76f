#!/usr/bin/env bash
# What an operator and a first-time user see (issue 20, "Observability"):
# the server's log lines (text and JSON lines: time, request id, peer,
# party, route, status, error code, duration; never SQL text or a literal
# of it), the request id in X-Dcr-Request-Id, in error bodies and in the
# client's message, GET /metrics on its own plain-HTTP listener checked by
# a strict text-format checker (and promtool when installed) with counters
# that move, GET /v1/health without authentication and `dcr health`, and
# clear messages for TLS and plain-HTTP mix-ups on both sides.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/service_lib.sh"
cd "$T"
FAKE_PID=
trap 'stop_server; [[ -n "$FAKE_PID" ]] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$T"' EXIT
client() { timeout 60 "$DCR" "$1" --server "$URL" --contract c.json --quiet "${@:2}"; }
scrape() { curl -sS --max-time 10 "$METRICS" > "$1"; }
metric() { # metric FILE 'name{labels}': its value, or nothing
  awk -v k="$2" '$1 == k { print $2 }' "$1"
}
promcheck() {
  python3 "$ROOT/tests/e2e/promcheck.py" "$1" || return 1
  if command -v promtool > /dev/null; then promtool check metrics < "$1" || return 1; fi
}

check "keys and a three-party contract" make_contract
make_data 4000 3000 7
mkdir -m 700 st

expect_exit 2 "--log-format must be text or json" "serve refuses an unknown --log-format" \
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state st \
  --listen 127.0.0.1:0 --tee sim --log-format xml
expect_exit 2 "--metrics-listen: (cannot resolve .example.com.|.example.com. is not a loopback name)" \
  "serve refuses a --metrics-listen name that is not loopback" \
  "$DCR" serve --contract c.json --signatures pub.sig adv.sig ana.sig --state st \
  --listen 127.0.0.1:0 --tee sim --metrics-listen example.com:9100

# --- JSON lines -----------------------------------------------------------------
check "a server with --log-format json --metrics-listen 127.0.0.1:0 starts" \
  start_server st --log-format json --metrics-listen 127.0.0.1:0
METRICS=$(sed -n 's/.*metrics on \(http:[^ ]*\) .*/\1/p' server.log | head -1)
check "the log names the metrics URL (loopback)" bash -c "[[ '$METRICS' == http://127.0.0.1:*/metrics ]]"
scrape m0.txt
check "/metrics before any request is well formed (strict checker, promtool)" promcheck m0.txt

curl -sk --tlsv1.3 -D h.txt "$URL/v1/health" > health.json
check "GET /v1/health answers without authentication: {\"status\":\"ok\"}" \
  bash -c 'grep -qx "{\"status\":\"ok\"}" health.json && grep -q "^HTTP/1.1 200" h.txt'
check "dcr health --server URL says ok" bash -c "'$DCR' health --server '$URL' | grep -qx ok"

# An error: the id in the header, the body and the log is one id.
curl -sk --tlsv1.3 -D h401.txt "$URL/v1/status" > e401.json
HID=$(tr -d '\r' < h401.txt | sed -n 's/^X-Dcr-Request-Id: //Ip')
BID=$(python3 -c 'import json,sys; print(json.load(open("e401.json"))["error"]["request_id"])')
check "an error has X-Dcr-Request-Id (16 hex digits) equal to the body's request_id" \
  bash -c "[[ '$HID' =~ ^[0-9a-f]{16}$ && '$HID' == '$BID' ]]"
check "... and the log line of that request carries the same id, status and code" python3 - "$HID" <<'PY'
import json, sys
lines = [json.loads(l) for l in open("server.log") if l.startswith("{")]
hit = [l for l in lines if l.get("request_id") == sys.argv[1]]
assert len(hit) == 1, hit
l = hit[0]
assert l["status"] == 401 and l["code"] == "unauthenticated" and l["route"] == "/v1/status", l
PY

check "publisher uploads" client upload --key pub.key --dataset impressions imp.csv
check "advertiser uploads" client upload --key adv.key --dataset purchases pur.csv
# Distinctive literals: they must never reach the log.
GOOD="SELECT campaign, COUNT(*) AS n FROM impressions WHERE campaign <> 'zebra_literal_93817' GROUP BY campaign"
BAD="SELECT email FROM impressions WHERE email = 'quokka_secret_55121@example.com'"
check "a query with a literal is answered" client query --key ana.key "$GOOD"
client query --key ana.key "$BAD" > bad.out 2> bad.err
QID=$(sed -n 's/.*(request id \([0-9a-f]\{16\}\)).*/\1/p' bad.err)
check "a refused query: the client's message quotes the request id" bash -c "[[ -n '$QID' ]]"
check "... which is the id of the log line with code refused, its rule and a SQL hash" python3 - "$QID" <<'PY'
import json, sys
lines = [json.loads(l) for l in open("server.log") if l.startswith("{")]
l = [l for l in lines if l.get("request_id") == sys.argv[1]][0]
assert l["status"] == 422 and l["code"] == "refused" and l["rule"], l
assert l["party"] == "analyst" and l["route"] == "/v1/query" and len(l["sql_sha256"]) == 16, l
PY
check "every log line is a JSON object with time and event; requests with all their fields" python3 - <<'PY'
import json, re
n = 0
for line in open("server.log"):
    if not line.startswith("{"):
        continue  # the earlier refused starts wrote usage errors, not log lines
    o = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o
    if o["event"] == "request":
        n += 1
        for k in ("request_id", "peer", "method", "status", "ms"):
            assert k in o, (k, o)
        assert re.fullmatch(r"127\.0\.0\.1:\d+", o["peer"]), o
assert n >= 8, n
PY
check "the log has no SQL text and no literal of it" \
  bash -c '! grep -E "zebra_literal|quokka_secret|SELECT|impressions WHERE" server.log'

scrape m1.txt
check "/metrics after requests is well formed (strict checker, promtool)" promcheck m1.txt
check "requests by route and code moved (query 200 and 422, health 200, status 401)" bash -c "
  [[ \$(awk '\$1 == \"dcr_http_requests_total{method=\\\"POST\\\",route=\\\"/v1/query\\\",code=\\\"200\\\"}\" {print \$2}' m1.txt) -ge 1 ]] &&
  [[ \$(awk '\$1 == \"dcr_http_requests_total{method=\\\"POST\\\",route=\\\"/v1/query\\\",code=\\\"422\\\"}\" {print \$2}' m1.txt) -ge 1 ]] &&
  grep -q '^dcr_http_requests_total{method=\"GET\",route=\"/v1/health\",code=\"200\"} ' m1.txt &&
  grep -q '^dcr_http_requests_total{method=\"GET\",route=\"/v1/status\",code=\"401\"} 1$' m1.txt"
check "queries by outcome, refusals by rule, the latency histogram" bash -c "
  [[ \$(awk '\$1 == \"dcr_queries_total{outcome=\\\"released\\\"}\" {print \$2}' m1.txt) -ge 1 ]] &&
  grep -q '^dcr_query_refusals_total{rule=\"[a-z-]*\"} 1$' m1.txt &&
  [[ \$(awk '\$1 == \"dcr_query_duration_seconds_count\" {print \$2}' m1.txt) -ge 2 ]]"
check "uploads and bytes counted" bash -c "
  grep -q '^dcr_uploads_total{outcome=\"accepted\"} 2$' m1.txt &&
  [[ \$(awk '\$1 == \"dcr_upload_bytes_total\" {print \$2}' m1.txt) -gt 10000 ]]"
check "budget per analyst, instance start, TPM anchor state are there" bash -c "
  grep -q '^dcr_budget_epsilon_spent{analyst=\"analyst\"} ' m1.txt &&
  grep -q '^dcr_instance_start_time_seconds [0-9]' m1.txt && grep -q '^dcr_state_tpm_anchor 0$' m1.txt"
check "/metrics says nothing about rows or values" bash -c '! grep -Ei "rows|zebra|quokka|email" m1.txt'
check "the metrics listener serves /metrics only (404 elsewhere)" \
  bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '${METRICS%/metrics}/v1/health') == 404 ]]"
check "the API port has no /metrics" \
  bash -c "[[ \$(curl -sk -o /dev/null -w '%{http_code}' '$URL/metrics') == 404 ]]"

# --- TLS mix-ups ------------------------------------------------------------------
curl -s --max-time 5 "http://${URL#https://}/v1/health" > /dev/null 2>&1
sleep 0.2
check "plain HTTP to the TLS port: the server logs a clear line" \
  grep -q '"event":"tls_error".*plain http:// client' server.log
MHOST=${METRICS#http://}
MHOST=${MHOST%/metrics}
expect_exit 3 "does not speak TLS \(it answers plain HTTP\)" \
  "dcr pointed at a plain-HTTP server says it does not speak TLS" \
  "$DCR" attest check --server "https://$MHOST" --contract c.json
expect_exit 3 "does not speak TLS" "... and so does dcr health" "$DCR" health --server "https://$MHOST"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fk.pem -out fc.pem \
  -days 1 -subj /CN=other > /dev/null 2>&1
python3 - > fake.port <<'PY' &
import http.server, socket, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>another web server</html>"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain("fc.pem", "fk.pem")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
FAKE_PID=$!
for _ in $(seq 100); do [[ -s fake.port ]] && break; sleep 0.05; done
expect_exit 3 "is not a dcr clean room: GET /v1/attestation is not the clean room's attestation JSON" \
  "dcr pointed at another HTTPS server says it is not a dcr clean room" \
  "$DCR" attest check --server "https://127.0.0.1:$(cat fake.port)" --contract c.json
kill "$FAKE_PID" 2>/dev/null; FAKE_PID=
stop_server

# --- text lines (the default) ----------------------------------------------------
: > server.log
check "the server restarts with text logs" start_server st
expect_exit 3 "HTTP 4[0-9][0-9] .*\(request id [0-9a-f]{16}\)" "a query on the restarted (not re-granted) room fails, quoting its id" \
  client query --key ana.key "$GOOD"
check "a text request line has ISO time, id, peer, party, route, status, code and duration" \
  grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z dcr serve: request id=[0-9a-f]{16} peer=127\.0\.0\.1:[0-9]+ party=analyst method=POST path=/v1/query route=/v1/query status=4[0-9]{2} code=[a-z_]+ .*sql_sha256=[0-9a-f]{16} ms=[0-9.]+$' server.log
check "lifecycle lines are timestamped too" grep -Eq '^[0-9-]{10}T[0-9:.]{12}Z dcr serve: listening on https://' server.log
check "... and carry no SQL literal" bash -c '! grep -E "zebra_literal|SELECT" server.log'
stop_server
finish
