#!/usr/bin/env python3
"""V2Ray StatsService helpers for e2e 69, through the real `v2ctl api`.

  v2_stats.py traffic SOCKS_PORT ECHO_PORT NBYTES     echo NBYTES through a SOCKS5 proxy
  v2_stats.py query API_PORT [--reset] [--pattern P]  QueryStats as JSON {name: value}
  v2_stats.py get API_PORT NAME [--reset]             GetStats: the value, or v2ctl's error
  v2_stats.py settle API_PORT NAME VALUE              polls QueryStats (at most 60 times, 0.25 s
                                                      apart) until NAME reaches VALUE; prints
                                                      the last snapshot as JSON either way
  v2_stats.py live API_PORT SOCKS_PORT ECHO_PORT NBYTES NAME
                                                      echoes NBYTES and keeps the session open
                                                      while polling (at most 60 times, 0.25 s
                                                      apart) until NAME grew by NBYTES; exit 1
                                                      if it did not while the session was open
"""
import json
import re
import subprocess
import sys
import time

from socks5_client import socks5_connect

STAT = re.compile(r'stat: <\s*name: "([^"]*)"(?:\s*value: (-?\d+))?\s*>')


def v2ctl(port, call, request):
    r = subprocess.run(["v2ctl", "api", "--server=127.0.0.1:%s" % port, call, request],
                       capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def query(port, reset=False, pattern=""):
    rc, out, err = v2ctl(port, "StatsService.QueryStats",
                         'pattern: "%s" reset: %s' % (pattern, "true" if reset else "false"))
    if rc != 0:
        raise SystemExit("QueryStats failed: %s %s" % (out, err))
    return {m.group(1): int(m.group(2) or 0) for m in STAT.finditer(out)}


def echo_open(socks_port, echo_port, n):
    """Echoes n bytes through the proxy; returns the socket, still open."""
    s = socks5_connect(("127.0.0.1", socks_port), "127.0.0.1", echo_port, 20)
    data = bytes(i * 7 % 251 for i in range(n))
    s.sendall(data)
    got = b""
    while len(got) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    if got != data:
        raise SystemExit("echo returned %d of %d bytes (or different bytes)" % (len(got), n))
    return s


def traffic(socks_port, echo_port, n):
    echo_open(socks_port, echo_port, n).close()
    print("echoed %d" % n)


def live(api, socks_port, echo_port, n, name):
    before = query(api).get(name, 0)
    s = echo_open(socks_port, echo_port, n)
    now = before
    for _ in range(60):
        now = query(api).get(name, 0)
        if now >= before + n:
            break
        time.sleep(0.25)
    s.close()
    print("%s: %d -> %d while the session was open" % (name, before, now))
    if now != before + n:
        raise SystemExit("%s grew %d -> %d, not by the %d bytes echoed, while the session "
                         "was open" % (name, before, now, n))


def main(argv):
    cmd = argv[1]
    if cmd == "traffic":
        traffic(int(argv[2]), int(argv[3]), int(argv[4]))
    elif cmd == "live":
        live(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
    elif cmd == "query":
        pattern = argv[argv.index("--pattern") + 1] if "--pattern" in argv else ""
        print(json.dumps(query(argv[2], "--reset" in argv, pattern), sort_keys=True))
    elif cmd == "get":
        rc, out, err = v2ctl(argv[2], "StatsService.GetStats", 'name: "%s" reset: %s' %
                             (argv[3], "true" if "--reset" in argv else "false"))
        m = STAT.search(out)
        print(int(m.group(2) or 0) if rc == 0 and m else "error: " + (err + out).strip())
    elif cmd == "settle":
        name, want = argv[3], int(argv[4])
        for _ in range(60):
            snap = query(argv[2])
            if snap.get(name) == want:
                break
            time.sleep(0.25)
        print(json.dumps(snap, sort_keys=True))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
