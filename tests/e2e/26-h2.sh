#!/usr/bin/env bash
# HTTP/2 transport (network "http", h2.so) in the real daemon, h2c as V2Ray 4.34's server
# serves it behind a TLS front, with curl (libcurl's nghttp2) as the client: a dokodemo-door
# inbound over h2 to loopback targets through freedom.
#   E2E_H2_BYTES (4 MiB) through an echo target, compared byte for byte and by sha256;
#   40 MiB answered only after the client's END_STREAM, more than curl's 32 MiB stream
#   window: it arrives whole only if the host reads curl's window updates after the end;
#   a path or Host the server does not serve gets V2Ray's 404, logged.
# The V2Ray 4.34 cells (vmess + h2 + tls both ways) need tls.so, not on main yet.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
SIZE=$("$PY" -c "import sys; sys.path.insert(0, '$TOOLS'); import detdata
print(detdata.parse_size('${E2E_H2_BYTES:-4M}'))")
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
finish
