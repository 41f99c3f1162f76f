# swtpm provisioned the way Azure provisions a confidential VM's vTPM, for
# the Azure vTPM e2e tests: source it after lib.sh, then
#   swtpm_start              -> $TCTI, $TPM2TOOLS_TCTI, $SWTPM (pid); fails the test if it cannot
#   swtpm_provision_ak       -> RSA AK persisted at 0x81000003, its public key in $T/ak.pem
#   swtpm_runtime_json RD    -> $T/runtime.json: Azure's runtime JSON with that AK and user-data RD
#   swtpm_put_hcl FILE       -> FILE in NV index 0x01400001 (the HCL report)
# The caller's EXIT trap should kill $SWTPM.

# Under load (parallel builds, other suites' servers) a random port may be
# taken and swtpm may be slow to listen: take a port pair nobody listens on,
# give swtpm 20 s to answer, and try another pair if it died.
swtpm_start() {
  if ! command -v swtpm >/dev/null || ! command -v tpm2_createprimary >/dev/null; then
    bad "swtpm and tpm2-tools are needed (scripts/deps.sh installs them)"; finish; exit 1
  fi
  mkdir -p "$T/tpm"
  SWTPM=
  local p
  port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  for _ in 1 2 3 4 5; do
    p=$((20000 + RANDOM % 20000))
    port_free $p && port_free $((p + 1)) || continue
    swtpm socket --tpm2 --server type=tcp,port=$p,bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((p + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
      --tpmstate dir="$T/tpm" >"$T/swtpm.log" 2>&1 &
    SWTPM=$!
    export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$p"
    for _ in $(seq 200); do
      tpm2_getrandom 4 >/dev/null 2>&1 && break 2
      kill -0 $SWTPM 2>/dev/null || break
      sleep 0.1
    done
    kill $SWTPM 2>/dev/null; wait $SWTPM 2>/dev/null; SWTPM=
  done
  [ -n "$SWTPM" ] && ok "swtpm answers on port $p" ||
    { bad "swtpm did not start ($(tail -2 "$T/swtpm.log"))"; finish; exit 1; }
  TCTI=$TPM2TOOLS_TCTI
}

_tpm2() { "$@" >>"$T/tpm2.log" 2>&1; }

swtpm_provision_ak() {
  _tpm2 tpm2_createprimary -C o -g sha256 -G rsa2048:rsassa-sha256:null \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda" -c "$T/ak.ctx" &&
  _tpm2 tpm2_evictcontrol -C o -c "$T/ak.ctx" 0x81000003 &&
  _tpm2 tpm2_readpublic -c 0x81000003 -f pem -o "$T/ak.pem" && ok "swtpm: AK persisted at 0x81000003" ||
    bad "swtpm: AK persisted at 0x81000003 ($(tail -3 "$T/tpm2.log"))"
}

swtpm_runtime_json() {
  local n
  n=$(openssl rsa -pubin -in "$T/ak.pem" -modulus -noout | sed 's/Modulus=//' |
      perl -ne 'chomp; print pack("H*", $_)' | basenc --base64url -w0 | tr -d '=')
  printf '%s' "{\"keys\":[{\"kid\":\"HCLAkPub\",\"key_ops\":[\"sign\"],\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"$n\"}],\"user-data\":\"${1^^}\"}" \
    >"$T/runtime.json"
}

swtpm_put_hcl() {
  local hs
  hs=$(stat -c %s "$1")
  _tpm2 tpm2_nvdefine 0x01400001 -C o -s "$hs" -a "ownerread|ownerwrite|authread|authwrite" &&
  _tpm2 tpm2_nvwrite 0x01400001 -C o -i "$1" && ok "swtpm: synthetic HCL report in NV 0x01400001" ||
    bad "swtpm: synthetic HCL report in NV 0x01400001 ($(tail -3 "$T/tpm2.log"))"
}
