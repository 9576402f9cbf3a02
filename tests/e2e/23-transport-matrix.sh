#!/usr/bin/env bash
# Issue 12's transport matrix, the cells 22-ws, 24-tls, 38-httpheader and 41-sip003-transport
# do not have (certificates made now with certtool; a results table at the end):
#   nginx     TLS terminated at Debian's nginx, `location` upgraded to a plain ws inbound:
#             V2Ray 4.34 client (ws + tls) -> nginx -> evproxy, evproxy client (ws + tls) ->
#             nginx -> V2Ray server, E2E_MATRIX_BYTES (16 MiB) each way, sha256; ss-local/
#             ss-tunnel (vmess-plugin mode=websocket;tls;host;cert) -> nginx -> ss-server
#             (vmess-plugin mode=websocket): curl and a stream; nginx's log shows each 101
#   cipher    VMess over ws + tls with V2Ray 4.34, both directions: aes-128-gcm AEAD
#             (E2E_MATRIX_BYTES), chacha20-poly1305 AEAD and legacy (alterId 4, aes-128-cfb)
#             with E2E_MATRIX_SMALL (4 MiB) each way
#   partial   evproxy client -> slow_relay.py -> evproxy server over tls, ws, http-header and
#             ws + tls, and V2Ray client -> relay -> evproxy, evproxy -> relay -> V2Ray over
#             ws + tls (and evproxy -> evproxy ws + tls with a slow socks client too): the
#             relay reads 1 byte at a time at first, then 1..512 bytes, with 16 KiB socket
#             buffers and a 536-byte MSS, so both ends' sends come back short or EAGAIN
#             (about 2/3 of them under EVP_WRAP="strace -ff -e trace=sendto -o F") and
#             records arrive in pieces; E2E_MATRIX_SLOW (1 MiB) each way, sha256. tls.so
#             never sees EAGAIN (GnuTLS writes into a host buffer), so GnuTLS's rule holds by
#             design: these cells show the host's short writes under every layer. A host that
#             dropped the rest of a short send passed every other cell and failed these.
#   refusal   an evproxy tls client and a V2Ray server with a self-signed certificate:
#             refused without allowInsecure (the log says why), served with it
# Cells run two at a time (E2E_JOBS).
# shellcheck disable=SC2317 # the cells are functions bg_cell calls
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    info "the layers under test are evproxy's: nothing to check against V2Ray here"
    finish
fi
for m in tls ws http-header; do
    [ -f "$EVP_BUILD/plugins/$m.so" ] || fail "$EVP_BUILD/plugins/$m.so not built"
done
for b in nginx certtool ss-local ss-server ss-tunnel curl; do
    command -v "$b" >/dev/null || fail "$b is not installed (contrib/install-deps.sh test)"
done
BIG=${E2E_MATRIX_BYTES:-16M}
SMALL=${E2E_MATRIX_SMALL:-4M}
SLOW=${E2E_MATRIX_SLOW:-1M}
# shellcheck source=tests/e2e/sip003_lib.sh
. "$(dirname "$0")/sip003_lib.sh"
start_servers

# --- certificates ---------------------------------------------------------------------------

CERTS=$E2E_TMP/certs
mkdir -p "$CERTS"
# certtool_quiet ARGS...: certtool, its output kept in certtool.log.
certtool_quiet() { certtool "$@" >>"$E2E_TMP/certtool.log" 2>&1; }
printf 'cn = "matrix CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$CERTS/ca.tmpl"
printf 'cn = "example.test"\ndns_name = "example.test"\ntls_www_server\n%s\n' \
    'signing_key
