#!/usr/bin/env bash
# Dynamic port (inbound "allocate": {"strategy": "random"}) with a VMess detour to it,
# against the real V2Ray 4.34, both ways. Server layout, as the V2Ray docs of the seed's era
# write it: vmess inbound "vmess-in" on port A (user e@x) with "detour": {"to": "dyn"}, and
# "dyn", a vmess inbound with no clients over a range R of 6 ports, allocate random,
# concurrency 2, refresh 1 minute ("default": alterId 0). "dyn" routes to its own freedom
# outbound, so the access log tells its sessions from A's. Every session is an echo with
# sha256 match.
#   1: V2Ray client -> evproxy server. The server logs its picks ("dynamic ports now P Q")
#      and, at debug, the listener that accepted each connection: sessions arrive on A and
#      on picked ports only. Then a refresh: the new pick shares no port with the old, both
#      listen, sessions reach a newly picked port, and slow sessions started on the old
#      ports before the refresh finish intact.
#   2: evproxy client -> V2Ray server. The client logs each SwitchAccount it follows: the
#      first names a port V2Ray listens on in R, for 1 minute; later sessions go there. After
#      V2Ray's refresh the client is switched to a port outside V2Ray's first pick, and a
#      slow session on the first port finishes intact.
#   3: ports of the range another program holds are skipped with a warning, not fatal.
# The refresh is one minute at the least (V2Ray reads whole minutes): the rotation parts
# (~70 s each) run in the normal build only; under the sanitizers (the SANITIZE=1 pass of
# make check) only the parts before the refresh run, and the script says so
# (E2E_DYNPORT_REFRESH=1 runs them anyway, =0 skips them).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
NSESS=6
RES=$E2E_TMP/results
mkdir -p "$RES"
ROTATE=${E2E_DYNPORT_REFRESH:-}
[ -z "$ROTATE" ] && { [ -n "$(evp_sanitizer)" ] && ROTATE=0 || ROTATE=1; }

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

# cfg_server FILE A FIRST LAST: the layout above (lib.sh's detour server), logging at debug.
cfg_server() {
    cfg_detour_server "$1" "$2" "\"$3-$4\"" dyn 0 vmess \
        ' "allocate": {"strategy": "random", "concurrency": 2, "refresh": 1},'
    sed -i 's/"loglevel": "info"/"loglevel": "debug"/' "$1"
}

# cfg_client FILE SOCKS A: socks -> vmess to A, logging at info (evproxy logs its switches).
cfg_client() {
    cfg_vmess_client "$1" "$2" "$3" "$UUID_GOOD" 0 aes-128-gcm
    sed -i 's/"loglevel": "warning"/"loglevel": "info"/' "$1"
}

# sessions ID SOCKS N: N sequential 64 KiB echoes; prints how many verified.
sessions() {
    local id=$1 socks=$2 n=$3 k good=0
    for k in $(seq "$n"); do
        socks_stream "$socks" "127.0.0.1:$ECHO" --bytes 64k --seed $((700 + k)) \
            --timeout 20 >"$RES/$id-$k.json" 2>&1 && good=$((good + 1))
    done
    echo "$good"
}

# slow ID SOCKS N: N concurrent echoes of 150 KiB at 2 KiB/s (~75 s: across a refresh), in
# the background; their result in $RES/ID.json. Sets SLOW_PID.
slow() {
    socks_stream "$2" "127.0.0.1:$ECHO" --bytes 150k --rate 2k --sessions "$3" --seed 800 \
        --timeout 150 >"$RES/$1.json" 2>&1 &
    SLOW_PID=$!
}

# picks LOG: the pick lines of an evproxy log, one per line: "P Q".
picks() { sed -n 's/.*inbound \[dyn\] dynamic ports now \([0-9 ]*\) (range.*/\1/p' "$1"; }

