"""SOCKS5 CONNECT (no auth) to a 127.0.0.1 port: the bytes, shared by the probe and the
asyncio request client, which each do their own I/O."""

import socket

GREETING = b"\x05\x01\x00"  # version 5, one method: no authentication
CHOSEN = b"\x05\x00"
_ADDR_LEN = {1: 4, 4: 16}  # IPv4, IPv6; 3 (domain) has its length in the next byte


def connect_request(port):
    """CONNECT 127.0.0.1:port."""
    return b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + port.to_bytes(2, "big")


def reply_rest(head):
    """head: the reply's first 5 bytes. How many bytes of bound address and port follow;
    raises OSError on a refusal or a reply that is not SOCKS5."""
    if len(head) != 5 or head[0] != 5:
        raise OSError(f"socks: not a SOCKS5 reply: {head.hex()}")
    if head[1] != 0:
        raise OSError(f"socks: CONNECT refused, reply {head[1]}")
    if head[3] == 3:
        return head[4] + 2
    if head[3] not in _ADDR_LEN:
        raise OSError(f"socks: address type {head[3]} in the reply")
    return _ADDR_LEN[head[3]] - 1 + 2  # the address's first byte was head[4]
