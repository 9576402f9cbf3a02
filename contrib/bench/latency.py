"""Connect + 1-byte echo: N connections through a port, at most C at a time (asyncio).

Each connection is timed from connect() to the echoed byte; the connection is then closed.
A connection that fails or takes longer than STALL_S is a stall; one that fails is also an
error (kept apart so a reader can tell slow from broken).
"""

import asyncio
import statistics
import time

STALL_S = 1.0
GIVE_UP_S = 10.0  # per connection: a stuck one counts as a stall and an error, then we go on


async def _one(port):
    t0 = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x")
        got = await reader.readexactly(1)
        return time.perf_counter() - t0 if got == b"x" else None
    except (OSError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()


async def _worker(port, todo, times, errors):
    while todo[0] > 0:
        todo[0] -= 1
        try:
            t = await asyncio.wait_for(_one(port), GIVE_UP_S)
        except asyncio.TimeoutError:
            t = None
        if t is None:
            errors[0] += 1
        else:
            times.append(t)


async def _run(port, n, concurrency):
    todo, times, errors = [n], [], [0]
    await asyncio.gather(*(_worker(port, todo, times, errors) for _ in range(concurrency)))
    return times, errors[0]


def _percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def connect_echo(port, n, concurrency):
    """Runs n connections through port; times in ms, stall and error counts, wall seconds."""
    t0 = time.monotonic()
    times, errors = asyncio.run(_run(port, n, concurrency))
    wall = time.monotonic() - t0
    times.sort()
    return {
        "conns": n, "concurrency": concurrency, "wall_s": wall,
        "median_ms": statistics.median(times) * 1e3 if times else None,
        "p99_ms": _percentile(times, 0.99) * 1e3 if times else None,
        "max_ms": times[-1] * 1e3 if times else None,
        "stalls": sum(1 for t in times if t > STALL_S) + errors,
        "errors": errors,
    }
