#!/usr/bin/env bash
# VMess over TLS (tls.so) against the real V2Ray 4.34, certificates made now with certtool:
#   a: V2Ray client (vmess + tls)  -> evproxy vmess inbound + tls -> freedom -> echo
#   b: evproxy client (vmess + tls) -> V2Ray vmess inbound + tls  -> freedom -> echo
# 16 MiB each way with sha256 (the echo client checks both); a wrong serverName fails in both
# directions, the evproxy client's log naming the mismatch; a renewed certificate on disk +
# SIGHUP: a new connection is shown the new certificate while a transfer that began before
# the reload goes on to its end intact; a broken certificate file refuses the reload.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
[ "$EVP_IMPL" = evproxy ] || { echo "| needs evproxy itself (reloads, its log): skipped"; exit 0; }
SIZE=${E2E_TLS_BYTES:-16M}
CERTS=$E2E_TMP/certs
mkdir -p "$CERTS"

# --- certificates ------------------------------------------------------------------------

# make_cert NAME SERIAL: NAME.key + NAME.crt for example.test and 127.0.0.1, from the CA.
make_cert() {
    printf 'cn = "example.test"\ndns_name = "example.test"\nip_address = "127.0.0.1"\n%s\n' \
        "tls_www_server
signing_key
encryption_key
serial = $2
expiration_days = 30" >"$CERTS/$1.tmpl"
    if ! certtool --generate-privkey --key-type=ecdsa --outfile "$CERTS/$1.key" \
        >/dev/null 2>&1 ||
        ! certtool --generate-certificate --load-privkey "$CERTS/$1.key" \
            --load-ca-certificate "$CERTS/ca.crt" --load-ca-privkey "$CERTS/ca.key" \
            --template "$CERTS/$1.tmpl" --outfile "$CERTS/$1.crt" >/dev/null 2>&1; then
        fail "certtool could not make $1"
    fi
}
printf 'cn = "e2e CA"\nca\ncert_signing_key\nexpiration_days = 30\n' >"$CERTS/ca.tmpl"
if ! certtool --generate-privkey --key-type=ecdsa --outfile "$CERTS/ca.key" >/dev/null 2>&1 ||
    ! certtool --generate-self-signed --load-privkey "$CERTS/ca.key" --template "$CERTS/ca.tmpl" \
        --outfile "$CERTS/ca.crt" >/dev/null 2>&1; then
    fail "certtool could not make the CA"
fi
make_cert server 2
make_cert renewed 3

# put_live NAME: NAME.crt/NAME.key become the served live.crt/live.key, each swapped whole.
put_live() {
    cp "$CERTS/$1.key" "$CERTS/live.key.new" && mv "$CERTS/live.key.new" "$CERTS/live.key"
    cp "$CERTS/$1.crt" "$CERTS/live.crt.new" && mv "$CERTS/live.crt.new" "$CERTS/live.crt"
}
put_live server

# --- configs -----------------------------------------------------------------------------

# Both configs turn session resumption on (4.34's default is off, evproxy's on) and log at
# debug level, where the tls layer says when a handshake resumed.

# tls_server FILE PORT: vmess + tls inbound (live.crt/live.key) -> freedom.
tls_server() {
    cat >"$1" <<EOF
{
  "log": {"loglevel": "debug"},
  "inbounds": [{
    "tag": "vmess-in", "listen": "127.0.0.1", "port": $2, "protocol": "vmess",
    "settings": {"clients": [{"id": "$UUID_GOOD", "alterId": 0}]},
    "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {
      "enableSessionResumption": true,
      "certificates": [{"certificateFile": "$CERTS/live.crt", "keyFile": "$CERTS/live.key"}]}}
  }],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
}

# tls_client FILE SOCKS_PORT SERVER_PORT SERVER_NAME: socks -> vmess + tls, trusting the e2e
# CA (usage "verify").
tls_client() {
    cat >"$1" <<EOF
{
  "log": {"loglevel": "debug"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth", "udp": false}}],
  "outbounds": [{
    "tag": "vmess-out", "protocol": "vmess",
    "settings": {"vnext": [{"address": "127.0.0.1", "port": $3,
                            "users": [{"id": "$UUID_GOOD", "alterId": 0,
                                       "security": "aes-128-gcm"}]}]},
    "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {
      "serverName": "$4", "enableSessionResumption": true,
      "certificates": [{"usage": "verify", "certificateFile": "$CERTS/ca.crt"}]}}
  }]
}
EOF
}

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
read -r SP CP CP2 SP2 CP3 CP4 < <(ports 6 | tr '\n' ' ')

# echo_through SOCKS_PORT SEED BYTES [ARGS...]: an echo stream through SOCKS_PORT verifies
# (sha256 both ways); its JSON goes to stream-SEED.json.
echo_through() {
    local socks=$1 seed=$2 bytes=$3
    shift 3
    socks_stream "$socks" "127.0.0.1:$ECHO" --bytes "$bytes" --seed "$seed" --timeout 60 "$@" \
        >"$E2E_TMP/stream-$seed.json" 2>&1
}

# check_clients LABEL PORT WRONG_PORT SEED LOG: through PORT SIZE each way verifies; through
# WRONG_PORT (a client with serverName wrong.test) nothing gets through.
check_clients() {
    if echo_through "$2" "$4" "$SIZE"; then
        pass "$1, $SIZE each way, sha256 match"
    else
        soft_fail "$1: $(why_of "$E2E_TMP/stream-$4.json")"
        show_log "$5"
    fi
    if echo_through "$3" $(($4 + 1)) 64k; then
        soft_fail "$1: a client with serverName wrong.test got through"
    else
        pass "$1: a client with serverName wrong.test is refused"
    fi
}

