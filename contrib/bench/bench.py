#!/usr/bin/env python3
"""evproxy vs V2Ray on 127.0.0.1: throughput, CPU, connect + echo and memory, as ratios.

Usage (from the tree root; `make bench` runs it through run.sh):
    bench.py [--quick] [--rounds R] [--seconds S] [--conns N] [--concurrency C]
             [--tls-conns N] [--sessions N] [--only evproxy|v2ray] [--skip GROUP,...]
             [--setups NAME,...] [--relay] [--mixed] [--build DIR] [--out FILE]
Writes BUILD/bench.json, BUILD/bench.md and BUILD/bench.png, the per-run configs and logs to
BUILD/bench/. Reports only: the exit status says whether the harness ran, never whether a
number was good.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import traceback
import uuid

sys.dont_write_bytecode = True  # keep contrib/bench/ free of __pycache__

import certs  # noqa: E402
import chart  # noqa: E402
import configs  # noqa: E402
import latency  # noqa: E402
import measure  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import sslibev  # noqa: E402
import targets  # noqa: E402
from measure import Setup  # noqa: E402

IMPLS = ("evproxy", "v2ray")
GROUPS = ("throughput", "echo", "requests", "memory")
NPROC = len(os.sched_getaffinity(0))
LEGACY_ALTER_ID = 4
MUX_CONCURRENCY = 8
# Requests through a SOCKS inbound, VMess aes-128-gcm: each on a fresh VMess connection, and
# each as a sub-stream of a warm Mux.Cool connection (report.ECHO_ROWS labels the keys).
REQUEST_SETUPS = (
    ("request_fresh", Setup("request-fresh", socks=True)),
    ("request_mux", Setup("request-mux", socks=True, client_keys={
        "mux": {"enabled": True, "concurrency": MUX_CONCURRENCY}})),
)


def ws_tls_setup(ctx, run, name="ws+tls"):
    """aes-128-gcm over ws+tls on both sides, certificates made now; None if they cannot be."""
    if ctx.certs is None:
        ctx.certs = run.attempt("ws+tls certificates", certs.make, ctx.workdir) or {}
    if not ctx.certs:
        return None
    c = ctx.certs
    client, server = configs.ws_tls_keys(c["ca.crt"], c["server.crt"], c["server.key"],
                                         certs.SERVER_NAME)
    return Setup(name, client_keys=client, server_keys=server)


def setups(args, ctx, run):
    """The throughput rows' chains, in table order (report.THROUGHPUT_ROWS labels them).
    mux goes here once it exists (Setup's client_keys / server_keys)."""
    out = [
        Setup("aes-128-gcm"),
        Setup("chacha20-poly1305", cipher="chacha20-poly1305"),
        Setup("none", cipher="none"),
        Setup("legacy", alter_id=LEGACY_ALTER_ID),
        # workers N vs 1: evproxy's "workers", V2Ray's GOMAXPROCS (Setup.workers sets both).
        Setup("8x", streams=8, workers=NPROC),
        Setup("8x-w1", streams=8, workers=1, dirs=("up",)),
        Setup("shadowsocks", cipher="aes-256-gcm", protocol="shadowsocks"),
        Setup("shadowsocks-chacha20", cipher="chacha20-ietf-poly1305", protocol="shadowsocks"),
    ]
    if not args.setups or "ws+tls" in args.setups:
        out.append(ws_tls_setup(ctx, run))
    if args.relay:
        out.append(Setup("relay", relay=True))
    if args.setups:
        out = [st for st in out if st and st.name in args.setups]
    return [st for st in out if st]


class Ctx:
    """What every measurement needs: ports, paths, the user id, the knobs."""

    def __init__(self, args):
        self.build = args.build
        self.workdir = os.path.join(args.build, "bench")
        os.makedirs(self.workdir, exist_ok=True)
        self.uuid = str(uuid.uuid4())
        self.iperf_port = peers.free_port()
        self.seconds, self.rounds = args.seconds, max(1, args.rounds)
        self.conns, self.concurrency = args.conns, max(1, args.concurrency)
        self.tls_conns = args.tls_conns
        self.sessions = args.sessions
        self.settle = 1.5
        self.certs = None  # made by the first ws+tls setup (certs.make)


class Run:
    """The results being collected, and the failures ("not measured: ...")."""

    def __init__(self, meta):
        self.res = {"meta": meta, "errors": [], "notes": [], "throughput": {}, "echo": {},
                    "memory": {}}

    def attempt(self, what, fn, *args):
        """fn(*args), or None with the reason recorded; a harness bug is reported, not fatal."""
        try:
            return fn(*args)
        except RuntimeError as e:
            self.fail(what, str(e))
        except Exception as e:  # a bug in the harness: say so, keep the other measurements
            traceback.print_exc()
            self.fail(what, f"{type(e).__name__}: {e}")
        return None

    def note(self, text):
        print(f"    note: {text}", flush=True)
        self.res["notes"].append(text)

    def fail(self, what, why):
        print(f"    {what}: not measured: {why}", flush=True)
        self.res["errors"].append(f"{what}: {why}")


def _chain(ctx, impl, setup, label, server=None):
    if impl == sslibev.IMPL:
        return sslibev.Chain(ctx, setup, label)
    server = server or (None if setup.relay else impl)
    return measure.Chain(ctx, impl, server, setup, label)


def _rounds(ctx, run, chains, what, fn, store):
    """ctx.rounds rounds, evproxy then V2Ray in each (ABAB), fn(chain) -> dict into store[impl].
    A side that fails stops there; the other goes on."""
    for rnd in range(ctx.rounds):
        for impl in list(chains):
            got = run.attempt(f"{what} {impl}", fn, chains[impl])
            if got is None:
                chains.pop(impl).stop()
                continue
            store[impl].append(got)
            print(f"    round {rnd + 1} {impl}: {_brief(got)}", flush=True)
            _note_losses(run, f"{what} round {rnd + 1} {impl}", got)


def _note_losses(run, what, got):
    """Sessions or connections a side lost: the numbers stand, the loss is said beside them."""
    if got.get("held", got.get("sessions")) != got.get("sessions"):
        run.note(f"{what}: {got['sessions'] - got['held']} of {got['sessions']} idle sessions "
                 "refused or closed (see its log in the bench directory)")
    if got.get("errors"):
        run.note(f"{what}: {got['errors']} of {got['conns']} connections failed")
    if got.get("warmup_errors"):
        run.note(f"{what}: {got['warmup_errors']} of {measure.WARMUP_REQUESTS} untimed warm-up "
                 "requests failed")
    if got.get("done", got.get("conns")) != got.get("conns"):
        run.note(f"{what}: cut off by its time bound after {got['done']} of {got['conns']} "
                 "connections")


def _brief(got):
    if "bps" in got:
        return f"{got['bps'] / 1e9:.2f} Gbit/s, CPU {sum(got['cpu_s']):.1f} s"
    if "median_ms" in got:
        held = f", connections to the server after warm-up {got['carriers']}" \
            if "carriers" in got else ""
        return (f"median {got['median_ms'] or 0:.2f} ms, p99 {got['p99_ms'] or 0:.2f} ms, "
                f"stalls {got['stalls']}{held}")
    per = ", ".join(f"{v:.1f}" for v in got["per_session_kib"])
    return (f"RSS idle {got['idle_kib']} KiB, per session {per} KiB "
            f"({got['held']} of {got['sessions']} held)")


def throughput(ctx, run, impls, setup, cross=False):
    """iperf3 through both implementations' chains, alternating within each round.
    cross: each client talks to the other implementation's server (interop at speed)."""
    name = setup.name
    print(f"{name}: {setup.streams} stream(s), {setup.cipher}, alterId {setup.alter_id}, "
          f"workers {setup.workers or 'default'}:", flush=True)
    out = {}
    chains = {}
    for impl in impls + sslibev.sides(setup, impls, cross):
        out[impl] = {d: [] for d in setup.dirs}
        server = {"evproxy": "v2ray", "v2ray": "evproxy"}[impl] if cross else None
        chain = _chain(ctx, impl, setup, f"{name}-{impl}" if cross else name, server=server)
        if run.attempt(f"{name} {impl}", measure.start_checked, chain, ctx.iperf_port):
            chains[impl] = chain
    try:
        for d in setup.dirs:
            print(f"  {d}:", flush=True)
            store = {impl: out[impl][d] for impl in out}
            _rounds(ctx, run, chains, f"{name} {d}", lambda c: measure.timed(c, d == "down"),
                    store)
    finally:
        for c in chains.values():
            c.stop()
    return out


def echo(ctx, run, impls, setup, conns, round_fn=measure.echo_round):
    """connect + 1-byte echo through each implementation's chain (setup), rounds alternating;
    round_fn(chain, conns, concurrency) measures one round (measure.request_round: SOCKS
    requests after a warm-up). The plain chain ("echo") also measures the client's floor."""
    print(f"connect + 1-byte echo ({setup.name}): {conns} connections, {ctx.concurrency} at "
          "a time:", flush=True)
    target = targets.TargetProcess("echo", ctx.workdir)
    out = {impl: [] for impl in impls}
    chains = {}
    try:
        if setup.name == "echo":
            floor = latency.connect_echo(target.port, min(conns, 1000), ctx.concurrency)
            run.res["meta"]["echo_floor_ms"] = floor["median_ms"]
            print(f"  no proxy: median {floor['median_ms']:.3f} ms (this client's floor)",
                  flush=True)
        for impl in impls:
            chain = _chain(ctx, impl, setup, setup.name)
            if run.attempt(f"{setup.name} {impl}", measure.start_on_echo, chain, target.port):
                chains[impl] = chain
        _rounds(ctx, run, chains, setup.name,
                lambda c: round_fn(c, conns, ctx.concurrency), out)
    finally:
        for c in chains.values():
            c.stop()
        target.close()
    return out


def memory(ctx, run, impls):
    """RSS idle and per idle session, a fresh pair per round and implementation."""
    print(f"memory: RSS idle, then {ctx.sessions} idle sessions (aes-128-gcm):", flush=True)
    out = {impl: [] for impl in impls}
    sides = {impl: _Fresh(impl) for impl in impls}  # _rounds drops a side that fails
    _rounds(ctx, run, sides, "memory",
            lambda side: measure.memory(ctx, side.impl, "memory"), out)
    return out


class _Fresh:
    """A side whose chain each round starts and stops itself (nothing to stop here)."""

    def __init__(self, impl):
        self.impl = impl

    def stop(self):
        pass


FD_MARGIN = 64  # a proxy's own descriptors: listeners, epoll, log, resolver


def raise_fd_limit(sessions):
    """Each proxy holds 2 descriptors per session; returns the limit now in force."""
    want = 2 * sessions + FD_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for new in ((max(soft, want), max(hard, want)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, new)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, timeout=5, text=True)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _meta(ctx, args, fd_limit):
    env = [f"{k}={v}" for k, v in sorted(os.environ.items())
           if k.startswith("BENCH_") or k == "EVP_BUILD"]
    cmd = " ".join(env + ["contrib/bench/run.sh"] + args.argv)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": ("make bench: " if os.environ.get("MAKELEVEL") else "") + cmd.strip(),
        "host": platform.node(), "kernel": platform.release(), "nproc": NPROC,
        "cpu_model": _cpu_model(), "workers_n": NPROC,
        "evproxy": _version([os.path.join(ctx.build, "evproxy"), "--version"]),
        "v2ray": _version(["v2ray", "-version"]),
        "iperf3": _version(["iperf3", "--version"]),
        "ss_libev": _version(["ss-server", "-h"]),
        "rounds": ctx.rounds, "seconds_per_run": ctx.seconds,
        "echo_conns": ctx.conns, "echo_concurrency": ctx.concurrency,
        "echo_ws_tls_conns": ctx.tls_conns, "request_conns": ctx.conns,
        "request_warmup": measure.WARMUP_REQUESTS, "mux_concurrency": MUX_CONCURRENCY,
        "idle_sessions": ctx.sessions, "fd_limit": fd_limit, "legacy_alter_id": LEGACY_ALTER_ID,
        "vmess": "dokodemo-door -> vmess -> vmess -> freedom; AEAD header unless legacy",
    }


