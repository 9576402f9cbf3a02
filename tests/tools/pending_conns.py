#!/usr/bin/env python3
"""Many connections that never finish a handshake: connect, send a few bytes, then idle.

  pending_conns.py --port P --count 10000 --payload 0501 --ready-file F --stop-file S
Connects in batches (--batch at a time, each batch waited for), so neither side's backlog
overflows; writes the number connected to --ready-file once every attempt has settled, then
holds every connection until --stop-file exists or --hold seconds pass, and closes them.
Prints one JSON line: connected, failed (connect errors), closed (by the far end while held).
With --payload '' it is a burst of bare connection attempts. Loopback only.
"""
import argparse
import json
import os
import select
import socket
import sys
import time

LOOPBACK = ("127.0.0.1", "::1")


def connect_batch(host, port, n, payload, timeout):
    """Opens n non-blocking connections; returns (connected sockets, failures)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    pending, failed = {}, 0
    for _ in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, 115):  # EINPROGRESS
            s.close()
            failed += 1
            continue
        pending[s.fileno()] = s
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    done = []
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        for fd, _ in poller.poll(200):
            s = pending.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                s.close()
                failed += 1
                continue
            if payload:
                try:
                    s.send(payload)
                except OSError:
                    s.close()
                    failed += 1
                    continue
            done.append(s)
    for s in pending.values():
        s.close()
    return done, failed + len(pending)


def count_closed(socks):
    """How many of socks the far end has closed or reset (readable with EOF or an error)."""
    closed = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--payload", default="16030100", help="hex bytes each sends once connected")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--ready-file", help="gets the number connected once all have settled")
    ap.add_argument("--stop-file", help="close everything once this file exists")
    ap.add_argument("--hold", type=float, default=60.0, help="close everything after this")
    a = ap.parse_args()
    if a.host not in LOOPBACK:
        sys.exit("refusing %s: loopback only" % a.host)
    payload = bytes.fromhex(a.payload)
    socks, failed = [], 0
    for left in range(a.count, 0, -a.batch):
        got, bad = connect_batch(a.host, a.port, min(a.batch, left), payload, 10.0)
        socks += got
        failed += bad
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % len(socks))
        os.rename(a.ready_file + ".tmp", a.ready_file)
    end = time.monotonic() + a.hold
    while time.monotonic() < end and not (a.stop_file and os.path.exists(a.stop_file)):
        time.sleep(0.1)
    closed = count_closed(socks)
    for s in socks:
        s.close()
    print(json.dumps({"count": a.count, "connected": len(socks), "failed": failed,
                      "closed": closed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
