#!/usr/bin/env python3
"""Probes a SOCKS5 proxy's global limits; prints one JSON line, exit 0 when it behaved.

sessions N:   N SOCKS CONNECT sessions to an echo --target are opened and checked; one more
              client's greeting must get no answer for --quiet seconds; once the first
              session is closed it must be served (within --wait seconds).
handshakes N: N connections that send the greeting, see it answered (so each is accepted and
              counted, whichever worker's socket the kernel queued it on) and never name a
              target; one more client's greeting must get no answer for --quiet seconds, and
              be served once the proxy's handshake deadline has closed the idle ones (within
              --wait seconds).
assoc-idle:   a UDP ASSOCIATE that carries nothing must be closed by the proxy within --wait
              seconds, while one that sends a datagram every --every seconds to --target (a
              DNS-style responder) for --busy seconds stays open and answered.
assoc-cap N:  N associations open; one more must be refused.
"""
import argparse
import json
import socket
import struct
import sys
import time

import detdata
import dnsstyle


def greet(c):
    c.sendall(b"\x05\x01\x00")


def got_greeting(c, timeout):
    """True when the method reply arrives within timeout."""
    c.settimeout(timeout)
    try:
        return c.recv(2) == b"\x05\x00"
    except socket.timeout:
        return False


def addr_field(host, port):
    return b"\x01" + socket.inet_aton(host) + struct.pack(">H", port)


def request(c, cmd, host, port, timeout):
    """Sends a SOCKS request after the greeting; returns the reply (b"" when closed)."""
    c.settimeout(timeout)
    c.sendall(b"\x05" + bytes([cmd]) + b"\x00" + addr_field(host, port))
    try:
        return c.recv(262)
    except (socket.timeout, ConnectionError):
        return b""


def greeted(socks, timeout):
    """A connection whose SOCKS greeting the proxy answered."""
    c = socket.create_connection(socks, timeout=timeout)
    greet(c)
    if not got_greeting(c, timeout):
        raise RuntimeError("greeting not answered")
    return c


def connect_session(socks, target, timeout):
    """A SOCKS CONNECT session to an echo target, checked with one round trip."""
    c = greeted(socks, timeout)
    rep = request(c, 1, target[0], target[1], timeout)
    if len(rep) < 2 or rep[1] != 0:
        raise RuntimeError("CONNECT refused: %r" % rep)
    c.sendall(b"ping")
    if c.recv(4) != b"ping":
        raise RuntimeError("no echo")
    return c


def closed_by_peer(c, timeout):
    """True when the peer closes c within timeout (EOF or reset)."""
    c.settimeout(timeout)
    try:
        return c.recv(1) == b""
    except ConnectionError:
        return True
    except socket.timeout:
        return False


def held_back(args, res, free_one):
    """The extra client: not served while the cap holds, served after free_one()."""
    extra = socket.create_connection(args.socks, timeout=args.wait)
    greet(extra)
    res["served_while_full"] = got_greeting(extra, args.quiet)
    free_one()
    res["served_after"] = res["served_while_full"] or got_greeting(extra, args.wait)
    if res["served_after"]:
        rep = request(extra, 1, args.target[0], args.target[1], args.wait)
        res["extra_connect_ok"] = len(rep) >= 2 and rep[1] == 0
    return not res["served_while_full"] and res["served_after"] and res.get("extra_connect_ok")


def run_sessions(args, res):
    held = [connect_session(args.socks, args.target, args.wait) for _ in range(args.n)]
    res["opened"] = len(held)
    return held_back(args, res, lambda: held[0].close())


def run_handshakes(args, res):
    idle = [greeted(args.socks, args.wait) for _ in range(args.n)]
    t0 = time.monotonic()

    def deadline_frees():
        res["idle_closed"] = sum(closed_by_peer(c, args.wait) for c in idle)
        res["idle_closed_after_s"] = round(time.monotonic() - t0, 1)

    ok = held_back(args, res, deadline_frees)
    return ok and res["idle_closed"] == args.n


def open_assoc(args):
    c = socket.create_connection(args.socks, timeout=args.wait)
    greet(c)
    if not got_greeting(c, args.wait):
        raise RuntimeError("greeting not answered")
    rep = request(c, 3, "0.0.0.0", 0, args.wait)
    return c, rep


def run_assoc_idle(args, res):
    quiet, rep = open_assoc(args)
    busy, rep2 = open_assoc(args)
    if rep[1:2] != b"\x00" or rep2[1:2] != b"\x00":
        raise RuntimeError("UDP ASSOCIATE refused: %r %r" % (rep, rep2))
    relay = (socket.inet_ntoa(rep2[4:8]), struct.unpack(">H", rep2[8:10])[0])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(args.wait)
    hdr = b"\x00\x00\x00" + addr_field(args.target[0], args.target[1])
    t0, i, answered = time.monotonic(), 0, 0
    while time.monotonic() - t0 < args.busy:
        q = dnsstyle.make_query(5, i, 32)
        u.sendto(hdr + q, relay)
        try:
            answered += u.recv(65535) == hdr + dnsstyle.answer(q)
        except socket.timeout:
            pass
        i += 1
        time.sleep(args.every)
    res["busy_sent"], res["busy_answered"] = i, answered
    res["busy_still_open"] = not closed_by_peer(busy, 0.01)
    res["quiet_closed"] = closed_by_peer(quiet, args.wait)
    res["quiet_closed_after_s"] = round(time.monotonic() - t0, 1)
    return res["quiet_closed"] and res["busy_still_open"] and answered == i


def run_assoc_cap(args, res):
    held = [open_assoc(args) for _ in range(args.n)]
    res["held_ok"] = sum(rep[1:2] == b"\x00" for _, rep in held)
    _, rep = open_assoc(args)
    res["extra_reply"] = rep[1] if len(rep) > 1 else None
    return res["held_ok"] == args.n and res["extra_reply"] not in (None, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["sessions", "handshakes", "assoc-idle", "assoc-cap"])
    ap.add_argument("n", type=int, nargs="?", default=0)
    ap.add_argument("--socks", required=True, type=detdata.parse_hostport)
    ap.add_argument("--target", type=detdata.parse_hostport, help="echo (TCP) or responder (UDP)")
    ap.add_argument("--quiet", type=float, default=1.5)
    ap.add_argument("--wait", type=float, default=15.0)
    ap.add_argument("--busy", type=float, default=4.0)
    ap.add_argument("--every", type=float, default=0.3)
    args = ap.parse_args()
    res = {"mode": args.mode, "n": args.n}
    run = {"sessions": run_sessions, "handshakes": run_handshakes,
           "assoc-idle": run_assoc_idle, "assoc-cap": run_assoc_cap}[args.mode]
    try:
        ok = run(args, res)
    except (OSError, RuntimeError) as e:
        ok, res["why"] = False, str(e)
    print(json.dumps(res), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
