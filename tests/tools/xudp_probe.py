#!/usr/bin/env python3
"""Full-cone UDP (XUDP) through an evproxy client whose vmess outbound has "mux", seen from
both ends. It runs, in one process:
  - target A, a UDP socket that answers each datagram with "seen HOST:PORT" (its sender);
  - remote B, another UDP socket that the test makes write to the port A saw;
  - a TCP relay from --relay-port to --upstream (the evproxy server) that counts the client's
    connections and can cut them all with resets.
Steps: through a SOCKS5 UDP association (--socks) send to A and read A's answer (the
server's outbound port P); make B write to P: the SOCKS client must get B's datagram with
B's address in its header (full cone); cut the relay's connections, then send to A again on
the same association: a new Mux connection carries the same Global ID and A must see the
same port P. Prints one JSON line; exit 0 only when every step held."""
import argparse
import json
import socket
import struct
import sys
import threading
import time

from udp_faults import addr_field, open_assoc


class Relay:
    """Counts and relays connections; cut() resets every one open."""

    def __init__(self, port, upstream):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.open = []
        self.accepted = 0
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            with self.lock:
                self.accepted += 1
                self.open += [c, u]
            threading.Thread(target=self.pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c), daemon=True).start()

    def cut(self):
        with self.lock:
            socks, self.open = self.open, []
        for s in socks:
            try:  # shutdown wakes the pipe threads blocked in recv; close then resets
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        return len(socks) // 2


def target_a(sock):
    while True:
        try:
            d, peer = sock.recvfrom(65535)
        except OSError:
            return
        sock.sendto(b"seen %s:%d " % (peer[0].encode(), peer[1]) + d, peer)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--socks", required=True, help="HOST:PORT of the client's SOCKS5 inbound")
    ap.add_argument("--relay-port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the evproxy server")
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()
    res = {"ok": False}
    uh, up = args.upstream.rsplit(":", 1)
    relay = Relay(args.relay_port, (uh, int(up)))
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    threading.Thread(target=target_a, args=(a,), daemon=True).start()
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    a_addr, b_addr = a.getsockname(), b.getsockname()

    def done(why=None):
        if why:
            res["why"] = why
        res["relay_connections"] = relay.accepted
        print(json.dumps(res))
        return 0 if res["ok"] else 1

    sh, sp = args.socks.rsplit(":", 1)
    try:
        ctl, relay_addr = open_assoc((sh, int(sp)), args.timeout)
    except (OSError, RuntimeError) as e:
        return done("SOCKS UDP association: %s" % e)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(args.timeout)
    to_a = b"\x00\x00\x00" + addr_field(*a_addr)

    def ask_a(payload):
        """Sends payload to A (retrying a lost one); the port A saw, or None."""
        for _ in range(5):
            u.sendto(to_a + payload, relay_addr)
            try:
                pkt, _ = u.recvfrom(65535)
            except socket.timeout:
                continue
            if not pkt.startswith(to_a):
                res.setdefault("wrong", []).append(pkt[:40].hex())
                continue
            words = pkt[len(to_a):].split(b" ")
            if len(words) >= 3 and words[0] == b"seen" and words[2] == payload:
                return int(words[1].rsplit(b":", 1)[1])
        return None

    p1 = ask_a(b"one")
    res["port_first"] = p1
    if p1 is None:
        return done("no answer from A through the SOCKS relay")
    # Full cone: B, which the client never wrote to, writes to the port A saw.
    from_b = b"\x00\x00\x00" + addr_field(*b_addr)
    got_b = False
    for _ in range(5):
        b.sendto(b"from-b", ("127.0.0.1", p1))
        try:
            pkt, _ = u.recvfrom(65535)
        except socket.timeout:
            continue
        if pkt == from_b + b"from-b":
            got_b = True
            break
        res.setdefault("wrong", []).append(pkt[:40].hex())
    res["full_cone"] = got_b
    if not got_b:
        return done("B's datagram to the server's port did not reach the client as B's")
    res["cut"] = relay.cut()
    time.sleep(1.0)  # both ends notice the resets; the server keeps the port
    p2 = ask_a(b"two")
    res["port_after_cut"] = p2
    if p2 is None:
        return done("no answer from A after the Mux connection was cut")
    if relay.accepted < 2:
        return done("the client did not open a new connection after the cut")
    if p2 != p1:
        return done("a new Mux connection with the same Global ID got port %d, not %d" %
                    (p2, p1))
    res["ok"] = True
    ctl.close()
    return done()


if __name__ == "__main__":
    sys.exit(main())
