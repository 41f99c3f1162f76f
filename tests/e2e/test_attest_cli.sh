#!/usr/bin/env bash
# dcr attest through the real binary: sim evidence round trip; genuine SEV-SNP,
# TDX and Azure evidence (tests/data/attestation) verifying; PCR pinning
# (--pcr) on the genuine Azure vTPM evidence; refusals naming the failed
# check with exit 4; and the Azure vTPM producer end to end
# against swtpm, provisioned the way Azure does (AK at 0x81000003, HCL report
# in NV 0x01400001). The HCL report put into swtpm is SYNTHETIC: a genuine
# SNP report with our own runtime JSON (swtpm's AK), so every check up to the
# runtime-data binding passes and the binding check must refuse it.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data/attestation
[[ -f $D/sev-snp/attestation.bin ]] || { bad "test data missing: $D"; finish; exit 1; }
RD=$(printf '%0128x' 0 | sed 's/^00/ab/')

# sim
check "sim evidence" "$DCR" attest evidence --tee sim --report-data "$RD" --out "$T/sim.ev"
check "sim verifies" "$DCR" attest verify --evidence "$T/sim.ev" --report-data "$RD"
"$DCR" attest verify --evidence "$T/sim.ev" >"$T/sim.json" 2>"$T/sim.err"
if grep -q '"marker": "simulated, insecure"' "$T/sim.json" && grep -q '"type": "sim"' "$T/sim.json" &&
   grep -q 'simulated, insecure' "$T/sim.err"; then ok "sim claims carry the insecure marker"
else bad "sim claims carry the insecure marker"; fi
expect_exit 4 'policy: report data mismatch' "sim: wrong report data" \
  "$DCR" attest verify --evidence "$T/sim.ev" --report-data "$(printf '%0128x' 1)"
expect_exit 2 'report-data' "evidence: bad report data" \
  "$DCR" attest evidence --tee sim --report-data abc --out "$T/x.ev"
expect_exit 3 'no hardware TEE' "auto: nothing here, explains" \
  "$DCR" attest evidence --tee auto --tcti device:/nonexistent --report-data "$RD" --out "$T/x.ev"
grep -q 'sev-snp' "$T/.err" && grep -q 'azure-vtpm' "$T/.err" && ok "auto names every backend" ||
  bad "auto names every backend"
expect_exit 2 'privlevel must be 0, 1, 2 or 3' "evidence: bad --privlevel" \
  "$DCR" attest evidence --tee sev-snp --privlevel 4 --report-data "$RD" --out "$T/x.ev"
mkdir "$T/cfs"
expect_exit 3 "configfs-tsm $T/cfs unusable" "sev-snp: --configfs and --sev-guest are where it looks" \
  "$DCR" attest evidence --tee sev-snp --configfs "$T/cfs" --sev-guest "$T/no-sev-guest" \
  --report-data "$RD" --out "$T/x.ev"
[ -z "$(ls -A "$T/cfs")" ] && ok "configfs: no report entry left behind" ||
  bad "configfs: no report entry left behind"

# genuine evidence
check "SNP Milan VCEK" "$DCR" attest verify --evidence "$D/sev-snp/attestation.bin" \
  --certs "$D/sev-snp/vcek.testcer" --allow-debug \
  --report-data "0102030405$(printf '%0118x' 0)"
check "SNP trustee VCEK" "$DCR" attest verify --evidence "$D/sev-snp/trustee-test-report.bin" \
  --certs "$D/sev-snp/trustee-test-vcek.der" --type snp
check "SNP VLEK at a time it was valid" "$DCR" attest verify \
  --evidence "$D/sev-snp/trustee-test-vlek-report.bin" --certs "$D/sev-snp/trustee-test-vlek.der" \
  --at 2025-06-01T00:00:00Z
for q in tdx_prod_quote_SPR_E4.dat quote_v5_sample.dat azure-td_quote_v4.dat azure-td_quote_v5.dat; do
  check "TDX $q" "$DCR" attest verify --evidence "$D/tdx/$q"
done
check "TDX with CRL" "$DCR" attest verify --evidence "$D/tdx/tdx_prod_quote_SPR_E4.dat" \
  --certs "$D/tdx/pckcrl" --at 2023-06-20T00:00:00Z