def _markdown(res, rws, png_note, wall):
    m = res["meta"]
    lines = [
        "# make bench: evproxy vs V2Ray", "",
        f"- date: {m['date']}; nproc: {m['nproc']}; CPU: {m['cpu_model']}; "
        f"kernel {m['kernel']}",
        f"- command: `{m['command']}` (took {wall / 60:.1f} min)",
        f"- {m['evproxy']}; {m['v2ray']}; {m['iperf3']}",
        f"- medians of {m['rounds']} round(s), evproxy and V2Ray alternating in each; iperf3 "
        f"{m['seconds_per_run']} s per run; {m['echo_conns']} connect + echo connections, "
        f"{m['echo_concurrency']} at a time (no proxy: median {_ms(m.get('echo_floor_ms'))}), "
        f"{m['echo_ws_tls_conns']} over ws+tls; {m['request_conns']} SOCKS requests per shape "
        f"after {m['request_warmup']} untimed (mux concurrency {m['mux_concurrency']}); "
        f"{m['idle_sessions']} idle sessions (open-file limit {m['fd_limit']})",
        "- ratio = evproxy / v2ray; (+) higher is better, (-) lower is better; "
        "target: issue 11", "",
        report.markdown_table(rws), "",
    ]
    if res.get("pairs"):
        lines += ["Mixed pairs (aes-128-gcm, Gbit/s):", "", "```",
                  report.pairs_table(report.mixed_rows(res)), "```", ""]
    if res.get("ss_libev_rows"):
        lines += [f"Shadowsocks next to {m['ss_libev']} (ss-tunnel -> ss-server), same rounds:",
                  "", report.ss_libev_table(res["ss_libev_rows"], markdown=True), ""]
    lines += [f"- note: {n}" for n in res["notes"]]
    lines += [f"- not measured: {e}" for e in res["errors"]]
    lines += ["", png_note, ""]
    return "\n".join(lines)


