#!/usr/bin/env bash
# Checks that build/dcr is reproducible: copies the tree's build inputs
# (Makefile, scripts/, src/) to two fresh directories whose paths differ in
# name and length, builds build/dcr in each with a different umask, time
# zone and locale, and compares the SHA-384 of all three binaries (this
# tree's build/dcr too). In sim mode that hash is the measurement parties
# pin (src/attest/sim.c), so it must not depend on where or when one builds.
# Prints the hash; exits 1 (naming the differing objects) if they differ,
# or if this tree's build/dcr is stale (built from other sources or flags).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
[[ -x build/dcr ]] || { echo "reproducible-check: build/dcr missing (run make build/dcr)" >&2; exit 2; }
work=$(mktemp -d /tmp/dcr-repro-XXXXXX)
trap 'rm -rf "$work"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)

build_copy() { # dir umask TZ
  local dir=$1
  mkdir -p "$dir"
  tar -C "$here" -cf - Makefile scripts src | tar -C "$dir" -xf -
  mkdir -p "$dir/build" && touch "$dir/build/.deps-ok" # deps are this machine's, checked above
  (cd "$dir" && umask "$2" && TZ=$3 LC_ALL=C nice -n 10 make -s -j"$jobs" build/dcr >"$dir.log" 2>&1) ||
    { echo "reproducible-check: build in $dir failed:" >&2; tail -n 20 "$dir.log" >&2; exit 1; }
}
build_copy "$work/a" 022 UTC
build_copy "$work/a-much-longer-directory-name/b" 077 Pacific/Auckland

h0=$(sha384sum build/dcr | cut -d' ' -f1)
h1=$(sha384sum "$work/a/build/dcr" | cut -d' ' -f1)
h2=$(sha384sum "$work/a-much-longer-directory-name/b/build/dcr" | cut -d' ' -f1)
echo "build/dcr SHA-384 (sim measurement): $h1"
if [[ "$h1" == "$h2" ]]; then
  echo "reproducible: 2 fresh builds in different directories, identical"
  if [[ "$h0" != "$h1" ]]; then
    echo "note: this tree's build/dcr differs ($h0): it was built from other sources or" \
      "flags than the tree has now (make clean && make rebuilds it)" >&2
    exit 1
  fi
  echo "and identical to this tree's build/dcr"
  exit 0
fi
echo "NOT reproducible:" >&2
echo "  $h1  $work/a/build/dcr" >&2
echo "  $h2  $work/a-much-longer-directory-name/b/build/dcr" >&2
for o in $(cd "$work/a" && find build/obj -name '*.o' | sort); do
  cmp -s "$work/a/$o" "$work/a-much-longer-directory-name/b/$o" || echo "  differs: $o" >&2
done
exit 1
