#!/usr/bin/env python3
"""UDP DNS-style responder on loopback: answers each query datagram with dnsstyle.answer()."""
import argparse
import socket
import threading

import dnsstyle
import tcpserver


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    tcpserver.add_args(ap)
    args = ap.parse_args()
    socks, port = tcpserver.bind_all(args, socket.SOCK_DGRAM)
    stats = tcpserver.Stats(args.stats)

    def loop(s):
        while True:
            q, peer = s.recvfrom(65535)
            a = dnsstyle.answer(q)
            if a is not None:
                s.sendto(a, peer)
                stats.done(stats.next_id(), len(q), len(a))

    for s in socks[1:]:
        threading.Thread(target=loop, args=(s,), daemon=True).start()
    tcpserver.announce(args, port)
    loop(socks[0])


if __name__ == "__main__":
    main()
