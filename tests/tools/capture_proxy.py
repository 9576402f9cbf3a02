#!/usr/bin/env python3
"""Loopback TCP relay that records what the first client sends, for replay tests.

Every connection to --port is relayed to --upstream in both directions. The first
--limit bytes the FIRST client sends are written to --capture once that connection ends
(or the limit is reached), so the file holds a real handshake plus the start of its body.
"""
import argparse
import os
import socket
import threading

import detdata
import tcpserver


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--capture", required=True, help="file for the first client's bytes")
    ap.add_argument("--limit", type=int, default=1 << 16)
    args = ap.parse_args()
    upstream = detdata.parse_hostport(args.upstream)
    lock = threading.Lock()
    state = {"first": True}

    def save(data):
        tmp = args.capture + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, args.capture)

    def pump(src, dst, record):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if record is not None and len(record) < args.limit:
                    record.extend(data[:args.limit - len(record)])
                    if len(record) >= args.limit:
                        save(bytes(record))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            tcpserver.end_writes(dst)

    def relay(conn, stats, cid):
        with lock:
            record = bytearray() if state["first"] else None
            state["first"] = False
        up = socket.create_connection(upstream, timeout=10)
        up.settimeout(120)
        try:
            t = threading.Thread(target=pump, args=(up, conn, None), daemon=True)
            t.start()
            pump(conn, up, record)
            t.join(120)
        finally:
            up.close()
            if record is not None and len(record) < args.limit:
                save(bytes(record))

    tcpserver.serve(args, relay)


if __name__ == "__main__":
    main()