check "Azure SNP vTPM" "$DCR" attest verify --evidence "$D/azure-snp-vtpm/hcl-report.bin" \
  --certs "$D/azure-snp-vtpm/vcek.pem" --quote "$D/azure-snp-vtpm/quote.bin" --nonce 6368616c6c656e6765
check "Azure evidence-v1 bundle" "$DCR" attest verify --evidence "$D/azure-snp-vtpm/evidence-v1.json"

# refusals
expect_exit 4 'policy: debug is allowed by the guest policy' "SNP debug policy" \
  "$DCR" attest verify --evidence "$D/sev-snp/attestation.bin" --certs "$D/sev-snp/vcek.testcer"
expect_exit 4 'certificate has expired' "SNP expired VLEK without --at" \
  "$DCR" attest verify --evidence "$D/sev-snp/trustee-test-vlek-report.bin" \
  --certs "$D/sev-snp/trustee-test-vlek.der"
expect_exit 4 'VCEK hwID does not match CHIP_ID' "SNP other chip's VCEK" \
  "$DCR" attest verify --evidence "$D/sev-snp/trustee-test-report.bin" --certs "$D/sev-snp/vcek.testcer"
expect_exit 4 'sev-snp: VCEK chain does not lead' "SNP corrupted VCEK" \
  "$DCR" attest verify --evidence "$D/sev-snp/trustee-test-report.bin" \
  --certs "$D/sev-snp/trustee-test-vcek-invalid-new.der"
cp "$D/sev-snp/trustee-test-report.bin" "$T/flip.bin"; chmod u+w "$T/flip.bin"
flip_bit "$T/flip.bin" $((0x90))
expect_exit 4 'report signature does not verify with the VCEK' "SNP flipped measurement" \
  "$DCR" attest verify --evidence "$T/flip.bin" --certs "$D/sev-snp/trustee-test-vcek.der"
expect_exit 4 'policy: measurement is not an accepted measurement' "TDX wrong measurement" \
  "$DCR" attest verify --evidence "$D/tdx/azure-td_quote_v4.dat" --measurement "$(printf '%096x' 7)"
cp "$D/tdx/azure-td_quote_v5.dat" "$T/tdx.dat"; chmod u+w "$T/tdx.dat"
flip_bit "$T/tdx.dat" 200
expect_exit 4 'tdx: quote signature does not verify' "TDX flipped body" \
  "$DCR" attest verify --evidence "$T/tdx.dat"
expect_exit 4 'nonce \(extraData\) mismatch' "Azure wrong nonce" \
  "$DCR" attest verify --evidence "$D/azure-snp-vtpm/hcl-report.bin" \
  --certs "$D/azure-snp-vtpm/vcek.pem" --quote "$D/azure-snp-vtpm/quote.bin" --nonce 6368616c6c656e6766
# PCR pinning on the genuine Azure SNP vTPM evidence: quote.bin's PCR 4
# and 7 pass, evidence-v1.json's PCR 4 (another VM) is refused with both
# values; pins on evidence without a vTPM are refused, never ignored.
QPCR4=1d3b1cb141906329dd8ab09584214a88dffaf839ed14c8ef677a6bcf6ea27a02
QPCR7=32fe42b385b47cb22c906b8a7e4f134e9f2270818f90e94072d1101ef72f1c00
BPCR4=eee70c86ea856a27719a2127d6090f02e100e2947c16a0d6a355f7294382992f
AZQ=(--evidence "$D/azure-snp-vtpm/hcl-report.bin" --certs "$D/azure-snp-vtpm/vcek.pem"
  --quote "$D/azure-snp-vtpm/quote.bin" --nonce 6368616c6c656e6765)
if "$DCR" attest verify "${AZQ[@]}" --pcr "4=$QPCR4" --pcr "7=$QPCR7" >"$T/pcr.json" 2>"$T/pcr.err" &&
   tr -d ' \n' <"$T/pcr.json" | grep -q '"tpm_pcrs_pinned":\[4,7\]'; then ok "Azure SNP vTPM: pinned PCRs 4 and 7 match"
else bad "Azure SNP vTPM: pinned PCRs 4 and 7 match ($(head -c 300 "$T/pcr.err"))"; fi
grep -q 'proves PCRs 4, 7 match --pcr: the pinned image booted on genuine AMD SEV-SNP (Azure' "$T/pcr.err" &&
  ok "verify says what pinned PCRs prove" || bad "verify says what pinned PCRs prove ($(cat "$T/pcr.err"))"
