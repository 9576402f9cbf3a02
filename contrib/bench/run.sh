#!/usr/bin/env bash
# make bench: evproxy vs V2Ray on 127.0.0.1, as ratios: build/bench.{json,md,png}.
# Reports only; never fails on a number. Options and variables: see contrib/bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=contrib/bench

for tool in python3 iperf3 v2ray timeout; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench: $tool is missing (make deps installs it)" >&2
        exit 2
    fi
done

# The harness's own checks first (made-up rounds, a stand-in SOCKS proxy; 0.1 s): a broken
# harness stops here.
if ! out=$(PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s "$here" 2>&1); then
    echo "$out" >&2
    echo "bench: the harness's own checks failed (contrib/bench/test_*.py)" >&2
    exit 2
fi

# 10,000 idle sessions cost each proxy ~20,000 descriptors (both ends of each session).
# Raising the hard limit needs root (CAP_SYS_RESOURCE); otherwise the soft limit goes up to the
# hard one, and bench.py holds fewer sessions if that is still too low (and says so).
want=65536
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $want ]; then
    ulimit -Hn $want 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if ! command -v gnuplot >/dev/null; then
    echo "bench: gnuplot is missing, no chart (contrib/install-deps.sh bench installs it)" >&2
fi

# Bounded in time whatever happens; bench.py ends its own children on SIGTERM, and each
# child also gets SIGTERM from the kernel if bench.py dies (PR_SET_PDEATHSIG).
pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
PYTHONDONTWRITEBYTECODE=1 timeout -k 10 "${BENCH_TIMEOUT:-1500}" python3 "$here/bench.py" "$@" &
pid=$!
rc=0
wait "$pid" || rc=$?
pid=
exit "$rc"