# accepted_ports LOG FIRST LAST [FROM_LINE]: the ports of R whose listener accepted a
# connection (debug lines), from line FROM_LINE on, one per line.
accepted_ports() {
    tail -n +"${4:-1}" "$1" | sed -n 's/.*accepted tcp on 127\.0\.0\.1:\([0-9]*\)$/\1/p' |
        awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b'
}

# listening FIRST LAST: the TCP ports of R something listens on, sorted, space-separated.
listening() {
    ss -ltnH "( sport >= :$1 and sport <= :$2 )" | awk '{n = split($4, p, ":"); print p[n]}' |
        sort -un | tr '\n' ' ' | sed 's/ $//'
}

# within LIST SET: every word of LIST is a word of SET.
# shellcheck disable=SC2317 # called through check
within() {
    local w
    for w in $1; do
        case " $2 " in *" $w "*) ;; *) return 1 ;; esac
    done
}

# disjoint LIST SET: no word of LIST is a word of SET.
disjoint() {
    local w
    for w in $1; do
        case " $2 " in *" $w "*) return 1 ;; esac
    done
}

# check WHAT CONDITION...: passes when CONDITION succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else soft_fail "$what"; fi
}

# wait_for_line FILE PATTERN COUNT SECONDS: until FILE has COUNT lines matching PATTERN.
wait_for_line() {
    local k
    for k in $(seq $((20 * $4))); do
        [ "$(grep -cE "$2" "$1")" -ge "$3" ] && return 0
        sleep 0.05
    done
    return 1
}

# first_pick LOG: waits (at most 20 s) for the first pick's line. It comes just after the
# listeners start, so it can be missing when port A already listens: read at once, the pick
# was "" ("1: two ports picked in 31883-31888 ()", once in 4 runs under load).
first_pick() {
    wait_for_line "$1" 'dynamic ports now' 1 20 || soft_fail "no pick logged in 20 s"
}

