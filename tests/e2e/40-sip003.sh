#!/usr/bin/env bash
# evproxy as the SIP003 plugin `vmess-plugin` under the real shadowsocks-libev hosts:
#   matrix    ss-local/ss-tunnel + vmess-plugin <-> ss-server + vmess-plugin (server), for
#             aes-128-gcm and chacha20-poly1305 x alterId 0 (AEAD) and 4 (legacy): curl through
#             ss-local's socks (sha256 of the page), E2E_SIP_BYTES (16 MiB) each way through
#             ss-tunnel to an echo server (sha256), and the header kind seen on the wire
#   cross     ss-local + vmess-plugin (target=) -> real V2Ray vmess inbound -> plain ss-server
#   chain     the contrib/shadowsocks samples with obfs-local/obfs-server and ss-v2ray-plugin
#             chained behind vmess-plugin (ports and addresses rewritten to loopback):
#             curl + E2E_SIP_CHAIN_BYTES through ss-tunnel, the wire starts with an HTTP GET
#   clients   server mode with clients=FILE (server-clients.json sample): a user added in
#             place and by rename is served, a removed user refused, once the plugin logged
#             that it applied the file (waited for up to E2E_SIP_RELOAD seconds)
#   lifecycle SIGTERM to the ss host leaves no plugin behind; a dead chained plugin makes
#             vmess-plugin exit non-zero and the host exit 255; bad options exit non-zero
#             with a clear message
#   install   make install PREFIX=$TMP/inst, then the installed vmess-plugin runs
# Every log is scanned for sanitizer reports (EVP_BUILD=build-san). Prints a results table;
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    echo "SKIP: SIP003 mode is evproxy's own (EVP_IMPL=$EVP_IMPL)"
    finish
fi
for b in ss-local ss-server ss-tunnel obfs-local obfs-server ss-v2ray-plugin curl; do
    command -v "$b" >/dev/null || fail "$b is not installed (make deps)"
done
SIZE=${E2E_SIP_BYTES:-16M}
CHAIN_SIZE=${E2E_SIP_CHAIN_BYTES:-4M}
RELOAD_LIMIT=${E2E_SIP_RELOAD:-30}
# shellcheck source=tests/e2e/sip003_lib.sh
. "$(dirname "$0")/sip003_lib.sh"

# term_check SECTION CASE HOST_PID PLUGIN_PID [CHAINED_PID...]: the plugin must be running
# as the host's child (and be this evproxy), each chained one running too; then SIGTERM to
# the host, and it and all of them must end.
term_check() {
    local sec=$1 case=$2 host=$3 p
    shift 3
    if [ -z "${1:-}" ]; then
        row "$sec" "$case" "before SIGTERM" "FAIL no plugin child of the host to watch"
        return
    fi
    if [ "$(awk '{print $4}' "/proc/$1/stat" 2>/dev/null)" != "$host" ] ||
        [ "$(readlink -f "/proc/$1/exe")" != "$(readlink -f "$EVP_BIN")" ]; then
        row "$sec" "$case" "before SIGTERM" "FAIL plugin $1 is not an evproxy child of the host"
        return
    fi
    for p in "$@"; do
        if [ -z "$p" ] || ! alive "$p"; then
            row "$sec" "$case" "before SIGTERM" "FAIL a plugin is not running (pids: $*)"
            return
        fi
    done
    kill -TERM "$host"
    if gone "$host" "$@"; then
        row "$sec" "$case" "SIGTERM to host: it and $# plugin(s) gone in 3 s" PASS
    else
        local left=''
        for p in "$host" "$@"; do alive "$p" && left="$left $p($(tr '\0' ' ' \
            <"/proc/$p/cmdline" | cut -c1-30))"; done
        row "$sec" "$case" "SIGTERM to host" "FAIL still running:$left"
    fi
}

# --- common servers -------------------------------------------------------------------

start_servers
info "http on 127.0.0.1:$HTTP, echo on 127.0.0.1:$ECHO"

