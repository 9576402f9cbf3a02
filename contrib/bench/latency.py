"""Connect + 1-byte echo: N connections through a port, at most C at a time (asyncio).

Each connection is timed from connect() to the echoed byte; the connection is then closed.
Through a SOCKS5 inbound (socks_target) the time includes the SOCKS greeting and CONNECT, as a
client application such as curl pays them: one request on a new SOCKS connection.
A connection that fails or takes longer than STALL_S is a stall; one that fails is also an
error (kept apart so a reader can tell slow from broken).
"""

import asyncio
import statistics
import time

import socks5

STALL_S = 1.0
GIVE_UP_S = 10.0  # per connection: a stuck one counts as a stall and an error, then we go on


async def _socks_connect(reader, writer, target_port):
    writer.write(socks5.GREETING)
    if await reader.readexactly(2) != socks5.CHOSEN:
        raise OSError("socks: no-auth method refused")
    writer.write(socks5.connect_request(target_port))
    await reader.readexactly(socks5.reply_rest(await reader.readexactly(5)))


async def _one(port, socks_target):
    t0 = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if socks_target is not None:
            await _socks_connect(reader, writer, socks_target)
        writer.write(b"x")
        got = await reader.readexactly(1)
        return time.perf_counter() - t0 if got == b"x" else None
    except (OSError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()


async def _worker(port, socks_target, todo, stop_at, times, errors):
    while todo[0] > 0 and time.monotonic() < stop_at:
        todo[0] -= 1
        try:
            t = await asyncio.wait_for(_one(port, socks_target), GIVE_UP_S)
        except asyncio.TimeoutError:
            t = None
        if t is None:
            errors[0] += 1
        else:
            times.append(t)


async def _run(port, n, concurrency, socks_target, stop_at):
    todo, times, errors = [n], [], [0]
    await asyncio.gather(*(_worker(port, socks_target, todo, stop_at, times, errors)
                           for _ in range(concurrency)))
    return times, errors[0], n - todo[0]


def _percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def connect_echo(port, n, concurrency, socks_target=None, limit_s=None):
    """Runs n connections through port (SOCKS5 CONNECT to socks_target first, if given);
    none is started after limit_s seconds. Times in ms, stall and error counts, wall seconds,
    and done: the connections made (n unless limit_s cut the run short)."""
    t0 = time.monotonic()
    stop_at = t0 + limit_s if limit_s is not None else float("inf")
    times, errors, done = asyncio.run(_run(port, n, concurrency, socks_target, stop_at))
    wall = time.monotonic() - t0
    times.sort()
    return {
        "conns": n, "done": done, "concurrency": concurrency, "wall_s": wall,
        "median_ms": statistics.median(times) * 1e3 if times else None,
        "p99_ms": _percentile(times, 0.99) * 1e3 if times else None,
        "max_ms": times[-1] * 1e3 if times else None,
        "stalls": sum(1 for t in times if t > STALL_S) + errors,
        "errors": errors,
    }
