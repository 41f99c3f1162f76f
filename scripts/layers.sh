#!/usr/bin/env bash
# layers.sh: the include graph between src/ pieces must be the one
# docs/architecture.md promises. The "depends on" column of its pieces table
# (| piece | `src/DIR/` | job | depends on |) is the table of allowed edges:
# comma-separated piece names, each optionally followed by a note in
# parentheses, or "libc" alone. A piece may include its own headers and
# those of the pieces it lists; any other #include "DIR/..." fails, naming
# the file, and so does a listed edge the code no longer uses (the table
# must not promise more than the code needs). Run by `make layers` and
# `make test`; prints "N passed, N failed" last like every test.
set -u
cd "$(dirname "$0")/.."
doc=docs/architecture.md
declare -A allowed used
pieces=()
bad=0 good=0
fail() { echo "not ok $*"; bad=$((bad + 1)); }

while IFS= read -r line; do
  [[ $line =~ ^\|\ *([a-z]+)\ *\|\ *\`src/([a-z]+)/\`\ *\|.*\|\ *([^|]*)\|\ *$ ]] || continue
  piece=${BASH_REMATCH[2]} deps=${BASH_REMATCH[3]}
  [[ ${BASH_REMATCH[1]} == "$piece" ]] || fail "$doc: row ${BASH_REMATCH[1]} names directory src/$piece/"
  pieces+=("$piece")
  allowed[$piece]=" "
  deps=$(sed 's/([^)]*)//g' <<<"$deps")
  IFS=',' read -ra items <<<"$deps"
  for item in "${items[@]}"; do
    item=$(xargs <<<"$item")
    [[ -z $item || $item == libc ]] && continue
    allowed[$piece]+="$item "
  done
done <"$doc"

[[ ${#pieces[@]} -gt 0 ]] || { fail "$doc: no pieces table found"; echo "0 passed, 1 failed"; exit 1; }
for p in "${pieces[@]}"; do
  for d in ${allowed[$p]}; do
    [[ -n ${allowed[$d]+x} ]] || fail "$doc: $p depends on '$d', which is not a piece"
  done
done
for dir in src/*/; do
  p=$(basename "$dir")
  [[ -n ${allowed[$p]+x} ]] || { fail "src/$p/ is not in $doc's pieces table"; continue; }
  for f in "$dir"*.[ch]; do
    while read -r t; do
      [[ $t == "$p" ]] && continue
      if [[ ${allowed[$p]} == *" $t "* ]]; then used[$p:$t]=1
      else fail "$f includes $t/ but $doc does not list $t under $p's dependencies"; fi
    done < <(sed -n 's|^#include "\([a-z_]*\)/.*|\1|p' "$f" | sort -u)
  done
done
for p in "${pieces[@]}"; do
  for d in ${allowed[$p]}; do
    [[ -n ${used[$p:$d]+x} ]] || fail "$doc lists $d under $p's dependencies, but no file of src/$p/ includes it"
  done
  good=$((good + 1))
done
[[ $bad -eq 0 ]] && echo "ok   include graph matches $doc (${#pieces[@]} pieces)"
echo "$good passed, $bad failed"
[[ $bad -eq 0 ]]
