#!/usr/bin/env python3
"""DNS through a SOCKS5 UDP relay, and a TXT responder to forward to (the dns outbound's tests).

  dns_query.py ask --socks H:P --target H:P --name N --type A|AAAA|TXT [--tcp]
      sends one query through the relay (UDP ASSOCIATE; with --tcp over a CONNECT, framed
      as RFC 1035 4.2.2) and prints the reply as JSON: {"id", "rcode", "qr", "qname",
      "answers": [{"type", "ttl", "data"}]}; exit 1 on no reply.
  dns_query.py --ready-file F --stats S --lifetime L serve
      a responder on 127.0.0.1, UDP and TCP on one port (written to F): TXT queries get one
      TXT "txt-for:<name>", TTL 77; every other query an empty NOERROR answer. Appends
      "NETWORK TYPE NAME" to S for each query.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

TYPES = {"A": 1, "AAAA": 28, "TXT": 16}


def build_query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def read_name(msg, i, hops=0):
    labels = []
    while True:
        n = msg[i]
        if n & 0xC0 == 0xC0:
            if hops > 10:
                raise ValueError("pointer loop")
            tail, _ = read_name(msg, ((n & 0x3F) << 8) | msg[i + 1], hops + 1)
            return ".".join(labels + ([tail] if tail else [])), i + 2
        i += 1
        if n == 0:
            return ".".join(labels), i
        labels.append(msg[i:i + n].decode("ascii"))
        i += n


def parse_reply(msg):
    qid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    qname, i = read_name(msg, 12)
    i += 4 * qd
    answers = []
    for _ in range(an):
        _, i = read_name(msg, i)
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", msg[i:i + 10])
        data = msg[i + 10:i + 10 + rdlen]
        i += 10 + rdlen
        if rtype == 1:
            text = socket.inet_ntop(socket.AF_INET, data)
        elif rtype == 28:
            text = socket.inet_ntop(socket.AF_INET6, data)
        elif rtype == 16:
            text = data[1:1 + data[0]].decode()
        else:
            text = data.hex()
        answers.append({"type": rtype, "ttl": ttl, "data": text})
    return {"id": qid, "rcode": flags & 0xF, "qr": flags >> 15, "qname": qname,
            "answers": answers}


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        more = sock.recv(n - len(data))
        if not more:
            raise ConnectionError("closed after %d of %d bytes" % (len(data), n))
        data += more
    return data


def ask_tcp(ctl, th, tp, query):
    ctl.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(th) + struct.pack(">H", int(tp)))
    rep = recv_exact(ctl, 10)
    if rep[1] != 0:
        print(json.dumps({"why": "CONNECT refused"}))
        return 1
    ctl.sendall(struct.pack(">H", len(query)) + query)
    try:
        n = struct.unpack(">H", recv_exact(ctl, 2))[0]
        print(json.dumps(parse_reply(recv_exact(ctl, n))))
        return 0
    except (OSError, ConnectionError) as e:
        print(json.dumps({"why": "no reply: %s" % e}))
        return 1


def ask(args):
    sh, sp = args.socks.rsplit(":", 1)
    th, tp = args.target.rsplit(":", 1)
    ctl = socket.create_connection((sh, int(sp)), timeout=args.timeout)
    ctl.sendall(b"\x05\x01\x00")
    if ctl.recv(2) != b"\x05\x00":
        print(json.dumps({"why": "method refused"}))
        return 1
    query = build_query(args.id, args.name, TYPES[args.type])
    if args.tcp:
        return ask_tcp(ctl, th, tp, query)
    ctl.sendall(b"\x05\x03\x00\x01" + bytes(4) + b"\0\0")
    rep = ctl.recv(10)
    if len(rep) < 10 or rep[1] != 0:
        print(json.dumps({"why": "UDP ASSOCIATE refused"}))
        return 1
    relay = (socket.inet_ntoa(rep[4:8]), struct.unpack(">H", rep[8:10])[0])
    if relay[0] == "0.0.0.0":
        relay = (sh, relay[1])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(args.timeout)
    head = b"\0\0\0\x01" + socket.inet_aton(th) + struct.pack(">H", int(tp))
    for _ in range(args.tries):
        u.sendto(head + query, relay)
        try:
            data, _ = u.recvfrom(65535)
        except socket.timeout:
            continue
        print(json.dumps(parse_reply(data[10:])))
        return 0
    print(json.dumps({"why": "no reply"}))
    return 1


def reply_to(msg):
    """(reply, name, type) for a query; None when it cannot be read."""
    try:
        name, i = read_name(msg, 12)
        qtype = struct.unpack(">H", msg[i:i + 2])[0]
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        return None
    records = b""
    if qtype == 16:
        txt = ("txt-for:" + name).encode()
        rdata = bytes([len(txt)]) + txt
        records = struct.pack(">HHHIH", 0xC00C, 16, 1, 77, len(rdata)) + rdata
    hdr = struct.pack(">HHHHHH", struct.unpack(">H", msg[:2])[0], 0x8180, 1,
                      1 if records else 0, 0, 0)
    return hdr + msg[12:i + 4] + records, name, qtype


def note(args, lock, network, name, qtype):
    with lock, open(args.stats, "a") as f:
        f.write("%s %d %s\n" % (network, qtype, name))


def serve_tcp(args, lock, conn):
    with conn:
        try:
            while True:
                n = struct.unpack(">H", recv_exact(conn, 2))[0]
                r = reply_to(recv_exact(conn, n))
                if r is None:
                    return
                note(args, lock, "tcp", r[1], r[2])
                conn.sendall(struct.pack(">H", len(r[0])) + r[0])
        except (OSError, ConnectionError, struct.error):
            return


def bind_pair():
    """A UDP and a TCP socket on the same free loopback port."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", u.getsockname()[1]))
            t.listen(16)
            return u, t
        except OSError:
            u.close()
            t.close()
    raise OSError("no port free for both UDP and TCP")


def serve(args):
    u, t = bind_pair()
    lock = threading.Lock()
    open(args.stats, "a").close()

    def accept():
        while True:
            conn, _ = t.accept()
            threading.Thread(target=serve_tcp, args=(args, lock, conn), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    with open(args.ready_file + ".tmp", "w") as f:
        f.write(str(u.getsockname()[1]))
    os.rename(args.ready_file + ".tmp", args.ready_file)
    end = time.monotonic() + args.lifetime
    u.settimeout(1.0)
    while time.monotonic() < end:
        try:
            msg, peer = u.recvfrom(65535)
        except socket.timeout:
            continue
        r = reply_to(msg)
        if r is not None:
            note(args, lock, "udp", r[1], r[2])
            u.sendto(r[0], peer)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ready-file", help="serve: written with the port once listening")
    ap.add_argument("--stats", help="serve: one line per query")
    ap.add_argument("--lifetime", type=float, default=600, help="serve: exit after this many s")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("ask")
    a.add_argument("--socks", required=True)
    a.add_argument("--target", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--type", choices=sorted(TYPES), default="A")
    a.add_argument("--id", type=int, default=0x1234)
    a.add_argument("--timeout", type=float, default=3.0)
    a.add_argument("--tries", type=int, default=3)
    a.add_argument("--tcp", action="store_true")
    sub.add_parser("serve")
    args = ap.parse_args()
    return ask(args) if args.cmd == "ask" else serve(args)


if __name__ == "__main__":
    sys.exit(main())