encryption_key
expiration_days = 2' >"$CERTS/srv.tmpl"
if ! { certtool_quiet --generate-privkey --key-type ecdsa --outfile "$CERTS/ca.key" &&
    certtool_quiet --generate-self-signed --load-privkey "$CERTS/ca.key" \
        --template "$CERTS/ca.tmpl" --outfile "$CERTS/ca.crt" &&
    certtool_quiet --generate-privkey --key-type ecdsa --outfile "$CERTS/srv.key" &&
    certtool_quiet --generate-certificate --load-privkey "$CERTS/srv.key" \
        --load-ca-certificate "$CERTS/ca.crt" --load-ca-privkey "$CERTS/ca.key" \
        --template "$CERTS/srv.tmpl" --outfile "$CERTS/srv.crt" &&
    certtool_quiet --generate-self-signed --load-privkey "$CERTS/srv.key" \
        --template "$CERTS/srv.tmpl" --outfile "$CERTS/self.crt"; }; then
    fail "certtool: $(tail -1 "$E2E_TMP/certtool.log")"
fi

# --- stream settings --------------------------------------------------------------------------

# tls_server CERT: tlsSettings serving CERT with srv.key.
tls_server() {
    printf '"security": "tls", "tlsSettings": {"certificates": [%s]}' \
        "{\"certificateFile\": \"$CERTS/$1\", \"keyFile\": \"$CERTS/srv.key\"}"
}
TRUST_CA="\"certificates\": [{\"usage\": \"verify\", \"certificateFile\": \"$CERTS/ca.crt\"}]"
# tls_client TRUST: tlsSettings naming example.test, with TRUST (TRUST_CA, allowInsecure...).
tls_client() {
    printf '"security": "tls", "tlsSettings": {"serverName": "example.test", %s}' "$1"
}
ws_on() { printf '"network": "ws", "wsSettings": {"path": "%s", %s}' "$1" \
    '"headers": {"Host": "example.test"}'; }
HTTP_HDR='"network": "tcp", "tcpSettings": {"header": {"type": "http"}}'

# stream_of LAYER SIDE: the streamSettings of LAYER (tls, ws, http-header, ws+tls) on SIDE
# (server or client).
stream_of() {
    local tls
    tls=$(tls_server srv.crt)
    [ "$2" = client ] && tls=$(tls_client "$TRUST_CA")
    case $1 in
    tls) printf '{"network": "tcp", %s}' "$tls" ;;
    ws) printf '{%s}' "$(ws_on /m)" ;;
    http-header) printf '{%s}' "$HTTP_HDR" ;;
    ws+tls) printf '{%s, %s}' "$(ws_on /m)" "$tls" ;;
    esac
}

# --- cells --------------------------------------------------------------------------------

# vmess_pair ID DIR SERVER_PORT DIAL_PORT ALTER_ID SECURITY SERVER_STREAM CLIENT_STREAM: DIR
# a = V2Ray client -> evproxy server, b = evproxy client -> V2Ray server, e = evproxy both;
# the client dials DIAL_PORT (a front, or SERVER_PORT itself). Sets PAIR_SOCKS and PAIR_PIDS.
vmess_pair() {
    local id=$1 dir=$2 sp=$3 dial=$4 aid=$5 sec=$6 cp srv=start_evproxy cli=start_evproxy
    read -r cp < <(ports 1)
    cfg_vmess_server "$E2E_TMP/$id.server.json" "$sp" "$UUID_GOOD" "$aid"
    cfg_vmess_client "$E2E_TMP/$id.client.json" "$cp" "$dial" "$UUID_GOOD" "$aid" "$sec"
    with_stream "$E2E_TMP/$id.server.json" "$7"
    with_stream "$E2E_TMP/$id.client.json" "$8"
    # info: a refused handshake is logged there, and each session of V2Ray's.
    sed -i 's/"loglevel": "warning"/"loglevel": "info"/' "$E2E_TMP/$id.server.json" \
        "$E2E_TMP/$id.client.json"
    [ "$dir" = b ] && srv=start_v2ray
    [ "$dir" = a ] && cli=start_v2ray
    "$srv" "$id.server" "$E2E_TMP/$id.server.json" "$sp"
    PAIR_PIDS=("$LAST_PID")
    "$cli" "$id.client" "$E2E_TMP/$id.client.json" "$cp"
    PAIR_PIDS+=("$LAST_PID")
    PAIR_SOCKS=$cp
}

