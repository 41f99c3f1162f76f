# swtpm for the end-to-end tests (sourced after lib.sh): start_swtpm DIR
# starts a TPM 2.0 emulator keeping its state in DIR and sets $SWTPM (pid)
# and $SWTPM_TCTI (also exported as TPM2TOOLS_TCTI for tpm2-tools); it
# returns non-zero when swtpm is missing or will not answer. stop_swtpm
# stops it. Under load a random port may be taken and swtpm slow to listen:
# take a port pair nobody listens on, give swtpm 20 s to answer, and try
# another pair if it died.
SWTPM= SWTPM_TCTI=
_port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
start_swtpm() {
  local dir=$1 p _
  command -v swtpm > /dev/null && command -v tpm2_getrandom > /dev/null || return 1
  mkdir -p "$dir"
  for _ in 1 2 3 4 5; do
    p=$((20000 + RANDOM % 20000))
    _port_free $p && _port_free $((p + 1)) || continue
    swtpm socket --tpm2 --server type=tcp,port=$p,bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((p + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
      --tpmstate dir="$dir" > "$dir.log" 2>&1 &
    SWTPM=$!
    SWTPM_TCTI="swtpm:host=127.0.0.1,port=$p"
    export TPM2TOOLS_TCTI=$SWTPM_TCTI
    for _ in $(seq 200); do
      tpm2_getrandom 4 > /dev/null 2>&1 && return 0
      kill -0 $SWTPM 2> /dev/null || break
      sleep 0.1
    done
    kill $SWTPM 2> /dev/null
    wait $SWTPM 2> /dev/null
    SWTPM=
  done
  return 1
}
stop_swtpm() {
  [[ -n "$SWTPM" ]] || return 0
  kill $SWTPM 2> /dev/null
  wait $SWTPM 2> /dev/null
  SWTPM=
}
