#!/usr/bin/env bash
# VMess detour (SwitchAccount, vmess-protocol.md §7) against the real V2Ray 4.34, both ways.
# Server layout, as V2Ray users write it: a vmess inbound "vmess-in" on port A (user e@x,
# alterId 0) with "detour": {"to": "dyn"}, and a plain always-on vmess inbound "dyn" on port
# B (V2Ray accepts it without "allocate") with no clients and "default": {"alterId": 4,
# "level": 0} (and again with alterId 0). Each inbound routes to its own freedom outbound,
# so the server's access log tells A's sessions from B's; the client dials A through a
# counting relay. Every session is a 256 KiB echo with sha256 match.
#   1: V2Ray client -> evproxy server: the first session is on A, later ones also on B
#      (V2Ray's client round-robins over its server and the detour), all as user e@x.
#   2: evproxy client -> V2Ray server: the first session on A, every later one on B.
#   3: detour.to naming a tag that does not exist, or an inbound that is not vmess: the
#      evproxy server serves V2Ray and evproxy clients on A, sends no SwitchAccount.
#   Reload (c1, c2): after its sessions the evproxy side is reloaded (SIGHUP, same config)
#      and serves NSESS more: the detour accounts outlive the reload (the host keeps them),
#      so the switched client is still accepted on B and still goes there.
# Prints a results table. E2E_DETOUR_SESSIONS: sessions per client (default 6).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
NSESS=${E2E_DETOUR_SESSIONS:-6}
RES=$E2E_TMP/results
mkdir -p "$RES"
ROWS=()

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
info "echo server on 127.0.0.1:$ECHO"

# cfg_client FILE SOCKS_PORT SERVER_PORT: lib.sh's socks -> vmess (alterId 0, aes-128-gcm)
# client at loglevel info (evproxy logs the switch it makes).
cfg_client() {
    cfg_vmess_client "$1" "$2" "$3" "$UUID_GOOD" 0 aes-128-gcm
    sed -i 's/"loglevel": "warning"/"loglevel": "info"/' "$1"
}

# run_sessions ID SOCKS_PORT: NSESS sequential 256 KiB echoes, each its own connection
# (so each a new VMess session); prints how many verified. Outputs in $RES/ID-K.json.
run_sessions() {
    local id=$1 socks=$2 k good=0
    for k in $(seq "$NSESS"); do
        socks_stream "$socks" "127.0.0.1:$ECHO" --bytes 256k --seed $((900 + k)) \
            --timeout 15 >"$RES/$id-$k.json" 2>&1 && good=$((good + 1))
    done
    echo "$good"
}

# row CASE CHECK VERDICT: one line of the results table (VERDICT "PASS" or "FAIL why").
row() {
    ROWS+=("$1|$2|$3")
    if [ "${3%% *}" = PASS ]; then pass "$1: $2"; else soft_fail "$1: $2: ${3#FAIL }"; fi
}

# check CASE WHAT CONDITION...: a row that passes when the command CONDITION succeeds.
check() {
    local c=$1 what=$2
    shift 2
    if "$@"; then row "$c" "$what" PASS; else row "$c" "$what" "FAIL"; fi
}

# on_b ID [EMAIL]: sessions the server of ID routed from "dyn" (lines of its access log,
# "accepted tcp:HOST:PORT [via-dyn]" from both; "[dyn -> via-dyn]" was evproxy's), optionally
# only those of the user EMAIL.
on_b() {
    local re='accepted .*\[(dyn -> )?via-dyn\]'
    [ -n "${2:-}" ] && re="$re email: $2\$"
    grep -cE "$re" "$E2E_TMP/$1.server.access.log" 2>/dev/null
}

# first_on_a ID: the first session the server of ID logged came in on A (vmess-in).
# shellcheck disable=SC2317 # called through check
first_on_a() { head -1 "$E2E_TMP/$1.server.access.log" | grep -qE '\[(vmess-in -> )?direct\]'; }

# shellcheck disable=SC2317 # called through check
both_alive() { alive "$1" && alive "$2"; }

# reload_evproxy PID LOG: SIGHUP to evproxy PID, then waits (at most 20 s) until LOG says
# the reload was applied.
reload_evproxy() {
    local before k
    before=$(grep -c 'reload applied' "$2")
    kill -HUP "$1" || return 1
    for k in $(seq 400); do
        [ "$(grep -c 'reload applied' "$2")" -gt "$before" ] && return 0
        sleep 0.05
    done
    return 1
}

