#!/usr/bin/env bash
# Boots dcr's measured VM image (scripts/vm-image.sh) under QEMU with
# software emulation (TCG; KVM when /dev/kvm exists), OVMF and swtpm as its
# vTPM, with a data disk holding a signed contract; checks that the dm-verity
# root opens, systemd starts dcr-serve.service and `dcr serve` runs, then
# that a copy of the image with one bit flipped in its root file system does
# not come up. Not part of `make test` (named vm_*.sh, not test_*.sh): run
# it with `make vm-test`. Usage: tests/e2e/vm_boot.sh [VM_DIR (build/vm)].
# The consoles and QEMU's and swtpm's logs are kept in build/vm-test/.
source "$(dirname "$0")/lib.sh"
VM=$(cd "${1:-$ROOT/build/vm}" && pwd)
BOOT_TIMEOUT=${DCR_VM_BOOT_TIMEOUT:-600}
SWTPM= QEMU=
LOGS=$ROOT/build/vm-test
trap '[[ -n "$QEMU" ]] && kill $QEMU 2>/dev/null; [[ -n "$SWTPM" ]] && kill $SWTPM 2>/dev/null
  mkdir -p "$LOGS" && cp "$T"/*.log "$LOGS"/ 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
for t in qemu-system-x86_64 swtpm mkfs.ext4; do
  command -v $t >/dev/null || { bad "$t missing (scripts/deps.sh --vm installs it)"; finish; exit 1; }
done
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
accel=tcg
[[ -w /dev/kvm ]] && accel=kvm

# The data disk: the contract and its signatures (a dev contract: the
# point here is the image, not the evidence), ext4 labelled dcr-data,
# made from a directory (mkfs.ext4 -d), no loop device.
source "$ROOT/tests/e2e/service_lib.sh"
check "keys and a signed contract" make_contract
mkdir -p data/signatures
cp c.json data/contract.json && cp pub.sig adv.sig ana.sig data/signatures/
check "the data disk (ext4, label dcr-data)" \
  mkfs.ext4 -q -L dcr-data -d data data.img 64M

# boot NAME DISK: starts swtpm and QEMU; the console goes to NAME.log.
boot() {
  local name=$1 disk=$2
  rm -rf "tpm-$name" && mkdir "tpm-$name"
  # level 20 logs every TPM command: tests/e2e/swtpm_pcrs.py replays the
  # PCR extends from it (the image has no shell to read PCRs with).
  swtpm socket --tpm2 --tpmstate dir="tpm-$name" --ctrl type=unixio,path="$T/$name.swtpm" \
    --log file="$T/swtpm-$name.log",level=20 >"swtpm-$name.out" 2>&1 &
  SWTPM=$!
  for _ in $(seq 50); do [[ -S "$T/$name.swtpm" ]] && break; sleep 0.1; done
  cp "$OVMF_VARS" "vars-$name.fd"
  HOSTPORT=$((20000 + RANDOM % 20000))
  # -nodefaults and no option ROM on the NIC: the image's disk is the only
  # boot option, so PCR 4 holds the events vm-pcrs.sh predicts.
  qemu-system-x86_64 -machine q35,accel=$accel -m 1024 -smp 1 -nodefaults -display none -no-reboot \
    -drive if=pflash,format=raw,readonly=on,file="$OVMF_CODE" \
    -drive if=pflash,format=raw,file="vars-$name.fd" \
    -drive file="$disk",if=none,id=os,format=raw,snapshot=on -device virtio-blk-pci,drive=os,bootindex=0 \
    -drive file=data.img,if=none,id=data,format=raw -device virtio-blk-pci,drive=data \
    -chardev socket,id=chrtpm,path="$T/$name.swtpm" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device tpm-crb,tpmdev=tpm0 \
    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$HOSTPORT-:8443 -device virtio-net-pci,netdev=n0,romfile= \
    -serial file:"$name.log" >"qemu-$name.log" 2>&1 &
  QEMU=$!
}
# wait_for NAME PATTERN: until the console shows PATTERN, QEMU exits, or
# BOOT_TIMEOUT; 0 when the pattern showed.
wait_for() {
  local i
  for i in $(seq "$BOOT_TIMEOUT"); do
    grep -qE -- "$2" "$1.log" 2>/dev/null && return 0
    grep -qa "Failed to start .*dcr-serve" "$1.log" 2>/dev/null && return 1
    kill -0 $QEMU 2>/dev/null || { grep -qE -- "$2" "$1.log" 2>/dev/null; return; }
    sleep 1
  done
  return 1
}
halt() {
  kill $QEMU 2>/dev/null; wait $QEMU 2>/dev/null; QEMU=
  kill $SWTPM 2>/dev/null; wait $SWTPM 2>/dev/null; SWTPM=
}

start=$(date +%s)
boot good "$VM/disk.raw"
check "the initrd opens the dm-verity root" wait_for good 'dcr-initrd: root .*root hash'
check "systemd runs from the verity root" wait_for good 'systemd\[1\]|Welcome to|Reached target'
# dcr serve --tee auto prints one line per backend it probes.
check "dcr-serve.service runs dcr serve --tee auto" wait_for good 'azure-vtpm +(chosen|skipped)'
echo "# boot to dcr serve: $(($(date +%s) - start)) s ($accel)"
check "no login prompt on the console" bash -c '! grep -qiE "login:|getty" good.log'
halt
# The PCRs the boot produced (replayed from swtpm's command log) against
# the build's predictions.
python3 "$ROOT/tests/e2e/swtpm_pcrs.py" swtpm-good.log 4 11 >booted-pcrs.json
echo "# booted PCRs: $(cat booted-pcrs.json)"
export VM
pcr_is() { # INDEX: the booted value equals pcrs.json's
  python3 -c 'import json,sys
b = json.load(open("booted-pcrs.json")); p = json.load(open(sys.argv[1]))["pcrs"]
sys.exit(0 if b[sys.argv[2]] == p[sys.argv[2]] else 1)' "$VM/pcrs.json" "$1"
}
check "PCR 11 as booted = the predicted PCR 11 (systemd-stub: UKI sections)" pcr_is 11
check "PCR 4 as booted = the predicted PCR 4 (OVMF: the UKI's Authenticode hash)" pcr_is 4
export -f pcr_is
sed 's/^/    console: /' good.log | tail -n 40

# init=/bin/sh added to the UKI's command line: the initrd ignores init=
# (it always hands over to systemd), so the image comes up as before, but
# PCR 11 is not the predicted value any more: a verifier pinning PCR 11
# refuses it (the refusal itself needs evidence[].pcrs, issue 19).
objcopy --remove-section .cmdline "$VM/uki.efi" uki-initsh.efi
printf '%s init=/bin/sh' "$(cat "$VM/cmdline")" >cmdline-initsh
objcopy --add-section .cmdline=cmdline-initsh --change-section-vma .cmdline=0x30000 \
  uki-initsh.efi uki-initsh2.efi
cp "$VM/disk.raw" initsh.raw
check "the command line with init=/bin/sh in a copy of the image" \
  mcopy -o -i initsh.raw@@1M uki-initsh2.efi ::/EFI/BOOT/BOOTX64.EFI
boot initsh initsh.raw
wait_for initsh 'azure-vtpm +(chosen|skipped)|dcr-initrd: .*powering off'
halt
python3 "$ROOT/tests/e2e/swtpm_pcrs.py" swtpm-initsh.log 4 11 >booted-pcrs.json
echo "# booted PCRs with init=/bin/sh: $(cat booted-pcrs.json)"
check "init=/bin/sh: PCR 11 differs from the prediction" bash -c '! pcr_is 11'
check "init=/bin/sh: no shell on the console" bash -c '! grep -qaE "^(# |sh-[0-9.]+# )" initsh.log'

# One bit flipped in the root file system's first 4 KiB block (past the
# squashfs superblock, so the file system itself would not notice; every
# mount reads that block): dm-verity must refuse it.
root_off=$(sfdisk -J "$VM/disk.raw" | python3 -c 'import json,sys
p=[p for p in json.load(sys.stdin)["partitiontable"]["partitions"] if p.get("name")=="dcr-root"][0]
print(p["start"]*512)')
cp "$VM/disk.raw" tampered.raw
check "one bit flipped in the root file system" flip_bit tampered.raw $((root_off + 2048))
start=$(date +%s)
boot tampered tampered.raw
wait_for tampered 'dcr-serve.service|Started .*dcr' && came_up=1 || came_up=0
check "the tampered image does not bring dcr up (dm-verity)" \
  bash -c "[[ $came_up -eq 0 ]] && grep -qiE 'verity|corrupt|I/O error|panic|powering off' tampered.log"
echo "# tampered boot: $(($(date +%s) - start)) s"
halt
sed 's/^/    console: /' tampered.log | grep -iE 'verity|corrupt|error|panic|power' | head -n 20
finish