"$DCR" attest verify "${AZQ[@]}" >/dev/null 2>"$T/nopcr.err"
grep -q 'but only the platform: .* the code that booted is NOT proven' "$T/nopcr.err" &&
  ok "verify says plainly that without pins only the platform is proven" ||
  bad "verify without pins: only the platform ($(cat "$T/nopcr.err"))"
expect_exit 4 "azure-vtpm: PCR 4 mismatch: expected $BPCR4, got $QPCR4" \
  "Azure SNP vTPM: wrong PCR 4 named with both values" \
  "$DCR" attest verify "${AZQ[@]}" --pcr "7=$QPCR7" --pcr "4=$BPCR4"
check "Azure evidence-v1 bundle: its own PCR 4" "$DCR" attest verify \
  --evidence "$D/azure-snp-vtpm/evidence-v1.json" --pcr "4=$BPCR4"
expect_exit 4 'PCR 4 mismatch' "Azure evidence-v1 bundle: the other VM's PCR 4 refused" \
  "$DCR" attest verify --evidence "$D/azure-snp-vtpm/evidence-v1.json" --pcr "4=$QPCR4"
expect_exit 4 'PCRs are pinned, but snp evidence has no vTPM quote' "SNP: --pcr refused without a vTPM" \
  "$DCR" attest verify --evidence "$D/sev-snp/attestation.bin" --certs "$D/sev-snp/vcek.testcer" \
  --allow-debug --pcr "4=$QPCR4"
expect_exit 2 'is not N=HEX' "--pcr 24 refused" "$DCR" attest verify "${AZQ[@]}" --pcr "24=$QPCR4"
expect_exit 2 'is not N=HEX' "--pcr short value refused" "$DCR" attest verify "${AZQ[@]}" --pcr 4=1d3b
expect_exit 2 'is not N=HEX' "--pcr twice refused" \
  "$DCR" attest verify "${AZQ[@]}" --pcr "4=$QPCR4" --pcr "4=$QPCR4"
expect_exit 3 'unrecognised' "junk evidence" "$DCR" attest verify --evidence "$D/README.md"
expect_exit 2 'RFC 3339' "bad --at" "$DCR" attest verify --evidence "$T/sim.ev" --at yesterday

# Azure vTPM producer against swtpm
. "$(dirname "$0")/swtpm_lib.sh"
SWTPM=
trap 'kill $SWTPM 2>/dev/null; rm -rf "$T"' EXIT
swtpm_start
swtpm_provision_ak
# synthetic HCL report: genuine SNP report + runtime JSON with swtpm's AK
swtpm_runtime_json "$RD"
jl=$(stat -c %s "$T/runtime.json")
perl -e 'print pack("a4VVVVx12", "HCLA", 1, 1236 + $ARGV[0], 2, 0)' "$jl" >"$T/hcl.bin"
dd if="$D/azure-snp-vtpm/hcl-report.bin" bs=1 skip=32 count=1184 2>/dev/null >>"$T/hcl.bin"
perl -e 'print pack("VVVVV", 20 + $ARGV[0], 1, 2, 1, $ARGV[0])' "$jl" >>"$T/hcl.bin"
cat "$T/runtime.json" >>"$T/hcl.bin"
swtpm_put_hcl "$T/hcl.bin"
check "azure-vtpm evidence from swtpm" "$DCR" attest evidence --tee azure-vtpm --tcti "$TCTI" \
  --report-data "$RD" --out "$T/az.ev"
"$DCR" attest evidence --tee auto --tcti "$TCTI" --report-data "$RD" --out "$T/az2.ev" 2>"$T/auto.err"
grep -q 'azure-vtpm chosen: .* SEV-SNP)' "$T/auto.err" && ok "auto chooses azure-vtpm and says why (SEV-SNP)" ||
  bad "auto chooses azure-vtpm ($(cat "$T/auto.err"))"
tpm2_nvread 0x01400002 -C o -s 64 2>/dev/null | od -An -v -tx1 | tr -d ' \n' >"$T/nv2.hex"
[[ $(cat "$T/nv2.hex") == "$RD" ]] && ok "report data written to NV 0x01400002" ||
  bad "report data written to NV 0x01400002 ($(cat "$T/nv2.hex"))"
