#!/usr/bin/env python3
"""A front like haproxy with send-proxy: relays each connection to --upstream on loopback,
first sending a PROXY protocol v1 line that names the connecting client's own address (so
the server behind it sees one source, the front's, yet is told each client's)."""
import argparse
import socket
import threading

import tcpserver


def pump(src, dst):
    """Copies src to dst until src ends; then ends dst's write side."""
    try:
        while True:
            data = src.recv(1 << 16)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    ap.add_argument("--upstream", type=int, required=True, help="port on 127.0.0.1")
    args = ap.parse_args()

    def relay(conn, stats, cid):
        try:
            host, port = conn.getpeername()[:2]
            up = socket.create_connection(("127.0.0.1", args.upstream), timeout=10)
            up.settimeout(None)
            up.sendall(("PROXY TCP4 %s 127.0.0.1 %d %d\r\n" % (host, port, args.upstream))
                       .encode())
            back = threading.Thread(target=pump, args=(up, conn), daemon=True)
            back.start()
            pump(conn, up)
            back.join()
            up.close()
        finally:
            stats.done(cid, 0, 0)

    tcpserver.serve(args, relay)


if __name__ == "__main__":
    main()
