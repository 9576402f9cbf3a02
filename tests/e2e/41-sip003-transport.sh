#!/usr/bin/env bash
# vmess-plugin's transport options (v2ray-plugin's names) under the real shadowsocks-libev
# hosts, ss-local/ss-tunnel <-> ss-server, both sides vmess-plugin:
#   ws        mode=websocket;path=/x;host=example.test: curl through ss-local (sha256), the
#             wire starts with "GET /x" and carries Host: example.test, E2E_SIPT_BYTES (4 MiB)
#             each way through ss-tunnel (sha256); a client on another path is refused
#   tls       with tls.so built: ws + tls and tls alone, certificates made at test time with
#             certtool (a CA the client trusts through cert=, a server certificate for
#             example.test); the wire is a TLS ClientHello naming example.test; a client that
#             does not trust the CA, or names another host, is refused; the server finds its
#             certificate and key in ~/.acme.sh/HOST/ when cert= and key= are left out
#   options   each new refusal (mux, quic, an option without its layer, acme files missing)
#             exits non-zero with its message
# vmess-plugin against the real ss-v2ray-plugin: 45-v2ray-plugin-compat (compat=v2ray-plugin).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    echo "SKIP: SIP003 mode is evproxy's own (EVP_IMPL=$EVP_IMPL)"
    finish
fi
for b in ss-local ss-server ss-tunnel curl certtool; do
    command -v "$b" >/dev/null || fail "$b is not installed (make deps)"
done
SIZE=${E2E_SIPT_BYTES:-4M}
# shellcheck source=tests/e2e/sip003_lib.sh
. "$(dirname "$0")/sip003_lib.sh"

start_servers

# pair_cell SECTION CASE SERVER_OPTS CLIENT_OPTS WIRE_CHECK [ENV...]: ss-server, ss-local (through
# a relay recording its first bytes) and ss-tunnel with those vmess-plugin options (ENV for
# every host); then a curl, WIRE_CHECK FILE on the recorded bytes and a SIZE echo stream.
pair_cell() {
    local sec=$1 case=$2 sopts=$3 copts=$4 check=$5 id sp lp tp rp pids=() p
    shift 5
    SS_ENV=("$@")
    id=$sec-$(tr -c 'a-z0-9\n' - <<<"$case" | tr -d '\n')
    read -r sp lp tp < <(ports 3 | tr '\n' ' ')
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 1024
    rp=$TOOL_PORT
    if ! start_ss "$id.server" ss-server "$sp" -s 127.0.0.1 -p "$sp" \
        --plugin vmess-plugin --plugin-opts "$sopts"; then
        row "$sec" "$case" "ss-server + vmess-plugin" "FAIL did not start"
        SS_ENV=()
        return
    fi
    pids+=("$SS_PID")
    if start_ss "$id.local" ss-local "$lp" -s 127.0.0.1 -p "$rp" -l "$lp" \
        -b 127.0.0.1 --plugin vmess-plugin --plugin-opts "$copts" &&
        pids+=("$SS_PID") &&
        start_ss "$id.tunnel" ss-tunnel "$tp" -s 127.0.0.1 -p "$sp" -l "$tp" \
            -b 127.0.0.1 -L "127.0.0.1:$ECHO" --plugin vmess-plugin --plugin-opts "$copts"; then
        pids+=("$SS_PID")
        if ! fetch "$lp"; then
            row "$sec" "$case" "curl via ss-local" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
            show_log "$id.server" 5
            show_log "$id.local" 5
        elif ! wait_file "$E2E_TMP/$id.head" 3 || ! "$check" "$E2E_TMP/$id.head"; then
            row "$sec" "$case" "curl via ss-local" "FAIL wire: $WIRE_WHY"
        else
            row "$sec" "$case" "curl via ss-local, wire: $WIRE_WHY" PASS
        fi
        if stream "$tp" "$SIZE" 41; then
            row "$sec" "$case" "$SIZE both ways via ss-tunnel, sha256" PASS
        else
            row "$sec" "$case" "$SIZE via ss-tunnel" "FAIL $(why_of "$E2E_TMP/stream.out")"
            show_log "$id.tunnel" 5
        fi
    else
        row "$sec" "$case" "ss-local/ss-tunnel + vmess-plugin" "FAIL did not start"
    fi
    SS_ENV=()
    for p in "${pids[@]}"; do stop_pid "$p"; done
}

