"""Loopback targets for the proxies: a silent sink that holds connections, and an echo.

Each runs as a thread of the bench process, or (TargetProcess) in a child process of its own,
so that 10,000 held connections or a busy echo cost the bench neither descriptors nor the GIL.
Run as a script (`targets.py sink|echo`) it is that child: it prints its port, answers
`count MIN` lines on stdin with "<connections that sent MIN bytes> <open connections>", and
exits when stdin closes.
"""

import os
import selectors
import socket
import subprocess
import sys
import threading
import time

import socks5


class _Server:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4096)  # 10,000 connections arrive back to back
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ)
        self.lock = threading.Lock()
        self.conns = {}  # socket -> bytes received
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            for key, _ in self.sel.select(0.1):
                if key.fileobj is self.lsock:
                    self._accept()
                else:
                    self._readable(key.fileobj)

    def _accept(self):
        try:
            c, _ = self.lsock.accept()
        except OSError:
            return
        c.setblocking(False)
        with self.lock:
            self.conns[c] = 0
        self.sel.register(c, selectors.EVENT_READ)

    def _readable(self, c):
        try:
            data = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(c)
            return
        with self.lock:
            self.conns[c] += len(data)
        self._got(c, data)

    def _got(self, c, data):
        pass

    def _drop(self, c):
        self.sel.unregister(c)
        with self.lock:
            self.conns.pop(c, None)
        c.close()

    def close(self):
        """Stop the thread and close every socket."""
        self.running = False
        self.thread.join(2)
        for c in list(self.conns):
            c.close()
        self.lsock.close()
        self.sel.close()


class SilentSink(_Server):
    """Accepts, reads and discards, never writes: idle connections at the far end."""

    def count_with(self, min_bytes):
        """How many open connections have delivered at least min_bytes."""
        with self.lock:
            return sum(1 for n in self.conns.values() if n >= min_bytes)


class Echo(_Server):
    """Writes back what it reads (loopback: small writes do not block)."""

    def _got(self, c, data):
        try:
            c.sendall(data)
        except OSError:
            self._drop(c)


def _recv_exactly(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise OSError(f"closed after {len(got)} of {n} bytes")
        got += chunk
    return got


def _socks_connect(s, target_port):
    s.sendall(socks5.GREETING)
    if _recv_exactly(s, 2) != socks5.CHOSEN:
        raise OSError("socks: no-auth method refused")
    s.sendall(socks5.connect_request(target_port))
    _recv_exactly(s, socks5.reply_rest(_recv_exactly(s, 5)))


def probe(port, size=4096, timeout=5.0, socks_target=None):
    """Send size bytes to port (through a SOCKS5 CONNECT to socks_target, if given) and expect
    the same bytes back: None on success, else why."""
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            if socks_target is not None:
                _socks_connect(s, socks_target)
            s.sendall(payload)
            got = b""
            deadline = time.monotonic() + timeout
            while len(got) < size and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
    except OSError as e:
        return f"probe: {e}"
    if got != payload:
        return f"probe: echoed {len(got)} of {size} bytes" + (" (differ)" if got else "")
    return None


def open_idle(port, n, payload, timeout=5.0):
    """Open n connections to port and send payload on each; returns the sockets (caller closes)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            socks.append(s)
            s.sendall(payload)
    except OSError:
        for s in socks:
            s.close()
        raise
    return socks


class TargetProcess:
    """A SilentSink or an Echo in a child process; close() ends it."""

    def __init__(self, kind, workdir):
        import peers  # only the parent needs it
        self._peers = peers
        argv = [sys.executable, "-B", os.path.abspath(__file__), kind]
        self.proc = peers.spawn_piped(argv, os.path.join(workdir, f"target-{kind}.log"))
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            peers.stop(self.proc)
            raise RuntimeError(f"{kind} target did not start")
        self.port = int(line)

    def count_with(self, min_bytes):
        """How many open connections have delivered at least min_bytes."""
        self.proc.stdin.write(f"count {min_bytes}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline().split()[0])

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass  # already gone or stuck: stop() below ends it
        self._peers.stop(self.proc)


def _child(kind):
    srv = SilentSink() if kind == "sink" else Echo()
    print(srv.port, flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["count"] and len(words) == 2:
            with srv.lock:
                opened = len(srv.conns)
            print(srv.count_with(int(words[1])) if kind == "sink" else 0, opened, flush=True)
    srv.close()


if __name__ == "__main__":
    if sys.argv[1:] not in (["sink"], ["echo"]):
        sys.exit("usage: targets.py sink|echo")
    _child(sys.argv[1])
