#!/usr/bin/env python3
"""Independent verifier of Xiangan inclusion proofs (`xiangan audit prove ID`).

Uses only the Python 3 standard library (JSON, base64, subprocess) and the `openssl` CLI
(OpenSSL >= 3.0) for every cryptographic step, so it shares no code with Xiangan:

1. leaf = SM3(0x00 || document)                       RFC 6962 s2.1 leaf hash, with SM3
2. root = fold the audit path                         RFC 9162 s2.1.3.2, node = SM3(0x01 || l || r)
3. root == checkpoint.root, treeSize == checkpoint.size, stream/day match
4. the SM2 signature over the checkpoint's signed bytes verifies under the certificate's key
   (SM2 with SM3, ID 1234567812345678: openssl pkeyutl -verify -rawin -digest sm3)
5. optionally (--ca ROOT.pem) the certificate chains to the given root (openssl verify)

Usage: verify_proof.py PROOF.json [--ca ROOT.pem]
Exit status: 0 valid, 1 invalid (the reason on stderr), 2 usage or missing openssl.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

SM2_ID = "1234567812345678"


def sm3(data: bytes) -> bytes:
    return subprocess.run(["openssl", "dgst", "-sm3", "-binary"], input=data, capture_output=True, check=True).stdout


def fold_path(leaf: bytes, index: int, size: int, path: list) -> bytes:
    """RFC 9162 s2.1.3.2: recompute the root from a leaf, its index, the tree size and the path."""
    if index < 0 or index >= size:
        raise ValueError("index out of range")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("path too long")
        if fn & 1 == 1 or fn == sn:
            r = sm3(b"\x01" + p + r)
            if fn & 1 == 0:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sm3(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("path too short")
    return r


def fail(msg: str) -> int:
    sys.stderr.write("INVALID: " + msg + "\n")
    return 1


def main(argv: list) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    ca = None
    if "--ca" in argv:
        i = argv.index("--ca")
        ca = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    with open(argv[0], "r", encoding="utf-8") as f:
        proof = json.load(f)
    if proof.get("format") != "xiangan-inclusion-proof/1":
        return fail("not a xiangan-inclusion-proof/1 document")
    signed = proof["checkpoint"]["signed"]
    body = json.loads(signed)
    if body.get("type") != "checkpoint":
        return fail("the checkpoint is not of type 'checkpoint'")
    if body.get("stream") != proof["stream"] or body.get("day") != proof["day"]:
        return fail("the checkpoint is for another stream or day")
    if body.get("size") != proof["treeSize"]:
        return fail("the proof's tree size differs from the signed one")

    leaf = sm3(b"\x00" + proof["document"].encode("utf-8"))
    if leaf.hex() != proof["leafHash"]:
        return fail("the document does not hash to the stated leaf")
    try:
        root = fold_path(leaf, proof["index"], proof["treeSize"], [bytes.fromhex(h) for h in proof["path"]])
    except ValueError as e:
        return fail(str(e))
    if root.hex() != body["root"]:
        return fail("the audit path does not lead to the signed root")

    with tempfile.TemporaryDirectory() as tmp:
        cert = os.path.join(tmp, "cert.pem")
        pub = os.path.join(tmp, "pub.pem")
        msg = os.path.join(tmp, "signed.json")
        sig = os.path.join(tmp, "sig.der")
        with open(cert, "w", encoding="ascii") as f:
            f.write(proof["certificate"])
        with open(msg, "wb") as f:
            f.write(signed.encode("utf-8"))
        with open(sig, "wb") as f:
            f.write(base64.b64decode(proof["checkpoint"]["signature"]))
        subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout", "-out", pub], check=True, capture_output=True)
        v = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3",
             "-pkeyopt", "distid:" + SM2_ID, "-in", msg, "-sigfile", sig],
            capture_output=True,
        )
        if v.returncode != 0:
            return fail("the SM2 signature over the checkpoint does not verify: " + v.stdout.decode() + v.stderr.decode())
        if ca:
            chain = os.path.join(tmp, "chain.pem")
            with open(chain, "w", encoding="ascii") as f:
                f.write("".join(proof.get("chain", [])))
            c = subprocess.run(
                ["openssl", "verify", "-vfyopt", "distid:" + SM2_ID, "-CAfile", ca, "-untrusted", chain,
                 "-attime", str(int(__import__("datetime").datetime.fromisoformat(body["time"].replace("Z", "+00:00")).timestamp())), cert],
                capture_output=True,
            )
            if c.returncode != 0:
                return fail("the certificate does not chain to the given root: " + c.stdout.decode() + c.stderr.decode())
    print("VALID: record %s is leaf %d of %d in %s %s, checkpoint %d signed by the certificate"
          % (proof["id"], proof["index"], proof["treeSize"], proof["stream"], proof["day"], body["seq"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except FileNotFoundError as e:
        sys.stderr.write("error: %s\n" % e)
        sys.exit(2)
    except (KeyError, json.JSONDecodeError, subprocess.CalledProcessError) as e:
        sys.exit(fail("malformed proof: %r" % (e,)))
