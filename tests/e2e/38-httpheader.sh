#!/usr/bin/env bash
# Transports against real peers:
#   HTTP header (tcpSettings.header.type "http") with the real V2Ray 4.34, both directions,
#   E2E_HDR_BYTES (16 MiB) each way through socks to a loopback echo server, sha256 checked,
#   each client's first bytes recorded by a relay (they must be V2Ray's request); a V2Ray
#   client asking for a path the evproxy server does not serve is refused, and curl gets
#   V2Ray's 404 from it.
#   PROXY protocol (acceptProxyProtocol) on an evproxy socks inbound: v1 and v2
#   headers naming 203.0.113.7:4242 and [2001:db8::7]:4243 (a python sender), LOCAL and
#   UNKNOWN, then nginx's stream proxy (proxy_protocol on) in front with the client on
#   127.0.0.2 (and haproxy's send-proxy-v2 with one on 127.0.0.3): the access log shows the
#   address the front named; a client without a header
#   is refused.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
SIZE=${E2E_HDR_BYTES:-16M}
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

HEADER='{"network": "tcp", "tcpSettings": {"header": {"type": "http"}}}'
# The same on the server, but a path V2Ray's default client does not ask for.
HEADER_PATH='{"network": "tcp", "tcpSettings": {"header": {"type": "http",
              "request": {"path": ["/video", "/feed"]}}}}'

# Both sides configured alike: several paths and header values, a custom response.
HEADER_CUSTOM='{"network": "tcp", "tcpSettings": {"header": {"type": "http",
    "request": {"version": "1.1", "method": "POST", "path": ["/video", "/feed/x"],
                "headers": {"Host": ["cdn.example.com", "img.example.com"], "X-Seq": "1,2,3"}},
    "response": {"status": "206", "reason": "Partial Content",
                 "headers": {"Content-Type": ["video/mp4"]}}}}}'

# http_cell ID DIR SERVER_STREAM [CLIENT_STREAM]: DIR a = V2Ray client -> evproxy server, b =
# the reverse. Leaves the client's socks port in CELL_SOCKS, the capture in $E2E_TMP/ID.head.
http_cell() {
    local id=$1 dir=$2 stream=$3 client_stream=${4:-$HEADER} sp cp
    read -r sp cp < <(ports 2 | tr '\n' ' ')
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 64
    cfg_vmess_server "$E2E_TMP/$id.server.json" "$sp" "$UUID_GOOD" 0
    cfg_vmess_client "$E2E_TMP/$id.client.json" "$cp" "$TOOL_PORT" "$UUID_GOOD" 0 aes-128-gcm
    with_stream "$E2E_TMP/$id.server.json" "$stream"
    with_stream "$E2E_TMP/$id.client.json" "$client_stream"
    if [ "$dir" = a ]; then
        start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$sp"
        start_v2ray "$id.client" "$E2E_TMP/$id.client.json" "$cp"
    else
        start_v2ray "$id.server" "$E2E_TMP/$id.server.json" "$sp"
        start_evproxy "$id.client" "$E2E_TMP/$id.client.json" "$cp"
    fi
    CELL_SOCKS=$cp
    CELL_SERVER=$sp
}

# The recorded first bytes must be V2Ray's default request line and first header.
check_request() {
    local id=$1 who=$2
    if wait_file "$E2E_TMP/$id.head" 5 &&
        head -c 40 "$E2E_TMP/$id.head" | tr '\r\n' '<>' |
        grep -qE '^GET / HTTP/1\.1<>Host: www\.(baidu|bing)\.com<>'; then
        pass "$who sent V2Ray's request header first"
    else
        soft_fail "$who did not start with V2Ray's request: $(head -c 40 "$E2E_TMP/$id.head" |
            tr '\r\n' '<>')"
    fi
}

# stream_ok LOG WHAT SEED: SIZE bytes each way through the cell's socks port, sha256 checked.
stream_ok() {
    local out
    if out=$(socks_stream "$CELL_SOCKS" "127.0.0.1:$ECHO" --bytes "$SIZE" --seed "$3" --quiet \
        2>&1); then
        pass "$2: $(tail -1 <<<"$out")"
    else
        soft_fail "$2: $out"
        show_log "$1"
    fi
}

info "http header: V2Ray 4.34 client -> evproxy server"
http_cell v2e a "$HEADER"
stream_ok v2e.server "v2ray -> evproxy, tcp + http header, $SIZE each way" 21
check_request v2e "the V2Ray client"
# A probe asking for a path the server does not serve gets V2Ray's 404, and is logged.
if out=$(curl -sS -i --max-time 10 "http://127.0.0.1:$CELL_SERVER/nope" 2>&1) &&
    printf '%s' "$out" | head -1 | grep -q '^HTTP/1.1 404 Not Found'; then
    pass "curl GET /nope -> $(printf '%s' "$out" | head -1 | tr -d '\r')"
