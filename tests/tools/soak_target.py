#!/usr/bin/env python3
"""Loopback target of the soak test: one asyncio server for thousands of connections.

The first byte a client sends picks what the connection does:
  E            echo every byte until the client's EOF, then close
  U            read until the client's EOF, answer the 64-char hex sha256 of what came
  D SEED LEN   (8 + 4 bytes, big-endian) send detdata.blocks(SEED, LEN), then close
Clients may vanish at any point (FIN or RST); that is counted, never an error here.
--stats FILE gets one JSON line with the counters when the server ends (SIGTERM or lifetime).
"""
import argparse
import asyncio
import hashlib
import json
import os
import signal
import struct

import detdata
import tcpserver

COUNTS = {"accepted": 0, "echo": 0, "upload": 0, "download": 0, "cut_by_client": 0}


async def _read_exact(reader, n):
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError:
        return None


async def _echo(reader, writer):
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.write_eof()
    await writer.drain()


async def _upload(reader, writer):
    h = hashlib.sha256()
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        h.update(data)
    writer.write(h.hexdigest().encode())
    await writer.drain()


async def _download(reader, writer):
    head = await _read_exact(reader, 12)
    if head is None:
        return
    seed, length = struct.unpack(">QI", head)
    for blk in detdata.blocks(seed, length):
        writer.write(blk)
        await writer.drain()


MODES = {b"E": ("echo", _echo), b"U": ("upload", _upload), b"D": ("download", _download)}


async def serve_one(reader, writer):
    COUNTS["accepted"] += 1
    try:
        mode = await _read_exact(reader, 1)
        if mode in MODES:
            name, fn = MODES[mode]
            COUNTS[name] += 1
            await fn(reader, writer)
    except (ConnectionError, OSError):
        COUNTS["cut_by_client"] += 1
    finally:
        writer.close()


async def main_async(args):
    socks, port = tcpserver.bind_all(args)
    servers = [await asyncio.start_server(serve_one, sock=s, backlog=4096) for s in socks]
    tcpserver.announce(args, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.lifetime)
    except asyncio.TimeoutError:
        pass
    for srv in servers:
        srv.close()
    if args.stats:
        with open(args.stats, "w") as f:
            f.write(json.dumps(COUNTS) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tcpserver.add_args(ap)
    args = ap.parse_args()
    asyncio.run(main_async(args))
    os._exit(0)


if __name__ == "__main__":
    main()
