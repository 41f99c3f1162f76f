#!/usr/bin/env bash
# Builds dcr's measured VM image (docs/attestation.md, "The measured image")
# from Debian 12 packages, with tools Debian ships and without loop devices:
#
#   root.squashfs  read-only root file system: Debian minbase, systemd, the
#                  kernel's modules, build/dcr and exactly its runtime
#                  libraries (scripts/runtime-deps.sh); no login, no getty,
#                  no SSH, no debug or rescue shell; dcr-serve.service is the
#                  only service of its own.
#   root.verity    its dm-verity hash tree (fixed salt and UUID).
#   initrd.img     a tiny initrd (busybox, veritysetup, a few modules) that
#                  opens the root with dm-verity against the root hash on
#                  the command line, mounts it and hands over to systemd; on
#                  any failure it powers off (no shell).
#   uki.efi        unified kernel image: systemd-boot's stub (systemd 252)
#                  with .osrel, .cmdline (carrying roothash=), .linux and
#                  .initrd sections, assembled with objcopy.
#   esp.img        FAT ESP holding uki.efi as \EFI\BOOT\BOOTX64.EFI.
#   disk.raw       GPT disk: ESP, dcr-root, dcr-verity.
#   pcrs.json      predicted PCR 11 (systemd-measure) and PCR 4 (firmware's
#                  Authenticode measurement of the UKI; boot-path dependent).
#   packages.txt   every Debian package (and version) in the root.
#   SHA256SUMS     of the artefacts above.
#
# Usage: scripts/vm-image.sh [--out DIR] [--dcr BINARY]
#        scripts/vm-image.sh --check   (build twice in two fresh directories
#                                       whose paths differ, compare SHA-256;
#                                       when equal, leaves them in build/vm/)
# Environment: DCR_VM_MIRROR (default: the Debian mirror apt uses here),
# DCR_VM_CACHE (downloaded .debs, shared between builds; default
# build/vm-cache), SOURCE_DATE_EPOCH (default: the commit's time).
#
# Reproducibility boundary: the same commit, the same build/dcr (make
# reproducible-check) and the same mirror state (the same package versions,
# listed in packages.txt) give byte-identical artefacts. A mirror that moved
# on gives newer packages and so other hashes; point DCR_VM_MIRROR at a
# snapshot.debian.org timestamp to rebuild an old image.
# Needs root (debootstrap and chroot); uses no loop devices and mounts
# nothing itself (debootstrap mounts /proc and /sys in the root it installs).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)

out=build/vm
dcr=build/dcr
check=0
reuse=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --dcr) dcr=$2; shift 2 ;;
    --check) check=1; shift ;;
    --reuse-root) reuse=1; shift ;; # development: keep build/vm/work/root between builds

    *) echo "usage: scripts/vm-image.sh [--out DIR] [--dcr BINARY] | --check" >&2; exit 2 ;;
  esac
done

[[ $(id -u) -eq 0 ]] || { echo "vm-image: needs root (debootstrap, chroot)" >&2; exit 1; }
[[ -x "$dcr" ]] || { echo "vm-image: $dcr missing (make build/dcr)" >&2; exit 2; }
for t in debootstrap mksquashfs veritysetup objcopy mkfs.vfat mcopy sfdisk cpio \
  /usr/lib/systemd/systemd-measure /usr/lib/systemd/boot/efi/linuxx64.efi.stub; do
  command -v "$t" >/dev/null || [[ -e "$t" ]] ||
    { echo "vm-image: $t missing (scripts/deps.sh installs it)" >&2; exit 2; }
