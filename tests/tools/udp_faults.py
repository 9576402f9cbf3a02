#!/usr/bin/env python3
"""Datagrams whose relay session dies at once, then a good one on the same path.

socks mode: one SOCKS5 UDP ASSOCIATE; --rounds times, a datagram to each --bad HOST:PORT
(targets the proxy cannot or will not serve) and then a DNS-style query to --good that must
be answered; then the control connection is closed.
doko mode: from one UDP socket, --rounds times, a datagram to each --bad proxy port (UDP
inbounds whose fixed target fails) and a query to the --good proxy port that must be answered.
Prints one JSON line; exit 0 only when every good query got its right answer.
"""
import argparse
import ipaddress
import json
import socket
import struct
import sys

import detdata
import dnsstyle


def addr_field(host, port):
    ip = ipaddress.ip_address(host)
    atyp = 1 if ip.version == 4 else 4
    return bytes([atyp]) + ip.packed + struct.pack(">H", port)


def open_assoc(socks, timeout):
    """Returns (control socket, relay address) or raises RuntimeError."""
    ctl = socket.create_connection(socks, timeout=timeout)
    ctl.sendall(b"\x05\x01\x00")
    if ctl.recv(2) != b"\x05\x00":
        raise RuntimeError("method refused")
    ctl.sendall(b"\x05\x03\x00" + addr_field("0.0.0.0", 0))
    rep = ctl.recv(262)
    if len(rep) < 10 or rep[1] != 0 or rep[3] != 1:
        raise RuntimeError("UDP ASSOCIATE refused: %r" % rep)
    relay = (socket.inet_ntoa(rep[4:8]), struct.unpack(">H", rep[8:10])[0])
    if relay[0] == "0.0.0.0":
        relay = (socks[0], relay[1])
    return ctl, relay


def ask(u, send, query, want, timeout, tries=3):
    """Sends query with send() until want comes back; True when it did."""
    u.settimeout(timeout)
    for _ in range(tries):
        send(query)
        while True:
            try:
                got = u.recv(65535)
            except socket.timeout:
                break
            if got == want:
                return True
    return False


def run_socks(args, res):
    ctl, relay = open_assoc(detdata.parse_hostport(args.socks), args.timeout)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bad = [detdata.parse_hostport(b) for b in args.bad]
    gh, gp = detdata.parse_hostport(args.good)
    good_hdr = b"\x00\x00\x00" + addr_field(gh, gp)
    for r in range(args.rounds):
        for h, p in bad:
            u.sendto(b"\x00\x00\x00" + addr_field(h, p) + b"doomed %d" % r, relay)
            res["bad_sent"] += 1
        q = dnsstyle.make_query(args.seed, r, 64)
        ok = ask(u, lambda d: u.sendto(good_hdr + d, relay), q, good_hdr + dnsstyle.answer(q),
                 args.timeout)
        res["ok" if ok else "lost"] += 1
    ctl.close()


def run_doko(args, res):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host = args.host
    for r in range(args.rounds):
        for p in args.bad:
            u.sendto(b"doomed %d" % r, (host, int(p)))
            res["bad_sent"] += 1
        q = dnsstyle.make_query(args.seed, r, 64)
        ok = ask(u, lambda d: u.sendto(d, (host, int(args.good))), q, dnsstyle.answer(q),
                 args.timeout)
        res["ok" if ok else "lost"] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["socks", "doko"])
    ap.add_argument("--socks", help="socks mode: HOST:PORT of the SOCKS5 server")
    ap.add_argument("--host", default="127.0.0.1", help="doko mode: the proxy's address")
    ap.add_argument("--bad", action="append", default=[],
                    help="socks: a target HOST:PORT; doko: a proxy port (repeatable)")
    ap.add_argument("--good", required=True, help="socks: responder HOST:PORT; doko: port")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    res = {"mode": args.mode, "rounds": args.rounds, "bad_sent": 0, "ok": 0, "lost": 0}
    try:
        (run_socks if args.mode == "socks" else run_doko)(args, res)
    except (OSError, RuntimeError) as e:
        res["why"] = str(e)
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] == args.rounds and "why" not in res else 1


if __name__ == "__main__":
    sys.exit(main())
