"""Turns the rounds of raw measurements into rows (medians, ratio, target) and into tables.

Every row: metric, unit, better ("higher"/"lower"), the median of each side's rounds, the
ratio evproxy / v2ray of those medians, the issue's target and whether it is met. Each row
also keeps every round's value, so the JSON shows the spread behind a median.
"""

import statistics

import goals

GIB = 1 << 30
IMPLS = ("evproxy", "v2ray")
DIR_NAMES = {"up": "up", "down": "down (-R)"}
ROLES = ("client", "server")

# One line per throughput setup (bench.py's setups(), same names): the label, the throughput
# goal, and which CPU rows to show ("each": client, server and sum; "sum"; "one": a
# one-process relay; None). A mux setup gets a line here once it exists.
THROUGHPUT_ROWS = [
    ("aes-128-gcm", "1 stream aes-128-gcm", "throughput", "each"),
    ("chacha20-poly1305", "1 stream chacha20-poly1305", "throughput", "sum"),
    ("none", "1 stream none", "throughput", "sum"),
    ("legacy", "1 stream aes-128-gcm, legacy header", None, "sum"),
    ("8x", "8 streams aes-128-gcm, workers {n}", "throughput", "each"),
    ("8x-w1", "8 streams aes-128-gcm, workers 1", None, None),
    ("ws+tls", "1 stream aes-128-gcm over ws+tls", "throughput", "each"),
    ("shadowsocks", "1 stream shadowsocks aes-256-gcm", None, "sum"),
    ("shadowsocks-chacha20", "1 stream shadowsocks chacha20-ietf-poly1305", None, "sum"),
    ("relay", "relay only, no VMess", None, "one"),
]


def _median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def _row(metric, unit, better, rounds, goal=None):
    """rounds: {impl: [value per round]}; the row's numbers are their medians."""
    ev, v2 = (_median(rounds.get(i, [])) for i in IMPLS)
    return _finish({"metric": metric, "unit": unit, "better": better, "evproxy": ev,
                    "v2ray": v2, "rounds": rounds}, goal)


def _finish(row, goal):
    ev, v2 = row["evproxy"], row["v2ray"]
    row["ratio"] = ev / v2 if ev is not None and v2 not in (None, 0) else None
    row["goal"], row["target"] = goal, goals.describe(goal)
    row["met"] = goals.met(goal, row)
    return row


def _runs(res, setup, impl, d):
    got = res["throughput"].get(setup, {}).get(impl, {})
    return [r for r in got.get(d, []) if isinstance(r, dict) and "bps" in r]


def _cpu_per_gib(res, setup, impl, dirs, role):
    """Per round: CPU seconds (role index, or None for the sum) over GiB, both directions."""
    per_dir = [_runs(res, setup, impl, d) for d in dirs]
    out = []
    for runs in zip(*per_dir):  # round i of every direction
        gib = sum(r["bytes"] for r in runs) / GIB
        cpu = sum(sum(r["cpu_s"]) if role is None else r["cpu_s"][role] for r in runs)
        out.append(cpu / gib if gib else None)
    return out


def _throughput_rows(res, dirs_of, n):
    tput, cpu = [], []
    for setup, label, goal, cpu_rows in THROUGHPUT_ROWS:
        if setup not in res["throughput"]:
            continue
        label = label.format(n=n)
        dirs = dirs_of[setup]
        for d in dirs:
            rounds = {i: [r["bps"] * 1e-9 for r in _runs(res, setup, i, d)] for i in IMPLS}
            row = _row(f"{label} {DIR_NAMES[d]}", "Gbit/s", "higher", rounds, goal)
            tput.append(dict(row, key=f"{setup}/{d}"))
        cpu_goal = "cpu" if goal else None
        roles = {"each": (0, 1, None), "sum": (None,), "one": (None,)}.get(cpu_rows, ())
        for role in roles:
            who = ROLES[role] if role is not None else \
                "one process" if cpu_rows == "one" else "client + server"
            rounds = {i: _cpu_per_gib(res, setup, i, dirs, role) for i in IMPLS}
            cpu.append(_row(f"CPU {label}, {who}", "s/GiB", "lower", rounds, cpu_goal))
    return tput, cpu