# echo_cell SECTION CASE ID BYTES: BYTES each way through the pair's socks port to the echo
# server, sha256 checked both ways; then the pair is stopped (a crash is a failure).
echo_cell() {
    local out=$E2E_TMP/$3.result.json p
    if socks_stream "$PAIR_SOCKS" "127.0.0.1:$ECHO" --bytes "$4" --seed 26 --timeout 90 \
        --quiet >"$out" 2>&1; then
        row "$1" "$2" "$4 each way, sha256${ECHO_NOTE:-}" PASS
    else
        row "$1" "$2" "$4 each way" "FAIL $(why_of "$out")"
        show_log "$3.server" 5
        show_log "$3.client" 5
    fi
    for p in "${PAIR_PIDS[@]}"; do
        alive "$p" || row "$1" "$2" "" "FAIL a process died ($(death_note "$p"))"
        stop_pid "$p"
    done
}

# Cells run E2E_JOBS (2) at a time, each in a subshell with its own results table that
# join_cells adds to the main one (a cell that ends early becomes a FAIL row).
CELL_PIDS=()
CELL_IDS=()
# bg_cell ID FUNCTION ARGS...: runs FUNCTION ARGS in the background once a slot is free.
bg_cell() {
    local id=$1 p still
    shift
    while :; do
        still=0
        for p in "${CELL_PIDS[@]}"; do alive "$p" && still=$((still + 1)); done
        [ "$still" -lt "${E2E_JOBS:-2}" ] && break
        sleep 0.1
    done
    (TABLE=$E2E_TMP/table.$id && : >"$TABLE" && "$@") >"$E2E_TMP/cell.$id.out" 2>&1 &
    CELL_PIDS+=("$!")
    CELL_IDS+=("$id")
}
# join_cells: waits for every cell, then adds its rows (and its output, if it failed).
join_cells() {
    local i id rc s c d v
    for i in "${!CELL_PIDS[@]}"; do
        id=${CELL_IDS[$i]}
        wait "${CELL_PIDS[$i]}"
        rc=$?
        while IFS=$'\t' read -r s c d v; do row "$s" "$c" "$d" "$v"; done <"$E2E_TMP/table.$id"
        [ "$rc" = 0 ] || row "$id" "" "" "FAIL ended early: $(grep -m1 '^FAIL: ' \
            "$E2E_TMP/cell.$id.out" | cut -c7-)"
        if [ "$rc" != 0 ] || grep -q $'\tFAIL' "$E2E_TMP/table.$id"; then
            grep -v '^FAIL: ' "$E2E_TMP/cell.$id.out" | head -30
        fi
    done
    CELL_PIDS=()
    CELL_IDS=()
}

# --- nginx: TLS terminated in front of plain ws -------------------------------------------

info "nginx"
read -r NGX P_A P_B P_SS < <(ports 4 | tr '\n' ' ')
NG=$E2E_TMP/nginx
# shellcheck disable=SC2016 # nginx's own $variables
start_nginx "$NG" "$NGX" '$server_protocol $ssl_protocol "$request" $status' \
    "    listen 127.0.0.1:$NGX ssl;
    ssl_certificate $CERTS/srv.crt;
    ssl_certificate_key $CERTS/srv.key;
$(nginx_ws_location /a "$P_A")
$(nginx_ws_location /b "$P_B")
$(nginx_ws_location /ss "$P_SS")"

# upgraded PATH: nginx's log has a 101 over TLS for PATH.
upgraded() { grep -Eq "TLSv1\.[23] \"GET $1 HTTP/1\.1\" 101" "$NG/access.log"; }

