#!/usr/bin/env bash
# Active probing of a VMess inbound: the evproxy server must answer no probe and treat every
# failed handshake alike, so that no probe class can be told from random bytes. probe.py
# sends, concurrently, each of:
#   - a real evproxy client's handshake (captured by a relay), replayed 24 times;
#   - random bytes of every length 1..512;
#   - a valid AEAD header with one bit flipped, for every bit of the header;
#   - a valid AuthID + garbage, a legacy auth of a wrong user + garbage, a valid legacy
#     auth + garbage (lengths 17..512), a legacy header with a bad command (valid checksum);
#   - the same with the first 16 bytes sent 0.2 s before the rest ("/split");
#   - controls: valid AEAD and legacy requests, which must be answered.
# Checked for evproxy: 0 reply bytes, every connection closed with FIN (no RST, none left
# open past the handshake deadline), and one drain threshold explains every close (a probe
# closes early only when it is at least as long as the bytes drained, whatever its class).
# The same probes run against V2Ray 4.34; its column is shown, not checked.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
# The probe tools need the `cryptography` package (Debian: python3-cryptography).
"$PY" -c 'import cryptography' 2>/dev/null || PY=/usr/bin/python3
HS=3 # the servers' handshake deadline (policy level 0), short to keep the run short

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
read -r SP VP CP < <(ports 3 | tr '\n' ' ')

# probe_server FILE PORT: the vmess server config with a $HS s handshake deadline.
probe_server() {
    cfg_vmess_server "$1" "$2" "$UUID_GOOD" 0
    sed -i "2a\\  \"policy\": {\"levels\": {\"0\": {\"handshake\": $HS}}}," "$1"
}
probe_server "$E2E_TMP/evproxy.json" "$SP"
# Every probe is let in at once (the default caps would queue some past the deadline).
sed -i '2a\  "limits": {"maxSessions": 100000, "maxHandshakes": 100000},' "$E2E_TMP/evproxy.json"
start_evproxy server "$E2E_TMP/evproxy.json" "$SP"
S_PID=$LAST_PID
probe_server "$E2E_TMP/v2ray.json" "$VP"
start_v2ray v2ray "$E2E_TMP/v2ray.json" "$VP"
V_PID=$LAST_PID
info "evproxy $SP, v2ray $VP, echo $ECHO"

# capture NAME SERVER_PORT: a real evproxy client's first bytes to that server, via a relay.
capture() {
    local name=$1 port=$2 cap=$E2E_TMP/capture-$1.bin relay
    start_tool "relay-$name" capture_proxy.py --upstream "127.0.0.1:$port" --capture "$cap" \
        --limit 4096
    relay=$LAST_PID
    cfg_vmess_client "$E2E_TMP/client-$name.json" "$CP" "$TOOL_PORT" "$UUID_GOOD" 0 aes-128-gcm
    start_evproxy "client-$name" "$E2E_TMP/client-$name.json" "$CP"
    socks_stream "$CP" "127.0.0.1:$ECHO" --bytes 4k --seed 34 >"$E2E_TMP/cap-$name.json" 2>&1 ||
        fail "capture via $name: the real client was not served: $(why_of "$E2E_TMP/cap-$name.json")"
    stop_pid "$LAST_PID"
    wait_file "$cap" 5 || fail "capture via $name: nothing captured"
    stop_pid "$relay"
}

# probe NAME PORT: every probe against that server, results in $E2E_TMP/NAME.probe.json.
probe() {
    timeout -k 5 120 "$PY" "$TOOLS/probe.py" run --connect "127.0.0.1:$2" --label "$1" \
        --uuid "$UUID_GOOD" --wrong-uuid "$UUID_WRONG" --deadline "$HS" --echo-port "$ECHO" \
        --capture "$E2E_TMP/capture-$1.bin" --json "$E2E_TMP/$1.probe.json" ||
        fail "probe.py against $1 failed"
}

"$PY" "$TOOLS/vmess_craft.py" >"$E2E_TMP/vectors.log" 2>&1 ||
    fail "vmess_craft.py: $(cat "$E2E_TMP/vectors.log")"
capture evproxy "$SP"
capture v2ray "$VP"
probe evproxy "$SP"
alive "$S_PID" || fail "the evproxy server died ($(death_note "$S_PID"))"
probe v2ray "$VP"
alive "$V_PID" || info "V2Ray died under the probes ($(death_note "$V_PID"))"

out=$E2E_TMP/report.txt
if "$PY" "$TOOLS/probe.py" report --json "$E2E_TMP/evproxy.probe.json" \
    --json "$E2E_TMP/v2ray.probe.json" --check "$E2E_TMP/evproxy.probe.json" >"$out" 2>&1; then
    pass "evproxy: no reply, FIN only, one drain threshold for every probe class"
else
    grep '^problem: ' "$out" | sed 's/^problem: //' | while read -r line; do
        printf 'FAIL: %s\n' "$line"
    done
    soft_fail "evproxy's probe classes can be told apart (see above)"
fi
grep '^| ' "$out"
finish