# refused_cell SECTION CASE SERVER_OPTS CLIENT_OPTS WANT_SERVER_LOG: the client's fetch must
# fail, and the server's log say why (WANT_SERVER_LOG, a grep -E regex).
refused_cell() {
    local sec=$1 case=$2 sopts=$3 copts=$4 want=$5 id sp lp srv cli
    id=$sec-refused-$(tr -c 'a-z0-9\n' - <<<"$case" | tr -d '\n')
    read -r sp lp < <(ports 2 | tr '\n' ' ')
    start_ss "$id.server" ss-server "$sp" -s 127.0.0.1 -p "$sp" --plugin vmess-plugin \
        --plugin-opts "$sopts" || {
        row "$sec" "$case" "ss-server + vmess-plugin" "FAIL did not start"
        return
    }
    srv=$SS_PID
    start_ss "$id.local" ss-local "$lp" -s 127.0.0.1 -p "$sp" -l "$lp" -b 127.0.0.1 \
        --plugin vmess-plugin --plugin-opts "$copts" || {
        row "$sec" "$case" "ss-local + vmess-plugin" "FAIL did not start"
        stop_pid "$srv"
        return
    }
    cli=$SS_PID
    if fetch "$lp" 5; then
        row "$sec" "$case" "" "FAIL served"
    elif grep -Eq "$want" "$E2E_TMP/$id.server.log" "$E2E_TMP/$id.local.log"; then
        row "$sec" "$case" "refused: $(grep -Eoh "$want" "$E2E_TMP/$id.server.log" \
            "$E2E_TMP/$id.local.log" | head -1)" PASS
    else
        row "$sec" "$case" "refused" "FAIL no log line matching '$want'"
        show_log "$id.server" 5
        show_log "$id.local" 5
    fi
    stop_pid "$cli"
    stop_pid "$srv"
}

# Wire checks on a client's first bytes; WIRE_WHY says what was seen.
# shellcheck disable=SC2317 # called through pair_cell's WIRE_CHECK
ws_wire() {
    local first
    first=$(head -1 "$1" | tr -d '\r')
    WIRE_WHY="'${first:0:40}'"
    [ "$first" = "GET /x HTTP/1.1" ] && grep -aqi $'^Host: example.test\r$' "$1" &&
        WIRE_WHY="$WIRE_WHY, Host: example.test"
}
# shellcheck disable=SC2317 # called through pair_cell's WIRE_CHECK
tls_wire() {
    local type
    type=$(od -An -tx1 -N1 "$1" | tr -d ' ')
    WIRE_WHY="first byte 0x$type"
    # 0x16: a TLS handshake record (the ClientHello), whose SNI names host.
    [ "$type" = 16 ] && grep -aq example.test "$1" && ! grep -aq 'GET /' "$1" &&
        WIRE_WHY="TLS ClientHello, SNI example.test"
}

# --- ws -----------------------------------------------------------------------------------

info "ws"
WS="mode=websocket;path=/x;host=example.test"
pair_cell ws "mode=websocket" "server;id=$UUID_GOOD;$WS" "id=$UUID_GOOD;$WS" ws_wire
refused_cell ws "client on /y, server on /x" "server;id=$UUID_GOOD;$WS" \
    "id=$UUID_GOOD;mode=websocket;path=/y;host=example.test" 'ws: [a-z: ]*another path'

# --- tls ----------------------------------------------------------------------------------

