#!/usr/bin/env bash
# evproxy <-> evproxy over a two-layer transport stack (streamSettings network ws + security
# tls), with tests/plugins' stand-in tls.so (xor) and ws.so (a framing layer with a HELLO/OK
# handshake and its own end marker) as the layers, so the host's stacking is tested before
# the real layers exist:
#   - socks -> freedom (redirect, layers) -> dokodemo-door (layers) -> freedom -> echo:
#     16 MiB each way, sha256 match; a target's close reaches the client
#   - `evproxy -t` names a missing layer module, a layer's refused settings and a refused
#     network with their paths (exit 1)
#   - a reload whose layer refuses its settings is refused, and the old config goes on
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    info "stand-in layers are evproxy plugins: nothing to check against V2Ray here"
    finish
fi
LAYERS=$EVP_BUILD/tests/plugins
[ -f "$LAYERS/ws.so" ] && [ -f "$LAYERS/tls.so" ] || fail "$LAYERS/{ws,tls}.so not built (make unit)"
SS='{"network": "ws", "security": "tls", "wsSettings": {"path": "/x"}}'

read -r SOCKS SERVER < <(ports 2 | tr '\n' ' ')
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool closer send_close_server.py --bytes 4M --seed 7
CLOSER=$TOOL_PORT

# server_cfg FILE WS_SETTINGS TARGET_PORT
server_cfg() {
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "info"},
  "inbounds": [{"tag": "layered-in", "listen": "127.0.0.1", "port": $SERVER,
                "protocol": "dokodemo-door",
                "settings": {"address": "127.0.0.1", "port": $3, "network": "tcp"},
                "streamSettings": {"network": "ws", "security": "tls", "wsSettings": $2}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom"}]
}
EOF2
}
# client_cfg FILE
client_cfg() {
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "warning"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $SOCKS, "protocol": "socks",
                "settings": {"auth": "noauth"}}],
  "outbounds": [{"tag": "layered-out", "protocol": "freedom",
                 "settings": {"redirect": "127.0.0.1:$SERVER"}, "streamSettings": $SS}]
}
EOF2
}

server_cfg "$E2E_TMP/server.json" '{"path": "/x"}' "$ECHO"
client_cfg "$E2E_TMP/client.json"
EVP_ENV="EVPROXY_PLUGIN_DIR=$LAYERS" start_evproxy server "$E2E_TMP/server.json" "$SERVER"
S_PID=$LAST_PID
EVP_ENV="EVPROXY_PLUGIN_DIR=$LAYERS" start_evproxy client "$E2E_TMP/client.json" "$SOCKS"
C_PID=$LAST_PID
info "client socks $SOCKS -> layered server $SERVER -> echo $ECHO"

# 1. Bulk both ways through both stacks.
out=$E2E_TMP/bulk.json
if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 16M --seed 3 >"$out" 2>&1; then
    pass "16 MiB each way through [tls, ws] stand-ins on both evproxies, sha256 match"
else
    soft_fail "bulk through the layers: $(why_of "$out")"
fi
alive "$S_PID" && alive "$C_PID" || fail "a daemon died during the bulk transfer"

# 2. -t: a missing layer module, a layer refusing its settings, a refused network.
mkdir -p "$E2E_TMP/empty"
if "$EVP_BIN" -t -c "$E2E_TMP/server.json" --plugin-dir "$E2E_TMP/empty" \
    >"$E2E_TMP/t1.log" 2>&1; then
    soft_fail "-t accepted a config whose layer modules are missing"
elif grep -q 'inbounds\[0\].streamSettings.security: no transport layer "tls"' "$E2E_TMP/t1.log"
then
    pass "-t names the missing layer module with its path"
else
    soft_fail "-t on a missing layer said: $(head -3 "$E2E_TMP/t1.log")"
fi
server_cfg "$E2E_TMP/bad-layer.json" '{"fail": true}' "$ECHO"
if "$EVP_BIN" -t -c "$E2E_TMP/bad-layer.json" --plugin-dir "$LAYERS" >"$E2E_TMP/t2.log" 2>&1
then
    soft_fail "-t accepted a layer's refused settings"
elif grep -q 'streamSettings.wsSettings: fail: this test layer refuses' "$E2E_TMP/t2.log"; then
    pass "-t reports the layer's own error (instance_new) with its settings' path"
else
    soft_fail "-t on refused layer settings said: $(head -3 "$E2E_TMP/t2.log")"
fi
sed 's/"network": "ws"/"network": "kcp"/' "$E2E_TMP/server.json" >"$E2E_TMP/kcp.json"
if "$EVP_BIN" -t -c "$E2E_TMP/kcp.json" --plugin-dir "$LAYERS" >"$E2E_TMP/t3.log" 2>&1; then
    soft_fail "-t accepted network kcp"
elif grep -q 'inbounds\[0\].streamSettings.network: "kcp" is not supported' "$E2E_TMP/t3.log"
then
    pass "-t refuses network kcp with its path"
else
    soft_fail "-t on kcp said: $(head -3 "$E2E_TMP/t3.log")"
fi

# 3. A reload whose layer refuses its settings is refused; the running config goes on.
cp "$E2E_TMP/bad-layer.json" "$E2E_TMP/server.json"
kill -HUP "$S_PID"
for _ in $(seq 100); do
    grep -q 'reload refused' "$E2E_TMP/server.log" && break
    sleep 0.1
done
if grep -q 'reload refused' "$E2E_TMP/server.log" &&
    grep -q 'fail: this test layer refuses' "$E2E_TMP/server.log"; then
    pass "a reload with a failing layer instance is refused, naming the layer's error"
else
    soft_fail "no refused reload logged: $(tail -3 "$E2E_TMP/server.log")"
fi
out=$E2E_TMP/after.json
if socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 1M --seed 4 >"$out" 2>&1; then
    pass "after the refused reload the old layers still carry sessions"
else
    soft_fail "after the refused reload: $(why_of "$out")"
fi

# 4. A target's close: its bytes, then its end, pass both stacks back to the client.
server_cfg "$E2E_TMP/server.json" '{"path": "/x"}' "$CLOSER"
kill -HUP "$S_PID"
for _ in $(seq 100); do
    grep -q 'reload applied' "$E2E_TMP/server.log" && break
    sleep 0.1
done
out=$E2E_TMP/download.json
if socks_stream "$SOCKS" "127.0.0.1:$CLOSER" --mode download --bytes 4M --seed 7 \
    >"$out" 2>&1; then
    pass "4 MiB then the target's close reach the client through both stacks"
else
    soft_fail "download then close through the layers: $(why_of "$out")"
fi
alive "$S_PID" && alive "$C_PID" || fail "a daemon died"
finish
