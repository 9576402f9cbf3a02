"""The DNS-style query/answer pair used by the UDP tests.

A query is: BE16 id, 0x0100 (flags: recursion desired), then a deterministic payload.
The answer sets the response bit, keeps the id and carries the payload reversed followed by
the sha256 of the whole query, so a client can tell a real answer from an echo or a
mixed-up one.
"""
import hashlib
import random
import struct


def make_query(seed, i, size):
    """Query number i of the sequence seed, size bytes long (>= 4)."""
    rng = random.Random(seed * 1000003 + i)
    return struct.pack(">HH", i & 0xFFFF, 0x0100) + rng.randbytes(max(0, size - 4))


def answer(query):
    """The responder's answer to query, or None for a datagram too short to be one."""
    if len(query) < 4:
        return None
    return query[:2] + struct.pack(">H", 0x8180) + query[4:][::-1] + \
        hashlib.sha256(query).digest()
