#!/usr/bin/env python3
"""Xray's VMess UDP, byte for byte as its outbound writes it (XTLS/Xray-core
proxy/vmess/outbound + common/xudp PacketWriter), sent to an evproxy server: an AEAD request
header with command 3 (Mux, no address: Xray names v1.mux.cool:666 and the encoder leaves
Mux's address out), a plain chunk stream (security none), and in it Mux.Cool frames of
session 0: New, network UDP, the target, an 8-byte Global ID, then the first datagram; later
datagrams in Keep frames carrying their own address.
Checks at the far end: target A gets the first datagram and remote B the second (sent to B's
address in a Keep) from the same server port (one full-cone socket); after that connection
closes, a second connection with the same Global ID reaches A from the same port again, and
so does a third opened while the second is still open (it takes the port over).
Prints one JSON line; exit 0 only when all of that held."""
import argparse
import json
import os
import socket
import struct
import sys
import time

import vmess_craft as vc

CMD_MUX = 3
GLOBAL_ID = bytes.fromhex("0102030405060708")


def request_header(uuid_text):
    """The sealed request for command 3 with security none and a chunk stream."""
    h = bytes([1]) + os.urandom(16) + os.urandom(16)
    h += bytes([0x5A, vc.OPT_CHUNK_STREAM, vc.SEC_NONE, 0, CMD_MUX])
    h += struct.pack(">I", vc.fnv1a32(h))
    return vc.seal_aead(vc.cmd_key(uuid_text), h)


def ipv4_port_first(host, port):
    return struct.pack(">H", port) + b"\x01" + socket.inet_aton(host)


def frame_new(target, data):
    meta = b"\x00\x00" + bytes([1, 1, 2]) + ipv4_port_first(*target) + GLOBAL_ID
    return struct.pack(">H", len(meta)) + meta + struct.pack(">H", len(data)) + data


def frame_keep(to, data):
    meta = b"\x00\x00" + bytes([2, 1, 2]) + ipv4_port_first(*to)
    return struct.pack(">H", len(meta)) + meta + struct.pack(">H", len(data)) + data


def chunk(data):
    return struct.pack(">H", len(data)) + data


def receive(sock, timeout):
    sock.settimeout(timeout)
    try:
        data, peer = sock.recvfrom(65535)
        return data, peer[1]
    except socket.timeout:
        return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True, help="HOST:PORT of the evproxy vmess inbound")
    ap.add_argument("--uuid", required=True)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    host, port = args.server.rsplit(":", 1)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    res = {"ok": False}

    def done(why=None):
        if why:
            res["why"] = why
        print(json.dumps(res))
        return 0 if res["ok"] else 1

    c1 = socket.create_connection((host, int(port)), timeout=args.timeout)
    c1.sendall(request_header(args.uuid) + chunk(frame_new(a.getsockname(), b"xray-hi")))
    got, pa = receive(a, args.timeout)
    res["a_port"] = pa
    if got != b"xray-hi":
        return done("target A did not get the New frame's datagram: %r" % got)
    c1.sendall(chunk(frame_keep(b.getsockname(), b"xray-to-b")))
    got, pb = receive(b, args.timeout)
    res["b_port"] = pb
    if got != b"xray-to-b":
        return done("remote B did not get the Keep frame's datagram: %r" % got)
    if pa != pb:
        return done("A and B were sent to from different ports: not one full-cone socket")
    c1.close()
    time.sleep(1.0)  # the server sees the first connection end and keeps its socket
    c2 = socket.create_connection((host, int(port)), timeout=args.timeout)
    c2.sendall(request_header(args.uuid) + chunk(frame_new(a.getsockname(), b"again")))
    got, again = receive(a, args.timeout)
    res["a_port_again"] = again
    if again != pa:
        c2.close()
        return done("a new connection with the same Global ID came from port %s, not %s" %
                    (again, pa))
    # A client back on a new connection while its old one still looks alive to the server
    # (a phone that changed networks): the new sub-stream takes the port over at once.
    c3 = socket.create_connection((host, int(port)), timeout=args.timeout)
    c3.sendall(request_header(args.uuid) + chunk(frame_new(a.getsockname(), b"taken")))
    got, taken = receive(a, args.timeout)
    res["a_port_taken_over"] = taken
    c2.close()
    c3.close()
    if got != b"taken" or taken != pa:
        return done("a connection with the Global ID of one still open came from port %s, "
                    "not %s (%r)" % (taken, pa, got))
    res["ok"] = True
    return done()


if __name__ == "__main__":
    sys.exit(main())
