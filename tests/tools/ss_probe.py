#!/usr/bin/env python3
"""Probes a shadowsocks server the way an active prober would, and says where it closes.

Each probe is a byte string sent on a fresh connection: random bytes of several lengths,
a captured real first flight (--capture) with one bit flipped in the salt, in the sealed
length or in the first chunk, and the capture itself unchanged (a replay, for a server that
has seen it). After the probe the connection must stay open, unanswered, for --quiet
seconds; then filler goes in --step byte pieces until the server closes (or --max bytes).
Prints JSON per probe {"probe", "answered", "early_close", "closed_at"}: closed_at counts
every byte sent before the close was seen (a multiple of --step past the probe).
"""
import argparse
import json
import os
import socket
import time

import detdata


def run(addr, probe, quiet, step, poll, limit):
    res = {"answered": 0, "early_close": False, "closed_at": None}
    s = socket.create_connection(addr, timeout=5)
    try:
        s.sendall(probe)
        sent = len(probe)
        s.settimeout(quiet)
        try:
            got = s.recv(4096)
            res["answered"] = len(got)
            res["early_close"] = not got
            return res
        except socket.timeout:
            pass
        filler = os.urandom(step)
        s.settimeout(poll)
        while sent < limit:
            try:
                s.sendall(filler)
                sent += step
                got = s.recv(4096)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                got = b""
            if got:
                res["answered"] += len(got)
                continue
            res["closed_at"] = sent
            return res
        return res
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connect", required=True, help="HOST:PORT")
    ap.add_argument("--capture", required=True, help="a real client's first bytes")
    ap.add_argument("--salt", type=int, default=32, help="the method's salt size")
    ap.add_argument("--quiet", type=float, default=1.0)
    ap.add_argument("--step", type=int, default=1024)
    ap.add_argument("--poll", type=float, default=0.1, help="seconds to look for a close per step")
    ap.add_argument("--max", type=int, default=1 << 16)
    args = ap.parse_args()
    addr = detdata.parse_hostport(args.connect)
    cap = open(args.capture, "rb").read()
    probes = {"random-%d" % n: os.urandom(n) for n in (60, 200, 1500)}
    for name, at in (("salt", 3), ("length", args.salt + 1), ("first-chunk", args.salt + 20)):
        b = bytearray(cap)
        b[at] ^= 0x04
        probes["flip-" + name] = bytes(b)
    probes["replay"] = cap
    for name, probe in probes.items():
        r = run(addr, probe, args.quiet, args.step, args.poll, args.max)
        r["probe"] = name
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
