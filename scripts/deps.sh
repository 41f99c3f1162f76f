#!/usr/bin/env bash
# Makes sure the Debian packages dcr builds and tests with are installed.
# As root it installs what is missing; otherwise it names exactly what is
# missing and how to install it, and fails.
set -euo pipefail

# Build: compiler and libraries (all the Dockerfile's build stage needs:
# `scripts/deps.sh --build`). Test: clang for sanitizers and fuzzing, GNU
# time, the vTPM simulator, and podman (with runc and debootstrap) for the
# container test (tests/container/run.sh). VM: the measured image's tools. `--toolchain` prints what a
# reproducible build depends on: the compiler, binutils, libc and every
# library's headers (a newer libssl-dev alone changes the binary), as
# dpkg-query lines; the image and the container test compare them.
build_packages=(
  build-essential pkg-config
  libssl-dev libzstd-dev zlib1g-dev liblz4-dev libjansson-dev libyajl-dev
  libmicrohttpd-dev libcurl4-openssl-dev
  libpg-query-dev libprotobuf-c-dev libsqlite3-dev
  libtss2-dev
)
test_packages=(
  clang libclang-rt-14-dev openssl time
  swtpm swtpm-tools tpm2-tools
  podman runc debootstrap python3 python3-yaml sqlite3 curl zstd xz-utils
)
# Not prometheus (whose promtool also checks GET /metrics when present):
# installing it starts a Prometheus server on port 9090 on a machine with
# systemd; tests/e2e/promcheck.py is the strict check that always runs.
# The measured VM image (scripts/vm-image.sh: `--vm` installs only these)
# and its boot test (QEMU with OVMF, swtpm as the vTPM).
vm_packages=(
  debootstrap squashfs-tools cryptsetup-bin systemd-boot-efi binutils
  dosfstools mtools fdisk cpio gzip e2fsprogs python3
  qemu-system-x86 ovmf swtpm swtpm-tools tpm2-tools
)
case "${1:-}" in
  --build) packages=("${build_packages[@]}") ;;
  --vm) packages=("${vm_packages[@]}") ;;
  --toolchain)
    headers=()
    for p in "${build_packages[@]}"; do [[ "$p" == lib* || "$p" == zlib* ]] && headers+=("$p"); done
    exec dpkg-query -W gcc-12 binutils libc6-dev "${headers[@]}"
    ;;
  # The VM image's packages (QEMU, OVMF, ...) only for `make vm-image` /
  # `vm-test`, which ask for them: make test does not boot the image.
  "") packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: scripts/deps.sh [--build | --vm | --toolchain]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "dcr: missing Debian packages: ${missing[*]}" >&2
  echo "dcr: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "dcr: installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
