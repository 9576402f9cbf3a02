#!/usr/bin/env bash
# vmess-plugin with protocol=shadowsocks under the real shadowsocks-libev hosts: the ss
# stream carried inside a second shadowsocks layer (the plugin's own password and method).
#   plain     ss-local/ss-tunnel + vmess-plugin <-> ss-server + vmess-plugin (server), per
#             method (aes-128-gcm, aes-256-gcm, and the default chacha20-ietf-poly1305):
#             a page by curl and E2E_SIPS_BYTES (16 MiB) each way through ss-local's SOCKS
#             (sha256); the plugin's password has a space, ';' and '=' (escaped)
#   cross     the plugin's wire is ss-libev's: ss-local + vmess-plugin (target=) -> a plain
#             ss-server with the plugin's password -> the host's ss-server; and a plain
#             ss-tunnel with the plugin's password -> ss-server + vmess-plugin (server)
#   transport mode=websocket (wire starts with "GET /ss") and chain=obfs-local/obfs-server
#             (wire starts with obfs' GET): E2E_SIPS_CHAIN_BYTES (4 MiB) each way (sha256)
#   clients   server with clients=FILE of shadowsocks users: one in the file served, one not
#             refused
#   options   refusals (no password, a method that is not AEAD, an unknown protocol, one
#             with no SIP003 options, an option shadowsocks does not take, protocol= with
#             compat=) exit non-zero with their message; under ss-local the host exits 255
# Every log is scanned for sanitizer reports (EVP_BUILD=build-san). Prints a results table.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    echo "SKIP: SIP003 mode is evproxy's own (EVP_IMPL=$EVP_IMPL)"
    finish
fi
for b in ss-local ss-server ss-tunnel obfs-local obfs-server curl; do
    command -v "$b" >/dev/null || fail "$b is not installed (make deps)"
done
SIZE=${E2E_SIPS_BYTES:-16M}
CHAIN_SIZE=${E2E_SIPS_CHAIN_BYTES:-4M}
# shellcheck source=tests/e2e/sip003_lib.sh
. "$(dirname "$0")/sip003_lib.sh"

PLUG_PW='plugin pw;with=escapes' # the plugin layer's password (not the host's $SS_PASS)
PLUG_PW_OPT='plugin pw\;with\=escapes'
SSP="protocol=shadowsocks;password=$PLUG_PW_OPT"

start_servers
info "http on 127.0.0.1:$HTTP, echo on 127.0.0.1:$ECHO"

# socks_echo PORT BYTES SEED: an echo stream through ss-local's SOCKS; true when both sha256
# match. Its JSON in $E2E_TMP/stream.out.
socks_echo() {
    socks_stream "$1" "127.0.0.1:$ECHO" --mode echo --bytes "$2" --seed "$3" --timeout 90 \
        --quiet >"$E2E_TMP/stream.out" 2>&1
}

# wire_starts FILE PREFIX: the relay recorded bytes starting with PREFIX.
wire_starts() { wait_file "$1" 3 && [ "$(head -c ${#2} "$1")" = "$2" ]; }

# pair SECTION CASE SERVER_OPTS CLIENT_OPTS BYTES [WIRE_PREFIX]: ss-server + vmess-plugin with
# SERVER_OPTS, ss-local + vmess-plugin with CLIENT_OPTS dialling through a relay that records
# its first bytes; a page (curl) and BYTES each way through ss-local's SOCKS. EXPECT_CHAIN=1
# when both plugins chain another.
pair() {
    local sec=$1 case=$2 sopts=$3 copts=$4 bytes=$5 prefix=${6:-} id sp lp rp pids=() p
    id=$sec-$(tr -c 'a-z0-9\n' - <<<"$case" | tr -d '\n')
    read -r sp lp < <(ports 2 | tr '\n' ' ')
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 64
    rp=$TOOL_PORT
    if ! start_ss "$id.server" ss-server "$sp" -s 127.0.0.1 -p "$sp" --plugin vmess-plugin \
        --plugin-opts "$sopts"; then
        row "$sec" "$case" "ss-server + vmess-plugin" "FAIL did not start"
        return
    fi
    pids+=("$SS_PID")
    if start_ss "$id.local" ss-local "$lp" -s 127.0.0.1 -p "$rp" -l "$lp" -b 127.0.0.1 \
        --plugin vmess-plugin --plugin-opts "$copts"; then
        pids+=("$SS_PID")
        if ! fetch "$lp"; then
            row "$sec" "$case" "curl via ss-local" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
            show_log "$id.server" 5
            show_log "$id.local" 5
        elif [ -n "$prefix" ] && ! wire_starts "$E2E_TMP/$id.head" "$prefix"; then
            row "$sec" "$case" "curl via ss-local" "FAIL wire does not start with '$prefix'"
        else
            row "$sec" "$case" "curl via ss-local${prefix:+, wire starts \"$prefix\"}" PASS
        fi
        if socks_echo "$lp" "$bytes" 47; then
            row "$sec" "$case" "$bytes both ways via ss-local's SOCKS, sha256" PASS
        else
            row "$sec" "$case" "$bytes via SOCKS" "FAIL $(why_of "$E2E_TMP/stream.out")"
            show_log "$id.local" 5
        fi
    else
        row "$sec" "$case" "ss-local + vmess-plugin" "FAIL did not start"
    fi
    for p in "${pids[@]}"; do stop_pid "$p"; done
}

