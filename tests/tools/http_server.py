#!/usr/bin/env python3
"""Mini HTTP server (http.server) on loopback: GET of any path returns the --page file."""
import argparse
import http.server
import os
import socket
import threading

import tcpserver


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    tcpserver.add_args(ap)
    ap.add_argument("--page", required=True, help="file served as the body")
    args = ap.parse_args()
    with open(args.page, "rb") as f:
        body = f.read()
    stats = tcpserver.Stats(args.stats)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            stats.done(stats.next_id(), 0, len(body))

        def log_message(self, fmt, *a):
            pass

    host = (args.host or ["127.0.0.1"])[0]
    if host not in tcpserver.LOOPBACK:
        raise SystemExit("loopback only")

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    srv = Server((host, args.port), Handler)
    tcpserver.announce(args, srv.server_address[1])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    threading.Event().wait(args.lifetime + 1)
    os._exit(0)


if __name__ == "__main__":
    main()
