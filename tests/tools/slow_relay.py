#!/usr/bin/env python3
"""Loopback TCP relay that reads slowly in tiny pieces, to make the ends write partially.

Every connection to --port is relayed to --upstream, both directions alike: each direction
reads its first --one-byte bytes one byte per recv(), then pieces of 1..--max-read bytes
(sizes from a seeded generator), and forwards each piece at once. Both sockets get tiny
kernel buffers (--buf bytes of SO_RCVBUF and SO_SNDBUF): the ends' writes fill the small
window and come back short or EAGAIN, and what they read arrives in small segments.
--stats gets "pieces CID up N down M" per connection besides tcpserver's lines, so a test
can tell the relay really read in tiny pieces.
"""
import argparse
import random
import socket
import threading

import detdata
import tcpserver


def tiny_buffers(sock, size, mss):
    """Small kernel buffers and segments. Set before listen/connect: the window scale and
    the MSS are told to the other end in the SYN. A small MSS keeps the other end's send
    buffer small too (Linux sizes it from cwnd x MSS), so its writes come back short."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    # Each tiny piece goes out at once (Nagle would hold it for the peer's delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def pump(src, dst, one_byte, max_read, rng, count):
    """Copies src to dst in tiny reads until src ends; then ends dst's write side."""
    done = 0
    try:
        while True:
            want = 1 if done < one_byte else rng.randint(1, max_read)
            data = src.recv(want)
            if not data:
                break
            done += len(data)
            count[0] += 1
            count[1] += len(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        tcpserver.end_writes(dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--one-byte", type=detdata.parse_size, default=detdata.parse_size("16K"),
                    help="bytes read one at a time at the start of each direction")
    ap.add_argument("--max-read", type=int, default=512, help="largest later read")
    ap.add_argument("--buf", type=int, default=16384, help="SO_RCVBUF and SO_SNDBUF")
    ap.add_argument("--mss", type=int, default=536, help="TCP_MAXSEG")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    upstream = detdata.parse_hostport(args.upstream)

    def relay(conn, stats, cid):
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tiny_buffers(up, args.buf, args.mss)
        up.settimeout(120)
        up.connect(upstream)
        ups, downs = [0, 0], [0, 0]
        try:
            t = threading.Thread(target=pump, daemon=True,
                                 args=(up, conn, args.one_byte, args.max_read,
                                       random.Random(args.seed * 2 + 1), downs))
            t.start()
            pump(conn, up, args.one_byte, args.max_read, random.Random(args.seed * 2), ups)
            t.join(120)
        finally:
            up.close()
            stats.done(cid, ups[1], downs[1])
            stats.note("pieces %d up %d down %d\n" % (cid, ups[0], downs[0]))

    tcpserver.serve(args, relay, lambda s: tiny_buffers(s, args.buf, args.mss))


if __name__ == "__main__":
    main()
