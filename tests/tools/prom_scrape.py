#!/usr/bin/env python3
"""Scrapes a Prometheus text endpoint (format 0.0.4) and prints one sample per line as
  NAME{k="v",...} VALUE
with the labels unescaped and sorted by key, so a shell test can grep it. Checks the format on
the way: the Content-Type, a HELP and TYPE line before each family's samples, label syntax
and escapes, integer values. Exit 1 (with the reason on stderr) on any violation or error.

  prom_scrape.py http://127.0.0.1:9100/metrics
"""
import re
import sys
import urllib.request

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_labels(text, lineno):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError("line %d: bad label at %r" % (lineno, text[pos:pos + 30]))
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError("line %d: expected ',' in labels" % lineno)
            pos += 1
    return labels


def parse(body):
    typed, samples = set(), []
    for n, line in enumerate(body.split("\n"), 1):
        if not line:
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) != 4 or parts[3] not in ("counter", "gauge"):
                raise ValueError("line %d: bad TYPE line" % n)
            typed.add(parts[2])
            continue
        if line.startswith("#"):
            continue
        m = NAME.match(line)
        if not m:
            raise ValueError("line %d: no metric name" % n)
        name, rest = m.group(0), line[m.end():]
        labels = {}
        if rest.startswith("{"):
            end = rest.rfind("}")
            labels = parse_labels(rest[1:end], n)
            rest = rest[end + 1:]
        if name not in typed:
            raise ValueError("line %d: %s has no TYPE line before it" % (n, name))
        value = rest.strip()
        if not rest.startswith(" ") or not value.isdigit():
            raise ValueError("line %d: bad value %r" % (n, value))
        samples.append((name, labels, int(value)))
    return samples


def main():
    url = sys.argv[1]
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            ctype = r.headers.get("Content-Type", "")
            body = r.read().decode("utf-8")
        if not ctype.startswith("text/plain") or "version=0.0.4" not in ctype:
            raise ValueError("Content-Type %r" % ctype)
        for name, labels, value in parse(body):
            inner = ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))
            print("%s{%s} %d" % (name, inner, value))
    except Exception as e:  # any failure is the test's to report
        print("prom_scrape: %s: %s" % (url, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
