"""Starting and stopping the processes under test: evproxy, v2ray, iperf3.

Every child is tracked and ended by its own PID on exit, and asks the kernel to SIGTERM it
should this script die first (PR_SET_PDEATHSIG), so nothing outlives the bench.
"""

import atexit
import ctypes
import json
import os
import signal
import socket
import subprocess
import time

import procstat

_PR_SET_PDEATHSIG = 1
_children = []


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port():
    """A TCP port on 127.0.0.1 that nothing was bound to a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv, log_path, env=None):
    """Start argv with stdout+stderr to log_path; the child is ended at exit."""
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
    log.close()
    _children.append(proc)
    return proc


def spawn_piped(argv, log_path):
    """Start argv with its stdin and stdout as text pipes to us (stderr to log_path)."""
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            text=True, bufsize=1, preexec_fn=_die_with_parent)
    log.close()
    _children.append(proc)
    return proc


def stop(proc, grace=3.0):
    """SIGTERM, then SIGKILL after grace seconds; reaps the child."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _children:
        _children.remove(proc)


def stop_all():
    """End every child still running (registered with atexit)."""
    for proc in list(_children):
        stop(proc, grace=1.0)


atexit.register(stop_all)


def wait_listening(proc, port, timeout=5.0):
    """Wait until port listens; False if proc exited or timeout passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if procstat.listening(port):
            return True
        time.sleep(0.05)
    return False


def log_tail(path, lines=3):
    """The last lines of a log file, for an error message."""
    try:
        with open(path, errors="replace") as f:
            return " | ".join(line.strip() for line in f.read().splitlines()[-lines:])
    except OSError:
        return ""


class Proxy:
    """One proxy process (evproxy or v2ray) running one config file."""

    def __init__(self, impl, role, config, workdir, build, label, gomaxprocs=None):
        self.impl, self.role = impl, role
        self.cfg_path = os.path.join(workdir, f"{label}-{impl}-{role}.json")
        self.log_path = os.path.join(workdir, f"{label}-{impl}-{role}.log")
        with open(self.cfg_path, "w") as f:
            json.dump(config, f, indent=2)
        port = config["inbounds"][0]["port"]
        env = None
        if impl == "evproxy":
            argv = [os.path.join(build, "evproxy"), "-c", self.cfg_path]
        else:
            argv = ["v2ray", "-config", self.cfg_path]
            if gomaxprocs is not None:  # V2Ray's counterpart of evproxy's "workers"
                env = dict(os.environ, GOMAXPROCS=str(gomaxprocs))
        self._launch(argv, port, env)

    def _launch(self, argv, port, env=None):
        """Start argv (self.impl / self.role, logging to self.log_path) until port listens."""
        try:
            self.proc = spawn(argv, self.log_path, env)
        except OSError as e:
            raise RuntimeError(f"{self.impl} {self.role} did not start: {e}")
        if not wait_listening(self.proc, port):
            err = f"{self.impl} {self.role} did not listen on {port}: {log_tail(self.log_path)}"
            stop(self.proc)
            raise RuntimeError(err)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        stop(self.proc)


def iperf3(server_port, connect_port, seconds, reverse, workdir, streams=1):
    """One iperf3 run (streams parallel TCP streams) through connect_port to a one-off server;
    returns iperf3's JSON."""
    log = os.path.join(workdir, "iperf3-server.log")
    srv = spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(server_port)], log)
    try:
        if not wait_listening(srv, server_port):
            raise RuntimeError(f"iperf3 server did not start: {log_tail(log)}")
        argv = ["iperf3", "-c", "127.0.0.1", "-p", str(connect_port), "-t", str(seconds),
                "-J", "--connect-timeout", "3000"]
        if reverse:
            argv.append("-R")
        if streams > 1:
            argv += ["-P", str(streams)]
        try:
            out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                 timeout=seconds + 15, preexec_fn=_die_with_parent)
        except subprocess.TimeoutExpired:
            raise RuntimeError("iperf3 client timed out")
        try:
            result = json.loads(out.stdout)
        except ValueError:
            raise RuntimeError(f"iperf3 client: {out.stderr.decode(errors='replace').strip()}")
        if "error" in result:
            raise RuntimeError(f"iperf3: {result['error']}")
        return result
    finally:
        stop(srv, grace=1.0)