# --- install ----------------------------------------------------------------------------
# make install into a temp prefix with its own build dir (objects copied from $EVP_BUILD,
# minus those that compile EVP_PREFIX in), then the installed vmess-plugin checks a config
# with no directory given: its plugin and schema folders must come from PREFIX.
install_check() {
    local inst=$E2E_TMP/inst bld=$E2E_TMP/bld san=() f
    case $(evp_sanitizer) in
    address) san=(SANITIZE=1) ;;
    thread) san=(SANITIZE=thread CC=clang) ;;
    esac
    mkdir -p "$bld"
    cp -a "$EVP_BUILD/obj" "$bld/"
    while read -r f; do
        rm -f "$bld/obj/${f%.c}.o"
    done < <(grep -l EVP_PREFIX core/*.c core/builtin/*.c plugin/*/*.c 2>/dev/null)
    if ! timeout 300 make -s install PREFIX="$inst" BUILD="$bld" "${san[@]}" \
        >"$E2E_TMP/install.log" 2>&1; then
        row install "make install" "PREFIX=\$TMP/inst" "FAIL $(tail -1 "$E2E_TMP/install.log")"
        return
    fi
    local missing=''
    for f in bin/evproxy bin/vmess-plugin lib/evproxy/plugins/vmess.so \
        share/evproxy/schema/config.schema.json share/evproxy/schema/vmess-inbound.schema.json; do
        [ -e "$inst/$f" ] || missing="$missing $f"
    done
    [ "$(readlink "$inst/bin/vmess-plugin")" = evproxy ] || missing="$missing vmess-plugin->evproxy"
    if [ -n "$missing" ]; then
        row install "make install" "files" "FAIL missing:$missing"
    else
        row install "make install" "bin/evproxy, bin/vmess-plugin link, vmess.so, schema/" PASS
    fi
    # -t: the installed plugin builds its config, loads vmess.so and validates against schema/.
    local out rc
    out=$(cd / && env -u EVPROXY_PLUGIN_DIR -u EVPROXY_SCHEMA_DIR SS_REMOTE_HOST=127.0.0.1 \
        SS_REMOTE_PORT=1 SS_LOCAL_HOST=127.0.0.1 SS_LOCAL_PORT=2 \
        SS_PLUGIN_OPTIONS="server;id=$UUID_GOOD" timeout 10 "$inst/bin/vmess-plugin" -t 2>&1)
    rc=$?
    if [ "$rc" = 0 ]; then
        row install "installed vmess-plugin -t" "finds PREFIX/lib + share" PASS
        # And it carries traffic, named by absolute path in --plugin.
        local sp lp srv cli
        read -r sp lp < <(ports 2 | tr '\n' ' ')
        if start_ss inst.server ss-server "$sp" -s 127.0.0.1 -p "$sp" \
            --plugin "$inst/bin/vmess-plugin" --plugin-opts "server;id=$UUID_GOOD"; then
            srv=$SS_PID
            if start_ss inst.local ss-local "$lp" -s 127.0.0.1 -p "$sp" -l "$lp" \
                -b 127.0.0.1 --plugin "$inst/bin/vmess-plugin" --plugin-opts "id=$UUID_GOOD"
            then
                cli=$SS_PID
                if fetch "$lp"; then
                    row install "installed vmess-plugin under ss-libev" "curl, sha256" PASS
                else
                    row install "installed vmess-plugin under ss-libev" "curl" \
                        "FAIL $(tail -1 "$E2E_TMP/curl.log")"
                fi
                stop_pid "$cli"
            else
                row install "installed vmess-plugin under ss-local" "" "FAIL did not start"
            fi
            stop_pid "$srv"
        else
            row install "installed vmess-plugin under ss-server" "" "FAIL did not start"
        fi
    else
        row install "installed vmess-plugin -t" "rc $rc" "FAIL ${out:0:120}"
    fi
    # An existing build installed into another prefix: make does not recompile for a new
    # PREFIX, so the binary keeps the EVP_PREFIX of its first build and must find its plugins
    # and schema relative to itself (bin/../lib/evproxy, bin/../share/evproxy). A copy of
    # $EVP_BUILD (times kept) stands for it, so the shared build dir is never written.
    local inst2=$E2E_TMP/inst2 bld2=$E2E_TMP/bld2
    mkdir -p "$bld2"
    cp -a "$EVP_BUILD/obj" "$EVP_BUILD/plugins" "$EVP_BUILD/evproxy" "$bld2/"
    if timeout 300 make -s install PREFIX="$inst2" BUILD="$bld2" "${san[@]}" \
        >"$E2E_TMP/install2.log" 2>&1; then
        out=$(cd / && env -u EVPROXY_PLUGIN_DIR -u EVPROXY_SCHEMA_DIR SS_REMOTE_HOST=127.0.0.1 \
            SS_REMOTE_PORT=1 SS_LOCAL_HOST=127.0.0.1 SS_LOCAL_PORT=2 \
            SS_PLUGIN_OPTIONS="server;id=$UUID_GOOD" timeout 10 "$inst2/bin/vmess-plugin" -t 2>&1)
        rc=$?
        if [ "$rc" = 0 ]; then
            row install "existing build, other PREFIX" "installed vmess-plugin -t" PASS
        else
            row install "existing build, other PREFIX" "rc $rc" "FAIL ${out:0:120}"
        fi
    else
        row install "existing build, other PREFIX" "make install" \
            "FAIL $(tail -1 "$E2E_TMP/install2.log")"
    fi
}
install_check