else
    soft_fail "curl GET /nope: $(printf '%s' "$out" | head -3 | tr '\r\n' '  ')"
fi

info "http header: evproxy client -> V2Ray 4.34 server"
http_cell e2v b "$HEADER"
stream_ok e2v.client "evproxy -> v2ray, tcp + http header, $SIZE each way" 22
check_request e2v "the evproxy client"

for dir in a b; do
    info "http header, configured alike on both sides, direction $dir"
    http_cell "custom-$dir" "$dir" "$HEADER_CUSTOM" "$HEADER_CUSTOM"
    stream_ok "custom-$dir.server" "$([ "$dir" = a ] && echo "v2ray -> evproxy" ||
        echo "evproxy -> v2ray"), configured request and response, $SIZE each way" 24
    if wait_file "$E2E_TMP/custom-$dir.head" 5 &&
        head -c 24 "$E2E_TMP/custom-$dir.head" | grep -qaE '^POST /(video|feed/x) HTTP/1\.1'; then
        pass "direction $dir: the configured request line on the wire"
    else
        soft_fail "direction $dir: $(head -c 30 "$E2E_TMP/custom-$dir.head" | tr '\r\n' '<>')"
    fi
done

info "http header: a V2Ray client asking for / of an evproxy server serving /video and /feed"
http_cell path a "$HEADER_PATH"
if socks_stream "$CELL_SOCKS" "127.0.0.1:$ECHO" --bytes 64K --seed 23 --timeout 10 \
    >"$E2E_TMP/path.out" 2>&1; then
    soft_fail "a request for an unserved path was relayed"
elif grep -q 'transport http-header: request for a path not configured' \
    "$E2E_TMP/path.server.log"; then
    pass "a request for / refused with 404 by a server serving /video and /feed"
else
    soft_fail "no 404 refusal logged"
    show_log path.server
fi

