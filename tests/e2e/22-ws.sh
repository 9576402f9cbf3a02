#!/usr/bin/env bash
# VMess over WebSocket (plugin/ws) against the real V2Ray 4.34 and behind Debian's nginx:
#   a: V2Ray client (vmess + ws)  -> evproxy (vmess + ws) -> freedom -> echo
#   b: evproxy client (vmess + ws) -> V2Ray server (vmess + ws) -> freedom -> echo
#   c: V2Ray client -> nginx (location /ws upgraded, X-Forwarded-For appended) -> evproxy:
#      evproxy's access log names the address X-Forwarded-For gave, nginx's shows the 101
#   d: evproxy client -> nginx -> V2Ray server
#   e: early data (4.34 has none): evproxy client -> nginx -> evproxy, in
#      Sec-WebSocket-Protocol with ?ed=2048 on the path, and in a named header direct
#   f: refusals as V2Ray's: another path gets 404, a plain GET 400; the daemon serves on
#   g: with tls.so built, a and b over ws + tls (a certificate made at test time)
# E2E_WS_BYTES (16 MiB) each way with sha256.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    info "V2Ray has no ws.so: nothing to check against itself here"
    finish
fi
[ -f "$EVP_BUILD/plugins/ws.so" ] || fail "$EVP_BUILD/plugins/ws.so not built"
command -v nginx >/dev/null || fail "nginx is not installed (contrib/install-deps.sh test)"
SIZE=${E2E_WS_BYTES:-16M}

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