# --- matrix -------------------------------------------------------------------------

matrix_cell() {
    local sec=$1 aid=$2 id="m-$1-$2" sp lp tp rp hdr=aead srv cli tun
    [ "$aid" = 0 ] || hdr=legacy
    read -r sp lp tp < <(ports 3 | tr '\n' ' ')
    # ss-local dials a relay that records its first bytes: the header kind on the wire.
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 16
    rp=$TOOL_PORT
    start_ss "$id.server" ss-server "$sp" -s 127.0.0.1 -p "$sp" --plugin vmess-plugin \
        --plugin-opts "server;id=$UUID_GOOD;alterId=$aid" || {
        row matrix "$sec aid=$aid" "ss-server + vmess-plugin" "FAIL did not start"
        return
    }
    srv=$SS_PID
    local copts="id=$UUID_GOOD;alterId=$aid;security=$sec"
    start_ss "$id.local" ss-local "$lp" -s 127.0.0.1 -p "$rp" -l "$lp" -b 127.0.0.1 \
        --plugin vmess-plugin --plugin-opts "$copts" || {
        row matrix "$sec aid=$aid" "ss-local + vmess-plugin" "FAIL did not start"
        return
    }
    cli=$SS_PID
    start_ss "$id.tunnel" ss-tunnel "$tp" -s 127.0.0.1 -p "$sp" -l "$tp" -b 127.0.0.1 \
        -L "127.0.0.1:$ECHO" --plugin vmess-plugin --plugin-opts "$copts" || {
        row matrix "$sec aid=$aid" "ss-tunnel + vmess-plugin" "FAIL did not start"
        return
    }
    tun=$SS_PID
    local seen=none
    if fetch "$lp"; then
        wait_file "$E2E_TMP/$id.head" 2 && seen=$("$PY" "$TOOLS/vmess_header_kind.py" \
            --file "$E2E_TMP/$id.head" --uuid "$UUID_GOOD" --alter-id "$aid")
        if [ "${seen%%-*}" = "$hdr" ]; then
            row matrix "$sec aid=$aid" "curl via ss-local (header $seen)" PASS
        else
            row matrix "$sec aid=$aid" "curl via ss-local" "FAIL wire header $seen, not $hdr"
        fi
    else
        row matrix "$sec aid=$aid" "curl via ss-local" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
        show_log "$id.server" 5
        show_log "$id.local" 5
    fi
    if stream "$tp" "$SIZE" 21; then
        row matrix "$sec aid=$aid" "$SIZE both ways via ss-tunnel" PASS
    else
        row matrix "$sec aid=$aid" "$SIZE via ss-tunnel" "FAIL $(why_of "$E2E_TMP/stream.out")"
        show_log "$id.tunnel" 5
    fi
    # Lifecycle on the plain plugin: SIGTERM to each host leaves no plugin behind.
    if [ "$sec-$aid" = aes-128-gcm-0 ]; then
        local p
        for p in "$cli:ss-local" "$tun:ss-tunnel" "$srv:ss-server"; do
            # shellcheck disable=SC2046 # a list of PIDs
            term_check lifecycle "${p#*:} + vmess-plugin" "${p%%:*}" $(children "${p%%:*}")
        done
    else
        stop_pid "$tun"
        stop_pid "$cli"
        stop_pid "$srv"
    fi
}

