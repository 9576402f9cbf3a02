"""Draws the table as a bar chart with gnuplot: build/bench.png next to build/bench.md.

Rows have different units, so each is drawn as its value over V2Ray's (V2Ray = 1) on a log
scale: evproxy's bar above 1 is more than V2Ray, below 1 less, and the row's (+)/(-) says which
is better. The issue's target is a mark on the same scale. Rows without a ratio (V2Ray 0 or a
side not measured) are left out of the chart; the table has them.
"""

import os
import shutil
import subprocess

import goals
import report

EV_COLOUR, V2_COLOUR = "#1f77b4", "#ff7f0e"


def _target_ratio(row):
    if row["goal"] is None:
        return None
    kind, bound = goals.GOALS[row["goal"]]
    return bound if kind.startswith("ratio") else None


def _clean(text):
    return text.replace("\t", " ").replace('"', "'")


def _data(rws):
    lines = []
    for r in (r for r in rws if r["ratio"]):
        sign = "+" if r["better"] == "higher" else "-"
        target = _target_ratio(r)
        label = f"{r['metric']} ({sign})"
        lines.append("\t".join([str(len(lines)), f'"{_clean(label)}"', f"{r['ratio']:.6g}", "1",
                                "?" if target is None else f"{target:g}",
                                f'"{report.fmt_ratio(r["ratio"])}"']))
    return lines


def left_margin(first_label):
    """Characters left of the plot: the first x label, rotated 50 degrees in a smaller font,
    reaches left of its bar by about half its length (a short run may start with a long one)."""
    return max(12, round(0.55 * len(first_label)))


def _script(dat, png, n, title):
    ratios, labels = [], []
    with open(dat) as f:
        for line in f:
            ratios.append(float(line.split("\t")[2]))
            labels.append(line.split("\t")[1])
    lo = min([0.05] + [r / 2 for r in ratios])
    hi = max([5.0] + [r * 2 for r in ratios])
    ticks = ", ".join(f'"{t:g}" {t:g}' for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4,
                                                  10, 20) if lo <= t <= hi)
    return f"""set terminal pngcairo size {max(1000, 60 * n + 300)},1000 font "sans,10"
set output "{png}"
set datafile separator "\\t"
set datafile missing "?"
set title "{_clean(title)}\\nbars: each row's value / V2Ray's (V2Ray = 1), log scale;\
 (+) higher is better, (-) lower is better; diamond: the issue's target"
set logscale y
set yrange [{lo:g}:{hi:g}]
set ytics ({ticks})
set grid ytics
set xrange [-0.7:{n - 0.3}]
set xtics rotate by 50 right nomirror font ",9"
set style fill solid 0.85 border -1
set boxwidth 0.38
set key top left
set bmargin 24
set lmargin {left_margin(labels[0])}
set rmargin 4
plot "{dat}" using ($1-0.2):3:xtic(2) with boxes lc rgb "{EV_COLOUR}" title "evproxy", \\
     "" using ($1+0.2):4 with boxes lc rgb "{V2_COLOUR}" title "V2Ray 4.34", \\
     "" using ($1-0.2):5 with points pt 13 ps 1.8 lc rgb "black" title "target", \\
     "" using ($1-0.2):3:6 with labels offset 0,0.8 font ",8" notitle
"""


def draw(rws, png, title):
    """Writes png (and its .dat and .gp beside it); returns None, or why no chart was drawn."""
    if shutil.which("gnuplot") is None:
        return "gnuplot is missing (contrib/install-deps.sh bench installs gnuplot-nox)"
    lines = _data(rws)
    if not lines:
        return "no row has a ratio"
    base = os.path.splitext(png)[0]
    dat, gp = base + "-chart.dat", base + "-chart.gp"
    with open(dat, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(gp, "w") as f:
        f.write(_script(dat, png, len(lines), title))
    try:
        out = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"gnuplot: {e}"
    if out.returncode != 0:
        return f"gnuplot: {out.stderr.strip().splitlines()[-1:]}"
    return None
