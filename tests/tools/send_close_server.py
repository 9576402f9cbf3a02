#!/usr/bin/env python3
"""TCP server that sends N bytes of the deterministic stream (--seed) then closes.

It never reads, so a client that is still sending when the server closes gets a reset:
this is the "peer vanishes mid-transfer" case. --delay waits before closing.
"""
import argparse
import time

import detdata
import tcpserver


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    ap.add_argument("--bytes", default="1M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before close")
    args = ap.parse_args()
    nbytes = detdata.parse_size(args.bytes)

    def send_close(conn, stats, cid):
        nout = 0
        try:
            for blk in detdata.blocks(args.seed, nbytes):
                conn.sendall(blk)
                nout += len(blk)
            time.sleep(args.delay)
        finally:
            stats.done(cid, 0, nout)

    tcpserver.serve(args, send_close)


if __name__ == "__main__":
    main()
