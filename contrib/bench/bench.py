#!/usr/bin/env python3
"""evproxy vs V2Ray on 127.0.0.1: throughput, CPU and memory, printed as ratios.

Usage (from the tree root; `make bench` runs it through run.sh):
    bench.py [--build DIR] [--seconds S] [--repeat R] [--conns N] [--no-mixed]
             [--only evproxy|v2ray] [--out FILE]
Writes build/bench.json and the per-run configs and logs to build/bench/. Reports only:
the exit status says whether the harness ran, never whether a number was good.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import traceback
import uuid

sys.dont_write_bytecode = True  # keep contrib/bench/ free of __pycache__

import measure  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402

CIPHERS = ("aes-128-gcm", "chacha20-poly1305")
IMPLS = ("evproxy", "v2ray")


class Ctx:
    """What every measurement needs: ports, paths, the user id, the knobs."""

    def __init__(self, args):
        self.build = args.build
        self.workdir = os.path.join(args.build, "bench")
        os.makedirs(self.workdir, exist_ok=True)
        self.uuid = str(uuid.uuid4())
        self.iperf_port = peers.free_port()
        self.seconds = args.seconds
        self.conns = args.conns
        self.repeat = max(1, args.repeat)
        self.settle = 1.5


def _version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, timeout=5, text=True)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _meta(ctx):
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "evproxy": _version([os.path.join(ctx.build, "evproxy"), "--version"]),
        "v2ray": _version(["v2ray", "-version"]),
        "iperf3": _version(["iperf3", "--version"]),
        "seconds_per_run": ctx.seconds, "runs_per_direction": ctx.repeat,
        "idle_conns": ctx.conns,
        "vmess": "AEAD header (alterId 0), dokodemo-door -> vmess -> vmess -> freedom",
    }


def _attempt(res, key, what, fn, *args):
    """Run one measurement; a failure becomes {"error": ...} and a line in res["errors"]."""
    print(f"  {what} ...", end="", flush=True)
    try:
        out = fn(*args)
        print(" ok", flush=True)
    except RuntimeError as e:
        out = {"error": str(e)}
        print(f" failed: {e}", flush=True)
        res["errors"].append(f"{what}: {e}")
    except Exception as e:  # a harness bug: say so, keep the other measurements
        out = {"error": f"{type(e).__name__}: {e}"}
        print(" harness error", flush=True)
        traceback.print_exc()
        res["errors"].append(f"{what}: {type(e).__name__}: {e}")
    key[0][key[1]] = out
    return out


def _pairs(impls, mixed):
    same = [(i, i) for i in impls]
    cross = [("evproxy", "v2ray"), ("v2ray", "evproxy")] if mixed and len(impls) == 2 else []
    return same, cross


def run(ctx, args):
    impls = IMPLS if not args.only else (args.only,)
    res = {"meta": _meta(ctx), "errors": [], "throughput": {}, "relay": {}, "memory": {}}
    print(f"bench: {ctx.seconds} s per iperf3 run x{ctx.repeat}, {ctx.conns} idle connections, "
          f"logs in {ctx.workdir}/", flush=True)

    print("direct iperf3 (no proxy, the loopback ceiling):")
    _attempt(res, (res, "direct"), "direct", measure.direct, ctx, min(ctx.seconds, 5))

    print("relay only: dokodemo-door -> freedom in one process:")
    for impl in impls:
        _attempt(res, (res["relay"], impl), f"relay {impl}", measure.throughput,
                 ctx, impl, None, None, "relay")

    same, cross = _pairs(impls, not args.no_mixed)
    for cipher in CIPHERS:
        print(f"VMess {cipher}: dokodemo-door -> vmess client -> vmess server -> freedom:")
        tp = res["throughput"].setdefault(cipher, {})
        # Mixed pairs only for the first cipher: they show interop, not speed.
        for c, s in same + (cross if cipher == CIPHERS[0] else []):
            pair = f"{c}>{s}"
            _attempt(res, (tp, pair), f"{pair} {cipher}", measure.throughput,
                     ctx, c, s, cipher, f"{cipher}-{c}-{s}")

    print(f"memory: {ctx.conns} idle connections through each pair (aes-128-gcm):")
    for impl in impls:
        _attempt(res, (res["memory"], impl), f"memory {impl}", measure.memory,
                 ctx, impl, CIPHERS[0], f"memory-{impl}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--build", default=os.environ.get("EVP_BUILD", "build"))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)))
    ap.add_argument("--conns", type=int, default=int(os.environ.get("BENCH_CONNS", 500)))
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 1)),
                    help="iperf3 runs per direction; the median is reported")
    ap.add_argument("--no-mixed", action="store_true",
                    default=os.environ.get("BENCH_MIXED", "1") == "0")
    ap.add_argument("--only", choices=IMPLS, default=os.environ.get("BENCH_ONLY") or None)
    ap.add_argument("--out", default=None, help="JSON output (default BUILD/bench.json)")
    args = ap.parse_args()
    # SIGTERM (from run.sh's timeout) must run the atexit cleanup like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    ctx = Ctx(args)
    res = run(ctx, args)
    peers.stop_all()

    rws = report.rows(res, CIPHERS)
    mrows = report.mixed_rows(res, CIPHERS)
    direct = res.get("direct", {})
    res["rows"], res["pairs"] = rws, mrows
    out = args.out or os.path.join(ctx.build, "bench.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

    print()
    print(report.table(rws))
    print()
    print(report.pairs_table(mrows))
    if "up" in direct:
        print(f"\nloopback ceiling (iperf3 alone): up {direct['up']['bps'] / 1e9:.2f}, "
              f"down {direct['down']['bps'] / 1e9:.2f} Gbit/s")
    for e in res["errors"]:
        print(f"not measured: {e}")
    runs = "single runs" if ctx.repeat == 1 else f"medians of {ctx.repeat} runs"
    print(f"\nJSON: {out}   ({runs}: expect +-30% between bench runs; compare ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
