"""The active probes a VMess server must answer alike, built as byte strings.

Each probe is (class name, list of chunks): the prober sends the chunks 0.2 s apart and
never half-closes. Every probe of every class must fail the handshake; the *controls*
(complete valid handshakes with a request body) must be answered, which shows that the
crafted AuthIDs, legacy auths and headers are right.
"""
import os
import struct
import time

import vmess_craft as vc

SPLIT_AT = 16  # "/split" probes: the first 16 bytes, then the rest
BAD_COMMAND = 7
# Past 512 bytes every class also gets probes up to LONGEST, beyond the most any VMess
# server drains (probe_report.MAX_DRAIN), so each class shows where the server closes.
LONG = list(range(576, 3457, 64))
LONGEST = LONG[-1]


def _chunks(data, split):
    return [data[:SPLIT_AT], data[SPLIT_AT:]] if split else [data]


def aead_header(ckey, target_port=9):
    """A fresh, complete and valid AEAD request header (no body)."""
    return vc.seal_aead(ckey, vc.request_plain(port=target_port))


def legacy_header(uuid_text, ckey, t, plain):
    return vc.legacy_auth(uuid_text, t) + vc.legacy_cfb(ckey, t, plain)


def body_chunk(data):
    """One request body chunk for Security none + ChunkStream: BE16 length, then data."""
    return struct.pack(">H", len(data)) + data


def build(uuid_text, wrong_uuid, capture=None, echo_port=None, step=1):
    """[(class, chunks)] for every probe class, plus the controls when echo_port is set."""
    ck = vc.cmd_key(uuid_text)
    now = int(time.time())
    probes = []
    if capture:
        for n in (64, 128, 256, 512, 1024, 2048, LONGEST):
            probes += [("replayed real handshake", [capture[:n]])] * 4
    probes += [("random bytes", [os.urandom(n)]) for n in list(range(1, 513)) + LONG]
    hdr_len = len(aead_header(ck))
    for bit in range(hdr_len * 8):
        h = bytearray(aead_header(ck))
        h[bit // 8] ^= 1 << (bit % 8)
        probes.append(("AEAD header, 1 bit flipped", [bytes(h)]))
    lengths = list(range(17, 513, step)) + LONG
    for n in lengths:
        probes.append(("valid AuthID + garbage", [vc.auth_id(ck) + os.urandom(n - 16)]))
    for i, n in enumerate(lengths):
        auth = vc.legacy_auth(wrong_uuid, now - 100 + i % 200)
        probes.append(("legacy auth, wrong user", [auth + os.urandom(n - 16)]))
    for i, n in enumerate(lengths):
        auth = vc.legacy_auth(uuid_text, now - 100 + i % 200)
        probes.append(("legacy auth + garbage", [auth + os.urandom(n - 16)]))
    for i in range(32):
        plain = bytearray(vc.request_plain())
        plain[37] = BAD_COMMAND
        plain[-4:] = struct.pack(">I", vc.fnv1a32(bytes(plain[:-4])))
        hdr = legacy_header(uuid_text, ck, now - 30 + i, plain)
        tail = os.urandom(LONGEST - len(hdr)) if i % 2 else b""
        probes.append(("legacy header, bad command", [hdr + tail]))
    # The same failures with the first 16 bytes on their own: the server has taken the
    # AuthID / auth when the rest comes.
    for n in list(range(24, 513, 8)) + LONG:
        probes.append(("random bytes /split", _chunks(os.urandom(n), True)))
        data = vc.auth_id(ck) + os.urandom(n - 16)
        probes.append(("valid AuthID + garbage /split", _chunks(data, True)))
        data = vc.legacy_auth(uuid_text, now - 60 + n % 100) + os.urandom(n - 16)
        probes.append(("legacy auth + garbage /split", _chunks(data, True)))
    if echo_port:
        probes += controls(uuid_text, ck, now, echo_port)
    return probes


def controls(uuid_text, ck, now, echo_port):
    """Valid handshakes to the echo server: each must get an answer."""
    out = []
    for i in range(4):
        body = body_chunk(b"probe control %d" % i)
        out.append(("control: valid AEAD request", [aead_header(ck, echo_port) + body]))
        plain = vc.request_plain(port=echo_port)
        # Its own times: V2Ray taints an auth after a bad header, and the probes use many.
        hdr = legacy_header(uuid_text, ck, now + 105 + i, plain)
        out.append(("control: valid legacy request", [hdr + body]))
    return out
