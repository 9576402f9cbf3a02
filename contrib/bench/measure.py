"""The measurements: throughput (+ CPU) through a chain, connect + echo, memory per idle session.

Each function returns a plain dict of raw numbers (report.py turns rounds into rows) and
raises RuntimeError with a reason when a side cannot be measured. Chains are started and
stopped by the caller (bench.py), so that evproxy and V2Ray runs can alternate on live chains.
"""

import time

import configs
import latency
import peers
import procstat
import targets

GIB = 1 << 30
# V2Ray 4.34's AuthID filter refuses ~0.1% of 10,000 fresh sessions as replays (a false
# positive of its filter): RSS is then divided by the sessions held, and the loss reported.
MAX_LOST = 0.01


class Setup:
    """What a chain runs: cipher, header (alterId), workers (evproxy) / GOMAXPROCS (V2Ray).

    Extension point for the ws+tls and mux rows: client_keys / server_keys are merged into the
    VMess outbound / inbound objects (e.g. {"streamSettings": ...}, {"mux": ...})."""

    def __init__(self, name, cipher="aes-128-gcm", alter_id=0, workers=None, max_sessions=None,
                 streams=1, dirs=("up", "down"), client_keys=None, server_keys=None,
                 relay=False, protocol="vmess", socks=False):
        self.name, self.cipher, self.alter_id = name, cipher, alter_id
        self.protocol = protocol  # "vmess", or "shadowsocks" (cipher is then its method)
        self.relay = relay  # one process, dokodemo-door -> freedom: the core without VMess
        self.workers, self.max_sessions = workers, max_sessions
        self.streams, self.dirs = streams, dirs
        self.client_keys, self.server_keys = client_keys, server_keys
        self.socks = socks  # the client's inbound: SOCKS5 rather than dokodemo-door (VMess)

    def extra(self):
        return configs.evproxy_keys(self.workers, self.max_sessions)


class Chain:
    """Client (dokodemo-door -> VMess) + server (VMess -> freedom), or a one-process relay."""

    def __init__(self, ctx, client_impl, server_impl, setup, label):
        self.ctx, self.client_impl, self.server_impl = ctx, client_impl, server_impl
        self.setup, self.label = setup, label
        self.procs = []
        self.port = None
        self.server_port = None
        self.socks_target = None  # the port each SOCKS CONNECT names, on a SOCKS chain

    def start(self, target_port):
        """Start the processes with dokodemo-door aimed at target_port; returns its listen port."""
        ctx, st = self.ctx, self.setup
        listen = peers.free_port()
        self.procs = []
        try:
            if self.server_impl is None:
                cfg = configs.relay(listen, target_port, st.extra())
                self.procs.append(self._proxy(self.client_impl, "relay", cfg))
            elif st.protocol == "shadowsocks":
                sport = peers.free_port()
                scfg = configs.ss_server(sport, st.cipher, ctx.uuid, st.extra())
                self.procs.append(self._proxy(self.server_impl, "server", scfg))
                ccfg = configs.ss_client(listen, target_port, sport, st.cipher, ctx.uuid,
                                         st.extra())
                self.procs.insert(0, self._proxy(self.client_impl, "client", ccfg))
            else:
                sport = peers.free_port()
                scfg = configs.vmess_server(sport, ctx.uuid, st.alter_id, st.extra(),
                                            st.server_keys)
                self.procs.append(self._proxy(self.server_impl, "server", scfg))
                ccfg = configs.vmess_client(listen, target_port, sport, ctx.uuid, st.cipher,
                                            st.alter_id, st.extra(), st.client_keys,
                                            socks=st.socks)
                self.server_port = sport
                self.socks_target = target_port if st.socks else None
                # Client first: cpu() and rss() report [client, server].
                self.procs.insert(0, self._proxy(self.client_impl, "client", ccfg))
        except RuntimeError:
            self.stop()
            raise
        self.port = listen
        return listen

    def _proxy(self, impl, role, cfg):
        return peers.Proxy(impl, role, cfg, self.ctx.workdir, self.ctx.build, self.label,
                           gomaxprocs=self.setup.workers)

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


def _probe_running(chain):
    """Bytes must cross a chain aimed at an echo and come back intact before we time anything."""
    err = targets.probe(chain.port, socks_target=chain.socks_target)
    if err:
        time.sleep(0.3)  # a crash shows up as a reset before the exit is reaped
        chain.check_alive()
        raise RuntimeError(err)


def start_checked(chain, target_port):
    """Probe the chain through an echo, then restart it aimed at target_port."""
    echo = targets.Echo()
    try:
        chain.start(echo.port)
        try:
            _probe_running(chain)
        finally:
            chain.stop()
    finally:
        echo.close()
    return chain.start(target_port)


def start_on_echo(chain, echo_port):
    """Start the chain aimed at an echo target and probe it; returns its listen port."""
    chain.start(echo_port)
    try:
        _probe_running(chain)
    except RuntimeError:
        chain.stop()
        raise
    return chain.port


