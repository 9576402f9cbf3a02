"""Turns raw measurements into rows (metric | evproxy | v2ray | ratio) for the table and JSON."""

DIRS = (("up", "up"), ("down", "down (-R)"))
SHORT = {"chacha20-poly1305": "chacha20"}
PAIR_SAME = {"evproxy": "evproxy>evproxy", "v2ray": "v2ray>v2ray"}


def _get(d, *keys):
    for k in keys:
        try:
            d = d[k]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def _scale(v, f):
    return None if v is None else v * f


def _row(metric, unit, better, ev, v2):
    ratio = ev / v2 if ev is not None and v2 not in (None, 0) else None
    winner = None
    if ratio is not None and ratio != 1:
        winner = "evproxy" if (ratio > 1) == (better == "higher") else "v2ray"
    return {"metric": metric, "unit": unit, "better": better, "evproxy": ev, "v2ray": v2,
            "ratio": ratio, "winner": winner}


def rows(res, ciphers):
    """The comparison rows; a value is None when that run failed (see res["errors"])."""
    out = []
    for cipher in ciphers:
        tp = res["throughput"].get(cipher, {})
        short = SHORT.get(cipher, cipher)
        for d, name in DIRS:
            out.append(_row(f"VMess {short} {name}", "Gbit/s", "higher",
                            *[_scale(_get(tp, PAIR_SAME[i], d, "bps"), 1e-9)
                              for i in ("evproxy", "v2ray")]))
        for d, name in DIRS:
            out.append(_row(f"VMess {short} {name} CPU, both", "s/GiB", "lower",
                            *[_get(tp, PAIR_SAME[i], d, "cpu_s_per_gib_total")
                              for i in ("evproxy", "v2ray")]))
    rel = res["relay"]
    for d, name in DIRS:
        out.append(_row(f"relay, no VMess, {name}", "Gbit/s", "higher",
                        *[_scale(_get(rel, i, d, "bps"), 1e-9) for i in ("evproxy", "v2ray")]))
    for d, name in DIRS:
        out.append(_row(f"relay, no VMess, {name} CPU", "s/GiB", "lower",
                        *[_get(rel, i, d, "cpu_s_per_gib_total") for i in ("evproxy", "v2ray")]))
    mem = res["memory"]
    for idx, role in enumerate(("client", "server")):
        out.append(_row(f"RSS idle, {role}", "MiB", "lower",
                        *[_scale(_get(mem, i, "idle_kib", idx), 1 / 1024)
                          for i in ("evproxy", "v2ray")]))
    for idx, role in enumerate(("client", "server")):
        vals = [(_get(mem, i, "per_conn_kib") or [None, None])[idx] for i in ("evproxy", "v2ray")]
        out.append(_row(f"RSS per idle conn, {role}", "KiB", "lower", *vals))
    return out


def mixed_rows(res, ciphers):
    """Every client>server pair that ran, in Gbit/s, for the interop table."""
    out = []
    for cipher in ciphers:
        for pair, r in res["throughput"].get(cipher, {}).items():
            out.append({"pair": pair, "cipher": cipher,
                        "up": _scale(_get(r, "up", "bps"), 1e-9),
                        "down": _scale(_get(r, "down", "bps"), 1e-9),
                        "error": r.get("error")})
    return out


def _fmt(v):
    if v is None:
        return "n/a"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def table(rws):
    """The human table: one line per metric, ratio = evproxy / v2ray, and who wins it."""
    w = max(len(r["metric"]) + len(r["unit"]) + 7 for r in rws)
    head = f"{'metric':<{w}} | {'evproxy':>9} | {'v2ray':>9} | {'ratio':>6} | better"
    lines = ["ratio = evproxy/v2ray. (+) higher is better: ratio > 1 favours evproxy;"
             " (-) lower is better: ratio < 1 favours evproxy.", head, "-" * (len(head) + 2)]
    for r in rws:
        sign = "+" if r["better"] == "higher" else "-"
        name = f"{r['metric']} [{r['unit']}] ({sign})"
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"{name:<{w}} | {_fmt(r['evproxy']):>9} | {_fmt(r['v2ray']):>9} | "
                     f"{ratio:>6} | {r['winner'] or '-'}")
    return "\n".join(lines)


def pairs_table(mrows):
    """The interop table: every client>server pair, Gbit/s each way."""
    lines = [f"{'client>server':<18} | {'cipher':<17} | {'up':>7} | {'down':>7}",
             "-" * 58]
    for r in mrows:
        lines.append(f"{r['pair']:<18} | {r['cipher']:<17} | {_fmt(r['up']):>7} | "
                     f"{_fmt(r['down']):>7}" + (f"  ({r['error']})" if r["error"] else ""))
    return "\n".join(lines)
