#!/usr/bin/env bash
# HTTP/2 transport (network "http", h2.so) in the real daemon, h2c as V2Ray 4.34's server
# serves it behind a TLS front, with curl (libcurl's nghttp2) as the client: a dokodemo-door
# inbound over h2 to loopback targets through freedom.
#   E2E_H2_BYTES (16 MiB) through an echo target, compared byte for byte and by sha256;
#   40 MiB answered only after the client's END_STREAM, more than curl's 32 MiB stream
#   window: it arrives whole only if the host reads curl's window updates after the end;
#   a path or Host the server does not serve gets V2Ray's 404, logged.
# Then VMess over h2 + tls (a certificate made with openssl now) with the real V2Ray 4.34:
#   a: V2Ray client -> evproxy server, E2E_H2_BYTES each way (sha256), then 4 concurrent
#      transfers of 1 MiB, which V2Ray's Go client puts on one connection as 4 requests:
#      the server runs each as a session of its own;
#   b: evproxy client -> V2Ray server, the same.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
SIZE=$("$PY" -c "import sys; sys.path.insert(0, '$TOOLS'); import detdata
print(detdata.parse_size('${E2E_H2_BYTES:-16M}'))")
LATE=$((40 * 1024 * 1024))
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool late answer_after_eof.py --host 127.0.0.1 --bytes "$LATE" --seed late
LATE_PORT=$TOOL_PORT
read -r PE PL < <(ports 2 | tr '\n' ' ')

# h2_inbound TAG PORT TARGET: a dokodemo-door inbound over h2c to 127.0.0.1:TARGET.
h2_inbound() {
    printf '{"tag": "%s", "listen": "127.0.0.1", "port": %s, "protocol": "dokodemo-door",
 "settings": {"address": "127.0.0.1", "port": %s, "network": "tcp"},
 "streamSettings": {"network": "http",
   "httpSettings": {"host": ["www.example.com"], "path": "/tunnel"}}}' "$1" "$2" "$3"
}
printf '{"log": {"loglevel": "info"}, "inbounds": [%s, %s],
 "outbounds": [{"protocol": "freedom"}]}\n' "$(h2_inbound echo "$PE" "$ECHO")" \
    "$(h2_inbound late "$PL" "$LATE_PORT")" >"$E2E_TMP/h2.json"
start_evproxy h2 "$E2E_TMP/h2.json" "$PE" "$PL"

# put PORT PATH HOST DATA_FILE OUT_FILE: curl's PUT over h2c; prints status and version.
put() {
    curl -sS --max-time 60 --http2-prior-knowledge -X PUT -H "Host: $3" \
        --data-binary "@$4" -o "$5" -w '%{http_code} %{http_version}' "http://127.0.0.1:$1$2"
}

"$PY" -c "import sys; sys.path.insert(0, '$TOOLS'); import detdata
f = open('$E2E_TMP/up.bin', 'wb'); [f.write(b) for b in detdata.blocks('up', $SIZE)]"
got=$(put "$PE" /tunnel/x www.example.com "$E2E_TMP/up.bin" "$E2E_TMP/echo.bin" || true)
if [ "$got" = "200 2" ] && cmp -s "$E2E_TMP/up.bin" "$E2E_TMP/echo.bin"; then
    pass "echo over h2c: $SIZE bytes both ways, sha256 $(sha256sum <"$E2E_TMP/echo.bin" |
        cut -c1-16)"
else
    soft_fail "echo over h2c: status '$got', $(stat -c %s "$E2E_TMP/echo.bin" 2>/dev/null ||
        echo 0) of $SIZE bytes back"
fi