# nginx_cell DIR PATH PORT: DIR's pair (a or b) with ws + tls to nginx, plain ws behind.
nginx_cell() {
    local name="V2Ray (ws+tls) -> nginx -> evproxy ws"
    [ "$1" = b ] && name="evproxy (ws+tls) -> nginx -> V2Ray ws"
    vmess_pair "ng-$1" "$1" "$3" "$NGX" 0 aes-128-gcm "{$(ws_on "$2")}" \
        "{$(ws_on "$2"), $(tls_client "$TRUST_CA")}"
    echo_cell nginx "$name" "ng-$1" "$BIG"
}
bg_cell ng-a nginx_cell a /a "$P_A"
bg_cell ng-b nginx_cell b /b "$P_B"
join_cells
for p in /a /b; do
    if upgraded "$p"; then
        row nginx "location $p" "TLS at nginx, 101 Switching Protocols" PASS
    else
        row nginx "location $p" "" "FAIL no TLS 101 for $p: $(head -c 200 "$NG/access.log")"
    fi
done

# ss-local/ss-tunnel -> nginx (TLS) -> ss-server, vmess-plugin on both ends.
read -r SS_L SS_T < <(ports 2 | tr '\n' ' ')
SS_WS="id=$UUID_GOOD;mode=websocket;path=/ss;host=example.test"
ss_pids=()
if start_ss ng-ss.server ss-server "$P_SS" -s 127.0.0.1 -p "$P_SS" --plugin vmess-plugin \
    --plugin-opts "server;$SS_WS"; then
    ss_pids+=("$SS_PID")
    SS_CLI="$SS_WS;tls;cert=$CERTS/ca.crt"
    start_ss ng-ss.local ss-local "$SS_L" -s 127.0.0.1 -p "$NGX" -l "$SS_L" -b 127.0.0.1 \
        --plugin vmess-plugin --plugin-opts "$SS_CLI" && ss_pids+=("$SS_PID")
    start_ss ng-ss.tunnel ss-tunnel "$SS_T" -s 127.0.0.1 -p "$NGX" -l "$SS_T" -b 127.0.0.1 \
        -L "127.0.0.1:$ECHO" --plugin vmess-plugin --plugin-opts "$SS_CLI" &&
        ss_pids+=("$SS_PID")
fi
if [ "${#ss_pids[@]}" != 3 ]; then
    row nginx "ss-local -> nginx -> ss-server" "" "FAIL a host did not start"
else
    if fetch "$SS_L"; then
        row nginx "ss-local -> nginx -> ss-server" "curl of a page, sha256" PASS
    else
        row nginx "ss-local -> nginx -> ss-server" "" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
    fi
    if stream "$SS_T" "$BIG" 27; then
        row nginx "ss-tunnel -> nginx -> ss-server" "$BIG each way, sha256" PASS
    else
        row nginx "ss-tunnel -> nginx -> ss-server" "" "FAIL $(why_of "$E2E_TMP/stream.out")"
        show_log ng-ss.server 5
    fi
    if upgraded /ss; then
        row nginx "location /ss" "TLS at nginx, 101 Switching Protocols" PASS
    else
        row nginx "location /ss" "" "FAIL no TLS 101 for /ss"
    fi
fi
for p in "${ss_pids[@]}"; do stop_pid "$p"; done

# --- ciphers and headers over ws + tls with V2Ray ----------------------------------------

# cipher_cell DIR SECURITY ALTER_ID BYTES
cipher_cell() {
    local dir=$1 sec=$2 aid=$3 name hdr=AEAD sp
    [ "$aid" = 0 ] || hdr=legacy
    read -r sp < <(ports 1)
    vmess_pair "ci-$dir-$sec" "$dir" "$sp" "$sp" "$aid" "$sec" "$(stream_of ws+tls server)" \
        "$(stream_of ws+tls client)"
    name="V2Ray -> evproxy, $sec"
    [ "$dir" = b ] && name="evproxy -> V2Ray, $sec"
    # A 4.34 client told aes-128-cfb sends aes-128-gcm bodies (PEERS.md): b runs cfb.
    # (Which header each client sends with these settings is 20-vmess-interop's check.)
    [ "$dir$sec" = aaes-128-cfb ] && ECHO_NOTE=" (V2Ray sends gcm)"
    echo_cell cipher "$name, $hdr" "ci-$dir-$sec" "$4"
}

