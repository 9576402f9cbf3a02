#!/usr/bin/env python3
"""A DNS server on a loopback address that answers every query NXDOMAIN (UDP only).

  dns_nxdomain.py --host 127.53.1.2 --port 53 --ready-file F --stats S
--stats gets "query <name>" per query, so a test can tell its daemon asked here.
Exits after --lifetime seconds."""
import argparse
import ipaddress
import os
import socket
import sys
import threading


def qname(msg):
    """The first question's name, dotted ('' when the message is too short)."""
    labels, i = [], 12
    while i < len(msg) and msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return ".".join(labels), i + 5  # the zero label, QTYPE and QCLASS


def nxdomain(query):
    """The answer to query: its id and question, QR RD RA set, RCODE 3, no records."""
    _, end = qname(query)
    if len(query) < 12 or end > len(query):
        return None
    flags = 0x8000 | (query[2] << 8 & 0x0100) | 0x0080 | 3
    return query[:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00" + \
        query[12:end]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--ready-file")
    ap.add_argument("--stats")
    ap.add_argument("--lifetime", type=float, default=300.0)
    a = ap.parse_args()
    if not ipaddress.ip_address(a.host).is_loopback:
        sys.exit("refusing %s: loopback only" % a.host)
    s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.host, a.port))
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("%s %d\n" % (a.host, s.getsockname()[1]))
        os.rename(a.ready_file + ".tmp", a.ready_file)
    threading.Timer(a.lifetime, lambda: os._exit(0)).start()
    while True:
        q, peer = s.recvfrom(4096)
        answer = nxdomain(q)
        if answer is None:
            continue
        if a.stats:
            with open(a.stats, "a") as f:
                f.write("query %s\n" % qname(q)[0])
        s.sendto(answer, peer)


if __name__ == "__main__":
    main()
