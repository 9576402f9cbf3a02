#!/usr/bin/env python3
"""Sniffing probes (e2e 49): what a proxy with inbound sniffing does with a first payload.

  sniff_probe.py capture --ready-file F --out FILE
      serves one TCP connection on loopback: saves its first TLS record (a real client's
      ClientHello) to FILE, then closes.
  sniff_probe.py probe --socks HOST:PORT --target IP:PORT CASE=PAYLOAD_FILE ...
      for each case: CONNECT through the socks5 proxy, send the file's bytes (an empty file:
      send nothing), read until EOF or as many bytes as were sent; prints "CASE OUTCOME",
      OUTCOME one of echo (the bytes came back: the session reached the echo target),
      closed (EOF with nothing), got:N (N other bytes, then EOF), timeout, refused.
"""
import argparse
import socket
import sys

import detdata
import socks5_client
import tcpserver


def capture(args):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    tcpserver.announce(args, ls.getsockname()[1])
    conn, _ = ls.accept()
    conn.settimeout(10)
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        more = conn.recv(65536)
        if not more:
            sys.exit("capture: the client closed after %d bytes" % len(data))
        data += more
    with open(args.out, "wb") as f:
        f.write(data[:5 + int.from_bytes(data[3:5], "big")])
    conn.close()


def one(proxy, host, port, payload):
    try:
        s = socks5_client.socks5_connect(proxy, host, port, 10)
    except (OSError, ValueError):
        return "refused"
    got = b""
    try:
        if payload:
            s.sendall(payload)
        while not payload or len(got) < len(payload):
            more = s.recv(65536)
            if not more:
                break
            got += more
    except socket.timeout:
        return "timeout"
    except OSError:
        pass  # a reset after what came counts as its end
    finally:
        s.close()
    if payload and got == payload:
        return "echo"
    return "got:%d" % len(got) if got else "closed"


def probe(args):
    proxy = detdata.parse_hostport(args.socks)
    host, port = detdata.parse_hostport(args.target)
    for case in args.cases:
        name, path = case.split("=", 1)
        with open(path, "rb") as f:
            payload = f.read()
        print(name, one(proxy, host, port, payload), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--ready-file")
    c.add_argument("--out", required=True)
    c.add_argument("--lifetime", type=float, default=60.0)
    p = sub.add_parser("probe")
    p.add_argument("--socks", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("cases", nargs="+")
    args = ap.parse_args()
    capture(args) if args.cmd == "capture" else probe(args)


if __name__ == "__main__":
    main()
