#!/usr/bin/env python3
"""Reads a PNG (8-bit RGB or RGBA, not interlaced: what a browser's screenshot is) with zlib
alone and prints one JSON line: width, height, the number of distinct colours and the share
of dark pixels (text). Exit 0 when it decodes and shows more than --min-colours colours and
some dark pixels (a page with text, not a blank or error screen)."""
import argparse
import json
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG (depth %d, colour type %d)" % (depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 0xFF
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("png")
    ap.add_argument("--min-colours", type=int, default=2)
    args = ap.parse_args()
    res = {"ok": False}
    try:
        w, h, bpp, rows = decode(open(args.png, "rb").read())
    except (OSError, ValueError, zlib.error, TypeError, struct.error) as e:
        res["why"] = str(e)
        print(json.dumps(res))
        return 1
    colours, dark = set(), 0
    for line in rows:
        for i in range(0, len(line), bpp):
            px = bytes(line[i:i + 3])
            colours.add(px)
            dark += sum(px) < 200
    res.update(width=w, height=h, colours=len(colours), dark_share=round(dark / (w * h), 4))
    res["ok"] = len(colours) > args.min_colours and dark > 0
    if not res["ok"]:
        res["why"] = "a blank picture: %d colours, %d dark pixels" % (len(colours), dark)
    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
