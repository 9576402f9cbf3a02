#!/usr/bin/env python3
"""TCP source/sink: sends N bytes of deterministic data and hashes what comes back.

Modes (what the peer at the far end is expected to be):
  echo      send N bytes, read N bytes back; ok when the two sha256 match (and, with
            --half-close, when the far end closes after our FIN)
  download  send nothing, read until EOF; ok when it equals the stream (--seed, --bytes)
  abort     keep sending up to N bytes while reading; ok when the far end closes or resets
            first, the reader saw that close (not its deadline), and what came back before
            it is a non-empty prefix of the --seed stream (send_close_server.py sends it)
Prints one JSON object per session on stdout; exit 0 only if every session is ok.
Used directly (this file) or after a socks5 handshake (socks5_client.py).
"""
import argparse
import hashlib
import json
import socket
import sys
import threading
import time

import detdata


def _sender(sock, seed, nbytes, state, half_close, rate=0):
    try:
        h = hashlib.sha256()
        t0 = time.monotonic()
        for blk in detdata.blocks(seed, nbytes):
            sock.sendall(blk)
            h.update(blk)
            state["sent"] += len(blk)
            if rate:  # paced: a long transfer that other events happen during
                time.sleep(max(0.0, t0 + state["sent"] / rate - time.monotonic()))
        state["sent_sha"] = h.hexdigest()
        if half_close:
            sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        state["send_error"] = "%s: %s" % (type(e).__name__, e)


def run_session(sock, mode, seed, nbytes, deadline, half_close=False, rate=0):
    """Streams over a connected socket; returns a result dict with 'ok' and 'why'."""
    res = {"mode": mode, "seed": seed, "bytes": nbytes, "sent": 0, "recv": 0}
    started = time.monotonic()
    want = nbytes if mode in ("echo", "download") else None
    recv_sha = hashlib.sha256()
    t = None
    if mode in ("echo", "abort"):
        t = threading.Thread(target=_sender, args=(sock, seed, nbytes, res, half_close, rate),
                             daemon=True)
        t.start()
    ended = None
    try:
        while want is None or res["recv"] < want:
            left = deadline - time.monotonic()
            if left <= 0:
                ended = "timeout"
                break
            sock.settimeout(min(left, 5.0))
            try:
                data = sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                ended = "eof"
                break
            recv_sha.update(data)
            res["recv"] += len(data)
    except OSError as e:
        ended = "error: %s" % e
    if t is not None:
        t.join(max(0.0, min(5.0, deadline - time.monotonic())))
    res["recv_sha"] = recv_sha.hexdigest()
    res["ended"] = ended or "complete"
    res["secs"] = round(time.monotonic() - started, 2)
    if mode in ("echo", "download") and ended is None and (half_close or mode == "download"):
        # Everything expected arrived; the far end must now close (our FIN went through).
        try:
            sock.settimeout(max(0.1, min(10.0, deadline - time.monotonic())))
            extra = sock.recv(1)
            res["ended"] = "eof" if not extra else "extra data"
        except OSError as e:
            res["ended"] = "no eof: %s" % e
    if mode == "echo":
        exp = detdata.stream_sha256(seed, nbytes)
        res["ok"] = res["recv"] == nbytes and res["recv_sha"] == exp and \
            (not half_close or res["ended"] == "eof")
        res["why"] = "" if res["ok"] else "echo: got %d/%d bytes, sha %s (%s)" % (
            res["recv"], nbytes, "match" if res["recv_sha"] == exp else "MISMATCH", res["ended"])
    elif mode == "download":
        exp = detdata.stream_sha256(seed, nbytes)
        res["ok"] = res["recv_sha"] == exp and res["ended"] == "eof"
        res["why"] = "" if res["ok"] else "download: got %d/%d bytes, sha %s, end %s" % (
            res["recv"], nbytes, "match" if res["recv_sha"] == exp else "MISMATCH",
            res["ended"])
    else:
        closed = ended == "eof" or (ended or "").startswith("error")
        prefix = res["recv"] > 0 and \
            res["recv_sha"] == detdata.stream_sha256(seed, res["recv"])
        res["ok"] = closed and res["sent"] < nbytes and prefix
        if not closed or res["sent"] >= nbytes:
            res["why"] = "abort: far end did not close (sent %d, %s)" % (res["sent"],
                                                                        res["ended"])
        elif not prefix:
            res["why"] = "abort: closed, but %d bytes came first, %s" % (
                res["recv"], "not the stream's start" if res["recv"] else "want some")
        else:
            res["why"] = ""
    return res


def add_stream_args(ap):
    """The options shared by tcp_stream.py and socks5_client.py."""
    ap.add_argument("--mode", choices=("echo", "download", "abort"), default="echo")
    ap.add_argument("--bytes", default="1M", help="stream length, e.g. 64M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=1, help="concurrent sessions")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall deadline, seconds")
    ap.add_argument("--half-close", action="store_true", help="shutdown(WR) after sending")
    ap.add_argument("--quiet", action="store_true", help="print only failures and a summary")
    ap.add_argument("--rate", type=detdata.parse_size, default=0,
                    help="send at most this many bytes a second (e.g. 1M)")


def run_many(args, connect):
    """Runs args.sessions sessions in threads; connect(i) returns a connected socket.
    Session i uses seed args.seed + i. Returns the process exit code."""
    nbytes = detdata.parse_size(args.bytes)
    deadline = time.monotonic() + args.timeout
    results = [None] * args.sessions

    def one(i):
        seed = args.seed + i
        try:
            sock = connect(i, deadline)
        except (OSError, ValueError) as e:
            results[i] = {"seed": seed, "ok": False, "why": "connect: %s" % e}
            return
        try:
            results[i] = run_session(sock, args.mode, seed, nbytes, deadline,
                                     args.half_close, args.rate)
        finally:
            sock.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline + 10 - time.monotonic()))
    good = 0
    for i, r in enumerate(results):
        if r is None:
            r = {"seed": args.seed + i, "ok": False, "why": "session thread hung"}
        good += bool(r["ok"])
        if not args.quiet or not r["ok"]:
            print(json.dumps(r), flush=True)
    print(json.dumps({"summary": True, "sessions": args.sessions, "ok": good}), flush=True)
    return 0 if good == args.sessions else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connect", required=True, help="HOST:PORT or [V6]:PORT")
    add_stream_args(ap)
    args = ap.parse_args()
    host, port = detdata.parse_hostport(args.connect)

    def connect(i, deadline):
        return socket.create_connection((host, port),
                                        timeout=max(0.1, deadline - time.monotonic()))
    return run_many(args, connect)


if __name__ == "__main__":
    sys.exit(main())