# after_reload ID PID SOCKS CASE SIDE: reloads the evproxy PID of ID (its log ID.SIDE.log),
# runs NSESS more sessions as ID-r and checks they all verify; sets AFTER_B (sessions on B
# since).
after_reload() {
    local id=$1 pid=$2 socks=$3 c=$4 b0 got
    b0=$(on_b "$id")
    check "$c" "reload applied (SIGHUP)" reload_evproxy "$pid" "$E2E_TMP/$id.$5.log"
    got=$(run_sessions "$id-r" "$socks")
    AFTER_B=$(($(on_b "$id") - b0))
    if [ "$got" = "$NSESS" ]; then
        row "$c" "after reload: $NSESS sessions, sha256 echo" PASS
    else
        row "$c" "after reload: $NSESS sessions, sha256 echo" \
            "FAIL $got ok: $(first_fail "$id-r")"
    fi
}

# first_fail ID: why the first failed session of ID failed.
first_fail() {
    local f
    for f in "$RES/$1"-*.json; do
        grep -q '"ok": false' "$f" && { why_of "$f"; return; }
    done
}

# --- 1: V2Ray client -> evproxy server ------------------------------------------------
case1() {
    local id=$1 aid=$2
    local a b relay socks got at_a at_b srv
    read -r a b socks < <(ports 3 | tr '\n' ' ')
    cfg_detour_server "$E2E_TMP/$id.server.json" "$a" "$b" dyn "$aid"
    start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$a" "$b"
    srv=$LAST_PID
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$a" \
        --capture "$E2E_TMP/$id.head" --limit 16
    relay=$TOOL_PORT
    cfg_client "$E2E_TMP/$id.client.json" "$socks" "$relay"
    start_v2ray "$id.client" "$E2E_TMP/$id.client.json" "$socks"
    info "$id: v2ray client socks $socks -> relay $relay -> evproxy A=$a (detour B=$b)"
    got=$(run_sessions "$id" "$socks")
    at_a=$(accepted_count "$id.relay")
    at_b=$(on_b "$id")
    info "$id: $got/$NSESS sessions ok, $at_a via A, $at_b accepted on B"
    C1="v2ray -> evproxy, B alterId $aid"
    if [ "$got" = "$NSESS" ]; then
        row "$C1" "$NSESS sessions, sha256 echo" PASS
    else
        row "$C1" "$NSESS sessions, sha256 echo" "FAIL $got ok: $(first_fail "$id")"
    fi
    # The first session can only go to A; every later one goes to A or B, none lost.
    check "$C1" "first session via A (access log)" first_on_a "$id"
    check "$C1" "later sessions on B (access log)" test "$at_b" -ge 1
    check "$C1" "A + B = sessions ($at_a + $at_b)" test $((at_a + at_b)) = "$NSESS"
    # The account on B is the one evproxy made for the same email (settings.default).
    check "$C1" "B's sessions are user e@x (access log)" test "$(on_b "$id" e@x)" = "$at_b"
    check "$C1" "no rejected handshake" \
        test "$(grep -c 'rejected a handshake' "$E2E_TMP/$id.server.log")" = 0
    check "$C1" "server alive" alive "$srv"
    COUNTS+=("$id A=$at_a B=$at_b")
    [ "${3:-}" = reload ] || return 0
    after_reload "$id" "$srv" "$socks" "$C1" server
    check "$C1" "after reload: sessions on B ($AFTER_B)" test "$AFTER_B" -ge 1
    check "$C1" "after reload: no rejected handshake" \
        test "$(grep -c 'rejected a handshake' "$E2E_TMP/$id.server.log")" = 0
}

