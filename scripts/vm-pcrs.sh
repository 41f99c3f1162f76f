#!/usr/bin/env bash
# Predicts the SHA-256 PCR values of dcr's measured VM image
# (scripts/vm-image.sh) that depend only on the image, and prints them as
# JSON (build/vm/pcrs.json).
#
#   usage: scripts/vm-pcrs.sh SECTIONS_DIR UKI ROOTHASH
#   SECTIONS_DIR holds the UKI's sections: os-release, cmdline, vmlinuz,
#   initrd.img.
#
# PCR 11: systemd-stub (systemd 252) measures each PE section it knows
# (.linux, .osrel, .cmdline, .initrd, .splash, .dtb; this UKI has the first
# four) into PCR 11: its name with the trailing NUL, then its contents, each
# as one extend. systemd-measure of the same release computes exactly that.
# The image masks systemd-pcrphase, so nothing later extends PCR 11.
#
# PCR 4 (boot-path dependent): UEFI firmware measures every EFI application
# it starts into PCR 4 as the Authenticode hash of the PE. When the firmware
# starts the UKI from the disk's fallback path (\EFI\BOOT\BOOTX64.EFI) as
# its first boot option (QEMU/OVMF with this disk first in the boot order),
# EDK2 logs: EV_EFI_ACTION "Calling EFI Application from Boot Option",
# EV_SEPARATOR (4 zero bytes), EV_EFI_BOOT_SERVICES_APPLICATION (the UKI);
# then systemd-stub 252 starts the kernel in .linux through the firmware's
# LoadImage, which measures the kernel's Authenticode hash too. Checked
# against a real boot by tests/e2e/vm_boot.sh. Every boot option tried
# before (a CD-ROM without media adds "Returning from EFI Application from
# Boot Option" and another "Calling ..."), a shim or a boot manager adds
# events: record PCR 4 once on the platform (docs/attestation.md) rather
# than trusting this prediction there.
set -euo pipefail
dir=${1:?usage: vm-pcrs.sh SECTIONS_DIR UKI ROOTHASH}
uki=${2:?}
roothash=${3:?}
here=$(cd "$(dirname "$0")" && pwd)

# --phase= (empty): the value right after the stub, before any
# systemd-pcrphase word ("enter-initrd", ...), which this image never adds.
pcr11=$(/usr/lib/systemd/systemd-measure calculate --bank=sha256 --phase= \
  --linux="$dir/vmlinuz" --osrel="$dir/os-release" --cmdline="$dir/cmdline" \
  --initrd="$dir/initrd.img" | sed -n 's/^11:sha256=//p')
# The same computed here from the stub's rule, as a cross-check.
pcr11_own=$(python3 - "$dir" <<'PY'
import hashlib, sys
H = lambda b: hashlib.sha256(b).digest()
p = bytes(32)
for name, f in ((".linux", "vmlinuz"), (".osrel", "os-release"), (".cmdline", "cmdline"), (".initrd", "initrd.img")):
    p = H(p + H(name.encode() + b"\0"))
    p = H(p + H(open(sys.argv[1] + "/" + f, "rb").read()))
print(p.hex())
PY
)
[[ ${#pcr11} -eq 64 && "$pcr11" == "$pcr11_own" ]] ||
  { echo "vm-pcrs: systemd-measure says PCR 11 = '$pcr11', the stub's rule gives $pcr11_own" >&2; exit 1; }

extend() { # PCR(hex) DIGEST(hex) -> new PCR
  python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1] + sys.argv[2])).hexdigest())' "$1" "$2"
}
sha() { sha256sum | cut -d' ' -f1; }
uki_auth=$("$here/pe-authenticode.py" "$uki")
p4=$(printf '%064d' 0)
p4=$(extend "$p4" "$(printf 'Calling EFI Application from Boot Option' | sha)")
p4=$(extend "$p4" "$(printf '\0\0\0\0' | sha)")
p4=$(extend "$p4" "$uki_auth")
linux_auth=$("$here/pe-authenticode.py" "$dir/vmlinuz")
p4=$(extend "$p4" "$linux_auth")

cat <<JSON
{
  "bank": "sha256",
  "pcrs": {
    "4": "$p4",
    "11": "$pcr11"
  },
  "uki_authenticode_sha256": "$uki_auth",
  "linux_authenticode_sha256": "$linux_auth",
  "uki_sha256": "$(sha256sum "$uki" | cut -d' ' -f1)",
  "dm_verity_root_hash": "$roothash",
  "notes": {
    "4": "boot-path dependent: EDK2 booting \\\\EFI\\\\BOOT\\\\BOOTX64.EFI as its first boot option (EV_EFI_ACTION 'Calling EFI Application from Boot Option', EV_SEPARATOR, the UKI's Authenticode hash, then the kernel's, which systemd-stub 252 loads with LoadImage); record it once on the target platform",
    "11": "systemd-stub 252: .linux, .osrel, .cmdline, .initrd (systemd-measure calculate); depends only on the image"
  }
}
JSON