for sec in aes-128-gcm chacha20-poly1305; do
    for aid in 0 4; do
        info "matrix $sec alterId $aid"
        matrix_cell "$sec" "$aid"
    done
done

# --- cross-implementation: vmess-plugin -> V2Ray -> plain ss-server -----------------------

info "cross: vmess-plugin -> v2ray -> ss-server"
read -r VP SSP LP < <(ports 3 | tr '\n' ' ')
cfg_vmess_server "$E2E_TMP/v2ray.json" "$VP" "$UUID_GOOD" 0
start_v2ray v2ray "$E2E_TMP/v2ray.json" "$VP"
V2_PID=$LAST_PID
ss_host cross.server ss-server -s 127.0.0.1 -p "$SSP"
CROSS_SRV=$LAST_PID
wait_port "$SSP" 10 tcp "$CROSS_SRV" || row cross "plain ss-server" "" "FAIL did not start"
if start_ss cross.local ss-local "$LP" -s 127.0.0.1 -p "$VP" -l "$LP" -b 127.0.0.1 \
    --plugin vmess-plugin --plugin-opts "id=$UUID_GOOD;target=127.0.0.1:$SSP"; then
    CROSS_LOCAL=$SS_PID
    if fetch "$LP"; then
        row cross "ss-local+vmess-plugin -> v2ray -> ss-server" "curl, sha256" PASS
    else
        row cross "ss-local+vmess-plugin -> v2ray -> ss-server" "curl" \
            "FAIL $(tail -1 "$E2E_TMP/curl.log")"
        show_log v2ray 5
        show_log cross.local 5
    fi
    stop_pid "$CROSS_LOCAL"
else
    row cross "ss-local + vmess-plugin" "" "FAIL did not start"
fi
stop_pid "$CROSS_SRV"
stop_pid "$V2_PID"

# --- chained plugins, from the contrib/shadowsocks samples ---------------------------------

# sample IN OUT SERVER SERVER_PORT [LOCAL_PORT]: a sample config moved to loopback ports.
sample() {
    "$PY" - "$@" <<'EOF'
import json, sys
src, dst, server, sport = sys.argv[1:5]
cfg = json.load(open(src))
cfg["server"] = server
cfg["server_port"] = int(sport)
if len(sys.argv) > 5:
    cfg["local_port"] = int(sys.argv[5])
    cfg["local_address"] = "127.0.0.1"
cfg["password"] = "e2e-sample-password"
json.dump(cfg, open(dst, "w"), indent=2)
EOF
}

