"""Loopback targets for the proxies: a silent sink that holds connections, and an echo.

Both run as threads of the bench process and stop with close().
"""

import selectors
import socket
import threading
import time


class _Server:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1024)
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


def probe(port, size=4096, timeout=5.0):
    """Send size bytes to port and expect the same bytes back: None on success, else why."""
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
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