printf 'ask' >"$E2E_TMP/ask.bin"
got=$(put "$PL" /tunnel www.example.com "$E2E_TMP/ask.bin" "$E2E_TMP/late.bin" || true)
want=$("$PY" -c "import sys; sys.path.insert(0, '$TOOLS'); import detdata
print(detdata.stream_sha256('late', $LATE))")
have=$(sha256sum <"$E2E_TMP/late.bin" | cut -d' ' -f1)
if [ "$got" = "200 2" ] && [ "$have" = "$want" ]; then
    pass "40 MiB answered after the client's END_STREAM arrive whole"
else
    soft_fail "answer after END_STREAM: status '$got', $(stat -c %s "$E2E_TMP/late.bin" \
        2>/dev/null || echo 0) of $LATE bytes"
fi

for bad in "/other www.example.com" "/tunnel other.example"; do
    read -r path host <<<"$bad"
    got=$(put "$PE" "$path" "$host" "$E2E_TMP/ask.bin" "$E2E_TMP/404.bin" || true)
    if [ "$got" = "404 2" ] && grep -q "transport h2: request for $path on $host (404 sent)" \
        "$E2E_TMP/h2.log"; then
        pass "PUT $path, Host $host: 404, logged"
    else
        soft_fail "PUT $path, Host $host: got '$got'"
        tail -3 "$E2E_TMP/h2.log" | sed 's/^/  | /'
    fi
done

# --- VMess over h2 + tls with V2Ray 4.34 -------------------------------------------------
CERT=$E2E_TMP/cert.pem
KEY=$E2E_TMP/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=example.test -addext "subjectAltName=DNS:example.test,IP:127.0.0.1" \
    -keyout "$KEY" -out "$CERT" >/dev/null 2>&1 || fail "openssl could not make a certificate"

# h2_tls FILE SIDE: the vmess bound in FILE over http + tls (server: the certificate;
# client: example.test, trusting it, or allowInsecure for V2Ray).
h2_tls() {
    "$PY" - "$1" "$2" "$CERT" "$KEY" <<'EOF'
import json, sys
path, side, cert, key = sys.argv[1:]
cfg = json.load(open(path))
for b in cfg.get("inbounds", []) + cfg.get("outbounds", []):
    if b["protocol"] != "vmess":
        continue
    tls = {"serverName": "example.test"}
    if side == "server":
        tls = {"certificates": [{"certificateFile": cert, "keyFile": key}]}
    elif side == "v2ray-client":
        tls["allowInsecure"] = True
    else:
        tls["certificates"] = [{"usage": "verify", "certificateFile": cert}]
    b["streamSettings"] = {"network": "http", "security": "tls", "tlsSettings": tls,
                           "httpSettings": {"host": ["example.test"], "path": "/h2"}}
json.dump(cfg, open(path, "w"), indent=2)
EOF
}

# v2ray_cell ID DIR: DIR a = V2Ray client -> evproxy server, b = the reverse.
v2ray_cell() {
    local id=$1 dir=$2 sp cp
    read -r sp cp < <(ports 2 | tr '\n' ' ')
    cfg_vmess_server "$E2E_TMP/$id.server.json" "$sp" "$UUID_GOOD" 0
    cfg_vmess_client "$E2E_TMP/$id.client.json" "$cp" "$sp" "$UUID_GOOD" 0 aes-128-gcm
    h2_tls "$E2E_TMP/$id.server.json" server
    sed -i 's/"loglevel": "warning"/"loglevel": "info"/' "$E2E_TMP/$id.server.json"
    if [ "$dir" = a ]; then
        h2_tls "$E2E_TMP/$id.client.json" v2ray-client
        start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$sp"
        start_v2ray "$id.client" "$E2E_TMP/$id.client.json" "$cp"
    else
        h2_tls "$E2E_TMP/$id.client.json" evproxy-client
        start_v2ray "$id.server" "$E2E_TMP/$id.server.json" "$sp"
        start_evproxy "$id.client" "$E2E_TMP/$id.client.json" "$cp"
    fi
    if socks_stream "$cp" "127.0.0.1:$ECHO" --bytes "$SIZE" --seed 7 --timeout 60 \
        >"$E2E_TMP/$id.one.json" 2>&1; then
        pass "$id: VMess over h2 + tls, $SIZE each way, sha256 match"
    else
        soft_fail "$id: $(why_of "$E2E_TMP/$id.one.json")"
        tail -n 3 "$E2E_TMP/$id.server.log" "$E2E_TMP/$id.client.log" | sed 's/^/  | /'
    fi
    if socks_stream "$cp" "127.0.0.1:$ECHO" --bytes 1M --seed 8 --sessions 4 --timeout 60 \
        >"$E2E_TMP/$id.four.json" 2>&1; then
        pass "$id: 4 concurrent transfers of 1 MiB each way"
        if [ "$dir" = a ]; then
            # Go's client puts the requests on one connection: the server ran them all.
            local conns sessions
            conns=$(grep -c 'tcp:- accepted' "$E2E_TMP/$id.server.log" || true)
            sessions=$(grep -c "tcp:127.0.0.1:$ECHO accepted" "$E2E_TMP/$id.server.log" || true)
            if [ "$sessions" = 5 ] && [ "$conns" -ge 1 ] && [ "$conns" -lt 5 ]; then
                pass "$id: 5 sessions over $conns HTTP/2 connection(s)"
            else
                soft_fail "$id: $sessions sessions (want 5) over $conns connection(s) (want 1..4)"
            fi
        fi
    else
        soft_fail "$id: 4 concurrent: $(why_of "$E2E_TMP/$id.four.json")"
        tail -n 3 "$E2E_TMP/$id.server.log" "$E2E_TMP/$id.client.log" | sed 's/^/  | /'
    fi
}
v2ray_cell v2ray-to-evproxy a
v2ray_cell evproxy-to-v2ray b
finish
