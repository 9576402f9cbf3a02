#!/usr/bin/env bash
# vmess-plugin's compat=v2ray-plugin (issue 13): v2ray-plugin's wire (WebSocket, optionally
# TLS, carrying Mux.Cool with no VMess inside) against the real ss-v2ray-plugin, both ways:
#   a: ss-local/ss-tunnel + vmess-plugin (compat) -> ss-server + ss-v2ray-plugin (server)
#   b: ss-local/ss-tunnel + ss-v2ray-plugin -> ss-server + vmess-plugin (compat, server)
# over ws and ws + tls (certificates made at test time): a page through ss-local (curl,
# sha256) and E2E_V2P_BYTES (4 MiB) both ways through ss-tunnel (sha256). v2ray-plugin's
# server takes nothing but Mux.Cool and its client sends nothing else, so each transfer
# passes only if evproxy speaks Mux.Cool on that side. Then an option vmess-plugin takes only
# with VMess (id=) is refused in compat mode.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    echo "SKIP: SIP003 mode is evproxy's own (EVP_IMPL=$EVP_IMPL)"
    finish
fi
for b in ss-local ss-server ss-tunnel ss-v2ray-plugin curl certtool; do
    command -v "$b" >/dev/null || fail "$b is not installed (make deps)"
done
SIZE=${E2E_V2P_BYTES:-4M}
# shellcheck source=tests/e2e/sip003_lib.sh
. "$(dirname "$0")/sip003_lib.sh"

start_servers

# mixed_cell SECTION CASE SERVER_PLUGIN SERVER_OPTS CLIENT_PLUGIN CLIENT_OPTS: ss-server with
# one plugin, ss-local and ss-tunnel with the other; a page and a SIZE echo stream.
mixed_cell() {
    local sec=$1 case=$2 splug=$3 sopts=$4 cplug=$5 copts=$6 id sp lp tp pids=() p
    id=$sec-$(tr -c 'a-z0-9\n' - <<<"$case" | tr -d '\n')
    read -r sp lp tp < <(ports 3 | tr '\n' ' ')
    if ! start_ss "$id.server" ss-server "$sp" -s 127.0.0.1 -p "$sp" --plugin "$splug" \
        --plugin-opts "$sopts"; then
        row "$sec" "$case" "ss-server + $splug" "FAIL did not start"
        return
    fi
    pids+=("$SS_PID")
    if start_ss "$id.local" ss-local "$lp" -s 127.0.0.1 -p "$sp" -l "$lp" -b 127.0.0.1 \
        --plugin "$cplug" --plugin-opts "$copts" && pids+=("$SS_PID") &&
        start_ss "$id.tunnel" ss-tunnel "$tp" -s 127.0.0.1 -p "$sp" -l "$tp" -b 127.0.0.1 \
            -L "127.0.0.1:$ECHO" --plugin "$cplug" --plugin-opts "$copts"; then
        pids+=("$SS_PID")
        if fetch "$lp"; then
            row "$sec" "$case" "page via ss-local ($cplug -> $splug), sha256" PASS
        else
            row "$sec" "$case" "page via ss-local" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
            show_log "$id.server" 5
            show_log "$id.local" 5
        fi
        if stream "$tp" "$SIZE" 45; then
            row "$sec" "$case" "$SIZE both ways via ss-tunnel, sha256" PASS
        else
            row "$sec" "$case" "$SIZE via ss-tunnel" "FAIL $(why_of "$E2E_TMP/stream.out")"
            show_log "$id.tunnel" 5
        fi
    else
        row "$sec" "$case" "ss-local/ss-tunnel + $cplug" "FAIL did not start"
    fi
    for p in "${pids[@]}"; do stop_pid "$p"; done
}

C=$E2E_TMP/certs
make_certs "$C" >"$E2E_TMP/certtool.log" 2>&1 || fail "certtool: $(tail -1 \
    "$E2E_TMP/certtool.log")"

WS="path=/v2p;host=example.test"
SRV_TLS="tls;host=example.test;cert=$C/srv.pem;key=$C/srv.key;path=/v2p"
CLI_TLS="tls;host=example.test;cert=$C/ca.pem;path=/v2p"
info "a: vmess-plugin (compat) client -> ss-v2ray-plugin server"
mixed_cell a ws ss-v2ray-plugin "server;$WS" vmess-plugin "compat=v2ray-plugin;$WS"
mixed_cell a "ws + tls" ss-v2ray-plugin "server;$SRV_TLS" vmess-plugin \
    "compat=v2ray-plugin;$CLI_TLS;mux=4"
info "b: ss-v2ray-plugin client -> vmess-plugin (compat) server"
mixed_cell b ws vmess-plugin "server;compat=v2ray-plugin;$WS" ss-v2ray-plugin "$WS"
mixed_cell b "ws + tls" vmess-plugin "server;compat=v2ray-plugin;$SRV_TLS" ss-v2ray-plugin \
    "$CLI_TLS"

info "options"
read -r BAD_RP BAD_LP < <(ports 2 | tr '\n' ' ')
bad_opts "compat with id=" 'compat=v2ray-plugin carries no VMess: id= is not taken' \
    SS_PLUGIN_OPTIONS="compat=v2ray-plugin;id=$UUID_GOOD"
bad_opts "compat=other" 'compat must be v2ray-plugin' SS_PLUGIN_OPTIONS="compat=xray"
sip003_report
finish
