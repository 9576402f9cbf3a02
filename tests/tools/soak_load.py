#!/usr/bin/env python3
"""Soak load: N concurrent SOCKS5 sessions for S seconds against soak_target.py.

  soak_load.py --socks 127.0.0.1:1080 --target 127.0.0.1:9000 --sessions 500 --secs 60

Each of the N workers runs sessions back to back until --secs have passed: a random mode
(echo, upload, download; see soak_target.py), a random size (1 B .. --max-bytes, log-uniform),
the data sent or read in 1-4 pieces with pauses between them (so sessions stay open and
backpressure goes through the proxies; half the downloads half-close after the request), and a share (--early) of sessions cut by the client
on purpose: during the SOCKS handshake, or mid-transfer with FIN or with RST (SO_LINGER 0).
Every transfer that completes is checked by sha256 (and length).

Results per session: ok (completed, sha256 match), bad (completed, wrong bytes: data
corruption), cut (ended early by us, as planned) or error (connection failed, ended early by
the far side, or hung past --session-timeout). --progress FILE is rewritten twice a second
with the counters and the number of sessions open; the last stdout line is the summary JSON.
The whole run is bounded by --secs + --session-timeout + 10 s.
"""
import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import socket
import struct
import time

import detdata

COUNTERS = ("started", "ok", "bad", "cut", "error", "bytes_verified")


class Load:
    def __init__(self, args):
        self.a = args
        self.c = dict.fromkeys(COUNTERS, 0)
        self.open = 0  # TCP connected to the proxy, not yet closed
        self.relaying = 0  # of those, past the SOCKS CONNECT reply
        self.peak_open = self.peak_relaying = 0
        self.errors = {}  # class -> count
        self.samples = []  # first few error and bad-hash descriptions
        self.t0 = time.monotonic()

    def note(self, kind, why):
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < 8:
            self.samples.append(why)

    def snapshot(self):
        d = dict(self.c)
        d.update(open=self.open, relaying=self.relaying, peak_open=self.peak_open,
                 peak_relaying=self.peak_relaying, errors=self.errors,
                 elapsed=round(time.monotonic() - self.t0, 1))
        return d


class Cut(Exception):
    """The session was ended by us on purpose."""


class Plan:
    """What one session does, drawn from the worker's generator."""

    def __init__(self, rng, seed, max_bytes, early):
        self.seed = seed
        self.mode = rng.choice("EEUDD")
        self.size = max(1, min(max_bytes, int(math.exp(rng.uniform(0, math.log(max_bytes))))))
        pieces = rng.randint(1, 4)
        self.cuts = sorted(rng.randint(0, self.size) for _ in range(pieces - 1))
        self.pause = rng.uniform(0.05, 0.8)
        self.half_close = rng.random() < 0.5  # downloads: FIN right after the request
        self.t0 = time.monotonic()
        self.fin_at = None  # when our FIN went out
        self.port = None
        self.early = None
        if rng.random() < early:
            self.early = rng.choice(("socks", "fin", "rst", "rst"))
            self.early_at = rng.randint(0, self.size)

    def timing(self):
        now = time.monotonic()
        fin = "" if self.fin_at is None else ", %.1f s after our FIN" % (now - self.fin_at)
        return "(port %s, after %.1f s%s)" % (self.port, now - self.t0, fin)


