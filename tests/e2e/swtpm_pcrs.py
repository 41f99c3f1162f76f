#!/usr/bin/env python3
"""Replays the SHA-256 PCR extends a TPM received, from a swtpm log written
with --log level=20 (each command's bytes after "SWTPM_IO_Read: length N"),
and prints the resulting PCRs as JSON {"index": hex}. TPM2_PCR_Extend
(0x182) and TPM2_PCR_Event (0x13C) count; TPM2_Startup(CLEAR) resets PCRs
0-15 to zero (PCR 0 with the locality is not modelled: the test only reads
PCRs 4 and 11). Usage: swtpm_pcrs.py SWTPM_LOG [PCR...]"""
import hashlib
import json
import re
import struct
import sys

def commands(path):
    cmd = None
    for line in open(path, errors="replace"):
        if "SWTPM_IO_Read: length" in line:
            if cmd:
                yield bytes(cmd)
            cmd = bytearray()
        elif cmd is not None and re.fullmatch(r"\s*([0-9A-Fa-f]{2}\s*)+", line):
            cmd += bytes.fromhex(line.strip().replace(" ", ""))
        elif cmd is not None:
            yield bytes(cmd)
            cmd = None
    if cmd:
        yield bytes(cmd)

def main():
    pcrs = {i: bytes(32) for i in range(24)}
    for c in commands(sys.argv[1]):
        if len(c) < 10:
            continue
        tag, size, cc = struct.unpack_from(">HII", c, 0)
        if cc == 0x144 and len(c) >= 12 and struct.unpack_from(">H", c, 10)[0] == 0:  # Startup(CLEAR)
            pcrs = {i: bytes(32) for i in range(24)}
        elif cc in (0x182, 0x13C) and tag == 0x8002:
            handle = struct.unpack_from(">I", c, 10)[0]
            authsize = struct.unpack_from(">I", c, 14)[0]
            off = 18 + authsize
            if cc == 0x182:
                count = struct.unpack_from(">I", c, off)[0]
                off += 4
                for _ in range(count):
                    alg = struct.unpack_from(">H", c, off)[0]
                    n = {0x4: 20, 0xB: 32, 0xC: 48, 0xD: 64}[alg]
                    d = c[off + 2:off + 2 + n]
                    off += 2 + n
                    if alg == 0xB and handle < 24:
                        pcrs[handle] = hashlib.sha256(pcrs[handle] + d).digest()
            else:
                n = struct.unpack_from(">H", c, off)[0]
                data = c[off + 2:off + 2 + n]
                if handle < 24:
                    pcrs[handle] = hashlib.sha256(pcrs[handle] + hashlib.sha256(data).digest()).digest()
    want = [int(a) for a in sys.argv[2:]] or range(24)
    print(json.dumps({str(i): pcrs[i].hex() for i in want}))

main()
