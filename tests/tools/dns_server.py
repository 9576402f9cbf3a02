#!/usr/bin/env python3
"""A tiny DNS server on loopback that counts what it is asked.

Every name under .test is known: names starting with "nx" get NXDOMAIN, the others an A
record --answer (127.0.0.1 unless told, TTL 300) and an empty answer for other types. A name
given with --set NAME=IP,IP,... gets instead one record per address, of the type asked: A
records for its IPv4 addresses, AAAA records for its IPv6 ones (none of that type: empty). Names
starting with "slow" are answered after --slow seconds. After each query, --stats FILE is
rewritten as JSON: {"queries": {name: count}, "max_names_pending": n} where the second is
the most names that were waiting for an answer at once (what a client's in-flight cap
bounds).
"""
import argparse
import json
import os
import socket
import struct
import threading
import time

import tcpserver


def parse_question(pkt):
    """(id, flags, qname, qtype, question bytes) of a query; ValueError when malformed."""
    if len(pkt) < 12:
        raise ValueError("short")
    qid, flags, qd = struct.unpack(">HHH", pkt[:6])
    if qd != 1:
        raise ValueError("qdcount")
    labels, i = [], 12
    while True:
        n = pkt[i]
        i += 1
        if n == 0:
            break
        labels.append(pkt[i:i + n].decode("ascii", "replace").lower())
        i += n
    qtype = struct.unpack(">H", pkt[i:i + 2])[0]
    return qid, flags, ".".join(labels), qtype, pkt[12:i + 4]


def record(ip):
    """(qtype, answer record) of one address, named by a pointer to the question."""
    family, qtype = (socket.AF_INET6, 28) if ":" in ip else (socket.AF_INET, 1)
    data = socket.inet_pton(family, ip)
    return qtype, struct.pack(">HHHIH", 0xC00C, qtype, 1, 300, len(data)) + data


def answer(qid, flags, name, qtype, question, addr="127.0.0.1", sets=None):
    """The response packet for one question: the records of name's set in sets (a dict of
    name -> addresses) of type qtype, else an A record holding addr."""
    nx = name.split(".")[0].startswith("nx")
    rcode = 3 if nx else 0
    addrs = (sets or {}).get(name, [addr] if qtype == 1 else [])
    records = [] if nx else [r for t, r in map(record, addrs) if t == qtype]
    hdr = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
    return hdr + question + b"".join(records)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    ap.add_argument("--answer", default="127.0.0.1", help="the IPv4 address of every A record")
    ap.add_argument("--slow", type=float, default=1.5, help="delay for slow* names, seconds")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=IP,IP",
                    help="the addresses (IPv4 and/or IPv6) of NAME's A and AAAA records")
    args = ap.parse_args()
    sets = {}
    for item in args.set:
        name, _, ips = item.partition("=")
        sets[name.lower()] = [ip for ip in ips.split(",") if ip]
    socks, port = tcpserver.bind_all(args, socket.SOCK_DGRAM)
    s = socks[0]
    lock = threading.Lock()
    queries, pending = {}, {}
    state = {"max": 0}

    def save():
        if args.stats:
            tmp = args.stats + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"queries": queries, "max_names_pending": state["max"]}, f)
            os.replace(tmp, args.stats)

    def reply_later(pkt, peer, name, delay):
        time.sleep(delay)
        with lock:  # before the answer leaves, so a client's next query never overlaps it
            pending[name] -= 1
        s.sendto(pkt, peer)

    tcpserver.announce(args, port)
    while True:
        pkt, peer = s.recvfrom(65535)
        try:
            qid, flags, name, qtype, question = parse_question(pkt)
        except (ValueError, IndexError):
            continue
        resp = answer(qid, flags, name, qtype, question, args.answer, sets)
        with lock:
            queries[name] = queries.get(name, 0) + 1
            pending[name] = pending.get(name, 0) + 1
            state["max"] = max(state["max"], sum(1 for v in pending.values() if v > 0))
            save()
        delay = args.slow if name.startswith("slow") else 0
        threading.Thread(target=reply_later, args=(resp, peer, name, delay), daemon=True).start()


if __name__ == "__main__":
    main()