# server_cfg FILE PORT WS_SETTINGS [ACCESS_LOG [TLS_SETTINGS]]: vmess + ws (+ tls) inbound ->
# freedom.
server_cfg() {
    local tls=''
    [ -n "${5:-}" ] && tls=", \"security\": \"tls\", \"tlsSettings\": $5"
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "info"${4:+, \"access\": \"$4\"}},
  "inbounds": [{"tag": "ws-in", "listen": "127.0.0.1", "port": $2, "protocol": "vmess",
                "settings": {"clients": [{"id": "$UUID_GOOD", "alterId": 0}]},
                "streamSettings": {"network": "ws", "wsSettings": $3$tls}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF2
}

# client_cfg FILE SOCKS SERVER_PORT WS_SETTINGS [TLS_SETTINGS]: socks -> vmess + ws (+ tls)
# outbound.
client_cfg() {
    local tls=''
    [ -n "${5:-}" ] && tls=", \"security\": \"tls\", \"tlsSettings\": $5"
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "warning"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth", "udp": false}}],
  "outbounds": [{"tag": "ws-out", "protocol": "vmess",
                 "settings": {"vnext": [{"address": "127.0.0.1", "port": $3,
                   "users": [{"id": "$UUID_GOOD", "alterId": 0, "security": "aes-128-gcm"}]}]},
                 "streamSettings": {"network": "ws", "wsSettings": $4$tls}}]
}
EOF2
}

# transfer NAME SOCKS: SIZE each way through socks to the echo server, sha256 checked.
transfer() {
    local out=$E2E_TMP/$1.result.json
    if socks_stream "$2" "127.0.0.1:$ECHO" --bytes "$SIZE" --seed 5 >"$out" 2>&1; then
        pass "$1: $SIZE each way, sha256 match"
    else
        soft_fail "$1: $(why_of "$out")"
    fi
}

read -r S_A P_A S_B P_B N1 S_C P_C S_D P_D S_E1 S_E2 P_E < <(ports 12 | tr '\n' ' ')
WS='{"path": "/ws", "headers": {"Host": "example.com"}}'

# a: V2Ray client -> evproxy server.
server_cfg "$E2E_TMP/a.server.json" "$P_A" '{"path": "/ws"}'
client_cfg "$E2E_TMP/a.client.json" "$S_A" "$P_A" "$WS"
start_evproxy a.server "$E2E_TMP/a.server.json" "$P_A"
A_PID=$LAST_PID
start_v2ray a.client "$E2E_TMP/a.client.json" "$S_A"
transfer "a: V2Ray client -> evproxy ws inbound" "$S_A"

# b: evproxy client -> V2Ray server.
server_cfg "$E2E_TMP/b.server.json" "$P_B" '{"path": "/ws"}'
client_cfg "$E2E_TMP/b.client.json" "$S_B" "$P_B" "$WS"
start_v2ray b.server "$E2E_TMP/b.server.json" "$P_B"
start_evproxy b.client "$E2E_TMP/b.client.json" "$S_B"
transfer "b: evproxy ws outbound -> V2Ray" "$S_B"

# nginx in front of c's evproxy (/ws), d's V2Ray (/v2) and e's evproxy (/ed).
NG=$E2E_TMP/nginx
# shellcheck disable=SC2016 # nginx's own $variables
start_nginx "$NG" "$N1" \
    '$remote_addr "$request" $status "$http_x_forwarded_for" ed=$http_sec_websocket_protocol' \
    "    listen 127.0.0.1:$N1;
$(nginx_ws_location /ws "$P_C")
$(nginx_ws_location /v2 "$P_D")
$(nginx_ws_location /ed "$P_E")"

# c: the V2Ray client sends its own X-Forwarded-For; nginx appends the peer's address. The
# first one is the client's for evproxy (loopback, nginx here, is a trusted front).
server_cfg "$E2E_TMP/c.server.json" "$P_C" '{"path": "/ws"}' "$E2E_TMP/c.access.log"
client_cfg "$E2E_TMP/c.client.json" "$S_C" "$N1" \
    '{"path": "/ws", "headers": {"Host": "example.com", "X-Forwarded-For": "198.51.100.7"}}'
start_evproxy c.server "$E2E_TMP/c.server.json" "$P_C"
C_PID=$LAST_PID
start_v2ray c.client "$E2E_TMP/c.client.json" "$S_C"
transfer "c: V2Ray client -> nginx -> evproxy ws inbound" "$S_C"
if grep -q '^[0-9/]* [0-9:]* 198\.51\.100\.7:0 accepted' "$E2E_TMP/c.access.log"; then
    pass "c: evproxy's access log names the client X-Forwarded-For gave (198.51.100.7)"
else
    soft_fail "c: no access line from 198.51.100.7: $(head -c 300 "$E2E_TMP/c.access.log")"
fi
if grep -q '"GET /ws HTTP/1.1" 101 "198.51.100.7"' "$NG/access.log"; then
    pass "c: nginx upgraded /ws (101) with the client's X-Forwarded-For"
else
    soft_fail "c: nginx's access log: $(head -c 300 "$NG/access.log")"
fi

# d: evproxy client -> nginx -> V2Ray server.
server_cfg "$E2E_TMP/d.server.json" "$P_D" '{"path": "/v2"}'
client_cfg "$E2E_TMP/d.client.json" "$S_D" "$N1" \
    '{"path": "/v2", "headers": {"Host": "cdn.example.com"}}'
start_v2ray d.server "$E2E_TMP/d.server.json" "$P_D"
start_evproxy d.client "$E2E_TMP/d.client.json" "$S_D"
transfer "d: evproxy ws outbound -> nginx -> V2Ray" "$S_D"

# e: early data. Through nginx in Sec-WebSocket-Protocol (Xray's form, ?ed=2048 on the path);
# straight to the server in a named header. The server's log says how much came early.
server_cfg "$E2E_TMP/e.server.json" "$P_E" '{"path": "/ed", "earlyDataHeaderName": "X-Ed"}'
start_evproxy e.server "$E2E_TMP/e.server.json" "$P_E"
E_PID=$LAST_PID
client_cfg "$E2E_TMP/e1.client.json" "$S_E1" "$N1" '{"path": "/ed?ed=2048", "maxEarlyData": 2048}'
client_cfg "$E2E_TMP/e2.client.json" "$S_E2" "$P_E" \
    '{"path": "/ed", "maxEarlyData": 2048, "earlyDataHeaderName": "X-Ed"}'
start_evproxy e1.client "$E2E_TMP/e1.client.json" "$S_E1"
start_evproxy e2.client "$E2E_TMP/e2.client.json" "$S_E2"
transfer "e: early data in Sec-WebSocket-Protocol through nginx" "$S_E1"
transfer "e: early data in a named header" "$S_E2"
if grep -Eq '"GET /ed\?ed=2048 HTTP/1.1" 101 .* ed=[A-Za-z0-9_-]{40,}$' "$NG/access.log"; then
    pass "e: nginx passed ?ed=2048 with early data in Sec-WebSocket-Protocol; /ed matched"
else
    soft_fail "e: nginx's access log: $(grep /ed "$NG/access.log" | head -c 300)"
fi

# f: refusals, answered as V2Ray 4.34 answers them.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' \
    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "http://127.0.0.1:$P_A/other")
if [ "$code" = 404 ]; then
    pass "f: another path: 404"
else
    soft_fail "f: another path got '$code'"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$P_A/ws")
if [ "$code" = 400 ]; then
    pass "f: a GET that is no upgrade: 400"
else
    soft_fail "f: a plain GET got '$code'"
fi
if grep -q 'request for another path' "$E2E_TMP/a.server.log"; then
    pass "f: the refusal is logged with its reason"
else
    soft_fail "f: no 'request for another path' in a.server.log"
fi
transfer "f: the same server serves on" "$S_A"

# g: ws + tls both ways, with tls.so (a V2Ray 4.34 client checks nothing it is not told to).
if [ -f "$EVP_BUILD/plugins/tls.so" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=example.com -addext subjectAltName=DNS:example.com \
        -keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" >"$E2E_TMP/openssl.log" 2>&1 ||
        fail "openssl could not make a certificate"
    SRV_TLS="{\"certificates\": [{\"certificateFile\": \"$E2E_TMP/cert.pem\",
              \"keyFile\": \"$E2E_TMP/key.pem\"}]}"
    read -r S_G1 P_G1 S_G2 P_G2 < <(ports 4 | tr '\n' ' ')
    server_cfg "$E2E_TMP/g1.server.json" "$P_G1" '{"path": "/ws"}' "" "$SRV_TLS"
    client_cfg "$E2E_TMP/g1.client.json" "$S_G1" "$P_G1" "$WS" \
        '{"serverName": "example.com", "allowInsecure": true}'
    start_evproxy g1.server "$E2E_TMP/g1.server.json" "$P_G1"
    G_PID=$LAST_PID
    start_v2ray g1.client "$E2E_TMP/g1.client.json" "$S_G1"
    transfer "g: V2Ray client -> evproxy over ws + tls" "$S_G1"
    alive "$G_PID" || fail "the ws + tls server died: $(death_note "$G_PID")"
    server_cfg "$E2E_TMP/g2.server.json" "$P_G2" '{"path": "/ws"}' "" "$SRV_TLS"
    client_cfg "$E2E_TMP/g2.client.json" "$S_G2" "$P_G2" "$WS" \
        "{\"serverName\": \"example.com\", \"certificates\": [{\"usage\": \"verify\",
          \"certificateFile\": \"$E2E_TMP/cert.pem\"}]}"
    start_v2ray g2.server "$E2E_TMP/g2.server.json" "$P_G2"
    start_evproxy g2.client "$E2E_TMP/g2.client.json" "$S_G2"
    transfer "g: evproxy over ws + tls (its certificate trusted) -> V2Ray" "$S_G2"
else
    info "g: no tls.so in $EVP_BUILD/plugins: ws + tls not run"
fi

for p in "$A_PID" "$C_PID" "$E_PID"; do
    alive "$p" || fail "an evproxy server died: $(death_note "$p")"
done
finish
