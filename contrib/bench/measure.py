"""The three measurements: throughput (+ CPU) through a chain, and memory per idle connection.

Each function starts its own processes, stops them before returning, and returns a plain dict
(raw numbers only; report.py turns them into rows). Failures raise RuntimeError with a reason.
"""

import time

import configs
import peers
import procstat
import targets

GIB = 1 << 30


class Chain:
    """Client (dokodemo-door -> VMess) + server (VMess -> freedom), or a one-process relay."""

    def __init__(self, ctx, client_impl, server_impl, cipher, label):
        self.ctx, self.client_impl, self.server_impl = ctx, client_impl, server_impl
        self.cipher, self.label = cipher, label
        self.procs = []

    def start(self, target_port):
        """Start the processes with dokodemo-door aimed at target_port; returns its listen port."""
        ctx = self.ctx
        listen = peers.free_port()
        self.procs = []
        try:
            if self.server_impl is None:
                cfg = configs.relay(listen, target_port)
                self.procs.append(self._proxy(self.client_impl, "relay", cfg))
            else:
                sport = peers.free_port()
                scfg = configs.vmess_server(sport, ctx.uuid)
                self.procs.append(self._proxy(self.server_impl, "server", scfg))
                ccfg = configs.vmess_client(listen, target_port, sport, ctx.uuid, self.cipher)
                # Client first: cpu() and rss() report [client, server].
                self.procs.insert(0, self._proxy(self.client_impl, "client", ccfg))
        except RuntimeError:
            self.stop()
            raise
        return listen

    def _proxy(self, impl, role, cfg):
        return peers.Proxy(impl, role, cfg, self.ctx.workdir, self.ctx.build, self.label)

    def stop(self):
        for p in self.procs:
            p.stop()
        self.procs = []

    def check_alive(self):
        for p in self.procs:
            if not p.alive():
                rc = p.proc.returncode
                how = f"killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
                raise RuntimeError(f"{p.impl} {p.role} {how}: {peers.log_tail(p.log_path)}")

    def cpu(self):
        return [procstat.cpu_seconds(p.pid) for p in self.procs]

    def rss(self):
        return [procstat.rss_kib(p.pid) for p in self.procs]


def _probe(chain):
    """Bytes must cross the chain and come back intact before we time anything."""
    echo = targets.Echo()
    try:
        port = chain.start(echo.port)
        try:
            err = targets.probe(port)
            if err:
                time.sleep(0.3)  # a crash shows up as a reset before the exit is reaped
                chain.check_alive()
                raise RuntimeError(err)
        finally:
            chain.stop()
    finally:
        echo.close()


def direct(ctx, seconds):
    """iperf3 with no proxy at all: the ceiling of this machine's loopback."""
    out = {}
    for name, rev in (("up", False), ("down", True)):
        res = peers.iperf3(ctx.iperf_port, ctx.iperf_port, seconds, rev, ctx.workdir)
        out[name] = {"bps": res["end"]["sum_received"]["bits_per_second"]}
    return out


def throughput(ctx, client_impl, server_impl, cipher, label):
    """iperf3 up and down (-R) through a chain; bits/s and CPU seconds per GiB per process."""
    chain = Chain(ctx, client_impl, server_impl, cipher, label)
    _probe(chain)
    port = chain.start(ctx.iperf_port)
    out = {}
    try:
        for name, rev in (("up", False), ("down", True)):
            runs = [_timed(chain, port, rev) for _ in range(ctx.repeat)]
            # The median run by throughput, with that same run's CPU figures.
            runs.sort(key=lambda r: r["bps"])
            out[name] = dict(runs[len(runs) // 2])
            if ctx.repeat > 1:
                out[name]["all_bps"] = [r["bps"] for r in runs]
    finally:
        chain.stop()
    return out


def _timed(chain, port, reverse):
    """One iperf3 run through a started chain, with the CPU its processes spent meanwhile."""
    ctx = chain.ctx
    cpu0 = chain.cpu()
    res = peers.iperf3(ctx.iperf_port, port, ctx.seconds, reverse, ctx.workdir)
    cpu1 = chain.cpu()
    chain.check_alive()
    got = res["end"]["sum_received"]
    gib = got["bytes"] / GIB
    cpu = [b - a for a, b in zip(cpu0, cpu1)]
    return {
        "bps": got["bits_per_second"],
        "bytes": got["bytes"],
        "cpu_s": cpu,
        "cpu_s_per_gib": [c / gib if gib else None for c in cpu],
        "cpu_s_per_gib_total": sum(cpu) / gib if gib else None,
        # Cores kept busy: well under 1 per process means it waits, not computes.
        "cpu_cores": [c / got["seconds"] for c in cpu] if got["seconds"] else None,
    }


def memory(ctx, impl, cipher, label):
    """RSS idle after start, then per idle connection (N held open through the chain)."""
    chain = Chain(ctx, impl, impl, cipher, label)
    sink = targets.SilentSink()
    socks = []
    payload = b"bench-hello-1234" * 2
    try:
        port = chain.start(sink.port)
        time.sleep(ctx.settle)
        idle = chain.rss()
        try:
            socks = targets.open_idle(port, ctx.conns, payload)
        except OSError as e:
            time.sleep(0.3)
            chain.check_alive()
            raise RuntimeError(f"opening {ctx.conns} connections: {e}")
        deadline = time.monotonic() + 20
        while sink.count_with(len(payload)) < ctx.conns and time.monotonic() < deadline:
            time.sleep(0.1)
        arrived = sink.count_with(len(payload))
        chain.check_alive()
        if arrived < ctx.conns:
            raise RuntimeError(f"only {arrived} of {ctx.conns} connections reached the target")
        time.sleep(ctx.settle)
        after = chain.rss()
        # Nothing may have been dropped while we waited (idle/handshake timeouts).
        held = sink.count_with(len(payload))
        if held < ctx.conns:
            raise RuntimeError(f"{ctx.conns - held} connections closed while idle")
    finally:
        for s in socks:
            s.close()
        chain.stop()
        sink.close()
    return {
        "conns": ctx.conns,
        "roles": ["client", "server"],
        "idle_kib": idle,
        "loaded_kib": after,
        "per_conn_kib": [(a - i) / ctx.conns for i, a in zip(idle, after)],
    }
