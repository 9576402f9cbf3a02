#!/usr/bin/env python3
"""Echo through a socks5 proxy, sit idle, echo again: prints "open" when the second echo came
back, "closed" otherwise (exit 0 either way; 1 when the first echo failed).

  idle_echo.py --socks 127.0.0.1:1080 --target 127.0.0.1:7 --idle 5
"""
import argparse
import sys
import time

from socks5_client import socks5_connect


def echo(sock, data):
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(len(data) - len(got))
        if not chunk:
            break
        got += chunk
    return got == data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socks", required=True, help="proxy HOST:PORT")
    ap.add_argument("--target", required=True, help="an echo server's HOST:PORT")
    ap.add_argument("--idle", type=float, required=True, help="seconds between the echoes")
    a = ap.parse_args()
    phost, pport = a.socks.rsplit(":", 1)
    thost, tport = a.target.rsplit(":", 1)
    sock = socks5_connect((phost, int(pport)), thost, int(tport), 10)
    if not echo(sock, b"ping"):
        print("first echo failed")
        return 1
    time.sleep(a.idle)
    try:
        print("open" if echo(sock, b"pong") else "closed")
    except OSError:
        print("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