# chain_case NAME CLIENT_SAMPLE SERVER_SAMPLE CHAINED_CLIENT CHAINED_SERVER
chain_case() {
    local name=$1 csample=contrib/shadowsocks/$2 ssample=contrib/shadowsocks/$3
    local sp lp tp rp id=c-$1 srv cli tun srv_plug srv_chain cli_plug cli_chain
    local tun_plug tun_chain
    read -r sp lp tp < <(ports 3 | tr '\n' ' ')
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 64
    rp=$TOOL_PORT
    sample "$ssample" "$E2E_TMP/$id.server.json" 127.0.0.1 "$sp"
    sample "$csample" "$E2E_TMP/$id.local.json" 127.0.0.1 "$rp" "$lp"
    sample "$csample" "$E2E_TMP/$id.tunnel.json" 127.0.0.1 "$sp" "$tp"
    EXPECT_CHAIN=1
    start_ss "$id.server" ss-server "$sp" -c "$E2E_TMP/$id.server.json" || {
        row chain "$name" "ss-server $3" "FAIL did not start"
        return
    }
    srv=$SS_PID srv_plug=$PLUGIN_PID srv_chain=$CHAINED_PID
    start_ss "$id.local" ss-local "$lp" -c "$E2E_TMP/$id.local.json" || {
        row chain "$name" "ss-local $2" "FAIL did not start"
        return
    }
    cli=$SS_PID cli_plug=$PLUGIN_PID cli_chain=$CHAINED_PID
    start_ss "$id.tunnel" ss-tunnel "$tp" -c "$E2E_TMP/$id.tunnel.json" \
        -L "127.0.0.1:$ECHO" || {
        row chain "$name" "ss-tunnel $2" "FAIL did not start"
        return
    }
    tun=$SS_PID tun_plug=$PLUGIN_PID tun_chain=$CHAINED_PID
    EXPECT_CHAIN=0
    local cname sname
    cname=$(tr '\0' ' ' <"/proc/$cli_chain/cmdline" 2>/dev/null)
    sname=$(tr '\0' ' ' <"/proc/$srv_chain/cmdline" 2>/dev/null)
    if [ "${cname% }" = "$4" ] && [ "${sname% }" = "$5" ]; then
        row chain "$name" "vmess-plugin runs $4 / $5" PASS
    else
        row chain "$name" "chained processes" "FAIL client '${cname% }', server '${sname% }'"
    fi
    if fetch "$lp"; then
        # What ss-local's side puts on the wire is the chained plugin's HTTP upgrade.
        if wait_file "$E2E_TMP/$id.head" 2 && head -c 4 "$E2E_TMP/$id.head" | grep -q '^GET '
        then
            row chain "$name" "curl via ss-local, wire starts with GET" PASS
        else
            row chain "$name" "curl via ss-local" "FAIL wire does not start with an HTTP GET"
        fi
    else
        row chain "$name" "curl via ss-local" "FAIL $(tail -1 "$E2E_TMP/curl.log")"
        show_log "$id.server" 5
        show_log "$id.local" 5
    fi
    if stream "$tp" "$CHAIN_SIZE" 31; then
        row chain "$name" "$CHAIN_SIZE both ways via ss-tunnel" PASS
    else
        row chain "$name" "$CHAIN_SIZE via ss-tunnel" "FAIL $(why_of "$E2E_TMP/stream.out")"
        show_log "$id.tunnel" 5
    fi
    term_check lifecycle "ss-local + vmess-plugin + $4" "$cli" "$cli_plug" "$cli_chain"
    term_check lifecycle "ss-server + vmess-plugin + $5" "$srv" "$srv_plug" "$srv_chain"
    # The chained plugin dies: vmess-plugin stops, and so does the host with rc 255.
    kill -KILL "$tun_chain"
    if gone "$tun_plug" "$tun"; then
        local rc
        exit_note rc "$tun"
        if [ "$rc" = "exit 255" ]; then
            row lifecycle "$4 killed under ss-tunnel" "vmess-plugin + ss-tunnel end, rc 255" PASS
        else
            row lifecycle "$4 killed under ss-tunnel" "host end" "FAIL ss-tunnel $rc, not 255"
        fi
    else
        row lifecycle "$4 killed under ss-tunnel" "" "FAIL vmess-plugin or ss-tunnel still up"
        stop_pid "$tun"
    fi
}

info "chain: obfs"
chain_case obfs client-obfs.json server-obfs.json obfs-local obfs-server
info "chain: v2ray-plugin"
chain_case v2ray-plugin client-v2ray-plugin.json server-v2ray-plugin.json ss-v2ray-plugin \
    ss-v2ray-plugin

