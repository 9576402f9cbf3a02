#!/usr/bin/env python3
"""SOCKS5 UDP ASSOCIATE client: opens the association on a TCP control connection, sends
--count DNS-style queries through the relay to --target and checks every answer
(dnsstyle.answer of its query) and the SOCKS header the relay puts on it (source =
the target). An answer to a query already given up on (--timeout each) is counted as late
and skipped, so one slow answer does not make the next ones look wrong. Prints one JSON
line; exit 0 only when every query was answered right."""
import argparse
import ipaddress
import json
import socket
import struct
import sys

import dnsstyle


def addr_field(host, port):
    ip = ipaddress.ip_address(host)
    atyp = 1 if ip.version == 4 else 4
    return bytes([atyp]) + ip.packed + struct.pack(">H", port)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--socks", required=True, help="HOST:PORT of the SOCKS5 server")
    ap.add_argument("--target", required=True, help="IPv4 HOST:PORT of the UDP responder")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()
    sh, sp = args.socks.rsplit(":", 1)
    th, tp = args.target.rsplit(":", 1)
    res = {"count": args.count, "ok": 0, "wrong": 0, "lost": 0}
    ctl = socket.create_connection((sh, int(sp)), timeout=args.timeout)
    ctl.sendall(b"\x05\x01\x00")
    if ctl.recv(2) != b"\x05\x00":
        res["why"] = "method refused"
        print(json.dumps(res))
        return 1
    ctl.sendall(b"\x05\x03\x00" + addr_field("0.0.0.0", 0))
    rep = ctl.recv(262)
    if len(rep) < 10 or rep[1] != 0:
        res["why"] = "UDP ASSOCIATE refused: %r" % rep
        print(json.dumps(res))
        return 1
    if rep[3] == 1:
        relay = (socket.inet_ntoa(rep[4:8]), struct.unpack(">H", rep[8:10])[0])
    else:
        res["why"] = "relay address type %d" % rep[3]
        print(json.dumps(res))
        return 1
    if relay[0] == "0.0.0.0":
        relay = (sh, relay[1])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(args.timeout)
    header = b"\x00\x00\x00" + addr_field(th, int(tp))
    earlier = set()  # answers to queries already given up on: late, not wrong
    res["late"] = 0
    for i in range(args.count):
        q = dnsstyle.make_query(args.seed, i, args.size)
        want = header + dnsstyle.answer(q)
        u.sendto(header + q, relay)
        while True:
            try:
                pkt, _ = u.recvfrom(65535)
            except socket.timeout:
                res["lost"] += 1
                earlier.add(want)
                break
            if pkt == want:
                res["ok"] += 1
                break
            if pkt in earlier:
                res["late"] += 1
                continue
            res["wrong"] += 1
            break
    ctl.close()
    print(json.dumps(res))
    return 0 if res["ok"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
