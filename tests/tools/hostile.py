#!/usr/bin/env python3
"""Hostile clients against one port. Modes:
  drip     send a byte every --interval s (the bytes of --payload, then zeros); ok when the
           server closes within --within seconds
  garbage  send --bytes random bytes; ok when the server closes (after any drain) within
           --within seconds without answering a single byte
  idle     open --count connections that send nothing; ok when all are closed by the server
           within --within seconds
Prints one JSON line; exit 0 only when ok."""
import argparse
import json
import os
import select
import socket
import sys
import time


def closed_within(sock, within, drip=None, interval=0.5):
    """Waits for EOF, sending drip (bytes, then zeros) one byte per interval when given;
    returns (closed, bytes_answered)."""
    end = time.time() + within
    answered = 0
    next_drip = time.time()
    dripped = 0
    while time.time() < end:
        if drip is not None and time.time() >= next_drip:
            try:
                sock.sendall(drip[dripped:dripped + 1] or b"\x00")
            except OSError:
                return True, answered
            dripped += 1
            next_drip = time.time() + interval
        r, _, _ = select.select([sock], [], [], 0.1)
        if r:
            try:
                d = sock.recv(65536)
            except OSError:
                return True, answered
            if not d:
                return True, answered
            answered += len(d)
    return False, answered


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=["drip", "garbage", "idle"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--within", type=float, default=10)
    ap.add_argument("--bytes", type=int, default=65536)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.5, help="drip: seconds per byte")
    ap.add_argument("--payload", default="", help="drip: hex bytes to drip before zeros")
    a = ap.parse_args()
    res = {"mode": a.mode}
    t0 = time.time()
    if a.mode == "idle":
        socks = [socket.create_connection((a.host, a.port), timeout=5) for _ in range(a.count)]
        gone = 0
        for s in socks:
            c, _ = closed_within(s, max(0.1, a.within - (time.time() - t0)))
            gone += c
            s.close()
        res.update(count=a.count, closed=gone)
        ok = gone == a.count
    else:
        s = socket.create_connection((a.host, a.port), timeout=5)
        if a.mode == "garbage":
            try:
                s.sendall(os.urandom(a.bytes))
            except OSError:
                pass
        drip = bytes.fromhex(a.payload) if a.mode == "drip" else None
        closed, answered = closed_within(s, a.within, drip, a.interval)
        res.update(closed=closed, answered=answered)
        ok = closed and (a.mode == "drip" or answered == 0)
    res["seconds"] = round(time.time() - t0, 2)
    res["ok"] = ok
    print(json.dumps(res))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
