#!/usr/bin/env python3
"""TCP server on loopback: reads until the peer's EOF, then sends --bytes of the detdata
stream (--seed) and closes: an answer that starts only after the client has ended."""
import argparse
import socket

import detdata
import tcpserver


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    tcpserver.add_args(ap)
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--seed", default="late")
    args = ap.parse_args()

    def answer(conn, stats, cid):
        nin = nout = 0
        try:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    break
                nin += len(data)
            for blk in detdata.blocks(args.seed, args.bytes):
                conn.sendall(blk)
                nout += len(blk)
            conn.shutdown(socket.SHUT_WR)
        finally:
            stats.done(cid, nin, nout)

    tcpserver.serve(args, answer)


if __name__ == "__main__":
    main()
