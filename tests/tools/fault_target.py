#!/usr/bin/env python3
"""Targets that fail on purpose, on loopback. Modes:
  backlog  listen with a backlog of 0, fill it with one connection of our own and never
           accept: every further SYN is dropped, so a connect to it never completes
  reset    accept, send --bytes of the deterministic stream, then close with SO_LINGER 0
           (a TCP reset in the middle of the transfer); with --after-fin, first read until
           the client's end (FIN); with --end fin, close cleanly instead (a control)
Writes the port to --ready-file once ready; exits after --lifetime seconds. --stats FILE
gets "accept <n>" per accepted connection (reset mode)."""
import argparse
import socket
import struct
import time

import detdata
import tcpserver


def backlog(args):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(0)
    port = ls.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    tcpserver.announce(args, port)
    hold_open([ls, filler])


def hold_open(socks):
    """Keeps socks open until --lifetime ends the process."""
    while socks:
        time.sleep(3600)


def reset(args):
    nbytes = detdata.parse_size(args.bytes)

    def send_reset(conn, stats, cid):
        try:
            while args.after_fin and conn.recv(1 << 16):
                pass
            for blk in detdata.blocks(args.seed, nbytes):
                conn.sendall(blk)
        finally:  # tcpserver closes conn: with a zero linger that is a reset
            if args.end == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    tcpserver.serve(args, send_reset)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("backlog", "reset"))
    tcpserver.add_args(ap)
    ap.add_argument("--bytes", default="256K", help="reset mode: bytes sent before the reset")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--after-fin", action="store_true", help="reset mode: read to EOF first")
    ap.add_argument("--end", choices=("reset", "fin"), default="reset")
    args = ap.parse_args()
    backlog(args) if args.mode == "backlog" else reset(args)


if __name__ == "__main__":
    main()