def _rst(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _cut(plan, writer, pos):
    """Ends the session here if the plan says so (pos: bytes moved so far)."""
    if plan.early in ("fin", "rst") and pos >= plan.early_at:
        if plan.early == "rst":
            _rst(writer)
        else:
            writer.close()
        raise Cut()


async def socks_connect(load, reader, writer, plan):
    host, port = detdata.parse_hostport(load.a.target)
    writer.write(b"\x05\x01\x00")
    if plan.early == "socks":
        await writer.drain()
        writer.close()
        raise Cut()
    if await reader.readexactly(2) != b"\x05\x00":
        raise ConnectionError("socks: method refused")
    writer.write(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    head = await reader.readexactly(4)
    if head[1] != 0:
        raise ConnectionError("socks: CONNECT reply %d" % head[1])
    alen = {1: 4, 4: 16}.get(head[3])
    if alen is None:
        alen = (await reader.readexactly(1))[0]
    await reader.readexactly(alen + 2)


async def send_stream(writer, plan, sent_hash):
    """Sends the plan's stream in pieces with pauses; hashes it; ends with a FIN."""
    pos = 0
    cuts = list(plan.cuts)
    for blk in detdata.blocks(plan.seed, plan.size):
        while blk:
            upto = len(blk)
            if cuts and cuts[0] < pos + upto:
                upto = max(0, cuts.pop(0) - pos)
            if plan.early in ("fin", "rst") and plan.early_at < pos + upto:
                upto = max(0, plan.early_at - pos)
            part, blk = blk[:upto], blk[upto:]
            writer.write(part)
            sent_hash.update(part)
            pos += len(part)
            await writer.drain()
            _cut(plan, writer, pos)
            if blk:
                await asyncio.sleep(plan.pause)
    writer.write_eof()
    plan.fin_at = time.monotonic()


async def read_all(reader, limit, plan=None, writer=None):
    """Reads until EOF (at most limit + 1 bytes); returns (bytes read, sha256 hex). With a
    plan, pauses at its cut points and ends the session early where it says."""
    h = hashlib.sha256()
    got = 0
    cuts = list(plan.cuts) if plan else []
    while got <= limit:
        data = await reader.read(1 << 16)
        if not data:
            break
        h.update(data)
        got += len(data)
        if plan:
            _cut(plan, writer, got)
            if cuts and got >= cuts[0]:
                cuts.pop(0)
                await asyncio.sleep(plan.pause)
    return got, h.hexdigest()


async def transfer(reader, writer, plan):
    """Runs the plan's transfer; returns (ok, why)."""
    if plan.mode == "D":
        writer.write(b"D" + struct.pack(">QI", plan.seed, plan.size))
        if plan.half_close:
            writer.write_eof()
        await writer.drain()
        got, digest = await read_all(reader, plan.size, plan, writer)
        want = detdata.stream_sha256(plan.seed, plan.size)
        return got == plan.size and digest == want, (got, plan.size, digest == want)
    writer.write(plan.mode.encode())
    sent = hashlib.sha256()
    if plan.mode == "U":
        await send_stream(writer, plan, sent)
        answer = await reader.read()
        return answer.decode(errors="replace") == sent.hexdigest(), (len(answer), 64, False)
    sender = asyncio.ensure_future(send_stream(writer, plan, sent))
    try:
        got, digest = await read_all(reader, plan.size)
    finally:
        if not sender.done():
            sender.cancel()
    await sender  # re-raises a Cut or a send error
    return got == plan.size and digest == sent.hexdigest(), (got, plan.size, False)


async def one_session(load, plan):
    a = load.a
    reader, writer = await asyncio.open_connection(*detdata.parse_hostport(a.socks))
    plan.port = writer.get_extra_info("sockname")[1]  # names the session in proxy logs
    load.open += 1
    load.peak_open = max(load.peak_open, load.open)
    relaying = False
    try:
        await socks_connect(load, reader, writer, plan)
        relaying = True
        load.relaying += 1
        load.peak_relaying = max(load.peak_relaying, load.relaying)
        return await transfer(reader, writer, plan)
    finally:
        load.open -= 1
        load.relaying -= relaying
        writer.close()


def classify(load, plan, ok, detail):
    """Books a transfer that ran to its end. A short read is the far side ending the
    session early (an error); a full-length or over-length one with the wrong bytes is
    corruption (bad)."""
    got, want, _ = detail
    if ok:
        load.c["ok"] += 1
        load.c["bytes_verified"] += plan.size
    elif got >= want:
        load.c["bad"] += 1
        load.note("bad-hash", "seed %d mode %s: %d/%d bytes, wrong sha256" %
                  (plan.seed, plan.mode, got, want))
    else:
        load.c["error"] += 1
        load.note("short", "seed %d mode %s: %d/%d bytes then EOF %s" %
                  (plan.seed, plan.mode, got, want, plan.timing()))


async def worker(load, idx):
    a = load.a
    rng = random.Random(a.seed * 1000003 + idx)
    await asyncio.sleep(a.ramp * idx / a.sessions)
    n = 0
    while time.monotonic() - load.t0 < a.secs:
        plan = Plan(rng, (a.seed << 32) + (idx << 16) + n, a.max_bytes, a.early)
        n += 1
        load.c["started"] += 1
        try:
            ok, detail = await asyncio.wait_for(one_session(load, plan), a.session_timeout)
            classify(load, plan, ok, detail)
        except Cut:
            load.c["cut"] += 1
        except asyncio.TimeoutError:
            load.c["error"] += 1
            load.note("timeout", "seed %d mode %s size %d: hung %.0f s" %
                      (plan.seed, plan.mode, plan.size, a.session_timeout))
        except Exception as e:  # noqa: BLE001 - any failure is booked, the worker goes on
            load.c["error"] += 1
            load.note(type(e).__name__, "seed %d mode %s size %d: %s: %s" %
                      (plan.seed, plan.mode, plan.size, type(e).__name__, e))
            await asyncio.sleep(0.2)  # no busy loop against a proxy that is down


async def report(load):
    a = load.a
    while True:
        if a.progress:
            with open(a.progress + ".tmp", "w") as f:
                f.write(json.dumps(load.snapshot()) + "\n")
            os.replace(a.progress + ".tmp", a.progress)
        await asyncio.sleep(0.5)


async def main_async(a):
    load = Load(a)
    reporter = asyncio.ensure_future(report(load))
    workers = [asyncio.ensure_future(worker(load, i)) for i in range(a.sessions)]
    done, pending = await asyncio.wait(workers, timeout=a.secs + a.session_timeout + 10)
    for w in pending:
        w.cancel()
    reporter.cancel()
    summary = load.snapshot()
    summary.update(summary=True, hung_workers=len(pending), samples=load.samples)
    print(json.dumps(summary), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socks", required=True, help="proxy HOST:PORT")
    ap.add_argument("--target", required=True, help="soak_target.py IPv4:PORT")
    ap.add_argument("--sessions", type=int, default=100, help="concurrent workers")
    ap.add_argument("--secs", type=float, default=10.0, help="start sessions for this long")
    ap.add_argument("--ramp", type=float, default=2.0, help="spread the first starts (s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-bytes", type=detdata.parse_size, default=1 << 20)
    ap.add_argument("--early", type=float, default=0.2, help="share cut early on purpose")
    ap.add_argument("--session-timeout", type=float, default=60.0)
    ap.add_argument("--progress", help="file rewritten with the counters")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
