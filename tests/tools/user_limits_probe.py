#!/usr/bin/env python3
"""Client side of the per-user limits e2e test (49-user-limits.sh), through a SOCKS5 proxy
(a V2Ray client) to targets on loopback. Prints one JSON object; every wait is bounded.

  rate --sessions N             N downloads at once from a send-close server: bytes
                                received, seconds from the first connect to the last byte
                                (the close comes later: V2Ray's client passes it on late),
                                and their ratio (the test judges it)
  upload --bytes B              B bytes sent to an echo server while its echo is read: seconds
                                from the connect to the last byte back, and the rate
  hold --count K                K echo sessions held open, then one more tried while they
                                are, then, after one of them closed, tried until one is
                                taken (the server sees the close later: at most 20 s)
  echo [--ready F --hold-until G]  one echo; once it answered, F is written and the session
                                kept open until the file G exists (at most 60 s)
  download                      reads until the end: bytes received
An echo that does not come back within 5 s, or a connection ended before it, is "refused".
"""
import argparse
import json
import os
import socket
import threading
import time

from socks5_client import socks5_connect

WAIT = 5.0
AFTER_CLOSE_WAIT = 20.0  # for the server to see a closed session's end (V2Ray passes it on)
HOLD_MAX = 60.0


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def open_echo(args):
    """A socket whose echo answered, or None when the session was refused."""
    try:
        s = socks5_connect(addr(args.socks), *addr(args.target), timeout=WAIT)
        s.sendall(b"ping")
        got = b""
        while len(got) < 4:
            data = s.recv(4 - len(got))
            if not data:
                break
            got += data
        if got == b"ping":
            return s
        s.close()
    except (OSError, ValueError):
        pass
    return None


def wait_for_file(path, limit):
    end = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.05)


def cmd_echo(args):
    s = open_echo(args)
    if s and args.ready:
        with open(args.ready, "w") as f:
            f.write("echoed\n")
    if s and args.hold_until:
        wait_for_file(args.hold_until, HOLD_MAX)
    print(json.dumps({"echo": "echoed" if s else "refused"}))
    if s:
        s.close()


def cmd_hold(args):
    held = [open_echo(args) for _ in range(args.count)]
    extra = open_echo(args)
    out = {"held": sum(1 for s in held if s), "extra": "echoed" if extra else "refused"}
    if extra:
        extra.close()
    if held[0]:
        held[0].close()
        # The slot frees when the server sees the end: until then a try is refused.
        end = time.monotonic() + AFTER_CLOSE_WAIT
        tries = 0
        again = None
        while again is None and (tries == 0 or time.monotonic() < end):
            if tries:
                time.sleep(0.2)
            again = open_echo(args)
            tries += 1
        out["after_close"] = "echoed" if again else "refused"
        out["after_close_tries"] = tries
        if again:
            again.close()
    for s in held[1:]:
        if s:
            s.close()
    print(json.dumps(out))


def download(args, sink, i):
    n = 0
    try:
        s = socks5_connect(addr(args.socks), *addr(args.target), timeout=60)
        s.settimeout(60)
        while True:
            data = s.recv(65536)
            if not data:
                break
            n += len(data)
            sink["ended"][i] = time.monotonic()  # the last byte's time, not the close's
        s.close()
    except (OSError, ValueError) as e:
        sink["errors"].append(str(e))
    sink["bytes"][i] = n


def cmd_rate(args):
    sink = {"bytes": [0] * args.sessions, "ended": [0.0] * args.sessions, "errors": []}
    t0 = time.monotonic()
    threads = [threading.Thread(target=download, args=(args, sink, i))
               for i in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = max(sink["ended"]) - t0
    total = sum(sink["bytes"])
    print(json.dumps({"bytes": total, "per_session": sink["bytes"], "seconds": seconds,
                      "rate": total / seconds if seconds > 0 else 0,
                      "errors": sink["errors"]}))


def cmd_upload(args):
    s = socks5_connect(addr(args.socks), *addr(args.target), timeout=60)
    s.settimeout(60)
    t0 = time.monotonic()
    block = bytes(65536)

    def send():
        left = args.bytes
        while left > 0:
            left -= s.send(block[:min(left, len(block))])

    sender = threading.Thread(target=send)
    sender.start()
    got, last = 0, t0
    while got < args.bytes:
        data = s.recv(65536)
        if not data:
            break
        got += len(data)
        last = time.monotonic()
    sender.join()
    s.close()
    seconds = last - t0
    print(json.dumps({"bytes": got, "seconds": seconds,
                      "rate": got / seconds if seconds > 0 else 0}))


def cmd_download(args):
    sink = {"bytes": [0], "ended": [0.0], "errors": []}
    download(args, sink, 0)
    print(json.dumps({"bytes": sink["bytes"][0], "errors": sink["errors"]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["rate", "upload", "hold", "echo", "download"])
    ap.add_argument("--socks", required=True, help="proxy HOST:PORT")
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--ready", help="echo: file written once the echo answered")
    ap.add_argument("--hold-until", help="echo: keep the session open until this file exists")
    ap.add_argument("--bytes", type=int, default=0)
    args = ap.parse_args()
    {"rate": cmd_rate, "upload": cmd_upload, "hold": cmd_hold, "echo": cmd_echo,
     "download": cmd_download}[args.mode](args)


if __name__ == "__main__":
    main()
