#!/usr/bin/env python3
"""Prints N distinct free loopback ports, one per line, below the ephemeral range.

A port is taken only if TCP and UDP binds on 127.0.0.1 (and ::1 when available) all
succeed and --used (a file shared by every test run on the machine, locked while in use)
does not list it as handed out within the last --ttl seconds. So parallel runs, and the
scripts of one run, do not pick the same port between choosing it and binding it.
"""
import argparse
import errno
import fcntl
import random
import socket
import sys
import time

LOW, HIGH = 20000, 32000


def bindable(port):
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            try:
                s = socket.socket(fam, kind)
            except OSError:
                continue  # no IPv6 here
            try:
                s.bind((host, port))
            except OSError as e:
                if fam == socket.AF_INET6 and e.errno == errno.EADDRNOTAVAIL:
                    continue
                return False
            finally:
                s.close()
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("count", type=int, nargs="?", default=1)
    ap.add_argument("--used", default="/tmp/evp-e2e-ports.used",
                    help="file of 'port time' lines handed out recently")
    ap.add_argument("--ttl", type=float, default=1800.0)
    ap.add_argument("--consecutive", action="store_true",
                    help="one run of COUNT consecutive ports (a port range)")
    args = ap.parse_args()
    now = time.time()
    out = []
    with open(args.used, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        used = {}
        for line in f:
            parts = line.split()
            if len(parts) == 2 and now - float(parts[1]) < args.ttl:
                used[int(parts[0])] = float(parts[1])
        for _ in range(20000):
            if len(out) == args.count:
                break
            if args.consecutive:
                first = random.randrange(LOW, HIGH - args.count)
                run = range(first, first + args.count)
                if all(p not in used and bindable(p) for p in run):
                    out = list(run)
                    used.update((p, now) for p in run)
                continue
            p = random.randrange(LOW, HIGH)
            if p not in used and bindable(p):
                used[p] = now
                out.append(p)
        f.seek(0)
        f.truncate()
        f.write("".join("%d %.0f\n" % kv for kv in used.items()))
    if len(out) < args.count:
        sys.exit("free_ports: could not find %d free ports" % args.count)
    print("\n".join(map(str, out)))


if __name__ == "__main__":
    main()