# --- 1: V2Ray client -> evproxy server --------------------------------------------------
part1() {
    local a socks first last slog pick0 pick1 got acc at_b mark k new srv
    read -r a socks < <(ports 2 | tr '\n' ' ')
    read -r first last < <(port_run 6 | sed -n '1p;$p' | tr '\n' ' ')
    cfg_server "$E2E_TMP/p1.server.json" "$a" "$first" "$last"
    start_evproxy p1.server "$E2E_TMP/p1.server.json" "$a"
    srv=$LAST_PID
    slog=$E2E_TMP/p1.server.log
    first_pick "$slog"
    pick0=$(picks "$slog" | head -1)
    info "1: evproxy server A=$a, dyn $first-$last, first pick: $pick0"
    check "1: two ports picked in $first-$last ($pick0)" test "$(echo "$pick0" | wc -w)" = 2
    check "1: only the pick listens in the range ($(listening "$first" "$last"))" \
        test "$(listening "$first" "$last")" = "$(echo "$pick0" | tr ' ' '\n' | sort -n |
            tr '\n' ' ' | sed 's/ $//')"
    cfg_client "$E2E_TMP/p1.client.json" "$socks" "$a"
    start_v2ray p1.client "$E2E_TMP/p1.client.json" "$socks"
    got=$(sessions p1 "$socks" "$NSESS")
    check "1: $got/$NSESS sessions verified" test "$got" = "$NSESS"
    acc=$(accepted_ports "$slog" "$first" "$last" | sort -u | tr '\n' ' ')
    at_b=$(grep -cE 'accepted .*\[(dyn -> )?via-dyn\] email: e@x$' \
        "$E2E_TMP/p1.server.access.log")
    info "1: sessions on dyn: $at_b, on ports: $acc"
    check "1: later sessions on dyn as e@x ($at_b)" test "$at_b" -ge 1
    check "1: dyn's sessions arrived on picked ports ($acc in $pick0)" within "$acc" "$pick0"
    check "1: accepts in the range = sessions on dyn" \
        test "$(accepted_ports "$slog" "$first" "$last" | wc -l)" = "$at_b"
    # A reload (same config) keeps the pick clients were told of.
    kill -HUP "$srv"
    wait_for_line "$slog" 'reload applied' 1 20 || soft_fail "1: reload not applied in 20 s"
    check "1: the reload kept the pick ($(picks "$slog" | tail -1))" \
        test "$(picks "$slog" | tail -1)" = "$pick0"
    check "1: ... and its listeners" test "$(listening "$first" "$last")" = "$(echo "$pick0" |
        tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')"
    if [ "$ROTATE" = 0 ]; then
        info "1: refresh part skipped (a refresh is 60 s; sanitizer build or E2E_DYNPORT_REFRESH=0)"
        return
    fi
    mark=$(($(wc -l <"$slog") + 1))
    slow p1-slow "$socks" 6
    wait_for_line "$slog" 'dynamic ports now' 3 100 ||
        soft_fail "1: no second pick within 100 s"
    pick1=$(picks "$slog" | tail -1)
    acc=$(accepted_ports "$slog" "$first" "$last" "$mark" | sort -u | tr '\n' ' ')
    info "1: second pick: $pick1; slow sessions accepted on: $acc"
    check "1: a slow session started on an old port ($acc)" test -n "$acc"
    check "1: ... and none elsewhere in the range" within "$acc" "$pick0"
    check "1: the new pick ($pick1) shares no port with the old ($pick0)" \
        disjoint "$pick1" "$pick0"
    check "1: two new ports in $first-$last" within "$pick1" "$(seq -s " " "$first" "$last")"
    check "1: old and new picks listen ($(listening "$first" "$last"))" \
        within "$pick0 $pick1" "$(listening "$first" "$last")"
    # The client learns a new port with its next session on A: bounded by count.
    mark=$(($(wc -l <"$slog") + 1))
    for k in $(seq 16); do
        sessions "p1-after-$k" "$socks" 1 >"$RES/p1-after-$k.n"
        new=$(accepted_ports "$slog" "$first" "$last" "$mark" | sort -u | tr '\n' ' ')
        disjoint "$new" "$pick1" || break
    done
    got=$(cat "$RES"/p1-after-*.n | awk '{s += $1} END {print s}')
    check "1: after the refresh $got/$k sessions verified" test "$got" = "$k"
    check "1: a session arrived on a new port ($new; new $pick1)" \
        test -n "$(echo "$new" | tr ' ' '\n' | grep -xF -f <(echo "$pick1" | tr ' ' '\n'))"
    check "1: slow sessions across the refresh verified" wait "$SLOW_PID"
    check "1: server alive" alive "$srv"
}

