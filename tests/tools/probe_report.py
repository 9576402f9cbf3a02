"""Summaries and checks of probe.py runs.

A run is {"label", "deadline", "rows": [[class, length, reply_bytes, end, seconds], ...]}.
A probe closed "early" when the server ended it before half its handshake deadline (it
drained what it wanted and closed); otherwise it was "held" until that deadline.
"""
import statistics

# A VMess server (V2Ray 4.34, evproxy) reads D = 54 + base + r bytes of a failed handshake,
# counted from the first byte, then closes: base < 3266 is fixed per server, r < M <= 64
# per connection. So one server's thresholds lie within 63 bytes of each other, and a
# probe longer than MAX_DRAIN closes early whatever its class.
DRAIN_JITTER = 63
MAX_DRAIN = 54 + 3265 + 63


def is_control(cls):
    return cls.startswith("control")


def early(row, deadline):
    return row[3] != "open" and row[4] < deadline / 2


def classes(run):
    """The run's probe classes in the order they were built."""
    return run.get("classes") or list(dict.fromkeys(r[0] for r in run["rows"]))


def times(rows):
    t = sorted(r[4] for r in rows)
    return "%.2f/%.2f/%.2f s" % (t[0], statistics.median(t), t[-1]) if t else "-"


def summary(rows, deadline):
    """One cell: reply bytes, how the connections ended, and for the probes closed early and
    those held: how many, their lengths, close times (min/median/max)."""
    ends = {}
    for r in rows:
        ends[r[3]] = ends.get(r[3], 0) + 1
    cell = "reply %d B; %s" % (sum(r[2] for r in rows),
                               " ".join("%s %d" % (k.upper(), v) for k, v in sorted(ends.items())))
    closed = [r for r in rows if r[3] in ("fin", "rst")]
    e = [r for r in closed if early(r, deadline)]
    h = [r for r in closed if not early(r, deadline)]
    if e:
        cell += "; early %d, >= %d B, %s" % (len(e), min(r[1] for r in e), times(e))
    if h:
        cell += "; held %d, <= %d B, %s" % (len(h), max(r[1] for r in h), times(h))
    return cell


def thresholds(rows, deadline):
    """(shortest probe closed early, longest probe held) over the failing probes."""
    e = [r[1] for r in rows if not is_control(r[0]) and early(r, deadline)]
    h = [r[1] for r in rows if not is_control(r[0]) and not early(r, deadline)]
    return (min(e) if e else None), (max(h) if h else None)


def table(runs):
    """'| ' lines: probe class -> each run's behaviour."""
    out = ["| probe class | probes | bytes sent | " +
           " | ".join("%s (deadline %g s)" % (r["label"], r["deadline"]) for r in runs) + " |",
           "| --- | --- | --- |" + " --- |" * len(runs)]
    for cls in classes(runs[0]):
        lens = [r[1] for r in runs[0]["rows"] if r[0] == cls]
        cells = [summary([r for r in run["rows"] if r[0] == cls], run["deadline"]) for run in runs]
        span = "%d" % lens[0] if min(lens) == max(lens) else "%d-%d" % (min(lens), max(lens))
        out.append("| %s | %d | %s | %s |" % (cls, len(lens), span, " | ".join(cells)))
    cells = []
    for run in runs:
        e, h = thresholds(run["rows"], run["deadline"])
        cells.append("early from %s B; held up to %s B" % (e if e else "none", h if h else "none"))
    out.append("| (all failing probes) | | | %s |" % " | ".join(cells))
    return out


def check(run):
    """The problems that make this server's probe classes tell apart; [] when none."""
    problems = []
    deadline = run["deadline"]
    for cls in classes(run):
        rows = [r for r in run["rows"] if r[0] == cls]
        if is_control(cls):
            mute = [r for r in rows if r[2] == 0]
            if mute:
                problems.append("%s: %d of %d got no answer (crafted handshake wrong?)"
                                % (cls, len(mute), len(rows)))
            continue
        answered = [r for r in rows if r[2] > 0]
        if answered:
            problems.append("%s: %d probe(s) got reply bytes, e.g. %d B at length %d"
                            % (cls, len(answered), answered[0][2], answered[0][1]))
        other = [r for r in rows if r[3] != "fin"]
        if other:
            kinds = sorted(set(r[3] for r in other))
            problems.append("%s: %d probe(s) did not end with FIN (%s), e.g. length %d after %.2f s"
                            % (cls, len(other), ", ".join(kinds), other[0][1], other[0][4]))
        held = [r for r in rows if r[1] > MAX_DRAIN and not early(r, deadline)]
        if held:
            problems.append("%s: %d probe(s) longer than any drain (%d B) held until %.2f s "
                            "instead of closing once read" % (cls, len(held), held[0][1], held[0][4]))
    e, h = thresholds(run["rows"], deadline)
    if e is not None and h is not None and h - e > DRAIN_JITTER:
        problems.append("no single drain threshold explains the closes: a %d-byte probe closed "
                        "early but a %d-byte one was held (%s)" % (e, h, who(run, e, h)))
    return problems


def who(run, e, h):
    d = run["deadline"]
    ce = sorted(set(r[0] for r in run["rows"] if r[1] == e and early(r, d) and not is_control(r[0])))
    ch = sorted(set(r[0] for r in run["rows"] if r[1] == h and not early(r, d)
                    and not is_control(r[0])))
    return "early: %s; held: %s" % (", ".join(ce), ", ".join(ch))
