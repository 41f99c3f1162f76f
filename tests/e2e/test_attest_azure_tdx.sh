#!/usr/bin/env bash
# The azure-tdx-vtpm producer through the real binary: swtpm provisioned the
# way Azure does (AK at 0x81000003, HCL report in NV 0x01400001) holding a
# SYNTHETIC HCL report with a TDX TDREPORT (no genuine one is recorded), and
# a local fake IMDS (fake_imds.py) that turns the TDREPORT into a TD quote
# signed under a TEST root. The producer must bundle HCL report + TD quote +
# TPM quote; `dcr attest verify` with the pinned Intel root must refuse the
# bundle at the PCK chain, and only there (every TPM check and the TD quote's
# own signatures pass). The verifier's success path with a test root is
# covered by tests/unit/test_attest_azure_tdx.c. IMDS answering garbage, an
# oversized body, an error or nothing in time must be refused by name, and
# leave no evidence file behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/swtpm_lib.sh"
RD=$(printf '%0128x' 0 | sed 's/^00/cd/')
SWTPM= IMDS=
trap 'kill $SWTPM $IMDS 2>/dev/null; rm -rf "$T"' EXIT
swtpm_start
swtpm_provision_ak
swtpm_runtime_json "$RD"

# synthetic TDX HCL report: header, TDREPORT (type 0x81, REPORTDATA =
# SHA-256(runtime JSON), TD attributes 0) padded to 1184, IGVM request data
# (report type 4 = TDX, hash type 1 = SHA-256), runtime JSON
jl=$(stat -c %s "$T/runtime.json")
hash=$(sha256sum "$T/runtime.json" | cut -c1-64)
perl -e 'print pack("a4VVVVx12", "HCLA", 1, 1204 + $ARGV[0], 2, 0)' "$jl" >"$T/hcl.bin"
perl -e 'my $r = pack("C*", map { ($_ * 7 + 3) & 255 } 0..1023);
         substr($r, 0, 1) = "\x81"; substr($r, 128, 64) = pack("H*", $ARGV[0]) . "\0" x 32;
         substr($r, 512, 8) = "\0" x 8; print $r, "\0" x 160' "$hash" >>"$T/hcl.bin"
perl -e 'print pack("VVVVV", 20 + $ARGV[0], 1, 4, 1, $ARGV[0])' "$jl" >>"$T/hcl.bin"
cat "$T/runtime.json" >>"$T/hcl.bin"
swtpm_put_hcl "$T/hcl.bin"

# start_imds MODE: a fresh fake IMDS; sets $IMDS (pid) and $URL
start_imds() {
  [ -n "$IMDS" ] && { kill $IMDS 2>/dev/null; wait $IMDS 2>/dev/null; }
  rm -f "$T/imds.port"; mkdir -p "$T/imds-$1"
  python3 "$ROOT/tests/e2e/fake_imds.py" "$1" "$T/imds.port" "$T/imds-$1" 2>"$T/imds-$1.log" &
  IMDS=$!
  for _ in $(seq 100); do [ -s "$T/imds.port" ] && break; sleep 0.1; done
  URL="http://127.0.0.1:$(cat "$T/imds.port" 2>/dev/null)"
  [ -s "$T/imds.port" ] && ok "fake IMDS ($1) listens at $URL" ||
    bad "fake IMDS ($1) did not start ($(tail -3 "$T/imds-$1.log"))"
}

start_imds good
check "azure-vtpm evidence on a TDX CVM (swtpm + fake IMDS)" "$DCR" attest evidence \
  --tee azure-vtpm --tcti "$TCTI" --imds "$URL" --report-data "$RD" --out "$T/tdx.ev"
# the request IMDS saw: POST /acc/tdquote, JSON, {"report": base64url of the 1024-byte TDREPORT}
if grep -q '^POST /acc/tdquote' "$T/imds-good/request.headers" &&
   grep -qi '^Content-Type: application/json' "$T/imds-good/request.headers" &&
   python3 - "$T/imds-good/request.json" "$T/hcl.bin" <<'PY'
import base64, json, sys
r = json.load(open(sys.argv[1]))["report"]
assert set(r) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
assert base64.urlsafe_b64decode(r + "=" * (-len(r) % 4)) == open(sys.argv[2], "rb").read()[32:1056]
PY
then ok "IMDS got POST /acc/tdquote {\"report\": base64url(TDREPORT)}"
else bad "IMDS request ($(head -c 300 "$T/imds-good/request.headers"))"; fi
# the bundle: type azure-tdx-vtpm, the HCL report, the quote served, the TPM quote
if python3 - "$T/tdx.ev" "$T/hcl.bin" "$T/imds-good/quote.bin" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"DCREVID1" and struct.unpack("<I", d[8:12])[0] == 5
items, off = {}, 12
while off < len(d):
    tag, n = struct.unpack("<HI", d[off:off + 6]); items[tag] = d[off + 6:off + 6 + n]; off += 6 + n
assert items[1] == open(sys.argv[2], "rb").read()
assert items[6] == open(sys.argv[3], "rb").read()
assert 3 in items and 4 in items and len(items[5]) == 24 * 32
PY
then ok "bundle holds HCL report + TD quote + TPM quote + PCRs"
else bad "bundle holds HCL report + TD quote + TPM quote + PCRs"; fi
"$DCR" attest evidence --tee auto --tcti "$TCTI" --imds "$URL" --report-data "$RD" \
  --out "$T/auto.ev" 2>"$T/auto.err"
