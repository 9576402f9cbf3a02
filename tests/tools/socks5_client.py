#!/usr/bin/env python3
"""SOCKS5 client: CONNECT through a socks5 proxy, then stream like tcp_stream.py.

  socks5_client.py --socks 127.0.0.1:1080 --target localhost:8080 --mode echo --bytes 64M
The target host is sent as a domain name unless it is an IPv4/IPv6 literal; --domain NAME
sends NAME verbatim as the domain (ATYP 3) instead, whatever it looks like.
Prints one JSON object per session and a summary; exit 0 only if every session is ok.
"""
import argparse
import ipaddress
import socket
import struct
import sys
import time

import detdata
import tcp_stream


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise ValueError("socks: proxy closed during handshake (%d/%d bytes)" %
                             (len(buf), n))
        buf += data
    return buf


def socks5_connect(proxy, host, port, timeout, as_domain=None):
    """Returns a socket connected to (host, port) through the socks5 proxy (no auth); with
    as_domain, that name is sent as the host, as a domain."""
    sock = socket.create_connection(proxy, timeout=timeout)
    try:
        sock.sendall(b"\x05\x01\x00")
        ver, method = _recv_exact(sock, 2)
        if ver != 5 or method != 0:
            raise ValueError("socks: method reply %02x %02x" % (ver, method))
        try:
            if as_domain is not None:
                raise ValueError("sent as a domain")
            ip = ipaddress.ip_address(host)
            atyp = b"\x01" if ip.version == 4 else b"\x04"
            addr = atyp + ip.packed
        except ValueError:
            name = (host if as_domain is None else as_domain).encode("utf-8", "surrogateescape")
            addr = b"\x03" + bytes([len(name)]) + name
        sock.sendall(b"\x05\x01\x00" + addr + struct.pack(">H", port))
        ver, rep, _, atyp = _recv_exact(sock, 4)
        if ver != 5 or rep != 0:
            raise ValueError("socks: CONNECT reply code %d" % rep)
        if atyp == 1:
            _recv_exact(sock, 4 + 2)
        elif atyp == 4:
            _recv_exact(sock, 16 + 2)
        elif atyp == 3:
            _recv_exact(sock, _recv_exact(sock, 1)[0] + 2)
        else:
            raise ValueError("socks: bad address type %d in reply" % atyp)
        return sock
    except BaseException:
        sock.close()
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socks", required=True, help="proxy HOST:PORT")
    ap.add_argument("--target", required=True, help="HOST:PORT or [V6]:PORT")
    ap.add_argument("--domain", help="send this name as the target host (ATYP domain)")
    tcp_stream.add_stream_args(ap)
    args = ap.parse_args()
    proxy = detdata.parse_hostport(args.socks)
    host, port = detdata.parse_hostport(args.target)

    def connect(i, deadline):
        return socks5_connect(proxy, host, port, max(0.1, min(20.0, deadline -
                                                               time.monotonic())),
                              args.domain)
    return tcp_stream.run_many(args, connect)


if __name__ == "__main__":
    sys.exit(main())
