#!/usr/bin/env bash
# Bad VMess clients against the evproxy vmess inbound. Each must be rejected with no data
# reaching the target (the echo server accepts no connection), the server must stay alive,
# and the next good client must be served:
#   - wrong UUID (AEAD and legacy header)
#   - a replayed handshake: the first bytes a real client sent (captured by a relay) sent
#     again by replay.py, for a V2Ray and an evproxy client, AEAD and legacy header (control:
#     the same bytes to a fresh server do reach the target)
#   - clock skew beyond the window: the evproxy client under libfaketime at -300 s (and, as
#     the control that the skew is what matters, at -60 s it is served)
#   - insecure security (none, zero, aes-128-cfb) under disableInsecureEncryption
#   - a legacy-header client (V2Ray, alterId 4) under "aeadForced": true and under
#     V2RAY_VMESS_AEAD_FORCED=true (V2Ray >= 4.35's switch); an AEAD client still served
# Each rejection must also be for the expected cause: the server logs one "rejected a client
# on [TAG]: vmess: WHY" line per refused connection, and every one since the case began must
# name that case's cause.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
FAKETIME_LIB=${FAKETIME_LIB:-$(find /usr/lib -path '*/faketime/libfaketimeMT.so.1' 2>/dev/null |
    head -1)}

read -r SP SP2 GOOD GOOD2 < <(ports 4 | tr '\n' ' ')
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

# S: the server under test (alterId 4, so legacy headers are possible). S2: the same with
# disableInsecureEncryption.
cfg_vmess_server "$E2E_TMP/s.json" "$SP" "$UUID_GOOD" 4
start_evproxy server "$E2E_TMP/s.json" "$SP"
S_PID=$LAST_PID
cfg_vmess_server "$E2E_TMP/s2.json" "$SP2" "$UUID_GOOD" 0 true
start_evproxy server-secure "$E2E_TMP/s2.json" "$SP2"
S2_PID=$LAST_PID
# Known-good V2Ray clients for each server.
cfg_vmess_client "$E2E_TMP/good.json" "$GOOD" "$SP" "$UUID_GOOD" 0 aes-128-gcm
start_v2ray good-client "$E2E_TMP/good.json" "$GOOD"
cfg_vmess_client "$E2E_TMP/good2.json" "$GOOD2" "$SP2" "$UUID_GOOD" 0 aes-128-gcm
start_v2ray good-client2 "$E2E_TMP/good2.json" "$GOOD2"
info "server $SP, secure server $SP2, echo $ECHO"

N=0
# served SOCKS_PORT WHAT: a 256 KiB echo through SOCKS_PORT must verify.
served() {
    local out=$E2E_TMP/served-$N.json
    N=$((N + 1))
    socks_stream "$1" "127.0.0.1:$ECHO" --bytes 256k --seed $((500 + N)) --timeout 20 \
        >"$out" 2>&1 && return 0
    soft_fail "$2: not served: $(why_of "$out")"
    return 1
}

# log_mark SERVER: where SERVER's log ends now (see rejected_for).
log_mark() { wc -l <"$E2E_TMP/$1.log"; }

# rejected_for SERVER MARK WHAT CAUSE [COUNT]: the handshakes SERVER rejected since MARK
# must all be for CAUSE (an extended regex), and there must be COUNT of them (default: at
# least one). V2Ray (EVP_IMPL=v2ray) words its reasons its own way: not checked there.
rejected_for() {
    local name=$1 mark=$2 what=$3 cause=$4 want=${5:-} reasons n other
    [ "$EVP_IMPL" = evproxy ] || return 0
    reasons=$(tail -n +$((mark + 1)) "$E2E_TMP/$name.log" |
        sed -n 's/.*rejected a client on \[[^]]*\]: //p')
    n=$(grep -c . <<<"$reasons")
    other=$(grep -v -m1 -E "^vmess: ($cause)\$" <<<"$reasons")
    if [ "$n" = 0 ]; then
        soft_fail "$what: $name logged no rejected handshake"
    elif [ -n "$want" ] && [ "$n" != "$want" ]; then
        soft_fail "$what: $name logged $n rejected handshakes, want $want"
    elif [ -n "$other" ]; then
        soft_fail "$what: rejected for '$other', want '$cause'"
    else
        return 0
    fi
    return 1
}

# rejected SOCKS_PORT WHAT SERVER_PID SERVER_GOOD_SOCKS SERVER CAUSE: a session through
# SOCKS_PORT must fail, with no new connection at the echo server and the rejection logged
# by SERVER for CAUSE; then the server must be alive and serve its good client.
rejected() {
    local socks=$1 what=$2 spid=$3 goodsocks=$4 server=$5 cause=$6 before after mark
    local out=$E2E_TMP/rejected-$N.json
    N=$((N + 1))
    before=$(accepted_count echo)
    mark=$(log_mark "$server")
    if socks_stream "$socks" "127.0.0.1:$ECHO" --bytes 64k --seed $((700 + N)) --timeout 5 \
        >"$out" 2>&1; then
        soft_fail "$what: data went through"
        return 1
    fi
    sleep 0.3
    after=$(accepted_count echo)
    [ "$after" = "$before" ] || {
        soft_fail "$what: the target got a connection"
        return 1
    }
    alive "$spid" || fail "$what: the evproxy server died ($(death_note "$spid"))"
    rejected_for "$server" "$mark" "$what" "$cause" || return 1
    served "$goodsocks" "good client after $what" || return 1
    pass "$what: rejected ($cause), nothing reached the target, server alive, next client served"
}