def _ms(v):
    return "n/a" if v is None else f"{v:.3f} ms"


def _args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    env = os.environ.get
    ap.add_argument("--build", default=env("EVP_BUILD", "build"))
    ap.add_argument("--quick", action="store_true", default=env("BENCH_QUICK") == "1",
                    help="development: 1 round, 2 s runs, 500 connections, 1000 sessions")
    ap.add_argument("--rounds", type=int, default=env("BENCH_ROUNDS"))
    ap.add_argument("--seconds", type=int, default=env("BENCH_SECONDS"))
    ap.add_argument("--conns", type=int, default=env("BENCH_CONNS"))
    ap.add_argument("--concurrency", type=int, default=env("BENCH_CONCURRENCY"))
    ap.add_argument("--tls-conns", type=int, default=env("BENCH_TLS_CONNS"),
                    help="connect + echo connections over ws+tls (each a full TLS handshake)")
    ap.add_argument("--sessions", type=int, default=env("BENCH_SESSIONS"))
    ap.add_argument("--only", choices=IMPLS, default=env("BENCH_ONLY") or None)
    ap.add_argument("--skip", default=env("BENCH_SKIP", ""),
                    help="comma-separated groups to leave out: " + ",".join(GROUPS))
    ap.add_argument("--setups", default=env("BENCH_SETUPS", ""),
                    help="only these throughput setups (comma-separated names: aes-128-gcm,"
                    "chacha20-poly1305,none,legacy,8x,8x-w1,shadowsocks,shadowsocks-chacha20,"
                    "ws+tls,relay)")
    ap.add_argument("--relay", action="store_true", help="also the relay (no VMess) row")
    ap.add_argument("--mixed", action="store_true", help="also evproxy>v2ray and v2ray>evproxy")
    ap.add_argument("--out", default=None, help="JSON output (default BUILD/bench.json)")
    args = ap.parse_args()
    args.argv = sys.argv[1:]
    normal = {"rounds": 3, "seconds": 5, "conns": 5000, "tls_conns": 2000, "concurrency": 4,
              "sessions": 10000}
    quick = {"rounds": 1, "seconds": 2, "conns": 500, "tls_conns": 200, "concurrency": 4,
             "sessions": 1000}
    for k, v in (quick if args.quick else normal).items():
        if getattr(args, k) is None:
            setattr(args, k, int(v))
        setattr(args, k, int(getattr(args, k)))
    args.skip = {g for g in args.skip.split(",") if g}
    args.setups = {g for g in args.setups.split(",") if g}
    if args.skip - set(GROUPS):
        ap.error(f"--skip: unknown group(s) {','.join(args.skip - set(GROUPS))}")
    return args


