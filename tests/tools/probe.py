#!/usr/bin/env python3
"""Active probes against a VMess server: what each probe class sees, and whether classes differ.

  probe.py run --connect HOST:PORT --uuid U --wrong-uuid W --deadline S --json OUT
               [--capture FILE] [--echo-port P] [--concurrency N]
      sends every probe of probe_classes.py (many connections at once) and writes, per
      probe, the reply bytes, how the connection ended from the prober's side ("fin": recv
      returned 0, "rst": ECONNRESET, "open": neither within DEADLINE + --grace seconds) and
      the seconds from connect to that end.
  probe.py report --json A.json [--json B.json ...] [--check A.json]
      prints a table ("| " lines), one column per file; with --check, checks that file's
      server answered no probe, ended every probe with FIN and that no class can be told
      from random bytes of the same length (see check()). Exit 1 when a check fails.
"""
import argparse
import errno
import json
import selectors
import socket
import sys
import time

import detdata
import probe_classes
from probe_report import check, table

SPLIT_PAUSE = 0.2


class Conn:
    def __init__(self, cls, chunks, sock, now):
        self.cls, self.chunks, self.sock = cls, list(chunks), sock
        self.length = sum(len(c) for c in chunks)
        self.t0 = now
        self.next_send = now
        self.recv = 0
        self.end = None
        self.t_end = None

    def send_due(self, now):
        """Sends the next chunk when it is due; False when the server is already gone."""
        if not self.chunks or now < self.next_send:
            return True
        try:
            self.sock.setblocking(True)
            self.sock.sendall(self.chunks.pop(0))
            self.sock.setblocking(False)
        except OSError as e:
            self.finish("rst" if e.errno in (errno.ECONNRESET, errno.EPIPE) else "error", now)
            return False
        self.next_send = now + SPLIT_PAUSE
        return True

    def on_readable(self, now):
        try:
            while True:
                got = self.sock.recv(1 << 16)
                if not got:
                    self.finish("fin", now)
                    return
                self.recv += len(got)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self.finish("rst", now)
        except OSError:
            self.finish("error", now)

    def finish(self, end, now):
        if self.end is None:
            self.end, self.t_end = end, now - self.t0

    def row(self):
        return [self.cls, self.length, self.recv, self.end, round(self.t_end, 3)]


def run_all(addr, probes, wait, concurrency):
    """Runs every probe, at most `concurrency` connections at once; returns the rows."""
    sel = selectors.DefaultSelector()
    todo = list(reversed(probes))
    live, rows = set(), []

    def retire(c):
        sel.unregister(c.sock)
        c.sock.close()
        live.discard(c)
        rows.append(c.row())

    while todo or live:
        while todo and len(live) < concurrency:
            cls, chunks = todo.pop()
            try:
                s = socket.create_connection(addr, timeout=5)
            except OSError as e:
                rows.append([cls, sum(len(c) for c in chunks), 0, "connect: %s" % e, 0])
                continue
            c = Conn(cls, chunks, s, time.monotonic())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, c)
            live.add(c)
            c.send_due(c.t0)
        now = time.monotonic()
        pending = [c.next_send for c in live if c.chunks]
        timeout = min([0.05] + [max(0.0, t - now) for t in pending])
        for key, _ in sel.select(timeout):
            key.data.on_readable(time.monotonic())
        now = time.monotonic()
        for c in list(live):
            if c.end is None:
                c.send_due(now)
            if c.end is None and now - c.t0 >= wait:
                c.finish("open", now)
            if c.end is not None:
                retire(c)
    return rows


def cmd_run(args):
    capture = None
    if args.capture:
        with open(args.capture, "rb") as f:
            capture = f.read()
    probes = probe_classes.build(args.uuid, args.wrong_uuid, capture, echo_port=args.echo_port,
                                 step=args.step)
    t = time.monotonic()
    rows = run_all(detdata.parse_hostport(args.connect), probes, args.deadline + args.grace,
                   args.concurrency)
    out = {"label": args.label, "deadline": args.deadline, "seconds": round(time.monotonic() - t, 1),
           "classes": list(dict.fromkeys(p[0] for p in probes)), "rows": rows}
    with open(args.json, "w") as f:
        json.dump(out, f)
    print("%s: %d probes in %.1f s" % (args.label, len(rows), out["seconds"]))
    return 0


def cmd_report(args):
    runs = []
    for path in args.json:
        with open(path) as f:
            runs.append(json.load(f))
    for line in table(runs):
        print(line)
    if not args.check:
        return 0
    with open(args.check) as f:
        problems = check(json.load(f))
    for p in problems:
        print("problem: " + p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--connect", required=True, help="HOST:PORT of the VMess inbound")
    r.add_argument("--uuid", required=True, help="a user the server has")
    r.add_argument("--wrong-uuid", required=True, help="a user the server does not have")
    r.add_argument("--deadline", type=float, required=True, help="server's handshake timeout")
    r.add_argument("--grace", type=float, default=3.0, help="wait this long past the deadline")
    r.add_argument("--capture", help="a real client's first bytes, sent again")
    r.add_argument("--echo-port", type=int, help="echo server for the valid controls")
    r.add_argument("--concurrency", type=int, default=800)
    r.add_argument("--step", type=int, default=1, help="length step of the garbage classes")
    r.add_argument("--label", default="server")
    r.add_argument("--json", required=True)
    p = sub.add_parser("report")
    p.add_argument("--json", action="append", required=True)
    p.add_argument("--check", help="a run whose server must pass the checks")
    args = ap.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
