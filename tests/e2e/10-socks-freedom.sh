#!/usr/bin/env bash
# evproxy with a socks inbound -> freedom, against loopback servers:
#   - 64 MiB both ways through socks to an echo server, sha256 match
#   - a target that sends N bytes then closes: its FIN reaches the client, bytes intact
#   - the client's half-close reaches the target (evproxy only)
#   - curl --socks5-hostname fetches a page from the local HTTP server via "localhost"
#   - a peer that dies mid-transfer: its bytes reach the client, then its close does (before
#     the client's deadline and its data run out); a concurrent session completes and a
#     new one is served
#   - 200 concurrent sessions all complete
#   - the daemon is still alive after all of it, and `evproxy -t -c` accepts a good config
#     (exit 0) and refuses broken ones (exit 1, the JSON path in the message)
#   - a second daemon on its TCP port, or on another's UDP port, exits: address in use
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
BIG=${E2E_BIG_BYTES:-64M}

read -r SOCKS < <(ports 1)
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool closer send_close_server.py --bytes 8M --seed 21
CLOSER=$TOOL_PORT
head -c 150000 /dev/urandom | base64 >"$E2E_TMP/page.txt"
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT

cfg_socks_freedom "$E2E_TMP/socks.json" "$SOCKS"
start_evproxy evproxy "$E2E_TMP/socks.json" "$SOCKS"
EVP_PID=$LAST_PID
# still_up STEP: stops the script at once when the daemon died during STEP.
still_up() {
    alive "$EVP_PID" && return 0
    show_log evproxy
    fail "evproxy died during: $1 ($(death_note "$EVP_PID"))"
}
info "evproxy socks on 127.0.0.1:$SOCKS; echo $ECHO, closer $CLOSER, http $HTTP"

# 1. Bulk both ways.
out=$E2E_TMP/bulk.json
if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes "$BIG" --seed 1 >"$out" 2>&1; then
    pass "$BIG each way through socks -> freedom -> echo, sha256 match"
else
    soft_fail "bulk $BIG echo: $(why_of "$out")"
fi
still_up "bulk echo"

# 2. Target-side close: all bytes, then EOF, arrive at the client.
out=$E2E_TMP/download.json
if socks_stream "$SOCKS" "127.0.0.1:$CLOSER" --mode download --bytes 8M --seed 21 \
    >"$out" 2>&1; then
    pass "8 MiB download then target close: bytes intact and EOF carried to the client"
else
    soft_fail "download then close: $(why_of "$out")"
fi
still_up "download then close"

# 2b. Client-side half-close: our FIN reaches the echo server, whose close comes back.
#     (V2Ray's freedom never half-closes toward the target, so only evproxy is held to it.)
if [ "$EVP_IMPL" = evproxy ]; then
    out=$E2E_TMP/halfclose.json
    if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 4M --seed 3 --half-close --timeout 30 \
        >"$out" 2>&1; then
        pass "client half-close carried to the target and the target's close carried back"
    else
        soft_fail "half-close: $(why_of "$out")"
    fi
    still_up "half-close"
fi

# 3. curl through socks5 with the name resolved by the proxy.
body=$E2E_TMP/curl.body
if timeout 30 curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$SOCKS" \
    -o "$body" "http://localhost:$HTTP/index.html" 2>"$E2E_TMP/curl.err"; then
    if [ "$(sha256_file "$body")" = "$(sha256_file "$E2E_TMP/page.txt")" ]; then
        pass "curl --socks5-hostname localhost: page sha256 match"
    else
        soft_fail "curl via localhost: body differs from the page ($(wc -c <"$body") bytes)"
    fi
else
    soft_fail "curl via localhost failed: $(head -c 200 "$E2E_TMP/curl.err")"
fi
still_up "curl via localhost"