# client IMPL NAME SOCKS SERVER UUID ALTERID SECURITY: starts a vmess client process
# (v2ray or evproxy; EVP_WRAP applies to evproxy). Sets CLIENT_PID.
client() {
    local impl=$1 name=$2 socks=$3 server=$4
    cfg_vmess_client "$E2E_TMP/$name.json" "$socks" "$server" "$5" "$6" "$7"
    if [ "$impl" = v2ray ]; then
        start_v2ray "$name" "$E2E_TMP/$name.json" "$socks"
    else
        start_evproxy "$name" "$E2E_TMP/$name.json" "$socks"
    fi
    CLIENT_PID=$LAST_PID
}

served "$GOOD" "baseline V2Ray client -> server" || fail "baseline failed: nothing to compare"
served "$GOOD2" "baseline V2Ray client -> secure server" || fail "baseline (secure) failed"

# 1. Wrong UUID.
for hdr in aead legacy; do
    aid=0
    [ "$hdr" = legacy ] && aid=4
    read -r C < <(ports 1)
    client v2ray "wrong-uuid-$hdr" "$C" "$SP" "$UUID_WRONG" "$aid" aes-128-gcm
    rejected "$C" "wrong UUID ($hdr header)" "$S_PID" "$GOOD" server "invalid user"
    stop_pid "$CLIENT_PID"
done

# 2. Replayed handshake: a real client's first bytes, captured by a relay, sent again.
for impl in v2ray evproxy; do
    for hdr in aead legacy; do
        aid=0
        [ "$hdr" = legacy ] && aid=4
        what="replayed $impl handshake ($hdr header)"
        read -r C < <(ports 1)
        cap=$E2E_TMP/capture-$impl-$hdr.bin
        start_tool "relay-$impl-$hdr" capture_proxy.py --upstream "127.0.0.1:$SP" \
            --capture "$cap" --limit 4096
        relay_pid=$LAST_PID
        client "$impl" "replay-src-$impl-$hdr" "$C" "$TOOL_PORT" "$UUID_GOOD" "$aid" aes-128-gcm
        if ! served "$C" "$what: original session"; then
            stop_pid "$CLIENT_PID"
            stop_pid "$relay_pid"
            continue
        fi
        stop_pid "$CLIENT_PID"
        wait_file "$cap" 5 || { soft_fail "$what: nothing captured"; continue; }
        stop_pid "$relay_pid"
        # Control: the same bytes to a fresh server (no replay memory) must reach the target,
        # so the capture is a valid handshake and a rejection below means replay detection.
        read -r F < <(ports 1)
        cfg_vmess_server "$E2E_TMP/fresh-$impl-$hdr.json" "$F" "$UUID_GOOD" 4
        start_evproxy "fresh-$impl-$hdr" "$E2E_TMP/fresh-$impl-$hdr.json" "$F"
        fresh_pid=$LAST_PID
        before=$(accepted_count echo)
        timeout 20 "$PY" "$TOOLS/replay.py" --connect "127.0.0.1:$F" --file "$cap" --wait 1 \
            >"$E2E_TMP/replay-fresh-$impl-$hdr.json" 2>&1
        rc=$?
        # The server dials the target after it read the handshake: wait for the echo
        # server's accept (bounded) rather than for a fixed time.
        for _ in $(seq 100); do
            [ "$(accepted_count echo)" != "$before" ] && break
            sleep 0.1
        done
        stop_pid "$fresh_pid"
        if [ "$rc" != 0 ]; then
            soft_fail "$what: control replay failed (exit $rc: $(tail -c 200 \
                "$E2E_TMP/replay-fresh-$impl-$hdr.json"))"
            continue
        elif [ "$(accepted_count echo)" = "$before" ]; then
            soft_fail "$what: control failed, a fresh server did not accept the capture in 10 s"
            continue
        fi
        before=$(accepted_count echo)
        mark=$(log_mark server)
        # Four copies at once, so that a server with several workers sees it on each.
        out=$E2E_TMP/replay-$impl-$hdr.json
        timeout 20 "$PY" "$TOOLS/replay.py" --connect "127.0.0.1:$SP" --file "$cap" --wait 3 \
            --times 4 >"$out" 2>&1
        rc=$?
        recv=$(grep -o '"recv": [0-9]*' "$out" | grep -o '[0-9]*$')
        sent=$(grep -o '"sent": [0-9]*' "$out" | grep -o '[0-9]*$')
        after=$(accepted_count echo)
        # Legacy: the first copy hits the session history, which burns that auth for the rest.
        cause="replayed AuthID"
        [ "$hdr" = legacy ] && cause="duplicated session id|tainted legacy auth"
        if [ "$rc" != 0 ] || [ "${sent:-x}" != $((4 * $(wc -c <"$cap"))) ]; then
            soft_fail "$what: the 4 copies were not all delivered (exit $rc: $(cat "$out"))"
        elif [ "${recv:-x}" != 0 ]; then
            soft_fail "$what: server answered ($(cat "$E2E_TMP/replay-$impl-$hdr.json"))"
        elif [ "$after" != "$before" ]; then
            soft_fail "$what: the replay reached the target"
        elif ! alive "$S_PID"; then
            fail "$what: the evproxy server died ($(death_note "$S_PID"))"
        elif rejected_for server "$mark" "$what" "$cause" 4; then
            served "$GOOD" "good client after $what" &&
                pass "$what: 4 copies rejected ($(grep -o '"ended": [^]]*]' \
                    "$E2E_TMP/replay-$impl-$hdr.json")), server alive, next client served"
        fi
    done