def _scaling_row(tput, n):
    """workers N over workers 1, 8 streams up, from the two rows' medians."""
    many = next((r for r in tput if r["key"] == "8x/up"), None)
    one = next((r for r in tput if r["key"] == "8x-w1/up"), None)
    if many is None or one is None:
        return []
    vals = {}
    for i in IMPLS:
        a, b = many[i], one[i]
        vals[i] = a / b if a is not None and b else None
    row = {"metric": f"8 streams up: workers {n} / workers 1", "unit": "x", "better": "higher",
           "evproxy": vals["evproxy"], "v2ray": vals["v2ray"], "rounds": {}}
    return [_finish(row, None)]


# Connect + echo chains: the result key, the conns key in meta, the metric, what a connection
# is called in the stalls row, and whether issue 11's targets apply (the request rows, issue
# 13's warm mux vs fresh VMess connection, have none).
ECHO_ROWS = [
    ("echo", "echo_conns", "connect + 1-byte echo", "connections", True),
    ("echo_ws_tls", "echo_ws_tls_conns", "connect + 1-byte echo over ws+tls",
     "connections over ws+tls", True),
    ("request_fresh", "request_conns", "request via SOCKS, fresh (no mux)",
     "requests via SOCKS, fresh", False),
    ("request_mux", "request_conns", "request via SOCKS, warm mux {mux}",
     "requests via SOCKS, warm mux", False),
]


def _echo_rows(res, key, conns_key, metric, what, targets):
    ech = {i: [r for r in res[key].get(i, []) if isinstance(r, dict)] for i in IMPLS}
    n = res["meta"][conns_key]
    metric = metric.format(mux=res["meta"].get("mux_concurrency"))
    out = [
        _row(f"{metric}, median", "ms", "lower",
             {i: [r["median_ms"] for r in ech[i]] for i in IMPLS},
             "echo_median" if targets else None),
        _row(f"{metric}, p99", "ms", "lower",
             {i: [r["p99_ms"] for r in ech[i]] for i in IMPLS}),
    ]
    # Stalls: the worst round, not the median, so one bad round is not hidden.
    rounds = {i: [r["stalls"] for r in ech[i]] for i in IMPLS}
    row = {"metric": f"stalls > 1 s (or failed) in {n} {what}, worst round",
           "unit": "count", "better": "lower", "rounds": rounds,
           **{i: (max(rounds[i]) if rounds[i] else None) for i in IMPLS}}
    row = _finish(row, "stalls" if targets else None)
    row["ratio"] = None  # a count against a count of 0 or 2 says nothing as a ratio
    return out + [row]


def _memory_rows(res):
    mem = {i: [r for r in res["memory"].get(i, []) if isinstance(r, dict)] for i in IMPLS}
    n = res["meta"]["idle_sessions"]
    out = [_row("RSS idle, client + server", "MiB", "lower",
                {i: [sum(r["idle_kib"]) / 1024 for r in mem[i]] for i in IMPLS}, "rss_idle")]
    for role in (0, 1, None):
        who = "client + server" if role is None else ROLES[role]
        rounds = {i: [sum(r["per_session_kib"]) if role is None else r["per_session_kib"][role]
                      for r in mem[i]] for i in IMPLS}
        out.append(_row(f"RSS per idle session at {n}, {who}", "KiB", "lower", rounds,
                        "rss_session" if role is None else None))
    return out


def rows(res, dirs_of):
    """Every row of the table, in the issue's order; a side that failed has None."""
    n = res["meta"]["workers_n"]
    tput, cpu = _throughput_rows(res, dirs_of, n)
    out = tput + _scaling_row(tput, n) + cpu
    for key, *how in ECHO_ROWS:
        if res.get(key):
            out += _echo_rows(res, key, *how)
    if res.get("memory"):
        out += _memory_rows(res)
    return out


def _fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit == "count":
        return str(int(v))
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def fmt_ratio(v):
    """Three significant digits below 1 too, so 0.252x does not read as a met 0.25x."""
    return f"{v:.2f}x" if v >= 1 else f"{v:.3f}x"


def _cells(r):
    sign = "+" if r["better"] == "higher" else "-"
    ratio = "n/a" if r["ratio"] is None else fmt_ratio(r["ratio"])
    met = {True: "yes", False: "NO", None: ""}[r["met"]]
    return [f"{r['metric']} [{r['unit']}] ({sign})", _fmt(r["evproxy"], r["unit"]),
            _fmt(r["v2ray"], r["unit"]),
            ratio, r["target"], met]


