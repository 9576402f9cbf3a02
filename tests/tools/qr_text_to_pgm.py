#!/usr/bin/env python3
"""Turns `evproxy link --qr` output (UTF-8 half blocks, light modules drawn, two module rows a
line) into a PGM image a QR reader (zbarimg) decodes: lines without a block character (the
link itself) are skipped. Usage: qr_text_to_pgm.py < qr.txt > qr.pgm"""
import sys

# A character's (top, bottom) modules: True when light.
CELLS = {" ": (False, False), "\u2584": (False, True), "\u2580": (True, False),
         "\u2588": (True, True)}
SCALE = 6
QUIET = 4  # light modules added around, as a screen shows the code on its background


def main():
    lines = [l.rstrip("\n") for l in sys.stdin if any(c in l for c in "\u2580\u2584\u2588")]
    if not lines:
        print("qr_text_to_pgm: no QR code in the input", file=sys.stderr)
        return 2
    rows = []
    for line in lines:
        cells = [CELLS[c] for c in line]
        rows.append([c[0] for c in cells])
        rows.append([c[1] for c in cells])
    width = max(len(r) for r in rows) + 2 * QUIET
    light = [[True] * width for _ in range(QUIET)]
    for r in rows:
        light.append([True] * QUIET + r + [True] * (width - QUIET - len(r)))
    light += [[True] * width for _ in range(QUIET)]
    out = sys.stdout.buffer
    out.write(b"P5\n%d %d\n255\n" % (width * SCALE, len(light) * SCALE))
    for r in light:
        line = b"".join((b"\xff" if v else b"\x00") * SCALE for v in r)
        out.write(line * SCALE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