def main():
    args = _args()
    # SIGTERM (from run.sh's timeout) must run the atexit cleanup like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    fd_limit = raise_fd_limit(args.sessions)
    ctx = Ctx(args)
    run = Run(_meta(ctx, args, fd_limit))
    if "memory" not in args.skip and ctx.sessions > (fd_limit - FD_MARGIN) // 2:
        ctx.sessions = max(0, (fd_limit - FD_MARGIN) // 2)
        run.res["meta"]["idle_sessions"] = ctx.sessions
        run.note(f"open-file limit {fd_limit} (the hard limit; raising it needs CAP_SYS_RESOURCE): "
                 f"{ctx.sessions} idle sessions, not {args.sessions}")
    impls = IMPLS if not args.only else (args.only,)
    print(f"bench: {ctx.rounds} round(s), {ctx.seconds} s per iperf3 run, logs in "
          f"{ctx.workdir}/", flush=True)

    direct = run.attempt("direct iperf3", measure.direct, ctx, min(ctx.seconds, 3))
    run.res["meta"]["loopback_gbps"] = direct and {d: v["bps"] / 1e9 for d, v in direct.items()}
    sts = setups(args, ctx, run)
    phases = run.res["meta"]["phase_s"] = {}
    if "throughput" not in args.skip:
        for st in sts:
            t = time.monotonic()
            run.res["throughput"][st.name] = throughput(ctx, run, impls, st)
            phases[st.name] = round(time.monotonic() - t, 1)
    if args.mixed and len(impls) == 2:
        got = throughput(ctx, run, IMPLS, Setup("mixed"), cross=True)
        run.res["pairs"] = {"evproxy>v2ray": got["evproxy"], "v2ray>evproxy": got["v2ray"]}
    if "echo" not in args.skip:
        t = time.monotonic()
        run.res["echo"] = echo(ctx, run, impls, Setup("echo"), ctx.conns)
        phases["echo"] = round(time.monotonic() - t, 1)
        wst = ws_tls_setup(ctx, run, "echo-ws+tls") if ctx.tls_conns > 0 else None
        if wst:
            t = time.monotonic()
            run.res["echo_ws_tls"] = echo(ctx, run, impls, wst, ctx.tls_conns)
            phases["echo_ws_tls"] = round(time.monotonic() - t, 1)
    if "requests" not in args.skip:
        for key, st in REQUEST_SETUPS:
            t = time.monotonic()
            run.res[key] = echo(ctx, run, impls, st, ctx.conns, measure.request_round)
            phases[key] = round(time.monotonic() - t, 1)
    if "memory" not in args.skip and ctx.sessions > 0:
        t = time.monotonic()
        run.res["memory"] = memory(ctx, run, impls)
        phases["memory"] = round(time.monotonic() - t, 1)
    peers.stop_all()
    return finish(run.res, args, ctx, {st.name: st.dirs for st in sts}, time.monotonic() - t0)


def finish(res, args, ctx, dirs_of, wall):
    """Rows, the JSON, the markdown copy and the chart; prints the table."""
    rws = report.rows(res, dirs_of)
    res["rows"] = rws
    res["ss_libev_rows"] = report.ss_libev_rows(res, dirs_of)
    res["meta"]["wall_s"] = round(wall, 1)
    out = args.out or os.path.join(ctx.build, "bench.json")
    png = os.path.join(ctx.build, "bench.png")
    m = res["meta"]
    why = chart.draw(rws, png, f"evproxy vs V2Ray, {m['date']}, nproc {m['nproc']}, "
                     f"{m['cpu_model']}")
    png_note = "![evproxy and V2Ray per row, V2Ray = 1](bench.png)" if why is None \
        else f"(no chart: {why})"
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    md = os.path.join(ctx.build, "bench.md")
    with open(md, "w") as f:
        f.write(_markdown(res, rws, png_note, wall))

    print()
    print(report.table(rws))
    if res.get("pairs"):
        print()
        print(report.pairs_table(report.mixed_rows(res)))
    if res["ss_libev_rows"]:
        print()
        print(report.ss_libev_table(res["ss_libev_rows"]))
    lb = m.get("loopback_gbps")
    if lb:
        print(f"\nloopback ceiling (iperf3 alone): up {lb['up']:.2f}, down {lb['down']:.2f} Gbit/s")
    for n in res["notes"]:
        print(f"note: {n}")
    for e in res["errors"]:
        print(f"not measured: {e}")
    print(f"\nmedians of {ctx.rounds} round(s); took {wall / 60:.1f} min. JSON: {out}, "
          f"markdown: {md}, chart: {png if why is None else 'none (' + why + ')'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