if [ -f "$EVP_BUILD/plugins/tls.so" ]; then
    info "tls"
    C=$E2E_TMP/certs
    make_certs "$C" >"$E2E_TMP/certtool.log" 2>&1 || fail "certtool: $(tail -1 \
        "$E2E_TMP/certtool.log")"
    SRV_TLS="server;id=$UUID_GOOD;tls;host=example.test;cert=$C/srv.pem;key=$C/srv.key"
    CLI_TLS="id=$UUID_GOOD;tls;host=example.test;cert=$C/ca.pem"
    pair_cell tls "ws + tls" "$SRV_TLS;mode=websocket;path=/x" "$CLI_TLS;mode=websocket;path=/x" \
        tls_wire
    pair_cell tls "tls alone" "$SRV_TLS" "$CLI_TLS" tls_wire
    # The server's certificate and key where acme.sh puts them, found with host= alone.
    mkdir -p "$E2E_TMP/home/.acme.sh/example.test"
    cat "$C/srv.pem" "$C/ca.pem" >"$E2E_TMP/home/.acme.sh/example.test/fullchain.cer"
    cp "$C/srv.key" "$E2E_TMP/home/.acme.sh/example.test/example.test.key"
    pair_cell tls "server from ~/.acme.sh/HOST/" "server;id=$UUID_GOOD;tls;host=example.test" \
        "$CLI_TLS" tls_wire HOME="$E2E_TMP/home"
    # The client's log says why at info (a failed outbound is a closed session there).
    refused_cell tls "client without cert= (CA not trusted)" "$SRV_TLS" \
        "id=$UUID_GOOD;tls;host=example.test;loglevel=info" \
        'outbound transport tls: .*issuer not trusted'
    refused_cell tls "client host=other.test" "$SRV_TLS" \
        "id=$UUID_GOOD;tls;host=other.test;cert=$C/ca.pem;loglevel=info" \
        'outbound transport tls: .*name mismatch'
else
    # Until tls.so is built (plugin/tls), only the config the tls options build is checked.
    info "tls: no tls.so in $EVP_BUILD/plugins: only the options are checked"
    OUT=$(cd "$E2E_TMP" && SS_REMOTE_HOST=127.0.0.1 SS_REMOTE_PORT=1 SS_LOCAL_HOST=127.0.0.1 \
        SS_LOCAL_PORT=2 SS_PLUGIN_OPTIONS="id=$UUID_GOOD;tls;mode=websocket" \
        "$PLUGDIR/vmess-plugin" -t 2>&1)
    if grep -q 'streamSettings.security: no transport layer "tls"' <<<"$OUT"; then
        row tls "ws + tls, no tls.so built" "-t names the missing tls layer" PASS
    else
        row tls "ws + tls, no tls.so built" "-t" "FAIL '${OUT:0:80}'"
    fi
fi

# --- refused options ----------------------------------------------------------------------

info "options"
read -r BAD_RP BAD_LP < <(ports 2 | tr '\n' ' ')
bad_opts "mux=-1" 'mux is the number of sub-streams per connection' \
    SS_PLUGIN_OPTIONS="id=$UUID_GOOD;mux=-1"
bad_opts "mode=quic" 'mode=quic is not supported' SS_PLUGIN_OPTIONS="id=$UUID_GOOD;mode=quic"
bad_opts "path without mode" 'path needs mode=websocket' \
    SS_PLUGIN_OPTIONS="id=$UUID_GOOD;path=/x"
bad_opts "tls=0" 'tls is a flag' SS_PLUGIN_OPTIONS="id=$UUID_GOOD;tls=0"
bad_opts "server tls, no cert/host" 'needs cert=FILE and key=FILE, or host=NAME' \
    SS_PLUGIN_OPTIONS="server;id=$UUID_GOOD;tls"
bad_opts "server tls, acme files missing" 'acme.sh.s /.*/\.acme\.sh/none\.test/fullchain\.cer' \
    HOME="$E2E_TMP" SS_PLUGIN_OPTIONS="server;id=$UUID_GOOD;tls;host=none.test"

sip003_report
finish
