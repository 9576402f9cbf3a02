"""Shared skeleton of the e2e TCP servers: loopback-only bind, ready file, bounded life.

A server binds every --host on one port (0 = let the kernel pick for the first host),
writes the port to --ready-file once listening, serves each connection in a thread and
exits by itself after --lifetime seconds. --stats FILE gets "accept <n>" per accepted
connection and "conn <n> in <bytes received> out <bytes sent>" when it ends.
"""
import argparse
import ipaddress
import os
import socket
import sys
import threading
import time

LOOPBACK = ("127.0.0.1", "::1")


def is_loopback(host):
    """True for an address in 127.0.0.0/8 or ::1 (a test may listen on 127.0.0.2 too)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_args(ap):
    """Adds --host/--port/--ready-file/--lifetime/--stats to an ArgumentParser."""
    ap.add_argument("--host", action="append",
                    help="127.0.0.1 (default), another 127.0.0.0/8 address and/or ::1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", help="written with the port once listening")
    ap.add_argument("--lifetime", type=float, default=300.0, help="exit after this many s")
    ap.add_argument("--stats", help="append one line per finished connection")


def bind_all(args, kind=socket.SOCK_STREAM, prepare=None):
    """Binds every requested loopback host on one port; returns (sockets, port). prepare(s),
    when given, is called on each socket before it listens (options accepted ones inherit)."""
    hosts = args.host or ["127.0.0.1"]
    socks, port = [], args.port
    for h in hosts:
        if not is_loopback(h):
            sys.exit("refusing to bind %s: loopback only" % h)
        fam = socket.AF_INET6 if ":" in h else socket.AF_INET
        s = socket.socket(fam, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if prepare is not None:
            prepare(s)
        s.bind((h, port))
        port = s.getsockname()[1]
        if kind == socket.SOCK_STREAM:
            s.listen(512)
        socks.append(s)
    return socks, port


def announce(args, port):
    """Writes the ready file atomically and arms the lifetime timer."""
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.ready_file)
    t = threading.Timer(args.lifetime, lambda: os._exit(0))
    t.daemon = True
    t.start()


class Stats:
    """Counts connections and appends one line per finished connection to a file."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.n = 0

    def next_id(self):
        with self.lock:
            self.n += 1
            return self.n

    def accepted(self, cid):
        self._line("accept %d\n" % cid)

    def done(self, cid, nin, nout):
        self._line("conn %d in %d out %d\n" % (cid, nin, nout))

    def note(self, text):
        """Appends a tool's own line (ending in a newline)."""
        self._line(text)

    def _line(self, text):
        if not self.path:
            return
        with self.lock, open(self.path, "a") as f:
            f.write(text)


def serve(args, handler, prepare=None):
    """Accepts forever on every bound socket; handler(conn, stats, cid) runs per thread.
    prepare: as bind_all's."""
    socks, port = bind_all(args, prepare=prepare)
    stats = Stats(args.stats)

    def accept_loop(ls):
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            cid = stats.next_id()
            threading.Thread(target=_run, args=(handler, conn, stats, cid),
                             daemon=True).start()

    for ls in socks[1:]:
        threading.Thread(target=accept_loop, args=(ls,), daemon=True).start()
    announce(args, port)
    accept_loop(socks[0])


def _run(handler, conn, stats, cid):
    conn.settimeout(120)
    stats.accepted(cid)
    try:
        handler(conn, stats, cid)
    except OSError:
        pass
    finally:
        conn.close()


def end_writes(sock):
    """shutdown(SHUT_WR), whatever state the socket is in (a relay's direction is done)."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def deadline_in(seconds):
    return time.monotonic() + seconds