# --- 2: evproxy client -> V2Ray server --------------------------------------------------
part2() {
    local a socks first last clog pick0 p0 p1 got k at_b
    read -r a socks < <(ports 2 | tr '\n' ' ')
    read -r first last < <(port_run 6 | sed -n '1p;$p' | tr '\n' ' ')
    cfg_server "$E2E_TMP/p2.server.json" "$a" "$first" "$last"
    start_v2ray p2.server "$E2E_TMP/p2.server.json" "$a"
    cfg_client "$E2E_TMP/p2.client.json" "$socks" "$a"
    start_evproxy p2.client "$E2E_TMP/p2.client.json" "$socks"
    clog=$E2E_TMP/p2.client.log
    got=$(sessions p2 "$socks" 3)
    pick0=$(listening "$first" "$last")
    p0=$(sed -n 's/.*switched to a detour account at .* port \([0-9]*\) for 1 min/\1/p' \
        "$clog" | head -1)
    at_b=$(grep -cE 'accepted .*\[via-dyn\] email: e@x$' "$E2E_TMP/p2.server.access.log")
    info "2: V2Ray server A=$a, dyn $first-$last listening on $pick0; switched to $p0"
    check "2: $got/3 sessions verified" test "$got" = 3
    check "2: V2Ray listens on 2 ports of the range ($pick0)" test "$(echo "$pick0" | wc -w)" = 2
    check "2: switched for 1 min to a port V2Ray listens on ($p0 in $pick0)" \
        within "${p0:-none}" "$pick0"
    check "2: later sessions on dyn ($at_b of 2)" test "$at_b" = 2
    if [ "$ROTATE" = 0 ]; then
        info "2: refresh part skipped (a refresh is 60 s; sanitizer build or E2E_DYNPORT_REFRESH=0)"
        return
    fi
    slow p2-slow "$socks" 1
    # The account lasts a minute; then a session on A brings the next switch. By count.
    for k in $(seq 40); do
        sleep 2.5
        sessions "p2-after-$k" "$socks" 1 >"$RES/p2-after-$k.n"
        p1=$(sed -n 's/.*switched to a detour account at .* port \([0-9]*\) for .*/\1/p' \
            "$clog" | tail -1)
        disjoint "$p1" "$pick0" && break
    done
    got=$(cat "$RES"/p2-after-*.n | awk '{s += $1} END {print s}')
    info "2: after $k rounds switched to $p1 (first pick $pick0)"
    check "2: $got/$k sessions verified across V2Ray's refresh" test "$got" = "$k"
    check "2: switched to a port outside the first pick ($p1; $pick0)" \
        disjoint "${p1:-$p0}" "$pick0"
    check "2: ... and inside the range" within "${p1:-none}" "$(seq -s " " "$first" "$last")"
    # The client dials only its live detour account: the next session goes to that port.
    at_b=$(grep -cE 'accepted .*\[via-dyn\] email: e@x$' "$E2E_TMP/p2.server.access.log")
    got=$(sessions p2-last "$socks" 1)
    check "2: the next session verified, accepted on dyn (V2Ray access log)" \
        test "$got:$(grep -cE 'accepted .*\[via-dyn\] email: e@x$' \
            "$E2E_TMP/p2.server.access.log")" = "1:$((at_b + 1))"
    check "2: the slow session across the refresh verified" wait "$SLOW_PID"
}

# --- 3: ports of the range taken by another program -----------------------------------
# Range of 3, concurrency 2, the first and last port held by a squatter: any pick hits one.
# evproxy starts, warns, tries the other ports of the range for a taken one, and serves the
# one free port (V2Ray would go on without a port it cannot open; evproxy does when no other
# is free).
part3() {
    local a socks first mid last slog got acc
    read -r a socks < <(ports 2 | tr '\n' ' ')
    read -r first mid last < <(port_run 3 | tr '\n' ' ')
    start_bg p3.squatter "$PY" -c 'import socket, sys, time
held = []
for p in sys.argv[1:]:
    s = socket.socket()
    s.bind(("127.0.0.1", int(p)))
    s.listen(1)
    held.append(s)
time.sleep(600)' "$first" "$last"
    { wait_port "$first" 10 tcp "$LAST_PID" && wait_port "$last" 10 tcp "$LAST_PID"; } ||
        fail "3: the squatter did not listen"
    cfg_server "$E2E_TMP/p3.server.json" "$a" "$first" "$last"
    start_evproxy p3.server "$E2E_TMP/p3.server.json" "$a"
    slog=$E2E_TMP/p3.server.log
    first_pick "$slog"
    info "3: $first and $last taken; evproxy picked: $(picks "$slog" | head -1)"
    check "3: a taken port warned about" grep -q "dynamic port [0-9]* skipped" "$slog"
    check "3: the pick is the free port $mid" test "$(picks "$slog" | head -1)" = "$mid"
    cfg_client "$E2E_TMP/p3.client.json" "$socks" "$a"
    start_v2ray p3.client "$E2E_TMP/p3.client.json" "$socks"
    got=$(sessions p3 "$socks" 4)
    acc=$(accepted_ports "$slog" "$first" "$last" | sort -u | tr '\n' ' ')
    check "3: $got/4 sessions verified" test "$got" = 4
    check "3: dyn's sessions on $mid ($acc)" test "$acc" = "$mid "
}

part1
part2
part3
finish
