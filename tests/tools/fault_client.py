#!/usr/bin/env python3
"""One faulty session through a SOCKS5 proxy, on loopback. Modes:
  hold    CONNECT to --target, send a few bytes, read until the far end ends the session
          (EOF, reset, or a SOCKS failure reply); ok when it ends within --within seconds
  vanish  CONNECT to --target, read --read bytes, then vanish: close with SO_LINGER 0, so the
          proxy gets a reset in the middle of the stream; ok when the bytes arrived
  halfclose  CONNECT to --target, send a few bytes, end the sending side (FIN), read until
          the far end ends; reports how ("eof" or "reset") and whether the bytes read are a
          prefix of the deterministic stream (--seed); ok when the end is --expect
Prints one JSON line; exit 0 only when ok."""
import argparse
import json
import socket
import struct
import sys
import time

import detdata
import socks5_client


def hold(sock, within):
    """Reads until the far end ends the session; returns (ended, how, bytes read)."""
    got = 0
    end = time.monotonic() + within
    try:
        sock.sendall(b"hello\n")
        while time.monotonic() < end:
            sock.settimeout(max(0.1, min(1.0, end - time.monotonic())))
            try:
                data = sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                return True, "eof", got
            got += len(data)
    except OSError as e:
        return True, "error: %s" % e, got
    return False, "still open", got


def vanish(sock, nbytes, within):
    """Reads nbytes, then resets the connection; returns the bytes read."""
    got = 0
    sock.settimeout(within)
    while got < nbytes:
        data = sock.recv(min(1 << 16, nbytes - got))
        if not data:
            break
        got += len(data)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return got


def halfclose(sock, seed, within):
    """Sends, half-closes, reads to the end; returns (how, bytes read, prefix ok)."""
    sock.sendall(b"hello\n")
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(within)
    data = bytearray()
    how = "eof"
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "still open"
    want = b"".join(detdata.blocks(seed, len(data)))[:len(data)]
    return how, len(data), bytes(data) == want


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("hold", "vanish", "halfclose"))
    ap.add_argument("--socks", required=True, help="proxy HOST:PORT")
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--within", type=float, default=30.0)
    ap.add_argument("--read", default="256K", help="vanish: bytes read before the reset")
    ap.add_argument("--seed", type=int, default=1, help="halfclose: the target's stream")
    ap.add_argument("--expect", choices=("eof", "reset"), default="eof",
                    help="halfclose: how the far end must end")
    a = ap.parse_args()
    proxy = detdata.parse_hostport(a.socks)
    host, port = detdata.parse_hostport(a.target)
    res = {"mode": a.mode, "target": a.target}
    t0 = time.monotonic()
    try:
        sock = socks5_client.socks5_connect(proxy, host, port, a.within)
    except (OSError, ValueError) as e:
        # The proxy refused the CONNECT: for hold, the session ended as it should.
        res.update(ended=True, how="socks: %s" % e, ok=a.mode == "hold")
        print(json.dumps(res))
        return 0 if res["ok"] else 1
    try:
        if a.mode == "hold":
            ended, how, got = hold(sock, a.within)
            res.update(ended=ended, how=how, read=got, ok=ended)
        elif a.mode == "halfclose":
            how, got, prefix = halfclose(sock, a.seed, a.within)
            res.update(how=how, read=got, prefix=prefix, ok=how == a.expect and prefix)
        else:
            want = detdata.parse_size(a.read)
            got = vanish(sock, want, a.within)
            res.update(read=got, ok=got == want)
    except OSError as e:
        res.update(ok=False, how="error: %s" % e)
    finally:
        sock.close()
    res["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