# ---- PROXY protocol ----------------------------------------------------------------
read -r DP DK < <(ports 2 | tr "\n" " ")
cat >"$E2E_TMP/pp.json" <<EOF
{
  "log": {"loglevel": "info", "access": "$E2E_TMP/access.log",
          "accessFormat": "xray"},
  "inbounds": [
    {
      "tag": "front-in", "listen": "127.0.0.1", "port": $DP, "protocol": "socks",
      "settings": {"auth": "noauth", "udp": false},
      "streamSettings": {"network": "tcp", "tcpSettings": {"acceptProxyProtocol": true}}
    },
    {
      "tag": "door-in", "listen": "127.0.0.1", "port": $DK, "protocol": "dokodemo-door",
      "settings": {"address": "127.0.0.1", "port": $ECHO, "network": "tcp"},
      "streamSettings": {"network": "tcp", "tcpSettings": {"acceptProxyProtocol": true}}
    }
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
start_evproxy pp "$E2E_TMP/pp.json" "$DP"

# pp_send HEADER CLAIM [ARGS...]: the python sender against the inbound; its JSON in pp.out.
pp_send() {
    local kind=$1 claim=$2
    shift 2
    timeout -k 5 60 "$PY" "$TOOLS/proxy_header_client.py" --connect "127.0.0.1:$DP" \
        --header "$kind" --claim "$claim" --socks "127.0.0.1:$ECHO" --bytes 1M --timeout 30 \
        "$@" >"$E2E_TMP/pp.out" 2>&1
}

# access_shows FROM [INBOUND]: the access log (Xray's form, naming the inbound) has a line from
# FROM (it is written when the target is connected, so it may trail the client by a moment).
access_shows() {
    for _ in $(seq 50); do
        grep -qF " from $1 accepted tcp:127.0.0.1:$ECHO [${2:-front-in} >> direct]" \
            "$E2E_TMP/access.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

for cell in "v1 203.0.113.7:4242" "v2 [2001:db8::7]:4243" "v2 198.51.100.9:65535" \
    "v1 [2001:db8::ff]:1"; do
    read -r kind claim <<<"$cell"
    if pp_send "$kind" "$claim" --seed 31 && access_shows "$claim"; then
        pass "PROXY $kind naming $claim: 1M echoed, the access log shows $claim"
    else
        soft_fail "PROXY $kind naming $claim: $(tail -1 "$E2E_TMP/pp.out")"
        tail -3 "$E2E_TMP/access.log" 2>/dev/null | sed 's/^/  | /'
    fi
done
# dokodemo-door names its target with no input: the host waits for the layers' first read,
# so the target is dialled (and the access line written) with the address the header named.
if timeout -k 5 60 "$PY" "$TOOLS/proxy_header_client.py" --connect "127.0.0.1:$DK" \
    --header v1 --claim 203.0.113.8:4244 --bytes 1M --timeout 30 --seed 34 \
    >"$E2E_TMP/dk.out" 2>&1 && access_shows 203.0.113.8:4244 door-in; then
    pass "PROXY v1 on a dokodemo-door inbound: 1M echoed, the access log shows 203.0.113.8:4244"
else
    soft_fail "PROXY v1 on dokodemo-door: $(tail -1 "$E2E_TMP/dk.out")"
    tail -3 "$E2E_TMP/access.log" 2>/dev/null | sed 's/^/  | /'
fi
for kind in v2-local v1-unknown; do
    if pp_send "$kind" 192.0.2.1:1 --seed 32 &&
        access_shows "$(sed -n 's/^{"local": "\(.*\)"}$/\1/p' "$E2E_TMP/pp.out")"; then
        pass "PROXY $kind: relayed, the access log shows the socket's own address"
    else
        soft_fail "PROXY $kind: $(tail -1 "$E2E_TMP/pp.out")"
    fi
done
if pp_send none 192.0.2.1:1 --seed 33 --timeout 10; then
    soft_fail "a client without a PROXY header was relayed"
elif grep -qE '"recv": 0,|connect: closed after 0 ' "$E2E_TMP/pp.out" &&
    grep -q 'transport proxy-protocol: PROXY protocol: the connection does not start' \
        "$E2E_TMP/pp.log"; then
    pass "a client without a PROXY header: refused, nothing echoed, the reason logged"
else
    soft_fail "no-header client: $(tail -1 "$E2E_TMP/pp.out")"
    show_log pp 5
fi

# behind_front NAME PORT CLIENT_IP SEED WHAT: a client on CLIENT_IP through the front on PORT
# (which adds the PROXY header) to the socks inbound: SIZE echoed and the access log shows the
# client's own address. 0 on a pass; a soft failure otherwise.
behind_front() {
    local name=$1 port=$2 ip=$3 seed=$4 what=$5
    if timeout -k 5 60 "$PY" "$TOOLS/proxy_header_client.py" --connect "127.0.0.1:$port" \
        --header none --bind "$ip" --socks "127.0.0.1:$ECHO" --bytes "$SIZE" --seed "$seed" \
        --timeout 30 >"$E2E_TMP/$name.out" 2>&1 &&
        access_shows "$(sed -n 's/^{"local": "\(.*\)"}$/\1/p' "$E2E_TMP/$name.out")"; then
        pass "client on $ip -> $what -> evproxy: $SIZE echoed," \
            "access log: $(grep -F " $ip:" "$E2E_TMP/access.log" | tail -1 | cut -d' ' -f3-)"
        return 0
    fi
    soft_fail "behind $name: $(tail -1 "$E2E_TMP/$name.out")"
    tail -3 "$E2E_TMP/access.log" 2>/dev/null | sed 's/^/  | /'
    return 1
}

# nginx's stream proxy with proxy_protocol on, the client connecting from 127.0.0.2.
NGX_MOD=/usr/lib/nginx/modules/ngx_stream_module.so
if [ ! -f "$NGX_MOD" ]; then
    soft_fail "nginx has no stream module ($NGX_MOD: apt-get install libnginx-mod-stream)"
else
    read -r NP < <(ports 1)
    mkdir -p "$E2E_TMP/nginx/logs"
    cat >"$E2E_TMP/nginx/nginx.conf" <<EOF
load_module $NGX_MOD;
pid $E2E_TMP/nginx/nginx.pid;
error_log $E2E_TMP/nginx/logs/error.log info;
worker_processes 1;
events { worker_connections 64; }
stream {
    server {
        listen 127.0.0.1:$NP;
        proxy_pass 127.0.0.1:$DP;
        proxy_protocol on;
    }
}
EOF
    start_bg nginx nginx -p "$E2E_TMP/nginx" -c "$E2E_TMP/nginx/nginx.conf" -e \
        "$E2E_TMP/nginx/logs/error.log" -g 'daemon off;'
    wait_port "$NP" 10 tcp "$LAST_PID" || { show_log nginx; fail "nginx did not listen"; }
    behind_front nginx "$NP" 127.0.0.2 34 "nginx (proxy_protocol on)" ||
        tail -3 "$E2E_TMP/nginx/logs/error.log" 2>/dev/null | sed 's/^/  | /'
fi

# haproxy in tcp mode with send-proxy-v2 (the binary header), the client on 127.0.0.3.
if ! command -v haproxy >/dev/null; then
    soft_fail "haproxy is not installed (apt-get install haproxy)"
else
    read -r HP < <(ports 1)
    cat >"$E2E_TMP/haproxy.cfg" <<EOF
global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
listen front
    bind 127.0.0.1:$HP
    server evproxy 127.0.0.1:$DP send-proxy-v2
EOF
    start_bg haproxy haproxy -db -f "$E2E_TMP/haproxy.cfg"
    wait_port "$HP" 10 tcp "$LAST_PID" || { show_log haproxy; fail "haproxy did not listen"; }
    behind_front haproxy "$HP" 127.0.0.3 35 "haproxy (send-proxy-v2)" || show_log haproxy 5
fi
finish