grep -q 'azure-vtpm chosen: .* TDX (the TD quote will come from IMDS)' "$T/auto.err" &&
  [ -s "$T/auto.ev" ] && ok "auto chooses azure-vtpm on the TDX CVM and says it is TDX" ||
  bad "auto on the TDX CVM ($(cat "$T/auto.err"))"

# verification: every check before the PCK chain passes; the test root is refused
expect_exit 4 'tdx: PCK chain does not lead to the pinned Intel SGX Root CA' \
  "verify (no --type): fake IMDS quote refused at the PCK chain" \
  "$DCR" attest verify --evidence "$T/tdx.ev" --nonce "$RD" --report-data "$RD"
expect_exit 4 'tdx: PCK chain does not lead to the pinned Intel SGX Root CA' \
  "verify --type azure-tdx-vtpm: same" \
  "$DCR" attest verify --evidence "$T/tdx.ev" --type azure-tdx-vtpm
expect_exit 3 '--type azure-snp-vtpm given, but the evidence is azure-tdx-vtpm' \
  "verify --type azure-snp-vtpm: refused" \
  "$DCR" attest verify --evidence "$T/tdx.ev" --type azure-snp-vtpm
expect_exit 4 'nonce \(extraData\) mismatch' "verify: wrong nonce caught first" \
  "$DCR" attest verify --evidence "$T/tdx.ev" --nonce "${RD/cd/ce}"
# the parts as separate files: bare HCL report, raw TPMS_ATTEST + signature, TD quote
python3 - "$T/tdx.ev" "$T/tpm.quote" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read(); items, off = {}, 12
while off < len(d):
    tag, n = struct.unpack("<HI", d[off:off + 6]); items[tag] = d[off + 6:off + 6 + n]; off += 6 + n
open(sys.argv[2], "wb").write(items[3] + items[4])
PY
expect_exit 3 'azure-tdx-vtpm: no TD quote' "bare HCL report without --td-quote" \
  "$DCR" attest verify --evidence "$T/hcl.bin" --quote "$T/tpm.quote" --nonce "$RD"
expect_exit 4 'tdx: PCK chain does not lead to the pinned Intel SGX Root CA' \
  "bare HCL report + --quote + --td-quote: refused at the PCK chain" \
  "$DCR" attest verify --evidence "$T/hcl.bin" --quote "$T/tpm.quote" --nonce "$RD" \
  --td-quote "$T/imds-good/quote.bin"
"$DCR" attest verify --evidence "$T/hcl.bin" >"$T/.out" 2>"$T/.err"
[[ $? -eq 3 ]] && grep -q 'azure-vtpm: no TPM quote' "$T/.err" &&
  ok "bare HCL report recognised as Azure, asks for the TPM quote" ||
  bad "bare HCL report ($(cat "$T/.err"))"
# a genuine Azure TD quote of another TD: its Intel chain passes, but it is not this TDREPORT's
cp "$ROOT/tests/data/attestation/tdx/azure-td_quote_v4.dat" "$T/other.quote"
python3 - "$T/tdx.ev" "$T/other.quote" "$T/swapped.ev" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read(); q = open(sys.argv[2], "rb").read()
out, off = d[:12], 12
while off < len(d):
    tag, n = struct.unpack("<HI", d[off:off + 6]); body = d[off + 6:off + 6 + n]; off += 6 + n
    if tag == 6: body = q
    out += struct.pack("<HI", tag, len(body)) + body
open(sys.argv[3], "wb").write(out)
PY
expect_exit 4 "TDREPORT does not match the TD quote \(TEE_TCB_SVN differs\)" \
  "genuine quote of another TD refused: TDREPORT mismatch" \
  "$DCR" attest verify --evidence "$T/swapped.ev" --nonce "$RD"

# hostile or broken IMDS: refused by name, no evidence written
for m in garbage oversized error; do
  start_imds $m
  case $m in
    garbage) want='imds: answer is not a JSON object' ;;
    oversized) want='imds: answer from .* is over the [0-9]+-byte limit' ;;
    error) want='imds: .* answered HTTP 500' ;;
  esac
  expect_exit 3 "$want" "IMDS $m refused" "$DCR" attest evidence --tee azure-vtpm --tcti "$TCTI" \
    --imds "$URL" --report-data "$RD" --out "$T/$m.ev"
  [ ! -e "$T/$m.ev" ] && ok "IMDS $m: no evidence file" || bad "IMDS $m: no evidence file"
done
start_imds slow
s=$SECONDS
expect_exit 3 'imds: .* did not answer in time' "IMDS too slow: timeout" \
  "$DCR" attest evidence --tee azure-vtpm --tcti "$TCTI" --imds "$URL" --imds-timeout 2 \
  --report-data "$RD" --out "$T/slow.ev"
(( SECONDS - s < 10 )) && ok "timeout honoured ($((SECONDS - s)) s)" || bad "timeout took $((SECONDS - s)) s"
kill $IMDS 2>/dev/null; wait $IMDS 2>/dev/null; IMDS=
expect_exit 3 'imds: POST http://127.0.0.1:1/acc/tdquote failed' "nobody at the IMDS address" \
  "$DCR" attest evidence --tee azure-vtpm --tcti "$TCTI" --imds http://127.0.0.1:1 \
  --report-data "$RD" --out "$T/none.ev"
expect_exit 2 'must be an http' "--imds must be a URL" \
  "$DCR" attest evidence --tee azure-vtpm --imds file:///etc/passwd --report-data "$RD" --out "$T/x.ev"
finish
