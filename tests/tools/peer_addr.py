#!/usr/bin/env python3
"""Which source address a connection came from, as the target saw it.

  peer_addr.py [--host 127.0.0.1] ...      answers each connection with its peer's IP and a
                                           newline, then closes (tcpserver options)
  peer_addr.py --socks H:P --target H:P    connects through a socks5 proxy and prints that
                                           line; exit 1 with the reason on failure
"""
import argparse
import sys

import detdata
import socks5_client
import tcpserver


def answer(conn, stats, cid):
    line = ("%s\n" % conn.getpeername()[0]).encode()
    try:
        conn.sendall(line)
    finally:
        stats.done(cid, 0, len(line))


def ask(args):
    host, port = detdata.parse_hostport(args.target)
    try:
        sock = socks5_client.socks5_connect(detdata.parse_hostport(args.socks), host, port,
                                            args.timeout)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
        sock.close()
    except (OSError, ValueError) as e:
        print("error: %s" % e)
        return 1
    if not data.endswith(b"\n"):
        print("error: closed after %r" % data)
        return 1
    print(data.decode().strip())
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    ap.add_argument("--socks", help="ask through this socks5 proxy HOST:PORT")
    ap.add_argument("--target", help="with --socks: the server to ask, HOST:PORT")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    if args.socks:
        return ask(args)
    tcpserver.serve(args, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
