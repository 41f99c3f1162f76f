#!/usr/bin/env python3
"""load_client.py: many concurrent analysts against a running `dcr serve`.

Each client is its own process holding one keep-alive HTTPS connection,
pinned to the TLS key that `dcr attest check` verified (the attestation is
done once, by the caller: this measures the server, not the client's
evidence checks). Requests are signed as docs/api.md says (Ed25519 over the
eight-line message). Every client loops over a mix of queries until the
deadline and records, per request: kind, HTTP status, error code and
latency. Prints one JSON summary.

    load_client.py URL KEYFILE PARTY TLS_SPKI_SHA256 CLIENTS SECONDS
"""
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import ssl
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509 import load_der_x509_certificate

QUERIES = [
    ("attribution", "SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers, SUM(p.amount) AS revenue "
     "FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign"),
    ("overlap", "SELECT COUNT(DISTINCT p.email) AS buyers_reached FROM purchases p "
     "JOIN impressions i ON i.email = p.email"),
    ("reach", "SELECT i.campaign, COUNT(DISTINCT i.email) AS reach, COUNT(*) AS impressions_on_buyers "
     "FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign"),
    ("refused", "SELECT p.email, p.amount FROM purchases p JOIN impressions i ON i.email = p.email"),
]
# The expected answer of each kind: 200, or 422 "refused" for the raw list.
EXPECT = {"attribution": (200, None), "overlap": (200, None), "reach": (200, None),
          "refused": (422, "refused")}


def connect(host, port, pin):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # trust is the pin below, as in dcr's client
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=600)
    conn.connect()
    der = conn.sock.getpeercert(binary_form=True)
    spki = load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if hashlib.sha256(spki).hexdigest() != pin:
        raise SystemExit("the server's TLS key is not the attested one")
    return conn


def client(idx, url, seed, party, pin, deadline, out):
    host, port = url.split("//")[1].rsplit(":", 1)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    conn = connect(host, int(port), pin)
    recs, i = [], idx  # start each client at a different query
    while time.time() < deadline:
        kind, sql = QUERIES[i % len(QUERIES)]
        i += 1
        body = json.dumps({"sql": sql}).encode()
        now, nonce = str(int(time.time())), os.urandom(16).hex()
        bh = hashlib.sha256(body).hexdigest()
        msg = f"dcr request v1\nPOST\n/v1/query\n{party}\n{now}\n{nonce}\n{bh}\n{pin}\n"
        hdr = {"X-Dcr-Party": party, "X-Dcr-Time": now, "X-Dcr-Nonce": nonce,
               "X-Dcr-Content-Sha256": bh, "X-Dcr-Signature": key.sign(msg.encode()).hex(),
               "Content-Type": "application/json"}
        t0 = time.monotonic()
        try:
            conn.request("POST", "/v1/query", body, hdr)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            recs.append((kind, 0, type(e).__name__, time.monotonic() - t0))
            conn.close()
            conn = connect(host, int(port), pin)
            continue
        code = None
        if status != 200:
            try:
                code = json.loads(data)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
        recs.append((kind, status, code, time.monotonic() - t0))
        if status == 503:  # too_many_queries: back off briefly and retry
            time.sleep(0.05)
    out.put(recs)


def pct(v, p):
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else 0


def main():
    url, keyfile, party, pin, n, secs = sys.argv[1:7]
    seed = open(keyfile).read().split(":")[1]
    n, secs = int(n), float(secs)
    out = mp.Queue()
    t0 = time.time()
    deadline = t0 + secs
    procs = [mp.Process(target=client, args=(i, url, seed, party, pin, deadline, out))
             for i in range(n)]
    for p in procs:
        p.start()
    recs = [r for _ in procs for r in out.get()]
    for p in procs:
        p.join()
    wall = time.time() - t0
    answered = sorted(r[3] for r in recs if r[1] != 503)
    by = {}
    unexpected = []
    for kind, status, code, lat in recs:
        b = by.setdefault(kind, {"n": 0, "busy_503": 0, "lat": []})
        if status == 503 and code == "too_many_queries":
            b["busy_503"] += 1
            continue
        b["n"] += 1
        b["lat"].append(lat)
        if (status, code) != EXPECT[kind]:
            unexpected.append((kind, status, code))
    summary = {
        "clients": n, "seconds": round(wall, 1),
        "answered": len(answered), "per_second": round(len(answered) / wall, 2),
        "p50_ms": round(pct(answered, 50) * 1e3, 1), "p99_ms": round(pct(answered, 99) * 1e3, 1),
        "busy_503_retried": sum(b["busy_503"] for b in by.values()),
        "unexpected": len(unexpected), "unexpected_sample": unexpected[:5],
        "by_kind": {k: {"n": b["n"], "busy_503": b["busy_503"],
                        "p50_ms": round(pct(sorted(b["lat"]), 50) * 1e3, 1),
                        "p99_ms": round(pct(sorted(b["lat"]), 99) * 1e3, 1)}
                    for k, b in sorted(by.items())},
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