HEAD = ["metric [unit] (+ higher / - lower is better)", "evproxy", "v2ray", "ratio", "target",
        "met"]


def table(rws):
    """The terminal table; ratio = evproxy / v2ray."""
    cells = [HEAD] + [_cells(r) for r in rws]
    w = [max(len(c[k]) for c in cells) for k in range(len(HEAD))]
    lines = []
    for k, c in enumerate(cells):
        lines.append(" | ".join([c[0].ljust(w[0])] + [c[j].rjust(w[j]) for j in range(1, 4)]
                                + [c[4].ljust(w[4]), c[5]]))
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(rws):
    lines = ["| " + " | ".join(HEAD) + " |", "|---|--:|--:|--:|---|---|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rws]
    return "\n".join(lines)


def mixed_rows(res):
    """Every cross pair that ran (--mixed), Gbit/s medians, for the interop table."""
    out = []
    for pair, r in res.get("pairs", {}).items():
        med = {d: _median([x["bps"] * 1e-9 for x in r.get(d, []) if "bps" in x])
               for d in ("up", "down")}
        out.append({"pair": pair, "up": med["up"], "down": med["down"], "error": r.get("error")})
    return out


def pairs_table(mrows):
    """The interop table: every client>server pair (aes-128-gcm), Gbit/s each way."""
    lines = [f"{'client>server':<18} | {'up':>7} | {'down':>7}", "-" * 38]
    for r in mrows:
        lines.append(f"{r['pair']:<18} | {_fmt(r['up']):>7} | {_fmt(r['down']):>7}"
                     + (f"  ({r['error']})" if r["error"] else ""))
    return "\n".join(lines)


# The shadowsocks rows measured with a third side, ss-libev (sslibev.py), in the same rounds.
SS_IMPLS = ("evproxy", "ss-libev", "v2ray")
SS_HEAD = ["metric [unit] (+ higher / - lower is better)", "evproxy", "ss-libev", "v2ray",
           "evproxy / ss-libev", "evproxy / v2ray"]


def _ss_row(metric, unit, better, rounds):
    row = {"metric": metric, "unit": unit, "better": better, "rounds": rounds}
    row.update({i: _median(rounds[i]) for i in SS_IMPLS})
    for other in ("ss-libev", "v2ray"):
        ev, them = row["evproxy"], row[other]
        row[f"ratio_{other}"] = ev / them if ev is not None and them not in (None, 0) else None
    return row


def ss_libev_rows(res, dirs_of):
    """Throughput per direction and CPU s/GiB of client + server, for each setup that ran
    with ss-libev beside evproxy and V2Ray; ratios are evproxy over each of the other two."""
    out = []
    for setup, label, _, _ in THROUGHPUT_ROWS:
        if "ss-libev" not in res["throughput"].get(setup, {}):
            continue
        dirs = dirs_of[setup]
        for d in dirs:
            rounds = {i: [r["bps"] * 1e-9 for r in _runs(res, setup, i, d)] for i in SS_IMPLS}
            out.append(_ss_row(f"{label} {DIR_NAMES[d]}", "Gbit/s", "higher", rounds))
        rounds = {i: _cpu_per_gib(res, setup, i, dirs, None) for i in SS_IMPLS}
        out.append(_ss_row(f"CPU {label}, client + server", "s/GiB", "lower", rounds))
    return out


def _ss_cells(r):
    sign = "+" if r["better"] == "higher" else "-"
    ratios = ["n/a" if r[k] is None else fmt_ratio(r[k]) for k in ("ratio_ss-libev",
                                                                   "ratio_v2ray")]
    return [f"{r['metric']} [{r['unit']}] ({sign})"] + \
        [_fmt(r[i], r["unit"]) for i in SS_IMPLS] + ratios


def ss_libev_table(ss_rows, markdown=False):
    """The shadowsocks table: evproxy, ss-libev and V2Ray side by side, two ratios."""
    cells = [SS_HEAD] + [_ss_cells(r) for r in ss_rows]
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines[:1] + ["|---|--:|--:|--:|--:|--:|"] + lines[1:])
    w = [max(len(c[k]) for c in cells) for k in range(len(SS_HEAD))]
    lines = [" | ".join([c[0].ljust(w[0])] + [c[j].rjust(w[j]) for j in range(1, len(c))])
             for c in cells]
    return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:])