# The exit status of vmess-plugin itself when its chained plugin dies: run under a wrapper
# that records it (the host reaps the plugin, not us).
info "lifecycle: vmess-plugin exit status when the chain dies"
cat >"$PLUGDIR/vmess-plugin-rc" <<EOF
#!/bin/sh
"$PLUGDIR/vmess-plugin"
echo \$? >"$E2E_TMP/plugin.rc"
EOF
chmod +x "$PLUGDIR/vmess-plugin-rc"
read -r SP LP < <(ports 2 | tr '\n' ' ')
ss_host rc.local ss-local -s 127.0.0.1 -p "$SP" -l "$LP" -b 127.0.0.1 \
    --plugin vmess-plugin-rc --plugin-opts "id=$UUID_GOOD;chain=obfs-local;chain_opts=obfs\\=http"
RC_HOST=$LAST_PID
# host -> sh wrapper -> vmess-plugin -> obfs-local
CHAIN=''
for _ in $(seq 100); do
    W=$(pgrep -P "$RC_HOST" | head -1)
    V=${W:+$(pgrep -P "$W" | head -1)}
    CHAIN=${V:+$(pgrep -P "$V" | head -1)}
    [ -n "$CHAIN" ] && listens "$CHAIN" && break
    CHAIN=''
    sleep 0.05
done
if [ -n "$CHAIN" ]; then
    kill -KILL "$CHAIN"
    wait_file "$E2E_TMP/plugin.rc" 3
    RC=$(cat "$E2E_TMP/plugin.rc" 2>/dev/null)
    if [ -n "$RC" ] && [ "$RC" != 0 ]; then
        row lifecycle "obfs-local killed" "vmess-plugin exit $RC" PASS
    else
        row lifecycle "obfs-local killed" "vmess-plugin exit status" "FAIL '${RC:-none}'"
    fi
else
    row lifecycle "obfs-local killed" "wrapper set-up" "FAIL did not start"
    show_log rc.local 5
fi
stop_pid "$RC_HOST"

# --- clients=FILE -----------------------------------------------------------------------

info "clients=FILE"
UA=$UUID_GOOD
UB=$UUID_WRONG
UC=4f1c7a52-8a83-4d8e-9a51-6d1f0c2b7e3a
CF=$E2E_TMP/vmess-clients.json
clients_json() { # UUID...: the file's content
    local u sep=''
    printf '{"clients": ['
    for u in "$@"; do
        printf '%s{"id": "%s", "alterId": 0}' "$sep" "$u"
        sep=', '
    done
    printf ']}\n'
}
clients_json "$UA" >"$CF"
read -r SP LA LB LC < <(ports 4 | tr '\n' ' ')
CL_PIDS=()
# The server runs the contrib sample, its clients file moved to $CF.
sample contrib/shadowsocks/server-clients.json "$E2E_TMP/cf.json" 127.0.0.1 "$SP"
# loglevel=info: the plugin logs "reload applied" when a changed file took effect.
sed -i "s#/etc/shadowsocks-libev/vmess-clients.json#$CF;loglevel=info#" "$E2E_TMP/cf.json"
grep -q "clients=$CF" "$E2E_TMP/cf.json" || fail "server-clients.json has no clients= option"
if start_ss cf.server ss-server "$SP" -c "$E2E_TMP/cf.json"; then
    CL_PIDS+=("$SS_PID")
    for u in A:"$UA":"$LA" B:"$UB":"$LB" C:"$UC":"$LC"; do
        IFS=: read -r n uu lp <<<"$u"
        start_ss "cf.local$n" ss-local "$lp" -s 127.0.0.1 -p "$SP" -l "$lp" -b 127.0.0.1 \
            --plugin vmess-plugin --plugin-opts "id=$uu" || row clients "ss-local for $n" "" \
            "FAIL did not start"
        CL_PIDS+=("$SS_PID")
    done
    # The file is polled (every 0.25 s, applied once it stopped changing), and the new
    # config is built on a thread: how long that takes depends on the machine's load.
    applied() { grep -c 'reload applied' "$E2E_TMP/cf.server.log"; }
    # wait_applied BEFORE: until the plugin logged more reloads than BEFORE; prints the time.
    wait_applied() {
        local t0=$SECONDS end=$((SECONDS + RELOAD_LIMIT))
        while [ "$(applied)" -le "$1" ]; do
            [ "$SECONDS" -le "$end" ] || return 1
            sleep 0.1
        done
        echo "$((SECONDS - t0)) s"
    }
    if fetch "$LA"; then row clients "user A (in the file)" "served" PASS
    else row clients "user A (in the file)" "" "FAIL not served"; fi
    if fetch "$LB" 3; then row clients "user B (not in the file)" "" "FAIL served"
    else row clients "user B (not in the file)" "refused" PASS; fi
    # changed CASE PORT WANT(served|refused): the file was just changed; once the plugin
    # applied it, a fetch through PORT must be WANT.
    changed() {
        local t got=refused
        if ! t=$(wait_applied "$before"); then
            row clients "$1" "" "FAIL no 'reload applied' within $RELOAD_LIMIT s"
            show_log cf.server 5
            return
        fi
        fetch "$2" && got=served
        if [ "$got" = "$3" ]; then row clients "$1" "$got once applied (after $t)" PASS
        else row clients "$1" "" "FAIL $got once applied"; show_log cf.server 5; fi
    }
    before=$(applied)
    clients_json "$UA" "$UB" >"$CF" # in place: same inode
    changed "B added in place" "$LB" served
    before=$(applied)
    clients_json "$UA" "$UB" "$UC" >"$CF.new"
    mv "$CF.new" "$CF" # by rename: a new inode
    changed "C added by rename" "$LC" served
    before=$(applied)
    clients_json "$UA" "$UC" >"$CF" # B removed
    changed "B removed" "$LB" refused
    if fetch "$LA" && fetch "$LC"; then row clients "A and C after the removal" "served" PASS
    else row clients "A and C after the removal" "" "FAIL not served"; fi
    alive "${CL_PIDS[0]}" || row clients "server" "" "FAIL ss-server died"
    for p in "${CL_PIDS[@]}"; do stop_pid "$p"; done
