#!/usr/bin/env bash
# The "limits" block (README, Limits), each cap on a daemon of its own:
#   maxSessions 5: the 6th client is not served while 5 sessions run, and is once one ends;
#     after a reload to maxSessions 2, the 3rd is held back;
#   maxHandshakes 3: 3 silent connections hold the 4th back until the handshake deadline
#     (5 s: well past the probe's 1.5 s look, however late a loaded machine starts it)
#     closes them;
#   udpIdle 2: a UDP association that carries nothing is closed, a busy one is not;
#   maxUdpAssociations 2: the 3rd association is refused;
#   DNS (dns.servers pointing at a counting server on loopback): a name looked up twice is
#     asked once, a name that does not exist too, and with dnsMaxInflight 2 no more than two
#     names are asked at once while six are wanted; with the cache times at 0, every fetch
#     asks again (the control for the counts).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| limits are evproxy's own block (V2Ray ignores it): skipped"
    finish
fi
need_evproxy
start_tool echo echo_server.py
ECHO=$TOOL_PORT
start_tool udp udp_responder.py
UDP=$TOOL_PORT
start_tool http http_server.py --page "$E2E_ROOT/README.md"
HTTP=$TOOL_PORT
start_tool dns dns_server.py --slow 1.5
DNS=$TOOL_PORT
read -r P1 P2 P3 P4 < <(ports 4 | tr '\n' ' ')

# limits_config FILE PORT LIMITS_JSON [EXTRA_TOP_LEVEL_JSON]
limits_config() {
    cat >"$1" <<JSON
{
  "log": {"loglevel": "info"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth", "udp": true, "ip": "127.0.0.1"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom"}],
  "policy": {"levels": {"0": {"handshake": 5}}},
  ${4:-}
  "limits": $3
}
JSON
}

PROBE=("$PY" "$TOOLS/limits_probe.py")

# once LOG PATTERN WHAT: PATTERN is logged exactly once (warnings come at most once a minute).
once() {
    local n
    n=$(grep -c -- "$2" "$E2E_TMP/$1.log")
    if [ "$n" = 1 ]; then pass "$3 (logged once)"; else soft_fail "$3: logged $n times"; fi
}

# --- maxSessions, and a reload that lowers it -------------------------------------------
limits_config "$E2E_TMP/sessions.json" "$P1" '{"maxSessions": 5}'
start_evproxy sessions "$E2E_TMP/sessions.json" "$P1"
EVP=$LAST_PID
expect_ok sessions "maxSessions 5: the 6th waits until one of 5 ends" \
    "${PROBE[@]}" sessions 5 --socks "127.0.0.1:$P1" --target "127.0.0.1:$ECHO"
once sessions "maxSessions 5; not accepting" "maxSessions reached"
limits_config "$E2E_TMP/sessions.json" "$P1" '{"maxSessions": 2}'
kill -HUP "$EVP"
for _ in $(seq 100); do grep -q "reload applied" "$E2E_TMP/sessions.log" && break; sleep 0.1; done
expect_ok sessions "after a reload to maxSessions 2: the 3rd waits" \
    "${PROBE[@]}" sessions 2 --socks "127.0.0.1:$P1" --target "127.0.0.1:$ECHO"
stop_pid "$EVP"

# --- maxHandshakes -----------------------------------------------------------------------
limits_config "$E2E_TMP/hs.json" "$P2" '{"maxHandshakes": 3}'
start_evproxy hs "$E2E_TMP/hs.json" "$P2"
expect_ok hs "maxHandshakes 3: clients that never name a target hold the 4th back until the 5 s deadline" \
    "${PROBE[@]}" handshakes 3 --socks "127.0.0.1:$P2" --target "127.0.0.1:$ECHO"
once hs "maxHandshakes 3; not accepting" "maxHandshakes reached"
stop_pid "$LAST_PID"

# --- udpIdle and maxUdpAssociations ------------------------------------------------------
limits_config "$E2E_TMP/udp.json" "$P3" '{"udpIdle": 2, "maxUdpAssociations": 2}'
start_evproxy udpidle "$E2E_TMP/udp.json" "$P3"
expect_ok udpidle "udpIdle 2: a silent association is closed, a busy one stays" \
    "${PROBE[@]}" assoc-idle --socks "127.0.0.1:$P3" --target "127.0.0.1:$UDP"
