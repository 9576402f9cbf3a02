"""The request client against a stand-in SOCKS5 proxy on loopback (no real proxy runs):
    python3 -B -m unittest discover -s contrib/bench
"""

import socket
import threading
import unittest

import latency
import measure
import peers
import socks5
import targets


class _FakeSocks:
    """SOCKS5 no-auth server that checks each CONNECT names want_port, then echoes."""

    def __init__(self, want_port, reply_atyp=1, drop_first=0):
        self.want_port, self.atyp = want_port, reply_atyp
        self.drop = drop_first  # connections closed at once, as a refused VMess one ends
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.drop > 0:
                self.drop -= 1
                c.close()
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            try:
                if c.recv(3) != socks5.GREETING:
                    return
                c.sendall(socks5.CHOSEN)
                req = c.recv(10)
                self.requests.append(req)
                ok = req == socks5.connect_request(self.want_port)
                bound = b"\x00" * 6 if self.atyp == 1 else b"\x00" * 18
                c.sendall(bytes([5, 0 if ok else 5, 0, self.atyp]) + bound)
                while ok:
                    data = c.recv(4096)
                    if not data:
                        return
                    c.sendall(data)
            except OSError:
                pass

    def close(self):
        self.lsock.close()


class _Chain:
    """What request_round reads of a measure.Chain, aimed at a stand-in SOCKS proxy."""

    def __init__(self, port, mux):
        self.port, self.socks_target = port, 4321
        self.server_port = peers.free_port()  # nothing connects to it
        self.setup = measure.Setup("t", socks=True, client_keys={"mux": {"enabled": True}}
                                   if mux else None)

    def check_alive(self):
        pass


class Requests(unittest.TestCase):
    def test_a_round_goes_on_after_a_lost_warm_up_request_not_after_all(self):
        srv = _FakeSocks(4321, drop_first=1)
        try:
            got = measure.request_round(_Chain(srv.port, mux=False), 10, 2)
            self.assertEqual((got["warmup_errors"], got["done"], got["errors"]), (1, 10, 0))
            srv.drop = measure.WARMUP_REQUESTS
            with self.assertRaisesRegex(RuntimeError, "all 8 warm-up requests failed"):
                measure.request_round(_Chain(srv.port, mux=False), 10, 2)
        finally:
            srv.close()

    def test_a_mux_client_that_holds_no_connection_is_not_measured(self):
        srv = _FakeSocks(4321)
        try:
            with self.assertRaisesRegex(RuntimeError, "does not keep a mux connection"):
                measure.request_round(_Chain(srv.port, mux=True), 10, 2)
        finally:
            srv.close()

    def test_each_request_is_a_socks_connect_then_the_echo(self):
        for atyp in (1, 4):
            srv = _FakeSocks(4321, atyp)
            try:
                got = latency.connect_echo(srv.port, 20, 4, socks_target=4321)
            finally:
                srv.close()
            self.assertEqual((got["done"], got["errors"], got["stalls"]), (20, 0, 0))
            self.assertEqual(len(srv.requests), 20)
            self.assertIsNotNone(got["median_ms"])

    def test_a_refused_connect_is_an_error(self):
        srv = _FakeSocks(4321)
        try:
            got = latency.connect_echo(srv.port, 5, 2, socks_target=1234)
            self.assertIn("refused", targets.probe(srv.port, socks_target=1234))
            self.assertIsNone(targets.probe(srv.port, socks_target=4321))
        finally:
            srv.close()
        self.assertEqual((got["errors"], got["stalls"], got["median_ms"]), (5, 5, None))

    def test_no_request_starts_after_the_time_bound(self):
        srv = _FakeSocks(4321)
        try:
            got = latency.connect_echo(srv.port, 50, 4, socks_target=4321, limit_s=0)
        finally:
            srv.close()
        self.assertEqual((got["conns"], got["done"]), (50, 0))

    def test_reply_lengths(self):
        self.assertEqual(socks5.reply_rest(b"\x05\x00\x00\x01\x7f"), 5)
        self.assertEqual(socks5.reply_rest(b"\x05\x00\x00\x03\x09"), 11)
        with self.assertRaises(OSError):
            socks5.reply_rest(b"\x04\x5a\x00\x00\x00")


if __name__ == "__main__":
    unittest.main()
