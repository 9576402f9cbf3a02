"""Builds VMess client handshakes byte by byte, for probe tests (vmess-protocol.md §2-§6).

Python's hashlib/hmac plus the `cryptography` package (AES-ECB, AES-CFB, AES-GCM). Only
what a prober needs: AEAD AuthIDs and sealed headers, legacy auths and CFB headers, and a
request header plaintext. `python3 vmess_craft.py` checks the §11 test vectors.
"""
import hashlib
import hmac
import os
import struct
import sys
import time
import uuid as uuidlib
import zlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

try:  # cryptography >= 43 keeps CFB here; Debian 12's 38 has it in modes only
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:
    CFB = modes.CFB

CMD_KEY_SALT = b"c48619fe-8f02-49e0-b9e9-edf763e17e21"
KDF_ROOT = b"VMess AEAD KDF"
SEC_NONE = 5
OPT_CHUNK_STREAM = 0x01


def uuid16(text):
    return uuidlib.UUID(text).bytes


def cmd_key(uuid_text):
    return hashlib.md5(uuid16(uuid_text) + CMD_KEY_SALT).digest()


def _kdf_hash(path, msg):
    """H_n(msg): HMAC with H_{n-1} as the hash; H_0 is HMAC-SHA256 keyed by the root."""
    if not path:
        return hmac.new(KDF_ROOT, msg, hashlib.sha256).digest()
    key = path[-1].ljust(64, b"\0")
    inner = _kdf_hash(path[:-1], bytes(b ^ 0x36 for b in key) + msg)
    return _kdf_hash(path[:-1], bytes(b ^ 0x5C for b in key) + inner)


def kdf(key, *path):
    return _kdf_hash([p.encode() if isinstance(p, str) else p for p in path], key)


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def auth_id(ckey, t=None, rand4=None):
    """A fresh AEAD AuthID for the user with cmdKey ckey."""
    t = int(time.time()) if t is None else t
    rand4 = os.urandom(4) if rand4 is None else rand4
    head = struct.pack(">Q", t) + rand4
    plain = head + struct.pack(">I", zlib.crc32(head))
    enc = Cipher(algorithms.AES(kdf(ckey, "AES Auth ID Encryption")[:16]), modes.ECB()).encryptor()
    return enc.update(plain) + enc.finalize()


def request_plain(target_ip="127.0.0.1", port=9, security=SEC_NONE, option=OPT_CHUNK_STREAM,
                  padding=b"", body_iv=None, body_key=None, v=0x5A):
    """A §6 request header plaintext for TCP to an IPv4 target."""
    body_iv = os.urandom(16) if body_iv is None else body_iv
    body_key = os.urandom(16) if body_key is None else body_key
    h = bytes([1]) + body_iv + body_key + bytes([v, option, len(padding) << 4 | security, 0, 1])
    h += struct.pack(">H", port) + bytes([1]) + bytes(int(x) for x in target_ip.split("."))
    h += padding
    return h + struct.pack(">I", fnv1a32(h))


def seal_aead(ckey, plain, aid=None, nonce=None):
    """AuthID ‖ EncLen ‖ ConnNonce ‖ EncHeader (§5)."""
    aid = auth_id(ckey) if aid is None else aid
    nonce = os.urandom(8) if nonce is None else nonce
    k_len = kdf(ckey, "VMess Header AEAD Key_Length", aid, nonce)[:16]
    n_len = kdf(ckey, "VMess Header AEAD Nonce_Length", aid, nonce)[:12]
    k_hdr = kdf(ckey, "VMess Header AEAD Key", aid, nonce)[:16]
    n_hdr = kdf(ckey, "VMess Header AEAD Nonce", aid, nonce)[:12]
    enc_len = AESGCM(k_len).encrypt(n_len, struct.pack(">H", len(plain)), aid)
    return aid + enc_len + nonce + AESGCM(k_hdr).encrypt(n_hdr, plain, aid)


def legacy_auth(uuid_text, t):
    return hmac.new(uuid16(uuid_text), struct.pack(">Q", t), hashlib.md5).digest()


def legacy_cfb(ckey, t, data):
    """data under the legacy header cipher: AES-128-CFB, IV = MD5(BE64(t) x 4)."""
    iv = hashlib.md5(struct.pack(">Q", t) * 4).digest()
    enc = Cipher(algorithms.AES(ckey), CFB(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def self_test():
    """The §11 vectors; returns a list of the ones that differ."""
    u = "27848739-7e62-4138-9fd3-098a63964b6b"
    ck = cmd_key(u)
    t = 1700000000
    plain = bytes.fromhex("01101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
                          "5a0d03000101bb020b6578616d706c652e636f6d880654e7")
    aid = auth_id(ck, t, bytes.fromhex("01020304"))
    wire = seal_aead(ck, plain, aid, bytes.fromhex("a1a2a3a4a5a6a7a8"))
    want = {
        "kdf": (kdf(b"Demo Key for KDF Value Test", "Demo Path for KDF Value Test",
                    "Demo Path for KDF Value Test2", "Demo Path for KDF Value Test3").hex(),
                "53e9d7e1bd7bd25022b71ead07d8a596efc8a845c7888652fd684b4903dc8892"),
        "cmdKey": (ck.hex(), "6f87e1b19f8da25df715d655ae9a1764"),
        "legacy auth": (legacy_auth(u, t).hex(), "a965548db6bc114289eecbc893ca0c6f"),
        "AuthID": (aid.hex(), "6868c12572a3ce177baac5f08cc54ec3"),
        "EncLen": (wire[16:34].hex(), "226f93f15d51ed2dd9cdffb4673683d628fe"),
        "legacy header": (legacy_cfb(ck, t, plain).hex(),
                          "8d24e185786bcec64c1ddfff9f4fb0d0fc54874d4c6f559a7c814e5103f5c93c"
                          "74c31da3c3a971f28e517697f60d1c1f31222a93042ff3b1e0"),
    }
    return [k for k, (got, exp) in want.items() if got != exp]


if __name__ == "__main__":
    bad = self_test()
    print("vectors: " + ("ok" if not bad else "MISMATCH " + ", ".join(bad)))
    sys.exit(1 if bad else 0)
