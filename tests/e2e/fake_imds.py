#!/usr/bin/env python3
"""A stand-in for Azure IMDS's POST /acc/tdquote, for test_attest_azure_tdx.sh.

Usage: fake_imds.py MODE PORTFILE LOGDIR

Listens on 127.0.0.1 (a free port, written to PORTFILE) and answers each
{"report": base64url(TDREPORT)} according to MODE:
  good       a TDX quote v4 whose TD report body is the TDREPORT's fields,
             signed by an attestation key that a QE report vouches for, the QE
             report signed by a PCK under a TEST root made here with the
             openssl command (so dcr's pinned Intel root must refuse it at the
             PCK chain, and only there)
  garbage    200 with a body that is not JSON
  oversized  200 with a 2 MiB body
  slow       answers only after 30 s
  error      HTTP 500
The request (headers, body) and the quote served go to LOGDIR.
"""
import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

MODE, PORTFILE, LOGDIR = sys.argv[1], sys.argv[2], sys.argv[3]

# TDREPORT offset -> quote body offset, length (Intel TDX module ABI
# TDREPORT_STRUCT; DCAP quote v4 TD report body).
FIELDS = [(264, 0, 16), (280, 16, 48), (328, 64, 48), (376, 112, 8), (512, 120, 8),
          (520, 128, 8), (528, 136, 48), (576, 184, 48), (624, 232, 48), (672, 280, 48),
          (720, 328, 192), (128, 520, 64)]

# The test PKI, made with the openssl command (Debian's openssl package, no
# Python crypto module needed): root -> platform CA -> PCK, and the QE's
# attestation key.
KEYS = os.path.join(LOGDIR, "pki")


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True, capture_output=True).stdout


def key(name):
    path = os.path.join(KEYS, name + ".key")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path)
    return path


def cert(name, cn, serial, issuer=None, ca=False):
    k = key(name)
    out = os.path.join(KEYS, name + ".pem")
    ext = os.path.join(KEYS, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:%s\nkeyUsage=critical,%s\n"
                % ("TRUE" if ca else "FALSE", "keyCertSign,cRLSign" if ca else "digitalSignature"))
    if issuer is None:
        openssl("req", "-x509", "-new", "-key", k, "-subj", "/CN=" + cn, "-days", "3650",
                "-extensions", "v3", "-config", config(ext), "-out", out)
    else:
        csr = openssl("req", "-new", "-key", k, "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-CA", issuer + ".pem", "-CAkey", issuer + ".key",
                "-set_serial", str(serial), "-days", "3650",
                "-extfile", ext, "-out", out, data=csr)
    return os.path.join(KEYS, name)


def config(ext):
    path = ext + ".cnf"
    with open(path, "w") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" + open(ext).read())
    return path


os.makedirs(KEYS, exist_ok=True)
ROOT = cert("root", "Fake SGX Root CA", 1, ca=True)
CA = cert("ca", "Fake SGX PCK Platform CA", 2, ROOT, ca=True)
PCK = cert("pck", "Fake SGX PCK Certificate", 3, CA)
ATT = key("att")
CHAIN = b"".join(open(p + ".pem", "rb").read() for p in (PCK, CA, ROOT))
ATT_PUB = openssl("ec", "-in", ATT, "-pubout", "-outform", "DER")[-64:]  # x || y


def der_int(d, i):
    assert d[i] == 2
    n = d[i + 1]
    return int.from_bytes(d[i + 2:i + 2 + n], "big"), i + 2 + n


def rs(keyfile, msg):
    """ECDSA-SHA256 by the openssl command, as raw r || s."""
    d = openssl("dgst", "-sha256", "-sign", keyfile, data=msg)
    assert d[0] == 0x30 and d[1] < 0x80
    r, i = der_int(d, 2)
    s, _ = der_int(d, i)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def quote_for(tdreport):
    body = bytearray(584)
    for r, q, n in FIELDS:
        body[q:q + n] = tdreport[r:r + n]
    header = struct.pack("<HHIHH", 4, 2, 0x81, 11, 13) + b"\x93" * 16 + bytes(20)
    signed = header + bytes(body)
    pub = ATT_PUB
    auth = bytes(range(32))
    qe = bytearray(b"\x42" * 320) + hashlib.sha256(pub + auth).digest() + bytes(32)
    inner = (bytes(qe) + rs(PCK + ".key", bytes(qe)) + struct.pack("<H", len(auth)) + auth
             + struct.pack("<HI", 5, len(CHAIN)) + CHAIN)
    sig_data = rs(ATT, signed) + pub + struct.pack("<HI", 6, len(inner)) + inner
    return signed + struct.pack("<I", len(sig_data)) + sig_data


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = self.rfile.read(n)
        with open(os.path.join(LOGDIR, "request.json"), "wb") as f:
            f.write(req)
        with open(os.path.join(LOGDIR, "request.headers"), "w") as f:
            f.write("%s %s\n%s" % (self.command, self.path, self.headers))
        if MODE == "error":
            return self.answer(500, b'{"error":"quote generation failed"}')
        if MODE == "garbage":
            return self.answer(200, b"<html>this is not a quote</html>")
        if MODE == "oversized":
            return self.answer(200, b'{"quote":"' + b"A" * (2 << 20) + b'"}')
        if MODE == "slow":
            time.sleep(30)
            return self.answer(200, b"{}")
        report = json.loads(req)["report"]
        tdreport = base64.urlsafe_b64decode(report + "=" * (-len(report) % 4))
        if self.path != "/acc/tdquote" or len(tdreport) != 1024:
            return self.answer(400, b'{"error":"bad request"}')
        q = quote_for(tdreport)
        with open(os.path.join(LOGDIR, "quote.bin"), "wb") as f:
            f.write(q)
        self.answer(200, json.dumps({"quote": base64.urlsafe_b64encode(q).decode().rstrip("=")})
                    .encode())


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