# --- plain --------------------------------------------------------------------------------

for m in aes-128-gcm aes-256-gcm default; do
    info "plain $m"
    opts=$SSP
    [ "$m" = default ] || opts="$SSP;method=$m"
    pair plain "method $m" "server;$opts" "$opts" "$SIZE"
done

# --- cross: the plugin's wire against ss-libev's own shadowsocks ----------------------------

# plain_ss NAME BIN PASSWORD PORT ARGS...: an ss-libev host with no plugin (chacha20, the
# plugin's default method; PASSWORD "" for the host's own, $SS_PASS/$SS_METHOD), waited for
# on PORT; its PID joins CROSS_PIDS.
CROSS_PIDS=()
plain_ss() {
    local name=$1 bin=$2 pw=$3 port=$4
    shift 4
    if [ -n "$pw" ]; then
        start_bg "$name" "$bin" -t 30 -k "$pw" -m chacha20-ietf-poly1305 "$@"
    else
        ss_host "$name" "$bin" "$@"
    fi
    CROSS_PIDS+=("$LAST_PID")
    wait_port "$port" 10 tcp "$LAST_PID" || row cross "$name" "" "FAIL did not start"
}

# cross_fetch CASE SOCKS_PORT LOG...: a page through SOCKS_PORT; the logs shown on failure.
# Then every CROSS_PIDS process is stopped.
cross_fetch() {
    local case=$1 port=$2 p
    shift 2
    if fetch "$port"; then
        row cross "$case" "curl, sha256" PASS
    else
        row cross "$case" "curl" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
        for p in "$@"; do show_log "$p" 5; done
    fi
    for p in "${CROSS_PIDS[@]}"; do stop_pid "$p"; done
    CROSS_PIDS=()
}

info "cross: vmess-plugin client -> plain ss-server (plugin's password) -> ss-server"
read -r OUTER INNER LP < <(ports 3 | tr '\n' ' ')
plain_ss cross.outer ss-server "$PLUG_PW" "$OUTER" -s 127.0.0.1 -p "$OUTER"
plain_ss cross.inner ss-server "" "$INNER" -s 127.0.0.1 -p "$INNER"
start_ss cross.local ss-local "$LP" -s 127.0.0.1 -p "$OUTER" -l "$LP" -b 127.0.0.1 \
    --plugin vmess-plugin --plugin-opts "$SSP;target=127.0.0.1:$INNER" &&
    CROSS_PIDS+=("$SS_PID")
cross_fetch "vmess-plugin -> ss-server -> ss-server" "$LP" cross.outer cross.local

# ss-local (host's password) -> plain ss-tunnel (plugin's password) -> ss-server+vmess-plugin:
# the server plugin takes ss-libev's shadowsocks and hands the inner stream to ss-server.
info "cross: plain ss-tunnel (plugin's password) -> vmess-plugin server"
read -r SP TP LP < <(ports 3 | tr '\n' ' ')
start_ss cross2.server ss-server "$SP" -s 127.0.0.1 -p "$SP" --plugin vmess-plugin \
    --plugin-opts "server;$SSP" && CROSS_PIDS+=("$SS_PID")
plain_ss cross2.tunnel ss-tunnel "$PLUG_PW" "$TP" -s 127.0.0.1 -p "$SP" -l "$TP" \
    -b 127.0.0.1 -L 127.0.0.1:9
