#!/usr/bin/env python3
"""Prints the Authenticode SHA-256 of a PE image (the digest UEFI firmware
measures into PCR 4 as EV_EFI_BOOT_SERVICES_APPLICATION when it loads an
EFI application): the headers without the CheckSum field and the
certificate-table directory entry, then each section's raw data in file
order, then any data after the last section that is not the certificate
table (Microsoft's "Windows Authenticode Portable Executable Signature
Format", as implemented by EDK2's DxeTpm2MeasureBootLib)."""
import hashlib
import struct
import sys

def authenticode(data: bytes) -> str:
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        raise SystemExit("not a PE image")
    coff = pe + 4
    nsect = struct.unpack_from("<H", data, coff + 2)[0]
    optsize = struct.unpack_from("<H", data, coff + 16)[0]
    opt = coff + 20
    magic = struct.unpack_from("<H", data, opt)[0]
    if magic == 0x20B:  # PE32+
        ndirs_off, dirs = opt + 108, opt + 112
    elif magic == 0x10B:  # PE32
        ndirs_off, dirs = opt + 92, opt + 96
    else:
        raise SystemExit("unknown optional header magic")
    checksum = opt + 64
    ndirs = struct.unpack_from("<I", data, ndirs_off)[0]
    certdir = dirs + 4 * 8 if ndirs > 4 else None
    hdr_size = struct.unpack_from("<I", data, opt + 60)[0]
    h = hashlib.sha256()
    h.update(data[:checksum])
    if certdir is None:
        h.update(data[checksum + 4:hdr_size])
        cert_off = cert_len = 0
    else:
        h.update(data[checksum + 4:certdir])
        h.update(data[certdir + 8:hdr_size])
        cert_off, cert_len = struct.unpack_from("<II", data, certdir)
    sects = []
    sh = opt + optsize
    for i in range(nsect):
        raw_size, raw_ptr = struct.unpack_from("<II", data, sh + 40 * i + 16)
        if raw_size:
            sects.append((raw_ptr, raw_size))
    sects.sort()
    done = hdr_size
    for ptr, size in sects:
        h.update(data[ptr:ptr + size])
        done = max(done, ptr + size)
    if len(data) > done:
        end = len(data) - cert_len if cert_len else len(data)
        h.update(data[done:end])
    return h.hexdigest()

def set_timestamp(path: str, epoch: int) -> None:
    """Sets the COFF header's TimeDateStamp (objcopy writes the time of the
    build there) and recomputes the optional header's CheckSum."""
    data = bytearray(open(path, "rb").read())
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    struct.pack_into("<I", data, pe + 8, epoch & 0xFFFFFFFF)
    checksum = pe + 24 + 64
    struct.pack_into("<I", data, checksum, 0)
    total = 0
    padded = bytes(data) + (b"\0" if len(data) % 2 else b"")
    for (w,) in struct.iter_unpack("<H", padded):
        total += w
        total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("<I", data, checksum, (total + len(data)) & 0xFFFFFFFF)
    open(path, "wb").write(data)

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--set-timestamp":
        set_timestamp(sys.argv[3], int(sys.argv[2]))
    else:
        with open(sys.argv[1], "rb") as f:
            print(authenticode(f.read()))