# served_pem: the certificate the server on SP shows a new connection, as PEM.
served_pem() {
    "$PY" - "$SP" <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname="example.test") as t:
        print(ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True)).strip())
PY
}
pem_body() { grep -v -- '-----' "$1" | tr -d '\n'; }
# serves NAME: the server on SP shows NAME.crt to a new connection.
serves() {
    served_pem >"$E2E_TMP/served.pem" 2>&1 &&
        [ "$(pem_body "$E2E_TMP/served.pem")" = "$(pem_body "$CERTS/$1.crt")" ]
}

SLOG=$E2E_TMP/a.server.log
count_in_log() { grep -c -- "$1" "$SLOG" 2>/dev/null || true; }
# hup_and_wait WHAT: SIGHUP the server, wait until its log has one more "reload WHAT".
hup_and_wait() {
    local before end
    before=$(count_in_log "reload $1")
    kill -HUP "$S_PID"
    end=$((SECONDS + 20))
    while [ "$(count_in_log "reload $1")" -le "$before" ]; do
        [ "$SECONDS" -le "$end" ] || { show_log a.server; fail "no 'reload $1' in 20 s"; }
        sleep 0.1
    done
}

# --- a: V2Ray client -> evproxy server ---------------------------------------------------
tls_server "$E2E_TMP/a.server.json" "$SP"
tls_client "$E2E_TMP/a.client.json" "$CP" "$SP" example.test
tls_client "$E2E_TMP/a.wrong.json" "$CP2" "$SP" wrong.test
start_evproxy a.server "$E2E_TMP/a.server.json" "$SP"
S_PID=$LAST_PID
start_v2ray a.client "$E2E_TMP/a.client.json" "$CP"
start_v2ray a.wrong "$E2E_TMP/a.wrong.json" "$CP2"
check_clients "a: V2Ray client -> evproxy vmess+tls inbound" "$CP" "$CP2" 21 a.server
# resumed LOG: 0 when LOG shows a tls handshake that resumed.
resumed() { grep -q 'tls \[[a-z-]*\]: TLS1\.[23] .*, resumed' "$E2E_TMP/$1.log"; }
echo_through "$CP" 25 64k || soft_fail "a: a second connection failed"
if resumed a.server; then
    pass "a: a later V2Ray connection resumed its TLS session (evproxy's ticket)"
else
    soft_fail "a: no V2Ray connection resumed a TLS session"
fi

# --- renewal: a new certificate on disk + SIGHUP; a running transfer goes on ---------------
serves server || fail "the first certificate is not served: $(head -c 200 "$E2E_TMP/served.pem")"
echo_through "$CP" 23 8M --rate 2M &
LONG=$!
sleep 1
put_live renewed
hup_and_wait applied
if serves renewed; then
    pass "renewal: after SIGHUP a new connection is shown the renewed certificate"
else
    soft_fail "renewal: the renewed certificate is not served after the reload"
fi
if wait "$LONG"; then
    pass "renewal: the transfer running across the reload ended intact (8M each way)"
else
    soft_fail "renewal: the running transfer broke: $(why_of "$E2E_TMP/stream-23.json")"
fi
if echo_through "$CP" 24 1M; then
    pass "renewal: the V2Ray client still gets through"
else
    soft_fail "renewal: $(why_of "$E2E_TMP/stream-24.json")"
fi
# Its tickets came from before the reload: the ticket key outlived the old instance.
if sed -n '/reload applied/,$p' "$SLOG" | grep -q 'tls \[vmess-in\]: TLS1\.[23] .*, resumed'; then
    pass "renewal: a ticket issued before the reload resumed after it"
else
    soft_fail "renewal: no handshake resumed after the reload"
fi
# A broken certificate file: the reload is refused, naming it; the renewed one stays.
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n' >"$CERTS/live.crt"
hup_and_wait refused
if grep -B3 'reload refused' "$SLOG" | grep -q "certificateFile \"$CERTS/live.crt\""; then
    pass "a broken certificate file refuses the reload, naming the file"
else
    soft_fail "the refusal does not name $CERTS/live.crt"
    show_log a.server
fi
if serves renewed; then
    pass "after the refused reload the renewed certificate is still served"
else
    soft_fail "after the refused reload another certificate is served"
fi
alive "$S_PID" || soft_fail "evproxy died ($(death_note "$S_PID"))"

# --- b: evproxy client -> V2Ray server ---------------------------------------------------
put_live server
tls_server "$E2E_TMP/b.server.json" "$SP2"
tls_client "$E2E_TMP/b.client.json" "$CP3" "$SP2" example.test
tls_client "$E2E_TMP/b.wrong.json" "$CP4" "$SP2" wrong.test
start_v2ray b.server "$E2E_TMP/b.server.json" "$SP2"
start_evproxy b.client "$E2E_TMP/b.client.json" "$CP3"
start_evproxy b.wrong "$E2E_TMP/b.wrong.json" "$CP4"
check_clients "b: evproxy vmess+tls client -> V2Ray inbound" "$CP3" "$CP4" 31 b.client
echo_through "$CP3" 33 64k || soft_fail "b: a second connection failed"
if resumed b.client; then
    pass "b: a later evproxy connection resumed its TLS session (V2Ray's ticket)"
else
    soft_fail "b: no evproxy connection resumed a TLS session"
fi
why=$(grep -o -m1 'tls: handshake: certificate of wrong.test refused: [a-z ]*' \
    "$E2E_TMP/b.wrong.log")
if [ -n "$why" ]; then
    pass "b: its log says why: $why"
else
    soft_fail "b: the refusal is not logged as the certificate's"
    show_log b.wrong
fi
finish