stop_pid "$LAST_PID"
start_evproxy udpcap "$E2E_TMP/udp.json" "$P3"
expect_ok udpcap "maxUdpAssociations 2: the 3rd association is refused" \
    "${PROBE[@]}" assoc-cap 2 --socks "127.0.0.1:$P3"
once udpcap "maxUdpAssociations 2; new UDP associations are refused" "maxUdpAssociations reached"
stop_pid "$LAST_PID"

# --- DNS: cache, negative cache, in-flight cap -------------------------------------------
limits_config "$E2E_TMP/dns.json" "$P4" \
    '{"dnsMaxInflight": 2, "dnsCacheSeconds": 120, "dnsNegativeCacheSeconds": 120}' \
    "\"dns\": {\"servers\": [{\"address\": \"127.0.0.1\", \"port\": $DNS}]},"
start_evproxy dnsd "$E2E_TMP/dns.json" "$P4"
fetch() { # fetch NAME: the HTTP status through the proxy (000 when it failed)
    curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
        --socks5-hostname "127.0.0.1:$P4" "http://$1:$HTTP/"
}
asked() { # asked NAME: queries the DNS server got for NAME
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["queries"].get(sys.argv[2], 0))' \
        "$E2E_TMP/dns.stats" "$1" 2>/dev/null || echo 0
}
max_pending() {
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_names_pending"])' \
        "$E2E_TMP/dns.stats" 2>/dev/null || echo -1
}
# asked_once NAME HTTP_CODE WHAT: NAME fetched twice gets HTTP_CODE both times (000: failed),
# and the second fetch asks the DNS server nothing.
asked_once() {
    local c1 c2 q1 q2
    c1=$(fetch "$1")
    q1=$(asked "$1")
    c2=$(fetch "$1")
    q2=$(asked "$1")
    if [ "$c1" = "$2" ] && [ "$c2" = "$2" ] && [ "$q1" -gt 0 ] && [ "$q2" = "$q1" ]; then
        pass "$3: HTTP $c1 $c2, $q1 then $q2 queries"
    else
        soft_fail "$3: HTTP $c1 $c2 (want $2), queries $q1 then $q2 (want >0, then the same)"
        show_log dnsd
    fi
}
asked_once ok.test 200 "a name fetched twice is asked once"
asked_once nx.test 000 "a name that does not exist is asked once for two fetches"
DNSD=$LAST_PID
fetchers=()
for i in 1 2 3 4 5 6; do
    fetch "slow$i.test" >"$E2E_TMP/slow$i.code" &
    fetchers+=($!)
done
wait "${fetchers[@]}"
codes=$(cat "$E2E_TMP"/slow*.code | tr -d '\n')
peak=$(max_pending)
if [ "$codes" = 200200200200200200 ] && [ "$peak" -ge 1 ] && [ "$peak" -le 2 ]; then
    pass "six slow names at once with dnsMaxInflight 2: all served, at most $peak asked at once"
else
    soft_fail "in-flight cap: HTTP $codes, at most $peak names asked at once (want <= 2)"
    show_log dnsd
fi
stop_pid "$DNSD"

# The same fetches with caching off must reach the server each time: the counts above
# measure the cache, not something else.
limits_config "$E2E_TMP/nocache.json" "$P4" '{"dnsCacheSeconds": 0, "dnsNegativeCacheSeconds": 0}' \
    "\"dns\": {\"servers\": [{\"address\": \"127.0.0.1\", \"port\": $DNS}]},"
start_evproxy nocache "$E2E_TMP/nocache.json" "$P4"
fetch again.test >/dev/null
q1=$(asked again.test)
fetch again.test >/dev/null
fetch nx2.test >/dev/null
n1=$(asked nx2.test)
fetch nx2.test >/dev/null
if [ "$(asked again.test)" -gt "$q1" ] && [ "$(asked nx2.test)" -gt "$n1" ]; then
    pass "with the cache times at 0 every fetch asks the server"
else
    soft_fail "cache off: again.test $q1 -> $(asked again.test), nx2.test $n1 -> $(asked nx2.test)"
fi
stop_pid "$LAST_PID"
finish
