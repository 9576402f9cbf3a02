"""Memory and CPU of a running process (and its children) read from /proc."""

import os

_TICKS = os.sysconf("SC_CLK_TCK")


def _tree(pid):
    """pid and every descendant still alive (workers, chained helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def rss_kib(pid):
    """VmRSS in KiB summed over the process tree; None when the process is gone."""
    total, seen = 0, False
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        seen = True
                        break
        except OSError:
            pass
    return total if seen else None


def cpu_seconds(pid):
    """user+sys CPU seconds summed over the process tree (threads included)."""
    total = 0.0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the ")" that closes comm; utime and stime are fields 14 and 15.
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def listening(port):
    """True when some socket listens on TCP port (checked without connecting to it)."""
    want = f":{port:04X}"
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[1].endswith(want) and cols[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def established_to(port):
    """How many established TCP connections have 127.0.0.1:port (IPv4) as their far end."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        return sum(1 for line in f if line.split()[2] == want and line.split()[3] == "01")
