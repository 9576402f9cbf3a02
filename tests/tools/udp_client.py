#!/usr/bin/env python3
"""UDP DNS-style client: sends --count queries one by one and checks every answer.

Each query is retried (--tries) if no answer comes within --wait seconds; an answer that
is not dnsstyle.answer(query) is a failure; --give-up queries lost in a row end the
run. Prints a JSON summary; exit 0 only if all queries got their right answer.
"""
import argparse
import json
import socket
import sys
import time

import detdata
import dnsstyle


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="HOST:PORT or [V6]:PORT")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--size", type=int, default=64, help="query size in bytes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--wait", type=float, default=2.0)
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--give-up", type=int, default=3, help="stop after N queries in a row lost")
    args = ap.parse_args()
    host, port = detdata.parse_hostport(args.server)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    deadline = time.monotonic() + args.timeout
    res = {"count": args.count, "ok": 0, "wrong": 0, "lost": 0, "retries": 0}
    in_a_row = 0
    for i in range(args.count):
        q = dnsstyle.make_query(args.seed, i, args.size)
        want = dnsstyle.answer(q)
        got = None
        for attempt in range(args.tries):
            if time.monotonic() > deadline:
                break
            res["retries"] += attempt > 0
            try:
                s.send(q)
            except OSError:
                break
            end = min(deadline, time.monotonic() + args.wait)
            while got is None and time.monotonic() < end:
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    a = s.recv(65535)
                except socket.timeout:
                    break
                except OSError:
                    time.sleep(0.05)  # ICMP refused before the relay is up: retry
                    continue
                if a == want:
                    got = a
                elif a[:2] == want[:2]:
                    res["wrong"] += 1
            if got is not None:
                break
        if got is None:
            res["lost"] += 1
            in_a_row += 1
            if in_a_row >= args.give_up:
                res["gave_up_at"] = i
                break
        else:
            res["ok"] += 1
            in_a_row = 0
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] == args.count and res["wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