done

# 3. Clock skew: an evproxy client whose clock is 300 s behind (AEAD window is 120 s).
if [ "$EVP_IMPL" != evproxy ]; then
    info "EVP_IMPL=$EVP_IMPL: libfaketime cannot skew a Go binary; skipping clock skew"
elif [ -z "$FAKETIME_LIB" ]; then
    soft_fail "clock skew: libfaketimeMT.so.1 not found (install faketime)"
else
    for skew in -60 -300; do
        read -r C < <(ports 1)
        # An ASan build wants its runtime first in the library list; libfaketime is only
        # interposing time calls, so let ASan accept the order.
        EVP_WRAP="LD_PRELOAD=$FAKETIME_LIB FAKETIME=$skew FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=verify_asan_link_order=0" \
            client evproxy "skew$skew" "$C" "$SP" "$UUID_GOOD" 0 aes-128-gcm
        if [ "$skew" = -60 ]; then
            served "$C" "clock skew -60 s (inside the window, control)" &&
                pass "clock skew -60 s: served (control)"
        else
            # Out of the window the AuthID matches no user, as in V2Ray.
            rejected "$C" "clock skew $skew s" "$S_PID" "$GOOD" server "invalid user"
        fi
        stop_pid "$CLIENT_PID"
    done
fi

# 4. disableInsecureEncryption: none / zero / aes-128-cfb refused; gcm still served.
for spec in "v2ray none" "evproxy none" "evproxy zero" "evproxy aes-128-cfb"; do
    read -r impl sec <<<"$spec"
    if [ "$impl" = evproxy ] && [ "$EVP_IMPL" = v2ray ] && [ "$sec" != none ]; then
        info "EVP_IMPL=v2ray: a V2Ray client sends gcm for $sec; skipping"
        continue
    fi
    read -r C < <(ports 1)
    client "$impl" "insecure-$impl-$sec" "$C" "$SP2" "$UUID_GOOD" 0 "$sec"
    rejected "$C" "$impl client with $sec under disableInsecureEncryption" "$S2_PID" "$GOOD2" \
        server-secure "insecure encryption is disabled"
    stop_pid "$CLIENT_PID"
done

# 5. AEAD forced, by the setting and by the environment: a legacy client is a wrong user
# (the server log says why); the AEAD client is the server's good client.
if [ "$EVP_IMPL" = v2ray ]; then
    info "EVP_IMPL=v2ray: V2Ray 4.34 has no AEAD-forced switch; skipping"
else
    for how in setting env; do
        read -r FP FG FL < <(ports 3 | tr '\n' ' ')
        cfg_vmess_server "$E2E_TMP/forced-$how.json" "$FP" "$UUID_GOOD" 4
        env=
        if [ "$how" = setting ]; then
            sed -i 's/"disableInsecureEncryption"/"aeadForced": true, &/' \
                "$E2E_TMP/forced-$how.json"
        else
            env=V2RAY_VMESS_AEAD_FORCED=true
        fi
        EVP_ENV="${EVP_ENV:-} $env" start_evproxy "forced-$how" "$E2E_TMP/forced-$how.json" "$FP"
        forced_pid=$LAST_PID
        client v2ray "forced-good-$how" "$FG" "$FP" "$UUID_GOOD" 0 aes-128-gcm
        good_pid=$CLIENT_PID
        served "$FG" "AEAD client under AEAD forced ($how)" &&
            pass "AEAD client under AEAD forced ($how): served"
        client v2ray "forced-legacy-$how" "$FL" "$FP" "$UUID_GOOD" 4 aes-128-gcm
        rejected "$FL" "legacy client under AEAD forced ($how)" "$forced_pid" "$FG" \
            "forced-$how" "invalid user: legacy header refused \(AEAD forced\)"
        stop_pid "$CLIENT_PID"
        stop_pid "$good_pid"
        stop_pid "$forced_pid"
    done
fi

alive "$S_PID" || fail "evproxy server died ($(death_note "$S_PID"))"
alive "$S2_PID" || fail "evproxy secure server died ($(death_note "$S2_PID"))"
finish
