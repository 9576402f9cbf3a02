#!/usr/bin/env python3
"""Misbehaving clients of evproxy's control socket (a Unix stream socket). Modes:
  hold    open --idle connections that send nothing and --drip ones that send a byte of an
          unfinished request every --interval s; write --ready once all are connected, then
          wait (at most --max-secs) for the daemon to end each one
  many    open --count connections at once, send nothing, wait (at most --max-secs) for
          each to end
  long    send --bytes of a request that never ends its line; read the reply
  stale   leave a socket file at PATH that nobody listens on (bind, close, no unlink)
  listen  listen on PATH until killed (another program's socket); --ready once listening
Prints one JSON line per connection ("reply": the daemon's first line, "closed": whether
the daemon ended the connection) and, for hold/many, a summary line."""
import argparse
import json
import os
import select
import socket
import sys
import threading
import time


def connect(path, end):
    """Connects by end (monotonic). A full listen backlog makes a Unix connect fail with
    EAGAIN rather than wait: retry until the daemon has taken some off."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() >= end:
                raise
            time.sleep(0.01)


def watch(sock, end, drip_every=None):
    """Waits until the daemon closes sock or end passes, dripping a byte when asked.
    Returns {"closed", "reply", "sent", "secs"}."""
    t0 = time.monotonic()
    got = b""
    sent = 0
    closed = False
    next_drip = t0
    while time.monotonic() < end:
        if drip_every is not None and time.monotonic() >= next_drip:
            try:
                sock.send(b"{" if sent == 0 else b" ")
                sent += 1
            except OSError:
                closed = True
                break
            next_drip += drip_every
        wait = 0.1 if drip_every is None else max(0.0, min(0.1, next_drip - time.monotonic()))
        r, _, _ = select.select([sock], [], [], wait)
        if not r:
            continue
        try:
            d = sock.recv(65536)
        except OSError:
            closed = True
            break
        if not d:
            closed = True
            break
        got += d
    # Whatever reply came before a reset is still readable.
    try:
        sock.setblocking(False)
        got += sock.recv(65536)
    except OSError:
        pass
    sock.close()
    return {"closed": closed, "reply": got.split(b"\n")[0].decode(errors="replace"),
            "sent": sent, "secs": round(time.monotonic() - t0, 2)}


def write_ready(path):
    with open(path + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(path + ".tmp", path)


def run_all(socks, kinds, end, interval):
    results = [None] * len(socks)

    def one(i):
        r = watch(socks[i], end, interval if kinds[i] == "drip" else None)
        r["kind"] = kinds[i]
        results[i] = r

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(socks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end + 5 - time.monotonic()))
    for r in results:
        print(json.dumps(r), flush=True)
    closed = sum(1 for r in results if r and r["closed"])
    print(json.dumps({"summary": True, "count": len(socks), "closed": closed}), flush=True)
    return 0 if closed == len(socks) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["hold", "many", "long", "stale", "listen"])
    ap.add_argument("path")
    ap.add_argument("--idle", type=int, default=1)
    ap.add_argument("--drip", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--bytes", type=int, default=100000)
    ap.add_argument("--max-secs", type=float, default=40.0)
    ap.add_argument("--ready")
    a = ap.parse_args()
    end = time.monotonic() + a.max_secs

    if a.mode == "stale":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(a.path)
        s.close()
        return 0
    if a.mode == "listen":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(a.path)
        s.listen(4)
        if a.ready:
            write_ready(a.ready)
        while time.monotonic() < end:
            time.sleep(0.2)
        return 0
    if a.mode == "long":
        s = connect(a.path, end)

        def send():
            try:
                s.sendall(b'{"cmd": "stats", "pad": "' + b"x" * a.bytes)
            except OSError:
                pass

        t = threading.Thread(target=send, daemon=True)
        t.start()
        r = watch(s, end)
        t.join(1)
        print(json.dumps(r), flush=True)
        return 0 if r["closed"] else 1
    if a.mode == "hold":
        kinds = ["idle"] * a.idle + ["drip"] * a.drip
    else:
        kinds = ["idle"] * a.count
    socks = []
    for _ in kinds:
        try:
            socks.append(connect(a.path, end))
        except OSError as e:
            print(json.dumps({"connect": str(e)}), flush=True)
            return 1
    if a.ready:
        write_ready(a.ready)
    return run_all(socks, kinds, end, a.interval)


if __name__ == "__main__":
    sys.exit(main())