done

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export LC_ALL=C TZ=UTC
umask 022
# IMAGE_VERSION in the UKI's .osrel: the commit (copies made by --check
# have no .git, so it is passed on).
version=${DCR_VM_IMAGE_VERSION:-$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
cache=${DCR_VM_CACHE:-$here/build/vm-cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

if [[ $check -eq 1 ]]; then
  # Two builds in fresh directories whose paths differ in name and length,
  # with the same inputs; the downloaded .debs are shared (they are inputs).
  work=$(mktemp -d /tmp/dcr-vm-check-XXXXXX)
  trap 'rm -rf "$work"' EXIT
  cp "$dcr" "$work/dcr"
  for d in a "a-much-longer-directory-name/b"; do
    mkdir -p "$work/$d"
    tar -C "$here" -cf - scripts deploy/vm | tar -C "$work/$d" -xf -
    start=$(date +%s)
    (cd "$work/$d" && DCR_VM_CACHE=$cache SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH DCR_VM_IMAGE_VERSION=$version \
      scripts/vm-image.sh --out "$work/$d/out" --dcr "$work/dcr") >"$work/$d.log" 2>&1 ||
      { echo "vm-image --check: build in $work/$d failed:" >&2; tail -n 30 "$work/$d.log" >&2; exit 1; }
    echo "build $d: $(($(date +%s) - start)) s"
  done
  echo "SHA-256 of build 1 ($work/a/out):"
  (cd "$work/a/out" && cat SHA256SUMS)
  echo "SHA-256 of build 2 ($work/a-much-longer-directory-name/b/out):"
  (cd "$work/a-much-longer-directory-name/b/out" && cat SHA256SUMS)
  if cmp -s "$work/a/out/SHA256SUMS" "$work/a-much-longer-directory-name/b/out/SHA256SUMS"; then
    echo "reproducible: 2 builds in different directories, identical artefacts"
    mkdir -p "$here/build/vm"
    cp "$work/a/out/"* "$here/build/vm/"
    echo "(the first build's artefacts are now in build/vm/)"
    cat "$work/a/out/pcrs.json"
    exit 0
  fi
  echo "NOT reproducible (kept in $work)" >&2
  trap - EXIT
  exit 1
fi

mirror=${DCR_VM_MIRROR:-$(
  grep -hE '^URIs:|^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list 2>/dev/null | grep -E '/debian/?$|/debian ' |
    sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//' | head -1 || true
)}
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$out"
out=$(cd "$out" && pwd)
w=$out/work
# debootstrap mounts /proc and /sys inside the root while it installs; a
# build stopped then leaves them: unmount before removing anything.
unmount_under() {
  awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" || umount -l "$m"
  done
}
unmount_under "$w"
if [[ $reuse -eq 1 && -f "$w/root-done" ]]; then
  rm -rf --one-file-system "$w/initrd"
  skip_root=1
else
  rm -rf --one-file-system "$w"
  skip_root=0
fi
mkdir -p "$w"
root=$w/root
log=$out/build.log
: >"$log"
step() { echo "vm-image: $*" >&2; }

if [[ $skip_root -eq 0 ]]; then
# 1. The root file system. Only Depends are installed (debootstrap), so the
# package list is exactly this plus what it depends on.
runtime=$(scripts/runtime-deps.sh "$dcr" | tr '\n' ',' | sed 's/,$//')
include="systemd,systemd-sysv,udev,kmod,linux-image-amd64,busybox,cryptsetup-bin,tpm-udev,libtss2-tcti-device0,e2fsprogs,$runtime"
step "debootstrap bookworm from $mirror (+ $include)"
# INITRD=No: the kernel's postinst hook builds no initramfs-tools initrd
# (the image has its own); the root never keeps /boot anyway.
INITRD=No debootstrap --variant=minbase --cache-dir="$cache" --include="$include" \
  bookworm "$root" "$mirror" >>"$log" 2>&1 ||
  { tail -n 30 "$log" >&2; echo "vm-image: debootstrap failed (log: $log)" >&2; exit 1; }

kver=$(ls "$root/lib/modules" | sort -V | tail -1)
cp "$root/boot/vmlinuz-$kver" "$w/vmlinuz"
step "kernel $kver"

# dcr, its user, its unit.
install -D -m 0755 "$dcr" "$root/usr/local/bin/dcr"
chroot "$root" getent group tss >/dev/null || chroot "$root" groupadd --system tss
chroot "$root" groupadd --system --gid 10001 dcr
chroot "$root" useradd --system --uid 10001 --gid 10001 --groups tss --home-dir /srv/dcr \
  --no-create-home --shell /usr/sbin/nologin dcr
chroot "$root" usermod --lock --expiredate 1 root
install -d -m 0755 "$root/srv/dcr"
cp deploy/vm/dcr-serve.service "$root/etc/systemd/system/dcr-serve.service"
install -D -m 0755 deploy/vm/dcr-serve-from-disk "$root/usr/local/lib/dcr/dcr-serve-from-disk"
cp deploy/vm/fstab "$root/etc/fstab"
install -D -m 0644 deploy/vm/50-dhcp.network "$root/etc/systemd/network/50-dhcp.network"
echo dcr >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 dcr\n::1 localhost\n' >"$root/etc/hosts"
: >"$root/etc/machine-id" # empty: systemd makes a transient one at each boot
sysd=$root/etc/systemd/system
mkdir -p "$sysd/multi-user.target.wants" "$sysd/sockets.target.wants"
ln -sf /etc/systemd/system/dcr-serve.service "$sysd/multi-user.target.wants/dcr-serve.service"
ln -sf /lib/systemd/system/systemd-networkd.service "$sysd/multi-user.target.wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd.socket "$sysd/sockets.target.wants/systemd-networkd.socket"
ln -sf /lib/systemd/system/multi-user.target "$sysd/default.target"
# Nothing to log in with, nothing to break into: every getty, the debug
# shell, rescue and emergency shells, first-boot prompts. PCR-phase
# measurements (systemd-pcrphase) are off so PCR 11 is exactly what the
# stub measured, whenever dcr reads it. Units that only write to the
# read-only root are off too.
for u in getty@.service serial-getty@.service console-getty.service container-getty@.service \
  autovt@.service getty.target getty-static.service debug-shell.service rescue.service \
  rescue.target emergency.service emergency.target systemd-firstboot.service \
  systemd-pcrphase.service systemd-pcrphase-sysinit.service systemd-pcrphase-initrd.service \
  systemd-random-seed.service systemd-update-utmp.service systemd-update-utmp-runlevel.service \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  systemd-ask-password-console.path systemd-ask-password-wall.path; do
  ln -sf /dev/null "$sysd/$u"
done
rm -f "$sysd/getty.target.wants/"* 2>/dev/null || true
# Generators that act on the kernel command line: systemd.run= (a command
# at boot), systemd.wants=/systemd.mask=/systemd.debug_shell. Off, so even a
# substituted command line (measured into PCR 12) starts nothing else. The
# initrd has opened the root already: systemd's own verity and GPT
# auto-discovery (roothash=, the ESP) must not act on it again.
mkdir -p "$root/etc/systemd/system-generators"
for g in systemd-run-generator systemd-debug-generator systemd-veritysetup-generator \
  systemd-gpt-auto-generator; do
  ln -sf /dev/null "$root/etc/systemd/system-generators/$g"
done

# What differs between two installs of the same packages: logs, caches,
# package lists, the kernel and /boot, backup files, device nodes.
rm -rf "$root"/boot/* "$root"/var/log/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
  "$root"/var/cache/ldconfig/aux-cache "$root"/var/lib/dpkg/*-old "$root"/var/cache/debconf/*-old \
  "$root"/etc/*- "$root"/var/lib/systemd/catalog/database "$root"/var/lib/dbus/machine-id \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/dev/* "$root"/proc/* "$root"/sys/* "$root"/run/* "$root"/tmp/* "$root"/debootstrap \
  "$root"/vmlinuz* "$root"/initrd.img*
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' | sort >"$out/packages.txt"
touch "$w/root-done"
fi
kver=$(ls "$root/lib/modules" | sort -V | tail -1)

# 2. The root image and its dm-verity hash tree. Fixed timestamps, owners
# as installed, no xattrs; fixed verity salt and UUID.
step "root.squashfs + dm-verity"
env -u SOURCE_DATE_EPOCH mksquashfs "$root" "$out/root.squashfs" -noappend -comp zstd -no-xattrs \
  -mkfs-time "$SOURCE_DATE_EPOCH" -all-time "$SOURCE_DATE_EPOCH" -quiet -no-progress >>"$log" 2>&1
salt=$(printf 'dcr measured image verity salt v1' | sha256sum | cut -d' ' -f1)
veritysetup format "$out/root.squashfs" "$out/root.verity" --hash=sha256 \
  --data-block-size=4096 --hash-block-size=4096 --salt="$salt" \
  --uuid=6463722d-7665-7269-7479-000000000001 >"$w/verity.txt"
roothash=$(awk '/^Root hash:/ { print $3 }' "$w/verity.txt")
[[ ${#roothash} -eq 64 ]] || { cat "$w/verity.txt" >&2; exit 1; }

# 3. The initrd: busybox, veritysetup and its libraries, the modules that
# reach a disk on QEMU (virtio), Azure (Hyper-V storvsc, NVMe) and the
# device mapper, loaded in dependency order. /init (deploy/vm/initrd-init)
# opens the root only with the root hash built into it (/etc/roothash) and
# powers off on any failure.
step "initrd"
ir=$w/initrd
mkdir -p "$ir"/{bin,sbin,lib,lib64,etc,proc,sys,dev,run,sysroot}
cp "$root/bin/busybox" "$ir/bin/busybox"
cp "$root/sbin/veritysetup" "$ir/sbin/veritysetup"
for b in bin/busybox sbin/veritysetup; do
  chroot "$root" ldd "/$b" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\/lib64/ { print $1 }'
done | sort -u | while read -r lib; do
  install -D -m 0755 "$root$(chroot "$root" readlink -f "$lib")" "$ir$lib"
done
: >"$ir/etc/modules"
for m in virtio_pci virtio_blk virtio_scsi sd_mod nvme hv_vmbus hv_storvsc dm_verity squashfs; do
  chroot "$root" modprobe --show-depends -S "$kver" "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
  install -D -m 0644 "$root$ko" "$ir$ko"
  echo "$ko" >>"$ir/etc/modules"
done
install -m 0755 deploy/vm/initrd-init "$ir/init"
echo "$roothash" >"$ir/etc/roothash"
find "$ir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$ir" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  gzip -n -9 >"$w/initrd.img"

# 4. The unified kernel image.
step "uki.efi (roothash=$roothash)"
printf 'roothash=%s ro console=tty0 console=ttyS0,115200 panic=10 lockdown=confidentiality' \
  "$roothash" >"$w/cmdline"
{
  cat "$root/usr/lib/os-release"
  echo "IMAGE_ID=dcr"
  echo "IMAGE_VERSION=$version"
} >"$w/os-release"
objcopy \
  --add-section .osrel="$w/os-release" --change-section-vma .osrel=0x20000 \
  --add-section .cmdline="$w/cmdline" --change-section-vma .cmdline=0x30000 \
  --add-section .linux="$w/vmlinuz" --change-section-vma .linux=0x2000000 \
  --add-section .initrd="$w/initrd.img" --change-section-vma .initrd=0x3000000 \
  /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$out/uki.efi"
# objcopy (binutils 2.40) stamps the PE header with the time of the build.
scripts/pe-authenticode.py --set-timestamp "$SOURCE_DATE_EPOCH" "$out/uki.efi"
cp "$w/cmdline" "$out/cmdline"
cp "$w/initrd.img" "$out/initrd.img"

# 5. The ESP and the GPT disk, assembled with dd: no loop devices.
step "esp.img + disk.raw"
mib=$((1024 * 1024))
esp_mib=$(( ($(stat -c %s "$out/uki.efi") / mib) + 16 ))
rm -f "$out/esp.img"
mkfs.vfat -C -n DCR-ESP -i 6463720e --invariant "$out/esp.img" $((esp_mib * 1024)) >>"$log"
touch -d "@$SOURCE_DATE_EPOCH" "$out/uki.efi"
mmd -i "$out/esp.img" ::/EFI ::/EFI/BOOT
mcopy -m -i "$out/esp.img" "$out/uki.efi" ::/EFI/BOOT/BOOTX64.EFI
round() { echo $(( ($1 + mib - 1) / mib * mib )); }
root_b=$(round "$(stat -c %s "$out/root.squashfs")")
ver_b=$(round "$(stat -c %s "$out/root.verity")")
esp_b=$((esp_mib * mib))
# 1 MiB before the first partition, 1 MiB after the last (backup GPT).
disk_b=$((mib + esp_b + root_b + ver_b + mib))
rm -f "$out/disk.raw"
truncate -s "$disk_b" "$out/disk.raw"
s=$((mib / 512))
sfdisk --quiet --no-reread --no-tell-kernel "$out/disk.raw" >>"$log" <<EOF
label: gpt
label-id: 6463722D-6469-736B-0000-000000000001
first-lba: 2048
start=$s, size=$((esp_b / 512)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=6463722D-6573-7000-0000-000000000001, name="esp"
start=$((s + esp_b / 512)), size=$((root_b / 512)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=${roothash:0:8}-${roothash:8:4}-${roothash:12:4}-${roothash:16:4}-${roothash:20:12}, name="dcr-root"
start=$((s + (esp_b + root_b) / 512)), size=$((ver_b / 512)), type=2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5, uuid=${roothash:32:8}-${roothash:40:4}-${roothash:44:4}-${roothash:48:4}-${roothash:52:12}, name="dcr-verity"
EOF
dd if="$out/esp.img" of="$out/disk.raw" bs=1M seek=1 conv=notrunc status=none
dd if="$out/root.squashfs" of="$out/disk.raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc status=none
dd if="$out/root.verity" of="$out/disk.raw" bs=1M seek=$((1 + esp_mib + root_b / mib)) conv=notrunc status=none

# 6. Predicted PCRs.
step "pcrs.json"
scripts/vm-pcrs.sh "$w" "$out/uki.efi" "$roothash" >"$out/pcrs.json" 2>>"$log"
touch -d "@$SOURCE_DATE_EPOCH" "$out"/*.{efi,img,raw,squashfs,verity,json,txt} "$out/cmdline"
(cd "$out" && sha256sum uki.efi initrd.img root.squashfs root.verity esp.img disk.raw pcrs.json packages.txt >SHA256SUMS)
unmount_under "$w"
[[ $reuse -eq 1 ]] || rm -rf --one-file-system "$w"
cat "$out/SHA256SUMS"
cat "$out/pcrs.json"