# 4. A target that vanishes mid-transfer (sends 8 MiB of the seed-21 stream, then closes
#    with unread data: reset) while another session streams: only the first one ends, and
#    only after the target's bytes came through.
good=$E2E_TMP/concurrent-good.json
bad=$E2E_TMP/concurrent-abort.json
socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 16M --seed 31 >"$good" 2>&1 &
good_pid=$!
sleep 0.2
socks_stream "$SOCKS" "127.0.0.1:$CLOSER" --mode abort --bytes 256M --seed 21 --timeout 30 \
    >"$bad" 2>&1
bad_rc=$?
wait "$good_pid"
good_rc=$?
if [ "$bad_rc" = 0 ]; then
    pass "target closed mid-transfer: $(grep -o '"sent": [0-9]*, "recv": [0-9]*' "$bad"), its" \
        "bytes intact, then the close ($(grep -o '"ended": "[^"]*"' "$bad"), after" \
        "$(grep -o '"secs": [0-9.]*' "$bad" | cut -d' ' -f2) s)"
else
    soft_fail "target closed mid-transfer: $(why_of "$bad")"
fi
if [ "$good_rc" = 0 ]; then
    pass "concurrent session completed while the other one's target vanished"
else
    soft_fail "concurrent session hurt by another session's close: $(why_of "$good")"
fi
still_up "a peer closing mid-transfer"
out=$E2E_TMP/after-abort.json
if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 1M --seed 41 >"$out" 2>&1; then
    pass "a new session is served after the peer died"
else
    soft_fail "no session served after the peer died: $(why_of "$out")"
fi

# 5. 200 concurrent sessions.
out=$E2E_TMP/many.json
if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --sessions 200 --bytes 256k --seed 1000 \
    --quiet --timeout 90 >"$out" 2>&1; then
    pass "200 concurrent sessions of 256 KiB each way all verified"
else
    soft_fail "200 concurrent sessions: $(grep -c '"ok": false' "$out") failed;" \
        "first: $(why_of "$out")"
fi

# 6. Still serving after all that.
still_up "200 concurrent sessions"
out=$E2E_TMP/after.json
socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 1M --seed 99 >"$out" 2>&1 ||
    soft_fail "a session after the tests failed: $(why_of "$out")"

# 7. evproxy -t -c: good config -> 0; each broken one -> 1 with the JSON path named.
check_t() {
    local name=$1 want_rc=$2 want_text=$3 rc
    timeout 10 "$EVP_BIN" -t -c "$E2E_TMP/$name.json" >"$E2E_TMP/t-$name.log" 2>&1
    rc=$?
    if [ "$rc" != "$want_rc" ]; then
        soft_fail "evproxy -t -c $name.json: exit $rc, want $want_rc: $(head -c 300 \
            "$E2E_TMP/t-$name.log")"
    elif [ -n "$want_text" ] && ! grep -qF -- "$want_text" "$E2E_TMP/t-$name.log"; then
        soft_fail "evproxy -t -c $name.json: message does not name '$want_text': $(head -c 300 \
            "$E2E_TMP/t-$name.log")"
    else
        pass "evproxy -t -c $name.json: exit $rc${want_text:+, names $want_text}"
    fi
}
if [ "$EVP_IMPL" = evproxy ]; then
    read -r P1 P2 < <(ports 2 | tr '\n' ' ')
    cfg_socks_freedom "$E2E_TMP/good.json" "$P1"
    cfg_vmess_server "$E2E_TMP/good-vmess.json" "$P2" "$UUID_GOOD" 0
    check_t good 0 ""
    check_t good-vmess 0 ""
    # The same configs with one thing broken each.
    sed 's/"port": '"$P1"'/"port": 70000/' "$E2E_TMP/good.json" >"$E2E_TMP/bad-port.json"
    check_t bad-port 1 "inbounds[0].port"
    sed 's/"protocol": "socks"/"protocol": "no-such-protocol"/' "$E2E_TMP/good.json" \
        >"$E2E_TMP/bad-protocol.json"
    check_t bad-protocol 1 "inbounds[0].protocol"
    sed 's/"id": "'"$UUID_GOOD"'"/"id": "abc"/' "$E2E_TMP/good-vmess.json" \
        >"$E2E_TMP/bad-uuid.json"
    check_t bad-uuid 1 "inbounds[0].settings.clients[0].id"
    sed 's/"outboundTag": "direct"/"outboundTag": "nowhere"/' "$E2E_TMP/good.json" \
        >"$E2E_TMP/unknown-tag.json"
    # accepted as V2Ray 4.34 accepts it (e2e 11), with a warning naming the rule
    check_t unknown-tag 0 "routing.rules[0].outboundTag"
    head -c 200 "$E2E_TMP/good.json" >"$E2E_TMP/bad-json.json"
    check_t bad-json 1 "bad-json.json"
    # A V2Ray client config with an unknown security, and one without vnext.
    cfg_vmess_client "$E2E_TMP/good-client.json" "$P1" "$P2" "$UUID_GOOD" 0 aes-128-gcm
    check_t good-client 0 ""
    sed 's/"security": "aes-128-gcm"/"security": "aes-256-xyz"/' "$E2E_TMP/good-client.json" \
        >"$E2E_TMP/bad-security.json"
    check_t bad-security 1 'outbounds[0].settings.vnext[0].users[0].security: "aes-256-xyz" is not one of'
    "$PY" - "$E2E_TMP/good-client.json" "$E2E_TMP/no-vnext.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
del c["outbounds"][0]["settings"]["vnext"]
json.dump(c, open(sys.argv[2], "w"))
PYEOF
    check_t no-vnext 1 'outbounds[0].settings: required property "vnext" is missing'
    # -t must not have left anything listening.
    if ss -ltnH "sport = :$P1" | grep -q .; then
        soft_fail "evproxy -t left something listening on $P1"
    fi
else
    info "EVP_IMPL=$EVP_IMPL: skipping the evproxy -t checks"
fi

still_up "the -t checks"

# 8. A second daemon on the ports the first holds (TCP: socks; UDP: a dokodemo-door) exits
#    at start-up naming the address in use, as V2Ray does, and the first serves on. The
#    workers' SO_REUSEPORT (and SO_REUSEADDR, which alone shares a UDP port) let it bind
#    them too, run, and take some of the first one's clients.
read -r UDP_PORT < <(ports 1)
cat >"$E2E_TMP/udp.json" <<EOF
{
  "log": {"loglevel": "warning"},
  "inbounds": [{"tag": "udp-in", "listen": "127.0.0.1", "port": $UDP_PORT,
                "protocol": "dokodemo-door",
                "settings": {"address": "127.0.0.1", "port": $ECHO, "network": "udp"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
start_evproxy udp-first "$E2E_TMP/udp.json" "$UDP_PORT/udp"
UDP_PID=$LAST_PID
for twin in socks udp; do
    if [ "$EVP_IMPL" = v2ray ]; then
        start_bg "$twin-twin" "$V2RAY" -config "$E2E_TMP/$twin.json"
    else
        start_bg "$twin-twin" "$EVP_BIN" -c "$E2E_TMP/$twin.json"
    fi
    twin_pid=$LAST_PID
    for _ in $(seq 300); do alive "$twin_pid" || break; sleep 0.1; done
    if alive "$twin_pid"; then
        soft_fail "a second daemon on the $twin port of a running one is running too"
        stop_pid "$twin_pid"
    elif ! grep -qi 'address already in use' "$E2E_TMP/$twin-twin.log"; then
        soft_fail "a second daemon on the $twin port: $(death_note "$twin_pid"), log:" \
            "$(head -c 200 "$E2E_TMP/$twin-twin.log")"
    else
        pass "a second daemon on the $twin port exits: $(grep -i -m1 'in use' \
            "$E2E_TMP/$twin-twin.log" | cut -c1-120)"
    fi
done
alive "$UDP_PID" || soft_fail "the UDP daemon died ($(death_note "$UDP_PID"))"
out=$E2E_TMP/after-twin.json
if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 1M --seed 61 >"$out" 2>&1; then
    pass "the first daemon serves on after the second one was refused"
else
    soft_fail "after a second daemon: $(why_of "$out")"
fi
still_up "a second daemon on its port"
finish
