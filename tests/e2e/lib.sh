# Shared helpers for end-to-end tests: source it, call `check`, `expect_exit`
# and finally `finish`. $DCR is the binary under test; each test gets a fresh
# scratch directory $T that is removed at exit.
set -u
DCR=${DCR:-build/dcr}
DCR=$(cd "$(dirname "$DCR")" && pwd)/$(basename "$DCR")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
_pass=0
_fail=0

ok() { _pass=$((_pass + 1)); echo "ok   $*"; }
bad() { _fail=$((_fail + 1)); echo "not ok $*"; }

# check DESCRIPTION COMMAND...: passes when the command exits 0.
check() {
  local what=$1; shift
  if "$@" >"$T/.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$T/.out" | head -20; fi
}

# expect_exit CODE PATTERN DESCRIPTION COMMAND...: passes when the command
# exits with CODE and its stderr matches the grep -E PATTERN.
expect_exit() {
  local code=$1 pattern=$2 what=$3; shift 3
  "$@" >"$T/.out" 2>"$T/.err"; local rc=$?
  if [[ $rc -eq $code ]] && grep -qE -- "$pattern" "$T/.err"; then ok "$what"
  else bad "$what (exit $rc, want $code; stderr: $(head -c 300 "$T/.err"))"; fi
}

# flip_bit FILE OFFSET [BIT]: inverts one bit of FILE in place. A tamper test
# must change the byte it targets; writing a fixed byte leaves the file intact
# whenever that byte already held the value (1 time in 256 on ciphertext).
flip_bit() {
  local file=$1 pos=$2 bit=${3:-0} byte
  byte=$(od -An -tu1 -j "$pos" -N1 "$file" | tr -d ' ')
  [[ -n $byte ]] || { echo "flip_bit: $file has no byte at $pos" >&2; return 1; }
  printf "$(printf '\\%03o' $((byte ^ (1 << bit))))" | dd of="$file" bs=1 seek="$pos" conv=notrunc status=none
}

finish() {
  echo "$_pass passed, $_fail failed"
  [[ $_fail -eq 0 ]]
}