# Quote signature by the AK, nonce, PCR digest and the SNP report all pass;
# only the binding of the synthetic runtime JSON must fail.
expect_exit 4 'REPORT_DATA does not bind the HCL runtime data' "swtpm evidence: all TPM checks pass, synthetic binding refused" \
  "$DCR" attest verify --evidence "$T/az.ev" --certs "$D/azure-snp-vtpm/vcek.pem" --nonce "$RD"
expect_exit 4 'nonce \(extraData\) mismatch' "swtpm evidence: wrong nonce" \
  "$DCR" attest verify --evidence "$T/az.ev" --certs "$D/azure-snp-vtpm/vcek.pem" --nonce "${RD/ab/ac}"
cp "$T/az.ev" "$T/az-bad.ev"
sz=$(stat -c %s "$T/az-bad.ev")
flip_bit "$T/az-bad.ev" $((sz - 100))
expect_exit 4 'PCR digest does not match' "swtpm evidence: tampered PCR value" \
  "$DCR" attest verify --evidence "$T/az-bad.ev" --certs "$D/azure-snp-vtpm/vcek.pem"
# A live PCR: extend PCR 16 with a known digest, take evidence, pin the
# value recomputed here. The pin passes (the verifier goes on to the
# synthetic binding, which must fail); a wrong value is refused first.
EXT=$(printf 'dcr image' | sha256sum | cut -c1-64)
PCR16=$(perl -e 'print pack("H*", "0" x 64 . $ARGV[0])' "$EXT" | sha256sum | cut -c1-64)
tpm2_pcrextend "16:sha256=$EXT" >/dev/null 2>&1 || bad "tpm2_pcrextend 16"
check "azure-vtpm evidence after extending PCR 16" "$DCR" attest evidence --tee azure-vtpm \
  --tcti "$TCTI" --report-data "$RD" --out "$T/az16.ev"
expect_exit 4 'REPORT_DATA does not bind the HCL runtime data' "swtpm evidence: pinned PCR 16 matches" \
  "$DCR" attest verify --evidence "$T/az16.ev" --certs "$D/azure-snp-vtpm/vcek.pem" --nonce "$RD" \
  --pcr "16=$PCR16"
expect_exit 4 "PCR 16 mismatch: expected $EXT, got $PCR16" "swtpm evidence: wrong PCR 16 refused" \
  "$DCR" attest verify --evidence "$T/az16.ev" --certs "$D/azure-snp-vtpm/vcek.pem" --nonce "$RD" \
  --pcr "16=$EXT"
# SEV-SNP and TDX producers through the real binary. This machine has no
# TEE: each must refuse and name every interface it looked for. (On a real
# guest they produce evidence instead; the unit tests drive them with
# genuine recorded reports through a fake configfs-tsm tree.)
if [[ ! -e /sys/kernel/config/tsm/report && ! -e /dev/sev-guest ]]; then
  expect_exit 3 'sev-snp: not an SEV-SNP guest here: configfs-tsm /sys/kernel/config/tsm/report absent; /dev/sev-guest absent' \
    "sev-snp without hardware: names configfs-tsm and /dev/sev-guest" \
    "$DCR" attest evidence --tee sev-snp --report-data "$RD" --out "$T/snp.ev"
  expect_exit 3 'tdx: not a TDX guest here: configfs-tsm /sys/kernel/config/tsm/report absent; /dev/tdx_guest' \
    "tdx without hardware: names configfs-tsm" \
    "$DCR" attest evidence --tee tdx --report-data "$RD" --out "$T/tdx.ev"
  [[ ! -e $T/snp.ev && ! -e $T/tdx.ev ]] && ok "no evidence file written on refusal" ||
    bad "no evidence file written on refusal"
  expect_exit 3 'no hardware TEE' "auto explains the SNP and TDX interfaces" \
    "$DCR" attest evidence --tee auto --tcti device:/nonexistent --report-data "$RD" --out "$T/x.ev"
  grep -q 'sev-snp    skipped: configfs-tsm .* absent; /dev/sev-guest absent' "$T/.err" &&
    grep -q 'tdx        skipped: configfs-tsm' "$T/.err" && ok "auto: sev-snp and tdx say what they looked for" ||
    bad "auto: sev-snp and tdx say what they looked for ($(cat "$T/.err"))"
else
  ok "SEV-SNP/TDX interfaces present: refusal checks do not apply on this machine"
fi
finish
