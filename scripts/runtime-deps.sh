#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries a binary
# links (ldd, then dpkg -S), one per line, without libc6 (every image has
# it). The Dockerfile's runtime stage installs exactly these, so the slim
# image follows the Makefile's LIBS without a second list to keep in step.
# Libraries loaded with dlopen (tpm2-tss's TCTI modules) come in as
# dependencies of the packages found here.
set -euo pipefail
bin=${1:?usage: scripts/runtime-deps.sh BINARY}
owner() { # a library path -> its package; /lib and /usr/lib are one (usrmerge)
  local p=$1 real
  real=$(readlink -f "$p")
  for c in "$p" "$real" "${real#/usr}" "/usr${p}"; do
    if out=$(dpkg -S "$c" 2>/dev/null); then
      echo "${out%%:*}"
      return 0
    fi
  done
  echo "runtime-deps: no Debian package owns $p" >&2
  return 1
}
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
  owner "$lib"
done | sort -u | grep -vx 'libc6'
