#!/usr/bin/env python3
"""Tells which VMess request header a captured client stream starts with.

A legacy header starts with HMAC-MD5(uuid16 of one of the user's IDs, BE64(t)) for a t
near now; an AEAD header starts with an encrypted AuthID, which matches none of them.
This needs only MD5, so it runs on python3's hashlib and checks the header mode of any
client (the AuthID itself is not decrypted). Prints one word and exits 0:
  legacy-primary | legacy-alt<k> | aead
exit 1 if the file holds fewer than 16 bytes. Alternative IDs follow vmess-protocol.md §2.
"""
import argparse
import hashlib
import hmac
import struct
import sys
import time
import uuid

ALTER_SALT = b"16167dc8-16b6-4e6d-b8bb-65dd68113a81"
COLLISION_SALT = b"533eff8a-4113-4b10-b5ce-0f5d76b98cd2"


def alter_ids(primary, count):
    """The count alternative IDs (16 raw bytes each) derived from the primary uuid16."""
    out, prev = [], primary
    for _ in range(count):
        ctx = hashlib.md5(prev + ALTER_SALT)
        d = ctx.digest()  # Python's digest() leaves ctx usable, like Go's Sum
        while d == prev:
            ctx.update(COLLISION_SALT)
            d = ctx.digest()
        out.append(d)
        prev = d
    return out


def legacy_auth(id16, t):
    return hmac.new(id16, struct.pack(">Q", t), hashlib.md5).digest()


def classify(first16, primary, alter_count, now, window):
    ids = [("legacy-primary", primary)] + [
        ("legacy-alt%d" % (i + 1), a) for i, a in enumerate(alter_ids(primary, alter_count))]
    for t in range(now - window, now + window + 1):
        for name, id16 in ids:
            if hmac.compare_digest(legacy_auth(id16, t), first16):
                return name
    return "aead"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", required=True, help="captured client bytes")
    ap.add_argument("--uuid", required=True)
    ap.add_argument("--alter-id", type=int, default=0)
    ap.add_argument("--window", type=int, default=200, help="seconds around now to try")
    ap.add_argument("--now", type=int, help="Unix time to search around (default: now)")
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        head = f.read(16)
    if len(head) < 16:
        print("short")
        return 1
    now = args.now if args.now is not None else int(time.time())
    print(classify(head, uuid.UUID(args.uuid).bytes, args.alter_id, now, args.window))
    return 0


if __name__ == "__main__":
    sys.exit(main())