plain_ss cross2.local ss-local "" "$LP" -s 127.0.0.1 -p "$TP" -l "$LP" -b 127.0.0.1
cross_fetch "ss-local -> ss-tunnel -> vmess-plugin server" "$LP" cross2.server cross2.tunnel

# --- transports -----------------------------------------------------------------------------

info "transport: websocket"
WS="mode=websocket;path=/ss;host=example.test"
pair transport "mode=websocket" "server;$SSP;$WS" "$SSP;$WS" "$CHAIN_SIZE" "GET /ss HTTP/1.1"
info "transport: chain=obfs-local / obfs-server"
EXPECT_CHAIN=1
pair transport "chain=obfs" "server;$SSP;chain=obfs-server;chain_opts=obfs\\=http" \
    "$SSP;chain=obfs-local;chain_opts=obfs\\=http" "$CHAIN_SIZE" "GET /"
EXPECT_CHAIN=0

# --- clients=FILE ---------------------------------------------------------------------------

info "clients=FILE"
CF=$E2E_TMP/ss-clients.json
printf '{"clients": [{"password": "file-user-a", "email": "a@e2e"}]}\n' >"$CF"
read -r SP LA LB < <(ports 3 | tr '\n' ' ')
CL_PIDS=()
if start_ss cf.server ss-server "$SP" -s 127.0.0.1 -p "$SP" --plugin vmess-plugin \
    --plugin-opts "server;protocol=shadowsocks;method=aes-256-gcm;clients=$CF"; then
    CL_PIDS+=("$SS_PID")
    for u in A:file-user-a:"$LA" B:file-user-b:"$LB"; do
        IFS=: read -r n pw lp <<<"$u"
        if start_ss "cf.local$n" ss-local "$lp" -s 127.0.0.1 -p "$SP" -l "$lp" -b 127.0.0.1 \
            --plugin vmess-plugin \
            --plugin-opts "protocol=shadowsocks;method=aes-256-gcm;password=$pw"; then
            CL_PIDS+=("$SS_PID")
        else
            row clients "ss-local for $n" "" "FAIL did not start"
        fi
    done
    if fetch "$LA"; then row clients "user in the file" "served" PASS
    else row clients "user in the file" "" "FAIL not served"; fi
    if fetch "$LB" 3; then row clients "user not in the file" "" "FAIL served"
    else row clients "user not in the file" "refused" PASS; fi
    for p in "${CL_PIDS[@]}"; do stop_pid "$p"; done
else
    row clients "ss-server + vmess-plugin clients=FILE" "" "FAIL did not start"
fi

# --- bad options ----------------------------------------------------------------------------

read -r BAD_RP BAD_LP < <(ports 2 | tr '\n' ' ')
bad_opts "no password (client)" 'protocol=shadowsocks: option password=PASSWORD is required' \
    SS_PLUGIN_OPTIONS="protocol=shadowsocks;method=aes-128-gcm"
bad_opts "no password (server)" 'password=PASSWORD is required \(or clients=FILE\)' \
    SS_PLUGIN_OPTIONS="server;protocol=shadowsocks"
bad_opts "method not AEAD" 'method=rc4-md5 is not an AEAD method' \
    SS_PLUGIN_OPTIONS="$SSP;method=rc4-md5"
bad_opts "unknown protocol" 'protocol=nope: unknown protocol "nope"' \
    SS_PLUGIN_OPTIONS="protocol=nope;password=x"
bad_opts "protocol without SIP003" 'the freedom plugin does not take SIP003 options' \
    SS_PLUGIN_OPTIONS="protocol=freedom"
bad_opts "vmess option (id=)" 'protocol=shadowsocks: unknown option "id"' \
    SS_PLUGIN_OPTIONS="$SSP;id=$UUID_GOOD"
bad_opts "email on the client" "email= is the server's" SS_PLUGIN_OPTIONS="$SSP;email=a@b"
bad_opts "password with clients=" 'password= and clients= together' \
    SS_PLUGIN_OPTIONS="server;$SSP;clients=$CF"
bad_opts "protocol= with compat=" 'compat=v2ray-plugin .*protocol= is not taken' \
    SS_PLUGIN_OPTIONS="compat=v2ray-plugin;protocol=shadowsocks"

# Under ss-local the refusal stops the host too.
host_refuses "no password under ss-local" "protocol=shadowsocks;method=aes-128-gcm" \
    'password=PASSWORD is required'

sip003_report
finish