def direct(ctx, seconds):
    """iperf3 with no proxy at all: the ceiling of this machine's loopback."""
    out = {}
    for name, rev in (("up", False), ("down", True)):
        res = peers.iperf3(ctx.iperf_port, ctx.iperf_port, seconds, rev, ctx.workdir)
        out[name] = {"bps": res["end"]["sum_received"]["bits_per_second"]}
    return out


def timed(chain, reverse):
    """One iperf3 run through a started chain, with the CPU its processes spent meanwhile."""
    ctx = chain.ctx
    cpu0 = chain.cpu()
    res = peers.iperf3(ctx.iperf_port, chain.port, ctx.seconds, reverse, ctx.workdir,
                       chain.setup.streams)
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
        # Cores kept busy: well under 1 per process means it waits, not computes.
        "cpu_cores": [c / got["seconds"] for c in cpu] if got["seconds"] else None,
    }


def echo_round(chain, conns, concurrency):
    """conns connect + 1-byte echo exchanges through a chain started on an echo target."""
    out = latency.connect_echo(chain.port, conns, concurrency)
    chain.check_alive()
    return out


# Untimed requests before each timed run, one at a time: the mux connection exists before
# the first timed request. More than one because evproxy keeps its mux connections per worker
# (each worker is handed connections by the kernel's SO_REUSEPORT hash): 8 reach both of
# 2 workers with odds 127/128. Both shapes and both implementations get the same warm-up.
WARMUP_REQUESTS = 8
REQUEST_LIMIT_S = 120  # per timed run: no request is started after this


def request_round(chain, conns, concurrency):
    """conns requests, each on a new SOCKS connection (connect, CONNECT, 1 byte, its echo,
    close), concurrency at a time, after the warm-up; a chain started on an echo target.
    carriers: connections from the client proxy to the server after the warm-up."""
    warm = latency.connect_echo(chain.port, WARMUP_REQUESTS, 1, chain.socks_target)
    # V2Ray's AuthID filter refuses a fresh connection now and then: a loss, noted, not a stop.
    if warm["errors"] == WARMUP_REQUESTS:
        chain.check_alive()
        raise RuntimeError(f"all {WARMUP_REQUESTS} warm-up requests failed")
    carriers = procstat.established_to(chain.server_port)
    if "mux" in (chain.setup.client_keys or {}) and carriers == 0:
        raise RuntimeError("no connection to the server is held after the warm-up: "
                           "the client does not keep a mux connection")
    out = latency.connect_echo(chain.port, conns, concurrency, chain.socks_target,
                               REQUEST_LIMIT_S)
    out["carriers"], out["warmup_errors"] = carriers, warm["errors"]
    chain.check_alive()
    return out


def _wait_arrivals(sink, size, n, stuck_s=3.0):
    """Until n connections delivered size bytes to sink, or none more came for stuck_s
    (a proxy that refused some), or the time bound."""
    deadline = time.monotonic() + 20 + n / 250
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        got = sink.count_with(size)
        if got >= n:
            return
        now = time.monotonic()
        if got != last:
            last, last_change = got, now
        elif now - last_change > stuck_s:
            return
        time.sleep(0.2)


def memory(ctx, impl, label):
    """RSS idle after start, then per idle session (ctx.sessions held open through the chain).

    Fresh processes each time, so that RSS idle is a first start's."""
    n = ctx.sessions
    # evproxy's default maxSessions (1024) would hold the rest in the backlog; V2Ray has none.
    chain = Chain(ctx, impl, impl, Setup("memory", max_sessions=n + 64), label)
    sink = targets.TargetProcess("sink", ctx.workdir)
    socks = []
    payload = b"bench-hello-1234" * 2
    try:
        chain.start(sink.port)
        time.sleep(ctx.settle)
        idle = chain.rss()
        try:
            socks = targets.open_idle(chain.port, n, payload)
        except OSError as e:
            time.sleep(0.3)
            chain.check_alive()
            raise RuntimeError(f"opening {n} connections: {e}")
        _wait_arrivals(sink, len(payload), n)
        chain.check_alive()
        time.sleep(ctx.settle)
        after = chain.rss()
        # Sessions still held after the settle (idle/handshake timeouts would show here).
        held = sink.count_with(len(payload))
        if held < n * (1 - MAX_LOST):
            raise RuntimeError(f"only {held} of {n} sessions reached the target and stayed")
    finally:
        for s in socks:
            s.close()
        chain.stop()
        sink.close()
    return {
        "sessions": n,
        "held": held,  # fewer when the proxy refused or closed some (its log says why)
        "roles": ["client", "server"],
        "idle_kib": idle,
        "loaded_kib": after,
        "per_session_kib": [(a - i) / held for i, a in zip(idle, after)],
    }
