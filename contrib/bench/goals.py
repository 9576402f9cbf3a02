"""The issue's targets (issue 11, "Targets"), as checks on one row of the table.

A goal is a ratio bound (evproxy / v2ray) or, for stalls, an absolute bound on evproxy's
value. Rows without a goal in the issue (legacy header, p99, workers 1) have none here.
"""

GOALS = {
    # Throughput, single stream and 8 streams, every AEAD cipher: at least twice V2Ray's.
    "throughput": ("ratio_min", 2.0),
    # CPU seconds per GiB per process: at most half of V2Ray's.
    "cpu": ("ratio_max", 0.5),
    # Connect + echo median at most a quarter of V2Ray's, and no stall in 5,000 connections.
    "echo_median": ("ratio_max", 0.25),
    "stalls": ("evproxy_max", 0),
    # RSS per idle session at most a tenth of V2Ray's; idle RSS at most a fifth.
    "rss_session": ("ratio_max", 0.1),
    "rss_idle": ("ratio_max", 0.2),
}


def describe(goal):
    """The target as the table shows it, e.g. '>= 2x'; '' without a goal."""
    if goal is None:
        return ""
    kind, bound = GOALS[goal]
    if kind == "ratio_min":
        return f">= {bound:g}x"
    if kind == "ratio_max":
        return f"<= {bound:g}x"
    return f"evproxy <= {bound:g}"


def met(goal, row):
    """True/False when the row meets/misses its goal, None when there is none or no number."""
    if goal is None:
        return None
    kind, bound = GOALS[goal]
    if kind == "evproxy_max":
        return None if row["evproxy"] is None else row["evproxy"] <= bound
    if row["ratio"] is None:
        return None
    return row["ratio"] >= bound if kind == "ratio_min" else row["ratio"] <= bound
