#!/usr/bin/env python3
"""DNS through a SOCKS5 UDP relay, and a TXT responder to forward to (the dns outbound's tests).

  dns_query.py ask --socks H:P --target H:P --name N --type A|AAAA|TXT [--id I]
      sends one query through the relay (UDP ASSOCIATE) and prints the reply as JSON:
      {"id", "rcode", "qname", "answers": [{"type", "ttl", "data"}]}; exit 1 on no reply.
  dns_query.py serve --port P
      a UDP responder on 127.0.0.1:P: TXT queries get one TXT "txt-for:<name>", TTL 77;
      every other query an empty NOERROR answer. Prints "ready" once bound.
"""
import argparse
import json
import socket
import struct
import sys

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


def ask(args):
    sh, sp = args.socks.rsplit(":", 1)
    th, tp = args.target.rsplit(":", 1)
    ctl = socket.create_connection((sh, int(sp)), timeout=args.timeout)
    ctl.sendall(b"\x05\x01\x00")
    if ctl.recv(2) != b"\x05\x00":
        print(json.dumps({"why": "method refused"}))
        return 1
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
    query = build_query(args.id, args.name, TYPES[args.type])
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


def serve(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", args.port))
    print("ready", flush=True)
    while True:
        msg, peer = s.recvfrom(65535)
        try:
            name, i = read_name(msg, 12)
            qtype = struct.unpack(">H", msg[i:i + 2])[0]
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            continue
        question = msg[12:i + 4]
        records = b""
        if qtype == 16:
            txt = ("txt-for:" + name).encode()
            rdata = bytes([len(txt)]) + txt
            records = struct.pack(">HHHIH", 0xC00C, 16, 1, 77, len(rdata)) + rdata
        hdr = struct.pack(">HHHHHH", struct.unpack(">H", msg[:2])[0], 0x8180, 1,
                          1 if records else 0, 0, 0)
        s.sendto(hdr + question + records, peer)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("ask")
    a.add_argument("--socks", required=True)
    a.add_argument("--target", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--type", choices=sorted(TYPES), default="A")
    a.add_argument("--id", type=int, default=0x1234)
    a.add_argument("--timeout", type=float, default=3.0)
    a.add_argument("--tries", type=int, default=3)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    return ask(args) if args.cmd == "ask" else serve(args)


if __name__ == "__main__":
    sys.exit(main())