else
    row clients "ss-server + vmess-plugin clients=FILE" "" "FAIL did not start"
fi

# --- bad options --------------------------------------------------------------------------

read -r BAD_RP BAD_LP < <(ports 2 | tr '\n' ' ')
bad_opts "unknown key" 'unknown option "colour"' SS_PLUGIN_OPTIONS="id=$UUID_GOOD;colour=blue"
bad_opts "missing id (client)" 'id=UUID is required' SS_PLUGIN_OPTIONS="security=aes-128-gcm"
bad_opts "missing id (server)" 'id=UUID is required' SS_PLUGIN_OPTIONS="server"
bad_opts "no options at all" 'id=UUID is required' -u SS_PLUGIN_OPTIONS
bad_opts "bad port 70000" 'must be ports' SS_REMOTE_PORT=70000 SS_PLUGIN_OPTIONS="id=$UUID_GOOD"
bad_opts "bad port 'http'" 'must be ports' SS_LOCAL_PORT=http SS_PLUGIN_OPTIONS="id=$UUID_GOOD"
bad_opts "bad target port" 'target must be HOST:PORT' \
    SS_PLUGIN_OPTIONS="id=$UUID_GOOD;target=127.0.0.1:0"
bad_opts "trailing backslash" 'malformed' SS_PLUGIN_OPTIONS="id=$UUID_GOOD;x\\"
bad_opts "bad UUID" '"not-a-uuid".*[Uu][Uu][Ii][Dd]' SS_PLUGIN_OPTIONS="server;id=not-a-uuid"
bad_opts "missing SS_REMOTE_HOST" 'SS_REMOTE_HOST is not set' -u SS_REMOTE_HOST \
    SS_PLUGIN_OPTIONS="id=$UUID_GOOD"
bad_opts "chained plugin not found" 'no-such-plugin' \
    SS_PLUGIN_OPTIONS="id=$UUID_GOOD;chain=no-such-plugin"

# The host stops too when its plugin refuses its options.
host_refuses "unknown key under ss-local" "id=$UUID_GOOD;colour=blue" 'unknown option "colour"'

sip003_report
finish
