#!/usr/bin/env python3
"""PROXY protocol sender: connects (optionally from a chosen loopback source), sends a PROXY
protocol header naming a client address, laid out as haproxy's doc/proxy-protocol.txt says,
then streams like tcp_stream.py (echo mode: N bytes out, the same N back, sha256 checked).

Headers: v1 (TCP4/TCP6 line), v1-unknown, v2 (PROXY, INET/INET6, one NOOP TLV), v2-local,
none (no header: what a direct client or a probe sends). With --socks HOST:PORT a SOCKS5
CONNECT (no auth) to that target follows the header, for a socks inbound.
Prints {"local": "ADDR:PORT"} per connection, then one JSON object per session on stdout;
exit 0 only if every session is ok.
"""
import argparse
import ipaddress
import json
import socket
import struct
import sys
import time

import detdata
import tcp_stream

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def header(kind, claim_host, claim_port, dest_port):
    src = ipaddress.ip_address(claim_host)
    dst = ipaddress.ip_address("127.0.0.1" if src.version == 4 else "::1")
    if kind == "none":
        return b""
    if kind == "v1":
        fam = "TCP4" if src.version == 4 else "TCP6"
        return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, claim_port, dest_port)).encode()
    if kind == "v1-unknown":
        return b"PROXY UNKNOWN\r\n"
    if kind == "v2-local":
        return V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    # v2 PROXY over STREAM, INET (0x11) or INET6 (0x21), then a PP2_TYPE_NOOP TLV.
    block = src.packed + dst.packed + struct.pack("!HH", claim_port, dest_port)
    block += bytes([0x04]) + struct.pack("!H", 3) + b"pad"
    fam = 0x11 if src.version == 4 else 0x21
    return V2_SIG + bytes([0x21, fam]) + struct.pack("!H", len(block)) + block


def socks_connect(sock, target):
    """A SOCKS5 CONNECT without authentication to target (HOST, PORT), HOST an IPv4 literal."""
    sock.sendall(b"\x05\x01\x00")
    if recv_exact(sock, 2) != b"\x05\x00":
        raise OSError("socks: no-auth refused")
    host, port = target
    sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack("!H", port))
    reply = recv_exact(sock, 10)
    if reply[1] != 0:
        raise OSError("socks: CONNECT failed (reply %d)" % reply[1])


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        more = sock.recv(n - len(data))
        if not more:
            raise OSError("closed after %d of %d bytes" % (len(data), n))
        data += more
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connect", required=True, help="HOST:PORT")
    ap.add_argument("--header", choices=("v1", "v1-unknown", "v2", "v2-local", "none"),
                    default="v1")
    ap.add_argument("--claim", default="203.0.113.7:4242",
                    help="the client address the header names, HOST:PORT or [V6]:PORT")
    ap.add_argument("--bind", default=None, help="source address to connect from")
    ap.add_argument("--socks", default=None, help="then a SOCKS5 CONNECT to this HOST:PORT")
    tcp_stream.add_stream_args(ap)
    args = ap.parse_args()
    host, port = detdata.parse_hostport(args.connect)
    chost, cport = detdata.parse_hostport(args.claim)

    def connect(i, deadline):
        src = (args.bind, 0) if args.bind else None
        sock = socket.create_connection((host, port), source_address=src,
                                        timeout=max(0.1, deadline - time.monotonic()))
        local = sock.getsockname()
        print(json.dumps({"local": "%s:%d" % (local[0], local[1])}), flush=True)
        sock.sendall(header(args.header, chost, cport, port))
        if args.socks:
            socks_connect(sock, detdata.parse_hostport(args.socks))
        return sock
    return tcp_stream.run_many(args, connect)


if __name__ == "__main__":
    sys.exit(main())
