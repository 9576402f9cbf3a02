#!/usr/bin/env bash
# Runs every tests/e2e/[0-9]*.sh, each bounded by `timeout`, E2E_JOBS of them at once, and
# prints one PASS/FAIL line per script (with the reason) in name order, then exactly
# "N passed, M failed". Exit 1 if any failed. Also fails a script that leaves one of its
# processes running.
#
#   EVP_BUILD=build tests/run-e2e.sh          all scripts
#   tests/run-e2e.sh 20                       only scripts whose name starts with 20
#   E2E_JOBS=1                                one script at a time (default 2; the scripts
#                                             share nothing but the port reservation file)
#   E2E_SCRIPT_TIMEOUT=600                    per-script bound in seconds (default 420)
#   E2E_VERBOSE=1                             show each script's full output
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export EVP_BUILD=${EVP_BUILD:-build}
LIMIT=${E2E_SCRIPT_TIMEOUT:-420}
JOBS=${E2E_JOBS:-2}
case $JOBS in '' | *[!0-9]* | 0) echo "E2E_JOBS must be a positive number" >&2; exit 2 ;; esac
LOGDIR=$(mktemp -d /tmp/evp-run-e2e.XXXXXX)
VERBOSE=${E2E_VERBOSE:-0}
passed=0
failed=0

names=()
for script in "$ROOT"/tests/e2e/[0-9]*.sh; do
    name=$(basename "$script" .sh)
    if [ $# -gt 0 ]; then
        match=0
        for want in "$@"; do
            case $name in "$want"*) match=1 ;; esac
        done
        [ "$match" = 1 ] || continue
    fi
    names+=("$name")
done

# run_one NAME: runs the script and writes "RC SECONDS LEAKED" to $LOGDIR/NAME.result.
run_one() {
    local name=$1 log=$LOGDIR/$1.log pidfile=$LOGDIR/$1.pids start=$SECONDS rc leaked=0
    : >"$pidfile"
    E2E_PIDFILE=$pidfile timeout -k 15 "$LIMIT" bash "$ROOT/tests/e2e/$name.sh" >"$log" 2>&1 &
    echo $! >"$LOGDIR/$name.timeout-pid"
    wait $!
    rc=$?
    # Anything the script started and left behind is a failure of the script; end it here.
    # Lines are "PID STARTTIME": a PID now running with another start time is not ours.
    local pid st stat f
    while read -r pid st; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        read -r -a f <<<"$stat"
        [ "${f[0]}" != Z ] || continue
        [ "$st" = - ] || [ "${f[19]}" = "$st" ] || continue
        leaked=$((leaked + 1))
        kill -KILL "$pid" 2>/dev/null
    done <"$pidfile"
    echo "$rc $((SECONDS - start)) $leaked" >"$LOGDIR/$name.result.tmp"
    mv "$LOGDIR/$name.result.tmp" "$LOGDIR/$name.result"
}

# report NAME: the PASS/FAIL line (and on failure the reasons) of a finished script.
report() {
    local name=$1 log=$LOGDIR/$1.log rc took leaked reason more
    read -r rc took leaked <"$LOGDIR/$name.result"
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
        if [ "$VERBOSE" != 1 ]; then
            grep '^FAIL: ' "$log" | tail -n +2 | head -8 | sed 's/^/    /'
            more=$(($(grep -c '^FAIL: ' "$log") - 9))
            [ "$more" -le 0 ] || echo "    ... and $more more FAIL lines"
        fi
    fi
    # Tables and such: a script's lines starting with "| " are always shown.
    [ "$VERBOSE" = 1 ] || grep '^| ' "$log" | sed 's/^/    /'
    if [ "$VERBOSE" = 1 ] || [ "$rc" != 0 ]; then
        [ "$VERBOSE" = 1 ] && sed 's/^/    /' "$log"
        echo "    full log: $log"
    fi
}

# Interrupted: end the scripts still running (timeout passes the signal on, and each
# script's EXIT trap stops what it started).
stop_running() {
    local f
    for f in "$LOGDIR"/*.timeout-pid; do
        [ -f "$f" ] && [ ! -f "${f%.timeout-pid}.result" ] && kill -TERM "$(cat "$f")" 2>/dev/null
    done
    wait
    exit 130
}
trap stop_running INT TERM

# Starts up to JOBS scripts at a time; reports each one, in name order, as soon as it and
# all the ones before it are done. A script is done when its .result file exists.
next=0
shown=0
while [ "$shown" -lt "${#names[@]}" ]; do
    done_n=0
    for ((i = 0; i < next; i++)); do
        [ -f "$LOGDIR/${names[$i]}.result" ] && done_n=$((done_n + 1))
    done
    while [ "$next" -lt "${#names[@]}" ] && [ $((next - done_n)) -lt "$JOBS" ]; do
        run_one "${names[$next]}" &
        next=$((next + 1))
    done
    while [ "$shown" -lt "$next" ] && [ -f "$LOGDIR/${names[$shown]}.result" ]; do
        report "${names[$shown]}"
        shown=$((shown + 1))
    done
    [ "$shown" -lt "${#names[@]}" ] && sleep 0.5
done
wait

if [ "$failed" = 0 ]; then rm -rf "$LOGDIR"; fi
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
