"""shadowsocks-libev (ss-tunnel -> ss-server) as a third side of the shadowsocks rows.

The chain has the same shape as evproxy's and V2Ray's shadowsocks one: ss-tunnel is the
client's dokodemo-door (a fixed target) with a shadowsocks outbound, ss-server the inbound
with freedom behind it. Both run with ss-libev's defaults, as the other two do.
"""

import os
import shutil

import measure
import peers

IMPL = "ss-libev"
LOOPBACK = "127.0.0.1"


def sides(setup, impls, cross=False):
    """(IMPL,) when ss-libev runs beside evproxy and V2Ray for this setup: a shadowsocks
    setup with both of them measured (not --only, not --mixed's cross pairs); else ()."""
    if setup.protocol != "shadowsocks" or cross or len(impls) < 2:
        return ()
    return (IMPL,)


class _Process(peers.Proxy):
    """One ss-libev process, started with its options on the command line (no config file)."""

    def __init__(self, role, argv, port, workdir, label):
        self.impl, self.role = IMPL, role
        self.log_path = os.path.join(workdir, f"{label}-{IMPL}-{role}.log")
        if shutil.which(argv[0]) is None:
            raise RuntimeError(f"{argv[0]} is missing (contrib/install-deps.sh bench)")
        self._launch(argv, port)


class Chain(measure.Chain):
    """ss-tunnel (client) -> ss-server (server) with the setup's method; cpu() and rss()
    report [client, server] as measure.Chain's do."""

    def __init__(self, ctx, setup, label):
        super().__init__(ctx, IMPL, IMPL, setup, label)

    def start(self, target_port):
        ctx, method = self.ctx, self.setup.cipher
        listen, sport = peers.free_port(), peers.free_port()
        key = ["-k", ctx.uuid, "-m", method]
        self.procs = []
        try:
            self.procs.append(_Process("server", ["ss-server", "-s", LOOPBACK, "-p", str(sport)]
                                       + key, sport, ctx.workdir, self.label))
            client = ["ss-tunnel", "-s", LOOPBACK, "-p", str(sport), "-b", LOOPBACK, "-l",
                      str(listen), "-L", f"{LOOPBACK}:{target_port}"] + key
            self.procs.insert(0, _Process("client", client, listen, ctx.workdir, self.label))
        except RuntimeError:
            self.stop()
            raise
        self.port = listen
        return listen
