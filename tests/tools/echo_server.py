#!/usr/bin/env python3
"""TCP echo server on loopback: returns every byte it reads; closes after the peer's EOF."""
import argparse
import socket

import tcpserver


def echo(conn, stats, cid):
    nin = nout = 0
    try:
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            nin += len(data)
            conn.sendall(data)
            nout += len(data)
        conn.shutdown(socket.SHUT_WR)
    finally:
        stats.done(cid, nin, nout)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    tcpserver.add_args(ap)
    tcpserver.serve(ap.parse_args(), echo)


if __name__ == "__main__":
    main()
