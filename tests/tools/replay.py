#!/usr/bin/env python3
"""Sends a captured byte file to a server as fresh connection(s) and reports the replies.

--times K opens K connections at once (a server with several workers gets the replay on
more than one of them). Prints JSON {"times", "sent", "recv", "ended"}: recv is the total
of bytes the server sent back, ended lists per connection "eof", "reset" or "open" (the
server neither answered nor closed within --wait seconds). Exit 0 unless a connect failed.
"""
import argparse
import json
import socket
import sys
import threading
import time

import detdata


def one(addr, data, wait, res):
    try:
        s = socket.create_connection(addr, timeout=5)
    except OSError as e:
        res["ended"] = "connect: %s" % e
        return
    try:
        s.sendall(data)
        res["sent"] = len(data)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                got = s.recv(1 << 16)
            except socket.timeout:
                break
            if not got:
                res["ended"] = "eof"
                break
            res["recv"] += len(got)
    except ConnectionResetError:
        res["ended"] = "reset"
    except OSError as e:
        res["ended"] = "error: %s" % e
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connect", required=True, help="HOST:PORT")
    ap.add_argument("--file", required=True)
    ap.add_argument("--wait", type=float, default=3.0)
    ap.add_argument("--times", type=int, default=1)
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        data = f.read()
    addr = detdata.parse_hostport(args.connect)
    results = [{"sent": 0, "recv": 0, "ended": "open"} for _ in range(args.times)]
    threads = [threading.Thread(target=one, args=(addr, data, args.wait, r), daemon=True)
               for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.wait + 10)
    print(json.dumps({"times": args.times, "sent": sum(r["sent"] for r in results),
                      "recv": sum(r["recv"] for r in results),
                      "ended": [r["ended"] for r in results]}), flush=True)
    return 2 if any(r["ended"].startswith("connect") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