# --- 2: evproxy client -> V2Ray server ------------------------------------------------
case2() {
    local id=$1 aid=$2
    local a b relay socks got at_a at_b srv cli
    read -r a b socks < <(ports 3 | tr '\n' ' ')
    cfg_detour_server "$E2E_TMP/$id.server.json" "$a" "$b" dyn "$aid"
    start_v2ray "$id.server" "$E2E_TMP/$id.server.json" "$a" "$b"
    srv=$LAST_PID
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$a" \
        --capture "$E2E_TMP/$id.head" --limit 16
    relay=$TOOL_PORT
    cfg_client "$E2E_TMP/$id.client.json" "$socks" "$relay"
    start_evproxy "$id.client" "$E2E_TMP/$id.client.json" "$socks"
    cli=$LAST_PID
    info "$id: evproxy client socks $socks -> relay $relay -> v2ray A=$a (detour B=$b)"
    got=$(run_sessions "$id" "$socks")
    at_a=$(accepted_count "$id.relay")
    at_b=$(on_b "$id")
    info "$id: $got/$NSESS sessions ok, $at_a via A, $at_b accepted on B"
    C2="evproxy -> v2ray, B alterId $aid"
    if [ "$got" = "$NSESS" ]; then
        row "$C2" "$NSESS sessions, sha256 echo" PASS
    else
        row "$C2" "$NSESS sessions, sha256 echo" "FAIL $got ok: $(first_fail "$id")"
    fi
    if [ "$EVP_IMPL" = v2ray ]; then
        # V2Ray's client adds the detour server to its round robin: some later sessions
        # still go to A.
        check "$C2" "later sessions on B (access log)" test "$at_b" -ge 1
        check "$C2" "A + B = sessions ($at_a + $at_b)" test $((at_a + at_b)) = "$NSESS"
    else
        # evproxy's client prefers a live detour account: every later session goes to B.
        check "$C2" "only the first session via A" test "$at_a" = 1
        check "$C2" "first session via A (access log)" first_on_a "$id"
        check "$C2" "later sessions all on B (access log)" test "$at_b" = $((NSESS - 1))
    fi
    # (EVP_IMPL=v2ray runs V2Ray as the client, which does not log the switch.)
    [ "$EVP_IMPL" = v2ray ] || check "$C2" "client logged the switch to B" \
        grep -q "switched to a detour account at .* port $b " "$E2E_TMP/$id.client.log"
    check "$C2" "B's sessions are user e@x (access log)" test "$(on_b "$id" e@x)" = "$at_b"
    check "$C2" "server and client alive" both_alive "$srv" "$cli"
    COUNTS+=("$id A=$at_a B=$at_b")
    [ "${3:-}" = reload ] && [ "$EVP_IMPL" != v2ray ] || return 0
    # The reloaded client still holds its detour account: every session goes to B.
    after_reload "$id" "$cli" "$socks" "$C2" client
    check "$C2" "after reload: all sessions on B ($AFTER_B)" test "$AFTER_B" = "$NSESS"
}

# --- 3: a detour target that is not there ---------------------------------------------
# case3 ID TO B_PROTOCOL: the server must serve every session on A and send no SwitchAccount
# (evproxy clients would log the switch; every session of both clients shows at the relay).
case3() {
    local id=$1 to=$2 bproto=$3 a b relay s1 s2 got1 got2 at_a srv
    read -r a b s1 s2 < <(ports 4 | tr '\n' ' ')
    cfg_detour_server "$E2E_TMP/$id.server.json" "$a" "$b" "$to" 4 "$bproto"
    start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$a" "$b"
    srv=$LAST_PID
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$a" \
        --capture "$E2E_TMP/$id.head" --limit 16
    relay=$TOOL_PORT
    cfg_client "$E2E_TMP/$id.v2.json" "$s1" "$relay"
    start_v2ray "$id.v2" "$E2E_TMP/$id.v2.json" "$s1"
    cfg_client "$E2E_TMP/$id.evp.json" "$s2" "$relay"
    start_evproxy "$id.evp" "$E2E_TMP/$id.evp.json" "$s2"
    info "case $id: detour.to \"$to\" ($bproto on B=$b), server A=$a via relay $relay"
    got1=$(run_sessions "$id-v2" "$s1")
    got2=$(run_sessions "$id-evp" "$s2")
    at_a=$(accepted_count "$id.relay")
    local C3="detour.to \"$to\" (B: $bproto)"
    if [ "$got1" = "$NSESS" ] && [ "$got2" = "$NSESS" ]; then
        row "$C3" "sessions served (v2ray + evproxy client)" PASS
    else
        row "$C3" "sessions served (v2ray + evproxy client)" \
            "FAIL $got1+$got2 ok: $(first_fail "$id-v2")$(first_fail "$id-evp")"
    fi
    check "$C3" "all sessions on A ($at_a)" test "$at_a" = $((2 * NSESS))
    check "$C3" "no SwitchAccount (evproxy client)" \
        test "$(grep -c 'switched to a detour' "$E2E_TMP/$id.evp.log")" = 0
    check "$C3" "server alive" alive "$srv"
}

COUNTS=()
case1 c1 4 reload
case2 c2 4 reload
# A target with default alterId 0: the switched account is then an AEAD one (4.34 picks
# AEAD iff alterId is 0) with LEGACY body security.
case1 c1z 0
case2 c2z 0
case3 c3a nosuch vmess
case3 c3b dyn socks

echo
printf '| %-34s %-44s %s\n' case check result
for r in "${ROWS[@]}"; do
    IFS='|' read -r c what verdict <<<"$r"
    printf '| %-34s %-44s %s\n' "$c" "$what" "${verdict%% *}"
done
printf '| sessions on A and B (of %s each): %s\n' "$NSESS" "$(IFS=,; echo "${COUNTS[*]}")"
echo
finish