# partial_cell DIR LAYER [app]: DIR's pair (a, b or e) through slow_relay.py; with "app", the
# socks client reaches the pair through another one (a slow reader above the layers too).
partial_cell() {
    local dir=$1 layer=$2 id=slow-$1-$2${3:+-$3} sp up down name
    case $dir in
    a) name="V2Ray -> evproxy, $layer" ;;
    b) name="evproxy -> V2Ray, $layer" ;;
    e) name="evproxy -> evproxy, $layer" ;;
    esac
    read -r sp < <(ports 1)
    start_tool "$id" slow_relay.py --upstream "127.0.0.1:$sp" --seed 26
    vmess_pair "$id" "$dir" "$sp" "$TOOL_PORT" 0 aes-128-gcm "$(stream_of "$layer" server)" \
        "$(stream_of "$layer" client)"
    if [ "${3:-}" = app ]; then
        start_tool "$id.app" slow_relay.py --upstream "127.0.0.1:$PAIR_SOCKS" --seed 27
        PAIR_SOCKS=$TOOL_PORT
        name="$name, slow app"
    fi
    echo_cell partial "$name" "$id" "$SLOW"
    # The relay really read in tiny pieces: its first 16 KiB each way byte by byte, and on.
    read -r up down < <(awk '/^pieces/ {print $4, $6}' "$E2E_TMP/$id.stats")
    if [ "${up:-0}" -gt 16384 ] && [ "${down:-0}" -gt 16384 ]; then
        row partial "$name" "relay: $up reads up, $down down" PASS
    else
        row partial "$name" "" "FAIL the relay read only ${up:-?} times up, ${down:-?} down"
    fi
}

info "cipher, partial"
for cell in "aes-128-gcm 0 $BIG" "chacha20-poly1305 0 $SMALL" "aes-128-cfb 4 $SMALL"; do
    read -r sec aid bytes <<<"$cell"
    for dir in a b; do bg_cell "ci-$dir-$sec" cipher_cell "$dir" "$sec" "$aid" "$bytes"; done
done
for layer in tls ws http-header ws+tls; do bg_cell "slow-e-$layer" partial_cell e "$layer"; done
# V2Ray peers under the same relay, ws + tls only: V2Ray 4.34's http-header reader fails on a
# head that comes in pieces (it parses all but the last 4 bytes read so far, and anything but
# "unexpected EOF" is an error: "malformed MIME header: missing colon"), whoever sends it.
for dir in a b; do bg_cell "slow-$dir-ws+tls" partial_cell "$dir" ws+tls; done
bg_cell slow-e-ws+tls-app partial_cell e ws+tls app
join_cells

# --- refusal: a self-signed certificate ---------------------------------------------------

# self_signed_cell ALLOW_INSECURE: an evproxy tls client -> V2Ray serving self.crt.
self_signed_cell() {
    local sp id=self-$1 case="self-signed, allowInsecure $1"
    read -r sp < <(ports 1)
    vmess_pair "$id" b "$sp" "$sp" 0 aes-128-gcm "{\"network\": \"tcp\", $(tls_server self.crt)}" \
        "{\"network\": \"tcp\", $(tls_client "\"allowInsecure\": $1")}"
    if [ "$1" = true ]; then
        echo_cell refusal "$case" "$id" 1M
        return
    fi
    if socks_stream "$PAIR_SOCKS" "127.0.0.1:$ECHO" --bytes 64K --seed 28 --timeout 10 \
        >"$E2E_TMP/$id.out" 2>&1; then
        row refusal "$case" "" "FAIL served"
    elif grep -q 'tls: handshake: certificate of example.test refused' \
        "$E2E_TMP/$id.client.log"; then
        row refusal "$case" "refused: $(grep -o -m1 \
            'certificate of example.test refused: [a-z ]*' "$E2E_TMP/$id.client.log")" PASS
    else
        row refusal "$case" "" "FAIL refused, but the log does not say why"
        show_log "$id.client" 5
    fi
    for p in "${PAIR_PIDS[@]}"; do stop_pid "$p"; done
}

info "refusal"
bg_cell self-false self_signed_cell false
bg_cell self-true self_signed_cell true
join_cells

sip003_report
finish
