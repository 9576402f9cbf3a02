"""Deterministic pseudo-random byte streams and sha256 helpers for the e2e tools.

Both ends of a test derive the same bytes from (seed, length), so a receiver can check
what arrived without the data ever being stored. Blocks are always generated in BLOCK-sized
units, so the stream does not depend on how a caller slices it.
"""
import hashlib
import random

BLOCK = 1 << 16


def blocks(seed, total):
    """Yields the stream for (seed, total) as bytes objects of at most BLOCK bytes."""
    rng = random.Random(seed)
    left = total
    while left > 0:
        blk = rng.randbytes(BLOCK)
        if left < BLOCK:
            blk = blk[:left]
        left -= len(blk)
        yield blk


def stream_sha256(seed, total):
    """Hex sha256 of the stream for (seed, total)."""
    h = hashlib.sha256()
    for blk in blocks(seed, total):
        h.update(blk)
    return h.hexdigest()


def parse_size(text):
    """'64M', '16MiB', '4k', '1000' -> bytes."""
    t = text.strip().upper().replace("IB", "").replace("B", "")
    mult = 1
    for suffix, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if t.endswith(suffix):
            t, mult = t[:-1], m
    return int(t) * mult


def parse_hostport(text):
    """'127.0.0.1:80', '[::1]:80', 'localhost:80' -> (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":"))
    host, _, port = text.rpartition(":")
    return host, int(port)
