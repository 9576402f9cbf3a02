#!/usr/bin/env bash
# Runs every tests/e2e/[0-9]*.sh in order, each bounded by `timeout`, and prints one
# PASS/FAIL line per script (with the reason), then exactly "N passed, M failed".
# Exit 1 if any failed. Also fails a script that leaves one of its processes running.
#
#   EVP_BUILD=build tests/run-e2e.sh          all scripts
#   tests/run-e2e.sh 20                       only scripts whose name starts with 20
#   E2E_SCRIPT_TIMEOUT=600                    per-script bound in seconds (default 420)
#   E2E_VERBOSE=1                             show each script's full output
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export EVP_BUILD=${EVP_BUILD:-build}
LIMIT=${E2E_SCRIPT_TIMEOUT:-420}
LOGDIR=$(mktemp -d /tmp/evp-run-e2e.XXXXXX)
passed=0
failed=0

for script in "$ROOT"/tests/e2e/[0-9]*.sh; do
    name=$(basename "$script" .sh)
    if [ $# -gt 0 ]; then
        match=0
        for want in "$@"; do
            case $name in "$want"*) match=1 ;; esac
        done
        [ "$match" = 1 ] || continue
    fi
    log=$LOGDIR/$name.log
    pidfile=$LOGDIR/$name.pids
    : >"$pidfile"
    start=$SECONDS
    E2E_PIDFILE=$pidfile timeout -k 15 "$LIMIT" bash "$script" >"$log" 2>&1
    rc=$?
    took=$((SECONDS - start))
    # Anything the script started and left behind is a failure of the script; end it here.
    leaked=0
    # Lines are "PID STARTTIME": a PID now running with another start time is not ours.
    while read -r pid st; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        read -r -a f <<<"$stat"
        [ "${f[0]}" != Z ] || continue
        [ "$st" = - ] || [ "${f[19]}" = "$st" ] || continue
        leaked=$((leaked + 1))
        kill -KILL "$pid" 2>/dev/null
    done <"$pidfile"
    if [ "$rc" = 0 ] && [ "$leaked" = 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %s (%ds)\n' "$name" "$took"
    else
        failed=$((failed + 1))
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            reason="timed out after ${LIMIT}s"
        elif [ "$rc" = 0 ]; then
            reason="left $leaked process(es) running"
        else
            reason=$(grep -m1 '^FAIL: ' "$log" | cut -c7-)
            [ -n "$reason" ] || reason="exit $rc: $(tail -n 1 "$log")"
        fi
        printf 'FAIL %s (%ds): %s\n' "$name" "$took" "$reason"
        if [ "${E2E_VERBOSE:-0}" != 1 ]; then
            grep '^FAIL: ' "$log" | tail -n +2 | head -8 | sed 's/^/    /'
            more=$(($(grep -c '^FAIL: ' "$log") - 9))
            [ "$more" -le 0 ] || echo "    ... and $more more FAIL lines"
        fi
    fi
    # Tables and such: a script's lines starting with "| " are always shown.
    [ "${E2E_VERBOSE:-0}" = 1 ] || grep '^| ' "$log" | sed 's/^/    /'
    if [ "${E2E_VERBOSE:-0}" = 1 ] || [ "$rc" != 0 ]; then
        [ "${E2E_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$log"
        echo "    full log: $log"
    fi
done

if [ "$failed" = 0 ]; then rm -rf "$LOGDIR"; fi
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
